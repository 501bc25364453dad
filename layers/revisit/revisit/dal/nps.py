"""NPS: a shop's categories and channels, device ids, and reviews.

| pattern                                   | key condition / index                              | calls |
|-------------------------------------------|----------------------------------------------------|-------|
| shop + its categories and channels        | Query pk=SHOP#shopId (META, CAT#*, CHAN#*)         | 1     |
| new category/channel with the next id     | GetItem SHOP#shopId META, then TransactWriteItems: | 2     |
|                                           | Update npsSeq (= the read value) + Put (new code)  |       |
| device id                                 | GetItem DID#did                                    | 1     |
| new device id, counted (GET /nps/init)    | TransactWriteItems: ADD on NPSINIT#shop#addr       | 1     |
|                                           | sk=H#hour (while below the limit) + device Put     |       |
| reviews of a store by date                | Query pk=NPS#ws#store, sk BETWEEN                  | 1/page|
| ... of one channel / one category         | gsi1 NPSCH#ws#store#channel / gsi2 NPSCAT#...      | 1/page|
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from revisit.dal import cursors, keys, table
from revisit.dal.errors import AlreadyExists, ConditionFailed, NoSuchItem

REVIEW_FIELDS = (
    "id", "client", "rate", "channel", "category", "comment", "createdAt", "respondentType", "civ", "orderId",
    "workspaceId", "storeSlug", "shopId",
)  # fmt: skip


def shop_config(shop_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]]]:
    """(shop record or None, categories, channels) in one Query of the shop's partition."""
    items = table.query_partition(keys.nps_config_pk(shop_id))
    shop = next((table.plain(i) for i in items if i[keys.SK] == keys.META), None)
    categories = [table.plain(i) for i in items if i[keys.SK].startswith("CAT#")]
    channels = [table.plain(i) for i in items if i[keys.SK].startswith("CHAN#")]
    return shop, sorted(categories, key=lambda c: c["id"]), sorted(channels, key=lambda c: c["id"])


def _config_key(shop_id: str, kind: str, code: str) -> dict[str, str]:
    return keys.nps_category(shop_id, code) if kind == "category" else keys.nps_channel(shop_id, code)


class SeqMoved(ConditionFailed):
    """Another category or channel took the shop's next id meanwhile: read it again."""


def add_config(shop_id: str, kind: str, record: dict[str, Any], attempts: int = 5) -> dict[str, Any]:
    """A new category (kind 'category') or channel with the shop's next id, in ONE transaction
    with the shop's counter: AlreadyExists (and nothing written, the counter unmoved) if the code
    exists; NoSuchItem if the shop does not."""
    for _ in range(attempts):
        shop = table.get(keys.shop(shop_id))
        if shop is None:
            raise NoSuchItem()
        current = int(shop.get("npsSeq") or 0)
        condition = "npsSeq = :cur" if "npsSeq" in shop else "attribute_exists(pk) AND attribute_not_exists(npsSeq)"
        values = {":next": table.value(current + 1), **({":cur": table.value(current)} if "npsSeq" in shop else {})}
        seq = {
            "Update": {
                "Key": table.serialize(keys.shop(shop_id)),
                "UpdateExpression": "SET npsSeq = :next",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
        }
        stored = {**record, "id": current + 1}
        item = {**_config_key(shop_id, kind, record["code"]), keys.TYPE: f"nps_{kind}", **stored}
        try:
            table.transact([seq, table.put_new_op(item)], failures=[SeqMoved, AlreadyExists])
        except SeqMoved:
            continue
        return stored
    raise SeqMoved()


def update_config(shop_id: str, kind: str, code: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The changed category or channel; NoSuchItem if there is none with this code. No change
    asked: the item as it is (one GetItem, nothing written)."""
    if not changes:
        current = table.get(_config_key(shop_id, kind, code))
        if current is None:
            raise NoSuchItem()
        return table.plain(current)
    updated = table.update_fields(_config_key(shop_id, kind, code), changes, returns="ALL_NEW", failure=NoSuchItem)
    return table.plain(updated)


DEVICE_EXPIRES = "expiresEpoch"  # the record field a device's TTL attribute is read into


def put_device(did: str, record: dict[str, Any]) -> None:
    """A device id; its ``expiresEpoch`` is stored as the TTL attribute (DynamoDB deletes it later)."""
    fields = {k: v for k, v in record.items() if k != DEVICE_EXPIRES}
    table.put_new({**keys.device(did), keys.TYPE: "device", **fields, keys.TTL: record[DEVICE_EXPIRES]})


class QuotaUsed(ConditionFailed):
    """The address has used its device ids for this shop and hour."""


@dataclass(frozen=True)
class InitCounter:
    """The /nps/init counter of one client address (a hash) for one shop and clock hour."""

    shop_id: str
    address_hash: str
    hour: str  # YYYYMMDDHH, UTC
    expires_epoch: int  # TTL: DynamoDB deletes the counter after its hour

    def key(self) -> dict[str, str]:
        return keys.nps_init_counter(self.shop_id, self.address_hash, self.hour)


def put_device_counted(did: str, record: dict[str, Any], counter: InitCounter, limit: int) -> None:
    """The device and one more on the counter, in ONE transaction: the counter's conditional ADD
    (below ``limit``) and the device's Put. QuotaUsed when the counter is at ``limit``,
    AlreadyExists on a device id clash. Concurrent inits of one address serialise on the
    counter's condition, so at most ``limit`` devices are ever made in its hour."""
    fields = {k: v for k, v in record.items() if k != DEVICE_EXPIRES}
    device = {**keys.device(did), keys.TYPE: "device", **fields, keys.TTL: record[DEVICE_EXPIRES]}
    count = {
        "Update": {
            "TableName": table.TABLE,
            "Key": table.serialize(counter.key()),
            "UpdateExpression": "SET #t = :type, #ttl = :ttl ADD #c :one",
            "ConditionExpression": "attribute_not_exists(#c) OR #c < :limit",
            "ExpressionAttributeNames": {"#t": keys.TYPE, "#ttl": keys.TTL, "#c": "count"},
            "ExpressionAttributeValues": {
                ":type": table.value("nps_init_quota"),
                ":ttl": table.value(counter.expires_epoch),
                ":one": table.value(1),
                ":limit": table.value(limit),
            },
        }
    }
    table.transact([count, table.put_new_op(device)], failures=[QuotaUsed, AlreadyExists])


def get_device(did: str) -> dict[str, Any] | None:
    """The device record with its ``expiresEpoch`` (absent on a device of before expiry)."""
    item = table.get(keys.device(did))
    if not item:
        return None
    record = table.plain(item, (*keys.HIDDEN, keys.TTL))
    assert record is not None
    if item.get(keys.TTL) is not None:
        record[DEVICE_EXPIRES] = item[keys.TTL]
    return record


def put_review(review: dict[str, Any]) -> None:
    """The review with its keys (sparse GSIs by channel and category); AlreadyExists on an id clash."""
    ws, store = review["workspaceId"], review["storeSlug"]
    item = {**keys.nps_review(ws, store, review["createdAt"], review["id"]), keys.TYPE: "nps_review", **review}
    sort = item[keys.SK]
    item["gsi1pk"], item["gsi1sk"] = keys.nps_channel_pk(ws, store, review["channel"]), sort
    item["gsi2pk"], item["gsi2sk"] = keys.nps_category_pk(ws, store, review["category"]), sort
    if review.get("civ"):  # the customer's reviews: access and erasure
        item["gsi3pk"], item["gsi3sk"] = keys.nps_customer_pk(ws, store, review["civ"]), sort
    if review.get("client") is not None:  # ... and by their contact's keyed hash (keys only)
        item["gsi4pk"], item["gsi4sk"] = keys.nps_contact_pk(ws, store, int(review["client"])), sort
    table.put_new(item, AlreadyExists)


@dataclass(frozen=True)
class ReviewQuery:
    workspace_id: str
    store_slug: str
    from_ts: str | None = None  # inclusive, ISO
    to_ts: str | None = None  # inclusive, ISO
    channel: str | None = None
    category: str | None = None


def reviews_page(q: ReviewQuery, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Oldest first, ``limit`` at most, with a cursor to the next page (None at the end)."""
    ws, store, channel, category = q.workspace_id, q.store_slug, q.channel, q.category
    if channel:
        index, pk_attr, sk_attr, pk = keys.GSI1, "gsi1pk", "gsi1sk", keys.nps_channel_pk(ws, store, channel)
    elif category:
        index, pk_attr, sk_attr, pk = keys.GSI2, "gsi2pk", "gsi2sk", keys.nps_category_pk(ws, store, category)
    else:
        index, pk_attr, sk_attr, pk = None, keys.PK, keys.SK, keys.nps_store_pk(ws, store)
    lo, hi = table.time_bounds(q.from_ts, q.to_ts)
    req = table.range_query(pk_attr, sk_attr, pk, lo, hi, index=index)
    if channel and category:
        req["FilterExpression"] = "category = :cat"
        req["ExpressionAttributeValues"][":cat"] = table.value(category)
    if cursor:
        req["ExclusiveStartKey"] = cursors.decode(cursor, pk_attr, pk)
    out: list[dict[str, Any]] = []
    while True:
        req["Limit"] = limit - len(out)
        resp = table.client.query(**req)
        out.extend({k: v for k, v in table.deserialize(i).items() if k in REVIEW_FIELDS} for i in resp.get("Items", []))
        last = resp.get("LastEvaluatedKey")
        if not last:
            return out, None
        if len(out) >= limit:
            return out, cursors.encode(last)
        req["ExclusiveStartKey"] = last


def reviews_of_customer(workspace_id: str, store_slug: str, civ: str) -> list[dict[str, Any]]:
    """The store's reviews with this loyalty_id (gsi3 ``NPSCIV#``), oldest first, as stored
    (with their keys: the erasure deletes them by key)."""
    pk = keys.nps_customer_pk(workspace_id, store_slug, civ)
    return table.query_all(**table.range_query("gsi3pk", "gsi3sk", pk, "0", table.SK_MAX, index=keys.GSI3))


def reviews_of_contacts(workspace_id: str, store_slug: str, clients: list[int]) -> list[dict[str, Any]]:
    """The store's reviews by these reviewer numbers (gsi4 ``NPSCLI#``, keys only: one Query per
    number, then BatchGetItem of the reviews), as stored."""
    found: list[dict[str, str]] = []
    for client in dict.fromkeys(clients):
        pk = keys.nps_contact_pk(workspace_id, store_slug, client)
        req = table.range_query("gsi4pk", "gsi4sk", pk, "0", table.SK_MAX, index=keys.GSI4)
        found.extend({keys.PK: i[keys.PK], keys.SK: i[keys.SK]} for i in table.query_all(**req))
    out: list[dict[str, Any]] = []
    for start in range(0, len(found), 100):
        request: dict[str, Any] = {table.TABLE: {"Keys": [table.serialize(k) for k in found[start : start + 100]]}}
        while request:
            resp = table.client.batch_get_item(RequestItems=request)
            out.extend(table.deserialize(i) for i in resp.get("Responses", {}).get(table.TABLE, []))
            request = resp.get("UnprocessedKeys") or {}
    return out
