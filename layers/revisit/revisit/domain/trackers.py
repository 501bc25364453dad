"""Partner survey trackers (seed 001): generate, get and list (surveys, purchases and clicks
have their own modules).

Who makes which tracker: recording a purchase makes the trackers Revisit sends (email, sms,
whatsapp) of every applicable survey (:func:`create_for_purchase`); ``generate`` makes the
*external* ones only - the partner sends those links ("Fullwhere does not send external survey
trackers"), so a partner that sends the external link never double-messages a customer.

Tracker status (docs/trackers.md draws the state machine):
  scheduled -> sent -> opened -> completed        (we send: email, sms, whatsapp)
  ready     -> opened -> completed                (external: the partner sends the link)
  any open state -> expired (link expired) | failed (delivery gave up) | cancelled (unsubscribed)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from revisit.config import settings
from revisit.dal import purchases as purchases_dal
from revisit.dal import surveys as surveys_dal
from revisit.dal import trackers as dal
from revisit.dal.tracker_events import SEED_FIELDS  # the seed's tracker fields, also its events'
from revisit.domain import tokens, unsubscribes
from revisit.domain.auth import Principal
from revisit.domain.util import iso, new_id, now, parse_iso
from revisit.errors import Conflict, NotFound, field_error

STATUSES = ("scheduled", "ready", "sent", "opened", "completed", "expired", "failed", "cancelled")
MAX_OFFSET_ITEMS = 10_000
CONTACT_FIELDS = ("email", "phone", "whatsapp")


def applies(survey: dict[str, Any], purchase: dict[str, Any]) -> bool:
    """A survey applies to a purchase when it is active, of the purchase's store, and its rule
    (minimum amount, channels) admits the purchase."""
    if not survey.get("active", True) or survey["storeSlug"] != purchase["storeSlug"]:
        return False
    rule = survey.get("rule") or {}
    if rule.get("minAmount") is not None and (purchase.get("amount") or 0) < rule["minAmount"]:
        return False
    channels = rule.get("channels")
    return not channels or purchase.get("channel") in channels


def view(tracker: dict[str, Any]) -> dict[str, Any]:
    """Exactly the seed's fields; link and sentTo stay null until sent (external: link at once)."""
    out = {k: tracker.get(k) for k in SEED_FIELDS}
    out["link"] = tracker.get("link")
    return out


def _visible(principal: Principal, tracker: dict[str, Any] | None) -> bool:
    return (
        bool(tracker)
        and tracker["workspaceId"] == principal.workspace_id
        and principal.can_access_store(tracker["storeSlug"])
    )


def find_purchase(principal: Principal, purchase_id: str, store_slug: str | None) -> dict[str, Any]:
    """The purchase a partner names by id. Purchase ids are the store's: a store-scoped key implies
    its store; a workspace-scoped key may name it (``storeSlug``), else the id must be unambiguous
    across the workspace's stores (400 naming storeSlug when two stores recorded it)."""
    unknown = NotFound(
        f"Purchase {purchase_id} does not exist.", [{"field": "purchaseId", "message": "unknown purchase"}]
    )
    if store_slug:
        principal.require_store(store_slug)
    store_slug = store_slug or principal.stores_visible()
    if not store_slug:
        stores = purchases_dal.stores_of(principal.workspace_id, purchase_id)
        if not stores:
            raise unknown
        if len(stores) > 1:
            raise field_error("storeSlug", f"purchase {purchase_id} was recorded by several stores: name the store")
        store_slug = stores[0]
    purchase = purchases_dal.get(principal.workspace_id, store_slug, purchase_id)
    if purchase is None:
        raise unknown
    return purchase


def generate(
    principal: Principal, purchase_id: str, base_url: str, store_slug: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The purchase's *external* trackers: one per applicable external survey; an existing
    (survey, purchase) tracker is returned as is, also when concurrent calls race (the uniqueness
    item decides). Returns (trackers, created)."""
    purchase = find_purchase(principal, purchase_id, store_slug)
    return _ensure(principal, purchase, base_url, external=True)


def create_for_purchase(principal: Principal, purchase: dict[str, Any], base_url: str) -> int:
    """The trackers Revisit sends (email, sms, whatsapp) for a just recorded purchase, which still
    carries its raw contact; idempotent (a replay of the purchase creates only what is missing)."""
    return _ensure(principal, purchase, base_url, external=False)[1]


def _ensure(
    principal: Principal, purchase: dict[str, Any], base_url: str, external: bool
) -> tuple[list[dict[str, Any]], int]:
    surveys = [
        s
        for s in surveys_dal.list_for_workspace(principal.workspace_id)
        if (s["sendingType"] == "external") == external and applies(s, purchase)
    ]
    out, created = [], 0
    for survey in sorted(surveys, key=lambda s: s["createdAt"]):
        existing = dal.existing_id(principal.workspace_id, survey["surveyId"], purchase["purchaseId"])
        tracker = dal.get(existing) if existing else None
        if tracker is None:
            tracker, made = _create(principal, survey, purchase, base_url)
            created += made
        out.append(view(tracker))
    return out, created


def _create(principal: Principal, survey: dict[str, Any], purchase: dict[str, Any], base_url: str) -> tuple[dict, bool]:
    created = now()
    purchased = parse_iso(purchase["purchasedAt"])
    send_at = max(purchased + timedelta(minutes=survey.get("delayMinutes", 0)), created)
    expires = send_at + timedelta(days=survey.get("linkValidDays") or settings().token_default_ttl_days)
    tracker_id = new_id()
    token_value = tokens.new_token_value()
    link = f"{base_url.rstrip('/')}/r/{token_value}"
    external = survey["sendingType"] == "external"
    tracker = {
        "id": tracker_id,
        "createdAt": iso(created),
        "updatedAt": iso(created),
        "workspaceId": principal.workspace_id,
        "storeSlug": purchase["storeSlug"],
        "surveyId": survey["surveyId"],
        "surveyName": survey["name"],
        "sendAt": iso(send_at),
        "sentAt": None,
        "resendAt": None,
        "resent": False,
        "sendingIndex": 0,
        "customerId": purchase["customerId"],
        "purchaseId": purchase["purchaseId"],
        "sendingType": survey["sendingType"],
        "status": "ready" if external else "scheduled",
        "link": link if external else None,
        "linkUrl": link,
        "newReviewLink": survey.get("newReviewLink"),
        "sentTo": None,
        "switchedToSms": False,
        "clicks": 0,
        "uniqueClicks": 0,
        "token": token_value,
        "linkExpiresAt": iso(expires),
        "maxResends": survey.get("maxResends", 0),
        "resendDelayMinutes": survey.get("resendDelayMinutes"),
    }
    contact = {k: purchase[k] for k in CONTACT_FIELDS if purchase.get(k)}
    tracker["identities"] = purchase.get("identities") or [list(i) for i in unsubscribes.identities(None, contact)]
    if contact and not external:  # kept only while sending needs it: at most until the link expires
        tracker["contact"], tracker[dal.CONTACT_UNTIL] = contact, int(expires.timestamp())
    payload = {
        "orderId": purchase["purchaseId"],
        "purchaseId": purchase["purchaseId"],
        "civ": purchase["customerId"],
        "surveyId": survey["surveyId"],
        "trackerId": tracker_id,
    }
    source = f"tracker:{survey['sendingType']}"
    token = tokens.one_time_record(
        principal, token_value, purchase["storeSlug"], payload, source, created, expires, trackerId=tracker_id
    )
    stored = {k: v for k, v in tracker.items() if v is not None}
    if dal.create_with_token(stored, token, None if external else tracker["sendAt"]):
        return tracker, True
    winner = dal.get(dal.existing_id(principal.workspace_id, survey["surveyId"], purchase["purchaseId"]) or "")
    if winner is None:  # pragma: no cover - the uniqueness item always points at a tracker
        raise Conflict("Tracker creation raced; retry.")
    return winner, False


def get(principal: Principal, tracker_id: str) -> dict[str, Any]:
    tracker = dal.get(tracker_id)
    if not _visible(principal, tracker):
        raise NotFound(f"Survey tracker {tracker_id} does not exist.", [{"field": "id", "message": "unknown tracker"}])
    return view(tracker)


def _send_bounds(from_send_at: str | None, to_send_at: str | None) -> tuple[str, str]:
    """The sort-key bounds (``<sendAt>#<id>``) the index queries use, for the same filter in memory."""
    return from_send_at or "0", (to_send_at + "\uffff") if to_send_at else "\uffff"


def list_trackers(
    principal: Principal,
    limit: int,
    page: int,
    from_send_at: str | None,
    to_send_at: str | None,
    purchases: list[str] | None,
    customers: list[str] | None,
    store_slug: str | None = None,
) -> dict[str, Any]:
    """Newest sendAt first. With purchases/customers the matching set is read through those
    indexes and ``total`` is exact; without them only the first page*limit (+1) are read and the
    answer says ``hasMore`` (``total`` is null). Only the trackers of the key's store, or of
    ``store_slug`` when given (a workspace-scoped key without it sees every store's)."""
    offset = (page - 1) * limit
    if store_slug:
        principal.require_store(store_slug)
    store = store_slug or principal.stores_visible()
    ws = principal.workspace_id
    if purchases or customers:
        # Bounded cost, whatever the number of ids (issue 18 defect 6; was one Query per id):
        # purchases -> their trackers by key (BatchGetItem), customers -> one Query of the range.
        found: dict[str, dict[str, Any]] = {}
        if purchases:
            survey_ids = [s["surveyId"] for s in surveys_dal.list_for_workspace(ws)]
            lo, hi = _send_bounds(from_send_at, to_send_at)
            found = {
                t["id"]: t
                for t in dal.by_purchases(ws, survey_ids, list(purchases))
                if lo <= f"{t['sendAt']}#{t['id']}" <= hi
            }
        if customers:
            wanted = set(customers)
            if purchases:
                found = {k: t for k, t in found.items() if t["customerId"] in wanted}
            else:
                found = {t["id"]: t for t in dal.by_customers(ws, list(customers), from_send_at, to_send_at, store)}
        matches = sorted(
            (t for t in found.values() if not store or t["storeSlug"] == store),
            key=lambda t: (t["sendAt"], t["id"]),
            reverse=True,
        )
        items = matches[offset : offset + limit]
        return {
            "items": [view(t) for t in items],
            "page": page,
            "limit": limit,
            "total": len(matches),
            "hasMore": offset + limit < len(matches),
        }
    if offset + limit > MAX_OFFSET_ITEMS:
        raise field_error("page", f"page * limit may reach at most {MAX_OFFSET_ITEMS}; narrow the sendAt range")
    window, more = dal.workspace_window(ws, from_send_at, to_send_at, store, offset + limit)
    return {"items": [view(t) for t in window[offset:]], "page": page, "limit": limit, "total": None, "hasMore": more}
