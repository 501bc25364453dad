"""Migration 0005-tracker-report: existing deployments get the tracker report's counters from their
trackers - the same report the live counting gives, counted once however often it runs, and
resumed where an interrupted run stopped."""

from __future__ import annotations

from datetime import timedelta

import pytest

import tests.unit.test_sending as clock
from revisit.dal import keys, table
from revisit_dev import migrations
from tests.unit.test_sending import one_tracker, outboxes, run, survey
from tests.unit.test_tracker_report import click, report, submit, token_of
from tests.unit.test_trackers import generate, list_, purchase

__all__ = ["outboxes"]
ID = "0005-tracker-report"
STEP = next(i for i, m in enumerate(migrations.MIGRATIONS) if m.id == ID)


def _history(world):
    """Three trackers: one sent, clicked, reminded and answered; one sent only; one external link
    clicked and answered."""
    made = survey(world, resendDelayMinutes=1440, maxResends=2)
    answered = one_tracker(world, "P-1")
    one_tracker(world, "P-2")
    assert run(clock.T + timedelta(seconds=5)).sent == 2
    token = token_of(world, answered["id"])
    assert click(token).status == 302
    assert run(clock.T + timedelta(minutes=1441)).sent == 2
    assert submit(token).status == 201
    survey(world, sendingType="external", name="Partner link")
    assert purchase(world, "P-3").status == 201
    generate(world, "P-3")
    [external] = [t for t in list_(world, {"purchases": ["P-3"]}).json["items"] if t["sendingType"] == "external"]
    link = external["link"].rsplit("/", 1)[1]
    assert click(link).status == 302 and submit(link).status == 201
    return made


def _forget_the_report(world):
    """The data as a deployment of before the report holds it: no report items, no tracker counted."""
    for item in table.query_partition(keys.tracker_report_pk(world.workspace_id, world.store)):
        table.client.delete_item(TableName=table.TABLE, Key=table.serialize({k: item[k] for k in (keys.PK, keys.SK)}))
    for pk in _tracker_keys():
        table.update({keys.PK: pk, keys.SK: keys.META}, "REMOVE reportCounted")


def _tracker_keys():
    req = {"TableName": table.TABLE, "FilterExpression": "begins_with(pk, :p)"}
    req["ExpressionAttributeValues"] = {":p": table.value("TRACKER#")}
    return [i[keys.PK]["S"] for i in table.client.scan(**req)["Items"]]


def _rows(world):
    reply = report(world)
    assert reply.status == 200, reply.text
    return reply.json["rows"], reply.json["total"]


def _reset_marker():
    table.client.delete_item(TableName=table.TABLE, Key=table.serialize(keys.migration(ID)))


def test_the_migration_builds_the_report_the_live_counting_gives(world):
    _history(world)
    live = _rows(world)
    assert live[1] == {"sent": 4, "clicked": 2, "completed": 2, "responseRate": 25.0}
    _forget_the_report(world)
    assert _rows(world)[0] == []

    [dry] = migrations.run(dry_run=True, only=ID)
    assert (dry.status, dry.changed) == ("dry run", 3) and _rows(world)[0] == []
    [done] = migrations.run(only=ID, page_size=2)
    assert (done.status, done.changed) == ("applied now", 3)
    assert _rows(world) == live

    [again] = migrations.run(only=ID)
    assert again.status == "already applied"
    _reset_marker()  # even run again from scratch, every tracker is counted already
    [forced] = migrations.run(only=ID)
    assert forced.changed == 0 and _rows(world) == live


def test_what_the_live_code_counted_since_the_deploy_is_not_counted_again(world):
    survey(world, resendDelayMinutes=60, maxResends=1)
    tracker = one_tracker(world)
    run(clock.T + timedelta(seconds=5))
    _forget_the_report(world)  # the first send happened before the deploy ...
    run(clock.T + timedelta(minutes=61))  # ... the reminder after it: counted live
    assert submit(token_of(world, tracker["id"])).status == 201  # so is the answer
    [live_row] = _rows(world)[0]
    assert (live_row["sendingIndex"], live_row["sent"], live_row["completed"]) == (1, 1, 1)
    [done] = migrations.run(only=ID)
    assert done.changed == 1
    rows, total = _rows(world)
    assert [(r["sendingIndex"], r["sent"], r["completed"]) for r in rows] == [(0, 1, 0), (1, 1, 1)]
    assert total == {"sent": 2, "clicked": 0, "completed": 1, "responseRate": 50.0}


class Interrupt(BaseException):
    """The process dying mid-run."""


def test_an_interrupted_run_resumes_and_counts_nothing_twice(world, monkeypatch):
    _history(world)
    live = _rows(world)
    _forget_the_report(world)
    real = migrations.MIGRATIONS[STEP].step
    calls = {"n": 0}

    def dying(item, dry_run):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Interrupt
        return real(item, dry_run)

    monkeypatch.setattr(migrations.MIGRATIONS[STEP], "step", dying)
    with pytest.raises(Interrupt):
        migrations.run(only=ID, page_size=1)
    assert table.get(keys.migration(ID))["status"] == "running"
    monkeypatch.setattr(migrations.MIGRATIONS[STEP], "step", real)
    [resumed] = migrations.run(only=ID, page_size=1)
    assert resumed.resumed and resumed.status == "applied now"
    assert _rows(world) == live
