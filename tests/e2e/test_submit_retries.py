"""Retry-safe submission over HTTP (issue 14 part 5): 40 concurrent identical submits of one
one-time token make exactly one record; every answer is 201 (one) or a 200 replay of it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.e2e


def test_forty_concurrent_identical_submits_make_one_record_and_replays_return_it(stack):
    creds = stack.bootstrap("1440", "retry-cafe")  # its own workspace: any test order
    token_reply = stack.request(
        "POST",
        "/api/external/token",
        json={"storeSlug": "retry-cafe", "payload": {"orderId": "RETRY-40", "civ": "CUST-40"}},
        headers={"x-api-key": creds["storeApiKey"]},
    )
    assert token_reply.status_code == 201, token_reply.text
    body = {"token": token_reply.json()["token"], "rating": 4, "comment": "Lost my signal twice"}
    barrier = threading.Barrier(40)

    def submit(_):
        barrier.wait()
        return stack.request("POST", "/api/external/public/submit", json=body, timeout=120)

    with ThreadPoolExecutor(max_workers=40) as pool:
        replies = list(pool.map(submit, range(40)))

    statuses = sorted(r.status_code for r in replies)
    assert set(statuses) <= {200, 201} and statuses.count(201) == 1, [(r.status_code, r.text) for r in replies]
    [created] = [r for r in replies if r.status_code == 201]
    assert "Idempotent-Replayed" not in created.headers
    assert set(created.json()) == {"id", "status", "rating", "createdAt"}
    for reply in replies:
        assert reply.json() == created.json()  # the first submission's id, rating and time
        if reply.status_code == 200:
            assert reply.headers["Idempotent-Replayed"] == "true"

    replay = stack.request("POST", "/api/external/public/submit", json=body)
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == created.json()["id"]
    different = stack.request("POST", "/api/external/public/submit", json={**body, "rating": 1})
    assert different.status_code == 409 and "Idempotent-Replayed" not in different.headers

    found = stack.request(
        "GET", "/api/external/feedback", params={"orderId": "RETRY-40"}, headers={"x-api-key": creds["storeApiKey"]}
    )
    assert found.status_code == 200, found.text
    [item] = found.json()["items"]
    assert item["id"] == created.json()["id"] and item["rating"] == 4
