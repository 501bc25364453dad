"""POST /api/external/feedback/import (issue 16 part 5): JSON Lines and CSV, every row validated
before anything is written, each row stored once by its externalId, counted on its own day."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.analytics_support import deliver
from tests.support import api_event, invoke

TODAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
JSONL = "application/x-ndjson"


def at(days_ago: int, hour: int = 12) -> str:
    return (TODAY - timedelta(days=days_ago)).replace(hour=hour).isoformat().replace("+00:00", "Z")


def rows(n: int, store: str = "downtown-coffee", prefix: str = "dl", **fields):
    return [
        {
            "storeSlug": store,
            "createdAt": at(1 + i % 20),
            "rating": 1 + i % 5,
            "comment": f"answer {i}",
            "civ": f"C{i % 7}",
            "orderId": f"O-{i}",
            "source": "delighted",
            "externalId": f"{prefix}-{i}",
            **fields,
        }
        for i in range(n)
    ]


def jsonl(records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def as_csv(records) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


def post(body: str, headers, content_type=JSONL):
    event = api_event(
        "POST", "/api/external/feedback/import", body=body, headers={**headers, "Content-Type": content_type}
    )
    return invoke("feedback_import", event)


def search(headers, **query):
    reply = invoke("feedback", api_event("GET", "/api/external/feedback", headers=headers, query=query or None))
    assert reply.status == 200, reply.text
    return reply.json["items"]


def imported_keys(table):
    req = {"TableName": "revisit-unit", "FilterExpression": "begins_with(pk, :p)"}
    req["ExpressionAttributeValues"] = {":p": {"S": "IMPORT#"}}
    return table.scan(**req)["Items"]


def test_jsonl_import_stores_marked_records_once(world, table):
    sent = rows(5)
    reply = post(jsonl(sent), world.owner_headers())
    assert reply.status == 200, reply.text
    assert reply.json == {"received": 5, "created": 5, "alreadyPresent": 0}
    found = search({"x-api-key": world.store_key}, limit="50")
    assert len(found) == 5
    by_external = {f["externalId"]: f for f in found}
    first = by_external["dl-0"]
    assert first["imported"] is True and first["source"] == "delighted"
    assert (first["rating"], first["comment"], first["civ"], first["orderId"]) == (1, "answer 0", "C0", "O-0")
    assert first["createdAt"] == at(1).replace("Z", ".000Z")
    assert "trackerId" not in first

    again = post(jsonl(sent), world.owner_headers())  # retried: nothing twice
    assert again.json == {"received": 5, "created": 0, "alreadyPresent": 5}
    resumed = post(jsonl(rows(8)), world.owner_headers())  # the first five again, three new
    assert resumed.json == {"received": 8, "created": 3, "alreadyPresent": 5}
    assert len(search({"x-api-key": world.store_key}, limit="50")) == 8
    assert len(imported_keys(table)) == 8


def test_csv_import_with_a_workspace_key(world):
    records = rows(4, comment="=SUM(A1)")  # stored as written (the export quotes it again)
    records[1]["civ"] = ""  # an empty cell is no value
    reply = post(as_csv(records), {"x-api-key": world.workspace_key}, "text/csv; charset=utf-8")
    assert reply.status == 200, reply.text
    assert reply.json["created"] == 4
    found = {f["externalId"]: f for f in search({"x-api-key": world.workspace_key})}
    assert found["dl-2"]["rating"] == 3 and found["dl-2"]["comment"] == "=SUM(A1)"
    assert "civ" not in found["dl-1"]


def test_rating_6_in_row_7_rejects_the_request_and_writes_nothing(world, table):
    records = rows(10)
    records[6]["rating"] = 6  # row 7: rows are numbered from 1
    records[8]["createdAt"] = "yesterday"
    for body, content_type in ((jsonl(records), JSONL), (as_csv(records), "text/csv")):
        reply = post(body, world.owner_headers(), content_type)
        assert reply.status == 400, reply.text
        fields = [d["field"] for d in reply.json["error"]["details"]]
        assert fields == ["rows[7].rating", "rows[9].createdAt"]
        assert "rows[7].rating" in reply.json["error"]["message"]
    assert search({"x-api-key": world.store_key}) == [] and imported_keys(table) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"createdAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, "rows[2].createdAt"),  # future
        ({"createdAt": "2026-01-01T10:00:00"}, "rows[2].createdAt"),  # no time zone
        ({"storeSlug": "nowhere"}, "rows[2].storeSlug"),
        ({"externalId": "dl-0"}, "rows[2].externalId"),  # repeats row 1
        ({"externalId": ""}, "rows[2].externalId"),
        ({"rating": 4.5}, "rows[2].rating"),
        ({"rating": True}, "rows[2].rating"),
        ({"comment": "x" * 2001}, "rows[2].comment"),
        ({"mood": "happy"}, "rows[2].mood"),
    ],
)
def test_bad_rows_name_row_and_field(world, table, change, field):
    records = rows(3)
    records[1] |= change
    reply = post(jsonl(records), world.owner_headers())
    assert reply.status == 400, reply.text
    assert [d["field"] for d in reply.json["error"]["details"]] == [field]
    assert imported_keys(table) == []


def test_malformed_bodies(world):
    headers = world.owner_headers()
    assert post('{"storeSlug": \n', headers).json["error"]["details"][0]["field"] == "rows[1]"
    assert post("[1, 2]\n", headers).json["error"]["details"][0]["field"] == "rows[1]"
    assert post("", headers).json["error"]["details"][0]["field"] == "rows"
    wrong_type = post(jsonl(rows(1)), headers, "application/json")
    assert wrong_type.status == 400 and wrong_type.json["error"]["details"][0]["field"] == "Content-Type"
    header = post("storeSlug,rating,mood\ndowntown-coffee,5,ok\n", headers, "text/csv")
    assert header.status == 400
    assert {d["field"] for d in header.json["error"]["details"]} == {
        "columns.mood",
        "columns.createdAt",
        "columns.externalId",
    }


def test_more_than_1000_rows_is_413_and_1000_are_fine(world, table):
    too_many = post(jsonl(rows(1001)), world.owner_headers())
    assert too_many.status == 413 and too_many.json["error"]["details"][0]["field"] == "rows"
    assert imported_keys(table) == []
    fine = post(as_csv(rows(1000)), world.owner_headers(), "text/csv")
    assert fine.status == 200 and fine.json["created"] == 1000


def test_who_may_import_and_who_sees_it(world):
    assert post(jsonl(rows(2)), {"x-api-key": world.store_key}).status == 403
    assert post(jsonl(rows(2)), {"x-api-key": "nk_nope"}).status == 401
    assert post(jsonl(rows(2)), {"x-api-key": world.foreign_key}).json["created"] == 2  # its own store
    assert search({"x-api-key": world.workspace_key}) == []  # another workspace's rows: not ours
    mine = post(jsonl(rows(2)), {"x-api-key": world.workspace_key})
    assert mine.json["created"] == 2  # the same externalIds: another workspace's key space
    assert len(search({"x-api-key": world.foreign_key})) == 2
    assert len(search({"x-api-key": world.workspace_key})) == 2
    other = post(jsonl(rows(1, store="uptown-bakery", prefix="ub")), {"x-api-key": world.workspace_key})
    assert other.json["created"] == 1


def test_imported_rows_count_on_their_own_day_also_when_late(world, stream):
    headers = world.owner_headers()
    later = {"storeSlug": world.store, "createdAt": at(3), "rating": 2, "civ": "C1", "externalId": "x-later"}
    assert post(jsonl([later]), headers).json["created"] == 1
    deliver(stream.read())
    older = [
        {"storeSlug": world.store, "createdAt": at(10), "rating": 5, "civ": "C1", "externalId": "x-first"},
        {"storeSlug": world.store, "createdAt": at(10, 9), "rating": 4, "externalId": "x-anon"},
    ]
    assert post(jsonl(older), headers).json["created"] == 2  # older than what was counted already
    records = stream.read()
    assert len(records) == 2  # the feedback records reach the aggregator; key items do not
    deliver(records)

    def day(days_ago):
        d = (TODAY - timedelta(days=days_ago)).date().isoformat()
        query = {"storeSlug": world.store, "from": d, "to": d}
        reply = invoke("dashboard", api_event("GET", "/api/external/dashboard", headers=headers, query=query))
        assert reply.status == 200, reply.text
        return reply.json

    ten = day(10)
    assert (ten["totalFeedback"], ten["anonymousFeedback"]) == (2, 1)
    assert (ten["firstVisit"]["count"], ten["firstVisit"]["avgRating"]) == (1, 5.0)
    three = day(3)  # once the first visit, now the customer's return
    assert (three["totalFeedback"], three["firstVisit"]["count"], three["returnVisit"]["count"]) == (1, 0, 1)


SAMPLES = __import__("pathlib").Path(__file__).resolve().parents[2] / "docs" / "samples"


def _args(file, fmt, **extra):
    import argparse

    defaults = {"rating_column": None, "comment_column": None, "scale": "5"}
    return argparse.Namespace(file=str(SAMPLES / file), format=fmt, store="downtown-coffee", **(defaults | extra))


def test_the_sample_exports_convert_and_import(world):
    from revisit_dev import cli

    delighted, skipped = cli.import_rows(_args("delighted.jsonl", "delighted"))
    assert skipped == 1  # the CES answer: no rating of ours
    by_id = {r["externalId"]: r for r in delighted}
    assert [by_id[f"delighted:{i}"]["rating"] for i in ("3001", "3002", "3003", "4001", "4002")] == [5, 1, 4, 5, 2]
    assert by_id["delighted:3002"]["source"] == "delighted-nps"  # NPS 0: a rating of 1
    assert by_id["delighted:4001"] | {"civ": None} == {
        "storeSlug": "downtown-coffee",
        "createdAt": "2025-01-10T09:00:00Z",
        "rating": 5,
        "comment": "Friendly staff",
        "civ": None,
        "source": "delighted-csat",
        "externalId": "delighted:4001",
    }
    assert by_id["delighted:3001"]["civ"] == "CUST-7891" and by_id["delighted:3001"]["orderId"] == "A-1001"
    formbricks, unanswered = cli.import_rows(
        _args(
            "formbricks.csv",
            "formbricks",
            rating_column="How would you rate your visit?",
            comment_column="Anything we could do better?",
        )
    )
    assert unanswered == 1 and [r["rating"] for r in formbricks] == [5, 3, 1]
    assert formbricks[1]["comment"] == 'Music too loud, but good "pain au chocolat"' and "civ" not in formbricks[1]
    assert formbricks[0]["createdAt"] == "2025-02-03T09:15:00Z"

    for converted in (delighted, formbricks):
        reply = post(jsonl(converted), world.owner_headers())
        assert reply.status == 200 and reply.json["created"] == len(converted), reply.text
    found = search({"x-api-key": world.store_key}, limit="50")
    assert sorted(f["source"] for f in found) == ["delighted-csat"] * 2 + ["delighted-nps"] * 3 + ["formbricks"] * 3
