"""NPS scores from the aggregator's counters equal a brute-force oracle, replays included (seed 002)."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from revisit.dal import nps as nps_dal
from tests.analytics_support import deliver
from tests.support import api_event, invoke
from tests.unit.test_analytics_ci import ci_nps

STORE, WS = "downtown-coffee", "1042"
CHANNELS = ("email", "web", "sms")
CATEGORIES = ("after_purchase", "delivery")


def review(i: int, day: date, rate: int, channel: str, category: str, civ: str | None) -> dict:
    return {
        "id": 1_000 + i,
        "client": i,
        "rate": rate,
        "channel": channel,
        "category": category,
        "respondentType": "x",
        "workspaceId": WS,
        "storeSlug": STORE,
        "shopId": "shop",
        "createdAt": f"{day.isoformat()}T10:{i % 60:02d}:00.{i % 1000:03d}Z",
        **({"civ": civ} if civ else {}),
    }


def oracle(reviews: list[dict], lo: date, hi: date) -> dict:
    def block(rs):
        p = sum(r["rate"] >= 9 for r in rs)
        d = sum(r["rate"] <= 6 for r in rs)
        n = len(rs)
        pct = lambda k: None if not n else _round(100 * k, n, 1)  # noqa: E731
        return {
            "responses": n,
            "promoters": p,
            "passives": n - p - d,
            "detractors": d,
            "promotersPercent": pct(p),
            "passivesPercent": pct(n - p - d),
            "detractorsPercent": pct(d),
            "nps": None if not n else _round(100 * (p - d), n, 1),
            "scoreCi95": ci_nps([r["rate"] for r in rs]),  # issue 16: scipy's normal quantile
        }

    rs = [r for r in reviews if lo.isoformat() <= r["createdAt"][:10] <= hi.isoformat()]
    return {
        **block(rs),
        "byChannel": [
            {"channel": c, **block([r for r in rs if r["channel"] == c])} for c in sorted({r["channel"] for r in rs})
        ],
        "byCategory": [
            {"category": c, **block([r for r in rs if r["category"] == c])} for c in sorted({r["category"] for r in rs})
        ],
    }


def _round(num: int, den: int, places: int) -> float:
    """Half away from zero, computed in integers (the oracle's own arithmetic)."""
    scale = 10**places
    q = (abs(num) * scale * 2 + den) // (2 * den)
    value = q / scale
    return -value if num < 0 else value


def score(world, lo: date, hi: date) -> dict:
    reply = invoke(
        "dashboard",
        api_event(
            "GET",
            "/api/external/nps-score",
            headers={"x-api-key": world.store_key},
            query={"from": lo.isoformat(), "to": hi.isoformat()},
        ),
    )
    assert reply.status == 200, reply.text
    body = reply.json
    body.pop("storeSlug"), body.pop("period")
    return body


@pytest.mark.parametrize("seed", range(4))
def test_nps_score_equals_the_oracle_with_replays(world, stream, seed):
    rng = random.Random(seed)
    start = date(2026, 3, 1)
    reviews = [
        review(
            i,
            start + timedelta(days=rng.randrange(20)),
            rng.randint(1, 10),
            rng.choice(CHANNELS),
            rng.choice(CATEGORIES),
            rng.choice([None, "C1", "C2", "C3"]),
        )
        for i in range(rng.randint(5, 60))
    ]
    for r in reviews:
        nps_dal.put_review(r)
    records = stream.read()
    assert len(records) == len(reviews)
    rng.shuffle(records)
    cut = rng.randrange(len(records))
    deliver(records[:cut])
    deliver(records[cut:])
    deliver(records[rng.randrange(len(records)) :])  # a replayed suffix
    deliver(records)  # and everything again
    for _ in range(5):
        a, b = sorted(start + timedelta(days=rng.randrange(-3, 25)) for _ in range(2))
        assert score(world, a, b) == oracle(reviews, a, b)


def test_reviews_through_the_api_count_for_the_customer(world, stream):
    owner = world.owner_headers()
    invoke(
        "management",
        api_event(
            "POST",
            "/api/nps/categories",
            headers=owner,
            body={"storeSlug": STORE, "code": "after_purchase", "name": "After"},
        ),
    )
    invoke(
        "management",
        api_event(
            "POST", "/api/nps/channels", headers=owner, body={"storeSlug": STORE, "code": "email", "name": "Email"}
        ),
    )
    stream.read_all()
    for rate in (10, 8, 3):
        body = {
            "shop_id": world.shop_id,
            "shop_secret": world.shop_secret,
            "category": "after_purchase",
            "channel": "email",
            "rate": rate,
            "email": "ann@example.com",
            "loyalty_id": "CUST-7891",
        }
        assert invoke("nps_create", api_event("POST", "/nps/create", body=body)).status == 200
    deliver(stream.read())
    today = date.today()
    nps = score(world, today - timedelta(days=1), today + timedelta(days=1))
    assert (nps["promoters"], nps["passives"], nps["detractors"], nps["nps"]) == (1, 1, 1, 0.0)
    assert nps["byChannel"][0]["channel"] == "email" and nps["byCategory"][0]["responses"] == 3
    dash = invoke("dashboard", api_event("GET", "/api/external/dashboard", headers={"x-api-key": world.store_key})).json
    # rates 10, 8, 3 count as 5, 4 and 2 stars for CUST-7891: a first visit and two returns
    assert dash["identifiedCustomers"] == 1 and dash["returningCustomers"] == 1
    assert dash["firstVisit"]["count"] + dash["returnVisit"]["count"] == 3
    assert dash["ratingDistribution"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}
