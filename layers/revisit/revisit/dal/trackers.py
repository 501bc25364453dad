"""Survey trackers: one per (survey, purchase), its one-time link, clicks and completion.

| pattern                              | key condition / index                                  |
|--------------------------------------|--------------------------------------------------------|
| tracker by id                        | GetItem TRACKER#id                                     |
| tracker of a (survey, purchase)      | GetItem TRKUNIQ#ws#survey#purchase -> trackerId        |
| workspace trackers by sendAt         | gsi1 TRK#ws, gsi1sk BETWEEN (sendAt#id)                |
| trackers of a purchase               | gsi2 TRKPUR#ws#purchase                                |
| trackers of a customer               | gsi3 TRKCUS#ws#customer                                |
| due sends (scheduler)                | gsi4 DUE, gsi4sk <= now (sparse)                       |

A tracker's raw ``contact`` (email / phone / WhatsApp number) is kept only while a send is
pending: it is removed when the tracker leaves the due index (last send or resend done, expired,
failed, cancelled, completed), and a record's ``contactUntil`` (epoch seconds: the link's expiry)
bounds it in any case - past it, a read hands out no contact, whatever is still stored.
"""

from __future__ import annotations

import random
import time
from typing import Any

from botocore.exceptions import ClientError

from revisit.dal import keys, table
from revisit.dal import tokens as tokens_dal
from revisit.dal.errors import AlreadyExists, ConditionFailed

CONTACT_UNTIL = "contactUntil"  # the record field stored as keys.CONTACT_UNTIL
# The tracker report's events this tracker has been counted for (a string set: "sent:<index>",
# "clicked", "completed"), added in the write that counts them; migration 0005 counts the rest.
REPORT_COUNTED = "reportCounted"
TRANSACT_ATTEMPTS = 6
_GONE_WITH_THE_SENDS = ("contact", keys.CONTACT_UNTIL)  # removed once nothing is pending


def _transact(items: list[dict[str, Any]], failures: list[Any] | None = None) -> None:
    """A transaction that carries a report item: other writers of the same store-day item (clicks,
    answers, sends) may hold it for a moment (TransactionConflict), so it is tried again a few
    times with jittered back-off before the error goes up."""
    for attempt in range(TRANSACT_ATTEMPTS):
        try:
            table.transact(items, failures=failures or ())
            return
        except ClientError as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if "TransactionConflict" not in reasons or attempt == TRANSACT_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, min(0.2, 0.01 * 2**attempt)))


def _record(item: dict[str, Any] | None, now_epoch: float | None = None) -> dict[str, Any] | None:
    """A stored tracker as a record; a contact past its time is left out (TTL-like, read side)."""
    if not item:
        return None
    until = item.get(keys.CONTACT_UNTIL)
    record = table.plain(item, (*keys.HIDDEN, keys.CONTACT_UNTIL))
    assert record is not None
    if until is not None:
        if until <= (time.time() if now_epoch is None else now_epoch):
            record.pop("contact", None)
        else:
            record[CONTACT_UNTIL] = until
    return record


def to_item(tracker: dict[str, Any], due_at: str | None) -> dict[str, Any]:
    ws, sort = tracker["workspaceId"], f"{tracker['sendAt']}#{tracker['id']}"
    record = {k: v for k, v in tracker.items() if k != CONTACT_UNTIL}
    if not tracker.get("contact"):
        record.pop("contact", None)
    item = {
        **keys.tracker(tracker["id"]),
        keys.TYPE: "tracker",
        **record,
        "gsi1pk": keys.tracker_workspace_pk(ws),
        "gsi1sk": sort,
        "gsi2pk": keys.tracker_purchase_pk(ws, tracker["purchaseId"]),
        "gsi2sk": sort,
        "gsi3pk": keys.tracker_customer_pk(ws, tracker["customerId"]),
        "gsi3sk": sort,
    }
    if due_at:
        item["gsi4pk"], item["gsi4sk"] = keys.DUE_PK, f"{due_at}#{tracker['id']}"
    if record.get("contact") and tracker.get(CONTACT_UNTIL) is not None:
        item[keys.CONTACT_UNTIL] = tracker[CONTACT_UNTIL]
    return item


def create_with_token(tracker: dict[str, Any], token: dict[str, Any], due_at: str | None) -> bool:
    """Uniqueness item, tracker and its token in one transaction.

    False when a tracker for this (survey, purchase) already exists - also when another request
    created it a moment ago: the uniqueness item is the arbiter, not a read-then-write.
    """
    unique = {
        **keys.tracker_unique(tracker["workspaceId"], tracker["surveyId"], tracker["purchaseId"]),
        keys.TYPE: "tracker_unique",
        "trackerId": tracker["id"],
    }
    try:
        table.transact(
            [
                table.put_new_op(unique),
                table.put_new_op(to_item(tracker, due_at)),
                table.put_new_op(tokens_dal.to_item(token)),
            ],
            failures=[AlreadyExists],
        )
        return True
    except AlreadyExists:
        return False


def existing_id(workspace_id: str, survey_id: str, purchase_id: str) -> str | None:
    item = table.get(keys.tracker_unique(workspace_id, survey_id, purchase_id))
    return item["trackerId"] if item else None


def get(tracker_id: str) -> dict[str, Any] | None:
    return _record(table.get(keys.tracker(tracker_id)))


def _range_query(index: str, pk_value: str, from_ts: str | None, to_ts: str | None) -> dict[str, Any]:
    lo, hi = table.time_bounds(from_ts, to_ts)
    return table.range_query(f"{index}pk", f"{index}sk", pk_value, lo, hi, index=index, newest_first=True)


def _with_store(req: dict[str, Any], store_slug: str | None) -> dict[str, Any]:
    if store_slug:
        req["FilterExpression"] = "storeSlug = :store"
        req["ExpressionAttributeValues"][":store"] = table.value(store_slug)
    return req


def workspace_window(
    workspace_id: str, from_ts: str | None, to_ts: str | None, store_slug: str | None, count: int
) -> tuple[list[dict[str, Any]], bool]:
    """The newest ``count`` trackers by sendAt (then whether more exist): reads only what it needs."""
    req = _with_store(_range_query(keys.GSI1, keys.tracker_workspace_pk(workspace_id), from_ts, to_ts), store_slug)
    out: list[dict[str, Any]] = []
    while True:
        req["Limit"] = count + 1 - len(out)
        resp = table.client.query(**req)
        out.extend(_record(table.deserialize(i)) for i in resp.get("Items", []))
        last = resp.get("LastEvaluatedKey")
        if len(out) > count:
            return out[:count], True
        if not last:
            return out, False
        req["ExclusiveStartKey"] = last


def by_purchase(workspace_id: str, purchase_id: str, from_ts: str | None, to_ts: str | None) -> list[dict[str, Any]]:
    pk = keys.tracker_purchase_pk(workspace_id, purchase_id)
    return [_record(i) for i in table.query_all(**_range_query(keys.GSI2, pk, from_ts, to_ts))]


def by_customer(workspace_id: str, customer_id: str, from_ts: str | None, to_ts: str | None) -> list[dict[str, Any]]:
    pk = keys.tracker_customer_pk(workspace_id, customer_id)
    return [_record(i) for i in table.query_all(**_range_query(keys.GSI3, pk, from_ts, to_ts))]


def completion_update(
    tracker_id: str, at: str, *, sending_index: int | None = None, sent_at: str | None = None
) -> dict[str, Any]:
    """The transaction item that marks a tracker completed and takes it off the due index (and
    forgets its raw contact: nothing more is sent). With ``sending_index`` the tracker must still
    be at that send (``sendingIndex`` and ``sentAt`` as read: a resend in between fails the
    condition, and the answer is re-read and retried), and ``completed`` joins ``reportCounted``."""
    update: dict[str, Any] = {
        "TableName": table.TABLE,
        "Key": table.serialize(keys.tracker(tracker_id)),
        "UpdateExpression": "SET #s = :done, completedAt = :at, updatedAt = :at "
        f"REMOVE gsi4pk, gsi4sk, contact, {keys.CONTACT_UNTIL}",
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":done": table.value("completed"), ":at": table.value(at)},
    }
    if sending_index is not None:
        values = update["ExpressionAttributeValues"]
        update["UpdateExpression"] += f" ADD {REPORT_COUNTED} :counted"
        values[":counted"], values[":idx"] = table.value({"completed"}), table.value(sending_index)
        condition = "attribute_exists(pk) AND sendingIndex = :idx"
        if sent_at:
            condition += " AND sentAt = :sentAt"
            values[":sentAt"] = table.value(sent_at)
        else:
            condition += " AND attribute_not_exists(sentAt)"
        update["ConditionExpression"] = condition
    return {"Update": update}


def record_click(
    tracker_id: str,
    visitor_hash: str | None,
    at: str,
    expires_epoch: int,
    *,
    first_click_report: dict[str, Any] | None = None,
    sending_index: int | None = None,
) -> None:
    """Count a click atomically; a visitor's first click also counts as unique, and a sent (or
    ready) tracker becomes opened. At most three writes, usually one.

    ``first_click_report`` (a :mod:`revisit.dal.reports` item) is written with the update that
    opens the tracker - the tracker's first click, once - on the condition that it is still at
    ``sending_index``; ``clicked`` then joins its ``reportCounted``. ``visitor_hash`` None: a plain
    click, no visitor marker (the caller's cap on unique visitors was reached)."""
    key = keys.tracker(tracker_id)
    marker = None
    if visitor_hash is not None:
        marker = {**keys.tracker_click(tracker_id, visitor_hash), keys.TYPE: "click", "at": at, keys.TTL: expires_epoch}
    opened = {
        "expression": "ADD clicks :one{unique} SET #s = :opened, openedAt = :at, updatedAt = :at",
        "condition": "attribute_exists(pk) AND #s IN (:sent, :ready)",
        "names": {"#s": "status"},
        "values": {
            ":one": table.value(1),
            ":opened": table.value("opened"),
            ":sent": table.value("sent"),
            ":ready": table.value("ready"),
            ":at": table.value(at),
        },
        "report": None,
    }
    if first_click_report is not None and sending_index is not None:
        opened["expression"] = opened["expression"].replace("{unique}", "{unique}, " + REPORT_COUNTED + " :counted")
        opened["condition"] += " AND sendingIndex = :idx"
        opened["values"] |= {":counted": table.value({"clicked"}), ":idx": table.value(sending_index)}
        opened["report"] = first_click_report
    counted = {
        "expression": "ADD clicks :one{unique} SET updatedAt = :at",
        "condition": "attribute_exists(pk)",
        "names": None,
        "values": {":one": table.value(1), ":at": table.value(at)},
        "report": None,
    }
    for unique in (True, False) if marker is not None else (False,):
        for update in (opened, counted):
            expression = update["expression"].format(unique=", uniqueClicks :one" if unique else "")
            op: dict[str, Any] = {
                "Key": table.serialize(key),
                "UpdateExpression": expression,
                "ConditionExpression": update["condition"],
                "ExpressionAttributeValues": update["values"],
            }
            if update["names"]:
                op["ExpressionAttributeNames"] = update["names"]
            report = [update["report"]] if update["report"] else []
            try:
                if not unique:
                    if report:
                        _transact([{"Update": op}, *report])
                    else:
                        table.update(
                            key,
                            expression,
                            condition=update["condition"],
                            names=update["names"],
                            values=update["values"],
                        )
                    return
                first_visit = {
                    "Put": {"Item": table.serialize(marker), "ConditionExpression": "attribute_not_exists(pk)"}
                }
                _transact([first_visit, {"Update": op}, *report], failures=[AlreadyExists])
                return
            except AlreadyExists:
                break  # seen this visitor before: count a plain click
            except ConditionFailed:
                pass  # not sent/ready (or gone, or resent meanwhile): try the next, plainer update


# ---------------------------------------------------------------- scheduling (due index, claims)


def _due_sort(at: str, tracker_id: str) -> str:
    return f"{at}#{tracker_id}"


def due(now_iso: str, limit: int, start_key: dict[str, Any] | None = None) -> tuple[list[tuple[str, str]], Any]:
    """Trackers whose send/resend/retry/lease time has come: [(tracker id, due sort key)].

    The sparse gsi4 holds only pending trackers, so the cost follows the number due, not stored.
    """
    req: dict[str, Any] = {
        "TableName": table.TABLE,
        "IndexName": keys.GSI4,
        "KeyConditionExpression": "gsi4pk = :due AND gsi4sk <= :now",
        "ExpressionAttributeValues": {
            ":due": table.value(keys.DUE_PK),
            ":now": table.value(now_iso + "#" + table.SK_MAX),
        },
        "Limit": limit,
    }
    if start_key:
        req["ExclusiveStartKey"] = start_key
    resp = table.client.query(**req)
    found = [(i[keys.PK]["S"].split("#", 1)[1], i["gsi4sk"]["S"]) for i in resp.get("Items", [])]
    return found, resp.get("LastEvaluatedKey")


def claim(tracker_id: str, seen_due: str, lease_until: str, now_iso: str) -> tuple[dict[str, Any], str] | None:
    """Take a due tracker for one run: its due key moves to the lease's end, on the condition that
    it is still the one we saw. Another run (or a stale index read) fails the condition -> None.
    A run that dies after claiming leaves the tracker due again when the lease ends."""
    lease = _due_sort(lease_until, tracker_id)
    try:
        claimed = table.update(
            keys.tracker(tracker_id),
            "SET gsi4sk = :lease, claimedAt = :now",
            condition="gsi4sk = :seen",
            values={":lease": table.value(lease), ":now": table.value(now_iso), ":seen": table.value(seen_due)},
            returns="ALL_NEW",
        )
    except ConditionFailed:
        return None
    return _record(claimed), lease


def settle(
    tracker_id: str,
    lease: str,
    changes: dict[str, Any],
    next_due: str | None,
    *,
    report: dict[str, Any] | None = None,
    counted: str | None = None,
) -> bool:
    """Write a claimed tracker's new state and next due time (None = off the due index, and its raw
    contact is forgotten), only if our lease is still current. False when the lease was lost.

    ``report`` (a :mod:`revisit.dal.reports` item) is written in the same transaction, and
    ``counted`` (e.g. ``sent:1``) joins the tracker's ``reportCounted``: a lost lease writes
    neither, so a send is counted exactly when its new state is."""
    values: dict[str, Any] = {":lease": table.value(lease)}
    sets, removes = [], []
    if next_due:
        sets.append("gsi4sk = :next")
        values[":next"] = table.value(_due_sort(next_due, tracker_id))
    else:
        removes += ["gsi4pk", "gsi4sk", *_GONE_WITH_THE_SENDS]
    if report is None:
        try:
            table.update_fields(
                keys.tracker(tracker_id),
                changes,
                condition="gsi4sk = :lease",
                sets=sets,
                removes=removes,
                values=values,
            )
            return True
        except ConditionFailed:
            return False
    names: dict[str, str] = {}
    change_sets, change_removes = table.set_remove(changes, names, values)
    expression = table.update_expression([*sets, *change_sets], [*change_removes, *removes])
    if counted:
        expression += f" ADD {REPORT_COUNTED} :counted"
        values[":counted"] = table.value({counted})
    op: dict[str, Any] = {
        "Key": table.serialize(keys.tracker(tracker_id)),
        "UpdateExpression": expression,
        "ConditionExpression": "gsi4sk = :lease",
        "ExpressionAttributeValues": values,
    }
    if names:
        op["ExpressionAttributeNames"] = names
    try:
        _transact([{"Update": op}, report])
        return True
    except ConditionFailed:
        return False


def of_customer(workspace_id: str, store_slug: str, customer_id: str) -> list[dict[str, Any]]:
    """The store's trackers of one customer, as stored (gsi3 ``TRKCUS#`` filtered on the store)."""
    pk = keys.tracker_customer_pk(workspace_id, customer_id)
    req = _with_store(_range_query(keys.GSI3, pk, None, None), store_slug)
    return table.query_all(**req)


def unique_key(tracker: dict[str, Any]) -> dict[str, str]:
    """The key of a tracker's uniqueness item (one tracker per survey and purchase)."""
    return keys.tracker_unique(tracker["workspaceId"], tracker["surveyId"], tracker["purchaseId"])


def _batch_get(item_keys: list[dict[str, str]], projection: str | None = None) -> list[dict[str, Any]]:
    """The items of these keys that exist (BatchGetItem, 100 keys a call, eventually consistent;
    unprocessed keys asked again with back-off)."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(item_keys), 100):
        wanted: dict[str, Any] = {"Keys": [table.serialize(k) for k in item_keys[start : start + 100]]}
        if projection:
            wanted["ProjectionExpression"] = projection
        request: dict[str, Any] = {table.TABLE: wanted}
        for attempt in range(10):
            resp = table.client.batch_get_item(RequestItems=request)
            out.extend(table.deserialize(i) for i in resp.get("Responses", {}).get(table.TABLE, []))
            request = resp.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(min(1.0, 0.02 * 2**attempt))
        else:
            raise RuntimeError("BatchGetItem kept returning unprocessed keys")
    return out


def by_purchases(workspace_id: str, survey_ids: list[str], purchase_ids: list[str]) -> list[dict[str, Any]]:
    """The trackers of these purchases, whatever their number: a tracker exists once per survey and
    purchase and its uniqueness item ``TRKUNIQ#ws#survey#purchase`` names it, so every (survey,
    purchase) pair is a key. BatchGetItem of the pairs' uniqueness items (100 a call), then of the
    trackers they name (100 a call): ⌈surveys × purchases / 100⌉ + ⌈trackers / 100⌉ calls."""
    pairs = [
        keys.tracker_unique(workspace_id, s, p) for s in dict.fromkeys(survey_ids) for p in dict.fromkeys(purchase_ids)
    ]
    ids = [i["trackerId"] for i in _batch_get(pairs, "trackerId") if i.get("trackerId")]
    found = _batch_get([keys.tracker(t) for t in dict.fromkeys(ids)])
    return [r for r in (_record(i) for i in found) if r is not None and r.get("workspaceId") == workspace_id]


def by_customers(
    workspace_id: str, customer_ids: list[str], from_ts: str | None, to_ts: str | None, store_slug: str | None
) -> list[dict[str, Any]]:
    """The trackers of these customers (at most 100 ids): ONE Query of the workspace's time line
    (gsi1, the sendAt range in the key condition) filtered on ``customerId IN (...)`` (and the
    store), every page - its cost is the trackers of the range, not one Query per customer."""
    req = _with_store(_range_query(keys.GSI1, keys.tracker_workspace_pk(workspace_id), from_ts, to_ts), store_slug)
    values = req["ExpressionAttributeValues"]
    names = []
    for i, cid in enumerate(dict.fromkeys(customer_ids)):
        values[f":c{i}"] = table.value(cid)
        names.append(f":c{i}")
    condition = f"customerId IN ({', '.join(names)})"
    req["FilterExpression"] = f"{req['FilterExpression']} AND {condition}" if "FilterExpression" in req else condition
    return [r for r in (_record(i) for i in table.query_all(**req)) if r is not None]
