"""`revisit import` against the local stack over HTTP: the two sample exports (docs/samples) go in
through POST /api/external/feedback/import and a search finds them; a big file goes in 1,000 rows
a request and a second run duplicates nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

WORKSPACE = "import-e2e"
STORE = "harbour-cafe"
SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"


def _search(stack, creds, **query):
    reply = stack.request(
        "GET", "/api/external/feedback", headers={"x-api-key": creds["workspaceApiKey"]}, params={"limit": 100, **query}
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["items"]


def test_the_sample_exports_import_through_the_cli(stack, tmp_path):
    creds = stack.bootstrap(WORKSPACE, STORE)
    for name in ("delighted.jsonl", "formbricks.csv"):
        shutil.copy(SAMPLES / name, tmp_path / name)  # the state file goes next to the input
    key = ["--store", STORE, "--key", creds["workspaceApiKey"]]
    out = stack.cli("import", str(tmp_path / "delighted.jsonl"), "--format", "delighted", *key)
    assert json.loads(out.stdout) | {"state": None} == {
        "rows": 5,
        "skipped": 1,
        "created": 5,
        "alreadyPresent": 0,
        "state": None,
    }
    assert "5/5 rows" in out.stderr
    formbricks = [
        "import",
        str(tmp_path / "formbricks.csv"),
        "--format",
        "formbricks",
        "--rating-column",
        "How would you rate your visit?",
        "--comment-column",
        "Anything we could do better?",
        *key,
    ]
    assert json.loads(stack.cli(*formbricks).stdout)["created"] == 3

    found = _search(stack, creds, storeSlug=STORE)
    assert len(found) == 8 and all(f["imported"] is True for f in found)
    nps_zero = _search(stack, creds, source="delighted-nps", q="waited")
    assert [(f["rating"], f["createdAt"]) for f in nps_zero] == [(1, "2025-01-02T09:00:00.000Z")]
    assert len(_search(stack, creds, source="formbricks")) == 3

    # The same file again: the state file says it is done; without it nothing is stored twice.
    again = json.loads(stack.cli(*formbricks).stdout)
    assert (again["created"], again["alreadyPresent"]) == (3, 0)
    (tmp_path / "formbricks.csv.import-state.json").unlink()
    fresh = json.loads(stack.cli(*formbricks).stdout)
    assert (fresh["created"], fresh["alreadyPresent"]) == (0, 3)
    assert len(_search(stack, creds, storeSlug=STORE)) == 8


def test_a_big_file_goes_in_1000_rows_a_request_and_resumes(stack, tmp_path):
    creds = stack.bootstrap(WORKSPACE, "harbour-bulk")
    path = tmp_path / "history.jsonl"
    rows = [
        {"createdAt": f"2025-03-{1 + i % 28:02d}T10:00:00Z", "rating": 1 + i % 5, "externalId": f"big-{i}"}
        for i in range(2100)
    ]
    rows[1500]["rating"] = 6  # in the second request
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    command = ["import", str(path), "--store", "harbour-bulk", "--key", creds["workspaceApiKey"]]
    failed = stack.cli(*command, check=False)
    assert failed.returncode == 1
    assert "row 1501.rating" in failed.stderr and "1000/2100 rows" in failed.stderr
    state = json.loads((tmp_path / "history.jsonl.import-state.json").read_text())
    assert state["rowsDone"] == 1000

    rows[1500]["rating"] = 5
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))  # fixed: another file, another state
    (tmp_path / "history.jsonl.import-state.json").unlink()
    done = stack.cli(*command)
    answer = json.loads(done.stdout)
    assert (answer["created"], answer["alreadyPresent"]) == (1100, 1000)
    assert "2100/2100 rows" in done.stderr
