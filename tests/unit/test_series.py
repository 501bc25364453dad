"""GET /api/external/dashboard/series (issue 16 part 2): buckets of the store's local calendar from
the hour counters - the worked example, DST, quarter-hour zones, weeks and months, empty buckets,
the re-classified first visit, validation, access, and a cost that does not grow with the records."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta

import boto3
import pytest

from revisit.domain.util import iso
from tests.analytics_support import (
    STORE,
    WS,
    CallCounter,
    Stream,
    aggregate_state,
    deliver,
    fb,
    oracle_series,
    oracle_state,
    write_and_read,
)
from tests.support import api_event, invoke
from tests.unit.test_dashboard import WORKED_EXAMPLE

PATH = "/api/external/dashboard/series"


@pytest.fixture
def feed(table) -> Stream:
    return Stream(os.environ["TABLE_NAME"])


def series(headers: dict[str, str], **query: str):
    return invoke("dashboard", api_event("GET", PATH, headers=headers, query=query or None))


def _zone(slug: str, zone: str) -> None:
    from revisit.domain import workspaces

    workspaces.create_store(WS, slug, slug.title(), zone)


def _period(lo: str, hi: str, interval: str = "day") -> dict[str, str]:
    return {"from": lo, "to": hi, "interval": interval}


def test_worked_example_per_day_week_and_month(world, feed):
    """docs/metrics.md's history at downtown-coffee (Europe/Paris, UTC+1 in March before the 29th)."""
    fbs = [fb(civ, at, rating) for civ, at, rating in WORKED_EXAMPLE]
    deliver(write_and_read(feed, fbs))
    key = {"x-api-key": world.workspace_key}
    reply = series(key, storeSlug=STORE, **_period("2026-03-01", "2026-03-05"))
    assert reply.status == 200, reply.text
    body = reply.json
    assert body == oracle_series(fbs, {}, WS, STORE, "Europe/Paris", "2026-03-01", "2026-03-05", "day")
    assert [b["count"] for b in body["buckets"]] == [0, 2, 3, 2, 2]
    assert body["buckets"][0]["startsAt"] == "2026-02-28T23:00:00.000Z"  # local midnight, UTC+1
    march_2 = body["buckets"][1]
    assert march_2["avgRating"] == 3.5 and march_2["firstVisit"] == {"count": 1, "avgRating": 4.0}
    assert march_2["returnVisit"] == {"count": 1, "avgRating": 3.0}
    empty = body["buckets"][0]
    assert empty == {
        "start": "2026-03-01",
        "end": "2026-03-01",
        "startsAt": "2026-02-28T23:00:00.000Z",
        "endsAt": "2026-03-01T23:00:00.000Z",
        "count": 0,
        "avgRating": None,
        "avgRatingCi95": None,
        "csatPercent": None,
        "csatPercentCi95": None,
        "firstVisit": {"count": 0, "avgRating": None},
        "returnVisit": {"count": 0, "avgRating": None},
        "nps": {"responses": 0, "score": None, "scoreCi95": None},
    }
    # The 12 visits in one month bucket and in weeks (2026-02-16 is a Monday).
    for interval in ("week", "month"):
        reply = series(key, storeSlug=STORE, **_period("2026-02-16", "2026-03-08", interval))
        assert reply.json == oracle_series(fbs, {}, WS, STORE, "Europe/Paris", "2026-02-16", "2026-03-08", interval)
    weeks = series(key, storeSlug=STORE, **_period("2026-02-16", "2026-03-08", "week")).json["buckets"]
    assert [(b["start"], b["end"], b["count"]) for b in weeks] == [
        ("2026-02-16", "2026-02-22", 1),
        ("2026-02-23", "2026-03-01", 2),
        ("2026-03-02", "2026-03-08", 9),
    ]
    months = series(key, storeSlug=STORE, **_period("2026-02-16", "2026-03-08", "month")).json["buckets"]
    assert [(b["start"], b["end"], b["count"]) for b in months] == [
        ("2026-02-16", "2026-02-28", 3),
        ("2026-03-01", "2026-03-08", 9),
    ]


def test_dst_boundaries_each_on_their_own(world, feed):
    """Europe/Paris springs forward on 2026-03-29 (a 23-hour day) and falls back on 2026-10-25 (25)."""
    fbs = [
        fb("a", "2026-03-28T22:59:00.000Z", 5),  # 23:59 local on the 28th
        fb("a", "2026-03-28T23:00:00.000Z", 4),  # midnight of the 29th (UTC+1)
        fb("b", "2026-03-29T21:59:00.000Z", 3),  # 23:59 local (UTC+2)
        fb("b", "2026-03-29T22:00:00.000Z", 2),  # midnight of the 30th
        fb(None, "2026-10-24T21:59:00.000Z", 1),  # 23:59 on the 24th (UTC+2)
        fb(None, "2026-10-25T22:30:00.000Z", 5),  # 23:30 on the 25th (UTC+1): a 25-hour day
        fb(None, "2026-10-25T23:00:00.000Z", 4),  # midnight of the 26th
    ]
    deliver(write_and_read(feed, fbs))
    key = {"x-api-key": world.workspace_key}
    spring = series(key, storeSlug=STORE, **_period("2026-03-28", "2026-03-30")).json
    assert [(b["startsAt"], b["endsAt"], b["count"]) for b in spring["buckets"]] == [
        ("2026-03-27T23:00:00.000Z", "2026-03-28T23:00:00.000Z", 1),
        ("2026-03-28T23:00:00.000Z", "2026-03-29T22:00:00.000Z", 2),
        ("2026-03-29T22:00:00.000Z", "2026-03-30T22:00:00.000Z", 1),
    ]
    autumn = series(key, storeSlug=STORE, **_period("2026-10-24", "2026-10-26")).json
    assert [(b["startsAt"], b["endsAt"], b["count"]) for b in autumn["buckets"]] == [
        ("2026-10-23T22:00:00.000Z", "2026-10-24T22:00:00.000Z", 1),
        ("2026-10-24T22:00:00.000Z", "2026-10-25T23:00:00.000Z", 1),
        ("2026-10-25T23:00:00.000Z", "2026-10-26T23:00:00.000Z", 1),
    ]
    for lo, hi in (("2026-03-28", "2026-03-30"), ("2026-10-24", "2026-10-26")):
        expected = oracle_series(fbs, {}, WS, STORE, "Europe/Paris", lo, hi, "day")
        assert series(key, storeSlug=STORE, **_period(lo, hi)).json == expected


@pytest.mark.parametrize(
    ("zone", "starts"),
    [
        ("Asia/Kathmandu", "2026-03-01T18:00:00.000Z"),  # +05:45: local midnight is 18:15Z
        ("Asia/Kolkata", "2026-03-01T18:00:00.000Z"),  # +05:30: 18:30Z
        ("America/St_Johns", "2026-03-02T03:00:00.000Z"),  # -03:30: 03:30Z
    ],
)
def test_quarter_and_half_hour_zones_start_at_the_utc_hour_containing_local_midnight(world, feed, zone, starts):
    _zone("nepal", zone)
    boundary = datetime.fromisoformat(starts.replace("Z", "+00:00"))
    fbs = [
        fb("a", iso(boundary), 5, store="nepal"),  # 23:45 / 23:30 local: the hour holds midnight
        fb("a", iso(boundary + timedelta(minutes=59, seconds=59)), 4, store="nepal"),
        fb("b", iso(boundary - timedelta(milliseconds=1)), 3, store="nepal"),
    ]
    deliver(write_and_read(feed, fbs))
    reply = series({"x-api-key": world.workspace_key}, storeSlug="nepal", **_period("2026-03-01", "2026-03-02"))
    assert reply.status == 200, reply.text
    first, second = reply.json["buckets"]
    assert second["startsAt"] == first["endsAt"] == starts
    assert (first["count"], second["count"]) == (1, 2)  # the hour containing midnight is the new day's
    assert reply.json == oracle_series(fbs, {}, WS, "nepal", zone, "2026-03-01", "2026-03-02", "day")


def test_nps_reviews_count_in_their_hour(world, feed):
    from revisit.dal import nps as nps_dal

    review = {
        "id": 7001, "client": 1, "rate": 10, "channel": "web", "category": "visit", "respondentType": "x",
        "workspaceId": WS, "storeSlug": STORE, "shopId": world.shop_id, "createdAt": "2026-03-02T10:00:00.000Z",
        "civ": "a",
    }  # fmt: skip
    nps_dal.put_review(review)
    deliver(feed.read())
    body = series({"x-api-key": world.workspace_key}, storeSlug=STORE, **_period("2026-03-02", "2026-03-02")).json
    assert body["buckets"][0]["nps"] == {"responses": 1, "score": 100.0, "scoreCi95": None}
    assert body["buckets"][0]["count"] == 1 and body["buckets"][0]["avgRating"] == 5.0
    visit = fb("a", "2026-03-02T10:00:00.000Z", 5, fid="7001")
    assert body == oracle_series([visit], {"7001": 10}, WS, STORE, "Europe/Paris", "2026-03-02", "2026-03-02", "day")


def test_an_older_visit_arriving_late_moves_the_former_first_visit_in_its_hour(world, feed):
    late = fb("a", "2026-03-01T09:30:00.000Z", 2)
    fbs = [fb("a", "2026-03-03T17:10:00.000Z", 5), late]
    records = write_and_read(feed, fbs)
    deliver(records[:1])
    deliver(records[1:])  # the older one: it is the first visit, 2026-03-03 17h a return visit
    actual = aggregate_state(boto3.client("dynamodb", region_name="us-east-1"), WS)
    assert actual["hours"] == oracle_state(fbs, WS)["hours"]
    assert actual["hours"][(STORE, "2026-03-03")] == {
        "h17:r5": 1,
        "h17:returnCount": 1,
        "h17:returnSum": 5,
    }  # firstCount / firstSum of h17 went back to 0
    body = series({"x-api-key": world.store_key}, **_period("2026-03-01", "2026-03-03")).json
    assert [b["firstVisit"]["count"] for b in body["buckets"]] == [1, 0, 0]
    assert [b["returnVisit"]["count"] for b in body["buckets"]] == [0, 0, 1]
    deliver(records)  # replays change nothing
    assert aggregate_state(boto3.client("dynamodb", region_name="us-east-1"), WS) == actual


def test_default_period_is_the_30_local_days_ending_today(world):
    body = series({"x-api-key": world.store_key}).json
    assert body["interval"] == "day" and body["period"]["days"] == 30 and len(body["buckets"]) == 30
    assert body["timezone"] == "Europe/Paris"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"interval": "hour"}, "interval"),
        ({"interval": ""}, "interval"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "from"),  # 367 days
        ({"from": "2026-03-02", "to": "2026-03-01"}, "from"),
        ({"from": "2026-02-30"}, "from"),
        ({"from": "0001-01-01", "to": "0001-01-05"}, "from"),
        ({"from": "9999-12-28", "to": "9999-12-31"}, "to"),
        ({"to": "0001-01-10"}, "from"),  # the default 30 days would start before year 1 (was a 500)
        ({"storeSlug": "Bad Slug"}, "storeSlug"),
        ({"granularity": "day"}, "granularity"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(world, query, field):
    reply = series({"x-api-key": world.workspace_key}, **{"storeSlug": STORE, **query})
    assert reply.status == 400, reply.text
    assert reply.json["error"]["details"][0]["field"] == field


def test_a_year_and_a_day_is_fine(world):
    reply = series({"x-api-key": world.workspace_key}, storeSlug=STORE, **_period("2025-01-01", "2026-01-01", "week"))
    assert reply.status == 200, reply.text
    assert reply.json["period"]["days"] == 366
    assert reply.json["buckets"][0]["start"] == "2025-01-01" and reply.json["buckets"][-1]["end"] == "2026-01-01"


def test_access(world):
    assert series({"x-api-key": world.workspace_key}).status == 400  # storeSlug required
    assert series({"x-api-key": world.store_key}).json["storeSlug"] == STORE
    assert series({"x-api-key": world.store_key}, storeSlug=world.other_store).status == 403
    assert series({"x-api-key": world.workspace_key}, storeSlug="no-such-store").status == 404
    assert series({"x-api-key": world.foreign_key}, storeSlug="uptown-bakery").status == 404  # not theirs
    assert series(world.owner_headers(), storeSlug=STORE).status == 200
    assert series({}).status == 401


def test_cost_is_flat_in_the_number_of_records(world, feed):
    from revisit.dal import table

    key = {"x-api-key": world.workspace_key}
    period = _period("2025-03-01", "2026-03-01", "week")
    series(key, storeSlug=STORE, **period)  # the key and the store are cached from here
    calls = []
    for n in (5, 60):
        fbs = [
            fb(f"c{i % 7}", f"2026-0{1 + i % 2}-{1 + i % 28:02d}T{i % 24:02d}:15:00.000Z", 1 + i % 5) for i in range(n)
        ]
        deliver(write_and_read(feed, fbs))
        counter = CallCounter()
        table.client.meta.events.register("before-call.dynamodb", counter)
        try:
            assert series(key, storeSlug=STORE, **period).status == 200
        finally:
            table.client.meta.events.unregister("before-call.dynamodb", counter)
        calls.append(dict(counter.calls))
    assert calls[0] == calls[1]
    assert calls[0].get("Query") == 1 and "Scan" not in calls[0]


def test_docs_show_the_numbers_the_test_checks(world, feed):
    from tests.support import ROOT

    fbs = [fb(civ, at, rating) for civ, at, rating in WORKED_EXAMPLE]
    deliver(write_and_read(feed, fbs))
    weeks = series({"x-api-key": world.workspace_key}, storeSlug=STORE, **_period("2026-02-16", "2026-03-08", "week"))
    shown = json.dumps(weeks.json["buckets"][2])
    assert shown in (ROOT / "docs" / "metrics.md").read_text()
