"""Partner survey-tracker API, written from seed 001: generate, get, list, plus surveys, purchases, clicks."""

from __future__ import annotations

import uuid

import pytest

from tests.support import api_event, invoke

SEED_FIELDS = {
    "id", "createdAt", "updatedAt", "surveyId", "surveyName", "sendAt", "sentAt", "resendAt", "resent",
    "sendingIndex", "customerId", "purchaseId", "sendingType", "status", "link", "newReviewLink", "sentTo",
    "switchedToSms", "clicks", "uniqueClicks",
}  # fmt: skip


def partner_headers(world, key=None, secret=None):
    return {"X-API-KEY": key or world.partner_key, "X-API-SECRET": secret or world.partner_secret}


def owner(world, method, path, body=None, **kw):
    return invoke("management", api_event(method, path, body=body, headers=world.owner_headers(), **kw))


def purchase(world, purchase_id="P-1", customer="CUST-7891", amount=80.0, **extra):
    body = {
        "purchaseId": purchase_id,
        "customerId": customer,
        "storeSlug": "downtown-coffee",
        "purchasedAt": "2026-11-20T10:00:00Z",
        "amount": amount,
        "email": "ann@example.com",
        **extra,
    }
    return invoke("purchases", api_event("POST", "/partners/purchases", body=body, headers=partner_headers(world)))


def generate(world, purchase_id="P-1", headers=None):
    return invoke(
        "tracker_generate",
        api_event(
            "POST",
            "/partners/survey-tracker/generate",
            body={"purchaseId": purchase_id},
            headers=headers or partner_headers(world),
        ),
    )


def get(world, tracker_id, headers=None):
    query = {"id": tracker_id} if tracker_id is not None else None
    return invoke(
        "tracker_get",
        api_event("GET", "/partners/survey-tracker", query=query, headers=headers or partner_headers(world)),
    )


def list_(world, body, headers=None):
    return invoke(
        "tracker_list",
        api_event("POST", "/partners/survey-tracker/list", body=body, headers=headers or partner_headers(world)),
    )


@pytest.fixture
def surveys(world):
    made = {}
    for key, body in {
        "email": {
            "storeSlug": "downtown-coffee",
            "name": "After your visit",
            "sendingType": "email",
            "delayMinutes": 120,
            "resendDelayMinutes": 1440,
            "maxResends": 2,
            "newReviewLink": "https://g.page/r/downtown-coffee/review",
        },
        "external": {
            "storeSlug": "downtown-coffee",
            "name": "Receipt QR",
            "sendingType": "external",
            "delayMinutes": 0,
        },
        "sms_big": {
            "storeSlug": "downtown-coffee",
            "name": "Big baskets",
            "sendingType": "sms",
            "rule": {"minAmount": 50},
        },
        "web_only": {
            "storeSlug": "downtown-coffee",
            "name": "Web orders",
            "sendingType": "email",
            "rule": {"channels": ["web"]},
        },
        "inactive": {"storeSlug": "downtown-coffee", "name": "Old", "sendingType": "email", "active": False},
        "bakery": {"storeSlug": "uptown-bakery", "name": "Bakery", "sendingType": "email"},
    }.items():
        reply = owner(world, "POST", "/api/surveys", body)
        assert reply.status == 201, reply.text
        made[key] = reply.json
    return made


def test_surveys_list_and_patch(world, surveys):
    listed = owner(world, "GET", "/api/surveys").json["items"]
    assert len(listed) == 6
    sid = surveys["email"]["surveyId"]
    patched = invoke(
        "management",
        api_event(
            "PATCH",
            f"/api/surveys/{sid}",
            resource="/api/surveys/{surveyId}",
            path_params={"surveyId": sid},
            body={"name": "Renamed", "rule": None},
            headers=world.owner_headers(),
        ),
    )
    assert patched.status == 200 and patched.json["name"] == "Renamed"
    bad = invoke(
        "management",
        api_event(
            "PATCH",
            f"/api/surveys/{sid}",
            body={"maxResends": 3, "resendDelayMinutes": None},
            headers=world.owner_headers(),
        ),
    )
    assert bad.status == 400
    assert (
        invoke(
            "management", api_event("PATCH", "/api/surveys/srv_nope", body={"name": "x"}, headers=world.owner_headers())
        ).status
        == 404
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "sendingType": "pigeon"}, "sendingType"),
        ({"name": "x", "sendingType": "email", "maxResends": 2}, "body"),
        ({"name": "x", "sendingType": "email", "newReviewLink": "not a url"}, "newReviewLink"),
        ({"name": "x", "sendingType": "email", "delayMinutes": -1}, "delayMinutes"),
    ],
)
def test_bad_surveys(world, body, field):
    reply = owner(world, "POST", "/api/surveys", {"storeSlug": "downtown-coffee", **body})
    assert reply.status == 400
    assert any(d["field"] == field for d in reply.json["error"]["details"])


def test_purchase_is_idempotent(world):
    first = purchase(world)
    assert first.status == 201
    again = purchase(world)
    assert again.status == 200 and again.json == first.json
    different = purchase(world, amount=1.0)
    assert different.status == 409
    assert different.json["error"]["details"][0]["field"] == "purchaseId"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"phone": "0612"}, "phone"),
        ({"email": "nope"}, "email"),
        ({"amount": -1}, "amount"),
        ({"purchasedAt": "yesterday"}, "purchasedAt"),
    ],
)
def test_bad_purchases(world, extra, field):
    reply = purchase(world, **extra)
    assert reply.status == 400
    assert any(d["field"] == field for d in reply.json["error"]["details"])


def test_a_purchase_makes_the_trackers_we_send_and_generate_the_external_ones(world, surveys):
    """Part 5 (behaviour change): generate answers external trackers only; email/sms/whatsapp
    trackers come from recording the purchase (seed 001: "Fullwhere does not send external
    survey trackers")."""
    purchase(world)
    sent_by_us = list_(world, {"purchases": ["P-1"]}).json["items"]
    assert {t["surveyName"] for t in sent_by_us} == {"After your visit", "Big baskets"}
    reply = generate(world)
    assert reply.status == 201
    items = reply.json["items"]
    assert [t["surveyName"] for t in items] == ["Receipt QR"]
    for tracker in [*items, *sent_by_us]:
        assert set(tracker) == SEED_FIELDS
        assert tracker["purchaseId"] == "P-1" and tracker["customerId"] == "CUST-7891"
        assert tracker["sendingIndex"] == 0 and tracker["resent"] is False and tracker["switchedToSms"] is False
        assert tracker["clicks"] == 0 and tracker["uniqueClicks"] == 0 and tracker["sentAt"] is None
        assert tracker["sentTo"] is None and tracker["resendAt"] is None
    email = next(t for t in sent_by_us if t["sendingType"] == "email")
    assert email["status"] == "scheduled" and email["link"] is None
    assert email["newReviewLink"] == "https://g.page/r/downtown-coffee/review"
    [external] = items
    assert external["status"] == "ready" and external["link"].startswith("https://fb.example.com/r/tkn_")
    assert list_(world, {"purchases": ["P-1"]}).json["total"] == 3


def test_generate_again_returns_the_same_trackers(world, surveys):
    purchase(world)
    first = generate(world).json["items"]
    again = generate(world)
    assert again.status == 200 and again.json["created"] == 0
    assert [t["id"] for t in again.json["items"]] == [t["id"] for t in first]


def test_generate_race_returns_the_winner(world, surveys, monkeypatch, table):
    """A concurrent call that read 'no tracker yet' loses on the uniqueness item and returns the winner."""
    from revisit.dal import trackers as trackers_dal

    purchase(world)
    first = {t["surveyId"]: t["id"] for t in generate(world).json["items"]}
    monkeypatch.setattr(trackers_dal, "existing_id", _stale_once(trackers_dal.existing_id))
    again = generate(world).json["items"]
    assert {t["surveyId"]: t["id"] for t in again} == first
    trackers = [i for i in table.scan(TableName="revisit-unit")["Items"] if i.get("type", {}).get("S") == "tracker"]
    assert len(trackers) == 3


def _stale_once(real):
    seen = set()

    def existing(ws, survey_id, purchase_id):
        if survey_id not in seen:
            seen.add(survey_id)
            return None  # as if read before the other request wrote
        return real(ws, survey_id, purchase_id)

    return existing


def test_generate_unknown_purchase_is_404(world, surveys):
    reply = generate(world, "NOPE")
    assert reply.status == 404
    assert reply.json["error"]["details"][0]["field"] == "purchaseId"


def test_get_by_id(world, surveys):
    purchase(world)
    tracker = generate(world).json["items"][0]
    reply = get(world, tracker["id"])
    assert reply.status == 200 and reply.json == tracker


@pytest.mark.parametrize(("value", "status", "field"), [(None, 400, "id"), ("not-a-uuid", 400, "id")])
def test_get_bad_ids(world, value, status, field):
    reply = get(world, value)
    assert reply.status == status
    assert reply.json["error"]["details"][0]["field"] == field


def test_get_unknown_id_is_404(world):
    assert get(world, str(uuid.uuid4())).status == 404


def test_partner_auth(world, surveys):
    purchase(world)
    tracker = generate(world).json["items"][0]
    assert get(world, tracker["id"], headers={"X-API-KEY": world.partner_key}).status == 401
    assert get(world, tracker["id"], headers=partner_headers(world, secret="sk_wrong")).status == 401
    assert get(world, tracker["id"], headers={"x-api-key": world.workspace_key}).status == 403
    from revisit.domain import credentials
    from revisit.domain.auth import Kind

    foreign = credentials.issue("2000", Kind.PARTNER, "workspace")
    assert (
        get(world, tracker["id"], headers=partner_headers(world, foreign["apiKey"], foreign["apiSecret"])).status == 404
    )


def test_list_filters_and_paging(world, surveys):
    for i in range(1, 6):
        purchase(world, f"P-{i}", customer=f"C-{i % 2}", amount=10.0)
        generate(world, f"P-{i}")
    everything = list_(world, {"limit": 100})
    assert everything.status == 200
    assert len(everything.json["items"]) == 10 and everything.json["hasMore"] is False
    send_ats = [t["sendAt"] for t in everything.json["items"]]
    assert send_ats == sorted(send_ats, reverse=True)

    page1 = list_(world, {"limit": 4}).json
    page3 = list_(world, {"limit": 4, "page": 3}).json
    assert page1["hasMore"] is True and page1["page"] == 1 and page1["limit"] == 4
    assert len(page3["items"]) == 2 and page3["hasMore"] is False

    by_purchase = list_(world, {"purchases": ["P-2", "P-4", "P-404"]}).json
    assert {t["purchaseId"] for t in by_purchase["items"]} == {"P-2", "P-4"} and by_purchase["total"] == 4
    by_customer = list_(world, {"customers": ["C-1"], "limit": 2, "page": 2}).json
    assert by_customer["total"] == 6 and len(by_customer["items"]) == 2 and by_customer["hasMore"] is True
    both = list_(world, {"customers": ["C-0"], "purchases": ["P-1", "P-2"]}).json
    assert {t["purchaseId"] for t in both["items"]} == {"P-2"}
    none = list_(world, {"toSendAt": "2020-01-01T00:00:00Z"}).json
    assert none["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": 1.5}, "limit"),
        ({"page": 0}, "page"),
        ({"purchases": [f"P-{i}" for i in range(101)]}, "purchases"),
        ({"purchases": []}, "purchases"),
        ({"customers": [f"C-{i}" for i in range(101)]}, "customers"),
        ({"customers": []}, "customers"),
        ({"fromSendAt": "soon"}, "fromSendAt"),
        ({"fromSendAt": "2026-02-01T00:00:00Z", "toSendAt": "2026-01-01T00:00:00Z"}, "body"),
        ({"sort": "asc"}, "sort"),
    ],
)
def test_list_limits_from_the_seed(world, body, field):
    reply = list_(world, body)
    assert reply.status == 400
    assert any(d["field"] == field for d in reply.json["error"]["details"]), reply.json


def test_list_accepts_nulls_as_documented(world):
    reply = list_(world, {"fromSendAt": None, "toSendAt": None, "purchases": None, "customers": None})
    assert reply.status == 200


def click(token, ua="Mozilla/5.0 (iPhone)", ip="198.51.100.7"):
    event = api_event(
        "GET", f"/r/{token}", resource="/r/{token}", path_params={"token": token}, headers={"User-Agent": ua}
    )
    event["requestContext"]["identity"]["sourceIp"] = ip
    return invoke("click", event)


def test_click_then_submission_completes_the_tracker(world, surveys, table):
    purchase(world)
    external = next(t for t in generate(world).json["items"] if t["sendingType"] == "external")
    token = external["link"].rsplit("/", 1)[1]
    first = click(token)
    assert first.status == 302 and first.headers["location"] == f"https://fb.example.com/s/{token}"
    click(token)  # same visitor
    click(token, ua="Other browser")  # the same address: the same visitor, whatever its User-Agent
    click(token, ip="203.0.113.9")
    after = get(world, external["id"]).json
    assert after["clicks"] == 4 and after["uniqueClicks"] == 2 and after["status"] == "opened"
    dump = str(table.scan(TableName="revisit-unit")["Items"])
    assert "198.51.100.7" not in dump and "iPhone" not in dump

    done = invoke("submit", api_event("POST", "/api/external/public/submit", body={"token": token, "rating": 4}))
    assert done.status == 201
    assert get(world, external["id"]).json["status"] == "completed"
    fb = invoke(
        "feedback",
        api_event(
            "GET", "/api/external/feedback", headers={"x-api-key": world.workspace_key}, query={"orderId": "P-1"}
        ),
    ).json["items"]
    assert fb[0]["civ"] == "CUST-7891" and fb[0]["payload"]["trackerId"] == external["id"]


def test_clicks_on_one_link_write_a_bounded_number_of_visitor_items(world, surveys, table, monkeypatch):
    """Issue 18 item 2: 30 User-Agents made 30 "unique" visitors, each an item; hundreds of
    addresses now stop adding markers at MAX_UNIQUE_VISITORS (the clicks are still counted)."""
    from revisit.domain import clicks
    from revisit.domain.clicks import MAX_UNIQUE_VISITORS

    monkeypatch.setattr(clicks, "CLICKS_PER_TOKEN_PER_MINUTE", 1000)  # the per-minute cap: its own test

    purchase(world)
    external = next(t for t in generate(world).json["items"] if t["sendingType"] == "external")
    token = external["link"].rsplit("/", 1)[1]
    for n in range(30):
        assert click(token, ua=f"agent {n}").status == 302
    for n in range(MAX_UNIQUE_VISITORS + 15):
        assert click(token, ip=f"198.51.100.{n + 10}").status == 302
    after = get(world, external["id"]).json
    assert after["clicks"] == 30 + MAX_UNIQUE_VISITORS + 15
    assert after["uniqueClicks"] == MAX_UNIQUE_VISITORS
    markers = [i for i in table.scan(TableName="revisit-unit")["Items"] if i.get("type", {}).get("S") == "click"]
    assert len(markers) == MAX_UNIQUE_VISITORS


def test_click_on_unknown_token_is_404(world):
    assert click("tkn_" + "B" * 22).status == 404


def test_sample_events_walk_the_seed_flow(world, surveys):
    """events/purchase.json -> tracker_generate.json -> tracker_get.json / tracker_list.json -> click.json."""
    import json as _json

    from tests.support import sample_event

    def with_partner(name):
        event = sample_event(name)
        event["headers"].update(partner_headers(world))
        return event

    assert invoke("purchases", with_partner("purchase")).status == 201
    generated = invoke("tracker_generate", with_partner("tracker_generate"))
    assert generated.status == 201
    external = next(t for t in generated.json["items"] if t["sendingType"] == "external")

    get_event = with_partner("tracker_get")
    get_event["queryStringParameters"]["id"] = external["id"]
    assert invoke("tracker_get", get_event).json["id"] == external["id"]

    listed = invoke("tracker_list", with_partner("tracker_list"))
    # the purchase's own trackers (we send them) and the generated external one
    assert listed.status == 200 and listed.json["total"] == len(generated.json["items"]) + 1

    click_event = sample_event("click")
    token = external["link"].rsplit("/", 1)[1]
    click_event["path"], click_event["pathParameters"] = f"/r/{token}", {"token": token}
    assert invoke("click", click_event).status == 302
    assert _json.loads(invoke("tracker_get", get_event).text)["clicks"] == 1


def test_a_flood_on_one_link_redirects_but_writes_nothing_past_the_minutes_cap(world, surveys, table, monkeypatch):
    """Issue 18 part 4, per-token limit: past CLICKS_PER_TOKEN_PER_MINUTE clicks in a minute a
    link still redirects, with 1 GetItem and no write; the next minute counts again."""
    from revisit.dal import table as table_mod
    from revisit.domain import clicks

    t = {"t": 6_000_000.0}
    monkeypatch.setattr(clicks, "_wall", lambda: t["t"])
    clicks._recent.clear()
    purchase(world)
    external = next(t for t in generate(world).json["items"] if t["sendingType"] == "external")
    token = external["link"].rsplit("/", 1)[1]
    ops: list[str] = []

    def count(model, **_):
        ops.append(model.name)

    table_mod.client.meta.events.register("before-call.dynamodb", count)
    try:
        for n in range(clicks.CLICKS_PER_TOKEN_PER_MINUTE + 20):
            ops.clear()
            assert click(token, ip=f"198.51.100.{n % 200 + 1}").status == 302
            if n >= clicks.CLICKS_PER_TOKEN_PER_MINUTE:
                assert ops == ["GetItem"], ops  # the token only
    finally:
        table_mod.client.meta.events.unregister("before-call.dynamodb", count)
    assert get(world, external["id"]).json["clicks"] == clicks.CLICKS_PER_TOKEN_PER_MINUTE
    t["t"] += 60
    assert click(token).status == 302
    assert get(world, external["id"]).json["clicks"] == clicks.CLICKS_PER_TOKEN_PER_MINUTE + 1
