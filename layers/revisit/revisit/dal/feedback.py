"""Feedback records and their search access patterns.

| pattern                         | key condition                                  |
|---------------------------------|------------------------------------------------|
| one store, date range           | base table  pk=FB#ws#store, sk BETWEEN         |
| whole workspace, date range     | gsi3        gsi3pk=FBWS#ws, gsi3sk BETWEEN      |
| by order id (any store)         | gsi1        gsi1pk=FBORDER#ws#order, sk BETWEEN |
| by civ (any store)              | gsi2        gsi2pk=FBCIV#ws#civ, sk BETWEEN     |
| one record by its id            | gsi4 (keys) gsi4pk=FBID#ws#id -> GetItem/Update |

Other filters (store when not in the key, rating range, source, text in comment, has a comment,
the inbox's workflow: status, assignee, tag) are FilterExpressions on the chosen key range;
results are newest first.

The inbox's workflow lives on the record itself (``status``, ``assignee``, ``tags``, ``notes``,
``version``), changed by one conditional UpdateItem (:func:`update_workflow`). A record without
``status`` is ``new``: nothing to migrate. Those fields are not in :data:`PUBLIC_FIELDS` (what a
customer's retried submit and a webhook's payload show); the manager's API reads them through
:func:`inbox` and :func:`detail`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from revisit.dal import cursors, keys, table
from revisit.dal.errors import BadCursor, ConditionFailed

__all__ = [
    "INBOX_FIELDS",
    "PUBLIC_FIELDS",
    "BadCursor",
    "Query",
    "RecordTooLarge",
    "WorkflowConflict",
    "detail",
    "find",
    "inbox",
    "public",
    "search_page",
    "to_item",
    "update_workflow",
]

PUBLIC_FIELDS = (
    "id",
    "workspaceId",
    "storeSlug",
    "rating",
    "comment",
    "civ",
    "orderId",
    "source",
    "payload",
    "tokenKind",
    "campaignId",
    "trackerId",  # through a tracker's link: the tracker, and the send the answer followed
    "sendingIndex",
    "channel",
    "imported",  # true on a record brought in by POST /api/external/feedback/import ...
    "externalId",  # ... and its id in the system it came from
    "createdAt",
)


def to_item(fb: dict[str, Any]) -> dict[str, Any]:
    """A feedback record with its keys: base table by store and time, sparse GSIs by order and civ."""
    ws, store, sort = fb["workspaceId"], fb["storeSlug"], f"{fb['createdAt']}#{fb['id']}"
    item: dict[str, Any] = {**keys.feedback(ws, store, fb["createdAt"], fb["id"]), keys.TYPE: "feedback", **fb}
    item["gsi3pk"], item["gsi3sk"] = keys.feedback_workspace_pk(ws), sort
    if fb.get("orderId"):
        item["gsi1pk"], item["gsi1sk"] = keys.feedback_order_pk(ws, fb["orderId"]), sort
    if fb.get("civ"):
        item["gsi2pk"], item["gsi2sk"] = keys.feedback_civ_pk(ws, fb["civ"]), sort
    if fb.get("comment"):
        item["commentLc"] = fb["comment"].casefold()
    item["gsi4pk"], item["gsi4sk"] = keys.feedback_id_pk(ws, fb["id"]), fb["createdAt"]
    return item


def public(item: dict[str, Any]) -> dict[str, Any]:
    """What a customer's retry and a webhook may show: no workflow field."""
    return {k: item[k] for k in PUBLIC_FIELDS if k in item}


DEFAULT_STATUS = "new"  # a record without a status (every one before the inbox) is new
INBOX_FIELDS = ("status", "assignee", "tags")  # in search results and exports


def inbox(item: dict[str, Any]) -> dict[str, Any]:
    """A record as the manager's search and export show it: public fields + status, assignee, tags."""
    out = public(item)
    out["status"] = item.get("status") or DEFAULT_STATUS
    if item.get("assignee"):
        out["assignee"] = item["assignee"]
    if item.get("tags"):
        out["tags"] = sorted(item["tags"])
    if item.get("notes"):
        out["noteCount"] = len(item["notes"])
    return out


def detail(item: dict[str, Any]) -> dict[str, Any]:
    """One record with its whole workflow: the internal notes (oldest first) and its version."""
    out = inbox(item)
    out.pop("noteCount", None)
    out["notes"] = list(item.get("notes") or [])
    out["version"] = int(item.get("version") or 0)
    if item.get("workflowUpdatedAt"):
        out["workflowUpdatedAt"] = item["workflowUpdatedAt"]
    return out


def _key_of(workspace_id: str, feedback_id: str) -> dict[str, str] | None:
    """The record's table key, through gsi4 (keys only; eventually consistent)."""
    resp = table.client.query(
        TableName=table.TABLE,
        IndexName=keys.GSI4,
        KeyConditionExpression="gsi4pk = :pk",
        ExpressionAttributeValues={":pk": table.value(keys.feedback_id_pk(workspace_id, feedback_id))},
        Limit=1,
    )
    items = resp.get("Items") or []
    if not items:
        return None
    found = table.deserialize(items[0])
    return {keys.PK: found[keys.PK], keys.SK: found[keys.SK]}


def find(workspace_id: str, feedback_id: str) -> dict[str, Any] | None:
    """The stored record of this workspace with this id (consistent read), or None."""
    key = _key_of(workspace_id, feedback_id)
    if key is None:
        return None
    item = table.get(key)
    if not item or item.get(keys.TYPE) != "feedback" or item.get("workspaceId") != workspace_id:
        return None
    return table.plain(item)


class RecordTooLarge(Exception):
    """The update would take the item past DynamoDB's 400 KB (long notes in many languages)."""


class WorkflowConflict(ConditionFailed):
    """The record was not as the update required: gone, another store's, at another version, or its
    notes are full. ``current`` is the record as read after the failure (None: not there)."""

    def __init__(self, current: dict[str, Any] | None) -> None:
        super().__init__(["ConditionalCheckFailed"])
        self.current = current


def update_workflow(
    workspace_id: str,
    record: dict[str, Any],
    changes: dict[str, Any],
    *,
    note: dict[str, Any] | None,
    max_notes: int,
    expected_version: int | None,
    at: str,
) -> dict[str, Any]:
    """One UpdateItem of the record's workflow: SET/REMOVE the ``changes`` (status, assignee,
    tags; None removes), append ``note``, ADD 1 to ``version``. Its condition: the record exists in
    its store and workspace, has fewer than ``max_notes`` notes (when one is added) and, with
    ``expected_version``, is still at that version. Returns the record as written (ALL_NEW)."""
    key = keys.feedback(workspace_id, record["storeSlug"], record["createdAt"], record["id"])
    names: dict[str, str] = {"#ws": "workspaceId", "#store": "storeSlug", "#ver": "version", "#at": "workflowUpdatedAt"}
    values: dict[str, Any] = {
        ":ws": table.value(workspace_id),
        ":store": table.value(record["storeSlug"]),
        ":one": table.value(1),
        ":at": table.value(at),
    }
    sets, removes = table.set_remove(changes, names, values)
    sets.append("#at = :at")
    conditions = ["attribute_exists(pk)", "#ws = :ws", "#store = :store"]
    if note is not None:
        names["#notes"] = "notes"
        values[":note"], values[":empty"] = table.value([note]), table.value([])
        values[":max"] = table.value(max_notes)
        sets.append("#notes = list_append(if_not_exists(#notes, :empty), :note)")
        conditions.append("(attribute_not_exists(#notes) OR size(#notes) < :max)")
    if expected_version is not None:
        values[":ver"] = table.value(expected_version)
        conditions.append("#ver = :ver" if expected_version else "(attribute_not_exists(#ver) OR #ver = :ver)")
    expression = table.update_expression(sets, removes) + " ADD #ver :one"
    try:
        written = table.update(
            key, expression, condition=" AND ".join(conditions), names=names, values=values, returns="ALL_NEW"
        )
    except ConditionFailed:
        raise WorkflowConflict(table.get_record(key)) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationException" and "size" in str(error.get("Message", "")).lower():
            raise RecordTooLarge() from None
        raise
    return table.plain(written) or {}


@dataclass(frozen=True)
class Query:
    workspace_id: str
    store_slug: str | None = None
    order_id: str | None = None
    civ: str | None = None
    from_ts: str | None = None  # inclusive, ISO
    to_ts: str | None = None  # inclusive, ISO
    min_rating: int | None = None
    max_rating: int | None = None
    source: str | None = None
    text: str | None = None
    has_comment: bool | None = None
    status: str | None = None  # new also matches a record without a status
    assignee: str | None = None  # "" = nobody assigned
    tag: str | None = None


def _key_plan(q: Query) -> tuple[str | None, str, str, str, bool]:
    """(index, pk attribute, sk attribute, pk value, whether the store is a filter)"""
    if q.order_id:
        return "gsi1", "gsi1pk", "gsi1sk", keys.feedback_order_pk(q.workspace_id, q.order_id), True
    if q.civ:
        return "gsi2", "gsi2pk", "gsi2sk", keys.feedback_civ_pk(q.workspace_id, q.civ), True
    if q.store_slug:
        return None, keys.PK, keys.SK, keys.feedback_store_pk(q.workspace_id, q.store_slug), False
    return "gsi3", "gsi3pk", "gsi3sk", keys.feedback_workspace_pk(q.workspace_id), False


def _request(q: Query) -> tuple[dict[str, Any], str, str]:
    index, pk_attr, sk_attr, pk_value, store_filter = _key_plan(q)
    lo, hi = table.time_bounds(q.from_ts, q.to_ts)
    req = table.range_query(pk_attr, sk_attr, pk_value, lo, hi, index=index, newest_first=True)
    names, values = req["ExpressionAttributeNames"], req["ExpressionAttributeValues"]
    filters = []
    if store_filter and q.store_slug:
        filters.append("storeSlug = :store")
        values[":store"] = table.value(q.store_slug)
    if q.civ and q.order_id:
        filters.append("civ = :civ")
        values[":civ"] = table.value(q.civ)
    if q.min_rating is not None:
        filters.append("rating >= :minr")
        values[":minr"] = table.value(q.min_rating)
    if q.max_rating is not None:
        filters.append("rating <= :maxr")
        values[":maxr"] = table.value(q.max_rating)
    if q.source:
        filters.append("#src = :src")
        names["#src"] = "source"
        values[":src"] = table.value(q.source)
    if q.text:
        filters.append("contains(commentLc, :q)")
        values[":q"] = table.value(q.text.casefold())
    if q.has_comment is not None:
        filters.append("attribute_exists(commentLc)" if q.has_comment else "attribute_not_exists(commentLc)")
    if q.status:
        names["#wst"] = "status"
        values[":wst"] = table.value(q.status)
        filters.append("(attribute_not_exists(#wst) OR #wst = :wst)" if q.status == DEFAULT_STATUS else "#wst = :wst")
    if q.assignee is not None:
        if q.assignee:
            filters.append("assignee = :asg")
            values[":asg"] = table.value(q.assignee)
        else:
            filters.append("attribute_not_exists(assignee)")
    if q.tag:
        filters.append("contains(tags, :tag)")
        values[":tag"] = table.value(q.tag)
    if filters:
        req["FilterExpression"] = " AND ".join(filters)
    return req, pk_attr, pk_value


def search_page(
    q: Query, limit: int, cursor: str | None, max_evaluated: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``limit`` matches, newest first, reading at most ``max_evaluated`` items.

    Each Query asks for no more items than are still missing, so a page never reads more than it
    must; a sparse filter may return a short page with a cursor.
    """
    req, pk_attr, pk_value = _request(q)
    if cursor:
        req["ExclusiveStartKey"] = cursors.decode(cursor, pk_attr, pk_value)
    items: list[dict[str, Any]] = []
    evaluated = 0
    while True:
        req["Limit"] = max(1, min(limit - len(items), max_evaluated - evaluated))
        resp = table.client.query(**req)
        evaluated += resp.get("ScannedCount", 0)
        items.extend(inbox(table.deserialize(i)) for i in resp.get("Items", []))
        last = resp.get("LastEvaluatedKey")
        if not last:
            return items, None
        if len(items) >= limit or evaluated >= max_evaluated:
            return items, cursors.encode(last)
        req["ExclusiveStartKey"] = last


def of_customer(workspace_id: str, store_slug: str, civ: str) -> list[dict[str, Any]]:
    """Every feedback record of ``civ`` at one store, oldest first, as stored (with its keys: the
    erasure deletes them by key): the civ index (gsi2 ``FBCIV#``) filtered on the store."""
    pk = keys.feedback_civ_pk(workspace_id, civ)
    req = table.range_query("gsi2pk", "gsi2sk", pk, "0", table.SK_MAX, index="gsi2")
    req["FilterExpression"] = "storeSlug = :store"
    req["ExpressionAttributeValues"][":store"] = table.value(store_slug)
    return table.query_all(**req)
