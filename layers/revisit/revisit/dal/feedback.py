"""Feedback records and their search access patterns.

| pattern                         | key condition                                  |
|---------------------------------|------------------------------------------------|
| one store, date range           | base table  pk=FB#ws#store, sk BETWEEN         |
| whole workspace, date range     | gsi3        gsi3pk=FBWS#ws, gsi3sk BETWEEN      |
| by order id (any store)         | gsi1        gsi1pk=FBORDER#ws#order, sk BETWEEN |
| by civ (any store)              | gsi2        gsi2pk=FBCIV#ws#civ, sk BETWEEN     |

Other filters (store when not in the key, rating range, source, text in comment) are
FilterExpressions on the chosen key range; results are newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from revisit.dal import cursors, keys, table
from revisit.dal.errors import BadCursor

__all__ = ["PUBLIC_FIELDS", "BadCursor", "Query", "public", "search_page", "to_item"]

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
    return item


def public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in PUBLIC_FIELDS if k in item}


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
        items.extend(public(table.deserialize(i)) for i in resp.get("Items", []))
        last = resp.get("LastEvaluatedKey")
        if not last:
            return items, None
        if len(items) >= limit or evaluated >= max_evaluated:
            return items, cursors.encode(last)
        req["ExclusiveStartKey"] = last
