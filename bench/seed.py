"""Synthetic stores for the benchmark: raw feedback and NPS reviews, their aggregates, stream records.

A store's history is generated deterministically (seeded): about ``period_records / 30`` responses
a day, 70 % of them identified (a civ from a pool of regular customers, some far more regular than
others), a quarter NPS reviews. The last 30 days - the dashboard's default period - hold the same
``period_records`` responses in every store; a bigger store differs only by its older history.

The aggregates are what the stream aggregator would have written for that history: every record
is planned with ``revisit.domain.analytics.plan`` (the aggregator's own rules) in order, and the
resulting day counters, customer states, activity and watch-list items are written directly.
``growth`` checks this against the real aggregator handler on the smallest store.
"""

from __future__ import annotations

import random
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

CIV_POOL = 1_500
IDENTIFIED_SHARE = 0.7
NPS_SHARE = 0.25
CHANNELS = ("web", "email")
CATEGORIES = ("service", "product")
PERIOD_DAYS = 30


def _record(rng: random.Random, ws: str, store: str, at: datetime, n: int, namespace: str) -> dict[str, Any]:
    civ = f"CUST-{int(CIV_POOL * rng.random() ** 2):05d}" if rng.random() < IDENTIFIED_SHARE else None
    created = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    if rng.random() < NPS_SHARE:
        rate = rng.choices(range(1, 11), weights=(2, 1, 1, 2, 3, 5, 9, 14, 18, 20))[0]
        review_id = int(at.timestamp() * 1000) * 4096 + (zlib.crc32(namespace.encode()) + n) % 4096
        return {
            "kind": "nps_review",
            "id": review_id,
            "client": rng.randrange(2**52),
            "rate": rate,
            "channel": rng.choice(CHANNELS),
            "category": rng.choice(CATEGORIES),
            "respondentType": "promoter" if rate >= 9 else "passive" if rate >= 7 else "detractor",
            "civ": civ,
            "workspaceId": ws,
            "storeSlug": store,
            "shopId": f"shop-{store}",
            "createdAt": created,
        }
    rating = rng.choices((1, 2, 3, 4, 5), weights=(5, 6, 14, 35, 40))[0]
    order_id = f"ORD-{n:07d}"
    record = {
        "kind": "feedback",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{n}")),
        "workspaceId": ws,
        "storeSlug": store,
        "rating": rating,
        "orderId": order_id,
        "payload": {"orderId": order_id, **({"civ": civ} if civ else {})},
        "source": "pos",
        "tokenKind": "one_time",
        "createdAt": created,
    }
    if civ:
        record |= {"civ": civ, "civSource": "token"}
    if rng.random() < 0.3:
        record["comment"] = rng.choice(("Great coffee.", "A bit slow today.", "Friendly staff, as always."))
    return record


def history(ws: str, store: str, total: int, period_records: int, now: datetime, seed: int = 7) -> list[dict]:
    """``total`` records of one store, oldest first; the last ``period_records`` fall in the 30 days
    ending ``now`` and are the same (but for ids and the store) whatever ``total`` is."""
    recent = min(total, period_records)
    older = total - recent
    per_day = period_records / PERIOD_DAYS
    period_start = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=PERIOD_DAYS - 1)
    span = (now - period_start).total_seconds()
    out = []
    rng_old = random.Random(f"{seed}/old/{total}")
    older_days = older / per_day
    for n in range(older):
        at = period_start - timedelta(days=older_days * (1 - n / max(older, 1))) + timedelta(seconds=1)
        out.append(_record(rng_old, ws, store, at, n, f"{ws}/{store}"))
    rng_new = random.Random(f"{seed}/period")
    for k in range(recent):
        at = period_start + timedelta(seconds=span * (k + 0.5) / recent)
        out.append(_record(rng_new, ws, store, at, older + k, f"{ws}/{store}"))
    return out


def raw_item(record: dict[str, Any]) -> dict[str, Any]:
    """The stored item (plain values, keys included) of a feedback record or an NPS review."""
    from revisit.dal import feedback, keys

    fields = {k: v for k, v in record.items() if k != "kind" and v is not None}
    if record["kind"] == "feedback":
        return feedback.to_item(fields)
    ws, store = record["workspaceId"], record["storeSlug"]
    item = {**keys.nps_review(ws, store, record["createdAt"], record["id"]), "type": "nps_review", **fields}
    item["gsi1pk"], item["gsi1sk"] = keys.nps_channel_pk(ws, store, record["channel"]), item[keys.SK]
    item["gsi2pk"], item["gsi2sk"] = keys.nps_category_pk(ws, store, record["category"]), item[keys.SK]
    return item


def aggregate_items(records: list[dict[str, Any]], at: datetime) -> list[dict[str, Any]]:
    """The aggregate items (plain values) the stream aggregator leaves after ``records``.

    Markers (one per record, 8-day TTL, in partitions of their own) are left out: nothing reads them.
    """
    from revisit.dal import analytics as dal
    from revisit.dal import keys
    from revisit.domain import analytics

    days: dict[tuple[str, str, str], dict[str, int]] = {}
    hours: dict[tuple[str, str, str], dict[str, int]] = {}
    activity: dict[tuple[str, str, str, str], int] = {}
    customers: dict[tuple[str, str, str], dict[str, Any]] = {}
    watch: dict[tuple[str, str, str], dict[str, Any] | None] = {}
    for record in sorted(records, key=lambda r: (r["createdAt"], str(r["id"]))):
        visit = analytics.visit_of("INSERT", raw_item(record))
        if visit is None:
            continue
        ws, store = visit.workspace_id, visit.store_slug
        state = customers.get((ws, store, visit.civ)) if visit.civ else None
        change = analytics.plan(state, visit, at)
        for into, changes in ((days, change.day_deltas), (hours, change.hour_deltas)):
            for day, deltas in changes.items():
                counters = into.setdefault((ws, store, day), {})
                for name, delta in deltas.items():
                    counters[name] = counters.get(name, 0) + delta
        if change.civ is not None:
            customers[(ws, store, change.civ)] = dict(change.customer or {})
            if change.activity_day:
                key = (ws, store, change.activity_day, change.civ)
                activity[key] = activity.get(key, 0) + 1
            if change.watch is not None:
                watch[(ws, store, change.civ)] = change.watch
            elif change.unwatch_day is not None:
                watch[(ws, store, change.civ)] = None
    items: list[dict[str, Any]] = []
    for (ws, store, day), counters in days.items():
        owner = {"workspaceId": ws, "storeSlug": store}
        items.append({**keys.agg_day(ws, store, day), "type": dal.TYPE_DAY, **owner, "day": day, **counters})
    for (ws, store, day), counters in hours.items():
        owner = {"workspaceId": ws, "storeSlug": store}
        nonzero = {k: v for k, v in counters.items() if v}
        items.append({**keys.agg_hours(ws, store, day), "type": dal.TYPE_HOURS, **owner, "day": day, **nonzero})
    for (ws, store, day, civ), visits in activity.items():
        owner = {"workspaceId": ws, "storeSlug": store}
        key = keys.agg_activity(ws, store, day, civ)
        items.append({**key, "type": dal.TYPE_ACTIVITY, **owner, "day": day, "civ": civ, "visits": visits})
    for (ws, store, civ), state in customers.items():
        owner = {"workspaceId": ws, "storeSlug": store}
        items.append({**keys.agg_customer(ws, store, civ), "type": dal.TYPE_CUSTOMER, **owner, **state})
    for (ws, store, civ), entry in watch.items():
        if entry is not None:
            owner = {"workspaceId": ws, "storeSlug": store}
            key = keys.agg_watch(ws, store, entry["lastVisitAt"][:10], civ)
            items.append({**key, "type": dal.TYPE_WATCH, **owner, **entry})
    return items


def seed_store(table_name: str, records: list[dict[str, Any]], at: datetime) -> dict[str, int]:
    """Write a store's raw records and its aggregates into moto; returns the item counts."""
    from bench.common import bulk_put
    from revisit.dal import table

    raw = bulk_put(table_name, (table.serialize(raw_item(r)) for r in records))
    aggregates = aggregate_items(records, at)
    agg = bulk_put(table_name, (table.serialize(i) for i in aggregates))
    return {"raw": raw, "aggregates": agg}


def stream_record(record: dict[str, Any], sequence: int) -> dict[str, Any]:
    """The DynamoDB Streams record (Lambda's event shape) of a record's INSERT."""
    from revisit.dal import table

    image = table.serialize(raw_item(record))
    key_attrs = {k: image[k] for k in ("pk", "sk")}
    return {
        "eventID": uuid.uuid5(uuid.NAMESPACE_OID, f"{record['id']}/{sequence}").hex,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": int(datetime.now(UTC).timestamp()),
            "Keys": key_attrs,
            "NewImage": image,
            "SequenceNumber": f"{sequence:021d}",
            "SizeBytes": 600,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/revisit-bench/stream/2026-01-01T00:00:00.000",
    }


def batches(records: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(records), size):
        yield records[start : start + size]
