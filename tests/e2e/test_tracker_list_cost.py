"""POST /partners/survey-tracker/list with 100 purchase ids + 100 customer ids on the local stack
(issue 18 defect 6: it took over 300 s with one Query per id); now a bounded number of calls."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

STORE = "downtown-coffee"
ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "tracker_list_cost.json"


def test_list_by_100_purchases_and_100_customers_is_fast(stack):
    creds = stack.bootstrap("trklist-" + uuid.uuid4().hex[:8], STORE)
    owner = stack.owner_headers(creds)
    partner = {"X-API-KEY": creds["partnerKey"], "X-API-SECRET": creds["partnerSecret"]}
    survey = stack.request(
        "POST", "/api/surveys", headers=owner, json={"storeSlug": STORE, "name": "Mail", "sendingType": "email"}
    )
    assert survey.status_code == 201, survey.text
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for i in range(100):
        body = {"purchaseId": f"P-{i}", "customerId": f"C-{i}", "storeSlug": STORE, "purchasedAt": now,
                "amount": 10.0, "email": f"c{i}@example.com"}  # fmt: skip
        made = stack.request("POST", "/partners/purchases", headers=partner, json=body)
        assert made.status_code in (200, 201), made.text
    body = {"purchases": [f"P-{i}" for i in range(100)], "customers": [f"C-{i}" for i in range(100)], "limit": 100}
    started = time.monotonic()
    reply = stack.request("POST", "/partners/survey-tracker/list", headers=partner, json=body)
    seconds = time.monotonic() - started
    assert reply.status_code == 200, reply.text
    assert reply.json()["total"] == 100 and len(reply.json()["items"]) == 100
    started = time.monotonic()
    by_customers = stack.request(
        "POST", "/partners/survey-tracker/list", headers=partner, json={"customers": body["customers"], "limit": 100}
    )
    customer_seconds = time.monotonic() - started
    assert by_customers.status_code == 200 and by_customers.json()["total"] == 100
    assert seconds < 10 and customer_seconds < 10, (seconds, customer_seconds)
    figures = {"purchasesAndCustomersSeconds": round(seconds, 3), "customersSeconds": round(customer_seconds, 3)}
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(figures, indent=2) + "\n")
    print("tracker list figures:", figures)
