"""Store settings (issue 14, part 1): GET/PATCH /api/stores/{storeSlug}, validated, authorised and
written in one conditional UpdateItem; a PATCH shows at once in the container that applied it."""

from __future__ import annotations

import pytest

from tests.support import api_event, invoke

RESOURCE = "/api/stores/{storeSlug}"
PROMPT = {"minRating": 5, "url": "https://g.page/r/downtown-coffee/review"}


def store_call(method, slug, headers, body=None):
    event = api_event(
        method, f"/api/stores/{slug}", body=body, headers=headers, resource=RESOURCE, path_params={"storeSlug": slug}
    )
    return invoke("management", event)


def stored(table, workspace_id="1042", slug="downtown-coffee"):
    """The store item exactly as DynamoDB holds it (None when there is none)."""
    key = {"pk": {"S": f"WS#{workspace_id}"}, "sk": {"S": f"STORE#{slug}"}}
    return table.get_item(TableName="revisit-unit", Key=key, ConsistentRead=True).get("Item")


def fields(reply):
    return {d["field"] for d in reply.json["error"]["details"]}


def test_get_answers_every_setting_with_defaults(world):
    reply = store_call("GET", world.store, world.owner_headers())
    assert reply.status == 200, reply.text
    assert reply.json == {
        "storeSlug": "downtown-coffee",
        "name": "Downtown Coffee",
        "timezone": "Europe/Paris",
        "locale": "en",
        "brandColor": None,
        "logoUrl": None,
        "reviewPrompt": None,
        "questions": None,
        "alertEmails": [],
        "alertMaxRating": 2,
        "weeklyDigest": True,
        "retentionMonths": None,
        "shopId": world.shop_id,
        "createdAt": reply.json["createdAt"],
        "updatedAt": None,
    }
    assert reply.json["createdAt"]


def test_patch_round_trip_then_null_removes(world, table):
    change = {
        "name": "  Downtown Coffee · Rue Oberkampf  ",
        "timezone": "Europe/Berlin",
        "locale": "fr",
        "brandColor": "#1A73E8",
        "logoUrl": "https://cdn.example.com/logo.png",
        "reviewPrompt": PROMPT,
        "questions": {"fr": "Comment était votre visite chez {store} ?", "de": "Wie war Ihr Besuch bei {store}?"},
    }
    patched = store_call("PATCH", world.store, world.owner_headers(), change)
    assert patched.status == 200, patched.text
    assert patched.json["name"] == "Downtown Coffee · Rue Oberkampf"  # trimmed
    assert patched.json["brandColor"] == "#1a73e8"  # stored lower-case
    assert patched.json["updatedAt"]
    expected = {**change, "storeSlug": "downtown-coffee", "name": "Downtown Coffee · Rue Oberkampf"}
    expected["brandColor"] = "#1a73e8"
    got = store_call("GET", world.store, world.owner_headers()).json
    assert got == patched.json
    assert {k: got[k] for k in expected} == expected
    assert got["shopId"] == world.shop_id

    item = stored(table)
    assert item["name"] == {"S": "Downtown Coffee · Rue Oberkampf"}
    assert item["locale"] == {"S": "fr"}
    assert item["reviewPrompt"] == {"M": {"minRating": {"N": "5"}, "url": {"S": PROMPT["url"]}}}
    assert item["questions"]["M"]["fr"] == {"S": change["questions"]["fr"]}

    # null removes an optional setting; what is not named stays as it is
    removed = store_call(
        "PATCH", world.store, world.owner_headers(), {"locale": None, "logoUrl": None, "reviewPrompt": None}
    )
    assert removed.status == 200, removed.text
    assert (removed.json["locale"], removed.json["logoUrl"], removed.json["reviewPrompt"]) == ("en", None, None)
    assert removed.json["brandColor"] == "#1a73e8" and removed.json["name"] == expected["name"]
    item = stored(table)
    assert "locale" not in item and "logoUrl" not in item and "reviewPrompt" not in item


def test_the_store_listing_and_other_stores_are_untouched(world, table):
    other = stored(table, slug=world.other_store)
    assert store_call("PATCH", world.store, world.owner_headers(), {"name": "Renamed"}).status == 200
    assert stored(table, slug=world.other_store) == other
    listed = invoke("management", api_event("GET", "/api/stores", headers=world.owner_headers())).json["items"]
    assert {s["slug"]: s["name"] for s in listed} == {"downtown-coffee": "Renamed", "uptown-bakery": "Uptown Bakery"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"locale": "xx"}, "locale"),
        ({"locale": "fr-CA"}, "locale"),
        ({"logoUrl": "http://cdn.example.com/logo.png"}, "logoUrl"),
        ({"logoUrl": "https://169.254.169.254/logo.png"}, "logoUrl"),
        ({"logoUrl": "https://cdn.example.com/" + "a" * 2048}, "logoUrl"),
        ({"brandColor": "red"}, "brandColor"),
        ({"reviewPrompt": {"minRating": 3, "url": PROMPT["url"]}}, "reviewPrompt.minRating"),
        ({"reviewPrompt": {"minRating": 5, "url": "http://g.page/r/x"}}, "reviewPrompt.url"),
        ({"questions": {"xx": "How was it?"}}, "questions.xx"),
        ({"questions": {"fr": "Comment était {name} ?"}}, "questions.fr"),
        ({"questions": {"fr": "x" * 201}}, "questions.fr"),
        ({"surprise": 1}, "surprise"),
        ({"name": ""}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "Two\nlines"}, "name"),
        ({"name": None}, "name"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"slug": "elsewhere"}, "slug"),
        ({"shopId": "0" * 30}, "shopId"),
        ({"createdAt": "2020-01-01T00:00:00Z"}, "createdAt"),
        ({"workspaceId": "2000"}, "workspaceId"),
        ({"name": "Fine", "brandColor": "red"}, "brandColor"),  # one bad field: nothing of the rest
    ],
    ids=str,
)
def test_bad_input_is_400_naming_the_field_and_writes_nothing(world, table, body, field):
    before = stored(table)
    reply = store_call("PATCH", world.store, world.owner_headers(), body)
    assert reply.status == 400, reply.text
    assert reply.json["error"]["code"] == "VALIDATION_FAILED"
    assert field in fields(reply), reply.json
    assert field in reply.json["error"]["message"]
    assert stored(table) == before


def test_keys_of_the_store_and_of_the_workspace_may_change_it(world, table):
    own = store_call("PATCH", world.store, {"x-api-key": world.store_key}, {"name": "By its key"})
    assert own.status == 200, own.text
    assert store_call("GET", world.store, {"x-api-key": world.store_key}).json["name"] == "By its key"
    wide = store_call("PATCH", world.other_store, {"x-api-key": world.workspace_key}, {"locale": "nl"})
    assert wide.status == 200, wide.text
    assert stored(table, slug=world.other_store)["locale"] == {"S": "nl"}


def test_a_key_of_another_store_is_403_and_writes_nothing(world, table):
    before = stored(table, slug=world.other_store)
    headers = {"x-api-key": world.store_key}  # bound to downtown-coffee
    assert store_call("PATCH", world.other_store, headers, {"name": "Hijacked"}).status == 403
    assert store_call("PATCH", world.other_store, headers, {"brandColor": "red"}).status == 403  # no field hints
    assert store_call("GET", world.other_store, headers).status == 403
    assert stored(table, slug=world.other_store) == before


def test_partner_and_shop_credentials_are_403(world, table):
    before = stored(table)
    partner = {"X-API-KEY": world.partner_key, "X-API-SECRET": world.partner_secret}
    assert store_call("PATCH", world.store, partner, {"name": "Partner"}).status == 403
    assert stored(table) == before


def test_unknown_store_is_404_and_nothing_is_written(world, table):
    reply = store_call("PATCH", "nowhere", world.owner_headers(), {"name": "Ghost"})
    assert reply.status == 404
    assert reply.json["error"]["code"] == "NOT_FOUND"
    assert stored(table, slug="nowhere") is None  # the conditional update created no item
    assert store_call("GET", "nowhere", world.owner_headers()).status == 404


def test_an_owner_of_another_workspace_reaches_only_their_own_stores(world, table):
    foreign = {"Authorization": f"Bearer {world.foreign_owner_token}", "x-workspace-id": world.foreign_workspace_id}
    before = stored(table, slug=world.other_store)
    assert store_call("PATCH", world.other_store, foreign, {"name": "Not yours"}).status == 404
    assert stored(table, slug=world.other_store) == before
    assert stored(table, workspace_id="2000", slug=world.other_store) is None
    # the same slug in their own workspace is their own store: ours stays as it is
    mine = stored(table)
    assert store_call("PATCH", world.store, foreign, {"name": "Theirs, renamed"}).status == 200
    assert stored(table) == mine
    assert stored(table, workspace_id="2000")["name"] == {"S": "Theirs, renamed"}
    # their owner token with our workspace id is no credential at all
    spoofed = {**foreign, "x-workspace-id": world.workspace_id}
    assert store_call("PATCH", world.store, spoofed, {"name": "Spoofed"}).status == 401
    assert stored(table) == mine


def test_empty_patch_changes_nothing(world, table):
    before = stored(table)
    reply = store_call("PATCH", world.store, world.owner_headers(), {})
    assert reply.status == 200 and reply.json["name"] == "Downtown Coffee"
    assert stored(table) == before


def test_the_patching_container_shows_the_new_name_at_once(world):
    from revisit.config import settings
    from revisit.domain import workspaces

    assert settings().store_cache_seconds > 0  # the cache is on (default 30 s)
    assert workspaces.cached_store(world.workspace_id, world.store)["name"] == "Downtown Coffee"
    assert store_call("PATCH", world.store, world.owner_headers(), {"name": "Oberkampf Coffee"}).status == 200
    shown = workspaces.cached_store(world.workspace_id, world.store)
    assert shown["name"] == "Oberkampf Coffee"
    assert shown["updatedAt"]


def test_store_cache_seconds_is_a_setting(monkeypatch):
    from revisit.config import Settings

    monkeypatch.setenv("STORE_CACHE_SECONDS", "0")
    assert Settings.from_env().store_cache_seconds == 0
    monkeypatch.delenv("STORE_CACHE_SECONDS")
    assert Settings.from_env().store_cache_seconds == 30


def test_the_cache_keeps_a_store_for_store_cache_seconds(world, monkeypatch, table):
    import time
    from types import SimpleNamespace

    from revisit.domain import workspaces

    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(workspaces, "runtime_settings", lambda: SimpleNamespace(store_cache_seconds=30.0))
    assert workspaces.cached_store(world.workspace_id, world.store)["name"] == "Downtown Coffee"
    table.update_item(  # another container's PATCH: this one's copy lives on until it expires
        TableName="revisit-unit",
        Key={"pk": {"S": "WS#1042"}, "sk": {"S": "STORE#downtown-coffee"}},
        UpdateExpression="SET #n = :n",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":n": {"S": "Elsewhere"}},
    )
    assert workspaces.cached_store(world.workspace_id, world.store)["name"] == "Downtown Coffee"
    clock[0] += 31
    assert workspaces.cached_store(world.workspace_id, world.store)["name"] == "Elsewhere"


# ------------------------------------------------------------------ POST /api/stores


def create(world, body):
    return invoke("management", api_event("POST", "/api/stores", body=body, headers=world.owner_headers()))


def test_create_takes_store_slug_and_settings(world, table):
    reply = create(
        world, {"storeSlug": "harbour-kiosk", "name": "Harbour Kiosk", "locale": "pt", "brandColor": "#00AA88"}
    )
    assert reply.status == 201, reply.text
    assert reply.json["slug"] == "harbour-kiosk"
    got = store_call("GET", "harbour-kiosk", world.owner_headers()).json
    assert (got["storeSlug"], got["name"], got["locale"], got["brandColor"]) == (
        "harbour-kiosk",
        "Harbour Kiosk",
        "pt",
        "#00aa88",
    )
    assert stored(table, slug="harbour-kiosk")["locale"] == {"S": "pt"}
    assert create(world, {"slug": "pier-cafe"}).status == 201  # the older name still works


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"storeSlug": "a", "slug": "a"}, "slug"),
        ({"storeSlug": "Bad Slug!"}, "storeSlug"),
        ({"name": "No slug"}, "slug"),
        ({"storeSlug": "ok", "locale": "xx"}, "locale"),
        ({"storeSlug": "ok", "logoUrl": "http://cdn.example.com/l.png"}, "logoUrl"),
        ({"storeSlug": "ok", "questions": {"xx": "?"}}, "questions.xx"),
    ],
    ids=str,
)
def test_bad_create_is_400_naming_the_field_and_writes_nothing(world, table, body, field):
    before = table.query(
        TableName="revisit-unit", KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "WS#1042"}}
    )["Count"]
    reply = create(world, body)
    assert reply.status == 400, reply.text
    assert field in fields(reply), reply.json
    after = table.query(
        TableName="revisit-unit", KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "WS#1042"}}
    )["Count"]
    assert after == before
