"""Webhooks end to end on the local stack: a loopback receiver (a thread of this test), a customer's
answer, the signed delivery verified with the ``standardwebhooks`` library, retries, replay.

This module starts its own stack with a short retry schedule (``WEBHOOK_RETRY_SCHEDULE=0,1,1,1``:
attempts 1 s apart instead of 5 s, 5 min, ...); the loopback URL is allowed there because the
local stack alone sets ``WEBHOOK_ALLOW_LOOPBACK`` (revisit_dev.resources).
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.e2e.conftest import LocalStack


class Receiver:
    """An HTTP server on loopback: answers each POST to a path from ``script[path]`` (then 200),
    keeps every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: dict[str, list[int]] = {}
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                answers = receiver.script.get(self.path) or []
                status = answers.pop(0) if answers else 200
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def on(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(tmp_path_factory.mktemp("revisit-webhooks"), {"WEBHOOK_RETRY_SCHEDULE": "0,1,1,1"})
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def creds(local: LocalStack) -> dict[str, Any]:
    return local.bootstrap("1042", "downtown-coffee")


def wait_for(predicate, timeout: float = 45.0, what: str = "it"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}", pytrace=False)


def register(local: LocalStack, creds: dict[str, Any], url: str) -> dict[str, Any]:
    r = local.request(
        "POST",
        "/api/webhooks",
        json={"url": url, "events": ["feedback.created"], "description": "e2e receiver"},
        headers=local.owner_headers(creds),
    )
    assert r.status_code == 201, r.text
    return r.json()


def answer(local: LocalStack, creds: dict[str, Any], order: str, rating: int = 4) -> None:
    token = local.request(
        "POST",
        "/api/external/token",
        json={"storeSlug": "downtown-coffee", "payload": {"orderId": order}},
        headers={"x-api-key": creds["storeApiKey"]},
    ).json()["token"]
    submitted = local.request("POST", "/api/external/public/submit", json={"token": token, "rating": rating})
    assert submitted.status_code == 201, submitted.text


def deliveries(local: LocalStack, creds: dict[str, Any], hook: dict[str, Any]) -> list[dict[str, Any]]:
    r = local.request("GET", f"/api/webhooks/{hook['id']}/deliveries", headers=local.owner_headers(creds))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_submitted_answer_arrives_signed(local, creds, receiver):
    hook = register(local, creds, f"{receiver.url}/signed")
    answer(local, creds, "WH-1", rating=5)
    (request,) = wait_for(lambda: receiver.on("/signed"), what="the delivery")
    payload = Webhook(hook["secret"]).verify(request["body"], request["headers"])
    assert payload["type"] == "feedback.created"
    assert payload["data"]["rating"] == 5 and payload["data"]["payload"] == {"orderId": "WH-1"}
    assert set(payload) == {"type", "timestamp", "data"} and "workspaceId" not in payload["data"]
    log = wait_for(lambda: [d for d in deliveries(local, creds, hook) if d["status"] == "succeeded"])
    assert log[0]["msgId"] == request["headers"]["webhook-id"] and log[0]["attempts"] == 1
    r = local.request(
        "PATCH", f"/api/webhooks/{hook['id']}", json={"enabled": False}, headers=local.owner_headers(creds)
    )
    assert r.status_code == 200 and r.json()["enabled"] is False  # the next tests' answers are not for it


def test_a_receiver_failing_twice_then_succeeding_shows_three_attempts_and_replay_keeps_the_id(local, creds, receiver):
    hook = register(local, creds, f"{receiver.url}/flaky")
    receiver.script["/flaky"] = [500, 503]
    answer(local, creds, "WH-2")
    wait_for(lambda: len(receiver.on("/flaky")) >= 3, what="three attempts")
    log = wait_for(lambda: [d for d in deliveries(local, creds, hook) if d["status"] == "succeeded"])
    assert (log[0]["attempts"], log[0]["responseCode"]) == (3, 200)
    attempts = receiver.on("/flaky")
    assert len({a["headers"]["webhook-id"] for a in attempts}) == 1  # stable across retries
    for a in attempts:
        Webhook(hook["secret"]).verify(a["body"], a["headers"])

    replay = local.request(
        "POST", f"/api/webhooks/{hook['id']}/deliveries/{log[0]['id']}/replay", headers=local.owner_headers(creds)
    )
    assert replay.status_code == 202, replay.text
    wait_for(lambda: len(receiver.on("/flaky")) >= 4, what="the replay")
    again = receiver.on("/flaky")[3]
    assert again["headers"]["webhook-id"] == attempts[0]["headers"]["webhook-id"]
    assert json.loads(again["body"]) == json.loads(attempts[0]["body"])
    assert Webhook(hook["secret"]).verify(again["body"], again["headers"])["type"] == "feedback.created"


def test_another_workspace_sees_none_of_it(local, creds, receiver):
    hook_id = register(local, creds, f"{receiver.url}/isolated")["id"]  # this test's own endpoint
    other = local.bootstrap("2000", "elsewhere")
    r = local.request("GET", "/api/webhooks", headers=local.owner_headers(other))
    assert r.status_code == 200 and r.json() == {"items": []}
    mine = local.request("GET", "/api/webhooks", headers=local.owner_headers(creds)).json()["items"]
    assert hook_id in {h["id"] for h in mine}, mine
    assert local.request("GET", f"/api/webhooks/{hook_id}", headers=local.owner_headers(other)).status_code == 404
    r = local.request("GET", f"/api/webhooks/{hook_id}/deliveries", headers=local.owner_headers(other))
    assert r.status_code == 404
