"""Hardening (issue 18): hostile input answered 400 naming the field with nothing written, JSON
hygiene headers, safe review links, and one bad tracker not stopping a scheduler run."""

from __future__ import annotations

import pytest

from tests.support import api_event, invoke
from tests.unit.test_trackers import list_, partner_headers, purchase


def items(table):
    return sorted(str(i) for i in table.scan(TableName="revisit-unit")["Items"])


def owner(world, method, path, body=None, **kw):
    return invoke("management", api_event(method, path, body=body, headers=world.owner_headers(), **kw))


def names(reply, field):
    """The error names ``field``: in details (standard shape) or the message (the NPS seed's)."""
    error = reply.json.get("error")
    if error is None:
        return field in reply.json["message"]
    return any(d["field"] == field for d in error["details"]) and field in error["message"]


# ------------------------------------------------------------------ 1. 500 on bad input -> 400

JSON_ROUTES = [
    ("management", "POST", "/api/stores", None, "owner"),
    ("management", "POST", "/api/keys", None, "owner"),
    ("management", "POST", "/api/campaigns", None, "owner"),
    ("management", "POST", "/api/surveys", None, "owner"),
    ("management", "PATCH", "/api/surveys/srv_x", ("/api/surveys/{survey_id}", {"survey_id": "srv_x"}), "owner"),
    ("management", "POST", "/api/nps/categories", ("/api/nps/{kind}", {"kind": "categories"}), "owner"),
    (
        "management",
        "PATCH",
        "/api/nps/channels/default",
        ("/api/nps/{kind}/{code}", {"kind": "channels", "code": "default"}),
        "owner",
    ),
    ("nps_create", "POST", "/nps/create", None, None),
    ("purchases", "POST", "/partners/purchases", None, "partner"),
    ("purchases", "POST", "/partners/unsubscribes", None, "partner"),
    ("submit", "POST", "/api/external/public/submit", None, None),
    ("token", "POST", "/api/external/token", None, "key"),
    ("tracker_generate", "POST", "/partners/survey-tracker/generate", None, "partner"),
    ("tracker_list", "POST", "/partners/survey-tracker/list", None, "partner"),
]


def credentials(world, who):
    return {
        "owner": world.owner_headers(),
        "partner": partner_headers(world),
        "key": {"x-api-key": world.store_key},
        None: {},
    }[who]


@pytest.mark.parametrize(("fn", "method", "path", "route", "who"), JSON_ROUTES, ids=str)
@pytest.mark.parametrize("raw", ["[" * 15000, '{"a":' * 3000, "[" * 6000 + "]" * 6000])
def test_deeply_nested_json_is_400_naming_the_body_on_every_json_route(world, table, fn, method, path, route, who, raw):
    resource, params = route or (path, None)
    before = items(table)
    event = api_event(method, path, resource=resource, path_params=params, body=raw, headers=credentials(world, who))
    reply = invoke(fn, event)
    assert reply.status == 400, reply.text
    assert names(reply, "body"), reply.json
    assert items(table) == before


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
@pytest.mark.parametrize("path", ["/api/external/feedback", "/api/external/feedback/export"])
@pytest.mark.parametrize("param", ["from", "to"])
def test_feedback_dates_out_of_range_are_400(world, path, param, value):
    event = api_event("GET", path, query={param: value}, headers={"x-api-key": world.store_key})
    reply = invoke("feedback", event)
    assert reply.status == 400, reply.text
    assert names(reply, param), reply.json


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
def test_campaign_expiry_out_of_range_is_400_and_writes_nothing(world, table, value):
    before = items(table)
    reply = owner(world, "POST", "/api/campaigns", {"storeSlug": world.store, "name": "QR", "expiresAt": value})
    assert reply.status == 400, reply.text
    assert names(reply, "expiresAt"), reply.json
    assert items(table) == before


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59Z"])
def test_purchase_time_out_of_range_is_400_and_writes_nothing(world, table, value):
    owner(world, "POST", "/api/surveys", {"storeSlug": world.store, "name": "S", "sendingType": "email"})
    before = items(table)
    reply = purchase(world, "P-far", purchasedAt=value)
    assert reply.status == 400, reply.text
    assert names(reply, "purchasedAt"), reply.json
    assert items(table) == before


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
@pytest.mark.parametrize("param", ["fromSendAt", "toSendAt"])
def test_tracker_list_dates_out_of_range_are_400(world, param, value):
    reply = list_(world, {param: value})
    assert reply.status == 400, reply.text
    assert names(reply, param), reply.json


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
@pytest.mark.parametrize("param", ["date_from", "date_to"])
def test_nps_review_dates_out_of_range_are_400(world, param, value):
    query = {"shop_id": world.shop_id, "shop_secret": world.shop_secret, param: value}
    reply = invoke("nps_reviews", api_event("GET", "/nps/reviews", query=query))
    assert reply.status == 400, reply.text
    assert names(reply, param), reply.json


def test_parse_iso_refuses_instants_outside_the_calendar():
    from revisit.domain.util import parse_iso

    with pytest.raises(ValueError, match="out of range"):
        parse_iso("0001-01-01T00:00:00+01:00")
    assert parse_iso("0001-01-01T00:00:00Z").year == 1


@pytest.mark.parametrize("number", ["1e-200", str(10**40), "1e300", str(-(10**38)), "-1e-131"])
def test_token_payload_numbers_dynamodb_cannot_hold_are_400_and_write_nothing(world, table, number):
    before = items(table)
    raw = '{"storeSlug":"downtown-coffee","payload":{"orderId":"O-1","amount":NUMBER}}'.replace("NUMBER", number)
    reply = invoke("token", api_event("POST", "/api/external/token", body=raw, headers={"x-api-key": world.store_key}))
    assert reply.status == 400, reply.text
    assert names(reply, "payload"), reply.json
    assert "amount" in reply.json["error"]["message"]
    assert items(table) == before


def test_token_payload_keeps_numbers_dynamodb_can_hold(world):
    raw = '{"storeSlug":"downtown-coffee","payload":{"a":1e-120,"b":BIG,"c":0.1,"d":0}}'.replace("BIG", str(10**37))
    reply = invoke("token", api_event("POST", "/api/external/token", body=raw, headers={"x-api-key": world.store_key}))
    assert reply.status == 201, reply.text


@pytest.mark.parametrize(
    ("field", "rule", "extra"),
    [
        ("rule.minAmount", {"minAmount": 1e300}, {}),
        ("rule.minAmount", {"minAmount": 1e-200}, {}),
    ],
)
def test_survey_numbers_dynamodb_cannot_hold_are_400_and_write_nothing(world, table, field, rule, extra):
    before = items(table)
    body = {"storeSlug": world.store, "name": "S", "sendingType": "sms", "rule": rule, **extra}
    reply = owner(world, "POST", "/api/surveys", body)
    assert reply.status == 400, reply.text
    assert names(reply, field), reply.json
    assert items(table) == before


def test_purchase_amount_dynamodb_cannot_hold_is_400(world, table):
    owner(world, "POST", "/api/surveys", {"storeSlug": world.store, "name": "S", "sendingType": "email"})
    before = items(table)
    reply = purchase(world, "P-tiny", amount=1e-200)
    assert reply.status == 400, reply.text
    assert names(reply, "amount"), reply.json
    assert items(table) == before


# ------------------------------------------------------------------ 8. hygiene


def _hygienic(reply):
    assert reply.headers.get("x-content-type-options") == "nosniff", reply.headers
    assert reply.headers.get("cache-control") == "no-store", reply.headers


def test_json_answers_and_errors_are_nosniff_and_no_store(world):
    key = {"x-api-key": world.store_key}
    ok = invoke("token", api_event("POST", "/api/external/token", body={"storeSlug": world.store}, headers=key))
    assert ok.status == 201
    _hygienic(ok)
    bad = invoke("token", api_event("POST", "/api/external/token", body="{", headers={"x-api-key": world.store_key}))
    assert bad.status == 400
    _hygienic(bad)
    unauthenticated = invoke("token", api_event("POST", "/api/external/token", body={"storeSlug": world.store}))
    assert unauthenticated.status == 401
    _hygienic(unauthenticated)
    missing = invoke("management", api_event("GET", "/api/nothing-here", headers=world.owner_headers()))
    assert missing.status == 404
    _hygienic(missing)
    _hygienic(invoke("nps_reviews", api_event("GET", "/nps/reviews", query={"shop_id": "unknown"})))


@pytest.mark.parametrize(
    "link",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/latest/meta-data/",
        "http://g.page/r/x/review",
        "https://127.0.0.1/review",
        "https://10.0.0.7/review",
        "https://192.168.1.1/",
        "https://[::1]/review",
        "https://[fd00:ec2::254]/latest",
        "https://[::ffff:169.254.169.254]/",
        "https://0x7f000001/",
        "https://2130706433/",
        "ftp://g.page/r/x",
        "javascript:alert(1)",
    ],
)
def test_new_review_link_must_be_https_to_a_public_host(world, table, link):
    before = items(table)
    body = {"storeSlug": world.store, "name": "S", "sendingType": "email", "newReviewLink": link}
    reply = owner(world, "POST", "/api/surveys", body)
    assert reply.status == 400, reply.text
    assert names(reply, "newReviewLink"), reply.json
    assert items(table) == before


def test_new_review_link_patch_is_checked_too_and_https_links_are_kept(world):
    body = {"storeSlug": world.store, "name": "S", "sendingType": "email", "newReviewLink": "https://g.page/r/x/review"}
    made = owner(world, "POST", "/api/surveys", body)
    assert made.status == 201, made.text
    assert made.json["newReviewLink"] == "https://g.page/r/x/review"
    sid = made.json["surveyId"]
    patch = owner(
        world,
        "PATCH",
        f"/api/surveys/{sid}",
        {"newReviewLink": "http://169.254.169.254/latest/meta-data/"},
        resource="/api/surveys/{survey_id}",
        path_params={"survey_id": sid},
    )
    assert patch.status == 400, patch.text
    assert names(patch, "newReviewLink"), patch.json


# ------------------------------------------------------------------ 9. one bad tracker, one run


def test_a_tracker_whose_store_has_an_unknown_zone_does_not_stop_the_run(world, table, monkeypatch, caplog):
    from datetime import UTC, datetime, timedelta

    import boto3

    from revisit.dal import keys
    from revisit.delivery import default_adapters
    from revisit.domain import sending

    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="surveys@example.com")
    monkeypatch.setenv("EMAIL_SENDER", "surveys@example.com")
    for body in (
        {"name": "Email", "sendingType": "email", "delayMinutes": 0},
        {"name": "SMS", "sendingType": "sms", "delayMinutes": 0, "rule": {"minAmount": 500}},
    ):
        assert owner(world, "POST", "/api/surveys", {"storeSlug": world.store, **body}).status == 201
    for pid, amount in (("P-1", 80.0), ("P-2", 600.0), ("P-3", 80.0), ("P-4", 80.0)):
        assert purchase(world, pid, amount=amount, phone="+33612345678").status in (200, 201)
    trackers = list_(world, {"limit": 100}).json["items"]
    assert sorted(t["sendingType"] for t in trackers) == ["email"] * 4 + ["sms"]
    store_key = {k: {"S": v} for k, v in keys.store(world.workspace_id, world.store).items()}
    table.update_item(
        TableName="revisit-unit",
        Key=store_key,
        UpdateExpression="SET #tz = :tz",
        ExpressionAttributeNames={"#tz": "timezone"},
        ExpressionAttributeValues={":tz": {"S": "Mars/Olympus"}},
    )
    at = datetime.now(UTC) + timedelta(seconds=5)

    report = sending.run(at, default_adapters(), sending.Policy(quiet_start=21, quiet_end=8))

    assert report.due == 5 and report.sent == 4, report.summary()
    assert report.failed_attempts == 1 and report.errors == 1, report.summary()
    bad = next(t for t in trackers if t["sendingType"] == "sms")
    assert [r.trackerId for r in caplog.records if r.getMessage() == "tracker failed"] == [bad["id"]]
    by_id = {t["id"]: t for t in list_(world, {"limit": 100}).json["items"]}
    assert by_id[bad["id"]]["status"] == "scheduled"  # a failed attempt: retried later, not lost
    assert all(by_id[t["id"]]["status"] == "sent" for t in trackers if t["id"] != bad["id"])
    # Retried with back-off (not before), and a run after it does not stop on it either.
    assert sending.run(at + timedelta(minutes=1), default_adapters()).due == 0
    later = sending.run(at + timedelta(minutes=6), default_adapters(), sending.Policy(quiet_start=21, quiet_end=8))
    assert later.due == 1 and later.errors == 1
