"""Purchases recorded by partners: the facts a tracker is made from, recorded once per id."""

from __future__ import annotations

from typing import Any

from revisit.dal import UnknownStore
from revisit.dal import purchases as dal
from revisit.domain.auth import Principal
from revisit.domain.util import iso, now
from revisit.errors import Conflict, NotFound

_PURCHASE_COMPARED = (
    "customerId",
    "storeSlug",
    "purchasedAt",
    "amount",
    "currency",
    "channel",
    "email",
    "phone",
    "whatsapp",
)


def record_purchase(principal: Principal, spec: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Idempotent on purchaseId: the same purchase again returns the stored one (created=False);
    the same id with different facts is a 409 rather than a silent overwrite."""
    principal.require_store(spec["storeSlug"])
    purchase = {**{k: v for k, v in spec.items() if v is not None}, "workspaceId": principal.workspace_id}
    purchase["recordedAt"] = iso(now())
    try:
        created = dal.create(purchase)
    except UnknownStore:
        raise NotFound(
            f"Store '{spec['storeSlug']}' does not exist.", [{"field": "storeSlug", "message": "unknown store"}]
        ) from None
    if created:
        return _purchase_view(purchase), True
    stored = dal.get(principal.workspace_id, spec["purchaseId"])
    assert stored is not None
    if any(stored.get(k) != purchase.get(k) for k in _PURCHASE_COMPARED):
        raise Conflict(
            f"Purchase {spec['purchaseId']} was already recorded with other details.",
            [{"field": "purchaseId", "message": "already recorded with other details"}],
        )
    return _purchase_view(stored), False


def _purchase_view(purchase: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in purchase.items() if k != "workspaceId"}
