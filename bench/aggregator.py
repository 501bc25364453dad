"""Phase: the stream aggregator's throughput through its real handler, against bare UpdateItem calls.

``aggregator_records`` stream records (feedback and NPS reviews of several stores and workspaces,
identified and anonymous customers; ``aggregator_replay_share`` of them redeliveries of records
already delivered, as Lambda's retries produce) go through functions/aggregator/app.py in
batches of the template's BatchSize. The baseline processes the same batches with one bare
``UpdateItem`` (ADD total 1 on the record's day counter) per record - the least a counter could
cost, with neither exactly-once nor any metric. Handler batch and baseline batch alternate; the
ratio is the median over batches of handler time / baseline time (the JSON also has the ratio of
the totals).

``python -m bench.aggregator CONFIG_JSON OUT_PATH``
"""

from __future__ import annotations

import math
import random
import time
import zlib
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    BASELINE_TABLE,
    REGION,
    TABLE,
    Context,
    Meter,
    create_table,
    function_exists,
    handler_module,
    log,
    median,
    moto_table,
    phase_args,
    settle,
    start_mock,
    use_inprocess_env,
    write_json,
)

STORES = [
    ("1042", "downtown-coffee"),
    ("1042", "uptown-bakery"),
    ("1042", "harbour-kiosk"),
    ("2000", "downtown-coffee"),
]


def deliveries(total: int, replay_share: float, seed: int = 5) -> tuple[list[dict[str, Any]], int]:
    """Stream records in delivery order: unique ones and redeliveries of recent ones (a retried
    batch suffix comes again a little later). Returns (records, number of unique records)."""
    from bench import seed as seeding

    replays = round(total * replay_share)
    unique = total - replays
    now = datetime.now(UTC)
    per_store = math.ceil(unique / len(STORES))
    records = []
    for ws, store in STORES:
        records += seeding.history(ws, store, per_store, per_store, now, seed=zlib.crc32(f"{ws}/{store}".encode()))
    rng = random.Random(seed)
    records.sort(key=lambda r: r["createdAt"])
    records = records[:unique]
    stream = [seeding.stream_record(r, i) for i, r in enumerate(records)]
    out: list[dict[str, Any]] = []
    replay_at = sorted(rng.sample(range(1, total), replays))
    source = iter(stream)
    delivered: list[dict[str, Any]] = []
    for position in range(total):
        if replay_at and replay_at[0] == position and delivered:
            replay_at.pop(0)
            out.append(rng.choice(delivered[-300:]))
        else:
            record = next(source, None)
            if record is None:
                out.append(rng.choice(delivered[-300:]))
                continue
            delivered.append(record)
            out.append(record)
    return out, unique


def day_totals(table_name: str) -> int:
    """Sum of every day counter's ``total`` (read from moto directly, not counted)."""
    total = 0
    for item in moto_table(table_name).all_items():
        attrs = item.to_json()["Attributes"]
        day = attrs.get("type", {}).get("S") == "agg_day" and attrs["pk"]["S"].startswith("AGG#")
        if day and "total" in attrs:
            total += int(attrs["total"]["N"])
    return total


def main() -> None:
    cfg, out_path = phase_args()
    if not function_exists("aggregator"):
        write_json(out_path, {"available": False})
        return
    use_inprocess_env(TABLE)
    start_mock()
    import boto3

    admin = boto3.client("dynamodb", region_name=REGION)
    for name in (TABLE, BASELINE_TABLE):
        create_table(admin, name)
    from revisit.dal import keys, table

    module = handler_module("aggregator")
    records, unique = deliveries(cfg.aggregator_records, cfg.aggregator_replay_share)
    bare = boto3.client("dynamodb", region_name=REGION)

    def baseline_batch(batch: list[dict[str, Any]]) -> None:
        for r in batch:
            image = r["dynamodb"]["NewImage"]
            key = keys.agg_day(image["workspaceId"]["S"], image["storeSlug"]["S"], image["createdAt"]["S"][:10])
            bare.update_item(
                TableName=BASELINE_TABLE,
                Key=table.serialize(key),
                UpdateExpression="ADD #t :one",
                ExpressionAttributeNames={"#t": "total"},
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    settle()
    handler_s = baseline_s = 0.0
    per_batch: list[float] = []
    meter = Meter(table.client, capture=True)
    ops: Counter[str] = Counter()
    items_written = 0
    transactions = 0
    write_units = 0
    failures = 0
    perf = time.perf_counter
    started = perf()
    with meter:
        for start in range(0, len(records), cfg.aggregator_batch):
            batch = records[start : start + cfg.aggregator_batch]
            meter.reset()
            event = {"Records": batch}
            context = Context("aggregator")
            t0 = perf()
            reply = module.lambda_handler(event, context)
            t1 = perf()
            baseline_batch(batch)
            t2 = perf()
            handler_s += t1 - t0
            baseline_s += t2 - t1
            per_batch.append((t1 - t0) / (t2 - t1))
            failures += len(reply.get("batchItemFailures") or [])
            ops.update(meter.ops)
            for op, params, failed in zip(meter.ops, meter.params, meter.failed, strict=True):
                if op == "TransactWriteItems" and not failed:
                    transactions += 1
                    for entry in params["TransactItems"]:
                        ((action, body),) = entry.items()
                        if action != "ConditionCheck":
                            items_written += 1
                        size = sum(len(k) + len(str(v)) for k, v in body.get("Item", {}).items())
                        write_units += 2 * max(1, math.ceil(size / 1024))
    elapsed = perf() - started
    counted = day_totals(TABLE)
    n = len(records)
    result = {
        "available": True,
        "records": n,
        "unique": unique,
        "replays": n - unique,
        "batch_size": cfg.aggregator_batch,
        "stores": len(STORES),
        "records_per_s": round(n / handler_s, 1),
        "baseline_records_per_s": round(n / baseline_s, 1),
        "ratio": round(median(per_batch), 3),
        "ratio_of_totals": round(handler_s / baseline_s, 3),
        "calls_per_record": round(sum(ops.values()) / n, 3),
        "ops_per_record": {op: round(c / n, 3) for op, c in sorted(ops.items())},
        "applied_transactions_per_record": round(transactions / n, 3),
        "items_written_per_applied_record": round(items_written / max(1, unique), 3),
        "write_units_per_applied_record": round(write_units / max(1, unique), 2),
        "baseline_write_units_per_record": 1.0,
        "counted_exactly_once": counted == unique,
        "counted": counted,
        "failures": failures,
        "seconds": round(elapsed, 1),
    }
    log(
        f"{result['records_per_s']} records/s vs {result['baseline_records_per_s']} bare UpdateItem "
        f"({result['ratio']}x the time); counted {counted} of {unique} unique [{elapsed:.1f} s]"
    )
    write_json(out_path, result)


if __name__ == "__main__":
    main()
