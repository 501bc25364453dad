"""The results of a run -> rows (figure, value, baseline, ratio, target, met/missed), the console
table, the Markdown tables of docs/performance.md and docs/cost.md, and the closing note."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from bench.scenarios import SCENARIOS

COLD_TARGET = 1.3
COLD_TARGET_DASHBOARD = 1.5
LATENCY_TARGET = 1.25
MEMORY_GROWTH_TARGET = 0.10
FLAT_UNITS = 0.10  # read units may grow by 10 % between store sizes and still be "flat" ...
UNIT_STEP = 0.5  # ... or by one step: an eventually consistent read is billed in 0.5 RRU steps
FLAT_TIME = 1.25
HEADROOM = 1.25  # memory: configured size >= peak RSS x this

CALL_TARGETS = {  # scenario -> (cold at most, warm at most, how the issue puts it)
    "token": (2, 1, "≤ 2 cold, 1 warm"),
    "submit": (2, 2, "≤ 2"),
    "tracker_get": (2, 1, "≤ 1 + auth"),
    "nps_create": (3, 3, "≤ 3"),
}

# List prices, us-east-1 (docs/cost.md cites the pages and dates).
PRICES = {
    "api_gateway_rest_per_million": 3.50,
    "lambda_request_per_million": 0.20,
    "lambda_arm64_gb_second": 0.0000133334,
    "dynamodb_write_unit_per_million": 0.625,
    "dynamodb_read_unit_per_million": 0.125,
}
COLD_START_SHARE = 0.01  # assumed: 1 invocation in 100 starts a container (INIT is billed)
AGGREGATOR_BATCH = 100  # records per aggregator invocation at volume (the template's BatchSize)


def _fmt_ms(v: float | None) -> str:
    return "—" if v is None else (f"{v:.0f} ms" if v >= 100 else f"{v:.1f} ms" if v >= 10 else f"{v:.2f} ms")


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "—"
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB"


def _ratio(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}×"


def row(
    section: str,
    figure: str,
    value: str,
    baseline: str = "—",
    ratio: str = "—",
    target: str = "—",
    status: str = "info",
    cause: str = "",
) -> dict[str, str]:
    return {
        "section": section,
        "figure": figure,
        "value": value,
        "baseline": baseline,
        "ratio": ratio,
        "target": target,
        "status": status,
        "cause": cause,
    }


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


# ------------------------------------------------------------------ the rows


def cold_rows(cold: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    if not cold:
        return [row("1. Cold start", "cold start", "not run", status="n/a")]
    base = cold["baseline"]
    out.append(
        row(
            "1. Cold start",
            "baseline: import boto3 + client + 1 GetItem",
            _fmt_ms(base["median_ms"]),
            f"n={base['n']}",
            status="info",
        )
    )
    floor = cold.get("floor")
    if floor:
        out.append(
            row(
                "1. Cold start",
                "floor: baseline + Powertools Logger + REST resolver + a pydantic model, nothing of Revisit",
                _fmt_ms(floor["median_ms"]),
                _fmt_ms(base["median_ms"]),
                _ratio(floor["ratio"]),
                "— (what the stack costs)",
                "info",
            )
        )
    for name, r in cold["functions"].items():
        label = f"{name} (spawn → first response)"
        if not r.get("available"):
            out.append(row("1. Cold start", label, "not available yet", status="n/a"))
            continue
        if r.get("skipped"):
            continue
        target = COLD_TARGET_DASHBOARD if name == "dashboard" else COLD_TARGET
        api = r.get("api")
        status = _met(r["ratio"] <= target) if api else "info"
        cause = ""
        if status == "missed":
            extra_import = r["import_ms"] - base["import_ms"]
            extra_first = r["first_request_ms"] - base["first_request_ms"]
            cause = (
                f"import {r['import_ms']:.0f} ms vs {base['import_ms']:.0f} ms (+{extra_import:.0f} ms: Powertools' "
                f"event handler, pydantic and the request models, imported before any request), first request "
                f"{r['first_request_ms']:.0f} ms vs {base['first_request_ms']:.0f} ms (+{extra_first:.0f} ms)"
            )
            if floor:
                cause += (
                    f"; the frameworks alone (floor row) are {floor['ratio']:.2f}×, Revisit's own modules and "
                    f"requests the remaining {r['ratio'] - floor['ratio']:+.2f}×"
                )
            if name == "webapp":
                cause = (
                    f"import {r['import_ms']:.0f} ms vs {base['import_ms']:.0f} ms (+{extra_import:.0f} ms: Starlette, "
                    f"Jinja2, Mangum and asyncio, every page module; pydantic loads with the first form), "
                    f"first request {r['first_request_ms']:.0f} ms vs {base['first_request_ms']:.0f} ms "
                    f"(+{extra_first:.0f} ms: the session's credential, 12 DynamoDB calls of a store page, and "
                    "compiling its templates - which the function `sam build` ships has compiled already)"
                )
        out.append(
            row(
                "1. Cold start",
                label,
                f"{_fmt_ms(r['median_ms'])} (import {r['import_ms']:.0f} + request {r['first_request_ms']:.0f})",
                _fmt_ms(base["median_ms"]),
                _ratio(r["ratio"]),
                f"≤ {target}×" if api else "— (not an API function)",
                status,
                cause,
            )
        )
        shipped = r.get("uncompiled_layer")
        if shipped:
            out.append(
                row(
                    "1. Cold start",
                    f"{name}, layer without .pyc (built where no CPython 3.13 is at hand)",
                    _fmt_ms(shipped["median_ms"]),
                    _fmt_ms(base["median_ms"]),
                    _ratio(shipped["ratio"]),
                    "— (finding)",
                    "info",
                )
            )
    return out


def calls_rows(endpoints: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for name, r in endpoints.items():
        s = SCENARIOS[name]
        label = f"{name}: {s.route}"
        if not r.get("available"):
            out.append(row("2. DynamoDB calls per request", label, r.get("error") or "not available yet", status="n/a"))
            continue
        cold, warm = r["cold"], r["warm"]
        if s.authenticated:
            value = f"cold auth {cold['calls']} ({cold['ops']}) / warm {warm['calls']}"
        else:
            value = f"{cold['calls']} ({cold['ops']})" + (
                f" / warm {warm['calls']}" if warm["calls"] != cold["calls"] else ""
            )
        target, status = "—", "info"
        if name in CALL_TARGETS:
            c_max, w_max, target = CALL_TARGETS[name]
            status = _met(cold["calls"] <= c_max and warm["calls"] <= w_max)
        elif name in ("dashboard", "nps_score"):
            target = "independent of raw records (see 5.)"
        units = f"{warm['read_units']:g} RRU + {warm['write_units']:g} WRU warm"
        out.append(row("2. DynamoDB calls per request", label, value, units, "—", target, status))
    return out


def latency_rows(endpoints: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for name, r in endpoints.items():
        lat = r.get("latency")
        if not r.get("available"):
            out.append(row("3. Warm latency", name, "not available yet", status="n/a"))
            continue
        if not lat:
            continue
        zero = lat["calls_per_request"] == [0]
        if zero:
            out.append(
                row(
                    "3. Warm latency",
                    f"{name} p50 / p99",
                    f"{_fmt_ms(lat['p50_ms'])} / {_fmt_ms(lat['p99_ms'])}",
                    "no DynamoDB call when warm",
                    "—",
                    f"≤ {LATENCY_TARGET}×",
                    "n/a",
                )
            )
            continue
        ok = lat["ratio_p50"] <= LATENCY_TARGET
        cause = ""
        if not ok:
            cause = (
                f"{lat['overhead_p50_ms']:.2f} ms of handler work on top of {lat['baseline_p50_ms']:.2f} ms of storage "
                "(resolver, pydantic validation, (de)serialisation) - against moto in-process, whose calls are "
                "faster than DynamoDB's round trips"
            )
        out.append(
            row(
                "3. Warm latency",
                f"{name} p50 ({lat['iterations']} calls, {lat['calls_per_request']} DynamoDB calls each)",
                _fmt_ms(lat["p50_ms"]),
                _fmt_ms(lat["baseline_p50_ms"]),
                _ratio(lat["ratio_p50"]),
                f"≤ {LATENCY_TARGET}×",
                _met(ok),
                cause,
            )
        )
        out.append(
            row(
                "3. Warm latency",
                f"{name} p99",
                _fmt_ms(lat["p99_ms"]),
                _fmt_ms(lat["baseline_p99_ms"]),
                _ratio(lat["ratio_p99"]),
                "—",
                "info",
            )
        )
    return out


def aggregator_rows(agg: dict[str, Any]) -> list[dict[str, str]]:
    if not agg.get("available"):
        return [row("4. Aggregator throughput", "aggregator", "not available yet", status="n/a")]
    sec = "4. Aggregator throughput"
    desc = (
        f"{agg['records']} records ({agg['replays']} replays, {agg['stores']} stores), batches of {agg['batch_size']}"
    )
    return [
        row(
            sec,
            f"records/s through the handler - {desc}",
            f"{agg['records_per_s']:.0f}/s",
            f"{agg['baseline_records_per_s']:.0f}/s bare UpdateItem",
            _ratio(agg["ratio"]),
            "— (ratio reported)",
            "info",
        ),
        row(
            sec,
            "DynamoDB calls per record",
            f"{agg['calls_per_record']:.2f} ({', '.join(f'{v:g} {k}' for k, v in agg['ops_per_record'].items())})",
            "1 UpdateItem",
            _ratio(agg["calls_per_record"]),
        ),
        row(
            sec,
            "writes per applied record",
            f"{agg['applied_transactions_per_record'] * agg['records'] / max(1, agg['unique']):.2f} transaction, "
            f"{agg['items_written_per_applied_record']:.2f} items, ≈ {agg['write_units_per_applied_record']:.1f} WRU",
            "1 write, 1 WRU",
            _ratio(agg["write_units_per_applied_record"]),
        ),
        row(
            sec,
            "each record counted exactly once (replays change nothing)",
            f"{agg['counted']} counted of {agg['unique']} unique",
            f"{agg['unique']}",
            "—",
            "exactly once",
            _met(agg["counted_exactly_once"] and not agg["failures"]),
            "" if agg["counted_exactly_once"] else "the day counters do not add up to the unique records",
        ),
    ]


def growth_rows(growth: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    sec = "5. Growth"
    analytics = growth.get("analytics") or {}
    if not analytics or analytics.get("available") is False:
        out.append(row(sec, "dashboard / NPS score", "not available yet", status="n/a"))
    else:
        check = analytics["seeding_check"]
        out.append(
            row(
                sec,
                f"seeded aggregates = the real aggregator's ({check['records']} records)",
                "equal" if check["equal"] else "DIFFERENT",
                status=_met(check["equal"]),
                target="equal",
                cause=""
                if check["equal"]
                else "bench/seed.py no longer matches the aggregator: growth figures unreliable",
            )
        )
        for name, rows in analytics["endpoints"].items():
            sizes = list(rows)
            base = rows[sizes[0]]
            for size in sizes:
                r = rows[size]
                units = r["read_units"] / base["read_units"] if base["read_units"] else 1.0
                time_ratio = r["ms"] / base["ms"]
                is_base = size == sizes[0]
                allowed = max(base["read_units"] * (1 + FLAT_UNITS), base["read_units"] + UNIT_STEP)
                units_flat = r["read_units"] <= allowed
                flat = r["calls"] == base["calls"] and units_flat and time_ratio <= FLAT_TIME
                cause = ""
                if not flat:
                    parts = []
                    if r["calls"] != base["calls"]:
                        parts.append(f"calls {base['calls']} → {r['calls']}")
                    if not units_flat:
                        parts.append(f"read units {base['read_units']:g} → {r['read_units']:g}")
                    if time_ratio > FLAT_TIME:
                        parts.append(f"time {base['ms']:.0f} → {r['ms']:.0f} ms")
                        if "handler_ms" in r:
                            parts.append(
                                f"of which inside the DynamoDB calls (moto, in this process) "
                                f"{base['storage_ms']:.0f} → {r['storage_ms']:.0f} ms and the handler's own work "
                                f"{base['handler_ms']:.0f} → {r['handler_ms']:.0f} ms"
                            )
                    cause = ", ".join(parts)
                    if name == "dashboard" and not units_flat:
                        cause += (
                            ": more of the period's customers have a long enough history to be on the watch list "
                            "in an older store (the period's entries only are read)"
                        )
                out.append(
                    row(
                        sec,
                        f"{name}, store of {int(size):,} responses ({r['calls']} calls: {r['ops']})",
                        f"{r['calls']} calls, {r['read_units']:g} RRU, {_fmt_ms(r['ms'])}"
                        + (f" (handler {_fmt_ms(r['handler_ms'])})" if "handler_ms" in r else ""),
                        "—" if is_base else f"{base['calls']} calls, {base['read_units']:g} RRU, {_fmt_ms(base['ms'])}",
                        "—" if is_base else f"{units:.2f}× RRU, {time_ratio:.2f}× time",
                        "flat (= calls, RRU ≤ +10 % or +0.5, time ≤ 1.25×)",
                        "info" if is_base else _met(flat),
                        cause,
                    )
                )
    sched = growth.get("scheduler") or {}
    if sched:
        sizes = list(sched)
        base = sched[sizes[0]]
        for size in sizes:
            r = sched[size]
            is_base = size == sizes[0]
            flat = r["calls"] == base["calls"] and r["read_units"] == base["read_units"]
            out.append(
                row(
                    sec,
                    f"scheduler run, {int(size):,} trackers, {r['due']} due ({r['ops']})",
                    f"{r['calls']} calls, {r['read_units']:g} RRU, {r['write_units']:g} WRU, {r['sent']} sent, "
                    f"{_fmt_ms(r['ms'])} (moto: index Query = a pass over the table)",
                    "—" if is_base else f"{base['calls']} calls, {base['read_units']:g} RRU",
                    "—" if is_base else f"{r['calls'] / base['calls']:.2f}× calls",
                    "scales with the due, not the stored",
                    "info" if is_base else _met(flat and r["sent"] == r["due"]),
                )
            )
    return out


def trends_rows(trends: dict[str, Any]) -> list[dict[str, str]]:
    """Section 5, continued (bench/trends.py): the series and the stores view as a store grows (flat, like
    the dashboard), the stores view as the workspace grows, import throughput."""
    sec = "5. Growth: series, stores view, import"
    if not trends:
        return []
    if trends.get("available") is False:
        return [row(sec, "series / stores view / import", "not available yet", status="n/a")]
    out = []
    by_size = trends["by_store_size"]
    check = by_size["seeding_check"]
    out.append(
        row(
            sec,
            f"seeded hour counters = the real aggregator's ({check['records']} records)",
            "equal" if check["equal"] else "DIFFERENT",
            target="equal",
            status=_met(check["equal"]),
        )
    )
    for name, rows in by_size["endpoints"].items():
        sizes = list(rows)
        base = rows[sizes[0]]
        for size in sizes:
            r = rows[size]
            is_base = size == sizes[0]
            allowed = max(base["read_units"] * (1 + FLAT_UNITS), base["read_units"] + UNIT_STEP)
            flat = r["calls"] == base["calls"] and r["read_units"] <= allowed
            year = "366" in name  # the histories cover the year unequally: bounded, not flat
            status = "info" if is_base or (year and r["calls"] == base["calls"]) else _met(flat)
            out.append(
                row(
                    sec,
                    f"{name}, store of {int(size):,} responses ({r['ops']})",
                    f"{r['calls']} calls, {r['read_units']:g} RRU, {_fmt_ms(r['ms'])}",
                    "—" if is_base else f"{base['calls']} calls, {base['read_units']:g} RRU, {_fmt_ms(base['ms'])}",
                    "—" if is_base else f"{r['read_units'] / (base['read_units'] or 1):.2f}× RRU",
                    "≤ 367 hour items (≤ ~190 RRU: every hour of the year counted)"
                    if year
                    else "flat in calls and read units (= calls, RRU ≤ +10 % or +0.5)",
                    status,
                    "the year reads the hour items of every day with responses: the smaller stores' histories "
                    "cover less of it"
                    if year and not flat
                    else "",
                )
            )
    by_count = trends["by_store_count"]
    for count, r in by_count["rows"].items():
        out.append(
            row(
                sec,
                f"stores view, {int(count)} stores of {by_count['records_per_store']} responses ({r['ops']})",
                f"{r['calls']} calls, {r['read_units']:g} RRU, {_fmt_ms(r['ms'])}",
                "—",
                f"{r['calls'] / int(count):.2f} calls a store",
                "2 Queries a store + the store list",
                "info",
            )
        )
    imp = trends["import"]
    out.append(
        row(
            sec,
            f"import of {imp['rows']:,} rows ({imp['requests']} requests of ≤ 1,000, in process, moto)",
            f"{imp['import_rows_per_s']:,} rows/s import, {imp['aggregate_records_per_s']:,} records/s aggregator, "
            f"{imp['end_to_end_rows_per_s']:,} rows/s end to end",
            target="every row stored and counted once; a resumed import writes nothing",
            status=_met(imp["exact"] and imp["resumed_new_stream_records"] == 0),
        )
    )
    return out


def lambda_size(peak_mb: float) -> int:
    """The smallest memory setting (a multiple of 64 MB, at least 128) holding peak × headroom."""
    return max(128, int(math.ceil(peak_mb * HEADROOM / 64) * 64))


def memory_rows(memory: dict[str, Any], baseline: dict[str, Any] | None) -> list[dict[str, str]]:
    out = []
    sec = "6. Memory"
    if baseline:
        out.append(row(sec, "baseline: boto3 + client + 1 GetItem, peak RSS", f"{baseline['peak_mb']:.1f} MB"))
    for name, r in memory.items():
        ok = r["growth"] <= MEMORY_GROWTH_TARGET and not r["failures"]
        out.append(
            row(
                sec,
                f"{name}: peak RSS after {r['requests']} requests",
                f"{r['peak_last_mb']:.1f} MB",
                f"{r['peak_first_mb']:.1f} MB after the first",
                f"{1 + r['growth']:.3f}×",
                "≤ 1.10×",
                _met(ok),
            )
        )
        fits = lambda_size(r["peak_last_mb"])
        out.append(
            row(
                sec,
                f"{name}: smallest Lambda memory that fits (peak × {HEADROOM})",
                f"{fits} MB",
                f"{r['configured_mb']} MB configured",
                f"{fits / r['configured_mb']:.2f}×",
                "— (finding)",
                "info",
            )
        )
    return out


def size_rows(sizes: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    sec = "7. Size (sam build, unzipped)"
    sdk = sizes.get("sdk_baseline_bytes")
    limit = sizes.get("lambda_unzipped_limit_bytes", 250 * 1024 * 1024)
    layer = sizes.get("layer")
    if layer:
        packages = ", ".join(f"{k} {_fmt_bytes(v)}" for k, v in list(layer["packages"].items())[:4])
        out.append(
            row(
                sec,
                f"layer ({layer['files']} files; {packages}; {layer['pyc_files']} .pyc)",
                f"{_fmt_bytes(layer['bytes'])} ({_fmt_bytes(layer['zipped_bytes'])} zipped)",
                f"{_fmt_bytes(sdk)} boto3+botocore (runtime's)",
                _ratio(layer["bytes"] / sdk) if sdk else "—",
                f"function + layer ≤ {_fmt_bytes(limit)}",
                _met(layer["bytes"] < limit),
            )
        )
    for name, r in sizes.get("functions", {}).items():
        if r.get("missing"):
            out.append(
                row(sec, f"{name} code", "not built" if r.get("source_exists") else "not available yet", status="n/a")
            )
            continue
        out.append(
            row(
                sec,
                f"{name} code" + (" (stale build)" if r.get("stale") else ""),
                f"{_fmt_bytes(r['bytes'])} ({r['files']} file{'s' if r['files'] != 1 else ''})",
                _fmt_bytes(layer["bytes"]) + " layer" if layer else "—",
                "—",
                "—",
                "info",
            )
        )
    if sizes.get("build_error"):
        out.append(row(sec, "make build", "failed: measured the previous build", status="n/a"))
    return out


# ------------------------------------------------------------------ cost


def cost(results: dict[str, Any]) -> dict[str, Any]:
    """Dollars per million feedback submissions, from the measured calls, units and durations."""
    endpoints = (results.get("inproc") or {}).get("endpoints", {})
    agg = results.get("aggregator") or {}
    cold = (results.get("cold") or {}).get("functions", {})
    memory_mb = {name: r.get("memory_mb", 512) for name, r in cold.items()}
    steps = [("token", "token"), ("survey_page", "survey_page"), ("submit", "submit")]
    lines: list[dict[str, Any]] = []
    missing = [s for s, _ in steps if not (endpoints.get(s) or {}).get("latency")]
    if missing or not agg.get("available"):
        return {"available": False, "missing": missing + ([] if agg.get("available") else ["aggregator"])}

    def lambda_cost(function: str, ms: float, cold_ms: float, invocations: float) -> tuple[float, float]:
        gb = memory_mb.get(function, 512) / 1024
        billed = math.ceil(ms) + COLD_START_SHARE * cold_ms
        gbs = gb * billed / 1000 * invocations
        return gbs, gbs * PRICES["lambda_arm64_gb_second"] + invocations * PRICES["lambda_request_per_million"] / 1e6

    totals = {"api": 0.0, "lambda": 0.0, "ddb_read": 0.0, "ddb_write": 0.0}
    base_lambda = 0.0
    for step, function in steps:
        r = endpoints[step]
        lat, warm = r["latency"], r["warm"]
        cold_ms = (cold.get(function) or {}).get("median_ms") or 0.0
        gbs, lam = lambda_cost(function, lat["p50_ms"], cold_ms, 1.0)
        _, lam_base = lambda_cost(function, lat["baseline_p50_ms"], cold_ms, 1.0)
        api = PRICES["api_gateway_rest_per_million"] / 1e6
        read = warm["read_units"] * PRICES["dynamodb_read_unit_per_million"] / 1e6
        write = warm["write_units"] * PRICES["dynamodb_write_unit_per_million"] / 1e6
        lines.append(
            {
                "step": f"{step} ({SCENARIOS[step].route})",
                "api_requests": 1,
                "lambda_ms": lat["p50_ms"],
                "memory_mb": memory_mb.get(function, 512),
                "gb_s": gbs,
                "read_units": warm["read_units"],
                "write_units": warm["write_units"],
                "usd": api + lam + read + write,
            }
        )
        totals["api"] += api
        totals["lambda"] += lam
        base_lambda += lam_base
        totals["ddb_read"] += read
        totals["ddb_write"] += write
    # the aggregator: one record of a full batch
    per_record_ms = 1000 / agg["records_per_s"]
    agg_cold = (cold.get("aggregator") or {}).get("median_ms") or 0.0
    gb = memory_mb.get("aggregator", 512) / 1024
    gbs = gb * per_record_ms / 1000 + gb * COLD_START_SHARE * agg_cold / 1000 / AGGREGATOR_BATCH
    lam = gbs * PRICES["lambda_arm64_gb_second"] + PRICES["lambda_request_per_million"] / 1e6 / AGGREGATOR_BATCH
    agg_calls = (endpoints.get("aggregator") or {}).get("cold") or {}
    read_units = agg_calls.get("read_units", 1.0)
    write_units = agg.get("write_units_per_applied_record", 0.0)
    read = read_units * PRICES["dynamodb_read_unit_per_million"] / 1e6
    write = write_units * PRICES["dynamodb_write_unit_per_million"] / 1e6
    lines.append(
        {
            "step": "aggregator (1 stream record, batches of 100)",
            "api_requests": 0,
            "lambda_ms": per_record_ms,
            "memory_mb": memory_mb.get("aggregator", 512),
            "gb_s": gbs,
            "read_units": read_units,
            "write_units": write_units,
            "usd": lam + read + write,
        }
    )
    totals["lambda"] += lam
    base_lambda += lam
    totals["ddb_read"] += read
    totals["ddb_write"] += write
    per_million = {k: round(v * 1e6, 2) for k, v in totals.items()}
    total = round(sum(totals.values()) * 1e6, 2)
    baseline_total = round((totals["api"] + base_lambda + totals["ddb_read"] + totals["ddb_write"]) * 1e6, 2)
    return {
        "available": True,
        "prices": PRICES,
        "cold_start_share": COLD_START_SHARE,
        "lines": [{**line, "usd_per_million": round(line["usd"] * 1e6, 2)} for line in lines],
        "per_million": per_million,
        "total_per_million": total,
        "baseline_total_per_million": baseline_total,
    }


def cost_rows(c: dict[str, Any]) -> list[dict[str, str]]:
    sec = "8. Cost (docs/cost.md)"
    if not c.get("available"):
        return [
            row(sec, "$ per million submissions", f"not available ({', '.join(c.get('missing', []))})", status="n/a")
        ]
    p = c["per_million"]
    out = [
        row(
            sec,
            "$ per 1M submissions (link + page + submit + aggregation)",
            f"${c['total_per_million']:.2f}",
            f"${c['baseline_total_per_million']:.2f} with the baseline's durations",
            _ratio(c["total_per_million"] / c["baseline_total_per_million"]),
            "— (finding)",
            "info",
        ),
        row(
            sec,
            "… of which API Gateway / Lambda / DynamoDB reads / writes",
            f"${p['api']:.2f} / ${p['lambda']:.2f} / ${p['ddb_read']:.2f} / ${p['ddb_write']:.2f}",
        ),
    ]
    return out


# ------------------------------------------------------------------ everything


def all_rows(results: dict[str, Any]) -> list[dict[str, str]]:
    endpoints = (results.get("inproc") or {}).get("endpoints", {})
    memory = results.get("memory") or {}
    rows = []
    rows += cold_rows(results.get("cold") or {})
    rows += calls_rows(endpoints)
    rows += latency_rows(endpoints)
    rows += aggregator_rows(results.get("aggregator") or {})
    rows += growth_rows(results.get("growth") or {})
    rows += trends_rows(results.get("trends") or {})
    rows += memory_rows(memory.get("memory") or {}, memory.get("memory_baseline"))
    rows += size_rows(results.get("sizes") or {})
    rows += cost_rows(results.get("cost") or {})
    return rows


def console_table(rows: list[dict[str, str]]) -> str:
    cols = ("figure", "value", "baseline", "ratio", "target", "status")
    widths = {"figure": 58, "value": 44, "baseline": 30, "ratio": 22, "target": 24, "status": 7}
    lines = []
    section = None
    header = "  ".join(c.upper().ljust(widths[c]) for c in cols)
    for r in rows:
        if r["section"] != section:
            section = r["section"]
            lines += ["", f"== {section}", header]
        cells = []
        for c in cols:
            text = r[c].replace("\n", " ")
            if len(text) > widths[c]:
                text = text[: widths[c] - 1] + "…"
            cells.append(text.ljust(widths[c]))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(rows: list[dict[str, str]]) -> str:
    out = []
    section = None
    for r in rows:
        if r["section"] != section:
            section = r["section"]
            out += [
                "",
                f"### {section}",
                "",
                "| figure | value | baseline | ratio | target | |",
                "|---|---|---|---|---|---|",
            ]
        mark = {"met": "met", "missed": "**missed**", "info": "", "n/a": "n/a"}[r["status"]]
        out.append(
            "| " + " | ".join(_md(r[c]) for c in ("figure", "value", "baseline", "ratio", "target")) + f" | {mark} |"
        )
    return "\n".join(out).strip()


def misses(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in rows if r["status"] == "missed"]


def closing_note(rows: list[dict[str, str]]) -> str:
    missed = misses(rows)
    met = sum(1 for r in rows if r["status"] == "met")
    if not missed:
        return f"All {met} targets met."
    lines = [f"{met} targets met, {len(missed)} missed:"]
    for r in missed:
        lines.append(f"  - [{r['section']}] {r['figure']}: {r['value']} (target {r['target']})")
        if r["cause"]:
            lines.append(f"      cause: {r['cause']}")
    return "\n".join(lines)


def comparable(results: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float]]:
    """(exact figures, ratios) of a run, keyed by name, for comparing two runs."""
    exact: dict[str, Any] = {}
    ratios: dict[str, float] = {}
    for name, r in ((results.get("cold") or {}).get("functions") or {}).items():
        if r.get("ratio"):
            ratios[f"cold start {name}"] = r["ratio"]
    floor = (results.get("cold") or {}).get("floor")
    if floor:
        ratios["cold start floor (frameworks only)"] = floor["ratio"]
    for name, r in ((results.get("inproc") or {}).get("endpoints") or {}).items():
        if r.get("available"):
            exact[f"calls {name} (cold, warm)"] = (r["cold"]["calls"], r["warm"]["calls"])
            lat = r.get("latency") or {}
            if lat.get("baseline_p50_ms") and lat.get("calls_per_request") != [0]:  # no calls: nothing to divide by
                ratios[f"latency p50 {name}"] = lat["ratio_p50"]
    agg = results.get("aggregator") or {}
    if agg.get("available"):
        exact["aggregator calls/record"] = agg["calls_per_record"]
        exact["aggregator counted"] = agg["counted"]
        ratios["aggregator time"] = agg["ratio"]
    growth = results.get("growth") or {}
    for name, rows in ((growth.get("analytics") or {}).get("endpoints") or {}).items():
        for size, r in rows.items():
            exact[f"growth {name} {size} calls, RRU"] = (r["calls"], r["read_units"])
    for size, r in (growth.get("scheduler") or {}).items():
        exact[f"scheduler {size} calls"] = r["calls"]
    return exact, ratios


def compare(a: dict[str, Any], b: dict[str, Any], tolerance: float = 0.10) -> tuple[str, bool]:
    """Two runs' documents: do the exact figures agree exactly and the ratios within ``tolerance``?"""
    exact_a, ratios_a = comparable(a["results"])
    exact_b, ratios_b = comparable(b["results"])
    lines, ok = [], True
    differ = [k for k in exact_a if k in exact_b and exact_a[k] != exact_b[k]]
    lines.append(f"exact figures: {len(exact_a)} compared, {len(differ)} differ")
    for k in differ:
        ok = False
        lines.append(f"  DIFFER {k}: {exact_a[k]} vs {exact_b[k]}")
    worst = []
    for k in ratios_a:
        if k in ratios_b:
            change = ratios_b[k] / ratios_a[k] - 1
            worst.append((abs(change), k, ratios_a[k], ratios_b[k], change))
    worst.sort(reverse=True)
    outside = [w for w in worst if w[0] > tolerance]
    ok = ok and not outside
    lines.append(f"ratios: {len(worst)} compared, {len(outside)} differ by more than {tolerance:.0%}")
    for _, k, ra, rb, change in worst[: max(5, len(outside))]:
        lines.append(f"  {k}: {ra:.3f} vs {rb:.3f} ({change:+.1%})")
    return "\n".join(lines), ok


def replace_block(path: Path, name: str, content: str) -> None:
    """Replace the text between <!-- bench:NAME:begin --> and <!-- bench:NAME:end --> in ``path``."""
    text = path.read_text()
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"{path}: no {begin} ... {end} block")
    path.write_text(pattern.sub(lambda _: f"{begin}\n{content}\n{end}", text))
