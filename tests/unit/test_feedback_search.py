"""Feedback search, pagination and export (seed 000: search, filter, and export)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import api_event, invoke, sample_event

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_feedback(world, monkeypatch, specs):
    """specs: (store, minutes after T0, rating, civ, orderId, source, comment)."""
    from revisit.domain import submissions

    made = []
    for store, minutes, rating, civ, order_id, source, comment in specs:
        payload = {k: v for k, v in {"civ": civ, "orderId": order_id}.items() if v}
        body = {"storeSlug": store, "payload": payload, **({"source": source} if source else {})}
        token = invoke(
            "token", api_event("POST", "/api/external/token", body=body, headers={"x-api-key": world.workspace_key})
        ).json["token"]
        monkeypatch.setattr(submissions, "now", lambda m=minutes: T0 + timedelta(minutes=m))
        reply = invoke(
            "submit",
            api_event(
                "POST",
                "/api/external/public/submit",
                body={"token": token, "rating": rating, **({"comment": comment} if comment else {})},
            ),
        )
        assert reply.status == 201
        made.append(reply.json["id"])
    return made


SPECS = [
    ("downtown-coffee", 0, 5, "CUST-1", "ORD-1", "POS", "Lovely flat white"),
    ("downtown-coffee", 10, 3, "CUST-2", "ORD-2", "email", "Slow service today"),
    ("downtown-coffee", 20, 1, None, "ORD-3", "POS", '=HYPERLINK("http://evil")'),
    ("uptown-bakery", 30, 4, "CUST-1", "ORD-4", "POS", "Croissant was great"),
    ("downtown-coffee", 40, 4, "CUST-1", None, None, None),
    ("uptown-bakery", 50, 2, "CUST-3", "ORD-6", "email", "cold COFFEE, café froid"),
]


@pytest.fixture
def seeded(world, monkeypatch):
    make_feedback(world, monkeypatch, SPECS)
    return world


def search(key, **query):
    reply = invoke(
        "feedback",
        api_event(
            "GET", "/api/external/feedback", headers={"x-api-key": key}, query={k: str(v) for k, v in query.items()}
        ),
    )
    return reply


def minutes(items):
    return [
        int((datetime.fromisoformat(i["createdAt"].replace("Z", "+00:00")) - T0).total_seconds() // 60) for i in items
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [50, 40, 30, 20, 10, 0]),
        ({"storeSlug": "downtown-coffee"}, [40, 20, 10, 0]),
        ({"orderId": "ORD-2"}, [10]),
        ({"orderId": "ORD-4", "storeSlug": "downtown-coffee"}, []),
        ({"civ": "CUST-1"}, [40, 30, 0]),
        ({"civ": "CUST-1", "storeSlug": "uptown-bakery"}, [30]),
        ({"minRating": 4}, [40, 30, 0]),
        ({"maxRating": 2}, [50, 20]),
        ({"minRating": 2, "maxRating": 3}, [50, 10]),
        ({"source": "email"}, [50, 10]),
        ({"q": "coffee"}, [50]),
        ({"q": "CAFÉ"}, [50]),
        ({"from": "2026-03-01T12:10:00Z", "to": "2026-03-01T12:30:00Z"}, [30, 20, 10]),
        ({"from": "2026-03-01", "to": "2026-03-01"}, [50, 40, 30, 20, 10, 0]),
        ({"to": "2026-02-28"}, []),
        ({"civ": "CUST-1", "minRating": 5}, [0]),
    ],
)
def test_every_filter(seeded, query, expected):
    reply = search(seeded.workspace_key, **query)
    assert reply.status == 200, reply.text
    assert minutes(reply.json["items"]) == expected


def test_sample_search_event(seeded):
    event = sample_event("feedback_search")
    event["headers"]["x-api-key"] = seeded.store_key
    reply = invoke("feedback", event)
    assert reply.status == 200
    assert reply.json["items"] == []  # ORD-12345 was never answered here
    event["queryStringParameters"]["orderId"] = "ORD-1"
    assert [i["orderId"] for i in invoke("feedback", event).json["items"]] == ["ORD-1"]


def test_pagination_to_the_end(seeded):
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = search(seeded.workspace_key, **query).json
        seen += minutes(body["items"])
        pages += 1
        cursor = body["nextCursor"]
        if not cursor:
            break
    assert seen == [50, 40, 30, 20, 10, 0]
    assert pages <= 4


def test_pagination_with_a_filter(seeded):
    first = search(seeded.workspace_key, civ="CUST-1", limit=1).json
    second = search(seeded.workspace_key, civ="CUST-1", limit=1, cursor=first["nextCursor"]).json
    third = search(seeded.workspace_key, civ="CUST-1", limit=5, cursor=second["nextCursor"]).json
    assert minutes(first["items"] + second["items"] + third["items"]) == [40, 30, 0]
    assert third["nextCursor"] is None


def test_store_key_sees_only_its_store(seeded):
    body = search(seeded.store_key).json
    assert {i["storeSlug"] for i in body["items"]} == {"downtown-coffee"}
    assert search(seeded.store_key, storeSlug="uptown-bakery").status == 403
    assert {i["storeSlug"] for i in search(seeded.store_key, civ="CUST-1").json["items"]} == {"downtown-coffee"}


def test_foreign_workspace_sees_nothing(seeded):
    assert search(seeded.foreign_key).json["items"] == []
    assert search(seeded.foreign_key, orderId="ORD-1").json["items"] == []
    assert search("nk_not_a_key").status == 401


def test_a_cursor_from_another_search_is_rejected(seeded):
    cursor = search(seeded.workspace_key, limit=1).json["nextCursor"]
    reply = search(seeded.foreign_key, limit=1, cursor=cursor)
    assert reply.status == 400 and reply.json["error"]["details"][0]["field"] == "cursor"
    assert search(seeded.workspace_key, cursor="garbage!").status == 400


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"minRating": 6}, "minRating"),
        ({"from": "yesterday"}, "from"),
        ({"minRating": 4, "maxRating": 2}, "body"),
        ({"color": "red"}, "color"),
    ],
)
def test_bad_queries_name_the_field(seeded, query, field):
    reply = search(seeded.workspace_key, **query)
    assert reply.status == 400
    assert any(d["field"] == field for d in reply.json["error"]["details"])


def export(key, **query):
    return invoke(
        "feedback",
        api_event(
            "GET",
            "/api/external/feedback/export",
            headers={"x-api-key": key},
            query={k: str(v) for k, v in query.items()},
        ),
    )


def test_csv_export_is_spreadsheet_safe(seeded):
    reply = export(seeded.workspace_key, format="csv")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/csv")
    assert reply.text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(reply.text.lstrip("\ufeff"))))
    assert len(rows) == 6
    assert {"payload.civ", "payload.orderId"} <= set(rows[0])
    formula = next(r for r in rows if r["orderId"] == "ORD-3")
    assert formula["comment"] == '\'=HYPERLINK("http://evil")'
    assert next(r for r in rows if r["orderId"] == "ORD-6")["comment"] == "cold COFFEE, café froid"


def test_jsonl_export_with_filters(seeded):
    reply = export(seeded.store_key, format="jsonl", minRating=3)
    lines = [json.loads(line) for line in reply.text.splitlines()]
    assert [r["rating"] for r in lines] == [4, 3, 5]
    assert "x-revisit-next-cursor" not in reply.headers


def test_export_sample_event(seeded):
    event = sample_event("feedback_export")
    event["headers"]["x-api-key"] = seeded.store_key
    reply = invoke("feedback", event)
    assert reply.status == 200
    assert reply.headers["x-revisit-rows"] == "4"


def test_big_export_continues_with_a_cursor(seeded, monkeypatch):
    from revisit.domain import feedback

    monkeypatch.setattr(feedback, "EXPORT_MAX_BYTES", 1)  # every page over the limit: one page per call
    monkeypatch.setattr(feedback, "_page", _small_pages(feedback._page))
    got, cursor = [], None
    while True:
        reply = export(seeded.workspace_key, format="jsonl", **({"cursor": cursor} if cursor else {}))
        got += [json.loads(line)["orderId"] if "orderId" in line else None for line in reply.text.splitlines()]
        cursor = reply.headers.get("x-revisit-next-cursor")
        if not cursor:
            break
    assert got == ["ORD-6", None, "ORD-4", "ORD-3", "ORD-2", "ORD-1"]


def _small_pages(original):
    return lambda q, _limit, cursor: original(q, 2, cursor)
