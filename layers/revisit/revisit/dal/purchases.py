"""Purchases recorded by partners, keyed by the partner's own purchase id (idempotent)."""

from __future__ import annotations

from typing import Any

from revisit.dal import keys, table
from revisit.dal.errors import AlreadyExists, UnknownStore


def create(purchase: dict[str, Any]) -> bool:
    """Put the purchase once: False if one with this id exists already (the caller compares).

    The store must exist: UnknownStore otherwise.
    """
    ws = purchase["workspaceId"]
    try:
        table.transact(
            [
                table.must_exist(keys.store(ws, purchase["storeSlug"])),
                table.put_new_op({**keys.purchase(ws, purchase["purchaseId"]), keys.TYPE: "purchase", **purchase}),
            ],
            failures=[UnknownStore, AlreadyExists],
        )
        return True
    except AlreadyExists:
        return False


def get(workspace_id: str, purchase_id: str) -> dict[str, Any] | None:
    return table.get_record(keys.purchase(workspace_id, purchase_id))
