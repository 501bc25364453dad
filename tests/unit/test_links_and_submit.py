"""One-time links, campaign tokens, the survey page and submission (seed 000)."""

from __future__ import annotations

import json
import time

import pytest

from tests.support import api_event, invoke, sample_event

SEED_TOKEN_BODY = """{
"storeSlug": "downtown-coffee",
"payload": {
"orderId": "ORD-12345",
"civ": "CUST-7891"
}
}"""


def new_token(world, body=None, key=None, headers=None):
    hdrs = {"x-api-key": key or world.store_key, **(headers or {})}
    reply = invoke(
        "token", api_event("POST", "/api/external/token", body=body or json.loads(SEED_TOKEN_BODY), headers=hdrs)
    )
    return reply


def submit(body):
    return invoke("submit", api_event("POST", "/api/external/public/submit", body=body))


def page(token):
    return invoke("survey_page", api_event("GET", f"/s/{token}", resource="/s/{token}", path_params={"token": token}))


def all_items(table, type_):
    items = table.scan(TableName="revisit-unit")["Items"]
    return [i for i in items if i.get("type", {}).get("S") == type_]


# ---------------------------------------------------------------- token creation


def test_seed_example_sent_verbatim(world):
    event = sample_event("token")
    event["headers"]["x-api-key"] = world.store_key
    event["body"] = SEED_TOKEN_BODY
    reply = invoke("token", event)
    assert reply.status == 201
    token = reply.json["token"]
    assert token.startswith("tkn_") and len(token) == 26
    assert reply.json["url"] == f"https://fb.example.com/s/{token}"
    assert len(reply.json["url"]) < 80
    assert reply.json["expiresAt"]


def test_owner_and_workspace_keys_may_create_tokens(world):
    assert new_token(world, key=world.workspace_key).status == 201
    owner = invoke(
        "token",
        api_event("POST", "/api/external/token", body=json.loads(SEED_TOKEN_BODY), headers=world.owner_headers()),
    )
    assert owner.status == 201


def test_store_key_for_another_store_is_403_and_writes_nothing(world, table):
    reply = new_token(world, key=world.other_store_key)
    assert reply.status == 403
    assert all_items(table, "token") == []


def test_foreign_workspace_key_cannot_use_our_store(world, table):
    # workspace 2000 has its own "downtown-coffee": the token must land there, not in ours.
    reply = new_token(world, key=world.foreign_key)
    assert reply.status == 201
    [item] = all_items(table, "token")
    assert item["workspaceId"]["S"] == "2000"


def test_unknown_store_is_404_naming_the_field(world, table):
    reply = new_token(world, body={"storeSlug": "nowhere"}, key=world.workspace_key)
    assert reply.status == 404
    assert reply.json["error"]["details"][0]["field"] == "storeSlug"
    assert all_items(table, "token") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payload": {}}, "storeSlug"),
        ({"storeSlug": "downtown-coffee", "payload": {"nested": {"a": 1}}}, "payload"),
        ({"storeSlug": "downtown-coffee", "payload": {"big": "x" * 1001}}, "payload"),
        ({"storeSlug": "downtown-coffee", "payload": {f"k{i}": "v" * 999 for i in range(5)}}, "payload"),
        ({"storeSlug": "downtown-coffee", "payload": {"civ": ""}}, "payload.civ"),
        ({"storeSlug": "downtown-coffee", "expiresInDays": 0}, "expiresInDays"),
        ({"storeSlug": "downtown-coffee", "expiresInDays": 400}, "expiresInDays"),
        ({"storeSlug": "downtown-coffee", "extra": True}, "extra"),
    ],
)
def test_bad_token_requests_are_400_naming_the_field_and_write_nothing(world, table, body, field):
    reply = new_token(world, body=body)
    assert reply.status == 400, reply.text
    assert any(d["field"] == field for d in reply.json["error"]["details"]), reply.json
    assert all_items(table, "token") == []


def test_payload_keeps_extra_fields_and_numbers(world):
    body = {
        "storeSlug": "downtown-coffee",
        "source": "POS",
        "payload": {"orderId": 12345, "civ": "CUST-1", "total": 18.5, "table": 7, "vip": True},
    }
    token = new_token(world, body=body).json["token"]
    assert submit({"token": token, "rating": 4}).status == 201
    found = invoke(
        "feedback",
        api_event("GET", "/api/external/feedback", headers={"x-api-key": world.store_key}, query={"orderId": "12345"}),
    ).json["items"]
    assert found[0]["payload"] == {"orderId": "12345", "civ": "CUST-1", "total": 18.5, "table": 7, "vip": True}
    assert found[0]["source"] == "POS"


def test_idempotency_key_returns_the_same_token(world, table):
    first = new_token(world, headers={"Idempotency-Key": "order-ORD-12345"})
    again = new_token(world, headers={"Idempotency-Key": "order-ORD-12345"})
    assert first.status == again.status == 201
    assert first.json == again.json
    assert again.headers.get("idempotent-replayed") == "true"
    assert len(all_items(table, "token")) == 1
    other = new_token(
        world,
        body={"storeSlug": "downtown-coffee", "payload": {"orderId": "X"}},
        headers={"Idempotency-Key": "order-ORD-12345"},
    )
    assert other.status == 409
    assert len(all_items(table, "token")) == 1


@pytest.mark.parametrize("key", ["\ud800", "", "k" * 256, "caf\u00e9", "a\nb"])
def test_a_bad_idempotency_key_on_token_creation_is_a_400_naming_it(world, table, key):
    """Found by the route fuzzing: a lone surrogate could not be hashed (500); the key is held to
    what the submit route already required, 1-255 printable ASCII characters."""
    reply = new_token(world, headers={"Idempotency-Key": key})
    assert reply.status == 400, reply.text
    assert "Idempotency-Key" in json.dumps(reply.json)
    assert all_items(table, "token") == [] and all_items(table, "idempotency") == []


# ---------------------------------------------------------------- submission


def test_seed_submit_example_with_civ_in_body_wins(world, table):
    token = new_token(world).json["token"]
    event = sample_event("submit")
    body = json.loads(event["body"])
    body.update(token=token, civ="CUST-BODY")
    event["body"] = json.dumps(body)
    reply = invoke("submit", event)
    assert reply.status == 201
    [fb] = all_items(table, "feedback")
    assert fb["civ"]["S"] == "CUST-BODY"
    assert fb["orderId"]["S"] == "ORD-12345"
    assert fb["comment"]["S"] == "Great service as always."
    assert fb["rating"]["N"] == "5"
    assert fb["tokenKind"]["S"] == "one_time"
    assert fb["payload"]["M"]["civ"]["S"] == "CUST-7891"  # the whole payload is kept


def test_civ_from_token_when_body_has_none(world, table):
    token = new_token(world).json["token"]
    assert submit({"token": token, "rating": 3}).status == 201
    [fb] = all_items(table, "feedback")
    assert fb["civ"]["S"] == "CUST-7891"


def test_civ_from_body_when_token_has_none(world, table):
    token = new_token(world, body={"storeSlug": "downtown-coffee", "payload": {"orderId": "A1"}}).json["token"]
    assert submit({"token": token, "rating": 3, "civ": "LATE-AUTH"}).status == 201
    [fb] = all_items(table, "feedback")
    assert fb["civ"]["S"] == "LATE-AUTH"


def test_no_civ_is_anonymous(world, table):
    token = new_token(world, body={"storeSlug": "downtown-coffee"}).json["token"]
    assert submit({"token": token, "rating": 2}).status == 201
    [fb] = all_items(table, "feedback")
    assert "civ" not in fb and "gsi2pk" not in fb


def test_second_submission_is_409(world, table):
    token = new_token(world).json["token"]
    assert submit({"token": token, "rating": 5}).status == 201
    again = submit({"token": token, "rating": 1})
    assert again.status == 409
    assert "already been used" in again.json["error"]["message"]
    assert len(all_items(table, "feedback")) == 1


def test_lost_race_is_409_even_when_the_token_looked_open(world, table, monkeypatch):
    """Two submissions both read the token as open; the transaction lets only one through."""
    from revisit.domain import tokens

    token = new_token(world).json["token"]
    stale = tokens.lookup(token)
    assert submit({"token": token, "rating": 5}).status == 201
    monkeypatch.setattr(tokens, "lookup", lambda value, _stale=stale: dict(_stale) if value == token else None)
    assert submit({"token": token, "rating": 4}).status == 409
    assert len(all_items(table, "feedback")) == 1


def test_expired_token_not_yet_deleted_by_ttl_is_410(world, table):
    token = new_token(world).json["token"]
    table.update_item(
        TableName="revisit-unit",
        Key={"pk": {"S": f"TOKEN#{token}"}, "sk": {"S": "META"}},
        UpdateExpression="SET expiresAtEpoch = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 60)}},
    )
    reply = submit({"token": token, "rating": 5})
    assert reply.status == 410
    assert all_items(table, "feedback") == []
    assert page(token).status == 410


def test_unknown_token_is_404(world):
    assert submit({"token": "tkn_" + "A" * 22, "rating": 5}).status == 404
    assert submit({"token": "not-even-a-token", "rating": 5}).status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": 5}, "token"),
        ({"token": "tkn_x", "rating": 0}, "rating"),
        ({"token": "tkn_x", "rating": 6}, "rating"),
        ({"token": "tkn_x", "rating": 4.5}, "rating"),
        ({"token": "tkn_x", "rating": "5"}, "rating"),
        ({"token": "tkn_x", "rating": True}, "rating"),
        ({"token": "tkn_x", "rating": 5, "comment": "x" * 2001}, "comment"),
        ({"token": "tkn_x", "rating": 5, "civ": "x" * 257}, "civ"),
        ({"token": "tkn_x", "rating": 5, "score": 5}, "score"),
    ],
)
def test_bad_submissions_name_the_field_and_consume_nothing(world, table, body, field):
    token = new_token(world).json["token"]
    body = {**body, "token": token} if "token" in body else body
    reply = submit(body)
    assert reply.status == 400
    assert any(d["field"] == field for d in reply.json["error"]["details"])
    assert all_items(table, "feedback") == []
    assert submit({"token": token, "rating": 5}).status == 201  # the token is still usable


def test_malformed_submit_body(world):
    assert submit("{").status == 400
    assert submit("[]").status == 400
    assert submit("x" * 20_000).status == 413


# ---------------------------------------------------------------- campaigns


def owner_call(world, method, path, body=None):
    return invoke("management", api_event(method, path, body=body, headers=world.owner_headers()))


def test_campaign_token_is_reusable_until_max_uses(world, table):
    created = owner_call(
        world,
        "POST",
        "/api/campaigns",
        {"storeSlug": "downtown-coffee", "name": "Table QR", "maxUses": 2, "source": "QR"},
    )
    assert created.status == 201
    token = created.json["token"]
    assert submit({"token": token, "rating": 5, "civ": "A"}).status == 201
    assert submit({"token": token, "rating": 4, "civ": "B"}).status == 201
    assert submit({"token": token, "rating": 3}).status == 410
    fbs = all_items(table, "feedback")
    assert len(fbs) == 2 and {f["tokenKind"]["S"] for f in fbs} == {"campaign"}
    assert page(token).status == 410


def test_closed_campaign_stops_accepting(world):
    created = owner_call(world, "POST", "/api/campaigns", {"storeSlug": "downtown-coffee", "name": "Receipt"}).json
    listed = owner_call(world, "GET", "/api/campaigns").json["items"]
    assert [c["campaignId"] for c in listed] == [created["campaignId"]]
    assert page(created["token"]).status == 200
    closed = invoke(
        "management",
        api_event(
            "DELETE",
            f"/api/campaigns/{created['campaignId']}",
            resource="/api/campaigns/{campaignId}",
            headers=world.owner_headers(),
            path_params={"campaignId": created["campaignId"]},
        ),
    )
    assert closed.status == 200 and closed.json["status"] == "closed"
    assert submit({"token": created["token"], "rating": 5}).status == 410


def test_campaign_for_another_store_with_store_key_is_403(world):
    reply = invoke(
        "management",
        api_event(
            "POST",
            "/api/campaigns",
            body={"storeSlug": "downtown-coffee", "name": "x"},
            headers={"x-api-key": world.other_store_key},
        ),
    )
    assert reply.status == 403


def test_campaign_past_expiry_is_410(world):
    reply = owner_call(
        world,
        "POST",
        "/api/campaigns",
        {"storeSlug": "downtown-coffee", "name": "old", "expiresAt": "2020-01-01T00:00:00Z"},
    )
    assert reply.status == 400 and reply.json["error"]["details"][0]["field"] == "expiresAt"


# ---------------------------------------------------------------- the page


def test_page_is_a_form_that_hides_the_payload(world):
    token = new_token(world).json["token"]
    reply = page(token)
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    html = reply.text
    assert "Downtown Coffee" in html
    assert 'name="rating"' in html and html.count('type="radio"') == 5
    assert "ORD-12345" not in html and "CUST-7891" not in html
    assert "http" not in html.split("<body>")[1].replace("http-equiv", "")  # no external assets
    assert "default-src 'none'" in reply.headers["content-security-policy"]


def test_page_sample_event_for_unknown_token_is_404_page(world):
    reply = invoke("survey_page", sample_event("survey_page"))
    assert reply.status == 404
    assert "does not exist" in reply.text


def test_used_token_page_is_410(world):
    token = new_token(world).json["token"]
    submit({"token": token, "rating": 5})
    reply = page(token)
    assert reply.status == 410
    assert "already been answered" in reply.text
