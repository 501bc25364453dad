"""Loyalty-analytics test helpers: the table's real stream, delivery with Lambda's retry
semantics, a dump of the aggregate state, and the brute-force oracle it is compared with.

Shared by the aggregator, dashboard, property and NPS-score tests.
"""

from __future__ import annotations

import copy
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import boto3
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from revisit_dev.streams import lambda_record, matches_filters
from revisit_dev.template import load_template
from tests.support import Context, function

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
    state: dict[str, Any] = {
        "days": {},
        "hours": {},
        "activity": {},
        "customers": {},
        "watch": {},
        "markers": Counter(),
    }
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
            elif item["type"] == "agg_hours":
                assert item["sk"] == f"HOURS#{item['day']}", item["sk"]
                counters = {k: v for k, v in fields.items() if k != "day" and v != 0}
                if counters:
                    state["hours"][(store, item["day"])] = counters
            elif item["type"] == "agg_activity":
                state["activity"][(store, item["day"], item["civ"])] = item["visits"]
            elif item["type"] == "agg_customer":
                state["customers"][(store, item["civ"])] = fields
            elif item["type"] == "agg_watch":
                assert (store, item["civ"]) not in state["watch"], f"two watch-list entries for {item['civ']}"
                assert item["sk"].startswith(f"WATCH#{item['lastVisitAt'][:10]}#"), item["sk"]
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
    hours: dict[tuple[str, str], Counter] = defaultdict(Counter)  # hHH:<counter> of each UTC day
    activity: Counter = Counter()
    for fb in fbs:
        c = days[(fb.store, fb.day)]
        h = hours[(fb.store, fb.day)]
        hour = f"h{fb.at[11:13]}:"
        c["total"] += 1
        c[f"r{fb.rating}"] += 1
        h[f"{hour}r{fb.rating}"] += 1
        if fb.civ is None:
            c["anonymous"] += 1
            continue
        kind = "first" if fb.id in firsts else "return"
        h[f"{hour}{kind}Count"] += 1
        h[f"{hour}{kind}Sum"] += fb.rating
        c[f"{kind}Count"] += 1
        c[f"{kind}Sum"] += fb.rating
        c[f"{kind}Sq"] += fb.rating * fb.rating
        c[f"{kind}Csat"] += 1 if fb.rating >= 4 else 0
        activity[(fb.store, fb.day, fb.civ)] += 1
    state: dict[str, Any] = {
        "days": {k: {n: v for n, v in c.items() if v} for k, c in days.items()},
        "hours": {k: {n: v for n, v in c.items() if v} for k, c in hours.items()},
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
    for part in ("days", "hours", "activity", "customers", "watch", "markers"):
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


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter = Counter()

    def __call__(self, model, **_: Any) -> None:
        self.calls[model.name] += 1


# ------------------------------------------------------------------ the series' oracle


def oracle_bucket_start(day: str, zone_name: str) -> datetime:
    """The UTC hour a bucket starting on local ``day`` starts at, by brute force: the first UTC
    quarter hour whose local date is ``day`` or later (every zone's offset is a multiple of 15
    minutes nowadays), floored to its UTC hour (docs/metrics.md, "Series")."""
    zone = ZoneInfo(zone_name)
    target = date.fromisoformat(day)
    t = datetime(target.year, target.month, target.day, tzinfo=UTC) - timedelta(hours=15)
    while t.astimezone(zone).date() < target:
        t += timedelta(minutes=15)
    return t.replace(minute=0)


def oracle_buckets(day_from: str, day_to: str, interval: str) -> list[tuple[str, str]]:
    """(first, last) local dates of every bucket: the period's dates grouped by calendar day,
    ISO week or month."""
    first, last = date.fromisoformat(day_from), date.fromisoformat(day_to)
    groups: list[list[date]] = []
    key = None
    d = first
    while d <= last:
        k = d if interval == "day" else d.isocalendar()[:2] if interval == "week" else (d.year, d.month)
        if k != key:
            groups.append([])
            key = k
        groups[-1].append(d)
        d += timedelta(days=1)
    return [(g[0].isoformat(), g[-1].isoformat()) for g in groups]


def oracle_series(
    visits: list[Fb], rates: dict[str, int], ws: str, store: str, zone: str, day_from: str, day_to: str, interval: str
) -> dict[str, Any]:
    """GET /api/external/dashboard/series by brute force over the raw visits (an NPS review is a
    visit whose id is in ``rates``): scipy / statsmodels for the intervals."""
    from tests.unit.test_analytics_ci import ci_mean, ci_nps, ci_wilson

    mine = [v for v in visits if v.ws == ws and v.store == store]
    first_ids = {vs[0].id for vs in customers_of(mine).values()}
    out = []
    for first, last in oracle_buckets(day_from, day_to, interval):
        starts = oracle_bucket_start(first, zone)
        ends = oracle_bucket_start((date.fromisoformat(last) + timedelta(days=1)).isoformat(), zone)
        inside = []
        for v in mine:
            hour = datetime.fromisoformat(v.at.replace("Z", "+00:00")).replace(minute=0, second=0, microsecond=0)
            if starts <= hour < ends:
                inside.append(v)
        ratings = [v.rating for v in inside]
        firsts = [v.rating for v in inside if v.civ is not None and v.id in first_ids]
        returns = [v.rating for v in inside if v.civ is not None and v.id not in first_ids]
        nps = [rates[v.id] for v in inside if v.id in rates]
        p, d = sum(r >= 9 for r in nps), sum(r <= 6 for r in nps)
        csat = sum(r >= 4 for r in ratings)
        out.append(
            {
                "start": first,
                "end": last,
                "startsAt": starts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "endsAt": ends.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "count": len(ratings),
                "avgRating": _round(sum(ratings), len(ratings), 2),
                "avgRatingCi95": ci_mean(ratings),
                "csatPercent": _round(100 * csat, len(ratings), 1),
                "csatPercentCi95": ci_wilson(csat, len(ratings)),
                "firstVisit": {"count": len(firsts), "avgRating": _round(sum(firsts), len(firsts), 2)},
                "returnVisit": {"count": len(returns), "avgRating": _round(sum(returns), len(returns), 2)},
                "nps": {
                    "responses": len(nps),
                    "score": _round(100 * (p - d), len(nps), 1),
                    "scoreCi95": ci_nps(nps),
                },
            }
        )
    days = (date.fromisoformat(day_to) - date.fromisoformat(day_from)).days + 1
    return {
        "storeSlug": store,
        "timezone": zone,
        "interval": interval,
        "period": {"from": day_from, "to": day_to, "days": days},
        "buckets": out,
    }
