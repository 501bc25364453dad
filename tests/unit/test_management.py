"""Management API: stores and credentials (issue: foundation)."""

from __future__ import annotations

from types import SimpleNamespace

import boto3
import pytest

from tests.support import api_event, invoke, sample_event


def call(method, path, world, body=None, headers=None, resource=None, path_params=None):
    hdrs = world.owner_headers() if headers is None else headers
    return invoke(
        "management", api_event(method, path, body=body, headers=hdrs, resource=resource, path_params=path_params)
    )


def test_owner_creates_and_lists_stores(world):
    created = call("POST", "/api/stores", world, {"slug": "harbour-kiosk", "name": "Harbour Kiosk"})
    assert created.status == 201
    assert created.json["slug"] == "harbour-kiosk"
    assert len(created.json["shopId"]) == 30

    listed = call("GET", "/api/stores", world)
    assert listed.status == 200
    assert {s["slug"] for s in listed.json["items"]} == {"downtown-coffee", "uptown-bakery", "harbour-kiosk"}


def test_duplicate_store_is_409_and_writes_nothing(world, table):
    before = table.scan(TableName="revisit-unit")["Count"]
    again = call("POST", "/api/stores", world, {"slug": "downtown-coffee"})
    assert again.status == 409
    assert again.json["error"]["code"] == "CONFLICT"
    assert table.scan(TableName="revisit-unit")["Count"] == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "Bad Slug!"}, "slug"),
        ({"slug": "ok", "timezone": "Mars/Olympus"}, "timezone"),
        ({"slug": "ok", "surprise": 1}, "surprise"),
        ({}, "slug"),
    ],
)
def test_bad_store_bodies_name_the_field(world, body, field):
    reply = call("POST", "/api/stores", world, body)
    assert reply.status == 400
    assert reply.json["error"]["code"] == "VALIDATION_FAILED"
    assert field in {d["field"] for d in reply.json["error"]["details"]}


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"', ""])
def test_malformed_bodies_are_400_json(world, raw):
    reply = call("POST", "/api/stores", world, raw)
    assert reply.status == 400
    assert reply.json["error"]["details"][0]["field"] == "body"


def test_oversized_body_is_413(world):
    reply = call("POST", "/api/stores", world, {"slug": "x", "name": "y" * 70_000})
    assert reply.status == 413


def test_sample_event_creates_a_store_key(world):
    event = sample_event("management_create_key")
    event["headers"]["Authorization"] = f"Bearer {world.owner_token}"
    reply = invoke("management", event)
    assert reply.status == 201
    assert reply.json["key"].startswith("nk_")
    assert reply.json["scope"] == "store"
    assert reply.json["storeSlug"] == "downtown-coffee"


def test_keys_listing_shows_prefixes_only(world):
    reply = call("GET", "/api/keys", world)
    assert reply.status == 200
    items = reply.json["items"]
    assert len(items) == 6  # partner, shop, owner, workspace key, two store keys
    for item in items:
        assert set(item) <= {
            "keyId",
            "kind",
            "scope",
            "workspaceId",
            "storeSlug",
            "prefix",
            "label",
            "createdAt",
            "revokedAt",
        }
    text = reply.text
    for secret in (world.owner_token, world.workspace_key, world.store_key, world.partner_secret, world.shop_secret):
        assert secret not in text


def test_secrets_are_stored_only_as_hashes(world, table):
    dump = str(table.scan(TableName="revisit-unit")["Items"])
    for secret in (world.owner_token, world.workspace_key, world.store_key, world.partner_secret, world.shop_secret):
        assert secret not in dump


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scope": "store"}, "body"),
        ({"scope": "galaxy"}, "scope"),
        ({"scope": "workspace", "kind": "root"}, "kind"),
    ],
)
def test_bad_key_requests(world, body, field):
    reply = call("POST", "/api/keys", world, body)
    assert reply.status == 400
    assert field in {d["field"] for d in reply.json["error"]["details"]}


def test_key_for_unknown_store_is_404_and_writes_nothing(world, table):
    before = table.scan(TableName="revisit-unit")["Count"]
    reply = call("POST", "/api/keys", world, {"scope": "store", "storeSlug": "nowhere"})
    assert reply.status == 404
    assert table.scan(TableName="revisit-unit")["Count"] == before


def test_partner_and_shop_credentials(world):
    partner = call("POST", "/api/keys", world, {"scope": "store", "storeSlug": "downtown-coffee", "kind": "partner"})
    assert partner.status == 201
    assert partner.json["apiKey"].startswith("pk_") and partner.json["apiSecret"].startswith("sk_")
    shop = call("POST", "/api/keys", world, {"scope": "store", "storeSlug": "downtown-coffee", "kind": "shop"})
    assert shop.status == 201
    assert shop.json["shopId"] == world.shop_id and len(shop.json["shopSecret"]) == 32


def test_revoked_key_stops_working(world):
    created = call("POST", "/api/keys", world, {"scope": "workspace", "label": "pos"}).json
    use = {"x-api-key": created["key"]}
    body = {"storeSlug": "downtown-coffee", "payload": {"orderId": "1"}}
    assert invoke("token", api_event("POST", "/api/external/token", body=body, headers=use)).status == 201

    revoked = call(
        "DELETE",
        f"/api/keys/{created['keyId']}",
        world,
        resource="/api/keys/{keyId}",
        path_params={"keyId": created["keyId"]},
    )
    assert revoked.status == 200 and revoked.json["revokedAt"]
    assert invoke("token", api_event("POST", "/api/external/token", body=body, headers=use)).status == 401
    again = call("DELETE", f"/api/keys/{created['keyId']}", world)
    assert again.status == 200  # idempotent


def test_revoking_unknown_key_is_404(world):
    assert call("DELETE", "/api/keys/key_nope", world).status == 404


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nk_live_wrong", "x-workspace-id": "1042"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
    ],
)
def test_bad_owner_credentials_are_401(world, headers):
    reply = call("GET", "/api/keys", world, headers=headers)
    assert reply.status == 401
    assert reply.json["error"]["code"] == "UNAUTHENTICATED"
    assert reply.json["error"]["message"] == "Missing or invalid credentials."


def test_owner_token_with_another_workspace_id_is_401(world):
    reply = call(
        "GET", "/api/keys", world, headers={"Authorization": f"Bearer {world.owner_token}", "x-workspace-id": "2000"}
    )
    assert reply.status == 401


def test_api_key_on_owner_endpoint_is_403(world):
    reply = call("GET", "/api/keys", world, headers={"x-api-key": world.workspace_key})
    assert reply.status == 403


def test_foreign_owner_sees_only_their_workspace(world):
    reply = call(
        "GET",
        "/api/stores",
        world,
        headers={"Authorization": f"Bearer {world.foreign_owner_token}", "x-workspace-id": "2000"},
    )
    assert [s["name"] for s in reply.json["items"]] == ["Someone else's Downtown Coffee"]


def test_wrong_method_is_405_with_allow(world):
    reply = call("PUT", "/api/keys", world)
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, POST"
    assert reply.json["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_unknown_path_is_404_json(world):
    reply = call("GET", "/api/nothing-here", world)
    assert reply.status == 404
    assert reply.json["error"]["code"] == "NOT_FOUND"


def test_unexpected_failure_is_500_json_without_trace(world, monkeypatch):
    from revisit.dal import table as table_module

    def boom(*_a, **_k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(table_module, "query_all", boom)
    reply = call("GET", "/api/stores", world)
    assert reply.status == 500
    assert "disk on fire" not in reply.text
    assert reply.json["error"]["code"] == "INTERNAL"


def test_credential_cache_delays_revocation_by_at_most_its_ttl(world, monkeypatch):
    import time

    from revisit.domain import auth
    from revisit.domain.auth import Kind, Presented

    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])  # the credential cache's clock
    fixed = SimpleNamespace(credential_cache_seconds=30.0)
    monkeypatch.setattr(auth, "settings", lambda: fixed)
    dynamo = boto3.client("dynamodb", region_name="us-east-1")
    calls = []
    dynamo.meta.events.register("before-call.dynamodb.GetItem", lambda **kw: calls.append(1))
    from revisit.dal import table as table_module

    monkeypatch.setattr(table_module, "client", dynamo)
    presented = Presented(api_key=world.workspace_key)
    auth.authenticate(presented, frozenset({Kind.API}))
    auth.authenticate(presented, frozenset({Kind.API}))
    assert len(calls) == 1  # the second one came from the cache
    clock[0] += 31
    auth.authenticate(presented, frozenset({Kind.API}))
    assert len(calls) == 2
