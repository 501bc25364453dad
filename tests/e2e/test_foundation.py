"""The foundation end to end: the local stack, the CLI, owner auth and the error shapes."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

BOOTSTRAP_KEYS = {
    "workspaceId",
    "storeSlug",
    "ownerToken",
    "workspaceApiKey",
    "storeApiKey",
    "partnerKey",
    "partnerSecret",
    "shopId",
    "shopSecret",
    "baseUrl",
    "defaultCategory",  # the new shop's NPS codes (issue 13, part 5)
    "defaultChannel",
}
SECRETS = ("ownerToken", "workspaceApiKey", "storeApiKey", "partnerSecret", "shopSecret")


def new_workspace() -> str:
    return "ws-" + uuid.uuid4().hex[:12]


def assert_error(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    error = resp.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert isinstance(error["message"], str) and error["message"]
    if code:
        assert error["code"] == code
    return error


def test_health(stack):
    resp = stack.request("GET", "/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert "ManagementFunction" in body["functions"]


def test_bootstrap_prints_every_credential_and_is_idempotent(stack):
    first = stack.bootstrap("1042", "downtown-coffee")
    assert set(first) == BOOTSTRAP_KEYS
    assert first["workspaceId"] == "1042"
    assert first["storeSlug"] == "downtown-coffee"
    assert first["baseUrl"] == stack.base_url
    assert all(first[k] for k in BOOTSTRAP_KEYS)

    second = stack.bootstrap("1042", "downtown-coffee")
    assert second["shopId"] == first["shopId"]  # the same store, not a new one
    assert second["ownerToken"] != first["ownerToken"]  # a new set of secrets each run
    stores = stack.request("GET", "/api/stores", headers=stack.owner_headers(first)).json()["items"]
    assert [s["slug"] for s in stores] == ["downtown-coffee"]


def test_owner_lists_keys_without_secrets(stack):
    creds = stack.bootstrap(new_workspace(), "main")
    resp = stack.request("GET", "/api/keys", headers=stack.owner_headers(creds))
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    assert sorted((i["kind"], i["scope"]) for i in items) == [
        ("api", "store"),
        ("api", "workspace"),
        ("owner", "workspace"),
        ("partner", "store"),
        ("shop", "store"),
    ]
    for item in items:
        assert item["prefix"]
        assert not {"secretHash", "token", "key", "apiSecret", "shopSecret"} & set(item)
    assert not any(creds[k] in resp.text for k in SECRETS)


def test_wrong_owner_token_is_401(stack):
    creds = stack.bootstrap(new_workspace(), "main")
    headers = {**stack.owner_headers(creds), "Authorization": "Bearer nk_live_" + "x" * 32}
    assert_error(stack.request("GET", "/api/keys", headers=headers), 401, "UNAUTHENTICATED")


def test_owner_token_of_another_workspace_is_401(stack):
    creds = stack.bootstrap(new_workspace(), "main")
    headers = {**stack.owner_headers(creds), "x-workspace-id": new_workspace()}
    assert_error(stack.request("GET", "/api/keys", headers=headers), 401, "UNAUTHENTICATED")


def test_missing_credentials_are_401(stack):
    assert_error(stack.request("GET", "/api/keys"), 401, "UNAUTHENTICATED")


def test_api_key_may_not_manage_keys(stack):
    creds = stack.bootstrap(new_workspace(), "main")
    resp = stack.request("GET", "/api/keys", headers={"x-api-key": creds["workspaceApiKey"]})
    assert_error(resp, 403, "FORBIDDEN")


def test_unknown_route_is_404_json(stack):
    reply = stack.request("GET", "/api/nothing-here")
    error = assert_error(reply, 404, "NOT_FOUND")
    # API Gateway's own answer: the path is not echoed (it would be interpolated unescaped)
    assert "route" in error["message"] and reply.headers["x-amzn-RequestId"]
    assert_error(stack.request("POST", "/api/keys/one/two"), 404, "NOT_FOUND")


def test_wrong_method_is_405_with_allow(stack):
    resp = stack.request("PUT", "/api/keys", json={})
    assert_error(resp, 405, "METHOD_NOT_ALLOWED")
    assert {m.strip() for m in resp.headers["Allow"].split(",")} == {"GET", "POST"}


def test_malformed_json_is_400_naming_the_field(stack):
    creds = stack.bootstrap(new_workspace(), "main")
    headers = {**stack.owner_headers(creds), "Content-Type": "application/json"}
    error = assert_error(stack.request("POST", "/api/stores", headers=headers, data="{not json"), 400)
    assert [d["field"] for d in error["details"]] == ["body"]

    error = assert_error(stack.request("POST", "/api/stores", headers=headers, json={"slug": "Not A Slug"}), 400)
    assert [d["field"] for d in error["details"]] == ["slug"]


def test_concurrent_creates_of_one_store_make_exactly_one(stack):
    creds = stack.bootstrap(new_workspace(), "main")
    headers = stack.owner_headers(creds)

    def create(_: int) -> int:
        return stack.request("POST", "/api/stores", headers=headers, json={"slug": "race"}).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(create, range(20)))
    assert sorted(statuses) == [201] + [409] * 19


def test_revoked_key_stops_working(stack):
    workspace = new_workspace()
    kept = stack.bootstrap(workspace, "main")
    revoked = stack.bootstrap(workspace, "main")
    keys = stack.request("GET", "/api/keys", headers=stack.owner_headers(kept)).json()["items"]
    key_id = next(k["keyId"] for k in keys if k["kind"] == "owner" and revoked["ownerToken"].startswith(k["prefix"]))
    assert stack.request("GET", "/api/keys", headers=stack.owner_headers(revoked)).status_code == 200

    resp = stack.request("DELETE", f"/api/keys/{key_id}", headers=stack.owner_headers(kept))
    assert resp.status_code == 200, resp.text
    assert resp.json()["revokedAt"]

    assert_error(stack.request("GET", "/api/keys", headers=stack.owner_headers(revoked)), 401)
    assert stack.request("GET", "/api/keys", headers=stack.owner_headers(kept)).status_code == 200


def test_restart_keeps_stores_and_keys(stack):
    creds = stack.bootstrap(new_workspace(), "main")
    headers = stack.owner_headers(creds)
    assert stack.request("POST", "/api/stores", headers=headers, json={"slug": "second"}).status_code == 201
    keys_before = stack.request("GET", "/api/keys", headers=headers).json()["items"]

    before = len(stack.log())
    exit_code = stack.restart()

    assert exit_code == 0
    log = stack.log()[before:]  # this stop and start only: other tests' tracebacks are theirs
    assert "Traceback" not in log, log
    stores = stack.request("GET", "/api/stores", headers=headers)
    assert stores.status_code == 200, stores.text  # the old owner token still works
    assert sorted(s["slug"] for s in stores.json()["items"]) == ["main", "second"]
    assert stack.request("GET", "/api/keys", headers=headers).json()["items"] == keys_before
    assert stack.bootstrap(creds["workspaceId"], "main")["shopId"] == creds["shopId"]
