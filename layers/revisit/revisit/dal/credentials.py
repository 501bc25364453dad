"""Credentials: a registry item per key (listing, revocation) and a look-up item per secret hash.

Both are written and revoked together in one transaction, so a listed key and its look-up never
disagree. Authentication is one GetItem on the look-up item.
"""

from __future__ import annotations

from typing import Any

from revisit.dal import cursors, keys, table
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


def count_active(workspace_id: str) -> int:
    """How many of the workspace's keys are not revoked (a COUNT Query of its registry items)."""
    req: dict[str, Any] = {
        "TableName": table.TABLE,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
        "FilterExpression": "attribute_not_exists(revokedAt)",
        "ExpressionAttributeValues": {
            ":pk": table.value(keys.ws_pk(workspace_id)),
            ":p": table.value(keys.key_registry_prefix()),
        },
        "Select": "COUNT",
        "ConsistentRead": True,
    }
    total = 0
    while True:
        resp = table.client.query(**req)
        total += int(resp.get("Count", 0))
        if "LastEvaluatedKey" not in resp:
            return total
        req["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def list_page(workspace_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """At most ``limit`` registry records in key id order, and the cursor of the next page (None at
    the end); BadCursor for a cursor of another listing."""
    pk = keys.ws_pk(workspace_id)
    req: dict[str, Any] = {
        "TableName": table.TABLE,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
        "ExpressionAttributeValues": {":pk": table.value(pk), ":p": table.value(keys.key_registry_prefix())},
        "Limit": limit,
    }
    if cursor:
        req["ExclusiveStartKey"] = cursors.decode(cursor, keys.PK, pk)  # BadCursor: not this workspace's
    resp = table.client.query(**req)
    items = [table.deserialize(i) for i in resp.get("Items", [])]
    records = [{k: i[k] for k in _REGISTRY_FIELDS if k in i} for i in items]
    last = resp.get("LastEvaluatedKey")
    return records, cursors.encode(last) if last and len(records) >= limit else None


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
