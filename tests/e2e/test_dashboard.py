"""CIV loyalty analytics end to end: submissions through the local API move the dashboard,
via the table's stream, the stream poller and the real aggregator (seed 000)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

STORE = "downtown-coffee"
DEADLINE = 10.0  # seconds for a submission to reach the dashboard


def submit(stack, key: str, rating: int, civ: str | None = None) -> dict[str, Any]:
    payload = {"orderId": "ORD-" + uuid.uuid4().hex[:8], **({"civ": civ} if civ else {})}
    token = stack.request(
        "POST", "/api/external/token", headers={"x-api-key": key}, json={"storeSlug": STORE, "payload": payload}
    )
    assert token.status_code == 201, token.text
    reply = stack.request(
        "POST", "/api/external/public/submit", json={"token": token.json()["token"], "rating": rating}
    )
    assert reply.status_code == 201, reply.text
    return reply.json()


def dashboard(stack, headers: dict[str, str], **query: str) -> dict[str, Any]:
    reply = stack.request("GET", "/api/external/dashboard", headers=headers, params=query)
    assert reply.status_code == 200, reply.text
    return reply.json()


def wait_for(stack, headers: dict[str, str], total: int, **query: str) -> tuple[dict[str, Any], float]:
    """Poll until the dashboard counts ``total`` feedback; (the body, seconds it took)."""
    started = time.monotonic()
    body = dashboard(stack, headers, **query)
    while body["totalFeedback"] != total and time.monotonic() - started < DEADLINE:
        time.sleep(0.2)
        body = dashboard(stack, headers, **query)
    assert body["totalFeedback"] == total, f"not aggregated within {DEADLINE:.0f} s:\n{body}\n{stack.log()[-3000:]}"
    return body, time.monotonic() - started


def test_submissions_move_the_dashboard(stack):
    creds = stack.bootstrap("dash-" + uuid.uuid4().hex[:10], STORE)
    key = creds["workspaceApiKey"]
    ws_key = {"x-api-key": key}
    empty = dashboard(stack, ws_key, storeSlug=STORE)
    assert empty["totalFeedback"] == 0 and empty["identifiedCustomers"] == 0 and empty["returnRate"] is None

    submit(stack, key, 5, civ="CUST-7891")
    body, _ = wait_for(stack, ws_key, 1, storeSlug=STORE)
    plain = ("count", "avgRating", "csatPercent")  # the intervals are checked by the unit oracle
    assert {k: body["firstVisit"][k] for k in plain} == {"count": 1, "avgRating": 5.0, "csatPercent": 100.0}
    assert {k: body["returnVisit"][k] for k in plain} == {"count": 0, "avgRating": None, "csatPercent": None}
    assert body["firstVisit"]["avgRatingCi95"] is None and body["firstVisit"]["csatPercentCi95"] == [20.7, 100.0]
    assert body["identifiedCustomers"] == 1 and body["returningCustomers"] == 0 and body["returnRate"] == 0.0

    submit(stack, key, 3, civ="CUST-7891")  # the same customer comes back, less happy
    submit(stack, key, 2)  # anonymous
    submit(stack, key, 4, civ="CUST-1234")
    body, seconds = wait_for(stack, ws_key, 4, storeSlug=STORE)
    assert body["anonymousFeedback"] == 1 and body["identifiedFeedback"] == 3
    assert body["ratingDistribution"] == {"1": 0, "2": 1, "3": 1, "4": 1, "5": 1}
    assert body["identifiedCustomers"] == 2 and body["returningCustomers"] == 1 and body["returnRate"] == 50.0
    assert {k: body["firstVisit"][k] for k in plain} == {"count": 2, "avgRating": 4.5, "csatPercent": 100.0}
    assert {k: body["returnVisit"][k] for k in plain} == {"count": 1, "avgRating": 3.0, "csatPercent": 0.0}
    assert body["loyaltySignal"]["direction"] == "lower" and body["loyaltySignal"]["delta"] == -1.5
    assert body["loyaltySignal"]["note"].startswith("Inconclusive")  # 2 and 1 visits: too few to tell
    assert seconds < DEADLINE

    # The store's own key sees the same numbers without naming the store; others are refused.
    assert dashboard(stack, {"x-api-key": creds["storeApiKey"]}) == body
    owner = {"Authorization": f"Bearer {creds['ownerToken']}", "x-workspace-id": creds["workspaceId"]}
    assert dashboard(stack, owner, storeSlug=STORE) == body
    partner = {"x-api-key": creds["partnerKey"], "x-api-secret": creds["partnerSecret"]}
    refused = stack.request("GET", "/api/external/dashboard", headers=partner, params={"storeSlug": STORE})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"


def test_a_drifting_loyalist_is_listed(stack):
    creds = stack.bootstrap("dash-" + uuid.uuid4().hex[:10], STORE)
    key = creds["workspaceApiKey"]
    for rating in (5, 5, 3, 3, 3):
        submit(stack, key, rating, civ="LOYAL-1")
    body, _ = wait_for(stack, {"x-api-key": key}, 5, storeSlug=STORE)
    (entry,) = body["growingDissatisfied"]
    assert entry["civ"] == "LOYAL-1" and entry["earlierAvg"] == 5.0 and entry["recentAvg"] == 3.0
    assert entry["drop"] == 2.0 and entry["visitCount"] == 5 and entry["recentRatings"] == [3, 3, 3]


def test_bad_period_is_400_naming_the_field(stack):
    creds = stack.bootstrap("dash-" + uuid.uuid4().hex[:10], STORE)
    reply = stack.request(
        "GET",
        "/api/external/dashboard",
        headers={"x-api-key": creds["workspaceApiKey"]},
        params={"storeSlug": STORE, "from": "2026-13-01"},
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["details"][0]["field"] == "from"
