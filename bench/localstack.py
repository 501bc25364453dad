"""``make bench`` (second part): the local stack at a realistic size, over HTTP.

    .venv/bin/python -m bench.localstack              # 100,000 records, 50 clients for 60 s
    .venv/bin/python -m bench.localstack --quick      # 2,000 records, 10 clients for 5 s

1. Starts ``make dev`` (the command a developer types) on that data directory and times it until
   /health answers, then until every function has a container.
2. Before that, seeds one store with ``--records`` feedback records and NPS reviews: the raw items
   through the data-access layer's own item builders, the aggregates the stream aggregator would
   have written (planned record by record with the aggregator's own rules, bench/seed.py; the
   growth phase of bench/run.py checks them against the real aggregator handler), all written
   with BatchWriteItem into the DynamoDB Local table ``make dev`` then starts on.
3. Measures over HTTP: the dashboard and feedback search (p50 / p99), then a mixed load of
   ``--clients`` clients (token create + submit, search, dashboard, tracker get, NPS categories):
   requests/s, p50 / p99 per route, errors by status; every 5 s the RSS of the whole stack (the
   stack process, every container, DynamoDB Local with its capped heap).
Targets (issue 12): dashboard and search p50 < 50 ms; ≥ 100 requests/s with 0 errors; RSS < 2.5 GB
and flat (last sample within 10 % of the first under load). Results: bench/results/localstack.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
WORKSPACE, STORE = "7100", "bench-big"
GB = 1024**3
PARTS = ("latency", "load", "analytics")  # what --parts accepts


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Stack:
    """``make dev`` in its own process group, on free ports and a temporary data directory."""

    def __init__(self, directory: Path, containers: int) -> None:
        import requests

        self.directory = directory
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
            "REVISIT_PORT": str(self.port),
            "REVISIT_DATA_DIR": str(directory),
            "REVISIT_MAX_CONTAINERS": str(containers),
            "PYTHONUNBUFFERED": "1",
        }
        self.session = requests.Session()
        self.session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=128))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> dict[str, float]:
        started = time.monotonic()
        with (self.directory / "make-dev.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["make", "-s", "dev"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        healthy = self._wait(lambda: self.get("/health").status_code == 200, 120)
        expected = len(self.get("/health").json()["functions"])
        warm = self._wait(lambda: sum(v > 0 for v in self.stats()["containers"].values()) == expected, 120)
        return {"healthySeconds": healthy - started, "warmSeconds": warm - started}

    def _wait(self, ready: Any, timeout: float) -> float:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise SystemExit(f"make dev exited with {self.process.returncode}; see {self.directory}/make-dev.log")
            try:
                if ready():
                    return time.monotonic()
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise SystemExit(f"the stack was not ready in {timeout:.0f} s; see {self.directory}/make-dev.log")

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.session.get(self.base + path, timeout=60, **kwargs)

    def stats(self) -> dict[str, Any]:
        return self.get("/_local/stats").json()

    def info(self) -> dict[str, Any]:
        return json.loads((self.directory / "stack.json").read_text())

    def cli(self, *args: str) -> str:
        command = [str(Path(sys.executable).parent / "revisit"), *args]
        return subprocess.run(command, env=self.env, cwd=ROOT, capture_output=True, text=True, check=True).stdout

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


# ------------------------------------------------------------------ seeding


def seed(directory: Path, records: int, period_records: int) -> dict[str, Any]:
    """Raw records and their aggregates into the table of the data directory ``make dev`` will
    use, before it starts: its stream poller starts at LATEST, so the seeded history is not
    aggregated a second time (the aggregates are already there)."""
    from revisit_dev.engine import DynamoDBLocal, ensure_table
    from revisit_dev.resources import use_local_aws
    from revisit_dev.template import load_template

    engine = DynamoDBLocal(directory / "dynamodb", _free_port()).start()
    try:
        use_local_aws("http://127.0.0.1:9", "us-east-1", engine.url)  # only DynamoDB is used here
        os.environ["TABLE_NAME"] = "revisit"
        import boto3
        from botocore.config import Config

        from bench.seed import aggregate_items, history, raw_item
        from revisit.dal import table

        client = boto3.client("dynamodb", config=Config(max_pool_connections=8, retries={"mode": "standard"}))
        ensure_table(client, load_template(), "revisit")
        started = time.monotonic()
        now = datetime.now(UTC)
        history_records = history(WORKSPACE, STORE, records, min(records, period_records), now)
        items = [table.serialize(raw_item(r)) for r in history_records]
        aggregates = [table.serialize(i) for i in aggregate_items(history_records, now)]
        planned = time.monotonic() - started
        everything = items + aggregates
        chunks = [everything[i : i + 25] for i in range(0, len(everything), 25)]

        def write(chunk: list[dict[str, Any]]) -> None:
            pending: dict[str, Any] = {"revisit": [{"PutRequest": {"Item": i}} for i in chunk]}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

        written_at = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(write, chunks))
        elapsed = time.monotonic() - written_at
    finally:
        engine.stop()
    return {
        "records": len(history_records),
        "rawItems": len(items),
        "aggregateItems": len(aggregates),
        "planSeconds": round(planned, 1),
        "writeSeconds": round(elapsed, 1),
        "itemsPerSecond": round(len(everything) / elapsed),
        "periodRecords": min(records, period_records),
        "fsync": engine.fsync,
        "orders": [r["orderId"] for r in history_records if r["kind"] == "feedback"],
    }


# ------------------------------------------------------------------ measurements


def latency(stack: Stack, path: str, params: list[dict[str, str]], headers: dict[str, str]) -> dict[str, Any]:
    times, statuses = [], Counter()
    for p in params:
        began = time.perf_counter()
        reply = stack.get(path, params=p, headers=headers)
        times.append((time.perf_counter() - began) * 1000)
        statuses[reply.status_code] += 1
    return {
        "requests": len(times),
        "p50Ms": round(_pct(times, 0.5), 1),
        "p99Ms": round(_pct(times, 0.99), 1),
        "statuses": dict(statuses),
    }


class Load:
    """``clients`` threads, each looping over a random mix of routes until ``seconds`` pass."""

    def __init__(self, stack: Stack, creds: dict[str, Any], tracker: str, orders: list[str]) -> None:
        self.stack = stack
        self.creds = creds
        self.tracker = tracker
        self.orders = orders
        self.times: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.lock = threading.Lock()

    def _timed(self, route: str, method: str, path: str, expected: tuple[int, ...], **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            reply = self.stack.session.request(method, self.stack.base + path, timeout=60, **kwargs)
            status = reply.status_code
        except Exception:
            reply, status = None, 0
        ms = (time.perf_counter() - began) * 1000
        with self.lock:
            self.times[route].append(ms)
            self.statuses[(route, status if status not in expected else 200)] += 1
        return reply

    def step(self, rng: random.Random) -> None:
        key = {"x-api-key": self.creds["storeApiKey"]}
        partner = {"X-API-KEY": self.creds["partnerKey"], "X-API-SECRET": self.creds["partnerSecret"]}
        kind = rng.random()
        if kind < 0.25:
            body = {"storeSlug": STORE, "payload": {"orderId": f"LOAD-{uuid.uuid4().hex[:10]}", "civ": "CUST-LOAD"}}
            reply = self._timed("token", "POST", "/api/external/token", (201,), json=body, headers=key)
            if reply is not None and reply.status_code == 201:
                body = {"token": reply.json()["token"], "rating": rng.randint(1, 5)}
                self._timed("submit", "POST", "/api/external/public/submit", (201,), json=body)
        elif kind < 0.45:
            params = {"orderId": rng.choice(self.orders)}
            self._timed("search", "GET", "/api/external/feedback", (200,), params=params, headers=key)
        elif kind < 0.6:
            self._timed("dashboard", "GET", "/api/external/dashboard", (200,), params={"storeSlug": STORE}, headers=key)
        elif kind < 0.8:
            params = {"id": self.tracker}
            self._timed("tracker", "GET", "/partners/survey-tracker", (200,), params=params, headers=partner)
        else:
            params = {"shop_id": self.creds["shopId"]}
            self._timed("nps", "GET", "/nps/categories", (200,), params=params)

    def warm_up(self, clients: int, seconds: float) -> None:
        """The same load, unmeasured: the pools grow to what the load needs (their INIT is the
        cold-start cost of a scale-up, not the warm latency measured after)."""
        self.run(clients, seconds)
        self.times.clear()
        self.statuses.clear()

    def run(self, clients: int, seconds: float) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        rss: list[int] = []

        def client(n: int) -> None:
            rng = random.Random(n)
            while time.monotonic() < deadline:
                self.step(rng)

        def sample() -> None:
            while time.monotonic() < deadline:
                rss.append(self.stack.stats()["totalRssBytes"])
                time.sleep(5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        began = time.monotonic()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
        elapsed = time.monotonic() - began
        sampler.join()
        rss.append(self.stack.stats()["totalRssBytes"])
        total = sum(len(v) for v in self.times.values())
        errors = {f"{route} {status}": n for (route, status), n in self.statuses.items() if status != 200}
        return {
            "clients": clients,
            "seconds": round(elapsed, 1),
            "requests": total,
            "requestsPerSecond": round(total / elapsed, 1),
            "errors": errors,
            "routes": {
                route: {"requests": len(t), "p50Ms": round(_pct(t, 0.5), 1), "p99Ms": round(_pct(t, 0.99), 1)}
                for route, t in sorted(self.times.items())
            },
            "rssSamplesBytes": rss,
        }


def analytics(stack: Stack, creds: dict[str, Any], import_rows: int) -> dict[str, Any]:
    """The series and the stores view at the seeded size, then import throughput through the real
    write path: POST /api/external/feedback/import (1,000 rows a request, the workspace key), the
    table's stream, the aggregator; done when the dashboard counts every row."""
    from datetime import timedelta

    key = {"x-api-key": creds["storeApiKey"]}
    today = datetime.now(UTC).date()
    year = {"storeSlug": STORE, "from": (today - timedelta(days=365)).isoformat(), "to": today.isoformat()}
    out: dict[str, Any] = {}
    for name, path, params in (
        ("series", "/api/external/dashboard/series", {"storeSlug": STORE}),
        ("seriesYearByWeek", "/api/external/dashboard/series", {**year, "interval": "week"}),
        ("stores", "/api/external/dashboard/stores", {}),
    ):
        latency(stack, path, [params] * 20, key)  # unmeasured: the container and DynamoDB Local warm up
        out[name] = latency(stack, path, [params] * 100, key)
    workspace = {"x-api-key": creds["workspaceApiKey"], "Content-Type": "application/x-ndjson"}
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        {
            "storeSlug": STORE,
            "createdAt": (now - timedelta(days=1 + i % 300, minutes=i % 1440)).isoformat().replace("+00:00", "Z"),
            "rating": 1 + i * 7 % 5,
            "comment": f"imported answer {i}",
            **({"civ": f"IMP-{i % 400:04d}"} if i % 3 else {}),
            "orderId": f"IMP-{i}",
            "source": "delighted",
            "externalId": f"bench-{uuid.uuid4().hex[:6]}-{i}",
        }
        for i in range(import_rows)
    ]
    bodies = ["".join(json.dumps(r) + "\n" for r in rows[i : i + 1000]) for i in range(0, len(rows), 1000)]
    dash = {"storeSlug": STORE, "from": year["from"], "to": year["to"]}

    def total() -> int:
        reply = stack.get("/api/external/dashboard", params=dash, headers=key)
        reply.raise_for_status()
        return reply.json()["totalFeedback"]

    before = total()
    began = time.perf_counter()
    created = 0
    for body in bodies:
        reply = stack.session.post(
            stack.base + "/api/external/feedback/import", data=body.encode(), headers=workspace, timeout=300
        )
        reply.raise_for_status()
        created += reply.json()["created"]
    imported = time.perf_counter() - began
    deadline = time.monotonic() + 600
    while (counted := total() - before) < len(rows) and time.monotonic() < deadline:
        time.sleep(0.25)
    done = time.perf_counter() - began
    out["import"] = {
        "rows": len(rows),
        "requests": len(bodies),
        "created": created,
        "counted": counted,
        "importSeconds": round(imported, 1),
        "importRowsPerSecond": round(len(rows) / imported),
        "endToEndSeconds": round(done, 1),
        "endToEndRowsPerSecond": round(len(rows) / done),
        "exact": created == counted == len(rows),
    }
    return out


def _setup(stack: Stack) -> tuple[dict[str, Any], str]:
    creds = json.loads(stack.cli("bootstrap", "--workspace-id", WORKSPACE, "--store", STORE, "--json"))
    owner = {"Authorization": f"Bearer {creds['ownerToken']}", "x-workspace-id": WORKSPACE}
    partner = {"X-API-KEY": creds["partnerKey"], "X-API-SECRET": creds["partnerSecret"]}
    post = stack.session.post
    post(
        f"{stack.base}/api/surveys",
        json={"storeSlug": STORE, "name": "QR", "sendingType": "external"},
        headers=owner,
        timeout=60,
    ).raise_for_status()
    purchase = {"purchaseId": "B-1", "customerId": "C-1", "storeSlug": STORE, "purchasedAt": "2026-11-30T10:00:00Z"}
    post(f"{stack.base}/partners/purchases", json=purchase, headers=partner, timeout=60).raise_for_status()
    generated = post(
        f"{stack.base}/partners/survey-tracker/generate", json={"purchaseId": "B-1"}, headers=partner, timeout=60
    )
    generated.raise_for_status()
    return creds, generated.json()["items"][0]["id"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 records, 10 clients for 5 s")
    parser.add_argument("--records", type=int, default=100_000, help="records seeded into one store")
    parser.add_argument(
        "--period-records",
        type=int,
        default=1_000,
        help="of those, records in the dashboard's default 30-day period (as in the growth phase)",
    )
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients of the mixed load")
    parser.add_argument("--seconds", type=float, default=45, help="length of the mixed load")
    parser.add_argument("--warmup", type=float, default=10, help="seconds of unmeasured load first")
    parser.add_argument("--containers", type=int, default=2, help="REVISIT_MAX_CONTAINERS of the stack")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"what to measure, comma-separated: {', '.join(PARTS)} (a subset writes localstack-<parts>.json)",
    )
    parser.add_argument("--import-rows", type=int, default=5_000, help="rows imported in the analytics part")
    args = parser.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    if args.quick:
        args.records, args.clients, args.seconds, args.warmup = 2_000, 10, 5, 3
        args.import_rows = min(args.import_rows, 500)
    with tempfile.TemporaryDirectory(prefix="revisit-bench-stack-") as tmp:
        seeded = seed(Path(tmp), args.records, args.period_records)
        orders = seeded.pop("orders")
        stack = Stack(Path(tmp), args.containers)
        try:
            result: dict[str, Any] = {"seed": seeded, "startup": stack.start()}
            result["rssWarmBytes"] = stack.stats()
            creds, tracker = _setup(stack)
            key = {"x-api-key": creds["storeApiKey"]}
            rng = random.Random(3)
            # Unmeasured first: DynamoDB Local's JIT compiles its hot paths over the first
            # ~2,000 calls (a GetItem goes from 3.6 to 1.7 ms), and each pool gets its container.
            latency(stack, "/api/external/dashboard", [{"storeSlug": STORE}] * 100, key)
            latency(stack, "/api/external/feedback", [{"orderId": rng.choice(orders)} for _ in range(100)], key)
            latency(stack, "/api/external/feedback", [{"limit": "50"}] * 100, key)
            if "latency" in parts:
                result["dashboard"] = latency(stack, "/api/external/dashboard", [{"storeSlug": STORE}] * 100, key)
                searches = [{"orderId": rng.choice(orders)} for _ in range(100)]
                result["searchByOrder"] = latency(stack, "/api/external/feedback", searches, key)
                result["searchLatest"] = latency(stack, "/api/external/feedback", [{"limit": "50"}] * 100, key)
            if "load" in parts:
                load = Load(stack, creds, tracker, orders)
                load.warm_up(args.clients, args.warmup)
                result["rssAfterWarmUpBytes"] = stack.stats()
                result["load"] = load.run(args.clients, args.seconds)
                result["rssAfterBytes"] = stack.stats()
            if "analytics" in parts:
                result["analytics"] = analytics(stack, creds, args.import_rows)
        finally:
            stack.stop()
    result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "localstack.json" if set(parts) == set(PARTS) else f"localstack-{'-'.join(parts)}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2))
    print(render(result))
    return 0


def render(r: dict[str, Any]) -> str:
    warm = r["rssWarmBytes"]
    rows = [
        ("make dev -> /health", f"{r['startup']['healthySeconds']:.1f} s", ""),
        ("make dev -> every function warm", f"{r['startup']['warmSeconds']:.1f} s", ""),
        (
            "seeded",
            f"{r['seed']['records']:,} records ({r['seed']['periodRecords']:,} in the last 30 days), "
            f"{r['seed']['rawItems'] + r['seed']['aggregateItems']:,} items",
            f"{r['seed']['itemsPerSecond']:,} items/s",
        ),
        (
            "RSS warm (one container each)",
            f"{warm['totalRssBytes'] / GB:.2f} GB (DynamoDB Local {warm['rssBytes']['dynamodbLocal'] / GB:.2f})",
            _met(warm["totalRssBytes"] < 2.5 * GB),
        ),
    ]
    if "dashboard" in r:
        rows += _latency_rows(r)
    if "load" in r:
        rows += _load_rows(r)
    if "analytics" in r:
        rows += _analytics_rows(r["analytics"])
    width = max(len(a) for a, _, _ in rows)
    return "\n".join(
        ["", "Local stack at size (bench/localstack.py)", *(f"  {a:<{width}}  {b:<60} {c}" for a, b, c in rows)]
    )


def _analytics_rows(a: dict[str, Any]) -> list[tuple[str, str, str]]:
    imp = a["import"]
    rows = [
        (f"{name} p50 / p99", f"{a[key]['p50Ms']} / {a[key]['p99Ms']} ms", _met(a[key]["p50Ms"] < 50))
        for name, key in (
            ("series (30 days by day) ", "series"),
            ("series (366 days by week)", "seriesYearByWeek"),
            ("stores view (store key)", "stores"),
        )
    ]
    rows.append(
        (
            f"import {imp['rows']:,} rows ({imp['requests']} requests)",
            f"{imp['importRowsPerSecond']:,} rows/s stored; counted by the aggregator after {imp['endToEndSeconds']} s "
            f"({imp['endToEndRowsPerSecond']:,} rows/s end to end)",
            _met(imp["exact"]),
        )
    )
    return rows


def _latency_rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (
            "dashboard p50 / p99",
            f"{r['dashboard']['p50Ms']} / {r['dashboard']['p99Ms']} ms",
            _met(r["dashboard"]["p50Ms"] < 50),
        ),
        (
            "search by orderId p50 / p99",
            f"{r['searchByOrder']['p50Ms']} / {r['searchByOrder']['p99Ms']} ms",
            _met(r["searchByOrder"]["p50Ms"] < 50),
        ),
        (
            "search latest 50 p50 / p99",
            f"{r['searchLatest']['p50Ms']} / {r['searchLatest']['p99Ms']} ms",
            _met(r["searchLatest"]["p50Ms"] < 50),
        ),
    ]


def _load_rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    load = r["load"]
    samples = load["rssSamplesBytes"]
    flat = len(samples) < 2 or abs(samples[-1] - samples[0]) <= 0.1 * samples[0]
    rows = [
        (
            f"mixed load, {load['clients']} clients",
            f"{load['requestsPerSecond']} req/s, {load['requests']:,} requests, errors {load['errors'] or 0}",
            _met(load["requestsPerSecond"] >= 100 and not load["errors"]),
        ),
        (
            "RSS under load, first -> last",
            f"{samples[0] / GB:.2f} -> {samples[-1] / GB:.2f} GB, max {max(samples) / GB:.2f}",
            _met(max(samples) < 2.5 * GB and flat),
        ),
    ]
    rows += [
        (f"  {route}", f"{v['requests']:,} req, p50 {v['p50Ms']} ms, p99 {v['p99Ms']} ms", "")
        for route, v in load["routes"].items()
    ]
    return rows


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
