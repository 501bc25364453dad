"""`make bench` in a tiny configuration, so the benchmark cannot rot (about 20 s).

The benchmark runs in its own processes (each phase starts its own moto), with an environment of
its own: nothing of this test process's mock or variables leaks into it. moto's fast response
serializer is checked against moto's own on every response (BENCH_CHECK_SERIALIZER=1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def _env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["BENCH_CHECK_SERIALIZER"] = "1"
    return env


def test_quick_bench_runs_and_reports_every_section(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["meta"]["failures"] == {}
    sections = {r["section"].split(".")[0] for r in doc["rows"]}
    assert sections == {str(n) for n in range(1, 9)}, sections
    assert "targets met" in proc.stdout  # the closing note

    results = doc["results"]
    endpoints = results["inproc"]["endpoints"]
    # Call counts are exact and deterministic: the targets, as the code meets them today.
    assert (endpoints["token"]["cold"]["calls"], endpoints["token"]["warm"]["calls"]) == (2, 1)
    assert endpoints["submit"]["warm"]["calls"] == 2
    assert (endpoints["tracker_get"]["cold"]["calls"], endpoints["tracker_get"]["warm"]["calls"]) == (2, 1)
    assert endpoints["nps_create"]["cold"]["calls"] <= 3
    for name in ("token", "submit", "dashboard"):
        latency = endpoints[name]["latency"]
        assert latency["p50_ms"] > 0 and latency["baseline_p50_ms"] > 0

    cold = results["cold"]
    assert cold["baseline"]["n"] >= 1 and cold["functions"]["token"]["ratio"] > 0

    aggregator = results["aggregator"]
    assert aggregator["counted_exactly_once"] and aggregator["failures"] == 0

    growth = results["growth"]
    assert growth["analytics"]["seeding_check"]["equal"]
    sizes = list(growth["analytics"]["endpoints"]["nps_score"])
    calls = {growth["analytics"]["endpoints"]["nps_score"][s]["calls"] for s in sizes}
    assert len(calls) == 1  # independent of the store's size
    scheduler = growth["scheduler"]
    assert len({r["calls"] for r in scheduler.values()}) == 1  # follows the due trackers only

    trends = results["trends"]  # the series, the stores view, import (issue 16)
    assert trends["by_store_size"]["seeding_check"]["equal"]
    for name, rows in trends["by_store_size"]["endpoints"].items():
        assert len({r["calls"] for r in rows.values()}) == 1, name  # independent of the store's size
    assert trends["import"]["exact"] and trends["import"]["resumed_new_stream_records"] == 0

    assert results["memory"]["memory"]["token"]["requests"] == doc["meta"]["config"]["memory_requests"]
    assert results["sizes"]["functions"]["token"]
    assert results["cost"]["available"] and results["cost"]["total_per_million"] > 0

    # An earlier run's JSON renders without measuring again.
    rendered = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--render", str(out)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert rendered.returncode == 0 and "== 3. Warm latency" in rendered.stdout
