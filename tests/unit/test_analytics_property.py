"""Property: whatever the history and however Lambda delivers it, the aggregates and the
dashboard equal a brute-force oracle computed from the raw feedback (seed 000, issue "done when").

Each example: a fresh table, a workspace with two stores and an API key, a random multi-store,
multi-customer history written as real feedback items, the table's real stream read back as
Lambda records (the template's FilterCriteria applied), then delivered through the real
aggregator handler in a shuffled order, in random batches, with injected failures (reported
records are retried from the first failure, failed invocations are bisected), whole-batch
replays, random suffix replays and a final random redelivery. Some rows come in through the
import route instead (POST /api/external/feedback/import, retried: stored once). After every batch
the state (hour counters included) equals the oracle of what was delivered so far; at the end the
dashboard and the series (day, week and month buckets of the store's calendar, in a random time
zone: one with DST inside the history, quarter- and half-hour ones, UTC) equal the oracle for
random periods, every field.
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from revisit_dev.template import create_table_from_template, load_template
from tests.analytics_support import (
    Fb,
    Stream,
    aggregate_state,
    deliver,
    oracle_series,
    oracle_state,
    put_feedback,
)
from tests.support import api_event, invoke
from tests.unit.test_analytics_ci import oracle_dashboard_ci as oracle_dashboard  # with the intervals

STORES = ("north", "south")
CIVS = ("ann", "bob", "cy")
DAYS = 7  # 2026-03-05 .. 2026-03-11: New York and St John's switch to summer time on the 8th
# UTC times of day next to the zones' bucket boundaries: UTC midnight, St John's (-02:30 in summer),
# New York in summer (-04:00) and winter (-05:00), Kathmandu / Kolkata (+05:45 / +05:30: the UTC
# hour 18 holds their midnight), Berlin (+01:00).
SLOTS = ("00:00", "02:30", "04:30", "05:00", "18:10", "23:00")
ZONES = ("UTC", "America/New_York", "America/St_Johns", "Asia/Kathmandu", "Asia/Kolkata", "Europe/Berlin")
INTERVALS = ("day", "week", "month")


def _at(day: int, slot: int) -> str:
    return f"2026-03-{5 + day:02d}T{SLOTS[slot]}:00.000Z"


visit = st.tuples(
    st.sampled_from(STORES),
    st.sampled_from((*CIVS, None)),
    st.integers(0, DAYS - 1),
    st.integers(0, len(SLOTS) - 1),  # few time slots a day: equal createdAt values happen, the id decides
    st.integers(1, 5),
)
# A loyalist drifting from 4-5★ to 1-3★, so the watch list is exercised in most examples.
drifter = st.tuples(
    st.sampled_from(STORES),
    st.lists(st.integers(4, 5), min_size=2, max_size=4),
    st.lists(st.integers(1, 3), min_size=2, max_size=4),
)
day_st = st.integers(-1, DAYS)  # periods may start before and end after the history
# series periods: from 2026-02-27 (February: a second month bucket; a Friday: a partial week) to
# 2026-03-13 (past the Monday 2026-03-09)
series_day_st = st.integers(-6, DAYS + 1)


def _day(n: int) -> str:
    """The day ``n`` of test_analytics_ci_property's history (2026-03-01 + n; -1: 2026-02-28)."""
    return f"2026-03-{1 + n:02d}" if n >= 0 else "2026-02-28"


def _on(n: int) -> str:
    """The day ``n`` of this history: 2026-03-05 + n (negative: before it)."""
    return (date(2026, 3, 5) + timedelta(days=n)).isoformat()


def _history(raw: list[tuple], drift: tuple, id_order: list[int], prefix: str) -> list[Fb]:
    rows = [(store, civ, _at(day, slot), rating) for store, civ, day, slot, rating in raw]
    store, high, low = drift
    ratings = high + low
    slots = len(SLOTS)
    step = (DAYS * slots) // len(ratings)  # spread over the week, in this order
    rows += [(store, "dee", _at(i * step // slots, i * step % slots), r) for i, r in enumerate(ratings)]
    return [
        Fb(f"{prefix}-{id_order[i]:03d}", "ws-" + prefix, store, civ, at, rating)
        for i, (store, civ, at, rating) in enumerate(rows)
    ]


def _late_firsts(fbs: list[Fb], order: list[str]) -> int:
    """Customers whose earliest visit was delivered after a later one (a re-classification)."""
    arrival = {fid: n for n, fid in enumerate(order)}
    seen: dict[tuple[str, str], list[Fb]] = {}
    for fb in fbs:
        if fb.civ:
            seen.setdefault((fb.store, fb.civ), []).append(fb)
    late = 0
    for visits in seen.values():
        first = min(visits, key=lambda v: (v.at, v.id))
        late += any(arrival[v.id] < arrival[first.id] for v in visits)
    return late


def _setup_workspace(ws: str, zone: str = "UTC") -> str:
    from revisit.domain import credentials, workspaces
    from revisit.domain.auth import Kind

    workspaces.ensure_workspace(ws)
    for store in STORES:
        workspaces.create_store(ws, store, timezone=zone)
    return credentials.issue(ws, Kind.API, "workspace")["key"]


TEMPLATE = load_template(table_name=os.environ["TABLE_NAME"])


def _fresh_table(client: Any) -> None:
    name = os.environ["TABLE_NAME"]
    client.delete_table(TableName=name)
    create_table_from_template(client, name, TEMPLATE)


@settings(
    max_examples=int(os.environ.get("ANALYTICS_PROPERTY_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    raw=st.lists(visit, min_size=0, max_size=18),
    drift=drifter,
    data=st.data(),
)
def test_aggregates_and_dashboard_equal_the_oracle_under_any_delivery(table, raw, drift, data):
    from revisit.dal import analytics as dal

    _fresh_table(table)  # each example on an empty table: the state and its stream are its own
    prefix = uuid.uuid4().hex[:10]
    n = len(raw) + len(drift[1]) + len(drift[2])
    id_order = data.draw(st.permutations(range(n)), label="id order")
    fbs = _history(raw, drift, id_order, prefix)
    ws = fbs[0].ws
    zone = data.draw(st.sampled_from(ZONES), label="store time zone")
    key = _setup_workspace(ws, zone)
    stream = Stream(os.environ["TABLE_NAME"])
    stream.read_all()
    imported = data.draw(st.sets(st.integers(0, n - 1), max_size=n // 3), label="imported rows")
    fbs = [_imported(fb, i) if i in imported else fb for i, fb in enumerate(fbs)]
    for fb in fbs:
        if not fb.id.startswith(prefix):
            continue
        put_feedback(fb)
    if imported:
        body = "".join(json.dumps(_import_row(fb, i)) + "\n" for i, fb in enumerate(fbs) if i in imported)
        for _ in range(2):  # retried: every row is there already the second time
            reply = invoke("feedback_import", _import_event(key, body))
            assert reply.status == 200, reply.text
        assert reply.json == {"received": len(imported), "created": 0, "alreadyPresent": len(imported)}
    records = stream.read()
    assert len(records) == len(fbs)
    by_id = {r["dynamodb"]["NewImage"]["id"]["S"]: r for r in records}

    # Delivery: shuffled order, random batches, injected failures, replays.
    order = data.draw(st.permutations(list(by_id)), label="delivery order")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, n - 1)), max_size=4), label="batch cuts"))
    bounds = [0, *[c for c in cuts if c < n], n]
    batches = [[by_id[i] for i in order[a:b]] for a, b in itertools.pairwise(bounds) if b > a]
    failing = data.draw(st.lists(st.sampled_from(order), max_size=4), label="failures")
    faults = {i: failing.count(i) for i in failing}

    real_apply = dal.apply

    def flaky_apply(change):
        if faults.get(change.record_id):
            faults[change.record_id] -= 1
            raise RuntimeError("injected failure")
        return real_apply(change)

    dal.apply = flaky_apply
    try:
        delivered: dict[str, Fb] = {}
        fb_by_id = {fb.id: fb for fb in fbs}
        for batch in batches:
            deliver(batch)
            replay = data.draw(st.sampled_from(("none", "whole", "suffix")), label="replay")
            if replay == "whole":
                deliver(batch)
            elif replay == "suffix":
                start = data.draw(st.integers(0, len(batch) - 1), label="suffix start")
                deliver(batch[start:])
            for r in batch:
                rid = r["dynamodb"]["NewImage"]["id"]["S"]
                delivered[rid] = fb_by_id[rid]
            so_far = list(delivered.values())
            actual, expected = aggregate_state(table, ws), oracle_state(so_far, ws)
            assert actual == expected
        again = data.draw(st.lists(st.sampled_from(records), max_size=6), label="late redelivery")
        deliver(again)
    finally:
        dal.apply = real_apply

    final = aggregate_state(table, ws)
    assert final == oracle_state(fbs, ws)
    event(f"customers on the watch list: {min(len(final['watch']), 2)}")
    event(f"injected failures: {min(len(failing), 2)}")
    event(f"first visits re-counted as return visits: {_late_firsts(fbs, order) > 0}")
    event(f"store time zone: {zone}")
    event(f"rows imported: {min(len(imported), 2)}")

    periods = data.draw(st.lists(st.tuples(day_st, day_st).map(sorted), min_size=1, max_size=3), label="periods")
    for lo, hi in periods:
        for store in STORES:
            query = {"storeSlug": store, "from": _on(lo), "to": _on(hi)}
            reply = invoke(
                "dashboard", api_event("GET", "/api/external/dashboard", headers={"x-api-key": key}, query=query)
            )
            assert reply.status == 200, reply.text
            assert reply.json == oracle_dashboard(fbs, ws, store, _on(lo), _on(hi))

    lo, hi = sorted(data.draw(st.tuples(series_day_st, series_day_st), label="series period"))
    for store in STORES:  # one interval a store and example: each of the three in many examples
        interval = data.draw(st.sampled_from(INTERVALS), label="series interval")
        event(f"series interval: {interval}")
        query = {"storeSlug": store, "from": _on(lo), "to": _on(hi), "interval": interval}
        reply = invoke(
            "dashboard", api_event("GET", "/api/external/dashboard/series", headers={"x-api-key": key}, query=query)
        )
        assert reply.status == 200, reply.text
        assert reply.json == oracle_series(fbs, {}, ws, store, zone, _on(lo), _on(hi), interval)


def _imported(fb: Fb, n: int) -> Fb:
    """The visit as the import route stores it: its id derived from the workspace and externalId."""
    from revisit.domain import imports

    return Fb(imports.feedback_id(fb.ws, f"ext-{n}"), fb.ws, fb.store, fb.civ, fb.at, fb.rating)


def _import_row(fb: Fb, n: int) -> dict[str, Any]:
    row = {"storeSlug": fb.store, "createdAt": fb.at, "rating": fb.rating, "externalId": f"ext-{n}"}
    return row | ({"civ": fb.civ} if fb.civ else {})


def _import_event(key: str, body: str) -> dict[str, Any]:
    headers = {"x-api-key": key, "Content-Type": "application/x-ndjson"}
    return api_event("POST", "/api/external/feedback/import", body=body, headers=headers)
