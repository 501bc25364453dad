"""The inbox's workflow in the JSON API (issue 17): PATCH/GET /api/external/feedback/{feedbackId}
(status, assignee, internal notes, tags; one conditional write; If-Match), the search and export
filters on it, the 404 that is no existence oracle, and where the workflow must not go (the
customer, webhooks, the aggregates)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.support import api_event, invoke
from tests.unit.test_feedback_search import SPECS, make_feedback

PATH = "/api/external/feedback/{feedbackId}"


def patch(key, feedback_id, body, headers=None):
    event = api_event(
        "PATCH",
        f"/api/external/feedback/{feedback_id}",
        resource=PATH,
        body=body,
        headers={"x-api-key": key, **(headers or {})},
        path_params={"feedbackId": feedback_id},
    )
    return invoke("feedback_workflow", event)


def get(key, feedback_id):
    event = api_event(
        "GET",
        f"/api/external/feedback/{feedback_id}",
        resource=PATH,
        headers={"x-api-key": key},
        path_params={"feedbackId": feedback_id},
    )
    return invoke("feedback_workflow", event)


def search(key, **query):
    event = api_event("GET", "/api/external/feedback", headers={"x-api-key": key}, query=query or None)
    reply = invoke("feedback", event)
    assert reply.status == 200, reply.text
    return reply.json["items"]


def export(key, **query):
    event = api_event("GET", "/api/external/feedback/export", headers={"x-api-key": key}, query=query or None)
    reply = invoke("feedback", event)
    assert reply.status == 200, reply.text
    return reply


@pytest.fixture
def ids(world, monkeypatch):
    """Six answers (tests.unit.test_feedback_search.SPECS): 0, 1, 2, 4 downtown-coffee; 3, 5 uptown."""
    return make_feedback(world, monkeypatch, SPECS)


def _dump(table):
    items = table.scan(TableName="revisit-unit", ConsistentRead=True)["Items"]
    return sorted(json.dumps(i, sort_keys=True) for i in items)


def test_a_patch_changes_the_workflow_in_one_write_and_the_search_shows_it(world, ids):
    first = ids[0]
    assert get(world.store_key, first).json["status"] == "new"  # before any change: new, version 0
    assert get(world.store_key, first).headers["etag"] == '"0"'
    reply = patch(
        world.store_key,
        first,
        {"status": "in_progress", "assignee": "Ann@Example.com", "tags": ["Late Delivery", "late_delivery", "milk"],
         "note": "  Called the customer back.  "},
    )  # fmt: skip
    assert reply.status == 200, reply.text
    body = reply.json
    assert body["status"] == "in_progress" and body["assignee"] == "ann@example.com"
    assert body["tags"] == ["late-delivery", "milk"]  # normalised, a set, sorted
    assert body["version"] == 1 and reply.headers["etag"] == '"1"'
    [note] = body["notes"]
    assert note["text"] == "Called the customer back." and note["author"].startswith("key ") and note["at"]
    assert body["rating"] == 5 and body["comment"] == "Lovely flat white"  # the answer itself is untouched

    again = patch(world.workspace_key, first, {"note": "Sent a voucher", "assignee": None, "tags": []})
    assert again.status == 200
    assert [n["text"] for n in again.json["notes"]] == ["Called the customer back.", "Sent a voucher"]
    assert "assignee" not in again.json and "tags" not in again.json and again.json["version"] == 2

    [found] = [i for i in search(world.store_key) if i["id"] == first]
    assert found["status"] == "in_progress" and found["noteCount"] == 2 and "notes" not in found
    others = [i for i in search(world.store_key) if i["id"] != first]
    assert {i["status"] for i in others} == {"new"}  # no status stored: new, nothing to migrate


def test_owner_token_patches_and_notes_carry_who_wrote_them(world, ids):
    event = api_event(
        "PATCH",
        f"/api/external/feedback/{ids[3]}",
        resource=PATH,
        body={"note": "from the owner"},
        headers=world.owner_headers(),
        path_params={"feedbackId": ids[3]},
    )
    reply = invoke("feedback_workflow", event)
    assert reply.status == 200 and reply.json["notes"][0]["author"] == "owner"


def test_foreign_or_unknown_ids_are_one_404_and_change_nothing(world, ids, table):
    from revisit.domain import credentials
    from revisit.domain.auth import Kind

    downtown, uptown = ids[0], ids[3]
    foreign_store_key = credentials.issue("2000", Kind.API, "store", "downtown-coffee")["key"]  # same slug elsewhere
    before = _dump(table)
    unknown = patch(world.store_key, "00000000-0000-0000-0000-000000000000", {"status": "resolved"})
    other_store = patch(world.store_key, uptown, {"status": "resolved"})  # uptown's answer, downtown's key
    other_ws = patch(world.foreign_key, downtown, {"status": "resolved"})
    same_slug = patch(foreign_store_key, downtown, {"status": "resolved"})
    bad_shape = patch(world.store_key, "not an id!", {"status": "resolved"})
    replies = [unknown, other_store, other_ws, same_slug, bad_shape]
    assert [r.status for r in replies] == [404] * 5
    assert len({r.json["error"]["message"] for r in replies}) == 1  # the same answer: no existence oracle
    assert get(world.other_store_key, downtown).status == 404 and get(world.foreign_key, downtown).status == 404
    assert _dump(table) == before
    assert get(world.other_store_key, uptown).status == 200  # its own store's key sees it


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tags": ["ok", "not ok!"]}, "tags"),
        ({"tags": ["x" * 41]}, "tags"),
        ({"tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({"tags": [""]}, "tags"),
        ({"tags": "late"}, "tags"),
        ({"status": "done"}, "status"),
        ({"status": None}, "status"),
        ({"assignee": "ann"}, "assignee"),
        ({"note": "x" * 2001}, "note"),
        ({"note": "   "}, "note"),
        ({"note": None}, "note"),
        ({"rating": 1}, "rating"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(world, ids, table, body, field):
    before = _dump(table)
    reply = patch(world.store_key, ids[0], body)
    assert reply.status == 400, reply.text
    assert reply.json["error"]["details"][0]["field"] == field, reply.json
    assert _dump(table) == before


def test_if_match_applies_a_change_only_to_the_version_read(world, ids, table):
    first = ids[0]
    assert patch(world.store_key, first, {"status": "in_progress"}, {"If-Match": '"0"'}).status == 200
    before = _dump(table)
    stale = patch(world.store_key, first, {"status": "resolved"}, {"If-Match": '"0"'})
    assert stale.status == 412 and stale.json["error"]["details"][0]["field"] == "If-Match"
    assert _dump(table) == before
    assert patch(world.store_key, first, {"status": "resolved"}, {"If-Match": 'W/"1"'}).json["version"] == 2
    bad = patch(world.store_key, first, {"status": "new"}, {"If-Match": "yesterday"})
    assert bad.status == 400 and bad.json["error"]["details"][0]["field"] == "If-Match"


def _interleaved(monkeypatch, during):
    """Run ``during`` (another whole PATCH) after a PATCH has read the record and just before its
    UpdateItem: the window in which a read-modify-write would lose the other change."""
    from revisit.dal import feedback as dal

    real = dal.update_workflow
    calls = {"n": 0}

    def racing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            during()
        return real(*args, **kwargs)

    monkeypatch.setattr(dal, "update_workflow", racing)


def test_concurrent_patches_keep_both_changes(world, ids, monkeypatch):
    first = ids[0]
    second_reply = {}

    def other():
        second_reply["r"] = patch(world.workspace_key, first, {"assignee": "bob@example.com", "note": "B"})

    _interleaved(monkeypatch, other)
    reply = patch(world.store_key, first, {"status": "resolved", "note": "A"})
    assert reply.status == 200 and second_reply["r"].status == 200
    final = get(world.store_key, first).json
    assert final["status"] == "resolved" and final["assignee"] == "bob@example.com"
    assert [n["text"] for n in final["notes"]] == ["B", "A"] and final["version"] == 2


def test_concurrent_patches_with_if_match_one_fails_cleanly(world, ids, monkeypatch, table):
    first = ids[0]
    second_reply = {}

    def other():
        second_reply["r"] = patch(world.workspace_key, first, {"assignee": "bob@example.com"}, {"If-Match": '"0"'})

    _interleaved(monkeypatch, other)
    reply = patch(world.store_key, first, {"status": "resolved", "note": "A"}, {"If-Match": '"0"'})
    assert second_reply["r"].status == 200 and reply.status == 412, reply.text
    final = get(world.store_key, first).json
    assert final["status"] == "new" and final["assignee"] == "bob@example.com" and final["notes"] == []
    assert final["version"] == 1  # the failed one wrote nothing


def test_notes_are_bounded(world, ids, monkeypatch):
    from revisit.domain import workflow

    monkeypatch.setattr("revisit.domain.feedback.MAX_NOTES", 3)
    for n in range(3):
        assert patch(world.store_key, ids[0], {"note": f"n{n}"}).status == 200
    full = patch(world.store_key, ids[0], {"note": "one too many", "status": "resolved"})
    assert full.status == 400 and full.json["error"]["details"][0]["field"] == "note"
    assert get(world.store_key, ids[0]).json["status"] == "new"  # the whole PATCH failed
    assert workflow.MAX_NOTES == 100


def test_an_empty_patch_answers_the_record_and_writes_nothing(world, ids, table):
    before = _dump(table)
    reply = patch(world.store_key, ids[0], {})
    assert reply.status == 200 and reply.json["version"] == 0 and _dump(table) == before


def test_the_search_and_export_filter_on_status_assignee_tag_and_comment(world, ids):
    key = world.workspace_key
    patch(key, ids[0], {"status": "resolved", "assignee": "ann@example.com", "tags": ["coffee"]})
    patch(key, ids[1], {"status": "in_progress", "tags": ["Service", "coffee"]})
    patch(key, ids[3], {"assignee": "bob@example.com"})

    def found(**q):
        return sorted(ids.index(i["id"]) for i in search(key, **q))

    assert found(status="new") == [2, 3, 4, 5]  # never changed, or changed but still new
    assert found(status="resolved") == [0] and found(status="in_progress") == [1]
    assert found(assignee="ANN@example.com") == [0] and found(assignee="none") == [1, 2, 4, 5]
    assert found(tag="coffee") == [0, 1] and found(tag=" service ") == [1]
    assert found(hasComment="false") == [4] and found(hasComment="true") == [0, 1, 2, 3, 5]
    assert found(status="new", storeSlug="uptown-bakery") == [3, 5]
    assert found(tag="coffee", orderId="ORD-2") == [1] and found(status="resolved", civ="CUST-1") == [0]
    for bad, field in (({"status": "done"}, "status"), ({"tag": "no way!"}, "tag"), ({"assignee": "x"}, "assignee")):
        event = api_event("GET", "/api/external/feedback", headers={"x-api-key": key}, query=bad)
        reply = invoke("feedback", event)
        assert reply.status == 400 and reply.json["error"]["details"][0]["field"] == field

    text = export(key, tag="coffee").text.lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(ids.index(r["id"]) for r in rows) == [0, 1]
    by_id = {r["id"]: r for r in rows}
    assert by_id[ids[1]]["tags"] == "coffee; service" and by_id[ids[1]]["status"] == "in_progress"
    assert by_id[ids[0]]["assignee"] == "ann@example.com"
    lines = [json.loads(x) for x in export(key, format="jsonl", status="in_progress").text.splitlines()]
    assert [x["id"] for x in lines] == [ids[1]] and lines[0]["tags"] == ["coffee", "service"]


def test_the_workflow_reaches_neither_the_customer_nor_webhooks_nor_the_aggregates(world, table):
    from revisit.dal import keys, stream
    from revisit.dal import table as table_dal
    from revisit.domain import webhooks as webhook_rules

    key = {"x-api-key": world.store_key}
    made = api_event("POST", "/api/external/token", body={"storeSlug": world.store}, headers=key)
    token = invoke("token", made).json["token"]
    answer = {"token": token, "rating": 2, "comment": "cold"}
    created = invoke("submit", api_event("POST", "/api/external/public/submit", body=answer))
    assert created.status == 201
    fid = created.json["id"]
    patched = patch(world.store_key, fid, {"status": "resolved", "assignee": "ann@example.com", "tags": ["x"],
                                           "note": "secret internal note"})  # fmt: skip
    assert patched.status == 200
    replay = invoke("submit", api_event("POST", "/api/external/public/submit", body=answer))
    assert replay.status == 200 and "secret" not in replay.text and "assignee" not in replay.text
    assert set(replay.json) == {"id", "status", "rating", "createdAt"} and replay.json["status"] == "received"

    stored = table.scan(TableName="revisit-unit", ConsistentRead=True)["Items"]
    [item] = [table_dal.deserialize(i) for i in stored if i.get(keys.TYPE, {}).get("S") == "feedback"]
    assert item["notes"] and item["status"] == "resolved"
    old = {k: v for k, v in item.items() if k not in ("status", "assignee", "tags", "notes", "version")}
    assert stream.inserted_response("MODIFY", item) is None  # the aggregator counts INSERTs only
    assert stream.webhook_source("MODIFY", item, old) is None  # a workflow change fires no webhook
    event = stream.webhook_source("INSERT", item, None)  # even an image that held workflow fields ...
    public = webhook_rules._public(event)  # ... is cut to the public fields
    assert not {"status", "assignee", "tags", "notes", "version", "workflowUpdatedAt"} & set(public.data)
    assert "secret" not in webhook_rules.body(public)


def test_migration_0007_lets_older_records_be_found_by_id(world, ids, table):
    from revisit.dal import keys
    from revisit_dev import migrations

    items = table.scan(TableName="revisit-unit", ConsistentRead=True)["Items"]
    olds = [i for i in items if i.get(keys.TYPE, {}).get("S") == "feedback"]
    for item in olds:  # as the code before the inbox wrote them: no gsi4 keys
        table.update_item(
            TableName="revisit-unit",
            Key={"pk": item["pk"], "sk": item["sk"]},
            UpdateExpression="REMOVE gsi4pk, gsi4sk",
        )
    assert get(world.store_key, ids[0]).status == 404
    dry = {o.id: o for o in migrations.run(dry_run=True, only="0007-feedback-by-id")}
    assert dry["0007-feedback-by-id"].changed == 6 and get(world.store_key, ids[0]).status == 404
    done = {o.id: o for o in migrations.run(only="0007-feedback-by-id", page_size=4)}
    assert done["0007-feedback-by-id"].changed == 6
    assert get(world.store_key, ids[0]).status == 200 and get(world.other_store_key, ids[3]).status == 200
    table.delete_item(TableName="revisit-unit", Key={"pk": {"S": "MIGRATION#0007-feedback-by-id"}, "sk": {"S": "META"}})
    assert migrations.run(only="0007-feedback-by-id")[0].changed == 0  # a second run changes nothing


def test_dynamodb_calls_per_request(world, ids):
    """GET: the credential, Query gsi4, GetItem; PATCH: the same + one UpdateItem (docs/data-model.md)."""
    from revisit.dal import table

    calls: list[str] = []

    def count(model, **_):
        calls.append(model.name)

    table.client.meta.events.register("before-call.dynamodb", count)
    try:
        assert get(world.store_key, ids[0]).status == 200
        got, calls[:] = list(calls), []
        assert patch(world.store_key, ids[0], {"status": "resolved", "note": "n"}).status == 200
        patched = list(calls)
    finally:
        table.client.meta.events.unregister("before-call.dynamodb", count)
    assert got == ["GetItem", "Query", "GetItem"]  # credential (cache off in the tests), index, record
    assert patched == ["GetItem", "Query", "GetItem", "UpdateItem"]


def test_answers_match_the_documented_shapes(world, ids):
    """The GET, PATCH and search answers and a 412 against docs/openapi.json (what the code generates)."""
    from revisit_dev import openapi
    from tests.unit.test_openapi import _check

    spec = openapi.build()
    _check(spec, "GET", PATH, get(world.store_key, ids[0]))
    done = patch(world.store_key, ids[0], {"status": "in_progress", "tags": ["a"], "note": "n", "assignee": "a@b.co"})
    _check(spec, "PATCH", PATH, done)
    _check(spec, "PATCH", PATH, patch(world.store_key, ids[0], {"status": "new"}, {"If-Match": '"0"'}))  # 412
    _check(spec, "PATCH", PATH, patch(world.store_key, ids[0], {"tags": ["no way!"]}))  # 400
    event = api_event("GET", "/api/external/feedback", headers={"x-api-key": world.store_key}, query={"tag": "a"})
    _check(spec, "GET", "/api/external/feedback", invoke("feedback", event))
