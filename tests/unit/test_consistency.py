"""The consistency pass of issue 15 (part 3): optional bodies, a 401 challenge per scheme, messages
in plain words naming the field, storeSlug everywhere."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from revisit.http import nps_schemas, schemas, tracker_schemas
from revisit.http.app import PATTERNS, every_field_optional
from tests.support import ROOT, api_event, invoke

OWNER = 'Bearer realm="revisit"'
API_KEY = 'ApiKey header="x-api-key"'
PARTNER = 'PartnerKey headers="X-API-KEY, X-API-SECRET"'
LIBRARY_WORDING = ("Value error", "Input should be", "Extra inputs", "Field required", "String should")


def partner(world) -> dict[str, str]:
    return {"X-API-KEY": world.partner_key, "X-API-SECRET": world.partner_secret}


def tracker_list(headers: dict[str, str], body: Any = None):
    return invoke("tracker_list", api_event("POST", "/partners/survey-tracker/list", body=body, headers=headers))


def management(world, method: str, path: str, body: Any = None, resource: str | None = None, **path_params: str):
    event = api_event(
        method, path, body=body, headers=world.owner_headers(), resource=resource, path_params=path_params or None
    )
    return invoke("management", event)


# ------------------------------------------------------------------ bodies optional where every field is


@pytest.mark.parametrize("raw", [None, ""])
def test_tracker_list_without_a_body_is_the_empty_filter(world, raw):
    reply = tracker_list(partner(world), raw)
    assert reply.status == 200, reply.text
    assert reply.json == tracker_list(partner(world), {}).json


@pytest.mark.parametrize("raw", ["not json", "[]", "null", "{"])
def test_a_body_that_is_there_must_still_be_a_json_object(world, raw):
    reply = tracker_list(partner(world), raw)
    assert reply.status == 400
    assert reply.json["error"]["code"] == "MALFORMED_REQUEST"


def test_a_store_patch_without_a_body_changes_nothing(world):
    before = management(world, "GET", f"/api/stores/{world.store}", resource="/api/stores/{storeSlug}")
    after = management(
        world, "PATCH", f"/api/stores/{world.store}", resource="/api/stores/{storeSlug}", store_slug=world.store
    )
    assert after.status == 200, after.text
    assert after.json == before.json


def test_a_survey_patch_without_a_body_changes_nothing(world):
    body = {"storeSlug": world.store, "name": "After your visit", "sendingType": "email"}
    created = management(world, "POST", "/api/surveys", body)
    assert created.status == 201, created.text
    sid = created.json["surveyId"]
    patched = management(world, "PATCH", f"/api/surveys/{sid}", resource="/api/surveys/{surveyId}", survey_id=sid)
    assert patched.status == 200, patched.text
    assert patched.json["name"] == "After your visit"


def test_an_unsubscribe_without_a_body_says_what_it_needs(world):
    reply = invoke("purchases", api_event("POST", "/partners/unsubscribes", headers=partner(world)))
    assert reply.status == 400
    assert reply.json["error"]["message"] == "Invalid request: body: give at least one of customerId, email, phone"


def test_a_body_with_a_required_field_is_still_required(world):
    reply = management(world, "POST", "/api/stores")
    assert reply.status == 400
    assert reply.json["error"]["code"] == "MALFORMED_REQUEST"
    generate = invoke(
        "tracker_generate", api_event("POST", "/partners/survey-tracker/generate", headers=partner(world))
    )
    assert generate.status == 400 and generate.json["error"]["code"] == "MALFORMED_REQUEST"


def test_exactly_the_all_optional_models_take_no_body():
    optional = {
        m.__name__
        for m in (
            schemas.CreateStore,
            schemas.StoreSettingsPatch,
            schemas.CreateKey,
            schemas.CreateToken,
            schemas.Submit,
            schemas.CreateCampaign,
            tracker_schemas.CreateSurvey,
            tracker_schemas.PatchSurvey,
            tracker_schemas.CreatePurchase,
            tracker_schemas.Generate,
            tracker_schemas.ListTrackers,
            tracker_schemas.PartnerUnsubscribe,
            nps_schemas.NpsCreate,
            nps_schemas.CreateCategory,
            nps_schemas.CreateChannel,
            nps_schemas.PatchConfig,
        )
        if every_field_optional(m)
    }
    # CreateStore's fields all have defaults, yet one of storeSlug / slug is required.
    assert optional == {"StoreSettingsPatch", "PatchSurvey", "ListTrackers", "PartnerUnsubscribe"}


# ------------------------------------------------------------------ a 401 challenge per scheme


def test_partner_routes_challenge_for_the_key_pair(world):
    for headers in ({}, {"X-API-KEY": world.partner_key, "X-API-SECRET": "sk_wrong"}):
        reply = tracker_list(headers, {})
        assert reply.status == 401
        assert reply.headers["www-authenticate"] == PARTNER


def test_owner_routes_challenge_for_a_bearer_token(world):
    reply = invoke("management", api_event("GET", "/api/stores"))
    assert reply.status == 401
    assert reply.headers["www-authenticate"] == OWNER


def test_routes_taking_a_key_or_the_owner_name_both(world):
    token = invoke("token", api_event("POST", "/api/external/token", body={"storeSlug": world.store}))
    dashboard = invoke(
        "dashboard", api_event("GET", "/api/external/dashboard", headers={"x-api-key": "nk_nope"}, query=None)
    )
    for reply in (token, dashboard):
        assert reply.status == 401
        assert reply.headers["www-authenticate"] == f"{OWNER}, {API_KEY}"


def test_an_authenticated_caller_of_the_wrong_kind_is_403_without_a_challenge(world):
    reply = tracker_list({"x-api-key": world.workspace_key}, {})
    assert reply.status == 403
    assert "www-authenticate" not in reply.headers


@pytest.fixture
def shop(world):
    return world


def test_the_nps_seed_keeps_its_403_and_names_its_parameters(shop):
    reviews = invoke(
        "nps_reviews", api_event("GET", "/nps/reviews", query={"shop_id": shop.shop_id, "shop_secret": "wrong"})
    )
    assert reviews.status == 403 and reviews.json["status"] == "error"
    assert reviews.headers["www-authenticate"] == 'ApiKey query="shop_id, shop_secret"'
    body = {"shop_id": shop.shop_id, "shop_secret": "0" * 32, "email": "a@example.com"}
    created = invoke(
        "nps_create", api_event("POST", "/nps/create", body={**body, "channel": "c", "category": "c", "rate": 8})
    )
    assert created.status == 403 and created.json["status"] == "error"
    assert created.headers["www-authenticate"] == 'ApiKey body="shop_id, shop_secret", ApiKey body="shop_id, did"'


# ------------------------------------------------------------------ plain words naming the field


@pytest.mark.parametrize(
    ("body", "field", "message", "kind"),
    [
        ({"limit": "ten"}, "limit", "must be a whole number", "int_parsing"),
        ({"limit": 1.5}, "limit", "must be a whole number", "int_from_float"),
        ({"limit": 500}, "limit", "must be at most 100", "less_than_equal"),
        ({"page": 0}, "page", "must be at least 1", "greater_than_equal"),
        ({"surprise": 1}, "surprise", "is not a field of this request", "extra_forbidden"),
        ({"limit": True}, "limit", "must be a number", "value_error"),
        ({"purchases": []}, "purchases", "must have at least 1 item", "too_short"),
        ({"purchases": "P-1"}, "purchases", "must be a list", "list_type"),
        (
            {"fromSendAt": "soon"},
            "fromSendAt",
            "must be a date and time such as 2024-05-01T18:30:00Z (or a day YYYY-MM-DD)",
            "datetime_from_date_parsing",
        ),
        ({"purchases": ["x" * 129]}, "purchases.0", "must be at most 128 characters", "string_too_long"),
    ],
)
def test_tracker_list_messages(world, body, field, message, kind):
    reply = tracker_list(partner(world), body)
    assert reply.status == 400, reply.text
    error = reply.json["error"]
    assert error["details"] == [{"field": field, "message": message, "type": kind}]
    assert error["message"] == f"Invalid request: {field}: {message}"


@pytest.mark.parametrize(
    ("body", "field", "message", "kind"),
    [
        (
            {"storeSlug": "ok", "logoUrl": "http://example.com/logo.png"},
            "logoUrl",
            "must be an https URL",
            "value_error",
        ),
        ({"storeSlug": "ok", "name": "x" * 81}, "name", "must be at most 80 characters", "string_too_long"),
        ({"storeSlug": "ok", "name": ""}, "name", "must not be empty", "string_too_short"),
        ({"storeSlug": "ok", "locale": 3}, "locale", "must be a string", "string_type"),
        ({"storeSlug": "ok", "reviewPrompt": "yes"}, "reviewPrompt", "must be an object", "model_type"),
        (
            {"storeSlug": "ok", "reviewPrompt": {"url": "https://g.page/r"}},
            "reviewPrompt.minRating",
            "is required",
            "missing",
        ),
    ],
)
def test_store_messages(world, body, field, message, kind):
    reply = management(world, "POST", "/api/stores", body)
    assert reply.status == 400, reply.text
    assert {"field": field, "message": message, "type": kind} in reply.json["error"]["details"]
    assert f"{field}: {message}" in reply.json["error"]["message"]


def test_no_library_wording_in_a_mixed_bag_of_errors(world):
    replies = [
        tracker_list(partner(world), {"limit": "x", "page": -1, "extra": 1, "toSendAt": "no", "storeSlug": "Bad Slug"}),
        management(world, "POST", "/api/keys", {"scope": "everywhere", "kind": 1}),
        management(world, "POST", "/api/surveys", {"storeSlug": world.store, "name": "n", "sendingType": "fax"}),
        invoke(
            "token",
            api_event(
                "POST", "/api/external/token", body={"expiresInDays": "7"}, headers={"x-api-key": world.workspace_key}
            ),
        ),
        invoke("submit", api_event("POST", "/api/external/public/submit", body={"rating": "5"})),
        invoke(
            "feedback",
            api_event(
                "GET",
                "/api/external/feedback",
                query={"limit": "many", "format": "xml"},
                headers={"x-api-key": world.workspace_key},
            ),
        ),
    ]
    for reply in replies:
        assert reply.status == 400, reply.text
        error = reply.json["error"]
        texts = [error["message"], *(d["message"] for d in error["details"])]
        assert all(d["type"] and d["field"] for d in error["details"])
        for text in texts:
            assert not any(words in text for words in LIBRARY_WORDING), text


def _patterns(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        if isinstance(schema.get("pattern"), str):
            found.add(schema["pattern"])
        schema = list(schema.values())
    for value in schema if isinstance(schema, list) else ():
        found |= _patterns(value)
    return found


def test_every_pattern_of_the_request_models_is_said_in_words(world):
    used = {p for m in _request_models() for p in _patterns(m.model_json_schema())}
    assert used and used <= set(PATTERNS), used - set(PATTERNS)
    reply = tracker_list(partner(world), {"storeSlug": "Bad Slug"})
    assert reply.json["error"]["details"] == [
        {
            "field": "storeSlug",
            "message": "must be 1-64 lower-case letters, digits and '-', not starting or ending with '-'",
            "type": "string_pattern_mismatch",
        }
    ]


def test_choices_and_missing_fields_read_plainly(world):
    reply = management(world, "POST", "/api/keys", {"scope": "everywhere"})
    assert reply.json["error"]["details"] == [
        {"field": "scope", "message": "must be 'workspace' or 'store'", "type": "literal_error"}
    ]
    generate = invoke(
        "tracker_generate", api_event("POST", "/partners/survey-tracker/generate", body={}, headers=partner(world))
    )
    assert generate.json["error"]["message"] == "Invalid request: purchaseId: is required"


def test_nps_seed_messages_read_plainly(shop):
    body = {"shop_id": shop.shop_id, "shop_secret": shop.shop_secret, "email": "a@example.com", "channel": "c"}
    reply = invoke("nps_create", api_event("POST", "/nps/create", body={**body, "rate": "eight"}))
    assert reply.json["status"] == "error"
    assert "category: is required" in reply.json["message"]
    assert "rate: must be an integer between 1 and 10" in reply.json["message"]
    assert not any(words in reply.json["message"] for words in LIBRARY_WORDING)


# ------------------------------------------------------------------ storeSlug everywhere


def _request_models() -> list[type[BaseModel]]:
    return [
        m
        for module in (schemas, tracker_schemas, nps_schemas)
        for m in vars(module).values()
        if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == module.__name__
    ]


def test_no_request_takes_a_slug_but_the_deprecated_one_of_post_stores():
    taking_slug = {m.__name__ for m in _request_models() if "slug" in m.model_fields}
    # StoreSettingsPatch names slug only to refuse it ("cannot be changed").
    assert taking_slug == {"CreateStore", "StoreSettingsPatch"}
    assert all("storeSlug" in m.model_fields for m in (schemas.CreateStore, schemas.StoreSettingsPatch))


def test_post_stores_takes_store_slug_and_documents_slug_as_deprecated(world):
    reply = management(world, "POST", "/api/stores", {"storeSlug": "harbour-kiosk"})
    assert reply.status == 201, reply.text
    row = next(line for line in (ROOT / "README.md").read_text().splitlines() if "`POST /api/stores`" in line)
    assert "`slug`" in row and "deprecated" in row
