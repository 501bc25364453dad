"""The integration recipes of docs/integrations/ run as written against the local stack."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

RECIPES = Path(__file__).resolve().parents[2] / "docs" / "integrations"


def _env(stack, creds):
    return {**os.environ, "REVISIT_URL": stack.url(""), "REVISIT_API_KEY": creds["storeApiKey"]}


def test_the_pos_recipe_creates_one_link_per_order_even_when_retried(stack):
    creds = stack.bootstrap("4800", "recipe-cafe")
    command = [sys.executable, str(RECIPES / "pos_create_link.py"), "recipe-cafe", "POS-1", "CUST-R"]
    first = subprocess.run(command, env=_env(stack, creds), capture_output=True, text=True, check=True).stdout.strip()
    again = subprocess.run(command, env=_env(stack, creds), capture_output=True, text=True, check=True).stdout.strip()
    assert first.startswith(stack.url("/s/tkn_")) and again == first  # the retry got the same link
    assert stack.request("GET", first.removeprefix(stack.url(""))).status_code == 200
    bad = subprocess.run(
        [sys.executable, str(RECIPES / "pos_create_link.py"), "not-our-store", "POS-2"],
        env=_env(stack, creds),
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode != 0 and "403" in bad.stderr


def test_the_nightly_export_recipe_pages_through_a_day(stack):
    if not shutil.which("curl"):  # the recipe is a curl script: a machine without curl fails, never skips
        pytest.fail("curl is not installed (apt-get install curl)", pytrace=False)
    creds = stack.bootstrap("4900", "export-cafe")
    key = {"x-api-key": creds["storeApiKey"]}
    for n in range(3):
        body = {"storeSlug": "export-cafe", "payload": {"orderId": f"EXP-{n}"}}
        token = stack.request("POST", "/api/external/token", headers=key, json=body).json()["token"]
        stack.request("POST", "/api/external/public/submit", json={"token": token, "rating": 3 + n % 3})
    today = datetime.now(UTC).date().isoformat()
    out = subprocess.run(
        ["bash", str(RECIPES / "nightly_export.sh"), "export-cafe", today],
        env=_env(stack, creds),
        cwd=stack.data_dir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(r["orderId"] for r in rows) == ["EXP-0", "EXP-1", "EXP-2"]


def test_the_webhook_recipe_verifies_a_signed_delivery_and_refuses_a_forged_one():
    sys.path.insert(0, str(RECIPES))
    try:
        import verify_webhook
    finally:
        sys.path.remove(str(RECIPES))
    from standardwebhooks.webhooks import Webhook

    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"type":"feedback.created","timestamp":"2026-12-01T10:00:00Z","data":{"rating":5}}'
    now = datetime.now(UTC)
    signature = Webhook(secret).sign("msg_1", now, body.decode())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}
    assert verify_webhook.verify(secret, body, headers)["data"] == {"rating": 5}
    with pytest.raises(verify_webhook.WebhookVerificationError):
        verify_webhook.verify(secret, body.replace(b"5", b"1"), headers)
