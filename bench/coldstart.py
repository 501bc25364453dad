"""Phase: cold start and memory, in fresh Python processes talking HTTP to a moto server.

One moto server (revisit_dev.stack.MotoServer: requests serialized, as DynamoDB's conditions are
atomic) runs in this process; each measurement is a new process (bench/child.py) with a Lambda
function's environment from template.yaml, AWS_ENDPOINT_URL pointing at the server and the
hashing secret in Secrets Manager (as in AWS: HASH_SECRET_ARN, read on first use).

Cold start: every function ``cold_reps`` times, in rounds (a shuffled order per round, a baseline
process - ``import boto3; boto3.client("dynamodb")`` + one GetItem - before every
``cold_baseline_every`` candidates, a framework-floor process once per round), ``cold_lanes``
processes at a time. On a shared machine each process's time varies by ~10 % at random (measured:
no correlation between neighbours), so the figure is averaged over many processes: the value is
the median, the ratio is the trimmed mean (middle 60 %) over the baseline's trimmed mean; the
ratio of the medians and a CPU-time ratio are in the JSON too.

Memory: one process per function serves ``memory_requests`` requests; VmHWM (peak RSS) after the
first and after the last.

``python -m bench.coldstart cold|memory CONFIG_JSON OUT_PATH``
"""

from __future__ import annotations

import compileall
import json
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import (
    HASH_SECRET,
    REGION,
    ROOT,
    TABLE,
    create_table,
    drop_table,
    fake_aws_env,
    function_env,
    log,
    median,
    patch_moto,
    phase_args,
    write_json,
)

CHILD = ROOT / "bench" / "child.py"
LAYER = ROOT / "layers" / "revisit"
LAYER_PACKAGES = (
    "aws_lambda_powertools",
    "pydantic",
    "pydantic_core",
    "typing_extensions",
    "annotated_types",
    "typing_inspection",
    "jmespath",
)


class KeepAlive:
    """HTTP/1.1 keep-alive in front of MotoServer's serialized WSGI app, for the memory phase.

    Its processes make tens of thousands of calls, and werkzeug's development server opens a
    connection and a thread for each. The same app answers, one request at a time; the cold start
    keeps MotoServer itself (a first request opens its connection, as in Lambda)."""

    def __init__(self, app: Any) -> None:
        import http.server
        import io
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:
                pass

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                host, port = self.server.server_address[:2]
                environ = {
                    "REQUEST_METHOD": self.command,
                    "SCRIPT_NAME": "",
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "SERVER_NAME": host,
                    "SERVER_PORT": str(port),
                    "SERVER_PROTOCOL": "HTTP/1.1",
                    "REMOTE_ADDR": self.client_address[0],
                    "CONTENT_LENGTH": str(length),
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "wsgi.version": (1, 0),
                    "wsgi.url_scheme": "http",
                    "wsgi.input": io.BytesIO(body),
                    "wsgi.errors": sys.stderr,
                    "wsgi.multithread": True,
                    "wsgi.multiprocess": False,
                    "wsgi.run_once": False,
                }
                for name, value in self.headers.items():
                    key = "HTTP_" + name.upper().replace("-", "_")
                    if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                        environ[key] = value
                reply: dict[str, Any] = {}

                def start_response(status: str, headers: list, exc_info: Any = None) -> None:
                    reply["status"], reply["headers"] = status, headers

                data = b"".join(app(environ, start_response))
                code, _, reason = reply["status"].partition(" ")
                self.send_response(int(code), reason)
                for name, value in reply["headers"]:
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_one

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.1,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def _functions(cfg: Any) -> list[dict[str, Any]]:
    from bench.scenarios import FUNCTION_SCENARIO
    from revisit_dev.template import load_template

    out = []
    for fn in load_template(table_name=TABLE).functions:
        name = fn.code_dir.name
        out.append(
            {
                "name": name,
                "logical_id": fn.logical_id,
                "memory_mb": fn.memory_mb,
                "handler": str(fn.handler_file),
                "available": fn.handler_file.is_file() and name in FUNCTION_SCENARIO,
                "scenario": FUNCTION_SCENARIO.get(name),
                "api": bool(fn.routes),
            }
        )
    return out


class Runner:
    def __init__(self, server_url: str, secret_arn: str, baseline_key: dict[str, Any], fx: dict[str, Any]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="revisit-bench-"))
        self.site = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
        self.server_url = server_url
        self.secret_arn = secret_arn
        self.baseline_key = baseline_key
        self.fx = fx
        self.next_event: dict[str, int] = {}
        self._envs: dict[str, dict[str, str]] = {}
        self.count = 0
        self._lock = threading.Lock()

    def _env(self, fn: dict[str, Any] | None) -> dict[str, str]:
        key = fn["logical_id"] if fn else ""
        if key not in self._envs:
            self._envs[key] = self._make_env(fn)
        return dict(self._envs[key])

    def _make_env(self, fn: dict[str, Any] | None) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": os.environ.get("HOME", "/tmp"),
        }
        env |= fake_aws_env(self.server_url)
        env |= function_env(fn["logical_id"] if fn else None, TABLE)
        env.pop("HASH_SECRET", None)
        env["HASH_SECRET_ARN"] = self.secret_arn
        if env.pop("WEBAPP_SESSION_SECRET", None) and "WEBAPP_SESSION_SECRET_ARN" in env:
            env["WEBAPP_SESSION_SECRET_ARN"] = self.secret_arn  # same value: the events' cookies are signed with it
        name = fn["logical_id"] if fn else "Baseline"
        env |= {
            "AWS_LAMBDA_FUNCTION_NAME": f"revisit-bench-{name}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn["memory_mb"] if fn else 512),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "PYTHONDONTWRITEBYTECODE": "1",
            "QUIET_HOURS": "0-0",
        }
        return env

    def events(self, scenario: str, count: int) -> list[dict[str, Any]]:
        from bench import scenarios

        start = self.next_event.get(scenario, 0)
        self.next_event[scenario] = start + count
        return [scenarios.event(scenario, self.fx, start + i) for i in range(count)]

    def run(self, mode: str, fn: dict[str, Any] | None, requests: int = 1, uncompiled: bool = False) -> dict[str, Any]:
        with self._lock:  # two lanes share the runner
            self.count += 1
            seq = self.count
            events = self.events(fn["scenario"], requests) if fn is not None and mode != "floor" else None
        spec: dict[str, Any] = {"site": self.site}
        if fn is None or mode == "floor":
            spec |= {"table": TABLE, "key": self.baseline_key}
        else:
            spec |= {
                "name": fn["name"],
                "memory_mb": fn["memory_mb"],
                "handler": fn["handler"],
                "path": [str(Path(fn["handler"]).parent), str(LAYER)],
                "events": events,
            }
        if uncompiled:
            spec["uncompiled"] = [str(LAYER) + "/"] + [
                str(Path(site) / pkg) for site in self.site for pkg in LAYER_PACKAGES
            ]
        spec_path = self.dir / f"spec-{seq}.json"
        out_path = self.dir / f"out-{seq}.json"
        spec_path.write_text(json.dumps(spec))
        env = self._env(fn)
        env["BENCH_SPAWN"] = repr(time.time())
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-S", str(CHILD), mode, str(spec_path), str(out_path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, stderr = proc.communicate(timeout=600)
        wall = time.perf_counter() - started
        if proc.returncode != 0 or not out_path.is_file():
            raise RuntimeError(f"{mode} {fn and fn['name']}: exit {proc.returncode}: {stderr.decode()[-2000:]}")
        result = json.loads(out_path.read_text())
        result["process_wall_s"] = wall
        result["process_cpu_s"] = result.pop("cpu_s")
        result["seq"] = seq
        spec_path.unlink()
        out_path.unlink()
        if not result.get("ok"):
            raise RuntimeError(f"{mode} {fn and fn['name']}: the request failed: {result.get('reply')}")
        return result


def trimmed_mean(values: list[float], share: float = 0.2) -> float:
    """The mean of the middle values: ``share`` of them dropped at each end (a process now and
    then runs far slower or faster on a shared machine; the mean of the rest is steadier than
    the median)."""
    ordered = sorted(values)
    cut = int(len(ordered) * share)
    middle = ordered[cut : len(ordered) - cut] or ordered
    return sum(middle) / len(middle)


def _summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float:
        return round(median([s[key] for s in samples]) * 1000, 1)

    return {
        "n": len(samples),
        "median_ms": med("spawn_to_response_s"),
        "trimmed_mean_ms": round(trimmed_mean([s["spawn_to_response_s"] for s in samples]) * 1000, 1),
        "import_ms": med("import_s"),
        "first_request_ms": med("first_request_s"),
        "in_process_ms": med("in_process_s"),
        "cpu_ms": med("process_cpu_s"),
        "samples_ms": [round(s["spawn_to_response_s"] * 1000, 1) for s in samples],
    }


def _ratios(samples: list[dict[str, Any]], baseline: list[dict[str, Any]]) -> dict[str, float]:
    """``ratio``: trimmed mean over trimmed mean (the figure judged and compared between runs);
    the ratio of the medians and of the CPU times alongside."""

    def tm(rows: list[dict[str, Any]], key: str) -> float:
        return trimmed_mean([r[key] for r in rows])

    return {
        "ratio": round(tm(samples, "spawn_to_response_s") / tm(baseline, "spawn_to_response_s"), 3),
        "ratio_of_medians": round(
            median([s["spawn_to_response_s"] for s in samples]) / median([b["spawn_to_response_s"] for b in baseline]),
            3,
        ),
        "cpu_ratio": round(tm(samples, "process_cpu_s") / tm(baseline, "process_cpu_s"), 3),
    }


def _run_lanes(runner: Runner, jobs: list[tuple[str, dict[str, Any] | None, bool]], lanes: int) -> list[dict[str, Any]]:
    """Run the jobs in order, ``lanes`` processes at a time (one per core); results in job order."""
    with ThreadPoolExecutor(max_workers=lanes) as pool:
        futures = [pool.submit(runner.run, mode, fn, uncompiled=uncompiled) for mode, fn, uncompiled in jobs]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def cold_starts(cfg: Any, runner: Runner, functions: list[dict[str, Any]]) -> dict[str, Any]:
    """Every job (function, baseline or floor process) is queued in rounds - each function once
    per round in a shuffled order, a baseline process before every ``cold_baseline_every``
    candidates, the floor once per round - and run ``cold_lanes`` at a time, one per core: each
    process has a core of its own, and every kind of process meets the same neighbours."""
    wanted = [
        f for f in functions if f["available"] and (cfg.cold_functions is None or f["name"] in cfg.cold_functions)
    ]
    runner.run("baseline", None)  # warms the OS page cache and the server; not counted
    jobs: list[tuple[str, dict[str, Any] | None, bool]] = []
    for rep in range(cfg.cold_reps):
        order = list(wanted)
        random.Random(rep).shuffle(order)
        for j, fn in enumerate(order):
            if j % cfg.cold_baseline_every == 0:
                jobs.append(("baseline", None, False))
            if j == len(order) // 2:
                jobs.append(("floor", None, False))
            jobs.append(("cold", fn, False))
    ship = [f for f in wanted if f["name"] in cfg.shipped_functions]
    for _ in range(cfg.shipped_reps if ship else 0):
        for fn in ship:
            jobs += [("baseline", None, False), ("cold", fn, True)]
    done = _run_lanes(runner, jobs, cfg.cold_lanes)
    log(f"cold start: {len(done)} processes, {cfg.cold_lanes} at a time")
    baseline = [r for (mode, _, _), r in zip(jobs, done, strict=True) if mode == "baseline"]
    floor = [r for (mode, _, _), r in zip(jobs, done, strict=True) if mode == "floor"]
    samples: dict[str, list[dict[str, Any]]] = {f["name"]: [] for f in wanted}
    shipped: dict[str, list[dict[str, Any]]] = {}
    for (mode, fn, uncompiled), r in zip(jobs, done, strict=True):
        if mode == "cold":
            (shipped.setdefault(fn["name"], []) if uncompiled else samples[fn["name"]]).append(r)
    base = _summary(baseline)
    out: dict[str, Any] = {"baseline": base, "lanes": cfg.cold_lanes, "functions": {}}
    if floor:
        out["floor"] = _summary(floor) | _ratios(floor, baseline)
    for fn in functions:
        name = fn["name"]
        row: dict[str, Any] = {"logical_id": fn["logical_id"], "api": fn["api"], "memory_mb": fn["memory_mb"]}
        if not fn["available"]:
            row["available"] = False
        elif samples.get(name):
            row |= {"available": True, **_summary(samples[name]), **_ratios(samples[name], baseline)}
            if name in shipped:
                row["uncompiled_layer"] = _summary(shipped[name]) | _ratios(shipped[name], baseline)
        else:
            row["available"] = True
            row["skipped"] = True
        out["functions"][name] = row
    return out


# Rough seconds of 1,000 requests (moto's work: a dashboard reads ~100 items, most functions 1-2):
# the memory measurements are split into shards of about equal work.
MEMORY_WEIGHT = {
    "dashboard": 42,
    "aggregator": 31,
    "tracker_generate": 28,
    "purchases": 28,  # the purchase and its email tracker: two transactions, like generate
    "click": 24,
    "feedback": 22,
    "submit": 19,
}


def _share(functions: list[dict[str, Any]], count: int) -> list[list[dict[str, Any]]]:
    shards: list[list[dict[str, Any]]] = [[] for _ in range(count)]
    load = [0.0] * count
    for fn in sorted(functions, key=lambda f: -MEMORY_WEIGHT.get(f["name"], 9)):
        lightest = load.index(min(load))
        shards[lightest].append(fn)
        load[lightest] += MEMORY_WEIGHT.get(fn["name"], 9)
    order = [f["name"] for f in functions]
    return [sorted(s, key=lambda f: order.index(f["name"])) for s in shards]


def memory(cfg: Any, fresh_runner: Any, functions: list[dict[str, Any]], shard: str = "0/1") -> dict[str, Any]:
    """Each function on a fresh table (its fixture only), so that no function pays for the items
    another one wrote (moto's index queries pass over the whole table). ``shard`` "i/n": this
    process measures the i-th of n shares of about equal work (two processes share it)."""
    index, count = (int(x) for x in shard.split("/"))
    wanted = [
        fn
        for fn in functions
        if fn["available"] and (cfg.memory_functions is None or fn["name"] in cfg.memory_functions)
    ]
    out: dict[str, Any] = {}
    for fn in _share(wanted, count)[index]:
        started = time.perf_counter()
        runner = fresh_runner({fn["scenario"]: cfg.memory_requests + 2})
        r = runner.run("memory", fn, requests=cfg.memory_requests)
        first, last = r["after_first"], r["after_last"]
        out[fn["name"]] = {
            "requests": r["requests"],
            "failures": r["failures"],
            "rss_first_mb": round(first["VmRSS"] / 1024, 1),
            "rss_last_mb": round(last["VmRSS"] / 1024, 1),
            "peak_first_mb": round(first["VmHWM"] / 1024, 1),
            "peak_last_mb": round(last["VmHWM"] / 1024, 1),
            "growth": round(last["VmHWM"] / first["VmHWM"] - 1, 4),
            "configured_mb": fn["memory_mb"],
        }
        log(
            f"{fn['name']}: peak RSS {out[fn['name']]['peak_first_mb']} -> {out[fn['name']]['peak_last_mb']} MB "
            f"after {r['requests']} requests [{time.perf_counter() - started:.1f} s]"
        )
    return out


def main() -> None:
    """``python -m bench.coldstart cold|memory CONFIG_JSON OUT_PATH [SHARD i/n]``"""
    part = sys.argv[1]
    cfg, out_path = phase_args(sys.argv[2:4])
    shard = sys.argv[4] if len(sys.argv) > 4 else "0/1"
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    patch_moto()
    from revisit_dev.stack import MotoServer, use_local_aws

    server = MotoServer().start()
    use_local_aws(server.url, REGION)
    os.environ |= function_env(None, TABLE) | {"QUIET_HOURS": "0-0"}
    compileall.compile_dir(str(LAYER / "revisit"), quiet=1)  # the layer's byte code, as a warm disk holds it
    import boto3

    ddb = boto3.client("dynamodb", region_name=REGION, endpoint_url=server.url)
    secrets = boto3.client("secretsmanager", region_name=REGION, endpoint_url=server.url)
    arn = secrets.create_secret(Name="revisit-bench-hashing", SecretString=HASH_SECRET)["ARN"]
    boto3.client("ses", region_name=REGION, endpoint_url=server.url).verify_email_identity(
        EmailAddress="surveys@example.com"
    )
    from bench import scenarios
    from bench.inproc import clear_caches
    from revisit.dal import keys, table

    front = KeepAlive(server._serialized) if part == "memory" else None

    def fresh_runner(needs: dict[str, int]) -> Runner:
        drop_table(ddb, TABLE)
        create_table(ddb, TABLE)
        clear_caches()
        fx = scenarios.prepare(needs, TABLE)
        url = front.url if front else server.url
        return Runner(url, arn, table.serialize(keys.store(fx["ws"], fx["store"])), fx)

    functions = _functions(cfg)
    started = time.perf_counter()
    if part == "cold":
        per_function = cfg.cold_reps + cfg.shipped_reps + 2
        runner = fresh_runner({s: per_function for s in ("submit", "tracker_generate", "aggregator")})
        result = {"cold": cold_starts(cfg, runner, functions)}
    else:
        result = {"memory": memory(cfg, fresh_runner, functions, shard)}
        base = fresh_runner({}).run("baseline", None)["after_first"]
        result["memory_baseline"] = {
            "rss_mb": round(base["VmRSS"] / 1024, 1),
            "peak_mb": round(base["VmHWM"] / 1024, 1),
        }
    result["seconds"] = round(time.perf_counter() - started, 1)
    write_json(out_path, result)
    if front:
        front.stop()
    server.stop()


if __name__ == "__main__":
    main()
