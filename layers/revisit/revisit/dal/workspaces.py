"""Workspaces and their stores (with the store's public NPS shop id)."""

from __future__ import annotations

from typing import Any

from revisit.dal import keys, table
from revisit.dal.errors import AlreadyExists, UnknownWorkspace

_STORE_FIELDS = ("workspaceId", "slug", "name", "timezone", "shopId", "createdAt")


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


def create_store(store: dict[str, Any]) -> None:
    """Store and its shop-id look-up item in one transaction.

    UnknownWorkspace if the workspace does not exist; AlreadyExists if the slug is taken.
    """
    ws, slug = store["workspaceId"], store["slug"]
    item = {**keys.store(ws, slug), **{k: store[k] for k in _STORE_FIELDS if k in store}}
    shop = {**keys.shop(store["shopId"]), "workspaceId": ws, "slug": slug}
    table.transact(
        [table.must_exist(keys.workspace(ws)), table.put_new_op(item), table.put_new_op(shop)],
        failures=[UnknownWorkspace, AlreadyExists, AlreadyExists],
    )


def get_store(workspace_id: str, slug: str) -> dict[str, Any] | None:
    item = table.get(keys.store(workspace_id, slug))
    return _public(item) if item else None


def list_stores(workspace_id: str) -> list[dict[str, Any]]:
    return [_public(i) for i in table.query_prefix(keys.ws_pk(workspace_id), keys.store_prefix())]


def store_by_shop_id(shop_id: str) -> dict[str, Any] | None:
    """Shop id -> (workspaceId, slug): one GetItem."""
    item = table.get(keys.shop(shop_id))
    return {"workspaceId": item["workspaceId"], "slug": item["slug"]} if item else None


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in _STORE_FIELDS if k in item}
