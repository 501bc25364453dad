"""POST /partners/survey-tracker/list by purchases or customers (issue 18 defect 6): the number
of DynamoDB calls no longer grows with the number of ids (it was one Query per id: 100 + 100 ids
took over 300 s on the local stack), and the answer is the brute-force one."""

from __future__ import annotations

import pytest

from tests.analytics_support import CallCounter
from tests.support import api_event, invoke

STORE = "downtown-coffee"
N = 100


def partner(world):
    return {"X-API-KEY": world.partner_key, "X-API-SECRET": world.partner_secret}


@pytest.fixture
def trackers(world, table):
    """Two surveys that send (email, sms: two trackers a purchase) and one that does not apply;
    N purchases of N customers (+ one customer with two purchases)."""
    owner = world.owner_headers()
    for body in (
        {"storeSlug": STORE, "name": "Mail", "sendingType": "email"},
        {"storeSlug": STORE, "name": "Text", "sendingType": "sms"},
        {"storeSlug": STORE, "name": "Never", "sendingType": "email", "rule": {"minAmount": 10_000}},
    ):
        reply = invoke("management", api_event("POST", "/api/surveys", body=body, headers=owner))
        assert reply.status == 201, reply.text
    for i in range(N + 1):
        body = {
            "purchaseId": f"P-{i}",
            "customerId": f"C-{min(i, N - 1)}",
            "storeSlug": STORE,
            "purchasedAt": f"2026-11-{1 + i % 28:02d}T10:00:00Z",
            "amount": 20.0,
            "email": "ann@example.com",
            "phone": "+33612345678",
        }
        reply = invoke("purchases", api_event("POST", "/partners/purchases", body=body, headers=partner(world)))
        assert reply.status in (200, 201), reply.text
    from revisit.dal import table as table_mod

    items = []
    for page in table.get_paginator("scan").paginate(TableName=table_mod.TABLE):
        items.extend(table_mod.deserialize(i) for i in page["Items"])
    return [i for i in items if i.get("type") == "tracker"]


@pytest.fixture
def calls(table):
    from revisit.dal import table as table_mod

    counter = CallCounter()
    table_mod.client.meta.events.register("before-call.dynamodb", counter)
    yield counter
    table_mod.client.meta.events.unregister("before-call.dynamodb", counter)


def listed(world, calls, body) -> tuple[dict, dict]:
    calls.calls.clear()
    reply = invoke(
        "tracker_list", api_event("POST", "/partners/survey-tracker/list", body=body, headers=partner(world))
    )
    assert reply.status == 200, reply.text
    return reply.json, dict(calls.calls)


def expected(stored, *, purchases=None, customers=None, lo="", hi="\uffff"):
    rows = [
        t
        for t in stored
        if (purchases is None or t["purchaseId"] in purchases)
        and (customers is None or t["customerId"] in customers)
        and lo <= t["sendAt"] <= hi
    ]
    return sorted((t["id"] for t in rows), key=lambda i: next((t["sendAt"], t["id"]) for t in rows if t["id"] == i))


def test_calls_do_not_grow_with_the_ids_and_the_answer_is_exact(world, trackers, calls):
    assert len(trackers) == 2 * (N + 1)
    few = [f"P-{i}" for i in range(3)]
    many = [f"P-{i}" for i in range(N)]
    customers = [f"C-{i}" for i in range(N)]
    costs = {}
    for name, body, want in (
        ("3 purchases", {"purchases": few, "limit": 100}, expected(trackers, purchases=few)),
        ("100 purchases", {"purchases": many, "limit": 100}, expected(trackers, purchases=many)),
        ("3 customers", {"customers": customers[:3], "limit": 100}, expected(trackers, customers=customers[:3])),
        ("100 customers", {"customers": customers, "limit": 100}, expected(trackers, customers=customers)),
        (
            "100 + 100",
            {"purchases": many, "customers": customers, "limit": 100},
            expected(trackers, purchases=many, customers=customers),
        ),
    ):
        body_out, cost = listed(world, calls, body)
        assert body_out["total"] == len(want), name
        got = [t["id"] for t in body_out["items"]]
        assert got == list(reversed(want))[:100], name  # newest sendAt first
        costs[name] = cost
    # purchases: surveys Query + BatchGetItem of the (survey, purchase) uniqueness items + of the
    # trackers; customers: one Query of the time line (its pages). Was: one Query per id.
    assert costs["3 purchases"] == {"GetItem": 1, "Query": 1, "BatchGetItem": 2}, costs
    assert costs["100 purchases"] == {"GetItem": 1, "Query": 1, "BatchGetItem": 3 + 2}, costs  # 300 pairs, 200 trackers
    assert costs["3 customers"] == costs["100 customers"] == {"GetItem": 1, "Query": 1}, costs
    assert costs["100 + 100"] == costs["100 purchases"], costs
    print("tracker list calls:", costs)


def test_send_range_and_store_still_apply(world, trackers, calls):
    many = [f"P-{i}" for i in range(N)]
    customers = [f"C-{i}" for i in range(N)]
    sends = sorted(t["sendAt"] for t in trackers)
    middle = sends[len(sends) // 2]
    for lo, hi in (("2001-01-01T00:00:00.000Z", "2001-12-31T23:59:59.999Z"), (sends[0], middle), (middle, sends[-1])):
        body, _ = listed(world, calls, {"purchases": many, "fromSendAt": lo, "toSendAt": hi, "limit": 100})
        want = expected(trackers, purchases=many, lo=lo, hi=hi)
        assert body["total"] == len(want) and {t["id"] for t in body["items"]} <= set(want)
        body, _ = listed(world, calls, {"customers": customers, "fromSendAt": lo, "toSendAt": hi, "limit": 100})
        want = expected(trackers, customers=customers, lo=lo, hi=hi)
        assert body["total"] == len(want) and {t["id"] for t in body["items"]} <= set(want)
    own, _ = listed(world, calls, {"customers": customers, "storeSlug": STORE, "limit": 100})
    assert own["total"] == len(expected(trackers, customers=customers))
