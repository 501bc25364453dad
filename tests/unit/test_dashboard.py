"""GET /api/external/dashboard (seed 000): the worked example of docs/metrics.md, access,
validation, rounding, and a DynamoDB cost that does not grow with the number of feedback records."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from fractions import Fraction

import pytest

from tests.analytics_support import (
    STORE,
    WS,
    CallCounter,
    Stream,
    deliver,
    fb,
    write_and_read,
)
from tests.support import api_event, invoke, sample_event
from tests.unit.test_analytics_ci import oracle_dashboard_ci as oracle_dashboard

PATH = "/api/external/dashboard"


@pytest.fixture
def feed(table) -> Stream:
    """The table's feed, as the aggregator's event source mapping reads it."""
    return Stream(os.environ["TABLE_NAME"])


@pytest.fixture
def ddb_calls():
    from revisit.dal import table

    counter = CallCounter()
    table.client.meta.events.register("before-call.dynamodb", counter)
    yield counter
    table.client.meta.events.unregister("before-call.dynamodb", counter)


def dashboard(headers: dict[str, str], **query: str):
    return invoke("dashboard", api_event("GET", PATH, headers=headers, query=query or None))


def error_field(reply) -> str:
    assert reply.json["error"]["details"], reply.text
    return reply.json["error"]["details"][0]["field"]


# ------------------------------------------------------------------ docs/metrics.md, worked example

# (civ, createdAt, rating) - the history of docs/metrics.md, at downtown-coffee.
WORKED_EXAMPLE = [
    ("CUST-A", "2026-02-20T09:00:00.000Z", 5),
    ("CUST-A", "2026-02-25T09:00:00.000Z", 5),
    ("CUST-D", "2026-02-28T12:00:00.000Z", 5),
    ("CUST-A", "2026-03-02T09:00:00.000Z", 3),
    ("CUST-B", "2026-03-02T10:30:00.000Z", 4),
    ("CUST-A", "2026-03-03T09:00:00.000Z", 4),
    ("CUST-C", "2026-03-03T11:00:00.000Z", 2),
    (None, "2026-03-03T15:00:00.000Z", 1),
    ("CUST-B", "2026-03-04T08:15:00.000Z", 5),
    ("CUST-D", "2026-03-04T12:00:00.000Z", 4),
    ("CUST-A", "2026-03-05T09:00:00.000Z", 3),
    (None, "2026-03-05T17:45:00.000Z", 5),
]

NO_VISITS = {"count": 0, "avgRating": None, "avgRatingCi95": None, "csatPercent": None, "csatPercentCi95": None}

WORKED_MARCH_1_TO_5 = {
    "storeSlug": "downtown-coffee",
    "period": {"from": "2026-03-01", "to": "2026-03-05", "days": 5},
    "totalFeedback": 9,
    "anonymousFeedback": 2,
    "identifiedFeedback": 7,
    "ratingDistribution": {"1": 1, "2": 1, "3": 2, "4": 3, "5": 2},
    "identifiedCustomers": 4,
    "returningCustomers": 2,
    "returnRate": 50.0,
    "returnRateCi95": [15.0, 85.0],
    "firstVisit": {
        "count": 2,
        "avgRating": 3.0,
        "avgRatingCi95": [1.0, 5.0],
        "csatPercent": 50.0,
        "csatPercentCi95": [9.5, 90.5],
    },
    "returnVisit": {
        "count": 5,
        "avgRating": 3.8,
        "avgRatingCi95": [2.76, 4.84],
        "csatPercent": 60.0,
        "csatPercentCi95": [23.1, 88.2],
    },
    "loyaltySignal": {
        "direction": "higher",
        "delta": 0.8,
        "deltaCi95": [-4.0, 4.0],
        "significant": False,
        "threshold": 0.1,
        "minSample": 30,
        "note": "Inconclusive: return visits rate +0.80 against first visits, but the true difference could be "
        "anywhere from -4.00 to +4.00 (95 % interval), zero included: it may be chance.",
    },
    "growingDissatisfied": [
        {
            "civ": "CUST-A",
            "visitCount": 5,
            "earlierAvg": 5.0,
            "recentAvg": 3.33,
            "drop": 1.67,
            "recentRatings": [3, 4, 3],
            "lastVisitAt": "2026-03-05T09:00:00.000Z",
        }
    ],
}

WORKED_MARCH_4_TO_5 = {
    "storeSlug": "downtown-coffee",
    "period": {"from": "2026-03-04", "to": "2026-03-05", "days": 2},
    "totalFeedback": 4,
    "anonymousFeedback": 1,
    "identifiedFeedback": 3,
    "ratingDistribution": {"1": 0, "2": 0, "3": 1, "4": 1, "5": 2},
    "identifiedCustomers": 3,
    "returningCustomers": 0,
    "returnRate": 0.0,
    "returnRateCi95": [0.0, 56.1],
    "firstVisit": NO_VISITS,
    "returnVisit": {
        "count": 3,
        "avgRating": 4.0,
        "avgRatingCi95": [1.52, 5.0],
        "csatPercent": 66.7,
        "csatPercentCi95": [20.8, 93.9],
    },
    "loyaltySignal": {
        "direction": None,
        "delta": None,
        "deltaCi95": None,
        "significant": None,
        "threshold": 0.1,
        "minSample": 30,
        "note": "No first visits in this period: nothing to compare.",
    },
    "growingDissatisfied": WORKED_MARCH_1_TO_5["growingDissatisfied"],
}


@pytest.fixture
def worked(world, feed):
    fbs = [fb(civ, at, rating) for civ, at, rating in WORKED_EXAMPLE]
    deliver(write_and_read(feed, fbs))
    return world, fbs


def test_worked_example_of_the_docs(worked):
    world, fbs = worked
    key = {"x-api-key": world.workspace_key}
    reply = dashboard(key, storeSlug=STORE, **{"from": "2026-03-01", "to": "2026-03-05"})
    assert reply.status == 200, reply.text
    assert reply.json == WORKED_MARCH_1_TO_5
    assert reply.json == oracle_dashboard(fbs, WS, STORE, "2026-03-01", "2026-03-05")

    reply = dashboard(key, storeSlug=STORE, **{"from": "2026-03-04", "to": "2026-03-05"})
    assert reply.json == WORKED_MARCH_4_TO_5
    assert reply.json == oracle_dashboard(fbs, WS, STORE, "2026-03-04", "2026-03-05")

    # A period before CUST-A drifted and before anyone came back: no one is listed.
    reply = dashboard(key, storeSlug=STORE, **{"from": "2026-02-20", "to": "2026-02-28"})
    assert reply.json["growingDissatisfied"] == []
    assert reply.json["firstVisit"] == {
        "count": 2, "avgRating": 5.0, "avgRatingCi95": None, "csatPercent": 100.0, "csatPercentCi95": [34.2, 100.0]
    }  # fmt: skip
    assert reply.json["returnVisit"] == {
        "count": 1, "avgRating": 5.0, "avgRatingCi95": None, "csatPercent": 100.0, "csatPercentCi95": [20.7, 100.0]
    }  # fmt: skip


def test_docs_show_the_numbers_the_test_checks():
    """docs/metrics.md quotes the worked example's history and results; keep them in step."""
    from tests.support import ROOT

    text = (ROOT / "docs" / "metrics.md").read_text()
    for civ, at, rating in WORKED_EXAMPLE:
        assert f"| {at[:16].replace('T', ' ')} | {civ or '(anonymous)'} | {rating} |" in text
    for needle in ('"returnRate": 50.0', '"delta": 0.8', '"recentAvg": 3.33', '"csatPercent": 66.7'):
        assert needle in text


def test_sample_event(worked):
    world, _ = worked
    event = sample_event("dashboard")
    event["headers"]["x-api-key"] = event["multiValueHeaders"]["x-api-key"][0] = world.store_key
    reply = invoke("dashboard", event)
    assert reply.status == 200, reply.text
    assert reply.json == WORKED_MARCH_1_TO_5
    assert reply.headers["cache-control"] == "private, no-store"


# ------------------------------------------------------------------ who may see what


def test_credentials_and_scopes(worked):
    world, _ = worked
    period = {"from": "2026-03-01", "to": "2026-03-05"}
    assert dashboard({}, storeSlug=STORE, **period).status == 401
    assert dashboard({"x-api-key": "nk_nope"}, storeSlug=STORE, **period).status == 401
    owner = dashboard(world.owner_headers(), storeSlug=STORE, **period)
    assert owner.status == 200 and owner.json == WORKED_MARCH_1_TO_5
    partner = {"x-api-key": world.partner_key, "x-api-secret": world.partner_secret}
    assert dashboard(partner, storeSlug=STORE, **period).json["error"]["code"] == "FORBIDDEN"
    other = dashboard({"x-api-key": world.other_store_key}, storeSlug=STORE, **period)
    assert other.status == 403 and other.json["error"]["code"] == "FORBIDDEN"
    # A store key needs no storeSlug: it sees its own store.
    own = dashboard({"x-api-key": world.store_key}, **period)
    assert own.status == 200 and own.json == WORKED_MARCH_1_TO_5
    # Another workspace's store of the same slug is another store: nothing of ours shows.
    foreign = dashboard({"x-api-key": world.foreign_key}, storeSlug=STORE, **period)
    assert foreign.status == 200 and foreign.json["totalFeedback"] == 0
    # The other store of the workspace has no feedback: zeros and nulls, no errors.
    empty = dashboard({"x-api-key": world.workspace_key}, storeSlug=world.other_store, **period).json
    assert empty["totalFeedback"] == 0 and empty["returnRate"] is None and empty["returnRateCi95"] is None
    assert empty["firstVisit"] == NO_VISITS
    assert empty["loyaltySignal"]["note"] == "No first and return visits in this period: nothing to compare."


def test_unknown_store_is_404(world):
    reply = dashboard({"x-api-key": world.workspace_key}, storeSlug="no-such-store")
    assert reply.status == 404 and reply.json["error"]["code"] == "NOT_FOUND"


def test_post_is_405(world):
    reply = invoke("dashboard", api_event("POST", PATH, body={}, headers={"x-api-key": world.workspace_key}))
    assert reply.status == 405 and reply.headers["allow"] == "GET"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-3-1"}, "from"),
        ({"from": "2026-03-01T00:00:00Z"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"to": ""}, "to"),
        ({"from": "2026-03-05", "to": "2026-03-01"}, "from"),
        ({"from": "2025-02-28", "to": "2026-03-01"}, "from"),  # 366 days is the limit; this is 367
        ({"storeSlug": "Not A Slug"}, "storeSlug"),
        ({"limit": "5"}, "limit"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(world, query, field):
    reply = dashboard({"x-api-key": world.workspace_key}, **{"storeSlug": STORE, **query})
    assert reply.status == 400, reply.text
    assert set(reply.json["error"]) == {"code", "message", "details"}
    assert error_field(reply) == field


def test_workspace_credentials_must_name_the_store(world):
    reply = dashboard({"x-api-key": world.workspace_key})
    assert reply.status == 400 and error_field(reply) == "storeSlug"


def test_period_defaults_and_limit(world, monkeypatch):
    from revisit.domain import analytics

    monkeypatch.setattr(analytics, "now", lambda: datetime(2026, 3, 31, 23, 59, tzinfo=UTC))
    key = {"x-api-key": world.workspace_key}
    assert dashboard(key, storeSlug=STORE).json["period"] == {"from": "2026-03-02", "to": "2026-03-31", "days": 30}
    assert dashboard(key, storeSlug=STORE, to="2026-01-31").json["period"] == {
        "from": "2026-01-02",
        "to": "2026-01-31",
        "days": 30,
    }
    assert dashboard(key, storeSlug=STORE, **{"from": "2026-03-30"}).json["period"]["days"] == 2
    year = dashboard(key, storeSlug=STORE, **{"from": "2024-03-01", "to": "2025-03-01"})
    assert year.status == 200 and year.json["period"]["days"] == 366  # a leap year's span


# ------------------------------------------------------------------ rounding and the signal


def test_rounding_is_half_up_and_exact(world, feed):
    """Eight first visits 5,5,5,4,4,4,3,3: 33/8 = 4.125 -> 4.13 (binary floats would say 4.12);
    return visits 2,2,3: 7/3 -> 2.33; delta 7/3 - 33/8 = -1.7916... -> -1.79."""
    fbs = [fb(f"C{i}", f"2026-03-01T09:0{i}:00.000Z", r) for i, r in enumerate([5, 5, 5, 4, 4, 4, 3, 3])]
    fbs += [fb("C0", "2026-03-02T09:00:00.000Z", 2), fb("C1", "2026-03-02T09:00:00.000Z", 2)]
    fbs += [fb("C2", "2026-03-02T09:00:00.000Z", 3)]
    deliver(write_and_read(feed, fbs))
    body = dashboard({"x-api-key": world.workspace_key}, storeSlug=STORE, **{"from": "2026-03-01", "to": "2026-03-02"})
    assert {k: body.json["firstVisit"][k] for k in ("count", "avgRating", "csatPercent")} == {
        "count": 8, "avgRating": 4.13, "csatPercent": 75.0
    }  # fmt: skip
    assert {k: body.json["returnVisit"][k] for k in ("count", "avgRating", "csatPercent")} == {
        "count": 3, "avgRating": 2.33, "csatPercent": 0.0
    }  # fmt: skip
    assert body.json["loyaltySignal"]["direction"] == "lower"
    assert body.json["loyaltySignal"]["delta"] == -1.79
    assert body.json["returnRate"] == 37.5  # 3 of 8 customers came back within the period
    assert body.json == oracle_dashboard(fbs, WS, STORE, "2026-03-01", "2026-03-02")


@pytest.mark.parametrize(
    ("first", "ret", "direction"),
    [
        ((40, 10), (41, 10), "higher"),  # delta exactly 0.1: not below the threshold
        ((40, 10), (39, 10), "lower"),
        ((400, 100), (409, 100), "consistent"),  # 0.09
        ((400, 100), (391, 100), "consistent"),
        ((4, 1), (4, 1), "consistent"),
    ],
)
def test_loyalty_threshold(first, ret, direction):
    from revisit.domain import analytics

    counters = {"firstSum": first[0], "firstCount": first[1], "returnSum": ret[0], "returnCount": ret[1]}
    signal = analytics._loyalty(counters)
    assert signal["direction"] == direction
    assert signal["delta"] == float(round(Fraction(ret[0], ret[1]) - Fraction(first[0], first[1]), 2))


def test_no_sample_note_from_30_visits_each():
    """30 first visits of 4 stars, 30 return visits 15 x 4 and 15 x 5: +0.5, significant."""
    from revisit.domain import analytics

    counters = {"firstSum": 120, "firstSq": 480, "firstCount": 30, "returnSum": 135, "returnSq": 615, "returnCount": 30}
    signal = analytics._loyalty(counters)
    assert signal == {
        "direction": "higher", "delta": 0.5, "deltaCi95": [0.31, 0.69], "significant": True,
        "threshold": 0.1, "minSample": 30, "note": None,
    }  # fmt: skip


def test_round_half_up():
    from revisit.domain.analytics import round_half_up

    assert round_half_up(Fraction(33, 8), 2) == 4.13
    assert round_half_up(Fraction(-33, 8), 2) == -4.13
    assert round_half_up(Fraction(2, 3), 1) == 0.7
    assert round_half_up(Fraction(1, 3) * 100, 1) == 33.3
    assert round_half_up(Fraction(-1, 1000), 2) == 0.0


# ------------------------------------------------------------------ cost


def test_dashboard_cost_does_not_grow_with_feedback(world, feed, ddb_calls):
    """Two customers with 2 or 24 feedback each in the period (and as many in another store):
    the same DynamoDB calls - credential, store, three one-page Queries - and never a Scan."""
    key = {"x-api-key": world.workspace_key}
    period = {"from": "2026-03-01", "to": "2026-03-03"}
    costs, done = [], 0
    for per_customer in (2, 24):
        fbs = [
            fb(civ, f"2026-03-0{1 + i % 3}T{i // 60:02d}:{i % 60:02d}:00.000Z", 1 + i % 5, store=store)
            for store in (STORE, "uptown-bakery")
            for civ in ("A", "B")
            for i in range(done, per_customer)
        ]
        done = per_customer
        deliver(write_and_read(feed, fbs))
        ddb_calls.calls.clear()
        reply = dashboard(key, storeSlug=STORE, **period)
        assert reply.status == 200 and reply.json["totalFeedback"] == 2 * per_customer
        costs.append(dict(ddb_calls.calls))
    assert costs[0] == costs[1] == {"GetItem": 2, "Query": 3}


def test_activity_read_is_one_item_per_customer_day(world, feed, monkeypatch):
    from revisit.dal import analytics as dal

    fbs = [fb(f"C{c}", f"2026-03-0{1 + d}T0{v}:00:00.000Z", 4) for c in range(4) for d in range(3) for v in range(3)]
    deliver(write_and_read(feed, fbs))
    read: list[int] = []
    real = dal.activity
    monkeypatch.setattr(dal, "activity", lambda *a: read.append(len(rows := real(*a))) or rows)
    body = dashboard({"x-api-key": world.workspace_key}, storeSlug=STORE, **{"from": "2026-03-01", "to": "2026-03-03"})
    assert body.json["totalFeedback"] == 36 and body.json["identifiedCustomers"] == 4
    assert read == [12]  # 4 customers x 3 days, whatever the 36 feedback records


def test_long_civ_values_are_keyed_by_hash(world, feed):
    """A civ may be 256 characters of 4 UTF-8 bytes: too long for a sort key as is."""
    civ = "😀" * 256
    fbs = [fb(civ, f"2026-03-0{d}T09:00:00.000Z", r) for d, r in ((1, 5), (2, 5), (3, 3), (4, 3), (5, 3))]
    deliver(write_and_read(feed, fbs))
    body = dashboard({"x-api-key": world.workspace_key}, storeSlug=STORE, **{"from": "2026-03-01", "to": "2026-03-05"})
    assert body.json["identifiedCustomers"] == 1 and body.json["returningCustomers"] == 1
    assert [c["civ"] for c in body.json["growingDissatisfied"]] == [civ]
    assert body.json == oracle_dashboard(fbs, WS, STORE, "2026-03-01", "2026-03-05")


def test_today_is_included_by_default(world, feed):
    from revisit.domain.util import iso, now

    stamp = iso(now())
    deliver(write_and_read(feed, [fb("NOW", stamp, 5)]))
    body = dashboard({"x-api-key": world.workspace_key}, storeSlug=STORE).json
    assert body["period"]["to"] == stamp[:10] and body["period"]["days"] == 30
    assert body["totalFeedback"] == 1 and body["identifiedCustomers"] == 1
