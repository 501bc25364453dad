"""Part 5's data-model rules at the unit level: four-digit years, expiring devices, contact kept
only while a send is pending, purchase ids per store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support import api_event, invoke
from tests.unit.test_sending import one_tracker, outboxes, run, survey  # noqa: F401 - outboxes: a fixture
from tests.unit.test_trackers import partner_headers, purchase


def test_iso_always_writes_four_digit_years():
    from revisit.domain.util import iso

    assert iso(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000Z"
    assert iso(datetime(999, 12, 31, 23, 59, 59, 999000)) == "0999-12-31T23:59:59.999Z"
    assert iso(datetime(1, 1, 1, tzinfo=UTC)) < iso(datetime(2026, 1, 1, tzinfo=UTC))


def test_an_expired_device_is_unknown_even_before_ttl_deletes_it(world, table):
    from revisit.dal import keys

    did = invoke("nps_public", api_event("GET", "/nps/init", query={"shop_id": world.shop_id})).json["did"]
    body = {"shop_id": world.shop_id, "did": did, "category": "default", "channel": "default", "rate": 9}
    assert invoke("nps_create", api_event("POST", "/nps/create", body=body)).status == 200
    table.update_item(
        TableName="revisit-unit",
        Key={"pk": {"S": f"DID#{did}"}, "sk": {"S": "META"}},
        UpdateExpression=f"SET {keys.TTL} = :past",
        ExpressionAttributeValues={":past": {"N": "1000"}},
    )
    assert invoke("nps_create", api_event("POST", "/nps/create", body=body)).status == 403


def _stored_tracker(table, tracker_id):
    return table.get_item(TableName="revisit-unit", Key={"pk": {"S": f"TRACKER#{tracker_id}"}, "sk": {"S": "META"}})[
        "Item"
    ]


def test_the_raw_contact_is_kept_only_while_a_send_is_pending(world, table, outboxes):  # noqa: F811
    survey(world)
    tracker = one_tracker(world)
    assert _stored_tracker(table, tracker["id"])["contact"]["M"]["email"]["S"] == "ann@example.com"
    purchase_item = table.scan(TableName="revisit-unit", ScanFilter={"type": {"AttributeValueList": [{"S": "purchase"}],
                               "ComparisonOperator": "EQ"}})["Items"][0]  # fmt: skip
    assert "email" not in purchase_item and purchase_item["identities"]["L"]
    assert run(datetime.now(UTC) + timedelta(minutes=1)).sent == 1  # the only send (no resends)
    stored = _stored_tracker(table, tracker["id"])
    assert "contact" not in stored and "contactUntilEpoch" not in stored and stored["sentTo"]["S"]


def test_two_stores_record_the_same_purchase_id(world):
    from revisit.domain import credentials
    from revisit.domain.auth import Kind

    other = credentials.issue("1042", Kind.PARTNER, "store", "uptown-bakery")
    assert purchase(world, "1001").status == 201
    body = {
        "purchaseId": "1001",
        "customerId": "X",
        "storeSlug": "uptown-bakery",
        "purchasedAt": "2026-11-20T10:00:00Z",
    }
    headers = partner_headers(world, other["apiKey"], other["apiSecret"])
    assert invoke("purchases", api_event("POST", "/partners/purchases", body=body, headers=headers)).status == 201
