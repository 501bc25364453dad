"""Purchases recorded by partners, keyed by the partner's own purchase id (idempotent)."""

from __future__ import annotations

from typing import Any

from revisit.dal import ConditionFailed, keys, table


def create(purchase: dict[str, Any]) -> bool:
    """Put the purchase once: False if one with this id exists already (the caller compares).

    The store must exist: ConditionFailed.failed_at(0) otherwise.
    """
    ws = purchase["workspaceId"]
    try:
        table.transact(
            [
                table.must_exist(keys.store(ws, purchase["storeSlug"])),
                table.put_new_op({**keys.purchase(ws, purchase["purchaseId"]), "type": "purchase", **purchase}),
            ]
        )
        return True
    except ConditionFailed as exc:
        if exc.failed_at(1) and not exc.failed_at(0):
            return False
        raise


def get(workspace_id: str, purchase_id: str) -> dict[str, Any] | None:
    item = table.get(keys.purchase(workspace_id, purchase_id))
    return {k: v for k, v in item.items() if k not in ("pk", "sk", "type")} if item else None
