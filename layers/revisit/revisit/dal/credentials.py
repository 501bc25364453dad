"""Credentials: a registry item per key (listing, revocation) and a look-up item per secret hash.

Both are written and revoked together in one transaction, so a listed key and its look-up never
disagree. Authentication is one GetItem on the look-up item.
"""

from __future__ import annotations

from typing import Any

from revisit.dal import keys, table
from revisit.dal.errors import AlreadyExists, AlreadyRevoked, UnknownStore, UnknownWorkspace

_LOOKUP_FIELDS = ("keyId", "kind", "scope", "workspaceId", "storeSlug", "revokedAt")
_REGISTRY_FIELDS = ("keyId", "kind", "scope", "workspaceId", "storeSlug", "prefix", "label", "createdAt", "revokedAt")


def create(record: dict[str, Any], secret_hash: str) -> None:
    """Write the registry and look-up items atomically.

    UnknownStore (a store-scoped key) or UnknownWorkspace when its owner does not exist;
    AlreadyExists on a (practically impossible) key id or secret collision.
    """
    ws = record["workspaceId"]
    registry = {**keys.key_registry(ws, record["keyId"]), **record, "secretHash": secret_hash}
    lookup = {**keys.credential(secret_hash), **{k: record[k] for k in _LOOKUP_FIELDS if k in record}}
    if record.get("storeSlug"):
        owner, unknown = keys.store(ws, record["storeSlug"]), UnknownStore
    else:
        owner, unknown = keys.workspace(ws), UnknownWorkspace
    table.transact(
        [table.must_exist(owner), table.put_new_op(registry), table.put_new_op(lookup)],
        failures=[unknown, AlreadyExists, AlreadyExists],
    )


def lookup(secret_hash: str) -> dict[str, Any] | None:
    item = table.get(keys.credential(secret_hash))
    if not item:
        return None
    return {k: item[k] for k in _LOOKUP_FIELDS if k in item}


def list_for_workspace(workspace_id: str) -> list[dict[str, Any]]:
    items = table.query_prefix(keys.ws_pk(workspace_id), keys.key_registry_prefix())
    return [{k: i[k] for k in _REGISTRY_FIELDS if k in i} for i in items]


def get_registry(workspace_id: str, key_id: str) -> dict[str, Any] | None:
    """The registry record, with its ``secretHash`` (needed to revoke the look-up item)."""
    return table.get_record(keys.key_registry(workspace_id, key_id))


def revoke(workspace_id: str, key_id: str, secret_hash: str, revoked_at: str) -> None:
    """Mark both items revoked in one transaction; AlreadyRevoked if it was revoked already."""
    table.update_together(
        [keys.key_registry(workspace_id, key_id), keys.credential(secret_hash)],
        "SET revokedAt = :t",
        condition="attribute_exists(pk) AND attribute_not_exists(revokedAt)",
        values={":t": table.value(revoked_at)},
        failures=[AlreadyRevoked, AlreadyRevoked],
    )
