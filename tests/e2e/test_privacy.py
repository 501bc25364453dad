"""A customer's access and erasure on the local stack (issue 18 part 5): 50 visits on 50 days
(imported) plus 5 answers through one-time links, then `revisit export-customer` and `revisit
forget` over HTTP; the dashboard is back to the other customers' numbers, a second forget is
harmless, and the time of the erasure is measured (printed, and written to tests/artifacts)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

STORE = "downtown-coffee"
CIV = "CUST-FORGET-1"
ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "privacy_forget.json"


def _wait(stack, headers, want: int, period: dict[str, str], deadline: float = 60.0) -> dict:
    started = time.monotonic()
    while True:
        reply = stack.request("GET", "/api/external/dashboard", headers=headers, params={"storeSlug": STORE, **period})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        if body["totalFeedback"] == want or time.monotonic() - started > deadline:
            assert body["totalFeedback"] == want, body
            return body
        time.sleep(0.3)


def test_export_and_forget_a_customer_with_55_visits(stack):
    creds = stack.bootstrap("privacy-" + uuid.uuid4().hex[:8], STORE)
    key = creds["workspaceApiKey"]
    headers = {"x-api-key": key}
    start = (datetime.now(UTC) - timedelta(days=80)).replace(hour=9, minute=0, second=0, microsecond=0)
    rows = [
        {
            "externalId": f"hist-{i}",
            "storeSlug": STORE,
            "createdAt": (start + timedelta(days=i)).isoformat().replace("+00:00", "Z"),
            "rating": 1 + i % 5,
            "civ": CIV,
        }
        for i in range(50)
    ]
    rows += [
        {"externalId": "other-1", "storeSlug": STORE, "createdAt": rows[3]["createdAt"], "rating": 4, "civ": "OTHER"},
        {"externalId": "other-2", "storeSlug": STORE, "createdAt": rows[9]["createdAt"], "rating": 2, "civ": "OTHER"},
        {"externalId": "anon-1", "storeSlug": STORE, "createdAt": rows[5]["createdAt"], "rating": 5},
    ]
    body = "".join(json.dumps(r) + "\n" for r in rows)
    imported = stack.request(
        "POST",
        "/api/external/feedback/import",
        headers={**headers, "Content-Type": "application/x-ndjson"},
        data=body.encode(),
    )
    assert imported.status_code in (200, 201), imported.text
    for rating in (5, 4, 3, 2, 1):
        token = stack.request(
            "POST", "/api/external/token", headers=headers, json={"storeSlug": STORE, "payload": {"civ": CIV}}
        )
        assert token.status_code == 201, token.text
        sent = stack.request(
            "POST", "/api/external/public/submit", json={"token": token.json()["token"], "rating": rating}
        )
        assert sent.status_code == 201, sent.text
    period = {"from": start.date().isoformat(), "to": datetime.now(UTC).date().isoformat()}
    before = _wait(stack, headers, 58, period)
    assert before["identifiedCustomers"] == 2

    out = stack.cli("export-customer", "--civ", CIV, "--store", STORE, "--key", key)
    exported = json.loads(out.stdout)
    assert len(exported["feedback"]) == 55 and len(exported["tokens"]) == 5
    assert exported["loyalty"]["customer"]["visitCount"] == 55

    started = time.monotonic()
    out = stack.cli("forget", "--civ", CIV, "--store", STORE, "--key", key)
    cli_seconds = time.monotonic() - started
    erased = json.loads(out.stdout)
    assert erased["deleted"]["feedback"] == 55 and erased["deleted"]["tokens"] == 5
    assert erased["aggregates"]["visitsSubtracted"] == 55 and erased["aggregates"]["transactions"] >= 2

    after = _wait(stack, headers, 3, period)
    assert after["identifiedCustomers"] == 1 and after["firstVisit"]["count"] == 1
    assert after["returnVisit"]["count"] == 1 and after["growingDissatisfied"] == []

    started = time.monotonic()
    again = stack.request("DELETE", f"/api/external/customers/{CIV}", headers=headers, params={"storeSlug": STORE})
    second_seconds = time.monotonic() - started
    assert again.status_code == 200, again.text
    assert set(again.json()["deleted"].values()) == {0}
    assert _wait(stack, headers, 3, period) == after
    left = stack.request("GET", f"/api/external/customers/{CIV}", headers=headers, params={"storeSlug": STORE})
    assert left.status_code == 200 and left.json()["feedback"] == [] and left.json()["tokens"] == []
    foreign = stack.bootstrap("privacy-foreign-" + uuid.uuid4().hex[:6], STORE)
    other = stack.request(
        "DELETE",
        f"/api/external/customers/{CIV}",
        headers={"x-api-key": foreign["workspaceApiKey"]},
        params={"storeSlug": STORE},
    )
    assert other.status_code == 404

    figures = {
        "visits": 55,
        "days": 51,
        "forgetCliSeconds": round(cli_seconds, 3),
        "secondDeleteSeconds": round(second_seconds, 3),
        "transactions": erased["aggregates"]["transactions"],
    }
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(figures, indent=2) + "\n")
    print("forget figures:", figures)
