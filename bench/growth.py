"""Phase: what the dashboard, the NPS score and the scheduler cost as a store grows.

Stores with ``growth_sizes`` responses each (bench/seed.py: raw feedback and NPS reviews plus the
aggregates the stream aggregator would have written; the last 30 days hold the same responses in
every store). For each store the dashboard and the NPS score are asked for the default period
(the last 30 days) through the real handler: DynamoDB calls, read units and time. The smallest
store is the baseline; the aggregates it was seeded with are checked against the real aggregator
fed the same records.

The scheduler: ``scheduler_trackers`` trackers of which ``scheduler_due`` are due, one run of the
real handler each; calls and units must follow the due trackers, not the stored ones.

``python -m bench.growth CONFIG_JSON OUT_PATH``
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import (
    REGION,
    TABLE,
    Context,
    Meter,
    bulk_put,
    create_table,
    drop_table,
    function_exists,
    handler_module,
    log,
    median,
    phase_args,
    settle,
    start_mock,
    use_inprocess_env,
    write_json,
)
from tests.support import api_event

ENDPOINTS = {"dashboard": "/api/external/dashboard", "nps_score": "/api/external/nps-score"}


def _request(path: str, slug: str, key: str) -> dict[str, Any]:
    return api_event("GET", path, query={"storeSlug": slug}, headers={"x-api-key": key})


def _call(module: Any, event: dict[str, Any]) -> dict[str, Any]:
    reply = module.lambda_handler(event, Context("dashboard"))
    assert reply["statusCode"] == 200, reply
    return json.loads(reply["body"])


def measure(module: Any, client: Any, events: dict[str, dict[str, Any]], repeats: int) -> dict[str, Any]:
    """Calls, read units (one metered request each) and the median time of ``repeats`` requests
    per store, the stores taking turns so that they share whatever else the machine does."""
    out: dict[str, Any] = {}
    for size, event in events.items():
        _call(module, event)  # warm: the credential is cached, as on a warm container
        with Meter(client, capacity=True) as meter:
            _call(module, event)
        out[size] = {"calls": meter.calls, "ops": meter.breakdown(), "read_units": round(meter.read_units, 2)}
    times: dict[str, list[float]] = {size: [] for size in events}
    own: dict[str, list[float]] = {size: [] for size in events}
    in_calls = [0.0]
    call_started = [0.0]

    def before(**_: Any) -> None:
        call_started[0] = time.perf_counter()

    def after(**_: Any) -> None:
        in_calls[0] += time.perf_counter() - call_started[0]

    # The time inside the DynamoDB calls (moto's work, in this process) against the rest: the
    # handler's own work, which is what Revisit controls.
    client.meta.events.register("before-call.dynamodb", before)
    client.meta.events.register("after-call.dynamodb", after)
    try:
        for _ in range(repeats):
            for size, event in events.items():
                in_calls[0] = 0.0
                started = time.perf_counter()
                _call(module, event)
                elapsed = time.perf_counter() - started
                times[size].append(elapsed)
                own[size].append(elapsed - in_calls[0])
    finally:
        client.meta.events.unregister("before-call.dynamodb", before)
        client.meta.events.unregister("after-call.dynamodb", after)
    for size in events:
        out[size]["ms"] = round(median(times[size]) * 1000, 2)
        out[size]["handler_ms"] = round(median(own[size]) * 1000, 2)
        out[size]["storage_ms"] = round((median(times[size]) - median(own[size])) * 1000, 2)
    return out


def check_seeding(fx: dict[str, Any], records: int, now: datetime) -> dict[str, Any]:
    """The seeding, checked: one history written by bench/seed.py into one store and fed through
    the real aggregator handler (as stream records) into another; both stores' dashboard and NPS
    score must be equal but for the store's name."""
    from bench import seed
    from revisit.domain import workspaces

    module = handler_module("dashboard")
    aggregator = handler_module("aggregator")
    for slug in ("check-seeded", "check-real"):
        workspaces.create_store(fx["ws"], slug, slug)
    # the same responses (ids aside) in both: history() depends on the store only for ids
    seeded = seed.history(fx["ws"], "check-seeded", records, records, now, seed=17)
    seed.seed_store(TABLE, seeded, now)
    real = seed.history(fx["ws"], "check-real", records, records, now, seed=17)
    stream = [seed.stream_record(r, i) for i, r in enumerate(real)]
    for batch in seed.batches(stream, 100):
        reply = aggregator.lambda_handler({"Records": batch}, Context("aggregator"))
        assert not reply.get("batchItemFailures"), reply
    same = True
    for path in ENDPOINTS.values():
        a = _call(module, _request(path, "check-seeded", fx["key"]))
        b = _call(module, _request(path, "check-real", fx["key"]))
        a.pop("storeSlug"), b.pop("storeSlug")
        same = same and a == b
    return {"records": records, "equal": same}


def dashboards(cfg: Any, admin: Any) -> dict[str, Any]:
    from bench import seed
    from revisit.dal import table
    from revisit.domain import workspaces
    from tests.world import build_world

    drop_table(admin, TABLE)
    create_table(admin, TABLE)
    w = build_world()
    fx = {"ws": w.workspace_id, "key": w.workspace_key}
    # Anchored at today's 00:00 UTC: the records fall on the same days, whatever the time of the
    # run, so the read units (billed per 4 KB of a day range) are the same in every run.
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    seeded: dict[int, dict[str, int]] = {}
    for size in cfg.growth_sizes:
        started = time.perf_counter()
        workspaces.create_store(w.workspace_id, f"store-{size}", f"Store {size}")
        records = seed.history(w.workspace_id, f"store-{size}", size, cfg.growth_period_records, now)
        seeded[size] = seed.seed_store(TABLE, records, now)
        log(f"store of {size} responses seeded {seeded[size]} [{time.perf_counter() - started:.1f} s]")
    check = check_seeding(fx, cfg.growth_check_records, now)
    log(f"seeded aggregates equal to the real aggregator's: {check['equal']}")
    module = handler_module("dashboard")
    settle()
    out: dict[str, Any] = {"seeding_check": check, "period_records": cfg.growth_period_records, "endpoints": {}}
    for name, path in ENDPOINTS.items():
        events = {str(size): _request(path, f"store-{size}", fx["key"]) for size in cfg.growth_sizes}
        rows = measure(module, table.client, events, cfg.growth_repeats)
        for size in cfg.growth_sizes:
            rows[str(size)]["items"] = seeded[size]
        out["endpoints"][name] = rows
        log(
            f"{name} "
            + ", ".join(f"{s}: {r['calls']} calls {r['read_units']} RRU {r['ms']} ms" for s, r in rows.items())
        )
    return out


def scheduler(cfg: Any, admin: Any) -> dict[str, Any]:
    import boto3

    from bench import scenarios
    from bench.inproc import clear_caches
    from revisit.dal import table
    from revisit.dal import trackers as trackers_dal
    from revisit.domain.util import iso, new_id
    from tests.world import build_world

    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress="surveys@example.com")
    module = handler_module("scheduler")
    out = {}
    for total in cfg.scheduler_trackers:
        started = time.perf_counter()
        drop_table(admin, TABLE)
        create_table(admin, TABLE)
        w = build_world()
        partner = {"X-API-KEY": w.partner_key, "X-API-SECRET": w.partner_secret}
        fx = {"owner": w.owner_headers(), "partner": partner}
        survey = {"storeSlug": w.store, "name": "After your visit", "sendingType": "email", "delayMinutes": 0}
        assert (
            handler_module("management").lambda_handler(
                api_event("POST", "/api/surveys", body=survey, headers=fx["owner"]), Context()
            )["statusCode"]
            == 201
        )
        # recording the purchase makes the survey's email tracker: the template of the stored ones
        recorded = handler_module("purchases").lambda_handler(scenarios.purchase_event(fx, "P-SCHED"), Context())
        assert recorded["statusCode"] == 201, recorded
        (template,) = trackers_dal.by_purchase(w.workspace_id, "P-SCHED", None, None)
        assert template["sendingType"] == "email", template
        now = datetime.now(UTC)
        items = []
        for i in range(total):
            tracker = {**template, "id": new_id()}
            if i < cfg.scheduler_due:
                due = iso(now - timedelta(minutes=1 + i % 30))
            elif i % 2:
                due = iso(now + timedelta(days=1 + i % 20))  # scheduled later: in the index, not due
            else:
                due = None  # sent or finished: not in the index
                tracker["status"] = "completed"
            items.append(table.serialize(trackers_dal.to_item(tracker, due)))
        items.append(table.serialize(trackers_dal.to_item({**template, "status": "completed"}, None)))
        bulk_put(TABLE, items)
        settle()
        seed_s = time.perf_counter() - started
        event = scenarios.event("scheduler", {}, 0)
        clear_caches()  # each run as the first of a container: the same reads whatever ran before
        with Meter(table.client, capacity=True) as meter:
            t0 = time.perf_counter()
            report = module.lambda_handler(event, Context("scheduler"))
            elapsed = time.perf_counter() - t0
        out[str(total)] = {
            "trackers": total,
            "due": cfg.scheduler_due,
            "sent": report.get("sent"),
            "calls": meter.calls,
            "ops": meter.breakdown(),
            "read_units": round(meter.read_units, 2),
            "write_units": round(meter.write_units, 2),
            "ms": round(elapsed * 1000, 1),
        }
        log(f"scheduler {total} trackers, {cfg.scheduler_due} due: {out[str(total)]} [seeded in {seed_s:.1f} s]")
    return out


def main() -> None:
    cfg, out_path = phase_args()
    use_inprocess_env(TABLE)
    start_mock()
    import boto3

    admin = boto3.client("dynamodb", region_name=REGION)
    result: dict[str, Any] = {}
    started = time.perf_counter()
    if function_exists("dashboard") and function_exists("aggregator"):
        result["analytics"] = dashboards(cfg, admin)
    else:
        result["analytics"] = {"available": False}
    if function_exists("scheduler"):
        result["scheduler"] = scheduler(cfg, admin)
    result["seconds"] = round(time.perf_counter() - started, 1)
    write_json(out_path, result)


if __name__ == "__main__":
    main()
