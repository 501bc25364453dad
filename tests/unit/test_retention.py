"""Retention (issue 18 part 5): a store's ``retentionMonths`` deletes its answers older than that
(and the per-customer aggregate items of those days), daily; the anonymous counters stay."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from tests.analytics_support import Stream, deliver, fb, write_and_read
from tests.support import api_event, invoke

WS, STORE, OTHER = "1042", "downtown-coffee", "uptown-bakery"
NOW = datetime(2026, 9, 15, 12, tzinfo=UTC)  # 6 months before: 2026-03-15T12:00:00.000Z


def patch(world, slug, body):
    event = api_event(
        "PATCH",
        f"/api/stores/{slug}",
        resource="/api/stores/{storeSlug}",
        path_params={"storeSlug": slug},
        body=body,
        headers=world.owner_headers(),
    )
    return invoke("management", event)


def dump(client):
    from revisit.dal import table

    out = []
    for page in client.get_paginator("scan").paginate(TableName=table.TABLE, ConsistentRead=True):
        out.extend(table.deserialize(i) for i in page["Items"])
    return out


def counters(client):
    return {(i["pk"], i["sk"]): i for i in dump(client) if i.get("type") in ("agg_day", "agg_hours")}


@pytest.fixture
def history(world, table):
    feed = Stream(os.environ["TABLE_NAME"])
    visits = [
        fb("OLD", "2026-01-10T10:00:00.000Z", 5),  # only old visits: forgotten
        fb("OLD", "2026-02-10T10:00:00.000Z", 4),
        fb("BOTH", "2026-03-01T10:00:00.000Z", 2),  # an old and a recent visit
        fb("BOTH", "2026-08-01T10:00:00.000Z", 3),
        fb(None, "2026-03-15T11:59:59.999Z", 1),  # just before the cutoff
        fb("NEW", "2026-03-15T12:00:00.000Z", 4),  # at the cutoff: kept
        fb("OLD", "2026-01-11T10:00:00.000Z", 2, store=OTHER),  # a store without the setting
    ]
    deliver(write_and_read(feed, visits))
    return world, visits


def test_the_setting_is_validated_and_shown(world):
    assert patch(world, STORE, {"retentionMonths": 6}).json["retentionMonths"] == 6
    bad = patch(world, STORE, {"retentionMonths": 0})
    assert bad.status == 400 and bad.json["error"]["details"][0]["field"] == "retentionMonths"
    assert patch(world, STORE, {"retentionMonths": "6"}).status == 400
    from revisit.dal import workspaces as workspaces_dal

    assert [s["slug"] for s in workspaces_dal.retention_stores()[0]] == [STORE]
    assert patch(world, STORE, {"retentionMonths": None}).json["retentionMonths"] is None
    assert workspaces_dal.retention_stores()[0] == []


def test_old_answers_go_and_the_counters_stay(history, table):
    from revisit.dal import analytics as agg
    from revisit.domain import retention

    world, _ = history
    assert patch(world, STORE, {"retentionMonths": 6}).status == 200
    before = counters(table)
    totals = retention.run(NOW)
    assert totals == {"stores": 1, "answers": 4, "activity": 3, "customers": 1}
    left = [i for i in dump(table) if i.get("type") == "feedback"]
    assert sorted((i["storeSlug"], i["createdAt"]) for i in left) == [
        (STORE, "2026-03-15T12:00:00.000Z"),
        (STORE, "2026-08-01T10:00:00.000Z"),
        (OTHER, "2026-01-11T10:00:00.000Z"),
    ]
    assert counters(table) == before  # anonymous sums: unchanged
    assert agg.get_customer(WS, STORE, "OLD") is None and agg.get_customer(WS, STORE, "BOTH") is not None
    assert agg.get_customer(WS, OTHER, "OLD") is not None
    assert [(d, c) for d, c, _ in agg.activity(WS, STORE, "2026-01-01", "2026-12-31")] == [
        ("2026-03-15", "NEW"),
        ("2026-08-01", "BOTH"),
    ]
    key = {"x-api-key": world.workspace_key}
    old = invoke(
        "dashboard",
        api_event("GET", "/api/external/dashboard", headers=key,
                  query={"storeSlug": STORE, "from": "2026-01-01", "to": "2026-03-14"}),
    ).json  # fmt: skip
    assert old["totalFeedback"] == 3 and old["identifiedCustomers"] == 0 and old["firstVisit"]["count"] == 2
    assert retention.run(NOW) == {"stores": 1, "answers": 0, "activity": 0, "customers": 0}


def test_the_scheduled_function_runs_it(history, table, monkeypatch):
    from revisit.domain import retention
    from tests.support import Context, function

    world, _ = history
    patch(world, STORE, {"retentionMonths": 120})
    out = function("retention").lambda_handler({}, Context())
    assert out["stores"] == 1 and out["answers"] == 0
    monkeypatch.setattr(retention, "BUDGET", 2)  # a run's budget; the next run goes on
    patch(world, STORE, {"retentionMonths": 1})  # today: every answer of the history is older
    assert function("retention").lambda_handler({}, Context())["answers"] == 2
    assert function("retention").lambda_handler({}, Context())["answers"] == 2
    assert function("retention").lambda_handler({}, Context())["answers"] == 2


def test_months_before():
    from revisit.domain.retention import months_before

    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(2024, 12, 15, tzinfo=UTC)
