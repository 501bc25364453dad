"""Migration 0006-day-squares (issue 16 part 1): day counters written before the sums of squared
ratings existed get them, recomputed from the raw feedback and NPS reviews, equal to what the
aggregator writes today; a second run changes nothing, a dry run writes nothing, an interrupted
run resumes, and a day whose records the aggregator has not applied yet is not written."""

from __future__ import annotations

import dataclasses
import random

import pytest

from revisit.dal import keys, table
from revisit_dev import migrations
from tests.analytics_support import aggregate_state, deliver, fb, put_feedback

MIGRATION = "0006-day-squares"
TABLE = "revisit-unit"
STORE = "downtown-coffee"


def _review(i: int, at: str, rate: int, civ: str | None) -> dict:
    return {
        "id": 9_000 + i, "client": i, "rate": rate, "channel": "web", "category": "visit", "respondentType": "x",
        "workspaceId": "1042", "storeSlug": STORE, "shopId": "shop", "createdAt": at, **({"civ": civ} if civ else {}),
    }  # fmt: skip


def _history(seed: int) -> tuple[list, list[dict]]:
    rng = random.Random(seed)
    fbs, reviews = [], []
    for i in range(40):
        at = f"2026-03-{1 + rng.randrange(6):02d}T{rng.randrange(24):02d}:{i:02d}:00.000Z"
        civ = rng.choice(("A", "B", "C", "D", None))
        if rng.random() < 0.3:
            reviews.append(_review(i, at, rng.randint(1, 10), civ))
        else:
            fbs.append(fb(civ, at, rng.randint(1, 5)))
    return fbs, reviews


def _write(fbs, reviews):
    from revisit.dal import nps as nps_dal

    for f in fbs:
        put_feedback(f)
    for r in reviews:
        nps_dal.put_review(r)


def _old_code(monkeypatch):
    """The aggregator of before: its day deltas without the squares."""
    from revisit.dal import analytics as dal

    real = dal.apply

    def apply(change):
        deltas = {d: {k: v for k, v in c.items() if not k.endswith("Sq")} for d, c in change.day_deltas.items()}
        return real(dataclasses.replace(change, day_deltas=deltas))

    monkeypatch.setattr(dal, "apply", apply)
    return lambda: monkeypatch.setattr(dal, "apply", real)


def _days(client):
    return aggregate_state(client, "1042")["days"]


def _drop_squares(client):
    """The day items as the old code left them: no firstSq / returnSq."""
    for (store, day), _ in _days(client).items():
        table.client.update_item(
            TableName=TABLE,
            Key=table.serialize(keys.agg_day("1042", store, day)),
            UpdateExpression="REMOVE firstSq, returnSq",
        )


@pytest.fixture
def applied(table, stream):
    """A history (feedback and NPS reviews, late records included) applied by today's aggregator:
    the day counters the migration must reproduce."""
    fbs, reviews = _history(16)
    _write(fbs, reviews)
    records = stream.read()
    random.Random(3).shuffle(records)  # late older records: first visits re-counted as returns
    deliver(records)
    expected = _days(table)
    assert any("returnSq" in c for c in expected.values()) and any("firstSq" in c for c in expected.values())
    return expected


def test_the_migration_restores_what_the_aggregator_writes(table, applied):
    _drop_squares(table)
    assert _days(table) != applied
    [outcome] = migrations.run(page_size=4, only=MIGRATION)
    assert outcome.status == "applied now" and outcome.changed == len(applied)
    assert _days(table) == applied

    assert [o.status for o in migrations.run(only=MIGRATION)] == ["already applied"]
    table.delete_item(TableName=TABLE, Key=table_key(keys.migration(MIGRATION)))
    [forced] = migrations.run(page_size=3, only=MIGRATION)
    assert forced.changed == 0 and _days(table) == applied


def table_key(key):
    return table.serialize(key)


def test_a_deployment_half_old_half_new_is_made_exact(table, stream, monkeypatch):
    """Records applied by the old code, then by the new one (its ADDs, and its moves of a former
    first visit's square, on items without the old squares): the migration sets the totals."""
    fbs, reviews = _history(5)
    _write(fbs, reviews)
    records = stream.read()
    random.Random(9).shuffle(records)
    restore = _old_code(monkeypatch)
    deliver(records[:25])
    restore()
    deliver(records[25:])
    partial = _days(table)
    [outcome] = migrations.run(page_size=5, only=MIGRATION)
    assert outcome.changed > 0
    after = _days(table)
    assert after != partial

    # what a fresh table and today's aggregator give for the same history
    table.delete_table(TableName=TABLE)
    from revisit_dev.template import create_table_from_template

    create_table_from_template(table, TABLE)
    from tests.analytics_support import Stream

    fresh = Stream(TABLE)
    _write(fbs, reviews)
    deliver(fresh.read())
    assert _days(table) == after


def test_dry_run_writes_nothing(table, applied):
    _drop_squares(table)
    before = _days(table)
    [outcome] = migrations.run(dry_run=True, page_size=5, only=MIGRATION)
    assert outcome.status == "dry run" and outcome.changed == len(applied)
    assert _days(table) == before


class Interrupt(BaseException):
    """The process dying mid-run."""


def test_an_interrupted_run_resumes(table, applied, monkeypatch):
    _drop_squares(table)
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
    marker = table.get_item(TableName=TABLE, Key=table_key(keys.migration(MIGRATION)))["Item"]
    assert marker["status"]["S"] == "running" and "cursor" in marker
    monkeypatch.setattr(migration, "step", real)
    [resumed] = migrations.run(page_size=2, only=MIGRATION)
    assert resumed.resumed and resumed.status == "applied now"
    assert _days(table) == applied


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
    assert "returnSq" not in _days(table)[(STORE, "2026-03-02")]
    deliver(stream.read())
    [outcome] = migrations.run(page_size=10, only=MIGRATION)
    assert outcome.status == "applied now"
    days = _days(table)
    assert days[(STORE, "2026-03-01")]["firstSq"] == 25
    assert days[(STORE, "2026-03-02")]["returnSq"] == 9 and days[(STORE, "2026-03-02")]["firstSq"] == 16


def test_a_record_applied_while_migrating_is_not_lost(table, stream, monkeypatch):
    """The write is conditional on the counters as read: a record applied between the read and
    the write makes the step read the item again and recompute."""
    restore = _old_code(monkeypatch)
    _write([fb("A", "2026-03-01T09:00:00.000Z", 5), fb("B", "2026-03-01T10:00:00.000Z", 2)], [])
    deliver(stream.read())
    restore()
    real = migrations._day_counters_of
    state = {"done": False}

    def racing(item):
        counted = real(item)
        if not state["done"]:
            state["done"] = True
            _write([fb("C", "2026-03-01T11:00:00.000Z", 3)], [])
            deliver(stream.read())  # applied by the aggregator now: the item changes under the step
        return counted

    monkeypatch.setattr(migrations, "_day_counters_of", racing)
    [outcome] = migrations.run(only=MIGRATION)
    assert outcome.changed == 1
    assert _days(table)[(STORE, "2026-03-01")] == {
        "total": 3, "r5": 1, "r2": 1, "r3": 1, "firstCount": 3, "firstSum": 10, "firstSq": 38, "firstCsat": 1,
    }  # fmt: skip
