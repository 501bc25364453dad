"""People of the web app: users, their address look-ups, single-use sign-in links, the per-address
request counter and the audit log (docs/data-model.md "Users and sign-in").

A user and the look-up item of its address are written and deleted together in one transaction,
so "this address may sign in to this workspace" and the user never disagree. A sign-in link is
used by deleting it on the condition that it exists and has not expired: two uses of one link
cannot both succeed. Addresses and tokens are keys only as the keyed hashes the domain computes.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from revisit.dal import cursors, keys, table
from revisit.dal.errors import AlreadyExists, ConditionFailed, NoSuchItem, UnknownWorkspace

USER_TYPE = "user"
_USER_FIELDS = ("userId", "workspaceId", "email", "role", "stores", "status", "invitedBy", "createdAt", "updatedAt",
                "lastSignInAt")  # fmt: skip
_AUDIT_FIELDS = ("id", "at", "actor", "action", "target", "details")


class LinkNotUsable(ConditionFailed):
    """The sign-in link does not exist (never issued, used already, or deleted by TTL) or has expired."""


class QuotaUsed(ConditionFailed):
    """The address asked for as many sign-in links this hour as it may."""


def _user(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if not item:
        return None
    record = {k: item[k] for k in _USER_FIELDS if k in item}
    record["stores"] = sorted(record.get("stores") or [])
    return record


def create_user(record: dict[str, Any], email_hash: str) -> None:
    """The user and its address look-up in one transaction, on the condition that the workspace
    exists (UnknownWorkspace) and that the address is not a user of it yet (AlreadyExists)."""
    ws = record["workspaceId"]
    item = {**keys.user(ws, record["userId"]), keys.TYPE: USER_TYPE, **record}
    lookup = {**keys.user_email(email_hash, ws), "workspaceId": ws, "userId": record["userId"]}
    table.transact(
        [table.must_exist(keys.workspace(ws)), table.put_new_op(lookup), table.put_new_op(item)],
        failures=[UnknownWorkspace, AlreadyExists, AlreadyExists],
    )


def get_user(workspace_id: str, user_id: str) -> dict[str, Any] | None:
    return _user(table.get(keys.user(workspace_id, user_id)))


def list_users(workspace_id: str) -> list[dict[str, Any]]:
    """Every user of a workspace (one Query of its partition's USER# items)."""
    return [_user(i) for i in table.query_partition(keys.ws_pk(workspace_id), keys.user_prefix())]  # type: ignore[misc]


def memberships(email_hash: str) -> list[dict[str, str]]:
    """``{"workspaceId", "userId"}`` of every workspace this address is a user of (one Query)."""
    items = table.query_partition(keys.user_email_pk(email_hash))
    return [{"workspaceId": i["workspaceId"], "userId": i["userId"]} for i in items]


def update_user(workspace_id: str, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """SET the changes (None REMOVEs one) on the condition that the user exists (NoSuchItem)."""
    updated = table.update_fields(keys.user(workspace_id, user_id), changes, returns="ALL_NEW", failure=NoSuchItem)
    return _user(updated)  # type: ignore[return-value]


def delete_user(workspace_id: str, user_id: str, email_hash: str) -> None:
    """The user and its address look-up, together; NoSuchItem when the user is gone already."""
    condition = "attribute_exists(pk)"
    table.transact(
        [
            {"Delete": {"Key": table.serialize(keys.user(workspace_id, user_id)), "ConditionExpression": condition}},
            {"Delete": {"Key": table.serialize(keys.user_email(email_hash, workspace_id))}},
        ],
        failures=[NoSuchItem],
    )


# ------------------------------------------------------------------ sign-in links


def put_link(token_hash: str, record: dict[str, Any], expires_epoch: int) -> None:
    """A new sign-in link (``workspaceId``, ``userId``, ...), deleted by TTL after ``expires_epoch``."""
    item = {**keys.signin_link(token_hash), keys.TYPE: "signin_link", **record, keys.TTL: expires_epoch}
    table.put_new(item, AlreadyExists)


def use_link(token_hash: str, now_epoch: int) -> dict[str, Any]:
    """Delete the link on the condition that it exists and has not expired, and hand back what it
    held: of two uses one wins, the other raises LinkNotUsable (as does an expired link, which
    stays for TTL to delete)."""
    try:
        resp = table.client.delete_item(
            TableName=table.TABLE,
            Key=table.serialize(keys.signin_link(token_hash)),
            ConditionExpression="attribute_exists(pk) AND #ttl > :now",
            ExpressionAttributeNames={"#ttl": keys.TTL},
            ExpressionAttributeValues={":now": table.value(now_epoch)},
            ReturnValues="ALL_OLD",
        )
    except ClientError as exc:
        err = table.translate(exc)
        raise (LinkNotUsable() if isinstance(err, ConditionFailed) else err) from None
    item = table.deserialize(resp.get("Attributes")) or {}
    record = table.plain(item, (*keys.HIDDEN, keys.TTL)) or {}
    return {**record, "expiresEpoch": item.get(keys.TTL)}


def count_request(email_hash: str, hour: str, limit: int, expires_epoch: int) -> int:
    """Count one link request of the address in this clock hour, on the condition that it made
    fewer than ``limit`` (QuotaUsed otherwise, nothing counted); the count after it. The counter
    is deleted by TTL after ``expires_epoch``."""
    updated = table.update(
        keys.signin_quota(email_hash, hour),
        "ADD #c :one SET #ttl = :ttl",
        condition="attribute_not_exists(#c) OR #c < :limit",
        names={"#c": "count", "#ttl": keys.TTL},
        values={":one": table.value(1), ":ttl": table.value(expires_epoch), ":limit": table.value(limit)},
        returns="UPDATED_NEW",
        failure=QuotaUsed,
    )
    return int((updated or {}).get("count", 0))


# ------------------------------------------------------------------ ended sessions


def end_session(session_hash: str, expires_epoch: int) -> None:
    """Mark a session as signed out until it would have expired anyway (TTL then deletes it)."""
    item = {**keys.ended_session(session_hash), keys.TYPE: "session_ended", keys.TTL: expires_epoch}
    try:
        table.client.put_item(TableName=table.TABLE, Item=table.serialize(item))
    except ClientError as exc:
        raise table.translate(exc) from None


def session_ended(session_hash: str, now_epoch: int) -> bool:
    """Whether the session was signed out (a marker past its TTL is gone, whatever DynamoDB still holds)."""
    item = table.get(keys.ended_session(session_hash))
    return bool(item) and int(item.get(keys.TTL, 0)) > now_epoch


# ------------------------------------------------------------------ audit log


def put_audit(workspace_id: str, entry: dict[str, Any]) -> None:
    """One audit entry (``id``, ``at``, ``actor``, ``action``, ``target``, ``details``)."""
    item = {**keys.audit_entry(workspace_id, entry["at"], entry["id"]), keys.TYPE: "audit", **entry}
    table.put_new(item, AlreadyExists)


def audit_page(workspace_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """At most ``limit`` entries, newest first, and the cursor of the next page (None at the end);
    BadCursor for a cursor of another listing."""
    pk = keys.audit_pk(workspace_id)
    req: dict[str, Any] = {
        "TableName": table.TABLE,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": table.value(pk)},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if cursor:
        req["ExclusiveStartKey"] = cursors.decode(cursor, keys.PK, pk)
    resp = table.client.query(**req)
    items = [table.deserialize(i) or {} for i in resp.get("Items", [])]
    records = [{k: i[k] for k in _AUDIT_FIELDS if k in i} for i in items]
    last = resp.get("LastEvaluatedKey")
    return records, cursors.encode(last) if last and len(records) >= limit else None
