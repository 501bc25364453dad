"""Opt-outs: a customer unsubscribed from a store (or a whole workspace) gets no further sends.

Stored per identity: the partner's customer id, and the email / phone as keyed hashes only.
"""

from __future__ import annotations

from typing import Any

from revisit import hashing
from revisit.dal import trackers as trackers_dal
from revisit.dal import unsubscribes as dal
from revisit.domain import tokens
from revisit.domain.auth import Principal
from revisit.domain.util import iso, now
from revisit.errors import NotFound, field_error


def identities(customer_id: str | None, contact: dict[str, Any] | None) -> list[tuple[str, str]]:
    out = [("CUS", customer_id)] if customer_id else []
    contact = contact or {}
    if contact.get("email"):
        out.append(("EMAIL", hashing.keyed_hash(contact["email"].strip().lower())))
    for field in ("phone", "whatsapp"):
        if contact.get(field):
            out.append(("PHONE", hashing.keyed_hash(contact[field].strip())))
    return list(dict.fromkeys(out))


def of_tracker(tracker: dict[str, Any]) -> list[tuple[str, str]]:
    """A tracker's identities: its customer id, the keyed hashes recorded with it (they outlive
    the raw contact) and those of a contact it still holds."""
    stored = [(kind, value) for kind, value in tracker.get("identities") or []]
    return list(dict.fromkeys([*identities(tracker.get("customerId"), tracker.get("contact")), *stored]))


def is_unsubscribed(tracker: dict[str, Any]) -> bool:
    return dal.any_of(tracker["workspaceId"], tracker["storeSlug"], of_tracker(tracker))


def _record(workspace_id: str, store: str, ids: list[tuple[str, str]], source: str) -> None:
    at = iso(now())
    for kind, value in ids:
        dal.put(workspace_id, store, kind, value, {"at": at, "source": source})


def by_token(token_value: str) -> dict[str, Any]:
    """The customer behind a tracker link opts out of that store's surveys."""
    token = tokens.lookup(token_value)
    tracker = trackers_dal.get(token["trackerId"]) if token and token.get("trackerId") else None
    if tracker is None:
        raise NotFound("This link does not exist.", [{"field": "token", "message": "unknown token"}])
    _record(tracker["workspaceId"], tracker["storeSlug"], of_tracker(tracker), "link")
    return {"storeSlug": tracker["storeSlug"]}


def by_partner(
    principal: Principal, store_slug: str | None, customer_id: str | None, email: str | None, phone: str | None
) -> dict[str, Any]:
    """Partner sync: opt-outs for one store, or the whole workspace when no store is given."""
    if store_slug:
        principal.require_store(store_slug)
    elif principal.stores_visible():
        store_slug = principal.stores_visible()
    ids = identities(customer_id, {"email": email, "phone": phone})
    if not ids:
        raise field_error("customerId", "give at least one of customerId, email, phone", "missing")
    _record(principal.workspace_id, store_slug or dal.ALL_STORES, ids, "partner")
    return {"storeSlug": store_slug, "identities": len(ids)}
