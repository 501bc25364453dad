"""Webhooks per the Standard Webhooks spec v1 (docs/webhooks.md): endpoints, fan-out, dispatch.

* Management: a workspace's endpoints (the owner or a workspace-scoped API key), the ``whsec_``
  secret shown once (at creation and at each rotation; the rotated-out secret keeps signing for
  24 h beside the new one), the delivery log, replay and recovery.
* Fan-out (functions/integration_events, from the table's stream): each event becomes one
  delivery per matching endpoint - logged, then put on the delivery queue. A retried stream
  record finds its deliveries logged already and queues nothing twice.
* Dispatch (functions/webhook_dispatcher, from the queue): one attempt per message, signed,
  through the SSRF guard (revisit.webhook_delivery); a failure is queued again after the next
  delay of ``WEBHOOK_RETRY_SCHEDULE`` (the spec's: immediately, 5 s, 5 min, 30 min, 2 h, 5 h,
  10 h, 10 h), 429's Retry-After honoured. A delay above SQS's 900 s travels as ``dueAt``: the
  message is put back with the longest delay until it is due. 410 disables the endpoint, and so
  does failing for ``WEBHOOK_DISABLE_AFTER_SECONDS`` (5 days).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from revisit import webhook_delivery as wire
from revisit.config import settings
from revisit.dal import BadCursor, NoSuchItem, UnknownWorkspace
from revisit.dal import feedback as feedback_dal
from revisit.dal import stream as stream_dal
from revisit.dal import webhooks as dal
from revisit.domain import workspaces
from revisit.domain.analytics import round_half_up, watch_entry
from revisit.domain.auth import Principal
from revisit.domain.util import iso, now, parse_iso, random_base62
from revisit.errors import Conflict, Forbidden, NotFound, field_error

EVENTS = ("feedback.created", "nps.created", "tracker.sent", "tracker.completed", "tracker.failed",
          "customer.dissatisfied")  # fmt: skip
MAX_ENDPOINTS = 20  # per workspace: bounds the fan-out of one stream record
MAX_BODY_BYTES = 20 * 1024
ROTATION_OVERLAP = timedelta(hours=24)
RECOVER_MAX = 1000
SUCCEEDED, PENDING, FAILED = "succeeded", "pending", "failed"
_ENDPOINT_FIELDS = ("id", "url", "events", "storeSlug", "description", "enabled", "disabledReason", "disabledAt",
                    "failingSince", "createdAt", "updatedAt", "secretRotatedAt", "previousSecretExpiresAt")  # fmt: skip
_DELIVERY_FIELDS = ("id", "webhookId", "msgId", "event", "status", "attempts", "responseCode", "latencyMs",
                    "lastError", "createdAt", "lastAttemptAt", "nextAttemptAt")  # fmt: skip


# ------------------------------------------------------------------ management


def _require_workspace_scope(principal: Principal) -> None:
    if principal.scope != "workspace":
        raise Forbidden("Webhooks are managed with the owner token or a workspace-scoped API key.")


def view(endpoint: dict[str, Any]) -> dict[str, Any]:
    """An endpoint as the API shows it: never a secret."""
    out = {k: endpoint.get(k) for k in _ENDPOINT_FIELDS}
    out["enabled"] = bool(endpoint.get("enabled", True))
    return out


def delivery_view(delivery: dict[str, Any]) -> dict[str, Any]:
    return {k: delivery.get(k) for k in _DELIVERY_FIELDS}


def _endpoint(principal: Principal, webhook_id: str) -> dict[str, Any]:
    _require_workspace_scope(principal)
    endpoint = dal.get(principal.workspace_id, webhook_id)
    if endpoint is None:
        raise NotFound(f"Webhook {webhook_id} does not exist.")
    return endpoint


def create(principal: Principal, spec: dict[str, Any]) -> dict[str, Any]:
    """A new endpoint; the answer carries its ``secret``, never shown again."""
    _require_workspace_scope(principal)
    ws = principal.workspace_id
    if spec.get("storeSlug"):
        workspaces.get_store(ws, spec["storeSlug"])
    if len(dal.list_for_workspace(ws)) >= MAX_ENDPOINTS:
        raise Conflict(f"A workspace has at most {MAX_ENDPOINTS} webhooks; delete one first.")
    at = iso(now())
    record = {
        "id": "wh_" + random_base62(20),
        "workspaceId": ws,
        "url": spec["url"],
        "events": sorted(set(spec["events"]), key=EVENTS.index),
        "storeSlug": spec.get("storeSlug"),
        "description": spec.get("description"),
        "enabled": spec.get("enabled", True),
        "secret": wire.new_secret(),
        "createdAt": at,
        "updatedAt": at,
    }
    try:
        dal.create(record)
    except UnknownWorkspace:
        raise NotFound("The workspace does not exist.") from None
    return {**view(record), "secret": record["secret"]}


def list_endpoints(principal: Principal) -> list[dict[str, Any]]:
    _require_workspace_scope(principal)
    return [view(e) for e in sorted(dal.list_for_workspace(principal.workspace_id), key=lambda e: e["createdAt"])]


def get(principal: Principal, webhook_id: str) -> dict[str, Any]:
    return view(_endpoint(principal, webhook_id))


def update(principal: Principal, webhook_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    endpoint = _endpoint(principal, webhook_id)
    changes = dict(changes)
    if changes.get("storeSlug"):
        workspaces.get_store(principal.workspace_id, changes["storeSlug"])
    if "events" in changes:
        changes["events"] = sorted(set(changes["events"]), key=EVENTS.index)
    if changes.get("enabled") is True and not endpoint.get("enabled", True):
        changes |= {"disabledReason": None, "disabledAt": None, "failingSince": None}
    changes["updatedAt"] = iso(now())
    try:
        return view(dal.update(principal.workspace_id, webhook_id, changes))
    except NoSuchItem:
        raise NotFound(f"Webhook {webhook_id} does not exist.") from None


def delete(principal: Principal, webhook_id: str) -> dict[str, Any]:
    _endpoint(principal, webhook_id)
    try:
        dal.delete(principal.workspace_id, webhook_id)
    except NoSuchItem:
        raise NotFound(f"Webhook {webhook_id} does not exist.") from None
    return {"id": webhook_id, "deleted": True}


def rotate_secret(principal: Principal, webhook_id: str) -> dict[str, Any]:
    """A new secret (shown once); the current one keeps signing beside it for 24 h."""
    endpoint = _endpoint(principal, webhook_id)
    at = now()
    changes = {
        "secret": wire.new_secret(),
        "previousSecret": endpoint["secret"],
        "previousSecretExpiresAt": iso(at + ROTATION_OVERLAP),
        "secretRotatedAt": iso(at),
        "updatedAt": iso(at),
    }
    try:
        updated = dal.update(principal.workspace_id, webhook_id, changes)
    except NoSuchItem:
        raise NotFound(f"Webhook {webhook_id} does not exist.") from None
    return {**view(updated), "secret": changes["secret"]}


def signing_secrets(endpoint: dict[str, Any], at: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the rotated-out one for its 24 h."""
    out = [endpoint["secret"]]
    until = endpoint.get("previousSecretExpiresAt")
    if endpoint.get("previousSecret") and until and parse_iso(until) > at:
        out.append(endpoint["previousSecret"])
    return out


def deliveries(principal: Principal, webhook_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    _endpoint(principal, webhook_id)
    try:
        items, next_cursor = dal.deliveries_page(principal.workspace_id, webhook_id, limit, cursor)
    except BadCursor as exc:
        raise field_error("cursor", str(exc)) from None
    return {"items": [delivery_view(d) for d in items], "nextCursor": next_cursor}


def _requeue(delivery: dict[str, Any], at: datetime, reason: str) -> dict[str, Any]:
    updated = dal.set_delivery(delivery, {"status": PENDING, "nextAttemptAt": iso(at), "requeuedBy": reason})
    delay = settings().webhook_retry_schedule[0]
    wire.enqueue(_message(updated, attempts=int(updated.get("attempts") or 0), tries=0), delay)
    return updated


def replay(principal: Principal, webhook_id: str, delivery_id: str) -> dict[str, Any]:
    """Send a logged delivery again - the same body and ``webhook-id`` - with a fresh schedule."""
    endpoint = _endpoint(principal, webhook_id)
    if not endpoint.get("enabled", True):
        raise Conflict("The webhook is disabled; enable it (PATCH enabled: true) before replaying.")
    delivery = dal.get_delivery(principal.workspace_id, webhook_id, delivery_id)
    if delivery is None:
        raise NotFound(f"Delivery {delivery_id} does not exist.")
    return delivery_view(_requeue(delivery, now(), "replay"))


def recover(principal: Principal, webhook_id: str, since: datetime) -> dict[str, Any]:
    """Send again every failed delivery of events since ``since`` (at most 1000)."""
    endpoint = _endpoint(principal, webhook_id)
    if not endpoint.get("enabled", True):
        raise Conflict("The webhook is disabled; enable it (PATCH enabled: true) before recovering.")
    at = now()
    failed = [
        d
        for d in dal.deliveries_since(principal.workspace_id, webhook_id, _id_time(iso(since)))
        if d.get("status") == FAILED
    ][:RECOVER_MAX]
    for delivery in failed:
        _requeue(delivery, at, "recover")
    return {"recovered": len(failed), "since": iso(since)}


# ------------------------------------------------------------------ fan-out (the stream consumer)


def _id_time(occurred_at: str) -> str:
    """A timestamp as the sortable head of a delivery id: 20240501T183000123Z."""
    try:
        at = parse_iso(occurred_at)
    except (TypeError, ValueError):
        at = now()
    return iso(at).replace("-", "").replace(":", "").replace(".", "")


def dissatisfied(change: stream_dal.CustomerChange) -> stream_dal.ItemEvent | None:
    """``customer.dissatisfied`` when this change put the customer on the growing-dissatisfied
    list (they were not on it before): the churn alert, once per entry."""
    entry = watch_entry(change.after)
    if entry is None or (change.before is not None and watch_entry(change.before) is not None):
        return None
    earlier = Fraction(entry["earlierSum"], entry["earlierCount"])
    recent = Fraction(entry["recentSum"], entry["recentCount"])
    data = {
        "storeSlug": change.store_slug,
        "civ": entry["civ"],
        "visitCount": entry["visitCount"],
        "earlierAvg": round_half_up(earlier, 2),
        "recentAvg": round_half_up(recent, 2),
        "drop": round_half_up(earlier - recent, 2),
        "recentRatings": entry["recentRatings"],
        "lastVisitAt": entry["lastVisitAt"],
    }
    key = f"customer.dissatisfied/{change.store_slug}/{change.civ}/{change.after.get('version')}"
    return stream_dal.ItemEvent(
        "customer.dissatisfied", key, change.workspace_id, change.store_slug, entry["lastVisitAt"], data
    )


def body(event: stream_dal.ItemEvent) -> str:
    """``{"type", "timestamp", "data"}`` in at most 20 KB: past that, the longest free-text and
    payload fields are left out and ``data.truncated`` says so."""
    data = dict(event.data)
    text = json.dumps({"type": event.type, "timestamp": event.occurred_at, "data": data}, separators=(",", ":"))
    for field in ("payload", "comment"):
        if len(text.encode()) <= MAX_BODY_BYTES:
            break
        if data.pop(field, None) is not None:
            data["truncated"] = True
        text = json.dumps({"type": event.type, "timestamp": event.occurred_at, "data": data}, separators=(",", ":"))
    if len(text.encode()) > MAX_BODY_BYTES:
        data = {k: v for k, v in data.items() if k in ("id", "storeSlug", "createdAt", "status")} | {"truncated": True}
        text = json.dumps({"type": event.type, "timestamp": event.occurred_at, "data": data}, separators=(",", ":"))
    return text


def _public(event: stream_dal.ItemEvent) -> stream_dal.ItemEvent:
    """The event with no more data than the API returns: a feedback as the search shows it."""
    if event.type != "feedback.created":
        return event
    hidden = ("workspaceId", "imported")
    data = {k: event.data[k] for k in feedback_dal.PUBLIC_FIELDS if k in event.data and k not in hidden}
    return stream_dal.ItemEvent(event.type, event.key, event.workspace_id, event.store_slug, event.occurred_at, data)


def _matches(endpoint: dict[str, Any], event: stream_dal.ItemEvent) -> bool:
    return (
        bool(endpoint.get("enabled", True))
        and event.type in (endpoint.get("events") or ())
        and (not endpoint.get("storeSlug") or endpoint["storeSlug"] == event.store_slug)
    )


def _message(delivery: dict[str, Any], attempts: int, tries: int, due_at: float | None = None) -> dict[str, Any]:
    """A queue message: which delivery, how many attempts it had, how many in this round."""
    out = {"ws": delivery["workspaceId"], "webhook": delivery["webhookId"], "delivery": delivery["id"]}
    out |= {"attempts": attempts, "tries": tries}
    return out | ({"dueAt": round(due_at, 3)} if due_at is not None else {})


def fan_out(source: stream_dal.ItemEvent | stream_dal.CustomerChange) -> int:
    """Log and queue the event's delivery to every matching endpoint; how many were queued."""
    event = dissatisfied(source) if isinstance(source, stream_dal.CustomerChange) else source
    if event is None:
        return 0
    event = _public(event)
    endpoints = [e for e in dal.list_for_workspace(event.workspace_id) if _matches(e, event)]
    if not endpoints:
        return 0
    text = body(event)
    at = now()
    expires = int((at + timedelta(days=settings().webhook_log_days)).timestamp())
    queued = 0
    for endpoint in endpoints:
        digest = hashlib.sha256(f"{endpoint['id']}|{event.key}".encode()).hexdigest()[:16]
        delivery_id = f"{_id_time(event.occurred_at)}-{digest}"
        record = {
            "id": delivery_id,
            "webhookId": endpoint["id"],
            "workspaceId": event.workspace_id,
            "msgId": f"msg_{delivery_id}",
            "event": event.type,
            "eventKey": event.key,
            "status": PENDING,
            "attempts": 0,
            "body": text,
            "createdAt": iso(at),
            "nextAttemptAt": iso(at),
        }
        if not dal.put_delivery(record, expires):
            logged = dal.get_delivery(event.workspace_id, endpoint["id"], delivery_id)
            if not logged or logged.get("status") != PENDING or logged.get("attempts"):
                continue  # queued (and tried) by an earlier run of this record
        wire.enqueue(_message(record, 0, 0), settings().webhook_retry_schedule[0])
        queued += 1
    return queued


# ------------------------------------------------------------------ dispatch (the queue consumer)


def _disable(endpoint: dict[str, Any], reason: str, at: datetime) -> None:
    changes = {"enabled": False, "disabledReason": reason, "disabledAt": iso(at), "updatedAt": iso(at)}
    with contextlib.suppress(NoSuchItem):
        dal.update(endpoint["workspaceId"], endpoint["id"], changes)


def dispatch(message: dict[str, Any], sender: wire.Sender | None = None, at: datetime | None = None) -> str:
    """One attempt of one delivery; what happened (succeeded, retrying, failed, disabled, deferred,
    duplicate, gone). Raises only when the queue or table cannot be reached (SQS retries it)."""
    at = at or now()
    send = sender or wire.post
    due = message.get("dueAt")
    if due is not None and due - at.timestamp() > 1:
        wire.enqueue(message, due - at.timestamp())  # a long delay, travelling 900 s at a time
        return "deferred"
    delivery = dal.get_delivery(message["ws"], message["webhook"], message["delivery"])
    if delivery is None:
        return "gone"  # expired from the log
    expected = int(message.get("attempts") or 0)
    if delivery.get("status") != PENDING or int(delivery.get("attempts") or 0) != expected:
        return "duplicate"
    endpoint = dal.get(message["ws"], message["webhook"])
    if endpoint is None or not endpoint.get("enabled", True):
        reason = "the webhook was deleted" if endpoint is None else "the webhook is disabled"
        dal.record_attempt(delivery, expected, {"status": FAILED, "lastError": reason, "nextAttemptAt": None})
        return "failed"

    timestamp = int(at.timestamp())
    text = delivery["body"]
    request_headers = wire.headers(signing_secrets(endpoint, at), delivery["msgId"], timestamp, text)
    result = send(endpoint["url"], request_headers, text.encode())
    attempts, tries = expected + 1, int(message.get("tries") or 0) + 1
    outcome = {
        "attempts": attempts,
        "responseCode": result.status,
        "latencyMs": result.latency_ms,
        "lastAttemptAt": iso(at),
    }
    if result.ok:
        done = {"status": SUCCEEDED, "lastError": None, "nextAttemptAt": None}
        dal.record_attempt(delivery, expected, outcome | done)
        if endpoint.get("failingSince"):
            dal.clear_failing(endpoint["workspaceId"], endpoint["id"])
        return "succeeded"

    outcome["lastError"] = result.error or f"HTTP {result.status}"
    if result.status == 410:
        _disable(endpoint, "the endpoint answered 410 Gone", at)
        dal.record_attempt(delivery, expected, outcome | {"status": FAILED, "nextAttemptAt": None})
        return "disabled"
    failing = dal.mark_failing(endpoint["workspaceId"], endpoint["id"], iso(at)) or endpoint
    since = failing.get("failingSince") or iso(at)
    if (at - parse_iso(since)).total_seconds() >= settings().webhook_disable_after_seconds:
        _disable(endpoint, f"failing since {since}", at)
        dal.record_attempt(delivery, expected, outcome | {"status": FAILED, "nextAttemptAt": None})
        return "disabled"
    schedule = settings().webhook_retry_schedule
    if tries >= len(schedule):
        dal.record_attempt(delivery, expected, outcome | {"status": FAILED, "nextAttemptAt": None})
        return "failed"
    delay = float(schedule[tries])
    if result.status == 429 and result.retry_after is not None:
        delay = max(delay, min(result.retry_after, 86400.0))
    due_at = at.timestamp() + delay
    retry = _message(delivery, attempts, tries, due_at if delay > wire.MAX_QUEUE_DELAY else None)
    wire.enqueue(retry, delay)
    dal.record_attempt(delivery, expected, outcome | {"nextAttemptAt": iso(at + timedelta(seconds=delay))})
    return "retrying"
