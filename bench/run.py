"""``make bench``: measure, print the table, write bench/results/latest.json.

    .venv/bin/python bench/run.py                 # the whole benchmark (about 8 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick         # a tiny configuration (the smoke test's)
    .venv/bin/python bench/run.py --only cold --set 'cold_functions=["scheduler"]'
                                                  # one phase (sizes, cold, inproc, memory,
                                                  # aggregator, growth, trends), e.g. the cold starts only
    .venv/bin/python bench/run.py --render FILE   # print the table of an earlier run
    .venv/bin/python bench/run.py --update-docs   # also write the table into docs/performance.md
                                                  # and the cost breakdown into docs/cost.md
    .venv/bin/python bench/run.py --render B.json --compare A.json   # two runs: same counts, ratios ±10 %?

Each phase is its own process (python -m bench.<phase>): sizes (make build), cold start (alone on
the machine), then two lanes side by side, one per core: calls and warm latency, then half of the
memory measurements; the aggregator, growth, then the other half.
Every timed figure is a ratio to a baseline measured in the same process, interleaved with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from bench.common import RESULTS, Config, machine, write_json  # noqa: E402

# Phases, in lanes: lanes of one stage run side by side; stages run one after the other.
STAGES = [
    [["sizes"]],
    [["cold"]],
    [["inproc", "memory_b", "trends"], ["aggregator", "growth", "memory_a"]],
]
SHARDS = {"memory_a": ["0/2"], "memory_b": ["1/2"]}  # memory: half the functions each
COMMANDS = {
    "sizes": ["bench.sizes"],
    "cold": ["bench.coldstart", "cold"],
    "memory_a": ["bench.coldstart", "memory"],
    "memory_b": ["bench.coldstart", "memory"],
    "inproc": ["bench.inproc"],
    "aggregator": ["bench.aggregator"],
    "growth": ["bench.growth"],
    "trends": ["bench.trends"],
}


def _start(phase: str, cfg: Config, out: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env["BENCH_PHASE"] = phase
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", *COMMANDS[phase], cfg.to_json(), str(out), *SHARDS.get(phase, [])]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def run_lane(phases: list[str], cfg: Config, tmp: Path) -> list[tuple]:
    """Start the lane's first phase; returns the pending (phase, process, started, rest) to poll."""
    phase = phases[0]
    return [(phase, _start(phase, cfg, tmp / f"{phase}.json"), time.perf_counter(), phases[1:])]


PHASES = ["sizes", "cold", "inproc", "memory", "aggregator", "growth", "trends"]  # what --only accepts


def stages(only: list[str] | None = None) -> list[list[list[str]]]:
    """STAGES, or only the phases named (``memory`` is its two halves), in STAGES' order."""
    if not only:
        return STAGES
    wanted = {p for name in only for p in (["memory_a", "memory_b"] if name == "memory" else [name])}
    out = []
    for stage in STAGES:
        lanes = [kept for lane in stage if (kept := [p for p in lane if p in wanted])]
        if lanes:
            out.append(lanes)
    return out


def measure(cfg: Config, only: list[str] | None = None) -> dict:
    results: dict = {}
    timings: dict = {}
    failures: dict = {}
    with tempfile.TemporaryDirectory(prefix="revisit-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for stage in stages(only):
            running = []
            for lane in stage:
                running += run_lane(lane, cfg, tmp)
            while running:
                time.sleep(0.2)
                still = []
                for phase, proc, started, rest in running:
                    code = proc.poll()
                    if code is None:
                        still.append((phase, proc, started, rest))
                        continue
                    timings[phase] = round(time.perf_counter() - started, 1)
                    out = tmp / f"{phase}.json"
                    if code == 0 and out.is_file():
                        results[phase] = json.loads(out.read_text())
                    else:
                        failures[phase] = f"exit {code}"
                        print(f"  !! phase {phase} failed (exit {code}); its figures are missing", file=sys.stderr)
                    if rest:
                        still += run_lane(rest, cfg, tmp)
                running = still
    if "cold" in results:
        results["cold"] = results["cold"]["cold"] | {"seconds": results["cold"]["seconds"]}
    halves = [results.pop(p) for p in ("memory_a", "memory_b") if p in results]
    if halves:
        merged = {name: row for half in halves for name, row in half["memory"].items()}
        order = list((results.get("cold") or {}).get("functions") or merged)
        names = sorted(merged, key=lambda n: order.index(n) if n in order else len(order))
        results["memory"] = {
            "memory": {name: merged[name] for name in names},
            "memory_baseline": halves[0]["memory_baseline"],
            "seconds": sum(h["seconds"] for h in halves),
        }
    return {"results": results, "timings": timings, "failures": failures}


def build_document(measured: dict, cfg: Config, seconds: float) -> dict:
    results = measured["results"]
    results["cost"] = report.cost(results)
    rows = report.all_rows(results)
    return {
        "meta": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "runtime_note": (
                "Lambda runs these functions on arm64 with python3.13; this run used the local "
                f"{machine()['implementation']} {machine()['python']} on {machine()['arch']}. "
                "Absolute times are this machine's; ratios and call counts are what carries over."
            ),
            "config": json.loads(cfg.to_json()),
            "seconds": round(seconds, 1),
            "phase_seconds": measured["timings"],
            "failures": measured["failures"],
        },
        "results": results,
        "rows": rows,
        "misses": report.misses(rows),
    }


def header(doc: dict) -> str:
    meta, cfg = doc["meta"], doc["meta"]["config"]
    m = meta["machine"]
    sizes = (
        f"cold start: {cfg['cold_reps']} fresh processes per function, a baseline process before every "
        f"{cfg['cold_baseline_every']}; warm latency: {cfg['latency_iterations']} requests per endpoint "
        f"(+{cfg['latency_warmup']} warm-up); memory: {cfg['memory_requests']} requests per function; "
        f"aggregator: {cfg['aggregator_records']} records, {int(cfg['aggregator_replay_share'] * 100)} % replays; "
        f"growth: stores of "
        f"{', '.join(f'{s:,}' for s in cfg['growth_sizes'])} responses ({cfg['growth_period_records']:,} in the 30-day "
        f"period), scheduler {', '.join(f'{s:,}' for s in cfg['scheduler_trackers'])} trackers with "
        f"{cfg['scheduler_due']} due"
    )
    phases = ", ".join(f"{k} {v:.0f} s" for k, v in meta["phase_seconds"].items())
    return "\n".join(
        [
            f"Revisit benchmark - {meta['date']} - {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB",
            meta["runtime_note"],
            sizes,
            f"took {meta['seconds']:.0f} s (phases: {phases})",
        ]
    )


def performance_markdown(doc: dict) -> str:
    meta = doc["meta"]
    m = meta["machine"]
    return "\n".join(
        [
            f"Measured {meta['date']} on {m['cpu']} ({m['cores']} cores, {m['memory_gb']} GB), "
            f"{m['implementation']} {m['python']} {m['arch']}, in {meta['seconds']:.0f} s "
            f"(`make bench`; configuration in bench/results/latest.json).",
            "",
            report.markdown_table(doc["rows"]),
            "",
            "**Closing note.** " + report.closing_note(doc["rows"]).replace("\n      cause:", "\n    cause:"),
        ]
    )


def _span(values: list[float], fmt: str = "{:.2f}×") -> str:
    lo, hi = min(values), max(values)
    return fmt.format(lo) if round(lo, 2) == round(hi, 2) else f"{fmt.format(lo)}–{fmt.format(hi)}"


def readme_markdown(doc: dict) -> str:
    """The README's short summary: one line per part of the benchmark, from the latest run."""
    r, rows = doc["results"], doc["rows"]
    tally: dict[str, list[str]] = {}
    for row in rows:
        if row["status"] in ("met", "missed"):
            tally.setdefault(row["section"][:2], []).append(row["status"])

    def status(section: str) -> str:
        got = tally.get(section, [])
        if not got:
            return "—"
        met = got.count("met")
        return "met" if met == len(got) else f"{met}/{len(got)} met"

    lines = ["| part | latest run | target | |", "|---|---|---|---|"]
    cold = r.get("cold") or {}
    fns = cold.get("functions") or {}
    api = [f["ratio"] for n, f in fns.items() if f.get("api") and f.get("ratio") and n != "dashboard"]
    if api:
        floor = cold.get("floor")
        floor_text = f"; Powertools + pydantic alone {floor['ratio']:.2f}×" if floor else ""
        dash = fns.get("dashboard", {}).get("ratio")
        dash_text = f", dashboard {dash:.2f}×" if dash else ""
        lines.append(
            f"| 1. Cold start (× a boto3-only process) | API functions {_span(api)}{dash_text}{floor_text} | "
            f"≤ {report.COLD_TARGET}×, dashboard ≤ {report.COLD_TARGET_DASHBOARD}× | {status('1.')} |"
        )
    eps = (r.get("inproc") or {}).get("endpoints") or {}

    def calls(name: str) -> str:
        e = eps.get(name) or {}
        if not e.get("available"):
            return "?"
        c, w = e["cold"]["calls"], e["warm"]["calls"]
        return f"{c}" if c == w else f"{c} cold / {w} warm"

    if eps:
        lines.append(
            f"| 2. DynamoDB calls per request | token {calls('token')}, submit {calls('submit')}, tracker get "
            f"{calls('tracker_get')}, NPS create {calls('nps_create')}, dashboard {calls('dashboard')} | "
            f"token ≤ 2/1, submit ≤ 2, tracker get ≤ 1 + auth, NPS create ≤ 3 | {status('2.')} |"
        )
        lat = [
            e["latency"]["ratio_p50"]
            for e in eps.values()
            if (e.get("latency") or {}).get("baseline_p50_ms") and e["latency"].get("calls_per_request") != [0]
        ]
        if lat:
            lines.append(
                f"| 3. Warm latency p50 (× the same DynamoDB calls, bare boto3) | {_span(lat)} over "
                f"{len(lat)} endpoints | ≤ {report.LATENCY_TARGET}× | {status('3.')} |"
            )
    agg = r.get("aggregator") or {}
    if agg.get("available"):
        lines.append(
            f"| 4. Aggregator | {agg['records_per_s']:.0f} records/s ({agg['ratio']:.1f}× bare UpdateItem), "
            f"{agg['calls_per_record']:.2f} calls/record, {agg['counted'] if 'counted' in agg else agg['unique']:,} "
            f"counted of {agg['unique']:,} unique ({agg['replays']:,} replays) | exactly once | {status('4.')} |"
        )
    analytics = ((r.get("growth") or {}).get("analytics") or {}).get("endpoints") or {}
    if analytics:
        parts = []
        for name, sizes in analytics.items():
            units = " / ".join(f"{v['read_units']:g}" for v in sizes.values())
            parts.append(f"{name} {units} RRU")
        sched = (r.get("growth") or {}).get("scheduler") or {}
        sched_text = ""
        if sched:
            sched_text = "; scheduler " + " / ".join(f"{v['calls']}" for v in sched.values()) + " calls"
        labels = "/".join(f"{int(k) // 1000}k" for k in next(iter(analytics.values())))
        lines.append(
            f"| 5. Growth (stores of {labels} responses) | {'; '.join(parts)}{sched_text} | flat | {status('5.')} |"
        )
    mem = ((r.get("memory") or {}).get("memory")) or {}
    if mem:
        growth = max(m["growth"] for m in mem.values())
        peak = max(m["peak_last_mb"] for m in mem.values())
        lines.append(
            f"| 6. Memory after 1,000 requests | at most +{growth:.1%} peak RSS, ≤ {peak:.0f} MB | ≤ +10 % | "
            f"{status('6.')} |"
        )
    layer = ((r.get("sizes") or {}).get("layer")) or {}
    if layer:
        lines.append(
            f"| 7. Size | layer {layer['bytes'] / 2**20:.1f} MB unzipped "
            f"({layer['zipped_bytes'] / 2**20:.1f} MB zipped), "
            f"functions ≤ {max(f['bytes'] for f in r['sizes']['functions'].values()) / 1000:.1f} kB | — | — |"
        )
    cost = r.get("cost") or {}
    if cost.get("available"):
        lines.append(
            f"| 8. Cost | ${cost['total_per_million']:.2f} per million submissions ([cost.md](docs/cost.md)) | — | — |"
        )
    meta = doc["meta"]
    return "\n".join([f"From `make bench` on {meta['date']} ({meta['machine']['cores']} cores):", "", *lines])


def cost_markdown(doc: dict) -> str:
    c = doc["results"].get("cost") or {}
    if not c.get("available"):
        return "_Not available in the latest run._"
    lines = [
        f"From the run of {doc['meta']['date']} (bench/results/latest.json):",
        "",
        "| step | API requests | Lambda ms (warm p50) | memory | GB-s | RRU | WRU | $ per 1M |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for line in c["lines"]:
        lines.append(
            f"| {line['step']} | {line['api_requests']} | {line['lambda_ms']:.2f} | {line['memory_mb']} MB | "
            f"{line['gb_s']:.6f} | {line['read_units']:g} | {line['write_units']:g} | ${line['usd_per_million']:.2f} |"
        )
    p = c["per_million"]
    lines += [
        f"| **total per 1M submissions** | | | | | | | **${c['total_per_million']:.2f}** |",
        "",
        f"API Gateway ${p['api']:.2f} · Lambda ${p['lambda']:.2f} · DynamoDB reads ${p['ddb_read']:.2f} · "
        f"DynamoDB writes ${p['ddb_write']:.2f}. With the baseline's durations (the same DynamoDB calls and "
        f"nothing else) the total would be ${c['baseline_total_per_million']:.2f}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tiny configuration (seconds, not minutes)")
    parser.add_argument("--out", type=Path, help="default bench/results/latest.json (with --only: partial.json)")
    parser.add_argument("--render", type=Path, help="print the table of an earlier run's JSON and stop")
    parser.add_argument("--update-docs", action="store_true", help="write docs/performance.md and docs/cost.md")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="override a size, e.g. --set cold_reps=9"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=PHASES,
        metavar="PHASE",
        help=f"run only this phase (repeatable): {', '.join(PHASES)}; the table shows only its rows",
    )
    parser.add_argument("--compare", type=Path, help="compare with an earlier run's JSON (counts exact, ratios ±10 %%)")
    args = parser.parse_args(argv)
    if args.only and args.update_docs:
        parser.error("--update-docs needs the whole benchmark, not --only")
    args.out = args.out or RESULTS / ("partial.json" if args.only else "latest.json")

    if args.render:
        doc = json.loads(args.render.read_text())
        doc["rows"] = report.all_rows(doc["results"])  # judged by this version's rules
        doc["misses"] = report.misses(doc["rows"])
    else:
        cfg = Config.quick_config() if args.quick else Config()
        for item in args.set:
            name, _, value = item.partition("=")
            if not hasattr(cfg, name):
                parser.error(f"--set: no size called {name!r}")
            try:
                setattr(cfg, name, json.loads(value))
            except json.JSONDecodeError:
                setattr(cfg, name, value)
        print(f"Revisit benchmark: {'quick' if args.quick else 'full'} configuration", file=sys.stderr)
        started = time.perf_counter()
        measured = measure(cfg, args.only)
        doc = build_document(measured, cfg, time.perf_counter() - started)
        write_json(args.out, doc)
    print(header(doc))
    print(report.console_table(doc["rows"]))
    print()
    print(report.closing_note(doc["rows"]))
    if not args.render:
        print(f"\nwritten: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    comparison = None
    if args.compare:
        earlier = json.loads(args.compare.read_text())
        text, same = report.compare(earlier, doc)
        print(f"\ncompared with {args.compare}:\n{text}\n{'reproduced' if same else 'NOT reproduced'}")
        comparison = (
            f"The run of {doc['meta']['date']} against the one before it ({earlier['meta']['date']}), "
            f"`bench/run.py --compare`: {'reproduced' if same else '**not reproduced**'} "
            "(call counts and units exactly, ratios within 10 %).\n\n```\n" + text + "\n```"
        )
    if args.update_docs:
        if comparison:
            report.replace_block(ROOT / "docs" / "performance.md", "repro", comparison)
        report.replace_block(ROOT / "docs" / "performance.md", "table", performance_markdown(doc))
        report.replace_block(ROOT / "docs" / "cost.md", "cost", cost_markdown(doc))
        report.replace_block(ROOT / "README.md", "summary", readme_markdown(doc))
        print("updated: docs/performance.md, docs/cost.md, README.md")
    return 1 if doc["meta"]["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
