"""The scheduler: send trackers on sendAt, resend on resendAt, never twice (docs/trackers.md).

A run queries the sparse due index, then for each due tracker
  1. claims it: a conditional update moves its due key to the lease's end - only one run wins,
     and a run that dies after claiming leaves the tracker due again when the lease expires;
  2. decides (expired link, nothing left to send, unsubscribed, no contact, quiet hours);
  3. sends through the channel's adapter;
  4. settles the new state and next due time, on the condition that its lease is still current.
The clock is a parameter: tests drive runs over a simulated clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from revisit import i18n
from revisit.config import settings
from revisit.dal import trackers as dal
from revisit.domain import locales, reports, trackers, unsubscribes, workspaces
from revisit.domain.util import iso, parse_iso
from revisit.observability import logger

LEASE = timedelta(minutes=5)
RETRY_BASE = timedelta(minutes=5)
OPEN = ("sent", "opened")
FINAL = ("completed", "expired", "failed", "cancelled")


@dataclass(frozen=True)
class Policy:
    max_attempts: int = 4
    whatsapp_failures_before_sms: int = 2
    quiet_start: int = 21  # local hour, inclusive
    quiet_end: int = 8  # local hour, exclusive
    quiet_channels: tuple[str, ...] = ("sms", "whatsapp")

    @classmethod
    def from_env(cls) -> Policy:
        """The deployment's policy (QUIET_HOURS, SEND_MAX_ATTEMPTS, WHATSAPP_FAILURES_BEFORE_SMS)."""
        config = settings()
        start, _, end = config.quiet_hours.partition("-")
        return cls(
            max_attempts=config.send_max_attempts,
            whatsapp_failures_before_sms=config.whatsapp_failures_before_sms,
            quiet_start=int(start),
            quiet_end=int(end or 8),
        )


@dataclass
class Report:
    due: int = 0
    sent: int = 0
    failed_attempts: int = 0
    deferred: int = 0
    finished: int = 0
    lost_claims: int = 0
    errors: int = 0  # trackers whose handling raised (each logged with its id; the run goes on)
    events: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if k != "events"}


def quiet_until(at: datetime, tz_name: str, policy: Policy) -> datetime | None:
    """End of the quiet hours ``at`` falls in (in the store's zone), or None when sending is fine."""
    if policy.quiet_start == policy.quiet_end:
        return None
    local = at.astimezone(ZoneInfo(tz_name))
    hour = local.hour
    start, end = policy.quiet_start, policy.quiet_end
    quiet = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return None
    day = local.date() if hour < end else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end), tzinfo=ZoneInfo(tz_name))


def run(
    now: datetime,
    adapters: dict[str, Any],
    policy: Policy | None = None,
    max_trackers: int = 2000,
    time_left: Callable[[], float] | None = None,
) -> Report:
    """Send what is due at ``now``. Stops claiming when ``time_left()`` (seconds) runs low, so no
    claim outlives the function: the rest is due again on the next run."""
    policy = policy or Policy.from_env()
    report = Report()
    start_key = None
    while report.due < max_trackers:
        found, start_key = dal.due(iso(now), min(100, max_trackers - report.due), start_key)
        for tracker_id, seen in found:
            if time_left is not None and time_left() < 20:
                return report
            report.due += 1
            try:
                _process(tracker_id, seen, now, adapters, policy, report)
            except Exception:  # e.g. the claim itself: the tracker is due again when the lease ends
                report.errors += 1
                logger.exception("tracker not processed", extra={"trackerId": tracker_id})
        if not start_key:
            break
    return report


def _event(detail_type: str, tracker: dict[str, Any], **extra: Any) -> dict[str, Any]:
    detail = {
        **trackers.view(tracker),
        "workspaceId": tracker["workspaceId"],
        "storeSlug": tracker["storeSlug"],
        **extra,
    }
    return {"detailType": detail_type, "detail": detail}


class _Claim:
    """One claimed tracker: settling writes only while our lease is current."""

    def __init__(self, tracker: dict[str, Any], lease: str, now: datetime, report: Report) -> None:
        self.tracker, self.lease, self.now, self.report, self.at = tracker, lease, now, report, iso(now)
        self.delivered = False  # the adapter accepted the message: never send it again on an error

    def settle(
        self,
        changes: dict[str, Any],
        next_due: datetime | None,
        event: str | None = None,
        *,
        report: dict[str, Any] | None = None,
        counted: str | None = None,
        **why: Any,
    ) -> bool:
        """Write the new state; ``report`` (a tracker-report count) only together with it."""
        changes = {**changes, "updatedAt": self.at}
        next_iso = iso(next_due) if next_due else None
        ok = dal.settle(self.tracker["id"], self.lease, changes, next_iso, report=report, counted=counted)
        if not ok:
            self.report.lost_claims += 1
        elif event:
            self.report.events.append(_event(event, {**self.tracker, **changes}, **why))
        return ok

    def finish(self, status: str | None, event: str, **why: Any) -> None:
        changes = {"status": status, "resendAt": None} if status else {"resendAt": None}
        if self.settle(changes, None, event, **why):
            self.report.finished += 1


def _process(
    tracker_id: str, seen: str, now: datetime, adapters: dict[str, Any], policy: Policy, report: Report
) -> None:
    claimed = dal.claim(tracker_id, seen, iso(now + LEASE), iso(now))
    if claimed is None:
        report.lost_claims += 1
        return
    claim = _Claim(*claimed, now, report)
    try:
        _decide(claim, now, adapters, policy)
    except Exception as exc:  # one bad tracker (say, its store's unknown time zone) fails alone
        _broken(claim, exc, policy)


def _broken(claim: _Claim, exc: Exception, policy: Policy) -> None:
    """A tracker whose handling raised: logged with its id and counted; settled as a failed attempt
    (retried with back-off, failed after ``max_attempts``) unless its message already went out -
    then the lease is left to expire rather than risk a second send."""
    tracker_id = claim.tracker["id"]
    claim.report.errors += 1
    logger.exception("tracker failed", extra={"trackerId": tracker_id, "error": type(exc).__name__})
    if claim.delivered:
        return
    try:
        channel, _ = _channel_and_address(claim.tracker)
        _failed(claim, channel, f"{type(exc).__name__}: {exc}", policy)
    except Exception:
        logger.exception("tracker failure not recorded; due again when its lease ends", extra={"trackerId": tracker_id})


def _decide(claim: _Claim, now: datetime, adapters: dict[str, Any], policy: Policy) -> None:
    tracker = claim.tracker
    status = tracker["status"]
    first = status == "scheduled"
    index = 0 if first else tracker.get("sendingIndex", 0) + 1
    if status in FINAL:
        claim.settle({}, None)
    elif now >= parse_iso(tracker["linkExpiresAt"]):
        claim.finish("expired", "SurveyExpired")
    elif not first and index > tracker.get("maxResends", 0):
        claim.finish(None, "SurveyResendsDone")
    elif unsubscribes.is_unsubscribed(tracker):
        claim.finish("cancelled", "SurveyCancelled", reason="unsubscribed")
    else:
        _send(claim, index, adapters, policy)


def _channel_and_address(tracker: dict[str, Any]) -> tuple[str, str | None]:
    switched = tracker["sendingType"] == "whatsapp" and tracker.get("switchedToSms")
    channel = "sms" if switched else tracker["sendingType"]
    contact = tracker.get("contact") or {}
    phone = contact.get("phone") or contact.get("whatsapp")
    address = {
        "email": contact.get("email"),
        "sms": phone,
        "whatsapp": contact.get("whatsapp") or contact.get("phone"),
    }.get(channel)
    return channel, address


def _send(claim: _Claim, index: int, adapters: dict[str, Any], policy: Policy) -> None:
    tracker, now = claim.tracker, claim.now
    first = tracker["status"] == "scheduled"
    channel, address = _channel_and_address(tracker)
    if not address:
        claim.finish("failed" if first else None, "SurveySendFailed", reason=f"no {channel} contact", final=True)
        return
    store = workspaces.cached_store(tracker["workspaceId"], tracker["storeSlug"]) or {}
    if channel in policy.quiet_channels:
        resume = quiet_until(now, store.get("timezone") or "UTC", policy)
        if resume is not None:
            if claim.settle({}, resume):
                claim.report.deferred += 1
            return
    message = _message(tracker, channel, address, store)
    delivery = adapters[channel].send(message)
    if delivery.ok:
        claim.delivered = True
        resend_at = None
        if index < tracker.get("maxResends", 0) and tracker.get("resendDelayMinutes"):
            resend_at = now + timedelta(minutes=tracker["resendDelayMinutes"])
        changes = {
            "status": "sent" if first else tracker["status"],
            "sentAt": claim.at,
            "sentTo": address,
            "link": tracker["linkUrl"],
            "sendingIndex": index,
            "resent": bool(tracker.get("resent")) or index > 0,
            "resendAt": iso(resend_at) if resend_at else None,
            "failedAttempts": None,
            "lastChannel": channel,
            "lastProviderId": delivery.provider_id,
        }
        sent = reports.count(claim.tracker, "sent", day=claim.at[:10], index=index, channel=channel)
        if claim.settle(changes, resend_at, "SurveySent", report=sent, counted=f"sent:{index}", channel=channel):
            claim.report.sent += 1
        return
    _failed(claim, channel, delivery.error or "failed", policy)


def _failed(claim: _Claim, channel: str, error: str, policy: Policy) -> None:
    """A failed attempt: WhatsApp falls back to SMS after N failures; retries back off; give up
    after max_attempts (a first send becomes failed; a failed resend just ends the resends)."""
    tracker, now = claim.tracker, claim.now
    claim.report.failed_attempts += 1
    attempts = tracker.get("failedAttempts", 0) + 1
    changes: dict[str, Any] = {"failedAttempts": attempts, "lastError": error[:200]}
    if channel == "whatsapp":
        changes["whatsappFailures"] = tracker.get("whatsappFailures", 0) + 1
        contact = tracker.get("contact") or {}
        has_phone = contact.get("phone") or contact.get("whatsapp")
        if changes["whatsappFailures"] >= policy.whatsapp_failures_before_sms and has_phone:
            changes.update(switchedToSms=True, failedAttempts=0)
            claim.settle(changes, now, "SurveySendFailed", channel=channel, switchedToSms=True, final=False)
            return
    if attempts >= policy.max_attempts:
        first = tracker["status"] == "scheduled"
        changes.update(status="failed" if first else tracker["status"], resendAt=None)
        if claim.settle(changes, None, "SurveySendFailed", channel=channel, final=True):
            claim.report.finished += 1
        return
    claim.settle(changes, now + RETRY_BASE * (2 ** (attempts - 1)), "SurveySendFailed", channel=channel, final=False)


def _message(tracker: dict[str, Any], channel: str, address: str, store: dict[str, Any]):
    """The email or SMS of a tracker, in the store's language, with its display name."""
    from revisit.delivery import Message

    name = store.get("name") or tracker["storeSlug"]
    t = i18n.text(locales.choose(None, None, store.get("locale")))
    link = tracker["linkUrl"]
    base, _, token = link.rpartition("/r/")
    unsubscribe = f"{base}/u/{token}"
    if channel == "email":
        review = ""
        if tracker.get("newReviewLink"):
            review = "\n\n" + t("Loved it? Tell others: {link}", link=tracker["newReviewLink"])
        text = (
            t("Hello,")
            + "\n\n"
            + t("Thank you for your visit to {store}. How did we do? It takes ten seconds:", store=name)
            + f"\n{link}{review}\n\n"
            + t("No more surveys from {store}: {link}", store=name, link=unsubscribe)
            + "\n"
        )
        return Message(address, i18n.question(t, name, store.get("questions")), text)
    sms = t("{store}: how did we do? {link} Opt out: {optout}", store=name, link=link, optout=unsubscribe)
    return Message(address, "", sms)
