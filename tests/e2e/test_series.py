"""The series end to end (issue 16 part 2): rows imported over HTTP reach the hour counters through
the table's stream and the real aggregator, and GET /api/external/dashboard/series buckets them by
the store's local calendar - here Asia/Kathmandu (+05:45), whose buckets start at the UTC hour
containing local midnight (18:00 UTC, 23:45 local)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

STORE = "downtown-coffee"
DEADLINE = 15.0
ROWS = [  # (createdAt, rating, civ)
    ("2026-03-01T12:00:00.000Z", 5, "CUST-1"),  # 17:45 on March 1 in Kathmandu
    ("2026-03-01T17:59:59.999Z", 2, None),  # 23:44:59: still March 1
    ("2026-03-01T18:10:00.000Z", 4, "CUST-1"),  # 23:55 local: in the hour holding midnight -> March 2
    ("2026-03-02T09:00:00.000Z", 3, "CUST-2"),  # March 2
    ("2026-03-10T09:00:00.000Z", 1, "CUST-2"),  # the week of Monday March 9
]


def _get(stack, path: str, headers: dict[str, str], **query: str) -> Any:
    return stack.request("GET", path, headers=headers, params=query)


def _series(stack, headers: dict[str, str], **query: str) -> dict[str, Any]:
    reply = _get(stack, "/api/external/dashboard/series", headers, **query)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_imported_rows_reach_the_series_in_the_stores_calendar(stack):
    creds = stack.bootstrap("series-" + uuid.uuid4().hex[:10], STORE)
    owner = stack.owner_headers(creds)
    reply = stack.request("PATCH", f"/api/stores/{STORE}", headers=owner, json={"timezone": "Asia/Kathmandu"})
    assert reply.status_code == 200, reply.text
    key = {"x-api-key": creds["workspaceApiKey"]}
    body = "".join(
        json.dumps(
            {"storeSlug": STORE, "createdAt": at, "rating": rating, "externalId": f"e2e-{n}"}
            | ({"civ": civ} if civ else {})
        )
        + "\n"
        for n, (at, rating, civ) in enumerate(ROWS)
    )
    headers = {**key, "Content-Type": "application/x-ndjson"}
    reply = stack.request("POST", "/api/external/feedback/import", headers=headers, data=body.encode())
    assert reply.status_code == 200, reply.text
    assert reply.json()["created"] == len(ROWS)

    period = {"storeSlug": STORE, "from": "2026-03-01", "to": "2026-03-15"}
    started = time.monotonic()
    days = _series(stack, key, **period)
    while sum(b["count"] for b in days["buckets"]) < len(ROWS) and time.monotonic() - started < DEADLINE:
        time.sleep(0.2)
        days = _series(stack, key, **period)
    assert sum(b["count"] for b in days["buckets"]) == len(ROWS), stack.log()[-3000:]
    assert days["timezone"] == "Asia/Kathmandu" and days["interval"] == "day" and len(days["buckets"]) == 15
    first, second = days["buckets"][:2]
    assert (first["start"], first["startsAt"], first["endsAt"]) == (
        "2026-03-01",
        "2026-02-28T18:00:00.000Z",
        "2026-03-01T18:00:00.000Z",
    )
    assert first["count"] == 2 and first["avgRating"] == 3.5 and first["firstVisit"] == {"count": 1, "avgRating": 5.0}
    assert second["count"] == 2 and second["returnVisit"] == {"count": 1, "avgRating": 4.0}
    assert second["firstVisit"] == {"count": 1, "avgRating": 3.0}
    empty = days["buckets"][2]
    assert empty["count"] == 0 and empty["avgRating"] is None and empty["nps"]["score"] is None

    weeks = _series(stack, key, **period, interval="week")
    assert [(b["start"], b["end"], b["count"]) for b in weeks["buckets"]] == [
        ("2026-03-01", "2026-03-01", 2),  # a Sunday: the first week is the period's part of it
        ("2026-03-02", "2026-03-08", 2),
        ("2026-03-09", "2026-03-15", 1),
    ]
    months = _series(stack, key, storeSlug=STORE, **{"from": "2026-02-01", "to": "2026-03-31"}, interval="month")
    assert [(b["start"], b["count"]) for b in months["buckets"]] == [("2026-02-01", 0), ("2026-03-01", 5)]

    # The store's own key sees the same series without naming the store.
    assert (
        _series(stack, {"x-api-key": creds["storeApiKey"]}, **{k: v for k, v in period.items() if k != "storeSlug"})
        == days
    )

    for query, field in (
        ({**period, "interval": "hour"}, "interval"),
        ({**period, "from": "2025-03-01"}, "from"),  # 380 days
    ):
        reply = _get(stack, "/api/external/dashboard/series", key, **query)
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"]["details"][0]["field"] == field
