"""Survey tokens (one-time and campaign), their idempotency records, and campaign registry items.

A token record's ``expiresEpoch`` (epoch seconds, or absent: no expiry) is stored as the TTL
attribute of a one-time token - TTL deletes it some time after it expired - and as a plain
attribute of a campaign token, whose use count is history and must not be deleted.
"""

from __future__ import annotations

from typing import Any

from revisit.dal import keys, table
from revisit.dal.errors import IdempotencyKeyReused, UnknownStore

EXPIRES = "expiresEpoch"  # the record field the expiry attributes are read into


def to_item(token: dict[str, Any]) -> dict[str, Any]:
    record = {k: v for k, v in token.items() if k != EXPIRES}
    item = {**keys.token(token["token"]), keys.TYPE: "token", **record}
    civ = (token.get("payload") or {}).get("civ")
    if isinstance(civ, str) and civ:  # the customer's tokens: access and erasure (gsi1)
        item["gsi1pk"] = keys.token_customer_pk(token["workspaceId"], token["storeSlug"], civ)
        item["gsi1sk"] = f"TOKEN#{token['token']}"
    if token.get(EXPIRES) is not None:
        item[keys.TTL if token["kind"] == "one_time" else keys.VALID_UNTIL] = token[EXPIRES]
    return item


def _record(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if not item:
        return None
    expires = item.get(keys.TTL, item.get(keys.VALID_UNTIL))
    record = table.plain(item, (*keys.HIDDEN, keys.TTL, keys.VALID_UNTIL))
    assert record is not None
    if expires is not None:
        record[EXPIRES] = expires
    return record


def get(token_value: str) -> dict[str, Any] | None:
    return _record(table.get(keys.token(token_value)))


def create(token: dict[str, Any], idempotency: tuple[str, dict[str, Any], int, int] | None = None) -> None:
    """The token, in one transaction with a check that its store exists and, when given, the
    idempotency record ``(key_hash, record, now_epoch, expires_epoch)``.

    UnknownStore: no such store. IdempotencyKeyReused: the idempotency key was used before (a
    record past its expiry counts as absent even before TTL deletes it).
    """
    ws = token["workspaceId"]
    items: list[dict[str, Any]] = [
        table.must_exist(keys.store(ws, token["storeSlug"])),
        table.put_new_op(to_item(token)),
    ]
    if idempotency:
        key_hash, record, now_epoch, expires_epoch = idempotency
        idem = {
            **keys.idempotency(ws, token["storeSlug"], key_hash),
            keys.TYPE: "idempotency",
            "workspaceId": ws,
            "storeSlug": token["storeSlug"],
            **record,
            keys.TTL: expires_epoch,
        }
        items.append(
            {
                "Put": {
                    "Item": table.serialize(idem),
                    "ConditionExpression": f"attribute_not_exists(pk) OR {keys.TTL} < :now",
                    "ExpressionAttributeValues": {":now": table.value(now_epoch)},
                }
            }
        )
    table.transact(items, failures=[UnknownStore, None, IdempotencyKeyReused])


def get_idempotency(workspace_id: str, store_slug: str, key_hash: str) -> dict[str, Any] | None:
    """The first request's hash and response (``requestHash``, ``response``) for this store's key."""
    return table.plain(table.get(keys.idempotency(workspace_id, store_slug, key_hash)), (*keys.HIDDEN, keys.TTL))


def create_campaign(registry: dict[str, Any], token: dict[str, Any]) -> None:
    """Campaign registry item and its reusable token together; UnknownStore without the store."""
    ws = registry["workspaceId"]
    table.transact(
        [
            table.must_exist(keys.store(ws, registry["storeSlug"])),
            table.put_new_op({**keys.campaign(ws, registry["campaignId"]), keys.TYPE: "campaign", **registry}),
            table.put_new_op(to_item(token)),
        ],
        failures=[UnknownStore],
    )


def list_campaigns(workspace_id: str) -> list[dict[str, Any]]:
    return table.query_prefix(keys.ws_pk(workspace_id), keys.campaign_prefix())


def get_campaign(workspace_id: str, campaign_id: str) -> dict[str, Any] | None:
    return table.get_record(keys.campaign(workspace_id, campaign_id))


def close_campaign(workspace_id: str, campaign_id: str, token_value: str, closed_at: str) -> None:
    table.update_together(
        [keys.campaign(workspace_id, campaign_id), keys.token(token_value)],
        "SET #s = :closed, closedAt = :t",
        condition="attribute_exists(pk)",
        names={"#s": "status"},
        values={":closed": table.value("closed"), ":t": table.value(closed_at)},
    )


def consume_op(
    token: dict[str, Any],
    feedback_id: str,
    now_iso: str,
    now_epoch: int,
    *,
    request_hash: str | None = None,
    feedback_created_at: str | None = None,
    keep_until_epoch: int | None = None,
) -> dict[str, Any]:
    """The transaction item that uses the token (see :mod:`revisit.dal.submissions`).

    One-time: the token must still be open and unexpired; it becomes used. With ``request_hash``
    it also keeps what a retry of the same answer needs (``submitHash``, ``feedbackId``,
    ``feedbackCreatedAt``) and its expiry (the TTL attribute, read back as ``expiresEpoch``)
    becomes ``keep_until_epoch``, so the used token stays readable that long.
    Campaign: it must be open, unexpired and below maxUses; its use count goes up by one.
    """
    if token["kind"] == "one_time":
        sets = "SET #s = :used, usedAt = :now, feedbackId = :fid"
        values = {":used": table.value("used"), ":fid": table.value(feedback_id)}
        if request_hash is not None:
            sets += f", submitHash = :h, feedbackCreatedAt = :fat, {keys.TTL} = :keep"
            values |= {
                ":h": table.value(request_hash),
                ":fat": table.value(feedback_created_at or now_iso),
                ":keep": table.value(keep_until_epoch if keep_until_epoch is not None else token[EXPIRES]),
            }
        token_update = {
            "UpdateExpression": sets,
            "ConditionExpression": f"#s = :open AND {keys.TTL} > :epoch",
            "ExpressionAttributeValues": values,
        }
    else:
        token_update = {
            "UpdateExpression": "ADD uses :one SET lastUsedAt = :now",
            "ConditionExpression": f"#s = :open AND (attribute_not_exists({keys.VALID_UNTIL}) OR "
            f"{keys.VALID_UNTIL} > :epoch) AND (attribute_not_exists(maxUses) OR uses < maxUses)",
            "ExpressionAttributeValues": {":one": table.value(1)},
        }
    token_update["ExpressionAttributeNames"] = {"#s": "status"}
    token_update["ExpressionAttributeValues"].update(
        {":open": table.value("open"), ":now": table.value(now_iso), ":epoch": table.value(now_epoch)}
    )
    return {"Update": {"Key": table.serialize(keys.token(token["token"])), **token_update}}


def submit_idempotency_op(
    token_value: str, key_hash: str, record: dict[str, Any], now_epoch: int, expires_epoch: int
) -> dict[str, Any]:
    """The transaction item that claims a submit's Idempotency-Key for this token: a new record
    (``record``: requestHash, feedbackId, feedbackCreatedAt) with a TTL of ``expires_epoch``. An
    existing record past its expiry counts as absent even before TTL deletes it."""
    item = {
        **keys.submit_idempotency(token_value, key_hash),
        keys.TYPE: "submit_idempotency",
        "token": token_value,
        **record,
        keys.TTL: expires_epoch,
    }
    return {
        "Put": {
            "Item": table.serialize(item),
            "ConditionExpression": f"attribute_not_exists(pk) OR {keys.TTL} <= :now",
            "ExpressionAttributeValues": {":now": table.value(now_epoch)},
        }
    }


def get_submit_idempotency(token_value: str, key_hash: str, now_epoch: int) -> dict[str, Any] | None:
    """The first answer sent with this key on this token (``requestHash``, ``feedbackId``,
    ``feedbackCreatedAt``), or None; a record past its TTL is gone even before TTL deletes it."""
    item = table.get(keys.submit_idempotency(token_value, key_hash))
    if not item or item.get(keys.TTL, 0) <= now_epoch:
        return None
    return table.plain(item, (*keys.HIDDEN, keys.TTL))


def of_customer(workspace_id: str, store_slug: str, civ: str) -> list[dict[str, Any]]:
    """The store's tokens whose payload names ``civ`` (gsi1 ``TOKCIV#``), as records: one Query."""
    pk = keys.token_customer_pk(workspace_id, store_slug, civ)
    items = table.query_all(
        TableName=table.TABLE,
        IndexName=keys.GSI1,
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": table.value(pk)},
    )
    return [r for r in (_record(i) for i in items) if r is not None]
