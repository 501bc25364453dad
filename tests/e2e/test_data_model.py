"""Part 5 of the redesign over HTTP: store-scoped purchase ids, generate answers external trackers
only, a fresh shop's default NPS codes, and `revisit migrate` on a table in the old shape."""

from __future__ import annotations

import json

import boto3
import pytest

pytestmark = pytest.mark.e2e

WS = "5000"


def _partner(creds):
    return {"X-API-KEY": creds["partnerKey"], "X-API-SECRET": creds["partnerSecret"]}


def _owner(creds):
    return {"Authorization": f"Bearer {creds['ownerToken']}", "x-workspace-id": creds["workspaceId"]}


def _purchase(store, **extra):
    return {
        "purchaseId": "1001",
        "customerId": f"C-{store}",
        "storeSlug": store,
        "purchasedAt": "2026-11-21T09:30:00Z",
        **extra,
    }


def test_two_stores_number_orders_alike_and_a_workspace_key_names_the_store(stack):
    north, south = stack.bootstrap(WS, "north-cafe"), stack.bootstrap(WS, "south-cafe")
    for creds, store in ((north, "north-cafe"), (south, "south-cafe")):
        survey = {"storeSlug": store, "name": f"QR {store}", "sendingType": "external"}
        assert stack.request("POST", "/api/surveys", json=survey, headers=_owner(creds)).status_code == 201
    one = stack.request(
        "POST", "/partners/purchases", json=_purchase("north-cafe", amount=10.0), headers=_partner(north)
    )
    two = stack.request(
        "POST", "/partners/purchases", json=_purchase("south-cafe", amount=99.0), headers=_partner(south)
    )
    assert (one.status_code, two.status_code) == (201, 201), (one.text, two.text)
    # each store's key sees its own purchase 1001, and only its own trackers
    for creds, store in ((north, "north-cafe"), (south, "south-cafe")):
        reply = stack.request(
            "POST", "/partners/survey-tracker/generate", json={"purchaseId": "1001"}, headers=_partner(creds)
        )
        assert reply.status_code == 201, reply.text
        [tracker] = reply.json()["items"]
        assert tracker["surveyName"] == f"QR {store}" and tracker["customerId"] == f"C-{store}"
    # a workspace-scoped partner key must name the store when the id is ambiguous
    made = stack.request(
        "POST", "/api/keys", json={"scope": "workspace", "kind": "partner"}, headers=_owner(north)
    ).json()
    ws_partner = {"X-API-KEY": made["apiKey"], "X-API-SECRET": made["apiSecret"]}
    ambiguous = stack.request(
        "POST", "/partners/survey-tracker/generate", json={"purchaseId": "1001"}, headers=ws_partner
    )
    assert ambiguous.status_code == 400 and ambiguous.json()["error"]["details"][0]["field"] == "storeSlug"
    named = stack.request(
        "POST",
        "/partners/survey-tracker/generate",
        json={"purchaseId": "1001", "storeSlug": "south-cafe"},
        headers=ws_partner,
    )
    assert named.status_code == 200 and named.json()["items"][0]["customerId"] == "C-south-cafe"
    listed = stack.request(
        "POST",
        "/partners/survey-tracker/list",
        json={"purchases": ["1001"], "storeSlug": "north-cafe"},
        headers=ws_partner,
    ).json()
    assert [t["customerId"] for t in listed["items"]] == ["C-north-cafe"]
    # a store key cannot reach the other store's purchase by naming it
    other = stack.request(
        "POST",
        "/partners/survey-tracker/generate",
        json={"purchaseId": "1001", "storeSlug": "south-cafe"},
        headers=_partner(north),
    )
    assert other.status_code == 403


def test_generate_answers_external_trackers_and_the_scheduler_sends_the_purchase_email(stack):
    creds = stack.bootstrap(WS, "mail-cafe")
    for body in (
        {"storeSlug": "mail-cafe", "name": "Receipt QR", "sendingType": "external"},
        {"storeSlug": "mail-cafe", "name": "Email now", "sendingType": "email", "delayMinutes": 0},
    ):
        assert stack.request("POST", "/api/surveys", json=body, headers=_owner(creds)).status_code == 201
    purchase = _purchase("mail-cafe", purchaseId="M-1", email="mia@example.com")
    assert stack.request("POST", "/partners/purchases", json=purchase, headers=_partner(creds)).status_code == 201
    generated = stack.request(
        "POST", "/partners/survey-tracker/generate", json={"purchaseId": "M-1"}, headers=_partner(creds)
    )
    assert [t["sendingType"] for t in generated.json()["items"]] == ["external"]
    stack.cli("invoke", "SchedulerFunction")
    listed = stack.request(
        "POST", "/partners/survey-tracker/list", json={"purchases": ["M-1"]}, headers=_partner(creds)
    ).json()["items"]
    email = next(t for t in listed if t["sendingType"] == "email")
    assert email["status"] == "sent" and email["sentTo"] == "mia@example.com", email
    outbox = stack.request("GET", "/_local/outbox").json()
    assert sum(m["to"] == ["mia@example.com"] for m in outbox["emails"]) == 1  # once, never twice


def test_a_fresh_shop_takes_the_seed_create_example_with_the_default_codes(stack):
    creds = stack.bootstrap("5001", "fresh-shop")
    assert creds["defaultCategory"] and creds["defaultChannel"]
    text = stack.cli("bootstrap", "--workspace-id", "5001", "--store", "fresh-shop").stdout
    assert "defaultCategory" in text and "defaultChannel" in text
    seed_example = (
        '{"shop_id":"0d42fd8b713d0752776ca589cc0056","shop_secret":"0123456789abcdef0123456789abcdef",'
        '"category":"category_id","channel":"channel_id","rate":8,"comment":"ok thanks",'
        '"email":"john.doe@examplemail.com"}'
    )
    body = (
        seed_example.replace("0d42fd8b713d0752776ca589cc0056", creds["shopId"])
        .replace("0123456789abcdef0123456789abcdef", creds["shopSecret"])
        .replace('"category_id"', json.dumps(creds["defaultCategory"]))
        .replace('"channel_id"', json.dumps(creds["defaultChannel"]))
    )
    reply = stack.session.post(f"{stack.base_url}/nps/create", headers={"content-type": "application/json"}, data=body)
    assert reply.status_code == 200 and reply.json()["status"] == "success", reply.text


def test_revisit_migrate_turns_todays_shape_into_the_new_one_and_a_second_run_changes_nothing(stack):
    creds = stack.bootstrap("5002", "old-cafe")
    survey = {"storeSlug": "old-cafe", "name": "QR", "sendingType": "external"}
    assert stack.request("POST", "/api/surveys", json=survey, headers=_owner(creds)).status_code == 201
    info = stack.info
    client = boto3.client(
        "dynamodb",
        endpoint_url=info["dynamodbEndpointUrl"],
        region_name=info["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    old_purchase = {
        "pk": {"S": "PURCHASE#5002#OLD-1"},
        "sk": {"S": "META"},
        "type": {"S": "purchase"},
        "purchaseId": {"S": "OLD-1"},
        "customerId": {"S": "C-OLD"},
        "storeSlug": {"S": "old-cafe"},
        "purchasedAt": {"S": "2026-11-21T09:30:00.000Z"},
        "email": {"S": "old@example.com"},
        "workspaceId": {"S": "5002"},
        "recordedAt": {"S": "2026-11-21T09:30:01.000Z"},
    }
    old_device = {
        "pk": {"S": "DID#oldDevice1"},
        "sk": {"S": "META"},
        "type": {"S": "device"},
        "shopId": {"S": creds["shopId"]},
        "createdAt": {"S": "2026-11-21T09:30:00.000Z"},
    }
    for item in (old_purchase, old_device):
        client.put_item(TableName=info["tableName"], Item=item)
    generate = {"purchaseId": "OLD-1"}
    before = stack.request("POST", "/partners/survey-tracker/generate", json=generate, headers=_partner(creds))
    assert before.status_code == 404  # the new code does not read the old shape

    dry = json.loads(stack.cli("migrate", "--dry-run").stdout)
    assert dry["dryRun"] and all(m["status"] == "dry run" for m in dry["migrations"])
    first = stack.cli("migrate", "--page-size", "50")
    assert "page 1" in first.stderr  # the progress line
    applied = {m["id"]: m for m in json.loads(first.stdout)["migrations"]}
    assert applied["0001-purchases-by-store"]["changed"] >= 1 and applied["0004-device-ttl"]["changed"] >= 1
    assert {m["status"] for m in applied.values()} <= {"applied now", "already applied"}

    moved = client.get_item(
        TableName=info["tableName"], Key={"pk": {"S": "PURCHASE#5002#old-cafe#OLD-1"}, "sk": {"S": "META"}}
    )["Item"]
    assert "email" not in moved and moved["identities"]["L"][0]["L"][0]["S"] == "EMAIL"
    assert "Item" not in client.get_item(
        TableName=info["tableName"], Key={"pk": old_purchase["pk"], "sk": old_purchase["sk"]}
    )
    device = client.get_item(TableName=info["tableName"], Key={"pk": old_device["pk"], "sk": old_device["sk"]})["Item"]
    assert "expiresAtEpoch" in device
    after = stack.request("POST", "/partners/survey-tracker/generate", json=generate, headers=_partner(creds))
    assert after.status_code == 201 and after.json()["items"][0]["customerId"] == "C-OLD"

    second = json.loads(stack.cli("migrate").stdout)["migrations"]
    assert [m["status"] for m in second] == ["already applied"] * len(second)
    assert sum(m["changed"] for m in second) == 0
