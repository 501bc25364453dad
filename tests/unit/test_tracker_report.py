"""Which send produced the answer (issue 16 part 4): the tracker report's counters move with the
trackers (send, first click, answer), replays count nothing twice, and the answer names its send."""

from __future__ import annotations

from datetime import timedelta

import pytest

import tests.unit.test_sending as clock
from tests.support import api_event, invoke
from tests.unit.test_sending import one_tracker, outboxes, run, survey, tracker_state

__all__ = ["outboxes"]  # autouse: SES verified, each test's clock (clock.T) at its own now


def report(world, headers=None, **query):
    start = (clock.T - timedelta(days=1)).date().isoformat()
    end = (clock.T + timedelta(days=5)).date().isoformat()
    params = {"storeSlug": world.store, "from": start, "to": end, **query}
    params = {k: v for k, v in params.items() if v is not None}
    return invoke(
        "feedback",
        api_event(
            "GET", "/api/external/trackers/report", query=params, headers=headers or {"x-api-key": world.store_key}
        ),
    )


def click(token):
    return invoke("click", api_event("GET", f"/r/{token}", resource="/r/{token}", path_params={"token": token}))


def submit(token, rating=4):
    body = {"token": token, "rating": rating}
    return invoke("submit", api_event("POST", "/api/external/public/submit", body=body))


def token_of(world, tracker_id):
    return tracker_state(world, tracker_id)["link"].rsplit("/", 1)[1]


def rows(reply):
    assert reply.status == 200, reply.text
    return {(r["sendingIndex"], r["channel"]): r for r in reply.json["rows"]}


def test_send_click_resend_and_answer_move_the_counters(world):
    made = survey(world, resendDelayMinutes=1440, maxResends=2)
    tracker = one_tracker(world)
    assert run(clock.T + timedelta(seconds=5)).sent == 1
    first = rows(report(world))
    assert first == {
        (0, "email"): {
            "surveyId": made["surveyId"],
            "surveyName": "After your visit",
            "sendingIndex": 0,
            "channel": "email",
            "sent": 1,
            "clicked": 0,
            "completed": 0,
            "responseRate": 0.0,
        }
    }
    token = token_of(world, tracker["id"])
    for _ in range(3):  # the first click counts; the others (same or other visitor) do not
        assert click(token).status == 302
    assert rows(report(world))[(0, "email")]["clicked"] == 1

    assert run(clock.T + timedelta(minutes=1441)).sent == 1  # the first reminder
    assert submit(token).status == 201
    assert submit(token).status == 200  # a retried answer: replayed, nothing counted again
    counted = rows(report(world))
    assert counted[(0, "email")] | {"surveyName": None} == counted[(0, "email")] | {
        "surveyName": None,
        "sent": 1,
        "clicked": 1,
        "completed": 0,
    }
    assert (counted[(1, "email")]["sent"], counted[(1, "email")]["completed"]) == (1, 1)
    assert counted[(1, "email")]["responseRate"] == 100.0
    total = report(world).json["total"]
    assert total == {"sent": 2, "clicked": 1, "completed": 1, "responseRate": 50.0}
    assert run(clock.T + timedelta(days=3)).due == 0  # completed: no second reminder, nothing counted

    found = invoke("feedback", api_event("GET", "/api/external/feedback", headers={"x-api-key": world.store_key})).json[
        "items"
    ]
    [answer] = found
    assert (answer["trackerId"], answer["sendingIndex"], answer["channel"]) == (tracker["id"], 1, "email")


def test_answer_to_the_first_send_counts_on_attempt_zero(world):
    survey(world, resendDelayMinutes=60, maxResends=1)
    tracker = one_tracker(world)
    run(clock.T + timedelta(seconds=5))
    token = token_of(world, tracker["id"])
    assert submit(token, 5).status == 201
    assert run(clock.T + timedelta(hours=2)).due == 0
    counted = rows(report(world))
    assert set(counted) == {(0, "email")}
    assert counted[(0, "email")] | {"surveyId": None} == {
        "surveyId": None,
        "surveyName": "After your visit",
        "sendingIndex": 0,
        "channel": "email",
        "sent": 1,
        "clicked": 0,
        "completed": 1,
        "responseRate": 100.0,
    }


def test_external_links_have_no_sent_count(world):
    survey(world, sendingType="external")
    tracker = one_tracker(world)
    token = tracker["link"].rsplit("/", 1)[1]
    assert click(token).status == 302
    assert submit(token).status == 201
    [row] = report(world).json["rows"]
    assert (row["channel"], row["sent"], row["clicked"], row["completed"], row["responseRate"]) == (
        "external",
        None,
        1,
        1,
        None,
    )


def test_a_lost_lease_counts_no_send(world):
    from revisit.dal import reports as reports_dal
    from revisit.dal import trackers as dal
    from revisit.domain import reports

    survey(world)
    tracker = one_tracker(world)
    stored = dal.get(tracker["id"])
    op = reports.count(stored, "sent", day=clock.T.date().isoformat(), index=0, channel="email")
    assert dal.settle(tracker["id"], "not-our-lease", {"status": "sent"}, None, report=op, counted="sent:0") is False
    assert reports_dal.days(world.workspace_id, world.store, "2000-01-01", "2999-12-31") == []


def test_who_may_read_the_report(world):
    survey(world)
    one_tracker(world)
    run(clock.T + timedelta(seconds=5))
    owner = world.owner_headers()
    assert report(world, owner).json["total"]["sent"] == 1
    assert report(world, {"x-api-key": world.workspace_key}).json["total"]["sent"] == 1
    assert report(world, {"x-api-key": world.other_store_key}).status == 403
    missing = report(world, {"x-api-key": world.workspace_key}, storeSlug=None)
    assert missing.status == 400 and missing.json["error"]["details"][0]["field"] == "storeSlug"
    # The store key implies its store; another workspace's same-named store sees nothing of ours.
    assert report(world, storeSlug=None).json["total"]["sent"] == 1
    foreign = report(world, {"x-api-key": world.foreign_key})
    assert foreign.status == 200 and foreign.json["rows"] == [] and foreign.json["total"]["sent"] == 0
    assert report(world, {"x-api-key": "nk_nope"}).status == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2025-01-01", "to": "2026-06-01"}, "from"),  # > 366 days
        ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
        ({"from": "2026-01-01T10:00:00Z"}, "from"),  # whole days only
        ({"to": "2026-02-30"}, "to"),
        ({"interval": "day"}, "interval"),
    ],
)
def test_bad_periods_name_the_field(world, query, field):
    reply = report(world, **query)
    assert reply.status == 400, reply.text
    assert reply.json["error"]["details"][0]["field"] == field
