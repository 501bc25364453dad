"""The loyalty aggregator (seed 000): real stream events through the real handler, exactly once.

The helpers here (stream reader, delivery with Lambda's retry semantics, state dump, brute-force
oracle) are shared with test_dashboard.py and test_analytics_property.py.
"""

from __future__ import annotations

import copy
import os
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from revisit_dev.streams import lambda_record, matches_filters
from revisit_dev.template import load_template
from tests.support import Context, function, sample_event

REGION = "us-east-1"
AGGREGATOR = next(fn for fn in load_template().functions if fn.logical_id == "AggregatorFunction")
STREAM_EVENT = AGGREGATOR.streams[0]


# ------------------------------------------------------------------ feedback and the stream


@dataclass(frozen=True)
class Fb:
    """A raw feedback record, as the oracle sees it."""

    id: str
    ws: str
    store: str
    civ: str | None
    at: str  # ISO UTC, ms, Z
    rating: int

    @property
    def day(self) -> str:
        return self.at[:10]


def put_feedback(fb: Fb) -> None:
    """Store a feedback record exactly as the submit path does (its item layout and keys)."""
    from revisit.dal import feedback, table

    record = {
        "id": fb.id,
        "workspaceId": fb.ws,
        "storeSlug": fb.store,
        "rating": fb.rating,
        "createdAt": fb.at,
        "payload": {},
        "tokenKind": "one_time",
        **({"civ": fb.civ, "civSource": "token"} if fb.civ else {}),
    }
    table.client.put_item(
        TableName=table.TABLE,
        Item=table.serialize(feedback.to_item(record)),
        ConditionExpression="attribute_not_exists(pk)",
    )


class Stream:
    """The table's DynamoDB stream read with the real dynamodbstreams API (moto), from
    TRIM_HORIZON, converted to Lambda's event record shape by the local stack's converter."""

    def __init__(self, table_name: str) -> None:
        ddb = boto3.client("dynamodb", region_name=REGION)
        self.arn = ddb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self.client = boto3.client("dynamodbstreams", region_name=REGION)
        shards = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        self.iterators = {
            s["ShardId"]: self.client.get_shard_iterator(
                StreamArn=self.arn, ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for s in shards
        }

    def read_all(self) -> list[dict[str, Any]]:
        """Every record written since the last read, unfiltered."""
        out: list[dict[str, Any]] = []
        for shard_id in list(self.iterators):
            while True:
                resp = self.client.get_records(ShardIterator=self.iterators[shard_id], Limit=1000)
                out.extend(lambda_record(r, self.arn, REGION) for r in resp["Records"])
                if resp.get("NextShardIterator"):
                    self.iterators[shard_id] = resp["NextShardIterator"]
                if not resp["Records"] or not resp.get("NextShardIterator"):
                    break
        return out

    def read(self) -> list[dict[str, Any]]:
        """What the event source mapping delivers: the template's FilterCriteria applied."""
        return [r for r in self.read_all() if matches_filters(STREAM_EVENT.filters, r)]


@pytest.fixture
def stream(table):
    return Stream(os.environ["TABLE_NAME"])


# ------------------------------------------------------------------ delivering like Lambda


def invoke_aggregator(records: list[dict[str, Any]]) -> dict[str, Any]:
    return function("aggregator").lambda_handler({"Records": copy.deepcopy(records)}, Context())


def deliver(records: list[dict[str, Any]]) -> int:
    """Deliver a batch as Lambda does with ReportBatchItemFailures + BisectBatchOnFunctionError:
    a reported failure is retried from the first failed record (the whole suffix is replayed),
    a failed invocation is bisected and each half retried. Returns the number of invocations."""
    invocations = 0
    pending = [records]
    while pending:
        batch = pending.pop(0)
        if not batch:
            continue
        invocations += 1
        try:
            result = invoke_aggregator(batch)
        except BatchProcessingError:
            if len(batch) == 1:
                pending.insert(0, batch)  # retried until it succeeds (bounded by the test's faults)
            else:
                half = len(batch) // 2
                pending[:0] = [batch[:half], batch[half:]]
            continue
        failed = [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
        if failed:
            sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
            first = min(sequence.index(i) for i in failed)
            pending.insert(0, batch[first:])
        assert invocations < 1000
    return invocations


# ------------------------------------------------------------------ the state, and its oracle


def aggregate_state(client: Any, ws: str) -> dict[str, Any]:
    """Every aggregate item of one workspace, normalised (a test-only Scan)."""
    state: dict[str, Any] = {"days": {}, "activity": {}, "customers": {}, "watch": {}, "markers": Counter()}
    from revisit.dal import table

    pages = client.get_paginator("scan").paginate(TableName=table.TABLE)
    for page in pages:
        for raw in page["Items"]:
            item = table.deserialize(raw)
            if item.get("workspaceId") != ws or not str(item.get("type", "")).startswith("agg_"):
                continue
            store = item["storeSlug"]
            fields = {k: v for k, v in item.items() if k not in ("pk", "sk", "type", "workspaceId", "storeSlug")}
            if item["type"] == "agg_day":
                counters = {k: v for k, v in fields.items() if k != "day" and v != 0}
                if counters:
                    state["days"][(store, item["day"])] = counters
            elif item["type"] == "agg_activity":
                state["activity"][(store, item["day"], item["civ"])] = item["visits"]
            elif item["type"] == "agg_customer":
                state["customers"][(store, item["civ"])] = fields
            elif item["type"] == "agg_watch":
                state["watch"][(store, item["civ"])] = fields
            elif item["type"] == "agg_marker":
                state["markers"][(item["source"], item["recordId"])] += 1
    return state


def _order(fb: Fb) -> tuple[str, str]:
    return (fb.at, fb.id)


def customers_of(fbs: list[Fb]) -> dict[tuple[str, str, str], list[Fb]]:
    """(ws, store, civ) -> that customer's visits at that store, oldest first."""
    out: dict[tuple[str, str, str], list[Fb]] = defaultdict(list)
    for fb in fbs:
        if fb.civ is not None:
            out[(fb.ws, fb.store, fb.civ)].append(fb)
    return {k: sorted(v, key=_order) for k, v in out.items()}


def oracle_watch(visits: list[Fb]) -> dict[str, Any] | None:
    """The growing-dissatisfied rule, by brute force: the 3 latest visits vs all earlier ones."""
    if len(visits) < 5:
        return None
    recent, earlier = visits[-3:], visits[:-3]
    rs, es, ec = sum(v.rating for v in recent), sum(v.rating for v in earlier), len(earlier)
    if rs * ec > (es - ec) * 3:  # recentAvg > earlierAvg - 1
        return None
    return {
        "civ": visits[0].civ,
        "visitCount": len(visits),
        "earlierSum": es,
        "earlierCount": ec,
        "recentSum": rs,
        "recentCount": 3,
        "recentRatings": [v.rating for v in reversed(recent)],
        "lastVisitAt": visits[-1].at,
    }


def oracle_state(fbs: list[Fb], ws: str) -> dict[str, Any]:
    fbs = [fb for fb in fbs if fb.ws == ws]
    customers = customers_of(fbs)
    firsts = {visits[0].id for visits in customers.values()}
    days: dict[tuple[str, str], Counter] = defaultdict(Counter)
    activity: Counter = Counter()
    for fb in fbs:
        c = days[(fb.store, fb.day)]
        c["total"] += 1
        c[f"r{fb.rating}"] += 1
        if fb.civ is None:
            c["anonymous"] += 1
            continue
        kind = "first" if fb.id in firsts else "return"
        c[f"{kind}Count"] += 1
        c[f"{kind}Sum"] += fb.rating
        c[f"{kind}Csat"] += 1 if fb.rating >= 4 else 0
        activity[(fb.store, fb.day, fb.civ)] += 1
    state: dict[str, Any] = {
        "days": {k: {n: v for n, v in c.items() if v} for k, c in days.items()},
        "activity": dict(activity),
        "customers": {},
        "watch": {},
        "markers": Counter(("feedback", fb.id) for fb in fbs),
    }
    for (_, store, civ), visits in customers.items():
        state["customers"][(store, civ)] = {
            "civ": civ,
            "visitCount": len(visits),
            "ratingSum": sum(v.rating for v in visits),
            "firstVisitAt": visits[0].at,
            "firstRating": visits[0].rating,
            "firstFeedbackId": visits[0].id,
            "recent": [{"at": v.at, "rating": v.rating, "id": v.id} for v in reversed(visits[-3:])],
            "version": len(visits),
        }
        watch = oracle_watch(visits)
        if watch:
            state["watch"][(store, civ)] = watch
    return state


def assert_state_matches(client: Any, fbs: list[Fb], ws: str) -> None:
    actual, expected = aggregate_state(client, ws), oracle_state(fbs, ws)
    for part in ("days", "activity", "customers", "watch", "markers"):
        assert actual[part] == expected[part], part


def _round(num: int, den: int, places: int) -> float | None:
    if den == 0:
        return None
    exact = Decimal(num) / Decimal(den)
    return float(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def oracle_dashboard(fbs: list[Fb], ws: str, store: str, day_from: str, day_to: str) -> dict[str, Any]:
    """Every dashboard field, by brute force over the raw feedback (docs/metrics.md)."""
    mine = [fb for fb in fbs if fb.ws == ws and fb.store == store]
    customers = customers_of(mine)
    first_ids = {visits[0].id for visits in customers.values()}
    period = [fb for fb in mine if day_from <= fb.day <= day_to]
    identified = [fb for fb in period if fb.civ is not None]
    per_civ = Counter(fb.civ for fb in identified)
    firsts = [fb.rating for fb in identified if fb.id in first_ids]
    returns = [fb.rating for fb in identified if fb.id not in first_ids]

    def block(ratings: list[int]) -> dict[str, Any]:
        return {
            "count": len(ratings),
            "avgRating": _round(sum(ratings), len(ratings), 2),
            "csatPercent": _round(100 * sum(1 for r in ratings if r >= 4), len(ratings), 1),
        }

    fc, fs, rc, rs = len(firsts), sum(firsts), len(returns), sum(returns)
    signal: dict[str, Any] = {"direction": None, "delta": None, "threshold": 0.1, "minSample": 30, "note": None}
    if fc and rc:
        num, den = rs * fc - fs * rc, rc * fc  # returnAvg - firstAvg = num / den
        signal["delta"] = _round(num, den, 2)
        signal["direction"] = "consistent" if abs(num) * 10 < den else ("higher" if num > 0 else "lower")
        if fc < 30 or rc < 30:
            signal["note"] = (
                f"Small sample: {fc} first and {rc} return visits; with fewer than 30 of "
                "either the difference may be chance."
            )
    else:
        missing = " and ".join(n for n, k in (("first", fc), ("return", rc)) if not k)
        signal["note"] = f"No {missing} visits in this period: nothing to compare."

    watched = []
    for (_, _, civ), visits in customers.items():
        w = oracle_watch(visits)
        if w and day_from <= w["lastVisitAt"][:10] <= day_to:
            drop = Fraction(w["earlierSum"], w["earlierCount"]) - Fraction(w["recentSum"], 3)
            watched.append((drop, w["lastVisitAt"], civ, w))
    watched.sort(key=lambda t: t[2])
    watched.sort(key=lambda t: t[1], reverse=True)
    watched.sort(key=lambda t: t[0], reverse=True)
    from datetime import date

    days = (date.fromisoformat(day_to) - date.fromisoformat(day_from)).days + 1
    return {
        "storeSlug": store,
        "period": {"from": day_from, "to": day_to, "days": days},
        "totalFeedback": len(period),
        "anonymousFeedback": len(period) - len(identified),
        "identifiedFeedback": len(identified),
        "ratingDistribution": {str(r): sum(1 for fb in period if fb.rating == r) for r in range(1, 6)},
        "identifiedCustomers": len(per_civ),
        "returningCustomers": sum(1 for n in per_civ.values() if n > 1),
        "returnRate": _round(100 * sum(1 for n in per_civ.values() if n > 1), len(per_civ), 1),
        "firstVisit": block(firsts),
        "returnVisit": block(returns),
        "loyaltySignal": signal,
        "growingDissatisfied": [
            {
                "civ": civ,
                "visitCount": w["visitCount"],
                "earlierAvg": _round(w["earlierSum"], w["earlierCount"], 2),
                "recentAvg": _round(w["recentSum"], 3, 2),
                "drop": _round(drop.numerator, drop.denominator, 2),
                "recentRatings": w["recentRatings"],
                "lastVisitAt": w["lastVisitAt"],
            }
            for drop, _, civ, w in watched
        ],
    }


# ------------------------------------------------------------------ tests

WS, STORE = "1042", "downtown-coffee"


def fb(civ: str | None, at: str, rating: int, store: str = STORE, ws: str = WS, fid: str | None = None) -> Fb:
    return Fb(fid or str(uuid.uuid4()), ws, store, civ, at, rating)


def write_and_read(stream: Stream, fbs: list[Fb]) -> list[dict[str, Any]]:
    for f in fbs:
        put_feedback(f)
    records = stream.read()
    assert len(records) == len(fbs)
    return records


def test_one_customer_history_is_aggregated(table, stream):
    fbs = [
        fb("CUST-1", "2026-03-01T09:00:00.000Z", 5),
        fb("CUST-1", "2026-03-01T18:00:00.000Z", 4),
        fb("CUST-1", "2026-03-03T09:00:00.000Z", 2),
        fb(None, "2026-03-03T10:00:00.000Z", 1),
    ]
    deliver(write_and_read(stream, fbs))
    state = aggregate_state(table, WS)
    assert state["days"] == {
        (STORE, "2026-03-01"): {
            "total": 2, "r5": 1, "r4": 1,
            "firstCount": 1, "firstSum": 5, "firstCsat": 1,
            "returnCount": 1, "returnSum": 4, "returnCsat": 1,
        },
        (STORE, "2026-03-03"): {
            "total": 2, "anonymous": 1, "r2": 1, "r1": 1, "returnCount": 1, "returnSum": 2,
        },
    }  # fmt: skip
    assert state["activity"] == {(STORE, "2026-03-01", "CUST-1"): 2, (STORE, "2026-03-03", "CUST-1"): 1}
    customer = state["customers"][(STORE, "CUST-1")]
    assert customer["visitCount"] == 3 and customer["ratingSum"] == 11 and customer["version"] == 3
    assert customer["firstVisitAt"] == "2026-03-01T09:00:00.000Z" and customer["firstRating"] == 5
    assert [r["rating"] for r in customer["recent"]] == [2, 4, 5]
    assert_state_matches(table, fbs, WS)


def test_redelivery_of_records_batches_and_suffixes_changes_nothing(table, stream):
    fbs = [fb(f"C{i % 3}", f"2026-03-0{1 + i % 4}T1{i}:00:00.000Z", 1 + i % 5) for i in range(8)] + [
        fb(None, "2026-03-02T08:00:00.000Z", 3)
    ]
    records = write_and_read(stream, fbs)
    deliver(records)
    before = aggregate_state(table, WS)
    assert_state_matches(table, fbs, WS)
    deliver(records)  # the whole batch again
    deliver(records[4:])  # a suffix, as after a reported failure
    deliver(records[:2])  # a bisected half
    deliver([records[3]] * 3)  # one record, three times in one batch
    assert aggregate_state(table, WS) == before
    assert_state_matches(table, fbs, WS)


def test_outcomes_are_counted_per_batch(table, stream, monkeypatch):
    from revisit.domain import analytics

    seen: list[str] = []
    real = analytics.apply_record
    monkeypatch.setattr(analytics, "apply_record", lambda n, i: seen.append(real(n, i)) or seen[-1])
    records = write_and_read(stream, [fb("C1", "2026-03-01T09:00:00.000Z", 5), fb(None, "2026-03-01T09:01:00Z", 2)])
    assert invoke_aggregator(records) == {"batchItemFailures": []}
    assert invoke_aggregator(records) == {"batchItemFailures": []}
    assert seen == ["applied", "applied", "duplicate", "duplicate"]


def test_a_late_older_record_becomes_the_first_visit(table, stream):
    """First visit = earliest createdAt, not earliest arrival: the counters move when an older
    record arrives late (a retried record after its successors, or a bisected batch)."""
    older = fb("CUST-9", "2026-03-01T09:00:00.000Z", 5)
    newer = fb("CUST-9", "2026-03-04T09:00:00.000Z", 2)
    rec_older, rec_newer = write_and_read(stream, [older, newer])
    deliver([rec_newer])
    days = aggregate_state(table, WS)["days"]
    assert days[(STORE, "2026-03-04")] == {"total": 1, "r2": 1, "firstCount": 1, "firstSum": 2}
    deliver([rec_older])
    days = aggregate_state(table, WS)["days"]
    assert days[(STORE, "2026-03-04")] == {"total": 1, "r2": 1, "returnCount": 1, "returnSum": 2}
    assert days[(STORE, "2026-03-01")] == {"total": 1, "r5": 1, "firstCount": 1, "firstSum": 5, "firstCsat": 1}
    assert_state_matches(table, [older, newer], WS)


def test_reclassification_on_the_same_day_is_one_update(table, stream):
    """The new first visit and the re-counted former one share a day item: one Update of it."""
    a = fb("C", "2026-03-01T09:00:00.000Z", 5, fid="b-later-id")
    b = fb("C", "2026-03-01T09:00:00.000Z", 3, fid="a-earlier-id")  # same instant: the id decides
    ra, rb = write_and_read(stream, [a, b])
    deliver([ra])
    deliver([rb])
    assert aggregate_state(table, WS)["days"][(STORE, "2026-03-01")] == {
        "total": 2, "r5": 1, "r3": 1,
        "firstCount": 1, "firstSum": 3, "returnCount": 1, "returnSum": 5, "returnCsat": 1,
    }  # fmt: skip
    assert aggregate_state(table, WS)["customers"][(STORE, "C")]["firstFeedbackId"] == "a-earlier-id"


def test_other_records_are_skipped_and_own_writes_never_pass_the_filter(table, stream, world):
    """Delivered unfiltered (every insert, modify and remove of the table, the aggregator's own
    writes included), only feedback inserts count; and none of the aggregator's writes matches
    the template's FilterCriteria, so in AWS it is never invoked for them."""
    from revisit.dal import table as t

    stream.read_all()  # the world's items
    fbs = [fb("C1", "2026-03-01T09:00:00.000Z", 5), fb("C1", "2026-03-02T09:00:00.000Z", 4)]
    for f in fbs:
        put_feedback(f)
    nps = {"pk": "NPS#1042#x", "sk": "META", "type": "nps_review", "id": "n1", "rate": 9}
    t.client.put_item(TableName=t.TABLE, Item=t.serialize(nps))
    t.client.update_item(
        TableName=t.TABLE,
        Key=t.serialize({"pk": "NPS#1042#x", "sk": "META"}),
        UpdateExpression="SET rate = :r",
        ExpressionAttributeValues={":r": t.value(10)},
    )
    t.client.delete_item(TableName=t.TABLE, Key=t.serialize({"pk": "NPS#1042#x", "sk": "META"}))
    everything = stream.read_all()
    assert len(everything) == 5
    assert invoke_aggregator(everything) == {"batchItemFailures": []}
    assert_state_matches(table, fbs, WS)

    own = stream.read_all()  # what the aggregator wrote: markers, counters, states, ...
    assert own and {r["eventName"] for r in own} <= {"INSERT", "MODIFY"}
    assert not [r for r in own if matches_filters(STREAM_EVENT.filters, r)]
    assert invoke_aggregator(own) == {"batchItemFailures": []}  # and if delivered anyway: skipped
    assert_state_matches(table, fbs, WS)


def test_incomplete_nps_reviews_are_invalid_not_failed(table):
    from revisit.domain import analytics

    assert analytics.apply_record("INSERT", {"type": "nps_review", "id": "n", "rate": 9}) == "invalid"
    assert analytics.apply_record("MODIFY", {"type": "feedback"}) == "skipped"
    assert analytics.apply_record("REMOVE", {}) == "skipped"


@pytest.mark.parametrize(
    "change",
    [{"rating": 7}, {"rating": "5"}, {"rating": Decimal("4.5")}, {"createdAt": "yesterday"}, {"civ": 42}, {"id": None}],
)
def test_a_malformed_feedback_record_is_logged_and_skipped(table, stream, change):
    from revisit.domain import analytics

    image = {
        "type": "feedback",
        "id": "x",
        "workspaceId": WS,
        "storeSlug": STORE,
        "rating": Decimal(5),
        "createdAt": "2026-03-01T09:00:00.000Z",
    }
    assert analytics.apply_record("INSERT", {**image, **change}) == "invalid"
    assert analytics.apply_record("INSERT", image) == "applied"


def test_a_failed_record_is_reported_and_its_suffix_replayed(table, stream, monkeypatch):
    from revisit.dal import analytics as dal

    fbs = [fb(f"C{i % 2}", f"2026-03-0{1 + i}T09:00:00.000Z", 1 + i) for i in range(5)]
    records = write_and_read(stream, fbs)
    real, failures = dal.apply, {fbs[2].id}

    def flaky(change):
        if change.record_id in failures:
            failures.discard(change.record_id)
            raise RuntimeError("throttled")
        return real(change)

    monkeypatch.setattr(dal, "apply", flaky)
    result = invoke_aggregator(records)
    assert result == {"batchItemFailures": [{"itemIdentifier": records[2]["dynamodb"]["SequenceNumber"]}]}
    invoke_aggregator(records[2:])  # Lambda retries from the failed record: 3 and 4 come again
    assert_state_matches(table, fbs, WS)


def test_a_batch_that_fails_entirely_is_bisected_and_converges(table, stream, monkeypatch):
    from revisit.dal import analytics as dal

    fbs = [fb("C", f"2026-03-0{1 + i}T09:00:00.000Z", 5 - i) for i in range(4)]
    records = write_and_read(stream, fbs)
    real, failures = dal.apply, Counter({f.id: 2 for f in fbs})

    def flaky(change):
        if failures[change.record_id]:
            failures[change.record_id] -= 1
            raise RuntimeError("throttled")
        return real(change)

    monkeypatch.setattr(dal, "apply", flaky)
    assert deliver(records) > 2
    assert_state_matches(table, fbs, WS)


def test_a_concurrent_change_of_the_customer_is_retried(table, stream, monkeypatch):
    """Optimistic concurrency: the customer state changes between read and write (another
    container applied a visit); the version condition fails, the record is re-planned."""
    from revisit.dal import analytics as dal
    from revisit.domain import analytics

    first = fb("C", "2026-03-01T09:00:00.000Z", 5)
    second = fb("C", "2026-03-02T09:00:00.000Z", 3)
    third = fb("C", "2026-03-03T09:00:00.000Z", 4)
    rec1, rec2, rec3 = write_and_read(stream, [first, second, third])
    deliver([rec1])
    real_get, sneaked = dal.get_customer, []

    def racing_get(ws, store, civ):
        state = real_get(ws, store, civ)
        if not sneaked:
            sneaked.append(True)
            analytics.apply_visit(analytics.visit_of("INSERT", _image(rec3)))
        return state

    monkeypatch.setattr(dal, "get_customer", racing_get)
    deliver([rec2])
    deliver([rec3])  # already applied by the "other container": a duplicate
    assert_state_matches(table, [first, second, third], WS)


def _image(record: dict[str, Any]) -> dict[str, Any]:
    from revisit.dal import table

    return table.deserialize(record["dynamodb"]["NewImage"])


def test_watch_list_entry_comes_and_goes(table, stream):
    """5★ 5★ then 3★ 3★ 3★: growing dissatisfied; then 5★ 5★: recovered, the entry is deleted."""
    ratings = [5, 5, 3, 3, 3, 5, 5]
    fbs = [fb("LOYAL", f"2026-03-0{1 + i}T09:00:00.000Z", r) for i, r in enumerate(ratings)]
    records = write_and_read(stream, fbs)
    deliver(records[:5])
    assert aggregate_state(table, WS)["watch"][(STORE, "LOYAL")] == {
        "civ": "LOYAL",
        "visitCount": 5,
        "earlierSum": 10,
        "earlierCount": 2,
        "recentSum": 9,
        "recentCount": 3,
        "recentRatings": [3, 3, 3],
        "lastVisitAt": "2026-03-05T09:00:00.000Z",
    }
    deliver(records[5:])
    assert aggregate_state(table, WS)["watch"] == {}
    assert_state_matches(table, fbs, WS)


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter = Counter()

    def __call__(self, model, **_: Any) -> None:
        self.calls[model.name] += 1


@pytest.fixture
def dynamodb_calls():
    from revisit.dal import table

    counter = CallCounter()
    table.client.meta.events.register("before-call.dynamodb", counter)
    yield counter
    table.client.meta.events.unregister("before-call.dynamodb", counter)


def test_dynamodb_calls_per_record(table, stream, dynamodb_calls):
    """Identified: 1 GetItem + 1 TransactWriteItems. Anonymous: 1 TransactWriteItems.
    A redelivery costs the same and changes nothing (its transaction is cancelled)."""
    identified = [fb(f"C{i}", f"2026-03-01T09:0{i}:00.000Z", 4) for i in range(5)]
    repeat = [fb(f"C{i}", f"2026-03-02T09:0{i}:00.000Z", 2) for i in range(5)]
    anonymous = [fb(None, f"2026-03-01T10:0{i}:00.000Z", 3) for i in range(5)]
    r1, r2, r3 = (write_and_read(stream, group) for group in (identified, repeat, anonymous))

    for records, expected in ((r1, {"GetItem": 5, "TransactWriteItems": 5}),
                              (r2, {"GetItem": 5, "TransactWriteItems": 5}),
                              (r3, {"TransactWriteItems": 5}),
                              (r1 + r3, {"GetItem": 5, "TransactWriteItems": 10})):  # fmt: skip
        dynamodb_calls.calls.clear()
        deliver(records)
        assert dict(dynamodb_calls.calls) == expected


def test_sample_event_is_applied_once(table):
    """events/aggregator_stream.json (sam local invoke AggregatorFunction -e ...) applies two
    visits; invoking it again applies nothing."""
    event = sample_event("aggregator_stream")
    assert function("aggregator").lambda_handler(event, Context()) == {"batchItemFailures": []}
    state = aggregate_state(table, "1042")
    assert state["days"] == {
        ("downtown-coffee", "2026-03-02"): {
            "total": 2, "anonymous": 1, "r5": 1, "r3": 1, "firstCount": 1, "firstSum": 5, "firstCsat": 1,
        }
    }  # fmt: skip
    assert function("aggregator").lambda_handler(sample_event("aggregator_stream"), Context()) == {
        "batchItemFailures": []
    }
    assert aggregate_state(table, "1042") == state
