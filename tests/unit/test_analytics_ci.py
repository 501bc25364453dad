"""95 % intervals beside the dashboard's numbers (issue 16 part 1) and every store at once (part 3).

The intervals of revisit.domain.stats against independent implementations (scipy's t and Welch
test, statsmodels' Wilson interval), the worked example of docs/metrics.md number by number, and
GET /api/external/dashboard/stores: rows computed with the dashboard's own functions, access,
validation and cost. ``oracle_intervals`` (used by the property test and test_dashboard) computes
every interval by brute force from the raw visits with scipy / statsmodels.
"""

from __future__ import annotations

import math
import os
import random
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from tests.analytics_support import (
    STORE,
    WS,
    CallCounter,
    Fb,
    Stream,
    customers_of,
    deliver,
    fb,
    oracle_dashboard,
    write_and_read,
)
from tests.support import ROOT, api_event, invoke

STORES_PATH = "/api/external/dashboard/stores"


# ------------------------------------------------------------------ the oracle (scipy, statsmodels)


def _round(value: float, places: int) -> float:
    """Half away from zero on the float's exact decimal value (the API's rounding)."""
    return float(Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)) + 0.0


def _pair(low: float, high: float, places: int, scale: float = 1.0) -> list[float]:
    return [_round(low * scale, places), _round(high * scale, places)]


def ci_mean(values: list[int]) -> list[float] | None:
    """t-interval of the mean rating (scipy), clamped to the 1-5 scale; None for n < 2 or no spread."""
    if len(values) < 2 or np.var(values) == 0:
        return None
    low, high = sps.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=sps.sem(values))
    return _pair(max(1.0, low), min(5.0, high), 2)


def ci_wilson(part: int, count: int) -> list[float] | None:
    """Wilson interval in percent (statsmodels); None without a sample."""
    if count == 0:
        return None
    low, high = proportion_confint(part, count, alpha=0.05, method="wilson")
    return _pair(max(0.0, low), min(1.0, high), 1, 100)


def ci_welch(firsts: list[int], returns: list[int]) -> tuple[float, float] | None:
    """Welch's interval of mean(returns) - mean(firsts) (scipy's ttest_ind, equal_var=False),
    unrounded and clamped to [-4, 4]; None for n < 2 on either side or no spread on both."""
    if len(firsts) < 2 or len(returns) < 2 or (np.var(firsts) == 0 and np.var(returns) == 0):
        return None
    ci = sps.ttest_ind(returns, firsts, equal_var=False).confidence_interval(0.95)
    return max(-4.0, float(ci.low)), min(4.0, float(ci.high))


def ci_nps(rates: list[int]) -> list[float] | None:
    """Wald interval of the NPS from the variance of the +1/0/-1 scores (normal quantile)."""
    scores = np.array([1 if r >= 9 else -1 if r <= 6 else 0 for r in rates], dtype=float)
    if len(scores) == 0 or np.var(scores) == 0:
        return None
    half = sps.norm.ppf(0.975) * math.sqrt(np.var(scores) / len(scores))
    return _pair(max(-1.0, scores.mean() - half), min(1.0, scores.mean() + half), 1, 100)


def oracle_loyalty(firsts: list[int], returns: list[int], delta: float | None) -> dict[str, Any]:
    """deltaCi95, significant and the note (docs/metrics.md), from the raw ratings."""
    fc, rc = len(firsts), len(returns)
    if not fc or not rc:
        missing = " and ".join(n for n, k in (("first", fc), ("return", rc)) if not k)
        return {
            "deltaCi95": None,
            "significant": None,
            "note": f"No {missing} visits in this period: nothing to compare.",
        }
    welch = ci_welch(firsts, returns)
    if welch is None:
        return {
            "deltaCi95": None,
            "significant": None,
            "note": f"Inconclusive: {fc} first and {rc} return visits are too few (or their ratings too uniform) "
            "to tell the difference from chance.",
        }
    low, high = _pair(*welch, 2)
    significant = welch[0] > 0 or welch[1] < 0
    note = None
    if not significant:
        note = (
            f"Inconclusive: return visits rate {delta:+.2f} against first visits, but the true difference could "
            f"be anywhere from {low:+.2f} to {high:+.2f} (95 % interval), zero included: it may be chance."
        )
    elif fc < 30 or rc < 30:
        note = (
            f"Small sample: {fc} first and {rc} return visits; the 95 % interval excludes 0, but with fewer "
            "than 30 of either it rests on a rough normal approximation."
        )
    return {"deltaCi95": [low, high], "significant": significant, "note": note}


def _split(visits: list[Fb], store: str, day_from: str, day_to: str) -> tuple[list[Fb], list[int], list[int]]:
    mine = [v for v in visits if v.store == store]
    first_ids = {vs[0].id for vs in customers_of(mine).values()}
    period = [v for v in mine if day_from <= v.day <= day_to]
    firsts = [v.rating for v in period if v.civ is not None and v.id in first_ids]
    returns = [v.rating for v in period if v.civ is not None and v.id not in first_ids]
    return period, firsts, returns


def oracle_intervals(visits: list[Fb], store: str, day_from: str, day_to: str) -> dict[str, Any]:
    """Every interval field of the dashboard, by brute force from the raw visits (one store)."""
    period, firsts, returns = _split(visits, store, day_from, day_to)
    per_civ: dict[str, int] = {}
    for v in period:
        if v.civ is not None:
            per_civ[v.civ] = per_civ.get(v.civ, 0) + 1
    returning = sum(1 for n in per_civ.values() if n > 1)
    return {
        "returnRateCi95": ci_wilson(returning, len(per_civ)),
        "firstVisit": {
            "avgRatingCi95": ci_mean(firsts),
            "csatPercentCi95": ci_wilson(sum(r >= 4 for r in firsts), len(firsts)),
        },
        "returnVisit": {
            "avgRatingCi95": ci_mean(returns),
            "csatPercentCi95": ci_wilson(sum(r >= 4 for r in returns), len(returns)),
        },
        "loyaltyFirst": firsts,
        "loyaltyReturn": returns,
    }


def oracle_dashboard_ci(visits: list[Fb], ws: str, store: str, day_from: str, day_to: str) -> dict[str, Any]:
    """The seed's brute-force dashboard (tests/analytics_support.py) with every interval and the
    loyalty note of issue 16 added, all from the raw visits."""
    body = oracle_dashboard(visits, ws, store, day_from, day_to)
    extra = oracle_intervals([v for v in visits if v.ws == ws], store, day_from, day_to)
    body["returnRateCi95"] = extra["returnRateCi95"]
    body["firstVisit"] |= extra["firstVisit"]
    body["returnVisit"] |= extra["returnVisit"]
    body["loyaltySignal"] |= oracle_loyalty(
        extra["loyaltyFirst"], extra["loyaltyReturn"], body["loyaltySignal"]["delta"]
    )
    return body


def oracle_store_row(visits: list[Fb], rates: dict[str, int], store: str, day_from: str, day_to: str) -> dict:
    """A /stores row from the raw visits; ``rates``: an NPS review's visit id -> its 1-10 rate."""
    period, _, _ = _split(visits, store, day_from, day_to)
    return _row_of(period, rates)


def _row_of(period: list[Fb], rates: dict[str, int], customers: tuple[int, int] | None = None) -> dict[str, Any]:
    ratings = [v.rating for v in period]
    if customers is None:
        per_civ: dict[str, int] = {}
        for v in period:
            if v.civ is not None:
                per_civ[v.civ] = per_civ.get(v.civ, 0) + 1
        customers = (len(per_civ), sum(1 for n in per_civ.values() if n > 1))
    identified, returning = customers
    nps = [rates[v.id] for v in period if v.id in rates]
    p, d = sum(r >= 9 for r in nps), sum(r <= 6 for r in nps)
    n = len(ratings)
    return {
        "totalFeedback": n,
        "avgRating": _exact_round(sum(ratings), n, 2) if n else None,
        "avgRatingCi95": ci_mean(ratings),
        "csatPercent": None if not n else _exact_round(100 * sum(r >= 4 for r in ratings), n, 1),
        "csatPercentCi95": ci_wilson(sum(r >= 4 for r in ratings), n),
        "identifiedCustomers": identified,
        "returningCustomers": returning,
        "returnRate": None if not identified else _exact_round(100 * returning, identified, 1),
        "returnRateCi95": ci_wilson(returning, identified),
        "npsResponses": len(nps),
        "nps": None if not nps else _exact_round(100 * (p - d), len(nps), 1),
        "npsCi95": ci_nps(nps),
    }


def _exact_round(num: int, den: int, places: int) -> float:
    return float((Decimal(num) / Decimal(den)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


# ------------------------------------------------------------------ the intervals vs scipy / statsmodels


def test_t_quantile_equals_scipy():
    from revisit.domain.stats import t_quantile

    rng = random.Random(16)
    dfs = [*range(1, 60), 99.5, 999.0, 1000.0, 5_000.0, 1e5, 1e7, 0.5, 1.2932630112449]
    dfs += [rng.uniform(1, 3000) for _ in range(300)]
    for df in dfs:
        assert t_quantile(float(df)) == pytest.approx(sps.t.ppf(0.975, df), rel=1e-12, abs=0), df


def test_intervals_equal_scipy_and_statsmodels_on_random_samples():
    from revisit.domain import stats

    rng = random.Random(7)
    for _ in range(400):
        n = rng.randint(1, 60)
        xs = [rng.choice((1, 2, 3, 4, 5)) for _ in range(n)]
        ys = [rng.choice((1, 2, 3, 4, 5)) for _ in range(rng.randint(1, 60))]
        mine = stats.mean_interval(n, sum(xs), sum(x * x for x in xs), -math.inf, math.inf)
        if n < 2 or np.var(xs) == 0:
            assert mine is None
        else:
            ref = sps.t.interval(0.95, n - 1, loc=np.mean(xs), scale=sps.sem(xs))
            assert mine == pytest.approx(ref, rel=1e-11)
        k = sum(x >= 4 for x in xs)
        assert stats.wilson_interval(k, n) == pytest.approx(
            proportion_confint(k, n, alpha=0.05, method="wilson"), rel=1e-12, abs=1e-15
        )
        welch = stats.welch_interval(
            (n, sum(xs), sum(x * x for x in xs)), (len(ys), sum(ys), sum(y * y for y in ys)), math.inf
        )
        if n < 2 or len(ys) < 2 or np.var(xs) + np.var(ys) == 0:
            assert welch is None
        else:
            test = sps.ttest_ind(ys, xs, equal_var=False)
            ci = test.confidence_interval(0.95)
            assert welch[:2] == pytest.approx((ci.low, ci.high), rel=1e-10, abs=1e-12)
            assert welch[2] == pytest.approx(test.df, rel=1e-12)
        rates = [rng.randint(1, 10) for _ in range(n)]
        p, d = sum(r >= 9 for r in rates), sum(r <= 6 for r in rates)
        nps = stats.nps_interval(p, n - p - d, d)
        scores = np.array([1 if r >= 9 else -1 if r <= 6 else 0 for r in rates], dtype=float)
        if np.var(scores) == 0:
            assert nps is None
        else:
            half = sps.norm.ppf(0.975) * math.sqrt(np.var(scores) / n)
            ref = (max(-100, 100 * (scores.mean() - half)), min(100, 100 * (scores.mean() + half)))
            assert nps == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_null_where_an_interval_cannot_be_computed():
    from revisit.domain import stats

    assert stats.mean_interval(0, 0, 0, 1, 5) is None
    assert stats.mean_interval(1, 4, 16, 1, 5) is None  # one rating: no variance estimate
    assert stats.mean_interval(40, 200, 1000, 1, 5) is None  # forty 5-star ratings: no spread
    assert stats.wilson_interval(0, 0) is None
    assert stats.wilson_interval(1, 1) == pytest.approx((0.2065493143772375, 1.0))  # defined from n = 1
    assert stats.wilson_interval(0, 3)[0] == 0.0 and stats.wilson_interval(3, 3)[1] == 1.0
    assert stats.welch_interval((1, 5, 25), (9, 30, 110), 4) is None
    assert stats.welch_interval((3, 15, 75), (4, 20, 100), 4) is None  # both without spread
    assert stats.welch_interval((3, 15, 75), (2, 7, 25), 4) is not None  # one side's spread is enough
    assert stats.nps_interval(0, 0, 0) is None and stats.nps_interval(5, 0, 0) is None
    assert stats.nps_interval(0, 4, 0) is None  # all passives: every score is 0
    for ci in (stats.mean_interval(2, 9, 41, 1, 5), stats.nps_interval(1, 0, 1)):
        assert ci is not None and not any(math.isnan(b) for b in ci)


def test_intervals_stay_on_the_scale():
    from revisit.domain import stats

    assert stats.mean_interval(2, 9, 41, 1, 5) == (1, 5)  # 4 and 5: 4.5 +- 12.706 * 0.5
    low, high, df = stats.welch_interval((2, 3, 5), (2, 9, 41), 4)  # 1, 2 vs 4, 5: 3 +- 4.303 * 0.707
    assert (low, high, df) == (pytest.approx(3 - stats.t_quantile(2.0) * math.sqrt(0.5)), 4, 2.0)
    assert stats.nps_interval(1, 0, 1) == (-100, 100)


# ------------------------------------------------------------------ docs/metrics.md, the intervals


def test_docs_show_the_interval_numbers_the_tests_check():
    """The worked example's intervals (asserted through the API by test_dashboard's worked-example
    test and the NPS example below) are the ones docs/metrics.md quotes."""
    text = (ROOT / "docs" / "metrics.md").read_text()
    for needle in (
        '"returnRateCi95": [15.0, 85.0]',
        '"avgRatingCi95": [2.76, 4.84]',
        '"csatPercentCi95": [23.1, 88.2]',
        '"csatPercentCi95": [9.5, 90.5]',
        '"deltaCi95": [-4.0, 4.0]',
        '"significant": false',
        '"scoreCi95": [-92.4, 92.4]',
        "t(0.975, 4) = 2.7764",
        "df = 1.2933",
    ):
        assert needle in text, needle


def test_worked_example_numbers_by_hand():
    """docs/metrics.md, "Confidence intervals, worked": each step of the text."""
    from revisit.domain import stats

    # Return visits 3, 4, 3, 5, 4: mean 3.8, s^2 = 2.8 / 4 = 0.7, se = sqrt(0.7 / 5) = 0.3742
    assert stats.t_quantile(4.0) == pytest.approx(2.7764451, abs=1e-7)
    assert math.sqrt(0.7 / 5) == pytest.approx(0.374166, abs=1e-6)
    assert stats.mean_interval(5, 19, 75, 1, 5) == pytest.approx((2.7611494, 4.8388506), abs=1e-7)
    # Wilson 3 of 5 and 1 of 2, return rate 2 of 4
    assert stats.wilson_interval(3, 5) == pytest.approx((0.2307243, 0.8823792), abs=1e-7)
    assert stats.wilson_interval(1, 2) == pytest.approx((0.0945312, 0.9054688), abs=1e-7)
    assert stats.wilson_interval(2, 4) == pytest.approx((0.1500390, 0.8499610), abs=1e-7)
    # Welch: v1 = 2 / 2 = 1, v2 = 0.7 / 5 = 0.14, df = 1.14^2 / (1^2 / 1 + 0.14^2 / 4) = 1.2933
    low, high, df = stats.welch_interval((2, 6, 20), (5, 19, 75), math.inf)
    assert df == pytest.approx(1.2932630, abs=1e-7)
    assert stats.t_quantile(df) == pytest.approx(7.5668, abs=1e-4)
    assert (low, high) == pytest.approx((0.8 - 7.5668 * math.sqrt(1.14), 0.8 + 7.5668 * math.sqrt(1.14)), abs=1e-3)
    assert stats.welch_interval((2, 6, 20), (5, 19, 75), 4) == (-4, 4, df)
    # NPS 10, 8, 3: scores +1, 0, -1, var = 2/3, se = sqrt(2/9) = 0.4714
    assert stats.nps_interval(1, 1, 1) == pytest.approx((-92.3936, 92.3936), abs=1e-4)


@pytest.fixture
def feed(table) -> Stream:
    return Stream(os.environ["TABLE_NAME"])


def test_nps_example_of_the_docs_through_the_api(world, feed):
    from revisit.dal import nps as nps_dal

    for i, rate in enumerate((10, 8, 3)):
        nps_dal.put_review({
            "id": 500 + i, "client": i, "rate": rate, "channel": "web", "category": "visit", "respondentType": "x",
            "workspaceId": WS, "storeSlug": STORE, "shopId": "shop", "createdAt": f"2026-03-0{1 + i}T10:00:00.000Z",
        })  # fmt: skip
    deliver(feed.read())
    reply = invoke(
        "dashboard",
        api_event(
            "GET",
            "/api/external/nps-score",
            headers={"x-api-key": world.store_key},
            query={"from": "2026-03-01", "to": "2026-03-03"},
        ),
    )
    assert reply.status == 200, reply.text
    assert reply.json["nps"] == 0.0 and reply.json["scoreCi95"] == [-92.4, 92.4]
    assert reply.json["byChannel"][0]["scoreCi95"] == [-92.4, 92.4]
    assert reply.json["byCategory"] == [
        {**reply.json["byCategory"][0], "category": "visit", "scoreCi95": [-92.4, 92.4]}
    ]


# ------------------------------------------------------------------ GET /api/external/dashboard/stores


def stores(headers: dict[str, str], **query: str):
    return invoke("dashboard", api_event("GET", STORES_PATH, headers=headers, query=query or None))


def dashboard(headers: dict[str, str], **query: str):
    return invoke("dashboard", api_event("GET", "/api/external/dashboard", headers=headers, query=query or None))


HISTORY = [  # (store, civ, createdAt, rating)
    (STORE, "A", "2026-03-01T09:00:00.000Z", 5),
    (STORE, "A", "2026-03-02T09:00:00.000Z", 4),
    (STORE, "B", "2026-03-02T10:00:00.000Z", 2),
    (STORE, None, "2026-03-03T10:00:00.000Z", 3),
    (STORE, "C", "2026-03-03T11:00:00.000Z", 5),
    (STORE, "C", "2026-03-04T11:00:00.000Z", 5),
    ("uptown-bakery", "A", "2026-03-01T08:00:00.000Z", 1),  # another store: another customer
    ("uptown-bakery", "A", "2026-03-03T08:00:00.000Z", 3),
    ("uptown-bakery", "Z", "2026-03-03T09:00:00.000Z", 4),
]
PERIOD = {"from": "2026-03-01", "to": "2026-03-05"}


@pytest.fixture
def chain(world, feed):
    fbs = [fb(civ, at, rating, store=store) for store, civ, at, rating in HISTORY]
    deliver(write_and_read(feed, fbs))
    return world, fbs


def test_stores_rows_and_total(chain):
    world, fbs = chain
    reply = stores({"x-api-key": world.workspace_key}, **PERIOD)
    assert reply.status == 200, reply.text
    assert reply.headers["cache-control"] == "private, no-store"
    body = reply.json
    assert body["period"] == {"from": "2026-03-01", "to": "2026-03-05", "days": 5}
    assert [(r["storeSlug"], r["name"]) for r in body["stores"]] == [
        ("downtown-coffee", "Downtown Coffee"),
        ("uptown-bakery", "Uptown Bakery"),
    ]
    for row in body["stores"]:
        expected = oracle_store_row(fbs, {}, row["storeSlug"], PERIOD["from"], PERIOD["to"])
        assert {k: v for k, v in row.items() if k not in ("storeSlug", "name")} == expected
    down, up = body["stores"]
    assert down["totalFeedback"] == 6 and down["avgRating"] == 4.0 and down["returnRate"] == 66.7
    assert up["identifiedCustomers"] == 2 and up["returningCustomers"] == 1  # A at the bakery: a customer of its own
    total = body["total"]
    assert total["stores"] == 2
    assert total["identifiedCustomers"] == 5 and total["returningCustomers"] == 3  # per store, summed
    assert {k: v for k, v in total.items() if k != "stores"} == _row_of(
        [f for f in fbs if PERIOD["from"] <= f.day <= PERIOD["to"]], {}, (5, 3)
    )
    assert total["npsResponses"] == 0 and total["nps"] is None and total["npsCi95"] is None


def test_a_row_is_the_dashboards_own_numbers(chain):
    """One implementation per metric: a row's return rate (and its interval) is the dashboard's."""
    world, _ = chain
    key = {"x-api-key": world.workspace_key}
    rows = {r["storeSlug"]: r for r in stores(key, **PERIOD).json["stores"]}
    for slug, row in rows.items():
        board = dashboard(key, storeSlug=slug, **PERIOD).json
        for name in ("totalFeedback", "identifiedCustomers", "returningCustomers", "returnRate", "returnRateCi95"):
            assert row[name] == board[name], name


def test_stores_credentials(chain):
    world, _ = chain
    owner = stores(world.owner_headers(), **PERIOD)
    assert owner.status == 200 and len(owner.json["stores"]) == 2 and owner.json["total"]["stores"] == 2
    own = stores({"x-api-key": world.store_key}, **PERIOD)
    assert own.status == 200 and [r["storeSlug"] for r in own.json["stores"]] == [STORE]
    assert own.json["total"] is None  # a store key sees its own row only
    assert stores({}, **PERIOD).status == 401
    partner = {"x-api-key": world.partner_key, "x-api-secret": world.partner_secret}
    assert stores(partner, **PERIOD).json["error"]["code"] == "FORBIDDEN"
    foreign = stores({"x-api-key": world.foreign_key}, **PERIOD).json
    assert [r["storeSlug"] for r in foreign["stores"]] == [STORE] and foreign["stores"][0]["totalFeedback"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2025-02-28", "to": "2026-03-01"}, "from"),  # 367 days
        ({"from": "2026-03-05", "to": "2026-03-01"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"storeSlug": STORE}, "storeSlug"),  # not a parameter of this view
        ({"limit": "5"}, "limit"),
    ],
)
def test_stores_bad_parameters_are_400_naming_the_field(world, query, field):
    reply = stores({"x-api-key": world.workspace_key}, **query)
    assert reply.status == 400, reply.text
    assert reply.json["error"]["details"][0]["field"] == field


def test_stores_post_is_405(world):
    reply = invoke("dashboard", api_event("POST", STORES_PATH, body={}, headers={"x-api-key": world.workspace_key}))
    assert reply.status == 405


def test_stores_cost_is_two_queries_a_store(chain):
    from revisit.dal import table

    world, _ = chain
    counter = CallCounter()
    table.client.meta.events.register("before-call.dynamodb", counter)
    try:
        assert stores({"x-api-key": world.workspace_key}, **PERIOD).status == 200
        workspace = dict(counter.calls)
        counter.calls.clear()
        assert stores({"x-api-key": world.store_key}, **PERIOD).status == 200
        store_key = dict(counter.calls)
    finally:
        table.client.meta.events.unregister("before-call.dynamodb", counter)
    assert workspace == {"GetItem": 1, "Query": 1 + 2 * 2}  # credential; the store list + 2 a store
    assert store_key == {"GetItem": 2, "Query": 2}  # credential, its store; its 2 Queries
