"""Injected faults (issue 18 part 3): each DynamoDB call of a request fails in turn - throttling,
provisioned throughput exceeded, an internal server error, a read timeout - on every attempt
boto3's standard retries make. The request answers 503 JSON UNAVAILABLE with Retry-After, leaves
the table as it was, and the same request retried afterwards succeeds exactly once."""

from __future__ import annotations

import json

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from moto.core.models import botocore_stubber

from revisit.dal import table as table_module
from revisit.domain import nps, workspaces
from tests.support import api_event, invoke
from tests.unit.test_links_and_submit import SEED_TOKEN_BODY
from tests.unit.test_trackers import partner_headers, purchase, surveys  # noqa: F401 (fixture)

ERRORS = {  # kind -> (HTTP status, DynamoDB error type)
    "throttling": (400, "ThrottlingException"),
    "throughput": (400, "ProvisionedThroughputExceededException"),
    "internal": (500, "InternalServerError"),
}
KINDS = [*ERRORS, "read-timeout"]
INJECTED: list[tuple[str, int]] = []  # every fault injected in this process (reported by -s)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_kw):
        yield self.data


class Faults:
    """A botocore hook on the data layer's client: call number ``fail_at`` of the next request
    (counted by ``before-call``) fails on every attempt (``before-send``, ahead of moto)."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.fail_at = 0
        self.calls: list[str] = []
        self.attempts = 0
        self._failing = False
        events = table_module.client.meta.events
        events.register("before-call.dynamodb", self._before_call)
        events.register_first("before-send.dynamodb", self._before_send)
        events.register_last("before-send", self._after_send)  # after moto's (the generic name runs last)

    def close(self) -> None:
        botocore_stubber.enabled = True
        events = table_module.client.meta.events
        events.unregister("before-call.dynamodb", self._before_call)
        events.unregister("before-send.dynamodb", self._before_send)
        events.unregister("before-send", self._after_send)

    def _after_send(self, **_kw) -> None:
        botocore_stubber.enabled = True

    def arm(self, kind: str | None, fail_at: int = 0) -> None:
        self.kind, self.fail_at, self.calls, self.attempts = kind, fail_at, [], 0

    def _before_call(self, model, **_kw) -> None:
        self.calls.append(model.name)
        self._failing = self.kind is not None and len(self.calls) == self.fail_at

    def _before_send(self, request, **_kw):
        if not self._failing:
            return None
        self.attempts += 1
        if self.kind == "read-timeout":  # raising ends the event: moto never sees the request
            raise ReadTimeoutError(endpoint_url=request.url)
        # botocore runs every before-send handler: moto's must not apply the request DynamoDB
        # refused. Off for this attempt only (_after_send, the last handler, turns it back on).
        botocore_stubber.enabled = False
        status, code = ERRORS[self.kind]
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"})
        headers = {"x-amzn-RequestId": "injected", "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, status, headers, _Body(body.encode()))


@pytest.fixture
def faults(monkeypatch):
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda _s: None)  # standard mode's backoff
    injector = Faults()
    yield injector
    injector.close()


def snapshot(table):
    items = table.scan(TableName="revisit-unit", ConsistentRead=True)["Items"]
    return sorted(json.dumps(i, sort_keys=True) for i in items)


def of_type(table, type_):
    items = table.scan(TableName="revisit-unit", ConsistentRead=True)["Items"]
    return [i for i in items if i.get("type", {}).get("S") == type_]


def new_token(world):
    body = json.loads(SEED_TOKEN_BODY)
    reply = invoke("token", api_event("POST", "/api/external/token", body=body, headers={"x-api-key": world.store_key}))
    assert reply.status == 201
    return reply.json["token"]


def assert_unavailable(reply):
    assert reply.status == 503, reply.text
    if "error" in reply.json:
        assert reply.json["error"]["code"] == "UNAVAILABLE"
        assert set(reply.json["error"]) == {"code", "message", "details"}
    else:  # the NPS seed's routes keep the seed's error shape
        assert reply.json == {"status": "error", "message": reply.json["message"]}
        assert "unavailable" in reply.json["message"]
    assert reply.headers["retry-after"] == "1"
    assert reply.headers["content-type"] == "application/json"


def run_faults(faults, table, prepare, request, created_type=None, succeeded=(200, 201)):
    """Every call of ``request`` failed in turn with every kind: 503, the table unchanged, then the
    same request again succeeds and adds exactly one ``created_type`` item. Returns the number of
    faults injected."""
    context = prepare()
    faults.arm(None)
    calls = len(faults.calls)  # nothing yet
    probe_context = prepare()
    faults.arm(None)
    assert request(probe_context).status in succeeded
    calls = len(faults.calls)
    assert calls >= 1
    injected, attempts = 0, []
    for kind in KINDS:
        for index in range(1, calls + 1):
            context = prepare()
            before = snapshot(table)
            created_before = len(of_type(table, created_type)) if created_type else 0
            faults.arm(kind, index)
            reply = request(context)
            # boto3's standard mode: 3 attempts, fewer once its retry quota (500 tokens a client, 5 a
            # retry, 10 a timeout; refilled by successes) is spent - as under a long outage in AWS.
            assert 1 <= faults.attempts <= 3, (kind, index, faults.calls)
            attempts.append(faults.attempts)
            assert_unavailable(reply)
            assert snapshot(table) == before, (kind, index, faults.calls)  # no partial state
            injected += 1
            INJECTED.append((kind, index))
            faults.arm(None)
            again = request(context)
            assert again.status in succeeded, (kind, index, again.text)
            if created_type:
                assert len(of_type(table, created_type)) == created_before + 1  # exactly once
    return injected


def test_the_client_retries_in_standard_mode_3_attempts_within_the_function_timeout():
    config = table_module.client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert 3 * (config.connect_timeout + config.read_timeout) + 1 + 2 < 10  # Globals Timeout: 10 s


def test_token_create(world, table, faults):
    def request(_):
        body = json.loads(SEED_TOKEN_BODY)
        headers = {"x-api-key": world.store_key}
        return invoke("token", api_event("POST", "/api/external/token", body=body, headers=headers))

    assert run_faults(faults, table, lambda: None, request, "token") >= len(KINDS) * 2


def test_token_create_with_an_idempotency_key(world, table, faults):
    keys = iter(range(10_000))

    def prepare():
        return f"idem-{next(keys)}"

    def request(key):
        body = json.loads(SEED_TOKEN_BODY)
        headers = {"x-api-key": world.store_key, "Idempotency-Key": key}
        return invoke("token", api_event("POST", "/api/external/token", body=body, headers=headers))

    run_faults(faults, table, prepare, request, "token")


def test_submit(world, table, faults):
    def request(token):
        body = {"token": token, "rating": 4, "comment": "ok"}
        return invoke("submit", api_event("POST", "/api/external/public/submit", body=body))

    assert run_faults(faults, table, lambda: new_token(world), request, "feedback") >= len(KINDS)


def test_tracker_generate(world, table, faults, surveys):  # noqa: F811
    ids = iter(range(10_000))

    def prepare():
        purchase_id = f"P-{next(ids)}"
        assert purchase(world, purchase_id).status in (200, 201)
        return purchase_id

    def request(purchase_id):
        event = api_event(
            "POST",
            "/partners/survey-tracker/generate",
            body={"purchaseId": purchase_id},
            headers=partner_headers(world),
        )
        return invoke("tracker_generate", event)

    def generated(purchase_id):
        reply = request(purchase_id)
        return reply

    injected = run_faults(faults, table, prepare, generated, succeeded=(200, 201))
    assert injected >= len(KINDS)
    # Exactly once: each purchase has one tracker per survey, however many times it was retried.
    trackers = of_type(table, "tracker")
    per_purchase = {}
    for t in trackers:
        key = (t["purchaseId"]["S"], t["surveyId"]["S"])
        per_purchase[key] = per_purchase.get(key, 0) + 1
    assert set(per_purchase.values()) == {1}


def test_nps_create(world, table, faults):
    codes = nps.default_codes(world.shop_id)

    def request(_):
        body = {
            "shop_id": world.shop_id,
            "shop_secret": world.shop_secret,
            "rate": 9,
            "email": "ann@example.com",
            "channel": codes["defaultChannel"],
            "category": codes["defaultCategory"],
        }
        return invoke("nps_create", api_event("POST", "/nps/create", body=body))

    assert run_faults(faults, table, lambda: None, request, "nps_review") >= len(KINDS)


def test_survey_page(world, table, faults):
    token = new_token(world)

    def request(_):
        event = api_event("GET", f"/s/{token}", resource="/s/{token}", path_params={"token": token})
        return invoke("survey_page", event)

    def prepare():
        workspaces._store_cache.clear()  # the store's branding is read again: two calls a page

    assert run_faults(faults, table, prepare, request) == len(KINDS) * 2
