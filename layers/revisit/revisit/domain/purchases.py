"""Purchases recorded by partners: the facts a tracker is made from, recorded once per store and id.

Recording a purchase also makes the trackers Revisit sends (email, sms, whatsapp) for the store's
applicable surveys; the raw email / phone go to those trackers only, for as long as sending needs
them. The purchase keeps the keyed hashes of its identities (what opt-outs are matched against).
"""

from __future__ import annotations

from typing import Any

from revisit.dal import UnknownStore
from revisit.dal import purchases as dal
from revisit.domain import trackers, unsubscribes
from revisit.domain.auth import Principal
from revisit.domain.util import iso, now
from revisit.errors import Conflict, NotFound

_PURCHASE_COMPARED = ("customerId", "storeSlug", "purchasedAt", "amount", "currency", "channel", "identities")


def record_purchase(principal: Principal, spec: dict[str, Any], base_url: str) -> tuple[dict[str, Any], bool]:
    """Idempotent on (store, purchaseId): the same purchase again returns it (created=False) and
    makes any tracker still missing; the same id with different facts is a 409 rather than a
    silent overwrite. Another store's purchase with the same id is another purchase."""
    principal.require_store(spec["storeSlug"])
    facts = {k: v for k, v in spec.items() if v is not None}
    contact = {k: facts.pop(k) for k in trackers.CONTACT_FIELDS if k in facts}
    purchase = {
        **facts,
        "identities": [list(i) for i in unsubscribes.identities(None, contact)],
        "workspaceId": principal.workspace_id,
        "recordedAt": iso(now()),
    }
    try:
        created = dal.create(purchase)
    except UnknownStore:
        raise NotFound(
            f"Store '{spec['storeSlug']}' does not exist.", [{"field": "storeSlug", "message": "unknown store"}]
        ) from None
    if not created:
        stored = dal.get(principal.workspace_id, spec["storeSlug"], spec["purchaseId"])
        assert stored is not None
        if any(stored.get(k) != purchase.get(k) for k in _PURCHASE_COMPARED):
            raise Conflict(
                f"Purchase {spec['purchaseId']} was already recorded with other details.",
                [{"field": "purchaseId", "message": "already recorded with other details"}],
            )
        purchase = stored
    trackers.create_for_purchase(principal, {**purchase, **contact}, base_url)
    return _purchase_view({**purchase, **contact}), created


def _purchase_view(purchase: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in purchase.items() if k not in ("workspaceId", "identities")}
