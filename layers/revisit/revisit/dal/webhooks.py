"""Webhook endpoints and their delivery log (docs/webhooks.md, docs/data-model.md).

| pattern                                  | key condition                                        |
|------------------------------------------|------------------------------------------------------|
| one endpoint                             | GetItem pk=WS#ws, sk=WEBHOOK#id                       |
| a workspace's endpoints (API, fan-out)   | Query pk=WS#ws, begins_with(sk, WEBHOOK#)             |
| one delivery                             | GetItem pk=WHDEL#ws#endpoint, sk=DEL#deliveryId       |
| an endpoint's log, newest first          | Query pk=WHDEL#ws#endpoint, begins_with(sk, DEL#) desc|
| an endpoint's deliveries since a time    | Query pk=WHDEL#ws#endpoint, sk BETWEEN DEL#<t> AND .. |

An endpoint item holds its signing secret(s) (the dispatcher needs them to sign; the table is
encrypted at rest) and is handed out only through :func:`get` / :func:`list_for_workspace`, whose
callers leave the secrets out of every API answer. A delivery item holds the exact body it sends
(so every retry and replay signs the same bytes) and expires with the TTL.
"""

from __future__ import annotations

import contextlib
from typing import Any

from revisit.dal import cursors, keys, table
from revisit.dal.errors import AlreadyExists, ConditionFailed, NoSuchItem, UnknownWorkspace

TYPE_ENDPOINT = "webhook"
TYPE_DELIVERY = "webhook_delivery"


# ------------------------------------------------------------------ endpoints


def create(record: dict[str, Any]) -> None:
    """A new endpoint; UnknownWorkspace when the workspace does not exist."""
    item = {**keys.webhook(record["workspaceId"], record["id"]), keys.TYPE: TYPE_ENDPOINT, **record}
    table.transact(
        [table.must_exist(keys.workspace(record["workspaceId"])), table.put_new_op(item)],
        failures=[UnknownWorkspace, AlreadyExists],
    )


def get(workspace_id: str, webhook_id: str) -> dict[str, Any] | None:
    return table.get_record(keys.webhook(workspace_id, webhook_id))


def list_for_workspace(workspace_id: str) -> list[dict[str, Any]]:
    """Every endpoint of the workspace (one Query of its partition's WEBHOOK# items)."""
    return table.query_prefix(keys.ws_pk(workspace_id), keys.webhook_prefix())


def update(workspace_id: str, webhook_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """SET / REMOVE (None) the changes of an existing endpoint; the new record. NoSuchItem if gone."""
    item = table.update_fields(keys.webhook(workspace_id, webhook_id), changes, returns="ALL_NEW", failure=NoSuchItem)
    return table.plain(item) or {}


def mark_failing(workspace_id: str, webhook_id: str, since: str) -> dict[str, Any] | None:
    """Record when the endpoint started failing (kept if set already); the endpoint, or None if gone."""
    try:
        item = table.update(
            keys.webhook(workspace_id, webhook_id),
            "SET failingSince = if_not_exists(failingSince, :t)",
            condition="attribute_exists(pk)",
            values={":t": table.value(since)},
            returns="ALL_NEW",
            failure=NoSuchItem,
        )
    except NoSuchItem:
        return None
    return table.plain(item)


def clear_failing(workspace_id: str, webhook_id: str) -> None:
    with contextlib.suppress(ConditionFailed):
        table.update(
            keys.webhook(workspace_id, webhook_id),
            "REMOVE failingSince",
            condition="attribute_exists(pk) AND attribute_exists(failingSince)",
        )


def delete(workspace_id: str, webhook_id: str) -> None:
    """Delete the endpoint (its log expires with the TTL); NoSuchItem if it does not exist."""
    from botocore.exceptions import ClientError

    try:
        table.client.delete_item(
            TableName=table.TABLE,
            Key=table.serialize(keys.webhook(workspace_id, webhook_id)),
            ConditionExpression="attribute_exists(pk)",
        )
    except ClientError as exc:
        err = table.translate(exc)
        raise (NoSuchItem() if isinstance(err, ConditionFailed) else err) from None


# ------------------------------------------------------------------ the delivery log


def _delivery_key(record: dict[str, Any]) -> dict[str, str]:
    return keys.webhook_delivery(record["workspaceId"], record["webhookId"], record["id"])


def put_delivery(record: dict[str, Any], expires_epoch: int) -> bool:
    """Log a new delivery; False when it is logged already (a retried stream record)."""
    item = {**_delivery_key(record), keys.TYPE: TYPE_DELIVERY, **record, keys.TTL: expires_epoch}
    try:
        table.put_new(item)
    except AlreadyExists:
        return False
    return True


def get_delivery(workspace_id: str, webhook_id: str, delivery_id: str) -> dict[str, Any] | None:
    return table.get_record(keys.webhook_delivery(workspace_id, webhook_id, delivery_id))


def record_attempt(record: dict[str, Any], expected_attempts: int, changes: dict[str, Any]) -> dict[str, Any] | None:
    """Apply an attempt's outcome if no other attempt was recorded since (``attempts`` is still
    ``expected_attempts``); the new record, or None when another attempt got there first."""
    try:
        item = table.update_fields(
            _delivery_key(record),
            changes,
            condition="attribute_exists(pk) AND attempts = :expected",
            values={":expected": table.value(expected_attempts)},
            returns="ALL_NEW",
            failure=NoSuchItem,
        )
    except NoSuchItem:
        return None
    return table.plain(item)


def set_delivery(record: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Change an existing delivery unconditionally (a replay, a recovery); NoSuchItem if gone."""
    item = table.update_fields(_delivery_key(record), changes, returns="ALL_NEW", failure=NoSuchItem)
    return table.plain(item) or {}


def deliveries_page(
    workspace_id: str, webhook_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """An endpoint's log, newest first, ``limit`` a page (BadCursor for a cursor not ours)."""
    pk = keys.webhook_delivery_pk(workspace_id, webhook_id)
    prefix = keys.webhook_delivery_prefix()
    req = table.range_query(keys.PK, keys.SK, pk, prefix, prefix + table.SK_MAX, newest_first=True)
    req["Limit"] = limit
    if cursor:
        req["ExclusiveStartKey"] = cursors.decode(cursor, keys.PK, pk)
    resp = table.client.query(**req)
    items = [_public_delivery(table.deserialize(i)) for i in resp.get("Items", [])]
    last = resp.get("LastEvaluatedKey")
    return items, (cursors.encode(last) if last else None)


def deliveries_since(workspace_id: str, webhook_id: str, since_id_prefix: str) -> list[dict[str, Any]]:
    """Every delivery whose id sorts at or after ``since_id_prefix`` (ids start with their time)."""
    pk = keys.webhook_delivery_pk(workspace_id, webhook_id)
    prefix = keys.webhook_delivery_prefix()
    req = table.range_query(keys.PK, keys.SK, pk, prefix + since_id_prefix, prefix + table.SK_MAX)
    return [_public_delivery(i) for i in table.query_all(**req)]


def _public_delivery(item: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (item or {}).items() if k not in keys.HIDDEN and k != keys.TTL}
