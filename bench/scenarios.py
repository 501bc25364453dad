"""One realistic request per endpoint (and per stream or schedule), and the data it needs.

``prepare`` builds a workspace (tests/world.py) with an email survey (a recorded purchase makes
its tracker: the one the click, integration-events and scheduler figures use) and an external one
(what ``generate`` makes), and what the requests consume - open tokens for submissions, recorded
purchases without their external tracker for tracker generation, stream records for the
aggregator - in whatever moto this process talks to (in-process mock or the moto server).
``event(name, fx, i)`` is the i-th request of a scenario as a Lambda event; it needs only the
fixture (plain JSON), so a parent process can build the events its child processes replay.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.support import api_event


@dataclass(frozen=True)
class Scenario:
    name: str
    function: str  # functions/<function>/app.py
    logical_id: str
    route: str  # what one request is
    kind: str = "api"  # api | stream | schedule
    authenticated: bool = True  # a credential look-up on the path (cold vs warm matters)
    latency: bool = True  # part of the warm-latency table


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("management", "management", "ManagementFunction", "GET /api/stores (owner)"),
        Scenario("token", "token", "TokenFunction", "POST /api/external/token"),
        Scenario("survey_page", "survey_page", "SurveyPageFunction", "GET /s/{token}", authenticated=False),
        Scenario("submit", "submit", "SubmitFunction", "POST /api/external/public/submit", authenticated=False),
        Scenario("feedback", "feedback", "FeedbackFunction", "GET /api/external/feedback?storeSlug="),
        Scenario("purchases", "purchases", "PurchasesFunction", "POST /partners/purchases (+ 1 email tracker)"),
        Scenario(
            "tracker_generate", "tracker_generate", "TrackerGenerateFunction", "POST …/generate (1 external tracker)"
        ),
        Scenario("tracker_get", "tracker_get", "TrackerGetFunction", "GET /partners/survey-tracker?id="),
        Scenario("tracker_list", "tracker_list", "TrackerListFunction", "POST /partners/survey-tracker/list"),
        Scenario("click", "click", "ClickFunction", "GET /r/{token} (new visitor)", authenticated=False),
        Scenario("nps_public", "nps_public", "NpsPublicFunction", "GET /nps/categories", authenticated=False),
        Scenario("nps_create", "nps_create", "NpsCreateFunction", "POST /nps/create (shop_secret)"),
        Scenario("nps_reviews", "nps_reviews", "NpsReviewsFunction", "GET /nps/reviews"),
        Scenario("dashboard", "dashboard", "DashboardFunction", "GET /api/external/dashboard"),
        Scenario("nps_score", "dashboard", "DashboardFunction", "GET /api/external/nps-score"),
        Scenario("webapp_store", "webapp", "WebAppFunction", "GET /app/stores/{slug} (web app page, signed in)"),
        Scenario("webapp_overview", "webapp", "WebAppFunction", "GET /app (web app overview, signed in)"),
        Scenario(
            "aggregator",
            "aggregator",
            "AggregatorFunction",
            "stream batch, 1 identified feedback",
            "stream",
            False,
            False,
        ),
        Scenario(
            "integration_events",
            "integration_events",
            "IntegrationEventsFunction",
            "stream batch, 1 completed tracker",
            "stream",
            False,
            False,
        ),
        Scenario("scheduler", "scheduler", "SchedulerFunction", "scheduled run, nothing due", "schedule", False, False),
    )
}

# The request a function's cold start and memory figures are measured with.
FUNCTION_SCENARIO = {
    "management": "management",
    "token": "token",
    "survey_page": "survey_page",
    "submit": "submit",
    "feedback": "feedback",
    "purchases": "purchases",
    "tracker_generate": "tracker_generate",
    "tracker_get": "tracker_get",
    "tracker_list": "tracker_list",
    "click": "click",
    "nps_public": "nps_public",
    "nps_create": "nps_create",
    "nps_reviews": "nps_reviews",
    "dashboard": "dashboard",
    "webapp": "webapp_store",
    "aggregator": "aggregator",
    "integration_events": "integration_events",
    "scheduler": "scheduler",
}

WS = "1042"
STORE = "downtown-coffee"


# ------------------------------------------------------------------ preparing the data


def _clone(table_name: str, key: dict[str, str], count: int, change: Any) -> list[Any]:
    """``count`` copies of the item at ``key``, each changed by ``change(item, i) -> value``."""
    from bench.common import bulk_put, peek
    from revisit.dal import table

    original = peek(table_name, table.serialize(key))
    assert original is not None, key
    values, items = [], []
    for i in range(count):
        item = copy.deepcopy(original)
        values.append(change(item, i))
        items.append(item)
    bulk_put(table_name, items)
    return values


def prepare(needs: dict[str, int], table_name: str) -> dict[str, Any]:
    """The workspace and everything the scenarios in ``needs`` (name -> requests) consume.

    Runs in a process whose ``revisit`` talks to moto (mock or server) for ``table_name``.
    """
    from bench import seed
    from bench.common import bulk_put, handler_module
    from revisit.dal import keys, table
    from revisit.dal import purchases as purchases_dal
    from revisit.dal import trackers as trackers_dal
    from revisit.domain.tokens import new_token_value
    from tests.world import build_world

    w = build_world(WS, STORE)
    fx: dict[str, Any] = {
        "ws": w.workspace_id,
        "store": w.store,
        "owner": w.owner_headers(),
        "store_key": w.store_key,
        "partner": {"X-API-KEY": w.partner_key, "X-API-SECRET": w.partner_secret},
        "shop_id": w.shop_id,
        "shop_secret": w.shop_secret,
        "run": uuid.uuid4().hex[:8],
    }

    def call(function: str, event: dict[str, Any]) -> dict[str, Any]:
        from bench.common import Context

        out = handler_module(function).lambda_handler(event, Context())
        assert out["statusCode"] < 300, (function, out)
        return json.loads(out.get("body") or "null")

    owner = fx["owner"]
    for survey in (
        # what recording a purchase sends (the purchase makes its tracker) ...
        {"storeSlug": STORE, "name": "After your visit", "sendingType": "email", "delayMinutes": 120},
        # ... and the link the partner hands out (generate makes its tracker)
        {"storeSlug": STORE, "name": "Rate us at the till", "sendingType": "external", "delayMinutes": 0},
    ):
        call("management", api_event("POST", "/api/surveys", body=survey, headers=owner))
    for kind, body in (
        ("categories", {"storeSlug": STORE, "code": "service", "name": "Service", "promoter_success": "Thanks!"}),
        ("channels", {"storeSlug": STORE, "code": "web", "name": "Website"}),
    ):
        call("management", api_event("POST", f"/api/nps/{kind}", resource="/api/nps/{kind}", body=body, headers=owner))
    call("purchases", purchase_event(fx, "P-BENCH-0"))  # makes the email tracker
    generated = call("tracker_generate", generate_event(fx, "P-BENCH-0"))  # makes the external one
    assert [t["sendingType"] for t in generated["items"]] == ["external"], generated
    sent = [t for t in trackers_dal.by_purchase(WS, "P-BENCH-0", None, None) if t["sendingType"] == "email"]
    assert len(sent) == 1, sent
    tracker = sent[0]
    tracker_id = tracker["id"]
    fx["tracker_id"] = tracker_id
    fx["tracker_token"] = tracker["token"]
    fx["tracker_image"] = table.serialize(trackers_dal.to_item(tracker, None))
    fx["page_token"] = call("token", token_event(fx, 0))["token"]

    # Feedback and NPS reviews of the last 30 days, with their aggregates (dashboard, search, reviews).
    now = datetime.now(UTC)
    records = seed.history(WS, STORE, 40, 40, now, seed=11)
    for r in records:
        if r["kind"] == "nps_review":
            r["shopId"] = w.shop_id
    seed.seed_store(table_name, records, now)

    if needs.get("submit"):
        fx["submit_tokens"] = _clone(
            table_name,
            keys.token(fx["page_token"]),
            needs["submit"],
            lambda item, i: _retoken(item, new_token_value()),
        )
    if needs.get("tracker_generate"):
        # recorded purchases (their store's keys and id look-up entry, as the dal writes them)
        # with no external tracker yet: each generate request creates one
        original = purchases_dal.get(WS, STORE, "P-BENCH-0")
        assert original is not None
        pids = [f"P-GEN-{fx['run']}-{i}" for i in range(needs["tracker_generate"])]
        bulk_put(table_name, [table.serialize(purchases_dal.to_item({**original, "purchaseId": p})) for p in pids])
        fx["generate_purchases"] = pids
    if needs.get("aggregator"):
        # identified customers' new feedback: the usual record (an anonymous one skips the GetItem)
        fresh = seed.history(WS, STORE, 3 * needs["aggregator"], 3 * needs["aggregator"], now, seed=23)
        fresh = [r for r in fresh if r["kind"] == "feedback" and r.get("civ")][: needs["aggregator"]]
        fx["aggregator_records"] = [seed.stream_record(r, 10_000 + i) for i, r in enumerate(fresh)]
    return fx


def _retoken(item: dict[str, Any], value: str) -> str:
    from revisit.dal import keys, table

    item.update(table.serialize(keys.token(value)))
    item["token"] = {"S": value}
    return value


# ------------------------------------------------------------------ the requests


def purchase_event(fx: dict[str, Any], purchase_id: str) -> dict[str, Any]:
    """A purchase made just now (a survey with a delay is not due yet)."""
    body = {
        "purchaseId": purchase_id,
        "customerId": "CUST-7891",
        "storeSlug": STORE,
        "purchasedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "amount": 23.5,
        "currency": "EUR",
        "email": "ann@example.com",
    }
    return api_event("POST", "/partners/purchases", body=body, headers=fx["partner"])


def generate_event(fx: dict[str, Any], purchase_id: str) -> dict[str, Any]:
    return api_event(
        "POST", "/partners/survey-tracker/generate", body={"purchaseId": purchase_id}, headers=fx["partner"]
    )


def token_event(fx: dict[str, Any], i: int) -> dict[str, Any]:
    body = {"storeSlug": STORE, "payload": {"orderId": f"ORD-{i:06d}", "civ": f"CUST-{i % 500:05d}"}}
    return api_event("POST", "/api/external/token", body=body, headers={"x-api-key": fx["store_key"]})


def _scheduled_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/revisit-SchedulerTick"],
        "detail": {},
    }


def _completed_tracker_record(fx: dict[str, Any], i: int) -> dict[str, Any]:
    new = copy.deepcopy(fx["tracker_image"])
    old = copy.deepcopy(new)
    new["status"] = {"S": "completed"}
    old["status"] = {"S": "sent"}
    return {
        "Records": [
            {
                "eventID": uuid.uuid4().hex,
                "eventName": "MODIFY",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": int(datetime.now(UTC).timestamp()),
                    "Keys": {"pk": new["pk"], "sk": new["sk"]},
                    "NewImage": new,
                    "OldImage": old,
                    "SequenceNumber": f"{20_000 + i:021d}",
                    "SizeBytes": 1200,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/revisit-bench/stream/x",
            }
        ]
    }


def event(name: str, fx: dict[str, Any], i: int) -> dict[str, Any]:
    """The i-th request of scenario ``name``."""
    key = {"x-api-key": fx.get("store_key", "")}
    if name == "management":
        return api_event("GET", "/api/stores", headers=fx["owner"])
    if name == "token":
        return token_event(fx, i)
    if name == "survey_page":
        t = fx["page_token"]
        return api_event("GET", f"/s/{t}", resource="/s/{token}", path_params={"token": t})
    if name == "submit":
        body = {"token": fx["submit_tokens"][i], "rating": 1 + i % 5, "comment": "Great coffee, friendly staff."}
        return api_event("POST", "/api/external/public/submit", body=body)
    if name == "feedback":
        return api_event("GET", "/api/external/feedback", query={"storeSlug": STORE, "limit": "25"}, headers=key)
    if name == "purchases":
        return purchase_event(fx, f"P-{fx['run']}-{i}")
    if name == "tracker_generate":
        return generate_event(fx, fx["generate_purchases"][i])
    if name == "tracker_get":
        return api_event("GET", "/partners/survey-tracker", query={"id": fx["tracker_id"]}, headers=fx["partner"])
    if name == "tracker_list":
        return api_event("POST", "/partners/survey-tracker/list", body={"limit": 10, "page": 1}, headers=fx["partner"])
    if name == "click":
        t = fx["tracker_token"]
        ip = f"198.51.{(i // 250) % 256}.{i % 250 + 1}"
        e = api_event(
            "GET", f"/r/{t}", resource="/r/{token}", path_params={"token": t}, headers={"X-Forwarded-For": ip}
        )
        e["requestContext"]["identity"]["sourceIp"] = ip
        return e
    if name == "nps_public":
        return api_event("GET", "/nps/categories", query={"shop_id": fx["shop_id"]})
    if name == "nps_create":
        body = {
            "shop_id": fx["shop_id"],
            "shop_secret": fx["shop_secret"],
            "category": "service",
            "channel": "web",
            "rate": 1 + i % 10,
            "comment": "ok thanks",
            "email": f"reviewer{i}@example.com",
        }
        return api_event("POST", "/nps/create", body=body)
    if name == "nps_reviews":
        return api_event("GET", "/nps/reviews", query={"shop_id": fx["shop_id"], "shop_secret": fx["shop_secret"]})
    if name == "dashboard":
        return api_event("GET", "/api/external/dashboard", query={"storeSlug": STORE}, headers=key)
    if name == "nps_score":
        return api_event("GET", "/api/external/nps-score", query={"storeSlug": STORE}, headers=key)
    if name == "webapp_store":
        return webapp_event(fx, f"/app/stores/{STORE}")
    if name == "webapp_overview":
        return webapp_event(fx, "/app")
    if name == "aggregator":
        return {"Records": [fx["aggregator_records"][i]]}
    if name == "integration_events":
        return _completed_tracker_record(fx, i)
    if name == "scheduler":
        return _scheduled_event()
    raise KeyError(name)


def webapp_event(fx: dict[str, Any], path: str) -> dict[str, Any]:
    """A page of the web app, signed in with the owner token: its session cookie as
    functions/webapp/webapp/auth.py writes it, signed with the benchmark's key (bench.common:
    WEBAPP_SESSION_SECRET, or the secret WEBAPP_SESSION_SECRET_ARN names, of the same value)."""
    import hashlib
    import time

    from itsdangerous import URLSafeSerializer

    from bench.common import HASH_SECRET
    from revisit.domain.auth import Kind, secret_hash

    token = fx["owner"]["Authorization"].split(" ", 1)[1]
    at = int(time.time())
    session = {"v": 1, "ws": fx["ws"], "sub": "key", "k": "owner", "h": secret_hash(Kind.OWNER, token)}
    session |= {"sid": "bench-session", "iat": at, "seen": at}
    signer = URLSafeSerializer(HASH_SECRET, salt="session", signer_kwargs={"digest_method": hashlib.sha256})
    cookie = "revisit_session=" + signer.dumps(session)
    resource = "/app" if path == "/app" else "/app/{proxy+}"
    params = None if path == "/app" else {"proxy": path.removeprefix("/app/")}
    return api_event("GET", path, resource=resource, headers={"Cookie": cookie}, path_params=params)


def consumes(name: str) -> bool:
    """Whether each request of the scenario needs its own prepared item."""
    return name in ("submit", "tracker_generate", "aggregator")


def ok(name: str, reply: dict[str, Any]) -> bool:
    """The request did what it should (a benchmark of error paths would measure nothing useful)."""
    if SCENARIOS[name].kind == "stream":
        return not reply.get("batchItemFailures")
    if SCENARIOS[name].kind == "schedule":
        return isinstance(reply, dict)
    if SCENARIOS[name].function == "webapp":  # the page itself, not a redirect to the sign-in page
        return reply["statusCode"] == 200 and "<h1>" in (reply.get("body") or "")
    return 200 <= reply["statusCode"] < 400
