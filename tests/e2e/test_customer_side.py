"""The customer's side over HTTP (issue 14): a store's settings change what its customers see -
the page, the next email and the next SMS - and bad settings are refused, naming the field."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

pytestmark = pytest.mark.e2e


def _afternoon_zone() -> str:
    """A fixed-offset zone where it is about 14:00 now, so SMS quiet hours never hold the send."""
    offset = ((14 - datetime.now(UTC).hour + 12) % 24) - 12  # -12 .. +11 hours
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"


def _wait_sent(stack, headers, tracker_id, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sent = stack.request("GET", "/partners/survey-tracker", params={"id": tracker_id}, headers=headers).json()
        if sent["status"] == "sent":
            return sent
        time.sleep(0.3)
    raise AssertionError(f"tracker {tracker_id} not sent: {sent}")


def test_a_rename_shows_on_the_page_in_the_next_email_and_sms(stack):
    own = stack.bootstrap("3100", "rename-cafe")
    owner = stack.owner_headers(own)
    partner = {"X-API-KEY": own["partnerKey"], "X-API-SECRET": own["partnerSecret"]}
    key = {"x-api-key": own["storeApiKey"]}
    store = "/api/stores/rename-cafe"

    before = stack.request("GET", store, headers=key)
    assert before.status_code == 200 and before.json()["name"] == "rename-cafe"
    changed = stack.request(
        "PATCH", store, headers=owner, json={"name": "Café Renommé", "locale": "fr", "timezone": _afternoon_zone()}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Café Renommé" and changed.json()["locale"] == "fr"

    token = stack.request(
        "POST", "/api/external/token", headers=key, json={"storeSlug": "rename-cafe", "payload": {"orderId": "R-1"}}
    ).json()["token"]
    page = stack.request("GET", f"/s/{token}")
    assert page.status_code == 200 and '<html lang="fr">' in page.text
    assert "Comment s&#x27;est passée votre visite chez Café Renommé ?" in page.text

    for kind in ("email", "sms"):
        survey = {"storeSlug": "rename-cafe", "name": kind, "sendingType": kind, "delayMinutes": 0}
        assert stack.request("POST", "/api/surveys", headers=owner, json=survey).status_code == 201
    purchase = {
        "purchaseId": "RN-1",
        "customerId": "C-RN",
        "storeSlug": "rename-cafe",
        "purchasedAt": "2026-01-01T00:00:00Z",
        "email": "rn@example.com",
        "phone": "+33612345678",
    }
    assert stack.request("POST", "/partners/purchases", headers=partner, json=purchase).status_code in (200, 201)
    trackers = stack.request(
        "POST", "/partners/survey-tracker/list", json={"purchases": ["RN-1"]}, headers=partner
    ).json()["items"]
    assert sorted(t["sendingType"] for t in trackers) == ["email", "sms"]
    sent = {t["sendingType"]: _wait_sent(stack, partner, t["id"]) for t in trackers}
    outbox = stack.request("GET", "/_local/outbox").json()
    [mail] = [m for m in outbox["emails"] if m["to"] == ["rn@example.com"]]
    assert mail["subject"] == "Comment s'est passée votre visite chez Café Renommé ?"
    assert "Merci de votre visite chez Café Renommé." in mail["body"] and sent["email"]["link"] in mail["body"]
    [sms] = [m for m in outbox["sms"] if m["to"] == "+33612345678"]
    assert sms["text"].startswith("Café Renommé : votre avis ?") and sent["sms"]["link"] in sms["text"]


def test_bad_settings_name_the_field_and_write_nothing(stack):
    own = stack.bootstrap("3200", "strict-cafe")
    other = stack.bootstrap("3200", "other-cafe")  # a second store of the same workspace
    owner = stack.owner_headers(own)
    store = "/api/stores/strict-cafe"
    before = stack.request("GET", store, headers=owner).json()
    for body, field in (
        ({"locale": "xx"}, "locale"),
        ({"logoUrl": "http://cdn.example.com/logo.png"}, "logoUrl"),
        ({"brandColor": "red"}, "brandColor"),
        ({"reviewPrompt": {"minRating": 3, "url": "https://example.com/r"}}, "reviewPrompt.minRating"),
        ({"colour": "#ffffff"}, "colour"),
    ):
        reply = stack.request("PATCH", store, headers=owner, json=body)
        assert reply.status_code == 400, (body, reply.text)
        assert reply.json()["error"]["details"][0]["field"] == field, reply.text
    foreign = stack.request("PATCH", store, headers={"x-api-key": other["storeApiKey"]}, json={"name": "Mine now"})
    assert foreign.status_code == 403
    assert stack.request("GET", store, headers=owner).json() == before
