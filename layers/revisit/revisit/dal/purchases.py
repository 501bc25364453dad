"""Purchases recorded by partners, keyed by the store and the partner's own purchase id (idempotent).

| pattern                                 | key condition / index                            |
|-----------------------------------------|--------------------------------------------------|
| purchase of a store                     | GetItem PURCHASE#ws#store#purchaseId             |
| stores that recorded a purchase id      | gsi1 PURCHASEID#ws#purchaseId (sk: store), ≤ 2   |

The stored purchase holds no raw email or phone: only the keyed hashes of its identities (what
opt-outs are matched against); the raw contact goes to the trackers that send, for as long as
sending needs it (:mod:`revisit.dal.trackers`).
"""

from __future__ import annotations

from typing import Any

from revisit.dal import keys, table
from revisit.dal.errors import AlreadyExists, UnknownStore


def to_item(purchase: dict[str, Any]) -> dict[str, Any]:
    ws, store, pid = purchase["workspaceId"], purchase["storeSlug"], purchase["purchaseId"]
    return {
        **keys.purchase(ws, store, pid),
        keys.TYPE: "purchase",
        **purchase,
        "gsi1pk": keys.purchase_id_pk(ws, pid),
        "gsi1sk": store,
        **customer_keys(purchase),
    }


def customer_keys(purchase: dict[str, Any]) -> dict[str, str]:
    """gsi2 of a purchase with a customer id: the store's purchases of one customer."""
    if not purchase.get("customerId"):
        return {}
    pk = keys.purchase_customer_pk(purchase["workspaceId"], purchase["storeSlug"], str(purchase["customerId"]))
    return {"gsi2pk": pk, "gsi2sk": str(purchase["purchaseId"])}


def create(purchase: dict[str, Any]) -> bool:
    """Put the purchase once: False if the store has one with this id already (the caller compares).

    The store must exist: UnknownStore otherwise.
    """
    ws = purchase["workspaceId"]
    try:
        table.transact(
            [table.must_exist(keys.store(ws, purchase["storeSlug"])), table.put_new_op(to_item(purchase))],
            failures=[UnknownStore, AlreadyExists],
        )
        return True
    except AlreadyExists:
        return False


def get(workspace_id: str, store_slug: str, purchase_id: str) -> dict[str, Any] | None:
    return table.get_record(keys.purchase(workspace_id, store_slug, purchase_id))


def stores_of(workspace_id: str, purchase_id: str, limit: int = 2) -> list[str]:
    """The stores (at most ``limit``) of the workspace that recorded this purchase id: one Query."""
    resp = table.client.query(
        TableName=table.TABLE,
        IndexName=keys.GSI1,
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": table.value(keys.purchase_id_pk(workspace_id, purchase_id))},
        ProjectionExpression="gsi1sk",
        Limit=limit,
    )
    return [i["gsi1sk"]["S"] for i in resp.get("Items", [])]


def of_customer(workspace_id: str, store_slug: str, customer_id: str) -> list[dict[str, Any]]:
    """The store's purchases of one customer (gsi2 ``PURCUS#``): one Query."""
    items = table.query_all(
        TableName=table.TABLE,
        IndexName=keys.GSI2,
        KeyConditionExpression="gsi2pk = :pk",
        ExpressionAttributeValues={
            ":pk": table.value(keys.purchase_customer_pk(workspace_id, store_slug, customer_id))
        },
    )
    return [r for r in (table.plain(i) for i in items) if r is not None]
