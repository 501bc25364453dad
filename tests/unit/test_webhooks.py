"""Webhooks (Standard Webhooks v1): the API, fan-out from the stream, signing, retries, SSRF.

Signatures are checked with the ``standardwebhooks`` library (the receivers' side), never with
our own code. Sending goes through a fake sender, except where the SSRF guard itself is tested.
"""

from __future__ import annotations

import copy
import http.server
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from standardwebhooks import Webhook

from revisit_dev.streams import matches_filters
from revisit_dev.template import load_template
from tests.analytics_support import deliver, fb, put_feedback
from tests.support import Context, api_event, function, invoke

INTEGRATION = next(f for f in load_template().functions if f.logical_id == "IntegrationEventsFunction")
FILTERS = INTEGRATION.streams[0].filters
SPEC_SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


# ------------------------------------------------------------------ helpers


def call(method: str, path: str, headers: dict[str, str], body: Any = None, query: dict | None = None):
    parts = path.strip("/").split("/")
    params, resource = {}, "/" + "/".join(parts)
    if len(parts) >= 3:
        params["webhookId"] = parts[2]
        resource = resource.replace(parts[2], "{webhookId}", 1)
    if len(parts) >= 5 and parts[3] == "deliveries":
        params["deliveryId"] = parts[4]
        resource = resource.replace(parts[4], "{deliveryId}", 1)
    event = api_event(
        method, path, resource=resource, body=body, headers=headers, query=query, path_params=params or None
    )
    return invoke("webhooks", event)


@pytest.fixture
def settings_env(monkeypatch):
    """Set webhook settings for one test (the settings object is read once per container)."""
    from revisit import webhook_delivery
    from revisit.config import settings

    def apply(**env: str) -> None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings.cache_clear()

    yield apply
    settings.cache_clear()
    webhook_delivery._sqs.cache_clear()


@pytest.fixture
def queue(settings_env):
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"deliveries-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    settings_env(WEBHOOK_QUEUE_URL=url)

    def messages() -> list[dict[str, Any]]:
        out = []
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for m in got:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    return messages


@pytest.fixture
def sent(monkeypatch):
    """What the domain queues (message, delay), without SQS's own delays in the way."""
    from revisit import webhook_delivery

    queued: list[tuple[dict[str, Any], float]] = []
    monkeypatch.setattr(webhook_delivery, "enqueue", lambda message, delay=0: queued.append((message, delay)))
    return queued


class FakeReceiver:
    """A sender that records each request and answers from a script of results."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    def __call__(self, url: str, headers: dict[str, str], body: bytes):
        from revisit.webhook_delivery import Result

        self.requests.append((url, headers, body))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, tuple):
            status, retry_after = answer
            return Result(status, 12, None if 200 <= status < 300 else f"HTTP {status}", retry_after)
        return Result(answer, 12, None if 200 <= answer < 300 else f"HTTP {answer}")


def create_webhook(world, events=("feedback.created",), url="https://hooks.example.com/revisit", **extra):
    r = call("POST", "/api/webhooks", world.owner_headers(), {"url": url, "events": list(events), **extra})
    assert r.status == 201, r.text
    return r.json


def integration_events(stream) -> dict[str, Any]:
    """Hand the stream's new records to the integration-events consumer, filtered as in the template."""
    records = [r for r in stream.read_all() if matches_filters(FILTERS, r)]
    return function("integration_events").lambda_handler({"Records": copy.deepcopy(records)}, Context())


def feedback_delivery(world, stream, sent, events=("feedback.created",)) -> tuple[dict, dict]:
    hook = create_webhook(world, events)
    put_feedback(fb("CIV-1", "2026-03-01T09:00:00.000Z", 4, ws=world.workspace_id, store=world.store))
    integration_events(stream)
    assert len(sent) == 1
    return hook, sent.pop()[0]


# ------------------------------------------------------------------ the API


def test_crud_and_the_secret_shown_once(world):
    hook = create_webhook(world, ["feedback.created", "customer.dissatisfied"], description="CRM")
    assert hook["secret"].startswith("whsec_") and len(Webhook(hook["secret"])._whsecret) == 32
    assert hook["events"] == ["feedback.created", "customer.dissatisfied"] and hook["enabled"] is True
    listed = call("GET", "/api/webhooks", world.owner_headers()).json["items"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    got = call("GET", f"/api/webhooks/{hook['id']}", {"x-api-key": world.workspace_key})
    assert got.status == 200 and "secret" not in got.json and "whsec_" not in got.text
    patched = call(
        "PATCH", f"/api/webhooks/{hook['id']}", world.owner_headers(), {"enabled": False, "description": None}
    )
    assert patched.status == 200 and patched.json["enabled"] is False and patched.json["description"] is None
    assert call("PATCH", f"/api/webhooks/{hook['id']}", world.owner_headers(), {"url": None}).status == 400
    assert call("DELETE", f"/api/webhooks/{hook['id']}", world.owner_headers()).json == {
        "id": hook["id"],
        "deleted": True,
    }
    assert call("GET", f"/api/webhooks/{hook['id']}", world.owner_headers()).status == 404


def test_validation_of_url_events_and_store(world):
    def create(body):
        return call("POST", "/api/webhooks", world.owner_headers(), body)

    assert create({"url": "https://hooks.example.com", "events": ["order.paid"]}).status == 400
    assert create({"url": "https://hooks.example.com", "events": []}).status == 400
    for url in ("http://hooks.example.com/x", "https://10.0.0.1/x", "https://169.254.169.254/", "https://[::1]/",
                "https://localhost/x", "http://127.0.0.1:8080/x"):  # fmt: skip
        r = create({"url": url, "events": ["feedback.created"]})
        assert r.status == 400 and r.json["error"]["details"][0]["field"] == "url", url
    r = create({"url": "https://hooks.example.com", "events": ["nps.created"], "storeSlug": "nowhere"})
    assert r.status == 404


def test_the_local_stack_alone_allows_loopback_urls(world, settings_env):
    settings_env(WEBHOOK_ALLOW_LOOPBACK="true")
    assert create_webhook(world, url="http://127.0.0.1:8080/hook")["url"] == "http://127.0.0.1:8080/hook"
    r = call("POST", "/api/webhooks", world.owner_headers(), {"url": "http://10.0.0.1/", "events": ["nps.created"]})
    assert r.status == 400  # loopback, not any private address


def test_a_foreign_workspace_sees_no_endpoint_and_no_delivery(world, stream, sent):
    hook, message = feedback_delivery(world, stream, sent)
    foreign = {"Authorization": f"Bearer {world.foreign_owner_token}", "x-workspace-id": world.foreign_workspace_id}
    assert call("GET", "/api/webhooks", foreign).json == {"items": []}
    assert call("GET", "/api/webhooks", {"x-api-key": world.foreign_key}).json == {"items": []}
    for method, path in [
        ("GET", f"/api/webhooks/{hook['id']}"),
        ("PATCH", f"/api/webhooks/{hook['id']}"),
        ("DELETE", f"/api/webhooks/{hook['id']}"),
        ("POST", f"/api/webhooks/{hook['id']}/rotate-secret"),
        ("GET", f"/api/webhooks/{hook['id']}/deliveries"),
        ("POST", f"/api/webhooks/{hook['id']}/deliveries/{message['delivery']}/replay"),
    ]:
        r = call(method, path, foreign, {"enabled": True} if method == "PATCH" else None)
        assert r.status == 404, (method, path, r.text)
    # a store-scoped key of the same workspace manages no webhooks
    assert call("GET", "/api/webhooks", {"x-api-key": world.store_key}).status == 403
    assert call("GET", f"/api/webhooks/{hook['id']}", world.owner_headers()).status == 200


# ------------------------------------------------------------------ fan-out and signing


def test_feedback_becomes_one_signed_delivery_per_matching_endpoint(world, stream, queue):
    from revisit.domain import webhooks

    hook = create_webhook(world)
    other_store = create_webhook(world, storeSlug=world.other_store)
    create_webhook(world, ["nps.created"])  # not subscribed
    put_feedback(fb("CIV-1", "2026-03-01T09:00:00.000Z", 4, ws=world.workspace_id, store=world.store))
    integration_events(stream)
    messages = queue()
    assert [m["webhook"] for m in messages] == [hook["id"]]
    assert other_store["id"] not in json.dumps(messages)

    receiver = FakeReceiver(200)
    assert webhooks.dispatch(messages[0], sender=receiver) == "succeeded"
    url, headers, body = receiver.requests[0]
    payload = Webhook(hook["secret"]).verify(body, headers)
    assert url == hook["url"] and payload["type"] == "feedback.created"
    assert payload["timestamp"] == "2026-03-01T09:00:00.000Z" and len(body) <= 20 * 1024
    assert payload["data"] == {
        "id": payload["data"]["id"], "storeSlug": world.store, "rating": 4, "civ": "CIV-1", "payload": {},
        "tokenKind": "one_time", "createdAt": "2026-03-01T09:00:00.000Z",
    }  # fmt: skip
    assert "workspaceId" not in payload["data"] and "civSource" not in payload["data"]
    log = call("GET", f"/api/webhooks/{hook['id']}/deliveries", world.owner_headers()).json["items"]
    assert [(d["event"], d["status"], d["attempts"], d["responseCode"]) for d in log] == [
        ("feedback.created", "succeeded", 1, 200)
    ]
    assert headers["webhook-id"] == log[0]["msgId"] and log[0]["latencyMs"] == 12

    # the same stream record again (a retried batch) queues nothing twice
    assert webhooks.fan_out(_source_of_feedback(world)) == 0


def _source_of_feedback(world):
    from revisit.dal import feedback, stream, table

    item = table.query_partition(feedback.keys.feedback_store_pk(world.workspace_id, world.store))[0]
    return stream.webhook_source("INSERT", item, None)


def test_events_carry_no_more_than_the_api_returns_and_imports_fire_nothing():
    from revisit.dal import stream

    review = {"type": "nps_review", "id": 7, "workspaceId": "1042", "storeSlug": "s", "rate": 9, "channel": "web",
              "category": "c", "createdAt": "2026-03-01T00:00:00.000Z", "emailHash": "h", "client": 3}  # fmt: skip
    event = stream.webhook_source("INSERT", review, None)
    assert set(event.data) == {"id", "storeSlug", "rate", "channel", "category", "createdAt", "client"}
    assert stream.webhook_source("INSERT", {**review, "imported": True}, None) is None
    assert stream.webhook_source("INSERT", {"type": "feedback", "imported": True, "id": "x"}, None) is None


def test_rotation_signs_with_both_secrets_for_24_hours(world, stream, sent):
    from revisit import webhook_delivery
    from revisit.domain import webhooks

    hook, message = feedback_delivery(world, stream, sent)
    rotated = call("POST", f"/api/webhooks/{hook['id']}/rotate-secret", world.owner_headers())
    assert rotated.status == 200 and rotated.json["secret"] != hook["secret"]
    assert rotated.json["previousSecretExpiresAt"] is not None
    receiver = FakeReceiver(500)
    webhooks.dispatch(message, sender=receiver)
    _, headers, body = receiver.requests[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(hook["secret"]).verify(body, headers)["type"] == "feedback.created"
    assert Webhook(rotated.json["secret"]).verify(body, headers)["type"] == "feedback.created"

    later = datetime.now(UTC) + timedelta(hours=25)
    retry, _ = sent.pop()
    webhooks.dispatch(retry, sender=receiver, at=later)
    _, headers, body = receiver.requests[1]
    ts = int(headers["webhook-timestamp"])
    assert headers["webhook-signature"] == webhook_delivery.sign(rotated.json["secret"], headers["webhook-id"], ts,
                                                                 body.decode())  # fmt: skip


# ------------------------------------------------------------------ retries, 410, 429, disabling


def test_failures_follow_the_spec_schedule_then_fail(world, stream, sent):
    from revisit.domain import webhooks

    hook, message = feedback_delivery(world, stream, sent)
    receiver = FakeReceiver(500)
    at, delays = datetime.now(UTC), []
    while True:
        outcome = webhooks.dispatch(message, sender=receiver, at=at)
        if outcome != "retrying":
            break
        message, delay = sent.pop()
        delays.append(delay)
        assert ("dueAt" in message) is (delay > 900)  # beyond SQS's 900 s: travels as dueAt
        at += timedelta(seconds=delay)
    assert outcome == "failed" and delays == SPEC_SCHEDULE[1:]
    assert len(receiver.requests) == 8 and len({h["webhook-id"] for _, h, _ in receiver.requests}) == 1
    log = call("GET", f"/api/webhooks/{hook['id']}/deliveries", world.owner_headers()).json["items"][0]
    assert (log["status"], log["attempts"], log["responseCode"], log["lastError"]) == ("failed", 8, 500, "HTTP 500")


def test_a_long_delay_is_put_back_until_due(world, stream, sent):
    from revisit.domain import webhooks

    _, message = feedback_delivery(world, stream, sent)
    due = datetime.now(UTC) + timedelta(hours=2)
    early = {**message, "dueAt": due.timestamp()}
    assert webhooks.dispatch(early, sender=FakeReceiver(200), at=due - timedelta(seconds=3000)) == "deferred"
    again, delay = sent.pop()
    assert again == early and delay == pytest.approx(3000, abs=1)


def test_429_honours_retry_after_and_410_disables_the_endpoint(world, stream, sent):
    from revisit.domain import webhooks

    hook, message = feedback_delivery(world, stream, sent)
    assert webhooks.dispatch(message, sender=FakeReceiver((429, 120.0))) == "retrying"
    message, delay = sent.pop()
    assert delay == 120.0  # not the schedule's 5 s
    assert webhooks.dispatch(message, sender=FakeReceiver(410)) == "disabled"
    assert sent == []
    got = call("GET", f"/api/webhooks/{hook['id']}", world.owner_headers()).json
    assert got["enabled"] is False and "410" in got["disabledReason"]
    log = call("GET", f"/api/webhooks/{hook['id']}/deliveries", world.owner_headers()).json["items"][0]
    assert (log["status"], log["attempts"], log["responseCode"]) == ("failed", 2, 410)
    replay = call("POST", f"/api/webhooks/{hook['id']}/deliveries/{log['id']}/replay", world.owner_headers())
    assert replay.status == 409  # enable it first
    assert call("PATCH", f"/api/webhooks/{hook['id']}", world.owner_headers(), {"enabled": True}).json["enabled"]


def test_an_endpoint_failing_for_five_days_is_disabled(world, stream, sent):
    from revisit.dal import webhooks as dal
    from revisit.domain import webhooks

    hook, message = feedback_delivery(world, stream, sent)
    six_days_ago = (datetime.now(UTC) - timedelta(days=6)).isoformat().replace("+00:00", "Z")
    dal.update(world.workspace_id, hook["id"], {"failingSince": six_days_ago})
    assert webhooks.dispatch(message, sender=FakeReceiver(503)) == "disabled"
    assert dal.get(world.workspace_id, hook["id"])["enabled"] is False


def test_replay_keeps_the_webhook_id_and_recover_resends_failures(world, stream, sent):
    from revisit.domain import webhooks

    hook, message = feedback_delivery(world, stream, sent)
    first = FakeReceiver(200)
    webhooks.dispatch(message, sender=first)
    delivery_id = message["delivery"]
    r = call("POST", f"/api/webhooks/{hook['id']}/deliveries/{delivery_id}/replay", world.owner_headers())
    assert r.status == 202 and r.json["status"] == "pending"
    replayed, _ = sent.pop()
    again = FakeReceiver(200)
    assert webhooks.dispatch(replayed, sender=again) == "succeeded"
    assert again.requests[0][1]["webhook-id"] == first.requests[0][1]["webhook-id"]
    assert Webhook(hook["secret"]).verify(again.requests[0][2], again.requests[0][1])

    # a delivery that failed for good comes back with recover
    from revisit.dal import webhooks as dal

    record = dal.get_delivery(world.workspace_id, hook["id"], delivery_id)
    dal.set_delivery(record, {"status": "failed"})
    r = call("POST", f"/api/webhooks/{hook['id']}/recover", world.owner_headers(), {"since": "2026-02-28T00:00:00Z"})
    assert r.status == 202 and r.json["recovered"] == 1
    assert call("POST", f"/api/webhooks/{hook['id']}/recover", world.owner_headers(),
                {"since": "2026-03-02T00:00:00Z"}).json["recovered"] == 0  # fmt: skip
    assert len(sent) == 1


def test_the_dispatcher_function_reads_sqs_records(world, stream, sent, monkeypatch):
    from revisit import webhook_delivery

    _, message = feedback_delivery(world, stream, sent)
    receiver = FakeReceiver(200)
    monkeypatch.setattr(webhook_delivery, "post", receiver)
    record = {"messageId": "m1", "receiptHandle": "r", "body": json.dumps(message), "attributes": {},
              "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:x:1:q"}  # fmt: skip
    result = function("webhook_dispatcher").lambda_handler({"Records": [record]}, Context())
    assert result == {"batchItemFailures": []} and len(receiver.requests) == 1


# ------------------------------------------------------------------ the churn alert


def test_one_customer_dissatisfied_when_a_civ_enters_the_watch_list(world, stream, sent):
    hook = create_webhook(world, ["customer.dissatisfied"])
    ratings = [5, 5, 3, 3, 3, 2, 2]  # enters at the 5th visit, stays on the list after
    for i, rating in enumerate(ratings):
        put_feedback(fb("LOYAL", f"2026-03-0{1 + i}T09:00:00.000Z", rating, ws=world.workspace_id, store=world.store))
    records = stream.read_all()
    from tests.analytics_support import STREAM_EVENT

    deliver([r for r in records if matches_filters(STREAM_EVENT.filters, r)])  # the aggregator
    integration_events(stream)  # feedback inserts (not subscribed) and the customer's states
    assert len(sent) == 1
    from revisit.domain import webhooks

    receiver = FakeReceiver(200)
    webhooks.dispatch(sent[0][0], sender=receiver)
    payload = Webhook(hook["secret"]).verify(receiver.requests[0][2], receiver.requests[0][1])
    assert payload == {
        "type": "customer.dissatisfied",
        "timestamp": "2026-03-05T09:00:00.000Z",
        "data": {"storeSlug": world.store, "civ": "LOYAL", "visitCount": 5, "earlierAvg": 5.0, "recentAvg": 3.0,
                 "drop": 2.0, "recentRatings": [3, 3, 3], "lastVisitAt": "2026-03-05T09:00:00.000Z"},
    }  # fmt: skip


# ------------------------------------------------------------------ SSRF


@pytest.mark.parametrize(
    "url",
    ["https://169.254.169.254/latest/meta-data/", "https://10.0.0.1/hook", "https://[::1]/hook",
     "https://[::ffff:127.0.0.1]/", "https://[fd00:ec2::254]/", "https://100.64.0.1/", "https://0.0.0.0/",
     "http://93.184.216.34/plain-http"],
)  # fmt: skip
def test_private_loopback_link_local_and_metadata_addresses_are_refused(url):
    from revisit import webhook_delivery

    with pytest.raises(webhook_delivery.Refused):
        webhook_delivery.check_url(url, allow_loopback=False)
    result = webhook_delivery.post(url, {}, b"{}")
    assert result.status is None and result.error.startswith("refused")


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch):
    from revisit import webhook_delivery

    monkeypatch.setattr(webhook_delivery, "resolve", lambda host, port: ["127.0.0.1"])
    with pytest.raises(webhook_delivery.Refused, match=r"127\.0\.0\.1"):
        webhook_delivery.check_url("https://hooks.example.com/x", allow_loopback=False)
    monkeypatch.setattr(webhook_delivery, "resolve", lambda host, port: ["93.184.216.34", "10.1.2.3"])
    with pytest.raises(webhook_delivery.Refused, match=r"10\.1\.2\.3"):  # every address is checked
        webhook_delivery.check_url("https://hooks.example.com/x", allow_loopback=False)
    monkeypatch.setattr(webhook_delivery, "resolve", lambda host, port: ["93.184.216.34"])
    dest = webhook_delivery.check_url("https://hooks.example.com:8443/x?a=1", allow_loopback=False)
    assert (dest.host, dest.port, dest.target, dest.address) == ("hooks.example.com", 8443, "/x?a=1", "93.184.216.34")


class _Server:
    """A loopback HTTP server: ``/hook`` answers ``status`` (a 302 to ``/internal`` for 302)."""

    def __init__(self, status: int = 200) -> None:
        hits: list[tuple[str, dict[str, str], bytes]] = []
        self.hits = hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                hits.append((self.path, dict(self.headers), body))
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/internal")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_redirect_is_not_followed(monkeypatch, settings_env):
    from revisit import webhook_delivery

    server = _Server(302)
    try:
        # the first hop is allowed (a local-stack receiver); where it redirects to is never requested
        settings_env(WEBHOOK_ALLOW_LOOPBACK="true")
        monkeypatch.setattr(webhook_delivery, "resolve", lambda host, port: ["127.0.0.1"])
        result = webhook_delivery.post(f"http://hooks.example.com:{server.port}/hook", {}, b"{}")
        assert result.status == 302 and not result.ok and "not followed" in result.error
        assert [path for path, _, _ in server.hits] == ["/hook"]
        assert server.hits[0][1]["Host"] == f"hooks.example.com:{server.port}"  # connected by address
    finally:
        server.close()
    with pytest.raises(webhook_delivery.Refused):  # and the redirect's target is refused outside it
        webhook_delivery.check_url(f"http://127.0.0.1:{server.port}/internal", allow_loopback=False)


def test_loopback_is_allowed_only_with_the_local_stack_setting(settings_env):
    from revisit import webhook_delivery

    server = _Server(204)
    try:
        url = f"http://127.0.0.1:{server.port}/hook"
        assert webhook_delivery.post(url, {}, b"{}").error.startswith("refused")
        settings_env(WEBHOOK_ALLOW_LOOPBACK="true")
        secret = webhook_delivery.new_secret()
        body = json.dumps({"type": "feedback.created", "timestamp": "2026-03-01T00:00:00Z", "data": {}})
        ts = int(datetime.now(UTC).timestamp())
        result = webhook_delivery.post(url, webhook_delivery.headers([secret], "msg_1", ts, body), body.encode())
        assert result.ok and result.status == 204
        _, headers, received = server.hits[0]
        assert Webhook(secret).verify(received, headers)["type"] == "feedback.created"
        with pytest.raises(webhook_delivery.Refused):  # still no private address
            webhook_delivery.check_url("http://10.0.0.1/")
    finally:
        server.close()
