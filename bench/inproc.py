"""Phase: DynamoDB calls per request (cold and warm credentials) and warm latency against a baseline.

Every scenario starts from a fresh table (the workspace of tests/world.py plus what its requests
consume) and a copy of it, the baseline table. Each request goes through the real handler (moto's
in-process mock, the moto transaction patch applied); the DynamoDB calls it made - their exact
parameters - are then replayed with a bare boto3 client against the baseline table. The replay is
"the same DynamoDB calls and nothing else"; handler and replay alternate, request by request, so
both see the same machine and the same table sizes. Ratio = handler / replay.

``python -m bench.inproc CONFIG_JSON OUT_PATH``
"""

from __future__ import annotations

import copy
import time
from typing import Any

from bench.common import (
    BASELINE_TABLE,
    REGION,
    TABLE,
    Context,
    Meter,
    copy_table,
    create_table,
    drop_table,
    function_exists,
    handler_module,
    log,
    median,
    percentile,
    phase_args,
    settle,
    start_mock,
    use_inprocess_env,
    write_json,
)


def _retarget(value: Any, table: str) -> Any:
    """Call parameters aimed at the baseline table instead (TableName, RequestItems keys)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "TableName":
                out[k] = table
            elif k == "RequestItems":
                (requests,) = v.values()  # the functions use one table
                out[k] = {table: _retarget(requests, table)}
            else:
                out[k] = _retarget(v, table)
        return out
    if isinstance(value, list):
        return [_retarget(v, table) for v in value]
    return value


class Replayer:
    def __init__(self) -> None:
        import boto3
        from botocore import xform_name
        from botocore.exceptions import ClientError

        self.client = boto3.client("dynamodb", region_name=REGION)
        self._xform = xform_name
        self._error = ClientError
        self._methods: dict[str, Any] = {}

    def prepare(self, ops: list[str], params: list[dict[str, Any]]) -> list[tuple[Any, dict[str, Any]]]:
        out = []
        for op, p in zip(ops, params, strict=True):
            method = self._methods.get(op)
            if method is None:
                method = self._methods[op] = getattr(self.client, self._xform(op))
            out.append((method, _retarget(copy.deepcopy(p), BASELINE_TABLE)))
        return out

    def run(self, calls: list[tuple[Any, dict[str, Any]]]) -> None:
        for method, params in calls:
            try:  # noqa: SIM105 - timed: a try costs nothing, contextlib.suppress does
                method(**params)
            except self._error:
                pass  # the handler met the same condition failure at this call


class CapturingMeter(Meter):
    """A Meter that copies each call's top-level parameters (callers reuse and mutate their dict
    between pages, e.g. ExclusiveStartKey) - a shallow copy, a few hundred nanoseconds."""

    def _on_params(self, params: dict[str, Any], **_: Any) -> None:
        self._last_params = dict(params)


def clear_caches() -> None:
    from revisit.domain import auth, nps, workspaces

    auth.clear_cache()
    nps.clear_cache()
    workspaces._store_cache.clear()


def one_request(
    name: str, fx: dict[str, Any], i: int, client: Any, replayer: Replayer, capacity: bool = True
) -> dict[str, Any]:
    """One metered request (calls, their kinds, capacity units), replayed on the baseline table."""
    from bench import scenarios

    module = handler_module(scenarios.SCENARIOS[name].function)
    event = scenarios.event(name, fx, i)
    meter = CapturingMeter(client, capture=True, capacity=capacity)
    with meter:
        reply = module.lambda_handler(event, Context())
    assert scenarios.ok(name, reply), (name, reply)
    replayer.run(replayer.prepare(meter.ops, meter.params))
    return {
        "calls": meter.calls,
        "ops": meter.breakdown(),
        "read_units": round(meter.read_units, 2),
        "write_units": round(meter.write_units, 2),
        "units_estimated": meter.estimated,
    }


def latency(
    name: str, fx: dict[str, Any], start: int, warmup: int, iterations: int, client: Any, replayer: Replayer
) -> dict[str, Any]:
    from bench import scenarios

    module = handler_module(scenarios.SCENARIOS[name].function)
    handler_s: list[float] = []
    baseline_s: list[float] = []
    calls_seen: set[int] = set()
    meter = CapturingMeter(client, capture=True)
    perf = time.perf_counter
    with meter:
        for n in range(warmup + iterations):
            event = scenarios.event(name, fx, start + n)
            context = Context()
            meter.reset()
            t0 = perf()
            reply = module.lambda_handler(event, context)
            t1 = perf()
            ops, params = meter.ops, meter.params
            if not scenarios.ok(name, reply):
                raise AssertionError((name, reply))
            calls = replayer.prepare(ops, params)
            t2 = perf()
            replayer.run(calls)
            t3 = perf()
            if n >= warmup:
                handler_s.append(t1 - t0)
                baseline_s.append(t3 - t2)
                calls_seen.add(len(ops))
    paired = median([h / b for h, b in zip(handler_s, baseline_s, strict=True) if b > 0]) if any(baseline_s) else None
    h50, h99 = percentile(handler_s, 50), percentile(handler_s, 99)
    b50, b99 = percentile(baseline_s, 50), percentile(baseline_s, 99)
    return {
        "iterations": iterations,
        "p50_ms": round(h50 * 1000, 3),
        "p99_ms": round(h99 * 1000, 3),
        "baseline_p50_ms": round(b50 * 1000, 3),
        "baseline_p99_ms": round(b99 * 1000, 3),
        "ratio_p50": round(h50 / b50, 3) if b50 else None,
        "ratio_p99": round(h99 / b99, 3) if b99 else None,
        "ratio_paired_median": round(paired, 3) if paired else None,
        "overhead_p50_ms": round((h50 - b50) * 1000, 3),
        "calls_per_request": sorted(calls_seen),
    }


def main() -> None:
    cfg, out_path = phase_args()
    use_inprocess_env(TABLE)
    start_mock()
    import boto3

    from bench import scenarios

    admin = boto3.client("dynamodb", region_name=REGION)
    from revisit.dal import table as revisit_table

    client = revisit_table.client
    replayer = Replayer()
    names = cfg.endpoints or list(scenarios.SCENARIOS)
    results: dict[str, Any] = {}
    for name in names:
        s = scenarios.SCENARIOS[name]
        if not function_exists(s.function):
            results[name] = {"available": False, "route": s.route, "function": s.function}
            log(f"{name}: functions/{s.function}/app.py does not exist - not available yet")
            continue
        started = time.perf_counter()
        for t in (TABLE, BASELINE_TABLE):
            drop_table(admin, t)
            create_table(admin, t)
        iterations = cfg.latency_iterations if s.latency else 0
        warmup = cfg.latency_warmup if s.latency else 0
        needs = {name: 2 + warmup + iterations} if scenarios.consumes(name) else {}
        try:
            fx = scenarios.prepare(needs, TABLE)
            copy_table(TABLE, BASELINE_TABLE)
            handler_module(s.function)  # import outside the measurements
            clear_caches()
            cold = one_request(name, fx, 0, client, replayer)
            warm = one_request(name, fx, 1, client, replayer)
            row: dict[str, Any] = {
                "available": True,
                "route": s.route,
                "function": s.function,
                "kind": s.kind,
                "authenticated": s.authenticated,
                "cold": cold,
                "warm": warm,
            }
            if iterations:
                settle()
                row["latency"] = latency(name, fx, 2, warmup, iterations, client, replayer)
        except Exception as exc:  # a broken endpoint is a finding, not a reason to lose the run
            log(f"{name}: FAILED {type(exc).__name__}: {exc}")
            row = {
                "available": False,
                "route": s.route,
                "function": s.function,
                "error": f"{type(exc).__name__}: {exc}",
            }
        results[name] = row
        lat = row.get("latency")
        summary = f"calls cold {row['cold']['calls']} / warm {row['warm']['calls']}" if "cold" in row else ""
        if lat:
            summary += (
                f"; p50 {lat['p50_ms']} ms vs {lat['baseline_p50_ms']} ms ({lat['ratio_p50']}x; "
                f"paired {lat['ratio_paired_median']}x)"
            )
        log(f"{name}: {summary} [{time.perf_counter() - started:.1f} s]")
    write_json(out_path, {"endpoints": results})


if __name__ == "__main__":
    main()
