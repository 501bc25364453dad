"""Delivery adapters behind one small interface: email (SES), SMS (SNS), WhatsApp (HTTP webhook).

Each returns a Delivery; an adapter never raises for a delivery failure (bad address, provider
error, timeout): that is a failed attempt the scheduler counts. Clients are created on first use,
once per container, and only in the function that sends.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Protocol

from revisit.config import settings


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str


@dataclass(frozen=True)
class Delivery:
    ok: bool
    provider_id: str | None = None
    error: str | None = None


class Adapter(Protocol):
    def send(self, message: Message) -> Delivery: ...


def _region() -> str:
    return settings().region


@functools.cache
def _client(service: str):
    import boto3
    from botocore.config import Config

    # Standard retries, 3 attempts of at most 0.5 s to connect + 1.5 s to answer, with backoff: at
    # most 3 x 2 s + 3 s = 9 s a call, under the 10 s of integration_events (the scheduler has 120 s).
    config = Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=0.5, read_timeout=1.5)
    return boto3.client(service, region_name=_region(), config=config)


def _aws_error(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code") or type(exc).__name__


class SesEmail:
    """SES SendEmail from EMAIL_SENDER (a verified identity), plain text."""

    def send(self, message: Message) -> Delivery:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = _client("ses").send_email(
                Source=settings().email_sender,
                Destination={"ToAddresses": [message.to]},
                Message={
                    "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": message.text, "Charset": "UTF-8"}},
                },
            )
            return Delivery(True, resp.get("MessageId"))
        except (ClientError, BotoCoreError) as exc:
            return Delivery(False, error=_aws_error(exc))


class SnsSms:
    """SNS Publish to a phone number (transactional)."""

    def send(self, message: Message) -> Delivery:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = _client("sns").publish(
                PhoneNumber=message.to,
                Message=message.text,
                MessageAttributes={
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                },
            )
            return Delivery(True, resp.get("MessageId"))
        except (ClientError, BotoCoreError) as exc:
            return Delivery(False, error=_aws_error(exc))


class WhatsAppWebhook:
    """POST {"to", "text"} as JSON to WHATSAPP_WEBHOOK_URL (your provider's bridge); 2xx = sent."""

    def __init__(self, url: str | None = None, timeout: float = 5.0) -> None:
        self.url = url if url is not None else settings().whatsapp_webhook_url
        self.timeout = timeout

    def send(self, message: Message) -> Delivery:
        if not self.url.startswith(("https://", "http://")):
            return Delivery(False, error="WHATSAPP_WEBHOOK_URL is not configured")
        import urllib.error  # here, not at import: only a WhatsApp send needs it
        import urllib.request

        data = json.dumps({"to": message.to, "text": message.text}).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is the operator's configuration
            self.url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310
                body = resp.read(2048).decode(errors="replace")
                return Delivery(200 <= resp.status < 300, body[:200] or None)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return Delivery(False, error=str(exc)[:200])


def default_adapters() -> dict[str, Adapter]:
    return {"email": SesEmail(), "sms": SnsSms(), "whatsapp": WhatsAppWebhook()}


def _number(value: object) -> object:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# ------------------------------------------------------------------ integration events

PUT_EVENTS_MAX = 10  # entries per PutEvents call (the API's limit)


@dataclass(frozen=True)
class FailedEvent:
    """An event EventBridge did not take, after the retries: the entry as given, its detail's
    ``eventId`` and the error code and message of its last attempt."""

    event: dict
    event_id: str
    code: str
    message: str


class PublishFailed(Exception):
    """Some events are not on the bus after ``attempts`` tries; every other one is, exactly once
    per call (a retry resends only the entries that failed)."""

    def __init__(self, failed: list[FailedEvent], published: int) -> None:
        self.failed = failed
        self.published = published
        codes = sorted({f.code for f in failed})
        super().__init__(f"{len(failed)} integration event(s) not published ({', '.join(codes)})")


def event_id(detail_type: str, detail: dict) -> str:
    """A deterministic id for an event that carries none: the same event gets the same id in
    every attempt and every retried invocation, so consumers can deduplicate on it."""
    import hashlib

    canonical = json.dumps([detail_type, detail], sort_keys=True, separators=(",", ":"), default=_number)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _entry(event: dict, bus: str) -> tuple[str, dict]:
    detail = event["detail"]
    eid = detail.get("eventId") or event_id(event["detailType"], detail)
    body = {"eventId": eid, **detail}
    return eid, {
        "Source": "revisit",
        "DetailType": event["detailType"],
        "Detail": json.dumps(body, separators=(",", ":"), default=_number),
        "EventBusName": bus,
    }


def publish_events(events: list[dict], attempts: int = 3, backoff_s: float = 0.2) -> int:
    """Put integration events (``{"detailType", "detail"}``) on EventBridge (EVENT_BUS_NAME, the
    default bus unless set), ``PUT_EVENTS_MAX`` entries per call; returns how many were put.

    Every event's detail carries an ``eventId`` (the caller's, or ``event_id()``): PutEvents has no
    idempotency key, so a consumer that must not act twice deduplicates on it. An entry EventBridge
    reports failed (``FailedEntryCount``) is retried - alone, never with the entries that were
    taken - up to ``attempts`` tries in all, ``backoff_s`` doubling between them; a call that
    raises (botocore has retried it already) fails all its entries. Raises ``PublishFailed`` with
    what is still not on the bus.
    """
    if not events:
        return 0
    import time

    attempts = max(1, attempts)

    from botocore.exceptions import BotoCoreError, ClientError

    bus = settings().event_bus_name
    client = _client("events")
    failed: list[FailedEvent] = []
    published = 0
    for start in range(0, len(events), PUT_EVENTS_MAX):
        pending = [(event, *_entry(event, bus)) for event in events[start : start + PUT_EVENTS_MAX]]
        for attempt in range(attempts):
            if attempt:
                time.sleep(backoff_s * 2 ** (attempt - 1))
            try:
                results = client.put_events(Entries=[entry for _, _, entry in pending])["Entries"]
            except (ClientError, BotoCoreError) as exc:
                failed += [FailedEvent(event, eid, _aws_error(exc), str(exc)[:200]) for event, eid, _ in pending]
                pending = []
                break
            retry = []
            for (event, eid, entry), result in zip(pending, results, strict=True):
                if result.get("EventId") and not result.get("ErrorCode"):
                    published += 1
                else:
                    retry.append(
                        (event, eid, entry, result.get("ErrorCode") or "Unknown", result.get("ErrorMessage") or "")
                    )
            pending = [(event, eid, entry) for event, eid, entry, _, _ in retry]
            if not pending:
                break
        else:
            failed += [FailedEvent(event, eid, code, message) for event, eid, _, code, message in retry]
    if failed:
        raise PublishFailed(failed, published)
    return published
