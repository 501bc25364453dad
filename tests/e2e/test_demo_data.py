"""`revisit demo-data` on the local stack (issue 17 part 4): over HTTP, the scheduler invoked
through the stack, the dashboard living afterwards; a rerun adds nothing."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import REPO, _cli_command

pytestmark = pytest.mark.e2e
WORKSPACE, STORE = "demo-e2e", "demo-harbour"


def _demo(stack) -> tuple[dict, str]:
    args = ["demo-data", "--workspace-id", WORKSPACE, "--store", STORE, "--days", "60", "--customers", "50"]
    done = subprocess.run(
        [*_cli_command(), *args], env=stack.env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout[: done.stdout.rindex("}") + 1])
    return summary, done.stderr


def test_demo_data_fills_the_dashboard_and_a_rerun_adds_nothing(stack):
    summary, bars = _demo(stack)
    fb = summary["feedback"]
    assert fb["created"] == fb["rows"] > 50 and fb["customers"] == 50 and fb["returningCustomers"] >= 15
    assert summary["drifting"] == 2 and summary["nps"]["created"] == summary["nps"]["reviews"] > 0
    assert "feedback   [##############################]" in bars and "trackers" in bars
    t = summary["trackers"]
    assert t["purchases"] == t["trackers"] == 10

    creds = stack.bootstrap(WORKSPACE, STORE)
    key = {"x-api-key": creds["workspaceApiKey"]}
    today = datetime.now(UTC).date()
    period = {"storeSlug": STORE, "from": (today - timedelta(days=61)).isoformat(), "to": today.isoformat()}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # the aggregator reads the table's stream
        board = stack.request("GET", "/api/external/dashboard", headers=key, params=period).json()
        if board["totalFeedback"] >= fb["rows"] + summary["nps"]["reviews"] and board["growingDissatisfied"]:
            break
        time.sleep(0.5)
    assert board["totalFeedback"] >= fb["rows"], board
    assert board["growingDissatisfied"], "no drifting customer on the dashboard"
    report = stack.request("GET", "/api/external/trackers/report", headers=key, params={"storeSlug": STORE}).json()
    assert report["total"]["sent"] == 10 and report["total"]["completed"] == t["answeredNow"] > 0

    again, _ = _demo(stack)
    assert again["feedback"]["created"] == 0 and again["feedback"]["alreadyPresent"] == fb["rows"]
    assert again["nps"]["created"] == 0 and again["trackers"]["answeredNow"] == again["trackers"]["clickedNow"] == 0
    after = stack.request("GET", "/api/external/trackers/report", headers=key, params={"storeSlug": STORE}).json()
    assert after["total"] == report["total"]
