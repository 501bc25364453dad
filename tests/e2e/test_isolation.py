"""Every response belongs to its own request, under concurrency, on the local stack.

Powertools keeps the current event on a class attribute: two invocations that share an
interpreter can answer each other's requests. The local stack runs each container as its own
process, so this must hold: ≥ 2,000 requests, 16 at a time, across 7 functions (token create,
submit, feedback search, surveys, dashboard, tracker get, NPS categories), while the scheduler
(ticking every second) and the stream poller (aggregating every submission) run; each answer is
checked against what only its own request could produce. Size: REVISIT_ISOLATION_REQUESTS.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

REQUESTS = int(os.environ.get("REVISIT_ISOLATION_REQUESTS", "2100"))
CONCURRENCY = 16
STORES = ("iso-north", "iso-south", "iso-east", "iso-west")
WORKSPACE = "5150"


@dataclass
class Store:
    slug: str
    creds: dict[str, Any]
    survey_name: str
    tracker_id: str
    category: str
    orders: list[tuple[str, str]]  # (orderId, civ) of feedback stored before the run


def _owner(creds: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {creds['ownerToken']}", "x-workspace-id": creds["workspaceId"]}


def _partner(creds: dict[str, Any]) -> dict[str, str]:
    return {"X-API-KEY": creds["partnerKey"], "X-API-SECRET": creds["partnerSecret"]}


def _token(stack, store: Store, order: str, civ: str) -> str:
    reply = stack.request(
        "POST",
        "/api/external/token",
        json={"storeSlug": store.slug, "payload": {"orderId": order, "civ": civ}},
        headers={"x-api-key": store.creds["storeApiKey"]},
    )
    assert reply.status_code == 201, reply.text
    return reply.json()["token"]


def _setup_store(stack, slug: str) -> Store:
    creds = stack.bootstrap(WORKSPACE, slug)
    survey_name = f"Receipt QR of {slug}"
    created = stack.request(
        "POST",
        "/api/surveys",
        headers=_owner(creds),
        json={"storeSlug": slug, "name": survey_name, "sendingType": "external"},
    )
    assert created.status_code == 201, created.text
    purchase = {
        "purchaseId": f"P-{slug}",
        "customerId": f"C-{slug}",
        "storeSlug": slug,
        "purchasedAt": "2026-11-30T10:00:00Z",
    }
    assert stack.request("POST", "/partners/purchases", json=purchase, headers=_partner(creds)).status_code == 201
    generated = stack.request(
        "POST",
        "/partners/survey-tracker/generate",
        json={"purchaseId": purchase["purchaseId"]},
        headers=_partner(creds),
    )
    assert generated.status_code in (200, 201), generated.text
    [tracker] = generated.json()["items"]
    category = f"cat-{slug}"
    reply = stack.request(
        "POST",
        "/api/nps/categories",
        headers=_owner(creds),
        json={"storeSlug": slug, "code": category, "name": f"Visit to {slug}", "passive_success": "Thanks"},
    )
    assert reply.status_code in (200, 201), reply.text
    store = Store(slug, creds, survey_name, tracker["id"], category, [])
    for n in range(3):
        order, civ = f"PRE-{slug}-{n}", f"CIV-{slug}-{n}"
        token = _token(stack, store, order, civ)
        submitted = stack.request("POST", "/api/external/public/submit", json={"token": token, "rating": 4})
        assert submitted.status_code == 201, submitted.text
        store.orders.append((order, civ))
    return store


def _check(ok: bool, what: str) -> str | None:
    return None if ok else what


def _one(stack, stores: list[Store], rng: random.Random) -> tuple[str, str | None, int]:
    """One request of a random kind; (kind, a mismatch or None, status)."""
    store = rng.choice(stores)
    key = {"x-api-key": store.creds["storeApiKey"]}
    kind = rng.choice(("flow", "search", "surveys", "dashboard", "tracker", "nps"))
    if kind == "flow":  # token create + submit: two requests whose record must carry this order's values
        order, civ = f"ISO-{uuid.uuid4().hex[:12]}", f"CIV-{uuid.uuid4().hex[:8]}"
        reply = stack.request(
            "POST",
            "/api/external/token",
            json={"storeSlug": store.slug, "payload": {"orderId": order, "civ": civ}},
            headers=key,
        )
        if reply.status_code != 201:
            return "token", None, reply.status_code
        token = reply.json()["token"]
        if not reply.json()["url"].endswith(token):
            return "token", f"url {reply.json()['url']} is not for {token}", 201
        rating = rng.randint(1, 5)
        reply = stack.request("POST", "/api/external/public/submit", json={"token": token, "rating": rating})
        if reply.status_code != 201:
            return "submit", None, reply.status_code
        store.orders.append((order, civ))
        return "submit", None, 201
    if kind == "search":
        order, civ = rng.choice(store.orders[:3])
        reply = stack.request("GET", "/api/external/feedback", params={"orderId": order}, headers=key)
        if reply.status_code != 200:
            return kind, None, reply.status_code
        items = reply.json()["items"]
        got = [(i.get("orderId"), i.get("civ"), i.get("storeSlug")) for i in items]
        return kind, _check(got == [(order, civ, store.slug)], f"orderId {order}: got {got}"), 200
    if kind == "surveys":
        reply = stack.request("GET", "/api/surveys", params={"storeSlug": store.slug}, headers=_owner(store.creds))
        if reply.status_code != 200:
            return kind, None, reply.status_code
        got = [(s["storeSlug"], s["name"]) for s in reply.json()["items"]]
        return kind, _check(got == [(store.slug, store.survey_name)], f"surveys of {store.slug}: got {got}"), 200
    if kind == "dashboard":
        reply = stack.request("GET", "/api/external/dashboard", params={"storeSlug": store.slug}, headers=key)
        if reply.status_code != 200:
            return kind, None, reply.status_code
        got = reply.json().get("storeSlug")
        return kind, _check(got == store.slug, f"dashboard of {store.slug}: got {got}"), 200
    if kind == "tracker":
        reply = stack.request(
            "GET", "/partners/survey-tracker", params={"id": store.tracker_id}, headers=_partner(store.creds)
        )
        if reply.status_code != 200:
            return kind, None, reply.status_code
        got = reply.json().get("id")
        return kind, _check(got == store.tracker_id, f"tracker {store.tracker_id}: got {got}"), 200
    reply = stack.request("GET", "/nps/categories", params={"shop_id": store.creds["shopId"]})
    if reply.status_code != 200:
        return kind, None, reply.status_code
    got = [c["code"] for c in reply.json()]
    return (
        kind,
        _check(
            store.category in got and all(c == store.category or not c.startswith("cat-") for c in got),
            f"categories of {store.slug}: got {got}",
        ),
        200,
    )


def test_every_response_belongs_to_its_own_request(stack):
    stores = [_setup_store(stack, slug) for slug in STORES]
    flows_before = sum(len(s.orders) for s in stores)
    rng = random.Random(12)
    seeds = [rng.randrange(2**32) for _ in range(REQUESTS)]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        results = list(pool.map(lambda seed: _one(stack, stores, random.Random(seed)), seeds))
    elapsed = time.monotonic() - started

    requests = sum(2 if kind == "submit" else 1 for kind, _, _ in results)
    mismatches = [m for _, m, _ in results if m]
    unexpected = Counter((kind, status) for kind, _, status in results if status not in (200, 201))
    kinds = Counter(kind for kind, _, _ in results)
    print(f"\nisolation: {requests} requests in {elapsed:.1f} s ({requests / elapsed:.0f}/s), {CONCURRENCY} at a time")
    print(f"  by kind: {dict(kinds)}; mismatches: {len(mismatches)}; unexpected statuses: {dict(unexpected)}")
    assert requests >= 2000
    assert not mismatches, mismatches[:10]
    assert not unexpected, unexpected

    # Every record written by the run carries its own request's orderId and civ.
    for store in stores:
        key = {"x-api-key": store.creds["storeApiKey"]}
        for order, civ in store.orders[3:]:
            items = stack.request("GET", "/api/external/feedback", params={"orderId": order}, headers=key).json()
            got = [(i.get("orderId"), i.get("civ")) for i in items["items"]]
            assert got == [(order, civ)], (order, got)
    assert sum(len(s.orders) for s in stores) - flows_before == kinds["submit"]
