"""revisit_dev.migrations against a table in the old shape: new shape after, nothing on a second run,
an interrupted run resumed at its cursor."""

from __future__ import annotations

import time

import pytest

from revisit.dal import keys, table
from revisit_dev import migrations

TABLE = "revisit-unit"
NOW = int(time.time())


def _put(client, item):
    client.put_item(TableName=TABLE, Item=table.serialize(item))


def _old_shape(client, purchases=7):
    """Items as the code of before part 5 wrote them."""
    for i in range(purchases):
        _put(
            client,
            {
                keys.PK: f"PURCHASE#1042#P-{i}",
                keys.SK: "META",
                keys.TYPE: "purchase",
                "purchaseId": f"P-{i}",
                "customerId": f"C-{i}",
                "storeSlug": "downtown-coffee",
                "purchasedAt": "1-01-01T00:00:00.000Z" if i == 0 else "2026-11-20T10:00:00.000Z",
                "email": f"c{i}@example.com",
                "phone": "+33612345678",
                "workspaceId": "1042",
                "recordedAt": "2026-11-20T10:00:01.000Z",
            },
        )
    base = {keys.SK: "META", keys.TYPE: "tracker", "workspaceId": "1042", "storeSlug": "downtown-coffee"}
    contact = {"email": "ann@example.com"}
    _put(
        client,
        {
            **base,
            keys.PK: "TRACKER#pending",
            "id": "pending",
            "status": "scheduled",
            "sendingType": "email",
            "linkExpiresAt": "2030-01-01T00:00:00.000Z",
            "contact": contact,
            "gsi4pk": "DUE",
            "gsi4sk": "2026-11-20T12:00:00.000Z#pending",
        },
    )
    _put(client, {**base, keys.PK: "TRACKER#done", "id": "done", "status": "completed", "sendingType": "email",
                  "linkExpiresAt": "2030-01-01T00:00:00.000Z", "contact": contact})  # fmt: skip
    _put(client, {keys.PK: "IDEM#1042#" + "a" * 64, keys.SK: "META", keys.TYPE: "idempotency", "requestHash": "h",
                  "response": {"token": "tkn_x", "storeSlug": "downtown-coffee"}, keys.TTL: NOW + 3600})  # fmt: skip
    _put(client, {keys.PK: "IDEM#1042#" + "b" * 64, keys.SK: "META", keys.TYPE: "idempotency", "requestHash": "h",
                  "response": {"token": "tkn_y", "storeSlug": "downtown-coffee"}, keys.TTL: NOW - 10})  # fmt: skip
    _put(client, {keys.PK: "DID#abc", keys.SK: "META", keys.TYPE: "device", "shopId": "s1",
                  "createdAt": "2026-11-20T10:00:00.000Z"})  # fmt: skip


def _dump(client):
    items = client.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return {(i["pk"]["S"], i["sk"]["S"]): table.deserialize(i) for i in items if not i["pk"]["S"].startswith("MIGR")}


def _check_new_shape(client):
    items = _dump(client)
    purchases = [v for (pk, _), v in items.items() if pk.startswith("PURCHASE#")]
    assert len(purchases) == 7
    for p in purchases:
        assert p["pk"] == f"PURCHASE#1042#downtown-coffee#{p['purchaseId']}"
        assert p["gsi1pk"] == f"PURCHASEID#1042#{p['purchaseId']}" and p["gsi1sk"] == "downtown-coffee"
        assert "email" not in p and "phone" not in p and [k for k, _ in p["identities"]] == ["EMAIL", "PHONE"]
    assert items[("PURCHASE#1042#downtown-coffee#P-0", "META")]["purchasedAt"] == "0001-01-01T00:00:00.000Z"
    pending, done = items[("TRACKER#pending", "META")], items[("TRACKER#done", "META")]
    assert pending["contact"] == {"email": "ann@example.com"} and pending[keys.CONTACT_UNTIL] == 1893456000
    assert "contact" not in done and done["identities"][0][0] == "EMAIL"
    assert ("IDEM#1042#downtown-coffee#" + "a" * 64, "META") in items
    assert ("IDEM#1042#" + "b" * 64, "META") in items  # expired: left to TTL
    assert items[("DID#abc", "META")][keys.TTL] > NOW
    return items


def test_migrate_turns_the_old_shape_into_the_new_and_a_second_run_changes_nothing(table):
    _old_shape(table)
    lines = []
    outcomes = {o.id: o for o in migrations.run(page_size=4, progress=lambda o: lines.append(o.pages))}
    expected = {
        "0001-purchases-by-store": 7,
        "0002-idempotency-by-store": 1,
        "0003-tracker-contacts": 2,
        "0004-device-ttl": 1,
    }
    # every later migration finds nothing of its kind in this old shape
    assert {k: o.changed for k, o in outcomes.items()} == {m.id: expected.get(m.id, 0) for m in migrations.MIGRATIONS}
    assert all(o.status == "applied now" for o in outcomes.values()) and lines
    after = _check_new_shape(table)

    again = migrations.run(page_size=4)
    assert [o.status for o in again] == ["already applied"] * len(migrations.MIGRATIONS) and _dump(table) == after
    # Even with the markers gone, every step sees the new shape and writes nothing.
    for m in migrations.MIGRATIONS:
        table.delete_item(TableName=TABLE, Key=table_key(keys.migration(m.id)))
    forced = migrations.run(page_size=3)
    assert [o.changed for o in forced] == [0] * len(migrations.MIGRATIONS) and _dump(table) == after
    assert {s["status"] for s in migrations.status()} == {"applied"}


def table_key(key):
    return table.serialize(key)


def test_dry_run_writes_nothing(table):
    _old_shape(table)
    before = _dump(table)
    outcomes = migrations.run(dry_run=True, page_size=5)
    assert [o.changed for o in outcomes][:4] == [7, 1, 2, 1] and {o.status for o in outcomes} == {"dry run"}
    assert _dump(table) == before
    markers = {"pk": {"AttributeValueList": [{"S": "MIGRATION#"}], "ComparisonOperator": "BEGINS_WITH"}}
    assert table.scan(TableName=TABLE, ScanFilter=markers)["Items"] == []


class Interrupt(BaseException):
    """The process dying mid-run."""


def test_an_interrupted_run_resumes_at_its_cursor(table, monkeypatch):
    _old_shape(table, purchases=30)
    real = migrations._purchases
    calls = {"n": 0}

    def dying(item, dry_run):
        calls["n"] += 1
        if calls["n"] == 12:  # in the middle of the third page of five
            raise Interrupt
        return real(item, dry_run)

    monkeypatch.setattr(migrations.MIGRATIONS[0], "step", dying)
    with pytest.raises(Interrupt):
        migrations.run(page_size=5, only="0001-purchases-by-store")
    marker = table.get_item(TableName=TABLE, Key=table_key(keys.migration("0001-purchases-by-store")))["Item"]
    assert marker["status"]["S"] == "running" and "cursor" in marker
    done_before = int(marker["changed"]["N"])  # the pages recorded before it died
    assert 0 < done_before < 30

    monkeypatch.setattr(migrations.MIGRATIONS[0], "step", real)
    [resumed] = migrations.run(page_size=5, only="0001-purchases-by-store")
    assert resumed.resumed and resumed.status == "applied now"
    # it went on from the cursor: the recorded pages are not read again; what the dying page had
    # moved already is seen in its new shape and left alone
    assert resumed.changed <= 30 - done_before and resumed.changed >= 30 - done_before - 1
    purchases = [k for k in _dump(table) if k[0].startswith("PURCHASE#")]
    assert len(purchases) == 30 and all(pk.startswith("PURCHASE#1042#downtown-coffee#") for pk, _ in purchases)
    rest = {o.id: o for o in migrations.run(page_size=5)}
    assert rest["0001-purchases-by-store"].status == "already applied"
    _check_new_shape_partly = _dump(table)
    assert "contact" not in _check_new_shape_partly[("TRACKER#done", "META")]


def test_migrated_purchases_work_with_the_new_code(world, table):
    """A purchase of before (workspace-keyed, raw contact) is found by generate after migrating."""
    from tests.unit.test_trackers import generate, owner

    _old_shape(table, purchases=1)
    assert owner(world, "POST", "/api/surveys", {"storeSlug": "downtown-coffee", "name": "QR",
                                                 "sendingType": "external"}).status == 201  # fmt: skip
    assert generate(world, "P-0").status == 404  # the old key is not read by the new code
    migrations.run()
    reply = generate(world, "P-0")
    assert reply.status == 201 and reply.json["items"][0]["purchaseId"] == "P-0"


def test_four_digit_year():
    assert migrations.four_digit_year("1-01-01T00:00:00.000Z") == "0001-01-01T00:00:00.000Z"
    assert migrations.four_digit_year("999-12-31T00:00:00Z") == "0999-12-31T00:00:00Z"
    assert migrations.four_digit_year("2026-11-20T10:00:00Z") == "2026-11-20T10:00:00Z"
