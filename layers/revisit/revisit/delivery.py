"""Delivery adapters behind one small interface: email (SES), SMS (SNS), WhatsApp (HTTP webhook).

Each returns a Delivery; an adapter never raises for a delivery failure (bad address, provider
error, timeout): that is a failed attempt the scheduler counts. Clients are created on first use,
once per container, and only in the function that sends.
"""

from __future__ import annotations

import functools
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol


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
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


@functools.cache
def _client(service: str):
    import boto3

    return boto3.client(service, region_name=_region())


def _aws_error(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code") or type(exc).__name__


class SesEmail:
    """SES SendEmail from EMAIL_SENDER (a verified identity), plain text."""

    def send(self, message: Message) -> Delivery:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = _client("ses").send_email(
                Source=os.environ.get("EMAIL_SENDER", "surveys@example.com"),
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
        self.url = url if url is not None else os.environ.get("WHATSAPP_WEBHOOK_URL", "")
        self.timeout = timeout

    def send(self, message: Message) -> Delivery:
        if not self.url.startswith(("https://", "http://")):
            return Delivery(False, error="WHATSAPP_WEBHOOK_URL is not configured")
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


def publish_events(entries: list[dict]) -> None:
    """Integration events on EventBridge (EVENT_BUS_NAME, the default bus unless set)."""
    if not entries:
        return
    bus = os.environ.get("EVENT_BUS_NAME", "default")
    for start in range(0, len(entries), 10):
        chunk = entries[start : start + 10]
        _client("events").put_events(
            Entries=[
                {
                    "Source": "revisit",
                    "DetailType": e["detailType"],
                    "Detail": json.dumps(e["detail"], separators=(",", ":"), default=_number),
                    "EventBusName": bus,
                }
                for e in chunk
            ]
        )
