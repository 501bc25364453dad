"""Alert emails end to end on the local stack (docs/alerts.md): the store's alertEmails set with a
PATCH, a 1-star answer through a survey link's page, the alert in the local outbox
(``GET /_local/outbox``) with its List-Unsubscribe link, the unsubscribe page followed (GET asks,
POST unsubscribes), and the next low answer reaching the other address only (so it was processed:
the silence of the first is no timing accident).

The stack's schedules tick every second here (REVISIT_SCHEDULE_SECONDS=1), so the daily digest
run also goes out for the store's last week - once, however many runs follow.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import LocalStack

BOSS = "boss@corner.example.com"
SHIFT = "shift@corner.example.com"


def wait_for(predicate, timeout: float = 45.0, what: str = "it"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}", pytrace=False)


def emails(stack: LocalStack, to: str) -> list[dict[str, Any]]:
    r = stack.request("GET", "/_local/outbox")
    assert r.status_code == 200, r.text
    return [m for m in r.json()["emails"] if to in m["to"]]


def answer_through_the_page(stack: LocalStack, creds: dict[str, Any], store: str, rating: int, comment: str) -> None:
    made = stack.request(
        "POST",
        "/api/external/token",
        json={"storeSlug": store, "payload": {"orderId": f"E2E-{uuid.uuid4().hex[:6]}"}},
        headers={"x-api-key": creds["storeApiKey"]},
    )
    assert made.status_code == 201, made.text
    path = "/s/" + made.json()["token"]
    assert stack.request("GET", path).status_code == 200
    page = stack.request("POST", path, data={"rating": str(rating), "comment": comment})
    assert page.status_code == 200 and "<form" not in page.text, page.text[:500]


def test_an_alert_in_the_outbox_its_unsubscribe_link_and_silence_after_it(stack):
    workspace, store = f"alerts{uuid.uuid4().hex[:6]}", "corner-cafe"
    creds = stack.bootstrap(workspace, store)
    patched = stack.request(
        "PATCH", f"/api/stores/{store}", json={"alertEmails": [BOSS, SHIFT], "name": "Corner Café"},
        headers=stack.owner_headers(creds),
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert (patched.json()["alertEmails"], patched.json()["alertMaxRating"]) == ([BOSS, SHIFT], 2)
    refused = stack.request("PATCH", f"/api/stores/{store}", json={"alertEmails": ["nope"]},
                            headers=stack.owner_headers(creds))  # fmt: skip
    assert refused.status_code == 400 and refused.json()["error"]["details"][0]["field"] == "alertEmails.0"

    answer_through_the_page(stack, creds, store, 1, "Cold coffee, long wait")

    def alerts(to: str) -> list[dict[str, Any]]:
        return [m for m in emails(stack, to) if "rated 1 out of 5" in m["subject"]]

    mail = wait_for(lambda: alerts(BOSS), what="the low-rating alert in the outbox")[0]
    assert mail["subject"] == "Corner Café: an answer rated 1 out of 5"
    assert "Cold coffee, long wait" in mail["body"] and "/app/feedback/" in mail["body"]
    link = mail["headers"]["List-Unsubscribe"].strip("<>")
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in mail["body"] and link.startswith(stack.url("/alerts/unsubscribe/"))

    # the daily digest run (every second here) sends last week's digest once
    digest = wait_for(lambda: [m for m in emails(stack, BOSS) if "your week from" in m["subject"]], what="a digest")
    assert "Answers: 0" in digest[0]["body"]

    path = link[len(stack.url("")) :]
    page = stack.request("GET", path)
    assert page.status_code == 200 and '<form method="post">' in page.text and "<script" not in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    done = stack.request("POST", path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "Unsubscribed" in done.text
    assert re.search(r"no more alert emails", done.text)

    before = len(emails(stack, BOSS))
    assert len(wait_for(lambda: alerts(SHIFT), what="the other address's alert")) == 1
    answer_through_the_page(stack, creds, store, 1, "Still cold")
    second = wait_for(lambda: len(alerts(SHIFT)) == 2 and alerts(SHIFT), what="the second alert to the other address")
    assert "Still cold" in second[-1]["body"]
    assert len(emails(stack, BOSS)) == before  # the same message, handled: nothing for the unsubscribed address
    assert len([m for m in emails(stack, BOSS) if "your week from" in m["subject"]]) == 1  # the digest once
