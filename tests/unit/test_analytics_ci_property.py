"""Property (issue 16 "done when"): for random histories of feedback and NPS reviews at two stores,
delivered through the real stream and aggregator in a shuffled order with replays, every 95 %
interval the API gives - the dashboard's, the NPS score's (total, per channel and category) and
the /stores rows' and total's - equals a brute-force computation from the raw visits with scipy
and statsmodels (tests/unit/test_analytics_ci.py's oracle).
"""

from __future__ import annotations

import itertools
import os
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.analytics_support import Fb, Stream, deliver, put_feedback
from tests.support import api_event, invoke
from tests.unit.test_analytics_ci import (
    _row_of,
    ci_nps,
    oracle_intervals,
    oracle_loyalty,
    oracle_store_row,
)
from tests.unit.test_analytics_property import _day, _fresh_table, _setup_workspace

STORES = ("north", "south")
CIVS = ("ann", "bob", "cy", "dee")
CHANNELS = ("web", "email")
CATEGORIES = ("visit", "delivery")
DAYS = 6

visit = st.tuples(
    st.sampled_from(STORES),
    st.sampled_from((*CIVS, None)),
    st.integers(0, DAYS - 1),
    st.integers(0, 3),
    st.one_of(
        st.tuples(st.just("feedback"), st.integers(1, 5)),
        st.tuples(st.just("nps"), st.integers(1, 10), st.sampled_from(CHANNELS), st.sampled_from(CATEGORIES)),
    ),
)
day_st = st.integers(-1, DAYS)


def _get(key: str, path: str, **query: str) -> dict:
    reply = invoke("dashboard", api_event("GET", path, headers={"x-api-key": key}, query=query))
    assert reply.status == 200, reply.text
    return reply.json


def _write(raw: list[tuple], ws: str, prefix: str) -> tuple[list[Fb], dict[str, int], list[dict]]:
    from revisit.dal import nps as nps_dal

    visits, rates, reviews = [], {}, []
    for n, (store, civ, day, slot, what) in enumerate(raw):
        at = f"2026-03-{1 + day:02d}T{slot * 6:02d}:00:00.000Z"
        if what[0] == "feedback":
            v = Fb(f"{prefix}-{n:03d}", ws, store, civ, at, what[1])
            put_feedback(v)
        else:
            _, rate, channel, category = what
            rid = 10_000 + n
            review = {
                "id": rid, "client": n, "rate": rate, "channel": channel, "category": category,
                "respondentType": "x", "workspaceId": ws, "storeSlug": store, "shopId": f"shop-{store}",
                "createdAt": at, **({"civ": civ} if civ else {}),
            }  # fmt: skip
            nps_dal.put_review(review)
            reviews.append(review)
            v = Fb(str(rid), ws, store, civ, at, (rate + 1) // 2)
            rates[v.id] = rate
        visits.append(v)
    return visits, rates, reviews


@settings(
    max_examples=int(os.environ.get("ANALYTICS_CI_PROPERTY_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(raw=st.lists(visit, min_size=1, max_size=24), data=st.data())
def test_every_interval_equals_the_oracle_under_shuffled_delivery_and_replays(table, raw, data):
    _fresh_table(table)
    prefix = uuid.uuid4().hex[:10]
    ws = "ws-" + prefix
    key = _setup_workspace(ws)
    stream = Stream(os.environ["TABLE_NAME"])
    stream.read_all()
    visits, rates, reviews = _write(raw, ws, prefix)
    records = stream.read()
    assert len(records) == len(visits)

    order = data.draw(st.permutations(records), label="delivery order")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(order) - 1)), max_size=3), label="cuts"))
    bounds = [0, *[c for c in cuts if c < len(order)], len(order)]
    for a, b in itertools.pairwise(bounds):
        if b <= a:
            continue
        deliver(order[a:b])
        if data.draw(st.booleans(), label="replay the batch's suffix"):
            deliver(order[a + data.draw(st.integers(0, b - a - 1), label="suffix") : b])
    deliver(data.draw(st.lists(st.sampled_from(records), max_size=5), label="late redelivery"))

    lo, hi = sorted(data.draw(st.tuples(day_st, day_st), label="period"))
    period = {"from": _day(lo), "to": _day(hi)}
    for store in STORES:
        board = _get(key, "/api/external/dashboard", storeSlug=store, **period)
        expected = oracle_intervals(visits, store, period["from"], period["to"])
        assert board["returnRateCi95"] == expected["returnRateCi95"]
        for block in ("firstVisit", "returnVisit"):
            assert {k: board[block][k] for k in expected[block]} == expected[block], block
        loyalty = oracle_loyalty(expected["loyaltyFirst"], expected["loyaltyReturn"], board["loyaltySignal"]["delta"])
        assert {k: board["loyaltySignal"][k] for k in loyalty} == loyalty

        score = _get(key, "/api/external/nps-score", storeSlug=store, **period)
        mine = [r for r in reviews if r["storeSlug"] == store and period["from"] <= r["createdAt"][:10] <= period["to"]]
        assert score["responses"] == len(mine)
        assert score["scoreCi95"] == ci_nps([r["rate"] for r in mine])
        for group, field in (("byChannel", "channel"), ("byCategory", "category")):
            for entry in score[group]:
                assert entry["scoreCi95"] == ci_nps([r["rate"] for r in mine if r[field] == entry[field]])

    view = _get(key, "/api/external/dashboard/stores", **period)
    assert [r["storeSlug"] for r in view["stores"]] == list(STORES)
    for row in view["stores"]:
        expected_row = oracle_store_row(visits, rates, row["storeSlug"], period["from"], period["to"])
        assert {k: v for k, v in row.items() if k not in ("storeSlug", "name")} == expected_row
    in_period = [v for v in visits if period["from"] <= v.day <= period["to"]]
    customers = (
        sum(r["identifiedCustomers"] for r in view["stores"]),
        sum(r["returningCustomers"] for r in view["stores"]),
    )
    assert view["total"] == {"stores": 2, **_row_of(in_period, rates, customers)}
