"""Workspaces and their stores (with the store's public NPS shop id)."""

from __future__ import annotations

from typing import Any

from revisit.dal import keys, table
from revisit.dal.errors import AlreadyExists, NoSuchItem, UnknownWorkspace

# What an owner may change (PATCH /api/stores/{storeSlug}); all but name and timezone absent until set.
_STORE_SETTINGS = ("name", "timezone", "locale", "brandColor", "logoUrl", "reviewPrompt", "questions",
                   "alertEmails", "alertMaxRating", "weeklyDigest", "retentionMonths")  # fmt: skip
_STORE_FIELDS = ("workspaceId", "slug", *_STORE_SETTINGS, "shopId", "createdAt", "updatedAt")


def get_workspace(workspace_id: str) -> dict[str, Any] | None:
    return table.get_record(keys.workspace(workspace_id))


def create_workspace(workspace_id: str, name: str, created_at: str) -> bool:
    """Create the workspace; False if it already existed (idempotent)."""
    try:
        table.put_new(
            {**keys.workspace(workspace_id), "workspaceId": workspace_id, "name": name, "createdAt": created_at}
        )
        return True
    except AlreadyExists:
        return False


def create_store(
    store: dict[str, Any], category: dict[str, Any] | None = None, channel: dict[str, Any] | None = None
) -> None:
    """Store, its shop-id look-up item and the shop's first NPS category and channel (numbered
    1 and 2 of the shop's sequence) in one transaction.

    UnknownWorkspace if the workspace does not exist; AlreadyExists if the slug is taken.
    """
    ws, slug, shop_id = store["workspaceId"], store["slug"], store["shopId"]
    item = {**keys.store(ws, slug), **{k: store[k] for k in _STORE_FIELDS if k in store}}
    item |= {k: v for k, v in _alert_index(ws, slug, store.get("alertEmails")).items() if v is not None}
    item |= {k: v for k, v in _retention_index(ws, slug, store.get("retentionMonths")).items() if v is not None}
    shop: dict[str, Any] = {**keys.shop(shop_id), "workspaceId": ws, "slug": slug}
    extra = []
    if category and channel:
        shop.update(npsSeq=2, defaultCategory=category["code"], defaultChannel=channel["code"])
        extra = [
            table.put_new_op({**keys.nps_category(shop_id, category["code"]), keys.TYPE: "nps_category", **category}),
            table.put_new_op({**keys.nps_channel(shop_id, channel["code"]), keys.TYPE: "nps_channel", **channel}),
        ]
    table.transact(
        [table.must_exist(keys.workspace(ws)), table.put_new_op(item), table.put_new_op(shop), *extra],
        failures=[UnknownWorkspace, AlreadyExists, AlreadyExists],
    )


def get_store(workspace_id: str, slug: str) -> dict[str, Any] | None:
    item = table.get(keys.store(workspace_id, slug))
    return _public(item) if item else None


def update_store(workspace_id: str, slug: str, changes: dict[str, Any], updated_at: str) -> dict[str, Any]:
    """SET the given attributes (None REMOVEs one) and ``updatedAt``, in one UpdateItem on the
    condition that the store exists (NoSuchItem otherwise: nothing is written). The store after it."""
    fixed = sorted(set(changes) - set(_STORE_SETTINGS))
    if fixed:
        raise ValueError(f"not store settings: {', '.join(fixed)}")
    index = _alert_index(workspace_id, slug, changes["alertEmails"]) if "alertEmails" in changes else {}
    if "retentionMonths" in changes:
        index |= _retention_index(workspace_id, slug, changes["retentionMonths"])
    updated = table.update_fields(
        keys.store(workspace_id, slug),
        {**changes, **index},
        sets=["updatedAt = :updatedAt"],
        values={":updatedAt": table.value(updated_at)},
        returns="ALL_NEW",
        failure=NoSuchItem,
    )
    return _public(updated)


def list_stores(workspace_id: str) -> list[dict[str, Any]]:
    return [_public(i) for i in table.query_prefix(keys.ws_pk(workspace_id), keys.store_prefix())]


def store_by_shop_id(shop_id: str) -> dict[str, Any] | None:
    """Shop id -> (workspaceId, slug): one GetItem."""
    item = table.get(keys.shop(shop_id))
    return {"workspaceId": item["workspaceId"], "slug": item["slug"]} if item else None


def _alert_index(workspace_id: str, slug: str, alert_emails: list[str] | None) -> dict[str, str | None]:
    """The store's keys in the alert index (gsi1, ``ALERTSTORES``) while it has alert addresses;
    None (REMOVE) when it has none. Written in the store's own UpdateItem, so the index and the
    setting never disagree."""
    on = bool(alert_emails)
    entry = keys.alert_store_index(workspace_id, slug)
    return {"gsi1pk": entry["gsi1pk"] if on else None, "gsi1sk": entry["gsi1sk"] if on else None}


def alert_stores(limit: int = 100, cursor: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], Any]:
    """A page of the stores with alert addresses (Query gsi1 pk=ALERTSTORES), and the key to go on
    from (None on the last page)."""
    req: dict[str, Any] = {
        "TableName": table.TABLE,
        "IndexName": keys.GSI1,
        "KeyConditionExpression": "gsi1pk = :pk",
        "ExpressionAttributeValues": {":pk": table.value(keys.ALERT_STORES)},
        "Limit": limit,
    }
    if cursor:
        req["ExclusiveStartKey"] = cursor
    resp = table.client.query(**req)
    return [_public(table.deserialize(i) or {}) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in _STORE_FIELDS if k in item}


def _retention_index(workspace_id: str, slug: str, months: int | None) -> dict[str, str | None]:
    """The store's keys in the retention index (gsi2, ``RETENTIONSTORES``) while it has a retention
    setting; None (REMOVE) without one. Written in the store's own write: never out of step."""
    entry = keys.retention_store_index(workspace_id, slug)
    on = months is not None
    return {"gsi2pk": entry["gsi2pk"] if on else None, "gsi2sk": entry["gsi2sk"] if on else None}


def retention_stores(limit: int = 100, cursor: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], Any]:
    """A page of the stores with a retention setting (Query gsi2 pk=RETENTIONSTORES), and the key
    to go on from (None on the last page)."""
    req: dict[str, Any] = {
        "TableName": table.TABLE,
        "IndexName": keys.GSI2,
        "KeyConditionExpression": "gsi2pk = :pk",
        "ExpressionAttributeValues": {":pk": table.value(keys.RETENTION_STORES)},
        "Limit": limit,
    }
    if cursor:
        req["ExclusiveStartKey"] = cursor
    resp = table.client.query(**req)
    return [_public(table.deserialize(i) or {}) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")
