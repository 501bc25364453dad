"""The web app's feedback inbox and trackers pages (issue 17, H5): the API's filters and cursor
paging, the CSV export equal to the JSON API's, the workflow form (CSRF, If-Match by the form's
version, the PATCH's own domain function), the 404 page for what the identity may not see."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.people_support import invite_and_sign_in, outbox  # noqa: F401 - outbox: a fixture
from tests.support import api_event, invoke
from tests.unit.test_feedback_search import SPECS, make_feedback
from tests.unit.test_feedback_workflow import get as api_get
from tests.unit.test_feedback_workflow import patch as api_patch
from tests.webapp_support import WebApp, signed_in, webapp  # noqa: F401 - fixtures

_IDS = re.compile(r'<li class="answer" data-id="([^"]+)"')


@pytest.fixture
def ids(world, monkeypatch):
    return make_feedback(world, monkeypatch, SPECS)


def _dump(table):
    items = table.scan(TableName="revisit-unit", ConsistentRead=True)["Items"]
    return sorted(json.dumps(i, sort_keys=True) for i in items if not i["pk"]["S"].startswith(("USER", "SESS")))


def api_search(key, **query):
    reply = invoke("feedback", api_event("GET", "/api/external/feedback", headers={"x-api-key": key}, query=query))
    assert reply.status == 200, reply.text
    return reply.json


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"storeSlug": "downtown-coffee"},
        {"storeSlug": "downtown-coffee", "minRating": "3", "maxRating": "4"},
        {"civ": "CUST-1"},
        {"hasComment": "false"},
        {"q": "coffee", "source": "email"},
        {"orderId": "ORD-2"},
        {"from": "2026-03-01", "to": "2026-03-01", "status": "new"},
    ],
)
def test_the_inbox_applies_the_api_filters(signed_in, world, ids, query):  # noqa: F811
    page = signed_in.get("/app/feedback", params=query)
    assert page.status_code == 200, page.text
    expected = [i["id"] for i in api_search(world.workspace_key, **query)["items"]]
    assert _IDS.findall(page.text) == expected
    if not expected:
        assert 'id="no-answers"' in page.text and "No answers match this filter" in page.text


def test_workflow_filters_and_the_csv_equal_the_json_api(signed_in, world, ids):  # noqa: F811
    api_patch(world.workspace_key, ids[1], {"status": "in_progress", "tags": ["Slow Service"], "assignee": "a@b.co"})
    api_patch(world.workspace_key, ids[0], {"status": "resolved"})
    for query in ({"status": "in_progress"}, {"tag": "slow service"}, {"assignee": "A@b.co"}, {"status": "new"},
                  {"storeSlug": "uptown-bakery", "minRating": "2"}, {}):  # fmt: skip
        page = signed_in.get("/app/feedback", params=query)
        assert _IDS.findall(page.text) == [i["id"] for i in api_search(world.workspace_key, **query)["items"]]
        csv_page = signed_in.get("/app/feedback/export", params=query)
        assert csv_page.status_code == 200 and csv_page.headers["content-type"].startswith("text/csv")
        assert "attachment" in csv_page.headers["content-disposition"]
        api = invoke(
            "feedback",
            api_event("GET", "/api/external/feedback/export", headers={"x-api-key": world.workspace_key}, query=query),
        )
        assert (
            csv_page.content.decode() == api.text
            and csv_page.headers["x-revisit-rows"] == api.headers["x-revisit-rows"]
        )
    page = signed_in.get("/app/feedback", params={"status": "in_progress"})
    assert "In progress" in page.text and "slow-service" in page.text and "a@b.co" in page.text
    # the page's export link carries the filter
    assert 'href="/app/feedback/export?status=in_progress"' in page.text


def test_a_bad_filter_is_a_400_page_naming_the_field(signed_in, world, ids):  # noqa: F811
    for query, field in (({"tag": "no way!"}, "tag"), ({"minRating": "9"}, "minRating"), ({"status": "x"}, "status")):
        page = signed_in.get("/app/feedback", params=query)
        assert page.status_code == 400 and "cannot be applied" in page.text and f"<strong>{field}</strong>" in page.text
    assert signed_in.get("/app/feedback/export", params={"tag": "no way!"}).status_code == 400


def test_paging_follows_the_api_cursor(signed_in, world):  # noqa: F811
    rows = "".join(
        json.dumps(
            {
                "storeSlug": world.store,
                "createdAt": f"2026-02-{1 + n // 2:02d}T10:{n:02d}:00Z",
                "rating": 4,
                "externalId": f"page-{n}",
            }
        )
        + "\n"
        for n in range(30)
    )
    event = api_event("POST", "/api/external/feedback/import", body=rows,
                      headers={"x-api-key": world.workspace_key, "Content-Type": "application/x-ndjson"})  # fmt: skip
    assert invoke("feedback_import", event).json["created"] == 30
    first = signed_in.get("/app/feedback")
    shown = _IDS.findall(first.text)
    assert len(shown) == 25 and 'id="next-page"' in first.text
    link = re.search(r'id="next-page" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = signed_in.get(link)
    rest = _IDS.findall(second.text)
    assert len(rest) == 5 and not set(rest) & set(shown) and 'id="next-page"' not in second.text


def test_the_empty_inbox_says_so_in_words(signed_in):  # noqa: F811
    page = signed_in.get("/app/feedback")
    assert page.status_code == 200 and "No feedback yet" in page.text and "0 %" not in page.text


def _form(client, feedback_id):
    page = client.get(f"/app/feedback/{feedback_id}")
    assert page.status_code == 200, page.text
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return page, version, token


def test_the_workflow_form_changes_the_answer_like_the_patch(signed_in, world, ids, table):  # noqa: F811
    page, version, token = _form(signed_in, ids[0])
    assert "No notes yet." in page.text and "Lovely flat white" in page.text
    data = {"status": "in_progress", "assignee": "Ann@Example.com", "tags": "late delivery, milk", "note": "Called",
            "version": version}  # fmt: skip
    before = _dump(table)
    assert signed_in.post(f"/app/feedback/{ids[0]}", data=data).status_code == 403  # no CSRF token
    assert signed_in.post(f"/app/feedback/{ids[0]}", data={**data, "csrf_token": "forged"}).status_code == 403
    assert _dump(table) == before  # nothing changed
    done = signed_in.post(f"/app/feedback/{ids[0]}", data={**data, "csrf_token": token})
    assert done.status_code == 303 and done.headers["location"] == f"/app/feedback/{ids[0]}?saved=1"
    record = api_get(world.store_key, ids[0]).json  # the JSON API sees the same change
    assert record["status"] == "in_progress" and record["assignee"] == "ann@example.com"
    assert record["tags"] == ["late-delivery", "milk"] and record["notes"][0]["text"] == "Called"
    author = record["notes"][0]["author"]
    assert author and world.owner_token not in author  # who wrote it, never the secret
    shown = signed_in.get(f"/app/feedback/{ids[0]}?saved=1").text
    assert 'id="saved"' in shown and "Called" in shown and "In progress" in shown

    # a form shown before a change made meanwhile (here through the API) changes nothing: 409 + the fresh state
    _, stale_version, token = _form(signed_in, ids[0])
    api_patch(world.workspace_key, ids[0], {"status": "resolved"})
    before = _dump(table)
    stale = signed_in.post(f"/app/feedback/{ids[0]}", data={**data, "status": "new", "csrf_token": token,
                                                            "version": stale_version})  # fmt: skip
    assert stale.status_code == 409 and "changed this answer while you were editing" in stale.text
    assert _dump(table) == before

    # bad input: the form again with the reason, nothing changed
    _, version, token = _form(signed_in, ids[0])
    bad = signed_in.post(f"/app/feedback/{ids[0]}", data={**data, "tags": "ok, not ok!", "csrf_token": token,
                                                          "version": version})  # fmt: skip
    assert bad.status_code == 400 and "<strong>tags</strong>" in bad.text and _dump(table) == before


def test_foreign_or_unknown_feedback_is_the_404_page(webapp, world, ids, table):  # noqa: F811
    assert webapp.sign_in(world.workspace_id, world.store_key).status_code == 303  # downtown-coffee's key
    uptown = ids[3]
    assert webapp.get(f"/app/feedback/{uptown}").status_code == 404
    assert webapp.get("/app/feedback/00000000-0000-0000-0000-000000000000").status_code == 404
    assert webapp.get(f"/app/feedback/{ids[0]}").status_code == 200
    token = webapp.csrf(f"/app/feedback/{ids[0]}")
    before = _dump(table)
    post = webapp.post(f"/app/feedback/{uptown}", data={"status": "resolved", "version": "0", "csrf_token": token})
    assert post.status_code == 404 and _dump(table) == before
    # the store key's inbox shows its own store only; another store's filter is the 404 page
    assert set(_IDS.findall(webapp.get("/app/feedback").text)) == {ids[0], ids[1], ids[2], ids[4]}
    assert webapp.get("/app/feedback", params={"storeSlug": "uptown-bakery"}).status_code == 404
    with WebApp() as other:
        assert other.sign_in(world.foreign_workspace_id, world.foreign_key).status_code == 303
        assert other.get(f"/app/feedback/{ids[0]}").status_code == 404


def test_signed_out_goes_to_the_sign_in_page(webapp, ids):  # noqa: F811
    for path in ("/app/feedback", f"/app/feedback/{ids[0]}", "/app/feedback/export", "/app/trackers"):
        r = webapp.get(path)
        assert r.status_code == 303 and "/app/login" in r.headers["location"]


def test_the_trackers_page_shows_the_report_funnel(signed_in, world, monkeypatch):  # noqa: F811
    empty = signed_in.get(f"/app/stores/{world.store}/trackers")
    assert empty.status_code == 200 and 'id="no-trackers"' in empty.text and "Nothing sent yet" in empty.text
    assert signed_in.get("/app/trackers").headers["location"].endswith("/trackers")
    assert signed_in.get("/app/stores/nowhere/trackers").status_code == 404

    from tests.unit.test_sending import one_tracker, run, survey

    boto3_ses(monkeypatch)
    survey(world)
    tracker = one_tracker(world)
    waiting = signed_in.get(f"/app/stores/{world.store}/trackers")
    assert re.search(r'id="n-scheduled">1<', waiting.text)
    assert run(datetime.now(UTC) + timedelta(minutes=1)).sent == 1
    page = signed_in.get(f"/app/stores/{world.store}/trackers")
    report = invoke(
        "feedback",
        api_event(
            "GET",
            "/api/external/trackers/report",
            headers={"x-api-key": world.store_key},
            query={"storeSlug": world.store},
        ),
    ).json
    assert report["total"]["sent"] == 1 and re.search(r'id="n-sent">1<', page.text)
    assert re.search(r'id="n-scheduled">0<', page.text) and "After your visit" in page.text
    assert "First send" in page.text and "0.0 %" in page.text  # one sent, none answered yet: a real 0.0 %
    assert tracker["id"]


def boto3_ses(monkeypatch):
    import boto3

    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="surveys@example.com")
    monkeypatch.setenv("EMAIL_SENDER", "surveys@example.com")


def test_a_store_key_cannot_see_another_stores_trackers(webapp, world):  # noqa: F811
    assert webapp.sign_in(world.workspace_id, world.store_key).status_code == 303
    assert webapp.get(f"/app/stores/{world.other_store}/trackers").status_code == 404
    assert webapp.get(f"/app/stores/{world.store}/trackers").status_code == 200


def test_a_viewer_reads_but_cannot_change_and_a_manager_sees_their_store_only(world, ids, table, outbox):  # noqa: F811
    with invite_and_sign_in(outbox, world, "vi@example.com", "viewer") as viewer:
        page = viewer.get(f"/app/feedback/{ids[0]}")
        assert page.status_code == 200 and 'id="workflow"' not in page.text  # no form to change it
        before = _dump(table)
        token = viewer.csrf(f"/app/feedback/{ids[0]}")
        r = viewer.post(f"/app/feedback/{ids[0]}", data={"status": "resolved", "version": "0", "csrf_token": token})
        assert r.status_code == 403 and "Viewers can read" in r.text and _dump(table) == before
    with invite_and_sign_in(outbox, world, "ma@example.com", "manager", [world.other_store]) as manager:
        inbox = manager.get("/app/feedback")  # their one store, chosen for them
        assert inbox.status_code == 200 and set(_IDS.findall(inbox.text)) == {ids[3], ids[5]}
        assert "All stores" not in inbox.text
        assert manager.get("/app/feedback", params={"storeSlug": world.store}).status_code == 404
        assert manager.get(f"/app/feedback/{ids[0]}").status_code == 404
        assert manager.get(f"/app/stores/{world.store}/trackers").status_code == 404
        token = manager.csrf(f"/app/feedback/{ids[3]}")
        done = manager.post(f"/app/feedback/{ids[3]}", data={"status": "resolved", "note": "Handled", "version": "0",
                                                              "csrf_token": token})  # fmt: skip
        assert done.status_code == 303
        note = api_get(world.workspace_key, ids[3]).json["notes"][0]
        assert note["author"] == "ma@example.com"  # the person, not a key
        csv_rows = manager.get("/app/feedback/export").content.decode("utf-8-sig").splitlines()[1:]
        assert sorted(r.split(",")[0] for r in csv_rows) == sorted([ids[3], ids[5]])
