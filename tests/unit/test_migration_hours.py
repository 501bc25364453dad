"""Migration 0008-hour-counters (issue 16 part 2): days counted before the hour counters existed get
them, recomputed from the raw feedback and NPS reviews, equal to what today's aggregator writes; a
deployment half old and half new is made exact (old code's records, new code's moves of a former
first visit whose record the hours never had); a second run changes nothing, a dry run writes
nothing, an interrupted run resumes, a day the aggregator is behind on is not written, and a record
applied while the migration runs is not lost."""

from __future__ import annotations

import dataclasses
import random

import pytest

from revisit.dal import keys, table
from revisit_dev import migrations
from tests.analytics_support import Stream, aggregate_state, deliver, fb, oracle_state
from tests.unit.test_migration_ci import _history, _write

MIGRATION = "0008-hour-counters"
TABLE = "revisit-unit"
STORE = "downtown-coffee"


def _old_code(monkeypatch):
    """The aggregator of before: no hour counters."""
    from revisit.dal import analytics as dal

    real = dal.apply
    monkeypatch.setattr(dal, "apply", lambda change: real(dataclasses.replace(change, hour_deltas={})))
    return lambda: monkeypatch.setattr(dal, "apply", real)


def _hours(client):
    return aggregate_state(client, "1042")["hours"]


def _drop_hours(client):
    for store, day in _hours(client):
        table.client.delete_item(TableName=TABLE, Key=table.serialize(keys.agg_hours("1042", store, day)))


def _key(key):
    return table.serialize(key)


@pytest.fixture
def applied(table, stream):
    """A history (feedback and NPS reviews, late records included) applied by today's aggregator:
    the hour counters the migration must reproduce."""
    fbs, reviews = _history(16)
    _write(fbs, reviews)
    records = stream.read()
    random.Random(3).shuffle(records)  # late older records: first visits re-counted as returns
    deliver(records)
    expected = _hours(table)
    assert any(k.endswith("returnCount") for c in expected.values() for k in c)
    assert any(":nps:" in k for c in expected.values() for k in c)
    return expected


def test_the_migration_restores_what_the_aggregator_writes(table, applied):
    days_before = aggregate_state(table, "1042")["days"]
    _drop_hours(table)
    assert _hours(table) == {}
    [outcome] = migrations.run(page_size=4, only=MIGRATION)
    assert outcome.status == "applied now" and outcome.changed == len(applied)
    assert _hours(table) == applied
    assert aggregate_state(table, "1042")["days"] == days_before  # the day counters untouched

    assert [o.status for o in migrations.run(only=MIGRATION)] == ["already applied"]
    table.delete_item(TableName=TABLE, Key=_key(keys.migration(MIGRATION)))
    [forced] = migrations.run(page_size=3, only=MIGRATION)
    assert forced.changed == 0 and _hours(table) == applied


def test_days_counted_by_the_new_code_are_left_alone(table, applied):
    [outcome] = migrations.run(page_size=4, only=MIGRATION)
    assert outcome.status == "applied now" and outcome.changed == 0 and _hours(table) == applied


def test_a_deployment_half_old_half_new_is_made_exact(table, stream, monkeypatch):
    """Records applied by the old code, then by the new one - including the new code moving a former
    first visit (which the hours never counted) to the return visits in its hour: the migration
    gives what a fresh table and today's aggregator give."""
    fbs, reviews = _history(5)
    _write(fbs, reviews)
    records = stream.read()
    random.Random(9).shuffle(records)
    restore = _old_code(monkeypatch)
    deliver(records[:25])
    restore()
    deliver(records[25:])
    partial = _hours(table)
    [outcome] = migrations.run(page_size=5, only=MIGRATION)
    assert outcome.changed > 0
    after = _hours(table)
    assert after != partial

    table.delete_table(TableName=TABLE)
    from revisit_dev.template import create_table_from_template

    create_table_from_template(table, TABLE)
    fresh = Stream(TABLE)
    _write(fbs, reviews)
    deliver(fresh.read())
    assert _hours(table) == after


def test_dry_run_writes_nothing(table, applied):
    _drop_hours(table)
    [outcome] = migrations.run(dry_run=True, page_size=5, only=MIGRATION)
    assert outcome.status == "dry run" and outcome.changed == len(applied)
    assert _hours(table) == {}
    assert "Item" not in table.get_item(TableName=TABLE, Key=_key(keys.migration(MIGRATION)))


class Interrupt(BaseException):
    """The process dying mid-run."""


def test_an_interrupted_run_resumes(table, applied, monkeypatch):
    _drop_hours(table)
    migration = next(m for m in migrations.MIGRATIONS if m.id == MIGRATION)
    real, calls = migration.step, {"n": 0}

    def dying(item, dry_run):
        calls["n"] += 1
        if calls["n"] == 5:
            raise Interrupt
        return real(item, dry_run)

    monkeypatch.setattr(migration, "step", dying)
    with pytest.raises(Interrupt):
        migrations.run(page_size=2, only=MIGRATION)
    marker = table.get_item(TableName=TABLE, Key=_key(keys.migration(MIGRATION)))["Item"]
    assert marker["status"]["S"] == "running" and "cursor" in marker
    monkeypatch.setattr(migration, "step", real)
    [resumed] = migrations.run(page_size=2, only=MIGRATION)
    assert resumed.resumed and resumed.status == "applied now"
    assert _hours(table) == applied


def test_a_day_the_aggregator_is_behind_on_is_not_written(table, stream, monkeypatch):
    monkeypatch.setattr(migrations.time, "sleep", lambda s: None)
    restore = _old_code(monkeypatch)
    first = [fb("A", "2026-03-01T09:00:00.000Z", 5), fb("A", "2026-03-02T09:00:00.000Z", 3)]
    _write(first, [])
    deliver(stream.read())
    restore()
    late = fb("B", "2026-03-02T10:00:00.000Z", 4)
    _write([late], [])  # written, still in the stream
    with pytest.raises(RuntimeError, match="do not match the raw records"):
        migrations.run(page_size=10, only=MIGRATION)
    assert (STORE, "2026-03-02") not in _hours(table)
    deliver(stream.read())  # the new code counts B's hour: the day's hours disagree still (A's is missing)
    assert _hours(table)[(STORE, "2026-03-02")] == {"h10:r4": 1, "h10:firstCount": 1, "h10:firstSum": 4}
    [outcome] = migrations.run(page_size=10, only=MIGRATION)
    assert outcome.status == "applied now"
    assert _hours(table) == oracle_state([*first, late], "1042")["hours"]


def test_a_record_applied_while_migrating_is_not_lost(table, stream, monkeypatch):
    """The Put is conditional on the day counters as read: a record applied between the read and the
    write (by the new code, or by old code still running) makes the step read the day again."""
    restore = _old_code(monkeypatch)
    old = [fb("A", "2026-03-01T09:00:00.000Z", 5), fb("B", "2026-03-01T10:00:00.000Z", 2)]
    _write(old, [])
    deliver(stream.read())
    restore()
    real = migrations._hours_of
    racing_record = fb("C", "2026-03-01T11:00:00.000Z", 3)
    state = {"done": False}

    def racing(item):
        counted = real(item)
        if not state["done"]:
            state["done"] = True
            _write([racing_record], [])
            restore_again = _old_code(monkeypatch)  # an old container still running during the deploy
            deliver(stream.read())
            restore_again()
        return counted

    monkeypatch.setattr(migrations, "_hours_of", racing)
    [outcome] = migrations.run(only=MIGRATION)
    assert outcome.changed == 1
    assert _hours(table) == oracle_state([*old, racing_record], "1042")["hours"]
