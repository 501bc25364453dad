"""docs/openapi.json is what the code generates, is a valid OpenAPI 3.1 document naming every
template route, and real responses match the shapes it promises."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from revisit_dev import openapi
from revisit_dev.template import load_template
from tests.support import api_event, invoke


@pytest.fixture(scope="module")
def spec():
    return openapi.build()


def test_the_committed_document_is_what_the_code_generates(spec):
    for committed in (openapi.OUT, openapi.SERVED):  # docs/ and the docs function's copy
        assert committed.read_text() == openapi.render(spec), f"{committed} drifted: python -m revisit_dev.openapi"


def test_it_is_valid_openapi_3_1(spec):
    validate(spec)
    assert spec["openapi"] == "3.1.0"


def test_every_template_route_and_handler_method_is_documented(spec):
    for function in load_template().functions:
        if function.code_dir.relative_to(openapi.ROOT).as_posix() in openapi.NOT_API:
            assert not any(p.startswith("/app") for p in spec["paths"])  # HTML pages, not the API
            continue
        for route in function.routes:
            assert route.path in spec["paths"], route
            handlers = openapi._handler_routes(function.code_dir)
            methods = {h["method"] for h in handlers if openapi._same_path(h["rule"], route.path)}
            assert methods and methods <= set(spec["paths"][route.path]), (route, methods)


def test_requests_use_the_handlers_own_models(spec):
    token = spec["paths"]["/api/external/token"]["post"]
    assert token["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/CreateToken"}
    create = spec["components"]["schemas"]["CreateToken"]
    assert set(create["properties"]) >= {"storeSlug", "payload", "source", "expiresInDays"}
    assert create["additionalProperties"] is False
    search = {p["name"] for p in spec["paths"]["/api/external/feedback"]["get"]["parameters"]}
    assert {"from", "to", "minRating", "orderId", "civ", "limit", "cursor"} <= search
    assert spec["paths"]["/partners/survey-tracker"]["get"]["security"] == [{"partnerKey": [], "partnerSecret": []}]
    assert spec["paths"]["/api/stores"]["post"]["security"] == [{"ownerBearer": [], "workspaceId": []}]
    assert spec["paths"]["/api/external/public/submit"]["post"]["security"] == []


def test_routes_of_template_and_handlers_must_agree(monkeypatch):
    real = openapi._template_routes()
    extra = ("TokenFunction", "functions/token", "/api/external/other", "get")
    monkeypatch.setattr(openapi, "_template_routes", lambda: [*real, extra])
    with pytest.raises(SystemExit, match=r"GET /api/external/other .* is served by no handler"):
        openapi.build()
    fewer = [r for r in real if r[2] != "/api/stores/{storeSlug}"]
    monkeypatch.setattr(openapi, "_template_routes", lambda: fewer)
    with pytest.raises(SystemExit, match=r"template\.yaml lacks"):
        openapi.build()


def _check(spec, method, path, reply):
    operation = spec["paths"][path][method.lower()]
    response = operation["responses"][str(reply.status)]
    schema = response["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": spec["components"]})
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(reply.json)]
    assert not errors, (method, path, reply.status, errors[:5])


def test_real_responses_match_their_documented_shapes(spec, world):
    key = {"x-api-key": world.store_key}
    owner = world.owner_headers()
    body = {"storeSlug": "downtown-coffee", "payload": {"orderId": "OA-1", "civ": "CUST-OA"}}
    created = invoke("token", api_event("POST", "/api/external/token", body=body, headers=key))
    _check(spec, "POST", "/api/external/token", created)
    answer = {"token": created.json["token"], "rating": 4, "comment": "ok"}
    _check(
        spec,
        "POST",
        "/api/external/public/submit",
        invoke("submit", api_event("POST", "/api/external/public/submit", body=answer)),
    )
    _check(
        spec,
        "POST",
        "/api/external/public/submit",
        invoke("submit", api_event("POST", "/api/external/public/submit", body=answer)),
    )
    search = invoke("feedback", api_event("GET", "/api/external/feedback", query={"orderId": "OA-1"}, headers=key))
    assert search.json["items"]
    _check(spec, "GET", "/api/external/feedback", search)
    _check(
        spec,
        "GET",
        "/api/external/dashboard",
        invoke("dashboard", api_event("GET", "/api/external/dashboard", headers=key)),
    )
    _check(
        spec,
        "GET",
        "/api/external/nps-score",
        invoke("dashboard", api_event("GET", "/api/external/nps-score", headers=key)),
    )
    store = {"resource": "/api/stores/{storeSlug}", "path_params": {"storeSlug": "downtown-coffee"}}
    _check(
        spec,
        "GET",
        "/api/stores/{storeSlug}",
        invoke("management", api_event("GET", "/api/stores/downtown-coffee", headers=owner, **store)),
    )
    patched = api_event("PATCH", "/api/stores/downtown-coffee", headers=owner, body={"locale": "fr"}, **store)
    _check(spec, "PATCH", "/api/stores/{storeSlug}", invoke("management", patched))
    _check(spec, "GET", "/api/stores", invoke("management", api_event("GET", "/api/stores", headers=owner)))
    _check(spec, "GET", "/api/keys", invoke("management", api_event("GET", "/api/keys", headers=owner)))
    survey = {"storeSlug": "downtown-coffee", "name": "QR", "sendingType": "external"}
    _check(
        spec,
        "POST",
        "/api/surveys",
        invoke("management", api_event("POST", "/api/surveys", headers=owner, body=survey)),
    )
    _check(spec, "GET", "/api/surveys", invoke("management", api_event("GET", "/api/surveys", headers=owner)))
    nps = invoke("nps_public", api_event("GET", "/nps/categories", query={"shop_id": world.shop_id}))
    _check(spec, "GET", "/nps/categories", nps)
    partner = {"X-API-KEY": world.partner_key, "X-API-SECRET": world.partner_secret}
    purchase = {
        "purchaseId": "OA-P",
        "customerId": "C-OA",
        "storeSlug": "downtown-coffee",
        "purchasedAt": "2026-11-30T10:00:00Z",
    }
    _check(
        spec,
        "POST",
        "/partners/purchases",
        invoke("purchases", api_event("POST", "/partners/purchases", body=purchase, headers=partner)),
    )
    generated = invoke(
        "tracker_generate",
        api_event("POST", "/partners/survey-tracker/generate", body={"purchaseId": "OA-P"}, headers=partner),
    )
    _check(spec, "POST", "/partners/survey-tracker/generate", generated)
    tracker = generated.json["items"][0]["id"]
    got = invoke("tracker_get", api_event("GET", "/partners/survey-tracker", query={"id": tracker}, headers=partner))
    _check(spec, "GET", "/partners/survey-tracker", got)
    listed = invoke(
        "tracker_list",
        api_event("POST", "/partners/survey-tracker/list", body={"purchases": ["OA-P"]}, headers=partner),
    )
    _check(spec, "POST", "/partners/survey-tracker/list", listed)
    campaign = {"storeSlug": "downtown-coffee", "name": "Table QR"}
    _check(
        spec,
        "POST",
        "/api/campaigns",
        invoke("management", api_event("POST", "/api/campaigns", body=campaign, headers=owner)),
    )
    _check(spec, "GET", "/api/campaigns", invoke("management", api_event("GET", "/api/campaigns", headers=owner)))
    bad = invoke(
        "token", api_event("POST", "/api/external/token", body={"storeSlug": "x"}, headers={"x-api-key": "nope"})
    )
    _check(spec, "POST", "/api/external/token", bad)  # the error shape
    assert json.loads(openapi.render(spec))  # renders as JSON
