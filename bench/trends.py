"""Phase: the series and the stores view as a store grows, the stores view as a workspace grows,
and import throughput (issue 16).

1. Stores of ``growth_sizes`` responses (bench/seed.py, as the growth phase: the last 30 days hold
   the same responses in every store). Through the real handler: the series of the default period
   (30 local days, day buckets), the series of 366 days in week buckets, and the stores view asked
   with the store's own key (its row only). DynamoDB calls, read units, median time. The seeding is
   checked: one history seeded and the same fed through the real aggregator give equal series.
2. Workspaces of ``trends_store_counts`` stores of ``trends_store_records`` responses each: the
   stores view with the workspace key (every row and the total).
3. Import: ``trends_import_rows`` rows as JSON Lines, 1,000 a request, through
   functions/feedback_import (validation, one transaction a row), then their stream records
   (moto's stream of the table, the template's filter) through functions/aggregator in batches
   of the template's BatchSize; rows per second of each and end to end, and the dashboard's
   total checked to rise by exactly the rows; then the same requests again (a resumed import:
   every row there already, nothing written).

``python -m bench.trends CONFIG_JSON OUT_PATH``
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import (
    REGION,
    TABLE,
    Context,
    Meter,
    create_table,
    drop_table,
    fast_moto_writes,
    function_exists,
    handler_module,
    log,
    moto_table,
    phase_args,
    settle,
    start_mock,
    use_inprocess_env,
    write_json,
)
from tests.support import api_event

SERIES = "/api/external/dashboard/series"
STORES = "/api/external/dashboard/stores"


def _event(path: str, key: str, **query: str) -> dict[str, Any]:
    return api_event("GET", path, query=query or None, headers={"x-api-key": key})


def _call(module: Any, event: dict[str, Any]) -> dict[str, Any]:
    reply = module.lambda_handler(event, Context("dashboard"))
    assert reply["statusCode"] == 200, reply
    return json.loads(reply["body"])


def _year(now: datetime) -> dict[str, str]:
    today = now.date()
    return {"from": (today - timedelta(days=365)).isoformat(), "to": today.isoformat(), "interval": "week"}


def check_seeding(ws: str, key: str, records: int, now: datetime) -> dict[str, Any]:
    """bench/seed.py's hour counters against the real aggregator's: one history seeded into one
    store and fed through the aggregator handler into another; their series must be equal."""
    from bench import seed
    from revisit.domain import workspaces

    module, aggregator = handler_module("dashboard"), handler_module("aggregator")
    for slug in ("check-seeded", "check-real"):
        workspaces.create_store(ws, slug, slug)
    seed.seed_store(TABLE, seed.history(ws, "check-seeded", records, records, now, seed=17), now)
    real = seed.history(ws, "check-real", records, records, now, seed=17)
    for batch in seed.batches([seed.stream_record(r, i) for i, r in enumerate(real)], 100):
        reply = aggregator.lambda_handler({"Records": batch}, Context("aggregator"))
        assert not reply.get("batchItemFailures"), reply
    same = True
    for query in ({}, _year(now)):
        a = _call(module, _event(SERIES, key, storeSlug="check-seeded", **query))
        b = _call(module, _event(SERIES, key, storeSlug="check-real", **query))
        a.pop("storeSlug"), b.pop("storeSlug")
        same = same and a == b and any(bucket["count"] for bucket in a["buckets"])
    return {"records": records, "equal": same}


def by_store_size(cfg: Any, admin: Any) -> dict[str, Any]:
    from bench import seed
    from bench.growth import measure
    from revisit.dal import table
    from revisit.domain import credentials, workspaces
    from revisit.domain.auth import Kind
    from tests.world import build_world

    drop_table(admin, TABLE)
    create_table(admin, TABLE)
    w = build_world()
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)  # same days every run
    keys: dict[int, str] = {}
    seeded: dict[int, dict[str, int]] = {}
    for size in cfg.growth_sizes:
        started = time.perf_counter()
        slug = f"store-{size}"
        workspaces.create_store(w.workspace_id, slug, f"Store {size}")
        seeded[size] = seed.seed_store(
            TABLE, seed.history(w.workspace_id, slug, size, cfg.growth_period_records, now), now
        )
        keys[size] = credentials.issue(w.workspace_id, Kind.API, "store", slug)["key"]
        log(f"store of {size} responses seeded {seeded[size]} [{time.perf_counter() - started:.1f} s]")
    check = check_seeding(w.workspace_id, w.workspace_key, cfg.growth_check_records, now)
    log(f"seeded hour counters equal to the real aggregator's: {check['equal']}")
    module = handler_module("dashboard")
    settle()
    endpoints = {
        "series (30 days, by day)": lambda size: _event(SERIES, w.workspace_key, storeSlug=f"store-{size}"),
        "series (366 days, by week)": lambda size: _event(
            SERIES, w.workspace_key, storeSlug=f"store-{size}", **_year(now)
        ),
        "stores view (a store key: its row)": lambda size: _event(STORES, keys[size]),
    }
    out: dict[str, Any] = {"seeding_check": check, "period_records": cfg.growth_period_records, "endpoints": {}}
    for name, make in endpoints.items():
        rows = measure(module, table.client, {str(size): make(size) for size in cfg.growth_sizes}, cfg.growth_repeats)
        for size in cfg.growth_sizes:
            rows[str(size)]["items"] = seeded[size]
        out["endpoints"][name] = rows
        log(
            f"{name} "
            + ", ".join(f"{s}: {r['calls']} calls {r['read_units']} RRU {r['ms']} ms" for s, r in rows.items())
        )
    return out


def by_store_count(cfg: Any, admin: Any) -> dict[str, Any]:
    from bench import seed
    from bench.growth import measure
    from revisit.dal import table
    from revisit.domain import credentials, workspaces
    from revisit.domain.auth import Kind

    drop_table(admin, TABLE)
    create_table(admin, TABLE)
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    events = {}
    for count in cfg.trends_store_counts:
        ws = f"ws-{count}"
        workspaces.ensure_workspace(ws)
        for n in range(count):
            slug = f"store-{n:02d}"
            workspaces.create_store(ws, slug, f"Store {n}")
            records = seed.history(ws, slug, cfg.trends_store_records, cfg.trends_store_records, now, seed=n)
            seed.seed_store(TABLE, records, now)
        events[str(count)] = _event(STORES, credentials.issue(ws, Kind.API, "workspace")["key"])
        log(f"workspace of {count} stores seeded")
    settle()
    rows = measure(handler_module("dashboard"), table.client, events, max(3, cfg.growth_repeats // 3))
    log(", ".join(f"{s} stores: {r['calls']} calls {r['read_units']} RRU {r['ms']} ms" for s, r in rows.items()))
    return {"records_per_store": cfg.trends_store_records, "rows": rows}


def imports(cfg: Any, admin: Any) -> dict[str, Any]:
    from revisit.dal import table
    from revisit_dev.template import load_template
    from tests.analytics_support import Stream
    from tests.world import build_world

    drop_table(admin, TABLE)
    create_table(admin, TABLE, stream=True)
    w = build_world()
    stream = Stream(TABLE)
    stream.read_all()
    importer, aggregator, dashboard = (handler_module(n) for n in ("feedback_import", "aggregator", "dashboard"))
    aggregator_fn = next(f for f in load_template().functions if f.logical_id == "AggregatorFunction")
    batch_size = aggregator_fn.streams[0].batch_size
    today = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rows = [
        {
            "storeSlug": w.store,
            "createdAt": (today - timedelta(days=1 + i % 300, hours=i % 24)).isoformat().replace("+00:00", "Z"),
            "rating": 1 + i * 7 % 5,
            "comment": f"imported answer {i}",
            **({"civ": f"C-{i % 400:04d}"} if i % 3 else {}),
            "orderId": f"IMP-{i}",
            "source": "delighted",
            "externalId": f"bench-{i}",
        }
        for i in range(cfg.trends_import_rows)
    ]
    bodies = ["".join(json.dumps(r) + "\n" for r in rows[i : i + 1000]) for i in range(0, len(rows), 1000)]
    headers = {"x-api-key": w.workspace_key, "Content-Type": "application/x-ndjson"}

    def post_all() -> tuple[float, list[dict[str, Any]]]:
        replies = []
        started = time.perf_counter()
        for body in bodies:
            event = api_event("POST", "/api/external/feedback/import", body=body, headers=headers)
            reply = importer.lambda_handler(event, Context("feedback_import"))
            assert reply["statusCode"] == 200, reply
            replies.append(json.loads(reply["body"]))
        return time.perf_counter() - started, replies

    def total() -> int:
        query = {"storeSlug": w.store, "from": (today - timedelta(days=330)).date().isoformat()}
        return _call(dashboard, _event("/api/external/dashboard", w.workspace_key, **query))["totalFeedback"]

    before = total()
    with Meter(table.client) as meter:
        import_s, replies = post_all()
    created = sum(r["created"] for r in replies)
    records = stream.read()
    shard = moto_table(TABLE).stream_shard
    moto_table(TABLE).stream_shard = None  # the aggregator's own writes: no stream emulation (as in its phase)
    # moto re-checks an item's size on every attribute it sets (quadratic in the attributes: an hour
    # item has up to 24 x 12); DynamoDB does not. Off, as for the seeding. The last batch is metered
    # for its write units (metering slows it: it is not in the time).
    timed, metered = records[:-batch_size] or records, records[-batch_size:] if len(records) > batch_size else []
    with fast_moto_writes():
        started = time.perf_counter()
        for i in range(0, len(timed), batch_size):
            reply = aggregator.lambda_handler({"Records": timed[i : i + batch_size]}, Context("aggregator"))
            assert not reply.get("batchItemFailures"), reply
        aggregate_s = time.perf_counter() - started
        with Meter(table.client, capacity=True) as units:
            if metered:
                reply = aggregator.lambda_handler({"Records": metered}, Context("aggregator"))
                assert not reply.get("batchItemFailures"), reply
    counted = total() - before
    moto_table(TABLE).stream_shard = shard
    again_s, again = post_all()
    out = {
        "rows": len(rows),
        "requests": len(bodies),
        "created": created,
        "stream_records": len(records),
        "counted": counted,
        "exact": created == len(rows) == len(records) == counted,
        "import_seconds": round(import_s, 2),
        "import_rows_per_s": round(len(rows) / import_s),
        "import_calls": meter.calls,
        "aggregate_seconds": round(aggregate_s, 2),
        "aggregate_records_per_s": round(len(timed) / aggregate_s),
        "aggregate_write_units_per_record": round(units.write_units / len(metered), 2) if metered else None,
        "end_to_end_rows_per_s": round(1 / (import_s / len(rows) + aggregate_s / len(timed))),
        "resumed_seconds": round(again_s, 2),
        "resumed_already_present": sum(r["alreadyPresent"] for r in again),
        "resumed_new_stream_records": len(stream.read()),
    }
    log(f"import {out}")
    return out


def main() -> None:
    cfg, out_path = phase_args()
    use_inprocess_env(TABLE)
    # A warm container re-reads a credential every 5 s (the revocation bound); a measured request
    # would count that GetItem whenever its warm-up ran just before the 5 s were up. Not here: the
    # figures are the endpoints' own reads.
    os.environ["CREDENTIAL_CACHE_SECONDS"] = "3600"
    start_mock()
    from revisit.domain import auth

    auth.REVOCATION_BOUND_SECONDS = 3600.0
    import boto3

    admin = boto3.client("dynamodb", region_name=REGION)
    result: dict[str, Any] = {}
    started = time.perf_counter()
    if all(function_exists(f) for f in ("dashboard", "aggregator", "feedback_import")):
        result["by_store_size"] = by_store_size(cfg, admin)
        result["by_store_count"] = by_store_count(cfg, admin)
        result["import"] = imports(cfg, admin)
    else:
        result["available"] = False
    result["seconds"] = round(time.perf_counter() - started, 1)
    write_json(out_path, result)


if __name__ == "__main__":
    main()
