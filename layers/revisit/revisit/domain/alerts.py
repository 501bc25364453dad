"""Alert emails (docs/alerts.md): a store's ``alertEmails`` hear of a low rating, of a customer
growing dissatisfied, and get a weekly digest - in the store's language, each with an
unsubscribe link.

* Fan-out (functions/integration_events, the same stream reader and the same events as the
  webhooks: no third reader on the table's stream): a ``feedback.created`` rated at or below the
  store's ``alertMaxRating`` (default 2) and every ``customer.dissatisfied`` become one message
  on the alert queue. Imported history fires no event, so it never alerts.
* Sending (functions/alerts, from the queue): one email per address that has not opted out.
  Exactly once in effect: each (event, address) has a marker item, claimed with a conditional
  put before SES is called and marked sent after; a retried message (or a replayed stream record)
  finds it and sends nothing. A failed send gives the claim back, so SQS's retry sends it; only
  a sender dying between SES's answer and the mark leaves a claim that is taken over after
  ``LEASE_SECONDS`` and may send that one email twice. SES itself has no idempotency key.
* The weekly digest (functions/alerts, once a day): every store with addresses and the digest on
  gets its last complete local week (Monday-Sunday in its time zone), once (a marker per store
  and week), with the dashboard's own numbers (revisit.domain.analytics: one implementation of
  each metric). One store failing does not stop the others.
* Unsubscribe: a signed, single-purpose token (HMAC of workspace, store and the address's keyed
  hash with the deployment's hashing key) -> a confirmation page -> POST records the opt-out.
"""

from __future__ import annotations

import base64
import hmac
import logging
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from revisit import alert_mail, hashing, i18n
from revisit.config import settings
from revisit.dal import alerts as dal
from revisit.dal import stream as stream_dal
from revisit.dal import workspaces as workspaces_dal
from revisit.delivery import Delivery
from revisit.domain import analytics, webhooks, workspaces
from revisit.domain.auth import Kind, Principal
from revisit.domain.util import iso, now, parse_iso
from revisit.errors import NotFound
from revisit.i18n import formats

log = logging.getLogger(__name__)

LOW_RATING, DISSATISFIED, DIGEST = "low_rating", "dissatisfied", "digest"
LEASE_SECONDS = 600  # a claim older than this was left by a crashed sender (> the function's timeout)
MARKER_DAYS = 35  # markers outlive a message's retries (4 days) and a digest week
DIGEST_TOP = 10  # drifting customers named in a digest (the count says how many in all)
# What a low-rating alert carries of the answer: no more than the search returns, and less.
ALERT_FIELDS = ("id", "storeSlug", "rating", "comment", "orderId", "createdAt")
TOKEN_PURPOSE = "alert-unsubscribe"  # noqa: S105 - what a token is for, signed with it

Sender = Callable[[str, str, str, str], Delivery]  # (to, subject, text, unsubscribe url)


class NotSent(Exception):
    """Some addresses did not get their email; a retry sends to those (the others are marked)."""

    def __init__(self, message: str, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.report = report or {}


# ------------------------------------------------------------------ addresses and tokens


def address_key(email: str) -> str:
    """An address as the markers and opt-outs know it: a keyed hash, never the address."""
    return hashing.keyed_hash("alert-address|" + email.strip().lower())[:32]


def _signature(payload: str) -> str:
    return hashing.keyed_hash(f"{TOKEN_PURPOSE}|{payload}")[:32]


def unsubscribe_token(workspace_id: str, store_slug: str, email: str) -> str:
    """``<base64url(ws:store:address key)>.<HMAC>``: good for this one address and store, for
    nothing else (the purpose is part of what is signed)."""
    payload = f"{workspace_id}:{store_slug}:{address_key(email)}"
    body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{body}.{_signature(payload)}"


def read_token(token: str) -> tuple[str, str, str] | None:
    """(workspace, store, address key) of a genuine token, else None."""
    body, _, signature = token.partition(".")
    if not body or len(token) > 300:
        return None
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    parts = payload.split(":")
    if len(parts) != 3 or not hmac.compare_digest(signature, _signature(payload)):
        return None
    return parts[0], parts[1], parts[2]


def link_base() -> str:
    """Where links in an email point: PUBLIC_BASE_URL, else the API's own URL."""
    return settings().public_base_url or settings().api_base_url


def unsubscribe_url(workspace_id: str, store_slug: str, email: str) -> str:
    return f"{link_base()}/alerts/unsubscribe/{unsubscribe_token(workspace_id, store_slug, email)}"


def unsubscribe_target(token: str) -> dict[str, Any]:
    """The store a token unsubscribes from (for the confirmation page); NotFound if not genuine."""
    found = read_token(token)
    store = workspaces.find_store(found[0], found[1]) if found else None
    if found is None or store is None:
        raise NotFound("This link does not exist.", [{"field": "token", "message": "unknown token"}])
    return store


def unsubscribe(token: str) -> dict[str, Any]:
    """The token's address gets no more alerts or digests of its store (idempotent)."""
    store = unsubscribe_target(token)
    ws, slug, key = read_token(token) or ("", "", "")
    dal.opt_out(ws, slug, key, {"at": iso(now()), "source": "alert-link"})
    return store


# ------------------------------------------------------------------ fan-out (the stream consumer)


def fan_out(source: stream_dal.ItemEvent | stream_dal.CustomerChange) -> int:
    """Queue the alert this event is for its store (1), or nothing (0): no addresses, a rating
    above the store's threshold, another event type."""
    if isinstance(source, stream_dal.CustomerChange):
        event, kind = webhooks.dissatisfied(source), DISSATISFIED
    else:
        event, kind = (source, LOW_RATING) if source.type == "feedback.created" else (None, "")
    if event is None or not event.store_slug:
        return 0
    store = workspaces.cached_store(event.workspace_id, event.store_slug)
    emails, max_rating, _digest = workspaces.alert_settings(store or {})
    if not emails:
        return 0
    data = event.data
    if kind == LOW_RATING:
        rating = data.get("rating")
        if not isinstance(rating, int) or rating > max_rating:
            return 0
        data = {k: data[k] for k in ALERT_FIELDS if data.get(k) is not None}
    message = {"kind": kind, "ws": event.workspace_id, "store": event.store_slug, "key": event.key}
    alert_mail.enqueue(message | {"occurredAt": event.occurred_at, "data": data})
    return 1


# ------------------------------------------------------------------ sending


def _expires(at: datetime) -> int:
    return int((at + timedelta(days=MARKER_DAYS)).timestamp())


def _deliver(
    store: dict[str, Any],
    subject_key: str,
    compose: Callable[[str], tuple[str, str, str]],
    sender: Sender,
    at: datetime,
) -> Counter:
    """Send ``compose(address)`` = (subject, text, unsubscribe url) to every address of the store
    that has not opted out and has no marker for ``subject_key``; what happened, counted."""
    ws, slug = store["workspaceId"], store["slug"]
    emails, _, _ = workspaces.alert_settings(store)
    by_key = {email: address_key(email) for email in emails}
    opted_out = dal.opted_out(ws, slug, list(by_key.values()))
    counts: Counter = Counter()
    epoch = int(at.timestamp())
    for email, key in by_key.items():
        if key in opted_out:
            counts["optedOut"] += 1
            continue
        marker = dal.marker(ws, slug, subject_key, key)
        if not dal.claim(marker, epoch, LEASE_SECONDS, _expires(at)):
            counts["duplicate"] += 1
            continue
        try:
            subject, text, url = compose(email)
            result = sender(email, subject, text, url)
        except Exception:
            dal.release(marker, epoch)
            raise
        if result.ok:
            dal.mark_sent(marker, {"sentAt": iso(at), "messageId": result.provider_id}, _expires(at))
            counts["sent"] += 1
        else:
            dal.release(marker, epoch)
            log.warning("alert email refused", extra={"store": slug, "subject": subject_key, "error": result.error})
            counts["failed"] += 1
    return counts


def _language(store: dict[str, Any]) -> i18n.Text:
    return i18n.text(store.get("locale") or "en")


def _local(store: dict[str, Any], at_text: str | None) -> datetime | None:
    try:
        return parse_iso(at_text or "").astimezone(ZoneInfo(store.get("timezone") or "UTC"))
    except (TypeError, ValueError, KeyError):
        return None


def _when(t: i18n.Text, store: dict[str, Any], at_text: str | None) -> str:
    local = _local(store, at_text)
    if local is None:
        return at_text or ""
    return f"{formats.short_date(local.date(), t.language)} {formats.short_time(local, t.language)}"


def _footer(t: i18n.Text, store: dict[str, Any], email: str, url: str) -> str:
    name = store.get("name") or store["slug"]
    return (
        "\n\n-- \n"
        + t("You get this email because {address} is an alert address of {store}.", address=email, store=name)
        + "\n"
        + t("Stop these emails: {link}", link=url)
        + "\n"
    )


def compose_alert(store: dict[str, Any], message: dict[str, Any], email: str) -> tuple[str, str, str]:
    """(subject, text, unsubscribe url) of an alert, in the store's language."""
    t = _language(store)
    name = store.get("name") or store["slug"]
    data = message.get("data") or {}
    url = unsubscribe_url(store["workspaceId"], store["slug"], email)
    if message["kind"] == LOW_RATING:
        rating = int(data.get("rating") or 0)
        subject = t("{store}: an answer rated {rating} out of 5", store=name, rating=rating)
        lines = [t("A customer rated {store} {rating} out of 5.", store=name, rating=rating)]
        comment = str(data.get("comment") or "").strip()
        lines.append(t("Comment: {comment}", comment=comment) if comment else t("No comment."))
        if data.get("orderId"):
            lines.append(t("Order: {order}", order=data["orderId"]))
        lines.append(t("Answered: {time}", time=_when(t, store, data.get("createdAt") or message.get("occurredAt"))))
        lines.append("")
        lines.append(t("Read it and follow up: {link}", link=f"{link_base()}/app/feedback/{data.get('id', '')}"))
    else:
        subject = t("{store}: a regular customer is growing dissatisfied", store=name)
        ratings = ", ".join(str(r) for r in data.get("recentRatings") or [])
        lines = [
            t("Customer {civ} rates {store} lower than before.", civ=data.get("civ", ""), store=name),
            t(
                "Average rating: {earlier} over the earlier visits, {recent} over the latest ({ratings}).",
                earlier=formats.decimal(float(data.get("earlierAvg") or 0), 2, t.language),
                recent=formats.decimal(float(data.get("recentAvg") or 0), 2, t.language),
                ratings=ratings,
            ),
            t(
                "Visits: {count}. Latest: {time}.",
                count=formats.integer(int(data.get("visitCount") or 0), t.language),
                time=_when(t, store, data.get("lastVisitAt")),
            ),
            "",
            t("The store's customers: {link}", link=f"{link_base()}/app/stores/{store['slug']}"),
        ]
    return subject, "\n".join(lines) + _footer(t, store, email, url), url


def send(message: dict[str, Any], sender: Sender | None = None, at: datetime | None = None) -> Counter:
    """Send one queued alert to the store's addresses (as they are now). Raises NotSent when an
    address's email failed (the message is retried; the sent ones are marked)."""
    at = at or now()
    store = workspaces.find_store(message["ws"], message["store"])
    if store is None:
        return Counter(gone=1)
    counts = _deliver(
        store, message["key"], lambda email: compose_alert(store, message, email), sender or alert_mail.send, at
    )
    if counts["failed"]:
        raise NotSent(f"{counts['failed']} alert email(s) not sent for {message['store']}")
    return counts


# ------------------------------------------------------------------ the weekly digest


def digest_week(timezone: str, at: datetime) -> tuple[date, date]:
    """The last complete week (Monday-Sunday) in the store's time zone at ``at``."""
    try:
        local_today = at.astimezone(ZoneInfo(timezone or "UTC")).date()
    except (KeyError, ValueError):
        local_today = at.date()
    monday = local_today - timedelta(days=local_today.weekday())
    return monday - timedelta(days=7), monday - timedelta(days=1)


def summary(store: dict[str, Any], start: date, end: date) -> dict[str, Any]:
    """The digest's numbers for days ``start``..``end``: the dashboard's and the stores view's own
    (revisit.domain.analytics.store_rows and dashboard), asked as a key of this store would."""
    principal = Principal(store["workspaceId"], Kind.API, "store", store["slug"], "weekly-digest")
    row = analytics.store_rows(principal, start, end)["stores"][0]
    board = analytics.dashboard(principal, store["slug"], start, end)
    keys = ("totalFeedback", "avgRating", "csatPercent", "returnRate", "identifiedCustomers", "returningCustomers")
    return {k: row[k] for k in keys} | {"growingDissatisfied": board["growingDissatisfied"]}


def compose_digest(
    store: dict[str, Any], start: date, end: date, numbers: dict[str, Any], email: str
) -> tuple[str, str, str]:
    t = _language(store)
    lang = t.language
    name = store.get("name") or store["slug"]
    url = unsubscribe_url(store["workspaceId"], store["slug"], email)
    first, last = formats.short_date(start, lang), formats.short_date(end, lang)
    subject = t("{store}: your week from {start} to {end}", store=name, start=first, end=last)
    lines = [t("Answers: {count}", count=formats.integer(numbers["totalFeedback"], lang))]
    if numbers["avgRating"] is None:
        lines.append(t("Average rating: no ratings this week"))
    else:
        lines.append(t("Average rating: {value} out of 5", value=formats.decimal(numbers["avgRating"], 2, lang)))
    if numbers["csatPercent"] is not None:
        lines.append(t("Satisfied (4 or 5 stars): {value}", value=formats.percent(numbers["csatPercent"], lang)))
    if numbers["returnRate"] is None:
        lines.append(t("Return rate: no identified customers this week"))
    else:
        lines.append(
            t(
                "Return rate: {value} ({returning} of {customers} identified customers came back)",
                value=formats.percent(numbers["returnRate"], lang),
                returning=formats.integer(numbers["returningCustomers"], lang),
                customers=formats.integer(numbers["identifiedCustomers"], lang),
            )
        )
    drifting = numbers["growingDissatisfied"]
    lines.append("")
    lines.append(t("Customers growing dissatisfied: {count}", count=formats.integer(len(drifting), lang)))
    for entry in drifting[:DIGEST_TOP]:
        lines.append(
            "- "
            + t(
                "{civ}: {earlier} before, {recent} lately",
                civ=entry["civ"],
                earlier=formats.decimal(entry["earlierAvg"], 2, lang),
                recent=formats.decimal(entry["recentAvg"], 2, lang),
            )
        )
    lines.append("")
    lines.append(t("The dashboard: {link}", link=f"{link_base()}/app/stores/{store['slug']}"))
    return subject, "\n".join(lines) + _footer(t, store, email, url), url


def digest_store(store: dict[str, Any], sender: Sender, at: datetime) -> Counter:
    """One store's digest of its last complete week, unless it went out already."""
    start, end = digest_week(store.get("timezone") or "UTC", at)
    subject_key = f"digest/{start.isoformat()}"
    done = dal.marker(store["workspaceId"], store["slug"], subject_key, "ALL")
    if dal.is_sent(done):
        return Counter(alreadySent=1)
    numbers = summary(store, start, end)
    counts = _deliver(store, subject_key, lambda email: compose_digest(store, start, end, numbers, email), sender, at)
    if not counts["failed"]:
        dal.put_sent(done, {"sentAt": iso(at), "week": start.isoformat()}, _expires(at))
    return counts


def run_digests(sender: Sender | None = None, at: datetime | None = None) -> dict[str, Any]:
    """Every store with addresses and the digest on: its last week's digest, once. A store that
    fails is logged and counted; the others go on. Raises NotSent at the end if any failed (so
    the schedule's retry sends those; the marked ones are not sent again)."""
    at = at or now()
    send_with = sender or alert_mail.send
    report: Counter = Counter()
    failed: list[str] = []
    cursor = None
    while True:
        stores, cursor = workspaces_dal.alert_stores(cursor=cursor)
        for store in stores:
            emails, _, digest_on = workspaces.alert_settings(store)
            if not emails or not digest_on:
                report["off"] += 1
                continue
            try:
                counts = digest_store(store, send_with, at)
            except Exception:
                log.exception("digest failed", extra={"workspaceId": store["workspaceId"], "store": store["slug"]})
                counts = Counter(failed=1)
            report.update(counts)
            report["stores"] += 1
            if counts["failed"]:
                failed.append(f"{store['workspaceId']}/{store['slug']}")
        if not cursor:
            break
    out = {"stores": 0, "sent": 0} | dict(report) | {"failedStores": failed}
    if failed:
        raise NotSent(f"digests not sent for {len(failed)} store(s): {', '.join(failed[:10])}", out)
    return out
