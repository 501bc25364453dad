"""Survey tokens (one-time and campaign), their idempotency records, and campaign registry items."""

from __future__ import annotations

from typing import Any

from revisit.dal import feedback as feedback_dal
from revisit.dal import keys, table

_HIDDEN = ("pk", "sk")


def _strip(item: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: v for k, v in item.items() if k not in _HIDDEN} if item else None


def to_item(token: dict[str, Any]) -> dict[str, Any]:
    return {**keys.token(token["token"]), "type": "token", **token}


def get(token_value: str) -> dict[str, Any] | None:
    return _strip(table.get(keys.token(token_value)))


def create(token: dict[str, Any], idempotency: tuple[str, dict[str, Any], int] | None = None) -> None:
    """The token, in one transaction with a check that its store exists and, when given, the
    idempotency record ``(key_hash, record, now_epoch)``.

    ConditionFailed.failed_at(0): no such store; failed_at(2): the idempotency key was used before
    (a record past its expiry counts as absent even before TTL deletes it).
    """
    ws = token["workspaceId"]
    items: list[dict[str, Any]] = [
        table.must_exist(keys.store(ws, token["storeSlug"])),
        table.put_new_op(to_item(token)),
    ]
    if idempotency:
        key_hash, record, now_epoch = idempotency
        idem = {**keys.idempotency(ws, key_hash), "type": "idempotency", **record}
        items.append(
            {
                "Put": {
                    "Item": table.serialize(idem),
                    "ConditionExpression": f"attribute_not_exists(pk) OR {keys.TTL} < :now",
                    "ExpressionAttributeValues": {":now": table.value(now_epoch)},
                }
            }
        )
    table.transact(items)


def get_idempotency(workspace_id: str, key_hash: str) -> dict[str, Any] | None:
    return _strip(table.get(keys.idempotency(workspace_id, key_hash)))


def create_campaign(registry: dict[str, Any], token: dict[str, Any]) -> None:
    """Campaign registry item and its reusable token together; the store must exist."""
    ws = registry["workspaceId"]
    table.transact(
        [
            table.must_exist(keys.store(ws, registry["storeSlug"])),
            table.put_new_op({**keys.campaign(ws, registry["campaignId"]), "type": "campaign", **registry}),
            table.put_new_op(to_item(token)),
        ]
    )


def list_campaigns(workspace_id: str) -> list[dict[str, Any]]:
    items = table.query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={
            ":pk": table.value(keys.ws_pk(workspace_id)),
            ":p": table.value(keys.campaign_prefix()),
        },
    )
    return [_strip(i) for i in items]


def get_campaign(workspace_id: str, campaign_id: str) -> dict[str, Any] | None:
    return _strip(table.get(keys.campaign(workspace_id, campaign_id)))


def close_campaign(workspace_id: str, campaign_id: str, token_value: str, closed_at: str) -> None:
    update = {
        "UpdateExpression": "SET #s = :closed, closedAt = :t",
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":closed": table.value("closed"), ":t": table.value(closed_at)},
    }
    table.transact(
        [
            {"Update": {"Key": table.serialize(keys.campaign(workspace_id, campaign_id)), **update}},
            {"Update": {"Key": table.serialize(keys.token(token_value)), **update}},
        ]
    )


def consume_with_feedback(token: dict[str, Any], feedback: dict[str, Any], now_iso: str, now_epoch: int) -> None:
    """See below; a tracker's token also completes its tracker in the same transaction."""
    ops = _consume_ops(token, feedback, now_iso, now_epoch)
    if token.get("trackerId"):
        from revisit.dal import trackers as trackers_dal

        ops.append(trackers_dal.completion_update(token["trackerId"], now_iso))
    table.transact(ops)


def _consume_ops(token: dict[str, Any], feedback: dict[str, Any], now_iso: str, now_epoch: int) -> list[dict[str, Any]]:
    """Use the token and write the feedback record in ONE transaction (the ops of it).

    One-time: the token must still be open and unexpired; it becomes used.
    Campaign: it must be open, unexpired and below maxUses; its use count goes up by one.
    ConditionFailed.failed_at(0) means the token was used up, expired or closed meanwhile.
    """
    if token["kind"] == "one_time":
        token_update = {
            "UpdateExpression": "SET #s = :used, usedAt = :now, feedbackId = :fid",
            "ConditionExpression": "#s = :open AND expiresAtEpoch > :epoch",
            "ExpressionAttributeValues": {":used": table.value("used"), ":fid": table.value(feedback["id"])},
        }
    else:
        token_update = {
            "UpdateExpression": "ADD uses :one SET lastUsedAt = :now",
            "ConditionExpression": "#s = :open AND (attribute_not_exists(validUntilEpoch) OR validUntilEpoch > :epoch)"
            " AND (attribute_not_exists(maxUses) OR uses < maxUses)",
            "ExpressionAttributeValues": {":one": table.value(1)},
        }
    token_update["ExpressionAttributeNames"] = {"#s": "status"}
    token_update["ExpressionAttributeValues"].update(
        {":open": table.value("open"), ":now": table.value(now_iso), ":epoch": table.value(now_epoch)}
    )
    return [
        {"Update": {"Key": table.serialize(keys.token(token["token"])), **token_update}},
        table.put_new_op(feedback_dal.to_item(feedback)),
    ]
