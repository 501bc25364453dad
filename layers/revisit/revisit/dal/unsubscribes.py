"""Opt-outs per store (or the whole workspace, store '*'), by customer id or by hashed contact."""

from __future__ import annotations

import contextlib
from typing import Any

from revisit.dal import keys, table
from revisit.dal.errors import AlreadyExists

ALL_STORES = "*"


def put(workspace_id: str, store: str, kind: str, value: str, record: dict[str, Any]) -> None:
    """Idempotent: unsubscribing twice keeps the first record."""
    with contextlib.suppress(AlreadyExists):
        table.put_new({**keys.unsubscribe(workspace_id, store, kind, value), keys.TYPE: "unsubscribe", **record})


def any_of(workspace_id: str, store: str, identities: list[tuple[str, str]]) -> bool:
    """Is any (kind, value) unsubscribed for this store or the whole workspace? One BatchGetItem."""
    wanted = [keys.unsubscribe(workspace_id, s, kind, value) for s in (store, ALL_STORES) for kind, value in identities]
    if not wanted:
        return False
    resp = table.client.batch_get_item(
        RequestItems={table.TABLE: {"Keys": [table.serialize(k) for k in wanted], "ProjectionExpression": keys.PK}}
    )
    found = resp.get("Responses", {}).get(table.TABLE, [])
    unprocessed = resp.get("UnprocessedKeys", {}).get(table.TABLE, {}).get("Keys", [])
    if found:
        return True
    if unprocessed:  # throttled: check those one by one, consistently
        return any(table.get(table.deserialize(k)) for k in unprocessed)
    return False


def of_customer(workspace_id: str, store: str, customer_id: str) -> list[dict[str, Any]]:
    """The store's opt-out of this customer id, as stored (one GetItem): 0 or 1 item."""
    item = table.get(keys.unsubscribe(workspace_id, store, "CUS", customer_id))
    return [item] if item else []
