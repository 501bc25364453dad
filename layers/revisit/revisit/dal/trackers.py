"""Survey trackers: one per (survey, purchase), its one-time link, clicks and completion.

| pattern                              | key condition / index                                  |
|--------------------------------------|--------------------------------------------------------|
| tracker by id                        | GetItem TRACKER#id                                     |
| tracker of a (survey, purchase)      | GetItem TRKUNIQ#ws#survey#purchase -> trackerId        |
| workspace trackers by sendAt         | gsi1 TRK#ws, gsi1sk BETWEEN (sendAt#id)                |
| trackers of a purchase               | gsi2 TRKPUR#ws#purchase                                |
| trackers of a customer               | gsi3 TRKCUS#ws#customer                                |
| due sends (scheduler)                | gsi4 DUE, gsi4sk <= now (sparse)                       |
"""

from __future__ import annotations

from typing import Any

from revisit.dal import ConditionFailed, keys, table
from revisit.dal import tokens as tokens_dal

_HIDDEN = ("pk", "sk", "type", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "gsi4pk", "gsi4sk")
_SK_MAX = "\uffff"


def _strip(item: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: v for k, v in item.items() if k not in _HIDDEN} if item else None


def to_item(tracker: dict[str, Any], due_at: str | None) -> dict[str, Any]:
    ws, sort = tracker["workspaceId"], f"{tracker['sendAt']}#{tracker['id']}"
    item = {
        **keys.tracker(tracker["id"]),
        "type": "tracker",
        **tracker,
        "gsi1pk": keys.tracker_workspace_pk(ws),
        "gsi1sk": sort,
        "gsi2pk": keys.tracker_purchase_pk(ws, tracker["purchaseId"]),
        "gsi2sk": sort,
        "gsi3pk": keys.tracker_customer_pk(ws, tracker["customerId"]),
        "gsi3sk": sort,
    }
    if due_at:
        item["gsi4pk"], item["gsi4sk"] = keys.DUE_PK, f"{due_at}#{tracker['id']}"
    return item


def create_with_token(tracker: dict[str, Any], token: dict[str, Any], due_at: str | None) -> bool:
    """Uniqueness item, tracker and its token in one transaction.

    False when a tracker for this (survey, purchase) already exists - also when another request
    created it a moment ago: the uniqueness item is the arbiter, not a read-then-write.
    """
    unique = {
        **keys.tracker_unique(tracker["workspaceId"], tracker["surveyId"], tracker["purchaseId"]),
        "type": "tracker_unique",
        "trackerId": tracker["id"],
    }
    try:
        table.transact(
            [
                table.put_new_op(unique),
                table.put_new_op(to_item(tracker, due_at)),
                table.put_new_op(tokens_dal.to_item(token)),
            ]
        )
        return True
    except ConditionFailed as exc:
        if exc.failed_at(0):
            return False
        raise


def existing_id(workspace_id: str, survey_id: str, purchase_id: str) -> str | None:
    item = table.get(keys.tracker_unique(workspace_id, survey_id, purchase_id))
    return item["trackerId"] if item else None


def get(tracker_id: str) -> dict[str, Any] | None:
    return _strip(table.get(keys.tracker(tracker_id)))


def _range_query(
    index: str, pk_attr: str, sk_attr: str, pk_value: str, from_ts: str | None, to_ts: str | None
) -> dict[str, Any]:
    return {
        "TableName": table.TABLE,
        "IndexName": index,
        "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :lo AND :hi",
        "ExpressionAttributeNames": {"#pk": pk_attr, "#sk": sk_attr},
        "ExpressionAttributeValues": {
            ":pk": table.value(pk_value),
            ":lo": table.value(from_ts or "0"),
            ":hi": table.value((to_ts + _SK_MAX) if to_ts else _SK_MAX),
        },
        "ScanIndexForward": False,
    }


def _with_store(req: dict[str, Any], store_slug: str | None) -> dict[str, Any]:
    if store_slug:
        req["FilterExpression"] = "storeSlug = :store"
        req["ExpressionAttributeValues"][":store"] = table.value(store_slug)
    return req


def workspace_window(
    workspace_id: str, from_ts: str | None, to_ts: str | None, store_slug: str | None, count: int
) -> tuple[list[dict[str, Any]], bool]:
    """The newest ``count`` trackers by sendAt (then whether more exist): reads only what it needs."""
    req = _with_store(
        _range_query("gsi1", "gsi1pk", "gsi1sk", keys.tracker_workspace_pk(workspace_id), from_ts, to_ts), store_slug
    )
    out: list[dict[str, Any]] = []
    while True:
        req["Limit"] = count + 1 - len(out)
        resp = table.client.query(**req)
        out.extend(_strip(table.deserialize(i)) for i in resp.get("Items", []))
        last = resp.get("LastEvaluatedKey")
        if len(out) > count:
            return out[:count], True
        if not last:
            return out, False
        req["ExclusiveStartKey"] = last


def by_purchase(workspace_id: str, purchase_id: str, from_ts: str | None, to_ts: str | None) -> list[dict[str, Any]]:
    pk = keys.tracker_purchase_pk(workspace_id, purchase_id)
    return [_strip(i) for i in table.query_all(**_range_query("gsi2", "gsi2pk", "gsi2sk", pk, from_ts, to_ts))]


def by_customer(workspace_id: str, customer_id: str, from_ts: str | None, to_ts: str | None) -> list[dict[str, Any]]:
    pk = keys.tracker_customer_pk(workspace_id, customer_id)
    return [_strip(i) for i in table.query_all(**_range_query("gsi3", "gsi3pk", "gsi3sk", pk, from_ts, to_ts))]


def completion_update(tracker_id: str, at: str) -> dict[str, Any]:
    """The transaction item that marks a tracker completed and takes it off the due index."""
    return {
        "Update": {
            "TableName": table.TABLE,
            "Key": table.serialize(keys.tracker(tracker_id)),
            "UpdateExpression": "SET #s = :done, completedAt = :at, updatedAt = :at REMOVE gsi4pk, gsi4sk",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":done": table.value("completed"), ":at": table.value(at)},
        }
    }


def record_click(tracker_id: str, visitor_hash: str, at: str, expires_epoch: int) -> None:
    """Count a click atomically; a visitor's first click also counts as unique, and a sent (or
    ready) tracker becomes opened. At most three writes, usually one."""
    key = table.serialize(keys.tracker(tracker_id))
    marker = {**keys.tracker_click(tracker_id, visitor_hash), "type": "click", "at": at, keys.TTL: expires_epoch}
    opened = {
        "UpdateExpression": "ADD clicks :one{unique} SET #s = :opened, openedAt = :at, updatedAt = :at",
        "ConditionExpression": "attribute_exists(pk) AND #s IN (:sent, :ready)",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {
            ":one": table.value(1),
            ":opened": table.value("opened"),
            ":sent": table.value("sent"),
            ":ready": table.value("ready"),
            ":at": table.value(at),
        },
    }
    counted = {
        "UpdateExpression": "ADD clicks :one{unique} SET updatedAt = :at",
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeValues": {":one": table.value(1), ":at": table.value(at)},
    }
    for unique in (True, False):
        for update in (opened, counted):
            upd = {
                **update,
                "UpdateExpression": update["UpdateExpression"].format(unique=", uniqueClicks :one" if unique else ""),
            }
            ops = [{"Update": {"Key": key, **upd}}]
            if unique:
                ops.insert(
                    0, {"Put": {"Item": table.serialize(marker), "ConditionExpression": "attribute_not_exists(pk)"}}
                )
            try:
                if len(ops) == 1:
                    table.client.update_item(TableName=table.TABLE, **ops[0]["Update"])
                else:
                    table.transact(ops)
                return
            except ConditionFailed as exc:
                if unique and exc.failed_at(0):
                    break  # seen this visitor before: count a plain click
            except table.ClientError as exc:
                err = table.translate(exc)
                if not isinstance(err, ConditionFailed):
                    raise err from None


# ---------------------------------------------------------------- scheduling (due index, claims)


def _due_sort(at: str, tracker_id: str) -> str:
    return f"{at}#{tracker_id}"


def due(now_iso: str, limit: int, start_key: dict[str, Any] | None = None) -> tuple[list[tuple[str, str]], Any]:
    """Trackers whose send/resend/retry/lease time has come: [(tracker id, due sort key)].

    The sparse gsi4 holds only pending trackers, so the cost follows the number due, not stored.
    """
    req: dict[str, Any] = {
        "TableName": table.TABLE,
        "IndexName": "gsi4",
        "KeyConditionExpression": "gsi4pk = :due AND gsi4sk <= :now",
        "ExpressionAttributeValues": {":due": table.value(keys.DUE_PK), ":now": table.value(now_iso + "#" + _SK_MAX)},
        "Limit": limit,
    }
    if start_key:
        req["ExclusiveStartKey"] = start_key
    resp = table.client.query(**req)
    found = [(i["pk"]["S"].split("#", 1)[1], i["gsi4sk"]["S"]) for i in resp.get("Items", [])]
    return found, resp.get("LastEvaluatedKey")


def claim(tracker_id: str, seen_due: str, lease_until: str, now_iso: str) -> tuple[dict[str, Any], str] | None:
    """Take a due tracker for one run: its due key moves to the lease's end, on the condition that
    it is still the one we saw. Another run (or a stale index read) fails the condition -> None.
    A run that dies after claiming leaves the tracker due again when the lease ends."""
    lease = _due_sort(lease_until, tracker_id)
    try:
        resp = table.client.update_item(
            TableName=table.TABLE,
            Key=table.serialize(keys.tracker(tracker_id)),
            UpdateExpression="SET gsi4sk = :lease, claimedAt = :now",
            ConditionExpression="gsi4sk = :seen",
            ExpressionAttributeValues={
                ":lease": table.value(lease),
                ":now": table.value(now_iso),
                ":seen": table.value(seen_due),
            },
            ReturnValues="ALL_NEW",
        )
    except table.ClientError as exc:
        err = table.translate(exc)
        if isinstance(err, ConditionFailed):
            return None
        raise err from None
    return _strip(table.deserialize(resp["Attributes"])), lease


def settle(tracker_id: str, lease: str, changes: dict[str, Any], next_due: str | None) -> bool:
    """Write a claimed tracker's new state and next due time (None = off the due index), only if
    our lease is still current. False when the lease was lost (nothing written)."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {":lease": table.value(lease)}
    sets, removes = table.set_remove(changes, names, values)
    if next_due:
        sets.append("gsi4sk = :next")
        values[":next"] = table.value(_due_sort(next_due, tracker_id))
    else:
        removes += ["gsi4pk", "gsi4sk"]
    kwargs: dict[str, Any] = {
        "TableName": table.TABLE,
        "Key": table.serialize(keys.tracker(tracker_id)),
        "UpdateExpression": table.update_expression(sets, removes),
        "ConditionExpression": "gsi4sk = :lease",
        "ExpressionAttributeValues": values,
    }
    if names:
        kwargs["ExpressionAttributeNames"] = names
    try:
        table.client.update_item(**kwargs)
        return True
    except table.ClientError as exc:
        err = table.translate(exc)
        if isinstance(err, ConditionFailed):
            return False
        raise err from None
