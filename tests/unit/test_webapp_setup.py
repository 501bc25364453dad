"""The setup pages of the web app (issue 17): store settings, surveys, NPS, API keys, webhooks -
through the JSON API's own models and domain services, each change CSRF-checked, role-checked and
audited; a new secret shown once."""

# ruff: noqa: F811 - pytest fixtures imported from tests.webapp_support / tests.people_support
from __future__ import annotations

import html

import pytest

from revisit.domain import users
from tests.people_support import invite_and_sign_in, outbox, owner_member, snapshot  # noqa: F401
from tests.support import api_event, invoke
from tests.webapp_support import WebApp, signed_in, webapp  # noqa: F401


def api(method, path, headers, body=None, function="management"):
    return invoke(function, api_event(method, path, body=body, headers=headers))


def settings_form(**overrides):
    form = {"name": "Downtown Coffee", "timezone": "Europe/Paris", "locale": "en", "brandColor": "", "logoUrl": "",
            "reviewPrompt.minRating": "", "reviewPrompt.url": "", "alertMaxRating": "2",
            "weeklyDigest": "on"}  # fmt: skip
    return {**form, **overrides}


def audit_actions(world):
    return [(e["action"], e["target"]) for e in users.audit_page(owner_member(world.workspace_id))["items"]]


# ------------------------------------------------------------------ store settings


def test_renaming_the_store_on_its_page_shows_in_the_json_api(signed_in, world):
    page = signed_in.get(f"/app/setup/stores/{world.store}")
    assert page.status_code == 200
    assert 'value="Downtown Coffee"' in page.text
    r = signed_in.post_form(
        f"/app/setup/stores/{world.store}",
        settings_form(name="Downtown Coffee & Tea", brandColor="#1A73E8", locale="fr",
                      **{"reviewPrompt.minRating": "5", "reviewPrompt.url": "https://g.page/r/downtown"}),
    )  # fmt: skip
    assert r.status_code == 303
    assert r.headers["location"].endswith(f"/app/setup/stores/{world.store}?done=saved")
    shown = api("GET", f"/api/stores/{world.store}", world.owner_headers()).json
    assert shown["name"] == "Downtown Coffee & Tea"
    assert (shown["brandColor"], shown["locale"]) == ("#1a73e8", "fr")
    assert shown["reviewPrompt"] == {"minRating": 5, "url": "https://g.page/r/downtown"}
    assert "Downtown Coffee &amp; Tea" in signed_in.get(f"/app/setup/stores/{world.store}").text
    [entry, *_] = users.audit_page(owner_member(world.workspace_id))["items"]
    assert (entry["action"], entry["target"], entry["actor"]) == ("store.updated", world.store, entry["actor"])
    assert entry["details"]["name"] == "Downtown Coffee & Tea"
    assert entry["actor"].startswith("owner token key_")
    # Alert settings: addresses one a line, a threshold, the digest.
    r = signed_in.post_form(
        f"/app/setup/stores/{world.store}",
        settings_form(name="Downtown Coffee & Tea", brandColor="#1a73e8", locale="fr", alertMaxRating="3",
                      alertEmails="Boss@example.com\nshift@example.com", weeklyDigest="",
                      **{"reviewPrompt.minRating": "5", "reviewPrompt.url": "https://g.page/r/downtown"}),
    )  # fmt: skip
    assert r.status_code == 303
    shown = api("GET", f"/api/stores/{world.store}", world.owner_headers()).json
    assert (shown["alertEmails"], shown["alertMaxRating"], shown["weeklyDigest"]) == (
        ["Boss@example.com", "shift@example.com"], 3, False,
    )  # fmt: skip
    # Emptying an optional setting removes it, as a PATCH with null does.
    r = signed_in.post_form(f"/app/setup/stores/{world.store}", settings_form(name="Downtown Coffee & Tea"))
    assert r.status_code == 303
    shown = api("GET", f"/api/stores/{world.store}", world.owner_headers()).json
    assert (shown["brandColor"], shown["reviewPrompt"], shown["locale"]) == (None, None, "en")


def test_an_unchanged_form_writes_nothing(signed_in, world, table):
    token = signed_in.csrf()
    before = snapshot(table)
    r = signed_in.post_form(f"/app/setup/stores/{world.store}", settings_form(), csrf=token)
    assert r.status_code == 303
    assert r.headers["location"].endswith("done=unchanged")
    assert snapshot(table) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"brandColor": "blue"}, "brandColor"),
        ({"logoUrl": "http://169.254.169.254/logo.png"}, "logoUrl"),
        ({"reviewPrompt.minRating": "3", "reviewPrompt.url": "https://g.page/x"}, "reviewPrompt.minRating"),
        ({"reviewPrompt.url": "https://g.page/x"}, "reviewPrompt.minRating"),
        ({"questions.fr": "Bonjour {nom}"}, "questions.fr"),
        ({"alertEmails": "boss@example.com\nnot-an-address"}, "alertEmails"),
    ],
)
def test_bad_settings_are_400_beside_their_field_and_change_nothing(signed_in, world, table, changes, field):
    token = signed_in.csrf()
    before = snapshot(table)
    r = signed_in.post_form(f"/app/setup/stores/{world.store}", settings_form(**changes), csrf=token)
    assert r.status_code == 400
    assert snapshot(table) == before
    # The error is tied to its field: aria-invalid and aria-describedby naming the message's id.
    field_id = {"reviewPrompt.minRating": "s-minRating", "questions.fr": "s-q-fr"}.get(field, f"s-{field}")
    assert f'id="{field_id}-error"' in r.text
    tag = r.text[r.text.index(f'id="{field_id}"') - 200 : r.text.index(f'id="{field_id}"') + 600]
    assert 'aria-invalid="true"' in tag
    assert f"{field_id}-error" in tag


def test_a_foreign_or_unknown_store_is_the_404_page(signed_in, world, outbox, table):
    assert signed_in.get("/app/setup/stores/no-such-store").status_code == 404
    with invite_and_sign_in(outbox, world, "m@example.com", "manager", [world.other_store]) as manager:
        assert manager.get(f"/app/setup/stores/{world.store}").status_code == 404
        assert manager.get(f"/app/setup/stores/{world.store}/surveys").status_code == 404
        token = manager.csrf(f"/app/setup/stores/{world.other_store}")
        before = snapshot(table)
        r = manager.post_form(f"/app/setup/stores/{world.store}", settings_form(name="Taken over"), csrf=token)
        assert r.status_code == 404
        assert snapshot(table) == before
        # Their own store they may set up.
        r = manager.post_form(
            f"/app/setup/stores/{world.other_store}", settings_form(name="Uptown", timezone="UTC"), csrf=token
        )
        assert r.status_code == 303
        assert api("GET", f"/api/stores/{world.other_store}", world.owner_headers()).json["name"] == "Uptown"
        assert audit_actions(world)[0] == ("store.updated", world.other_store)
        assert users.audit_page(owner_member(world.workspace_id))["items"][0]["actor"] == "m@example.com"
        # Keys and people are the owner's.
        assert manager.get("/app/setup/keys").status_code == 403
        assert manager.get("/app/people").status_code == 403
        assert manager.get("/app/setup/webhooks").status_code == 403


# ------------------------------------------------------------------ API keys


def test_a_new_key_is_shown_once_works_and_stops_when_revoked(signed_in, world):
    r = signed_in.post_form("/app/setup/keys", {"kind": "api", "scope": "store", "storeSlug": world.store,
                                                "label": "till"})  # fmt: skip
    assert r.status_code == 201
    assert r.headers["cache-control"] == "private, no-store"
    start = r.text.index('data-secret="key">') + len('data-secret="key">')
    secret = html.unescape(r.text[start : r.text.index("</code>", start)])
    assert secret.startswith("nk_")
    assert "shown this once and never again" in r.text
    # It works with the JSON API ...
    assert api("GET", f"/api/stores/{world.store}", {"x-api-key": secret}).status == 200
    # ... and no page shows it again.
    listing = signed_in.get("/app/setup/keys")
    assert secret not in listing.text
    assert "till" in listing.text
    key_id = next(k["keyId"] for k in api("GET", "/api/keys", world.owner_headers()).json["items"]
                  if k.get("label") == "till")  # fmt: skip
    assert audit_actions(world)[0] == ("key.created", key_id)

    r = signed_in.post_form(f"/app/setup/keys/{key_id}/revoke", {}, page="/app/setup/keys")
    assert r.status_code == 303
    assert api("GET", f"/api/stores/{world.store}", {"x-api-key": secret}).status == 401
    assert audit_actions(world)[0] == ("key.revoked", key_id)
    assert "revoked" in signed_in.get("/app/setup/keys").text


def test_partner_and_shop_credentials_show_every_part_once(signed_in, world):
    r = signed_in.post_form("/app/setup/keys", {"kind": "partner", "scope": "workspace", "storeSlug": world.store})
    assert r.status_code == 201
    assert 'data-secret="apiKey">pk_' in r.text and 'data-secret="apiSecret">sk_' in r.text
    r = signed_in.post_form("/app/setup/keys", {"kind": "shop", "scope": "store", "storeSlug": world.store})
    assert r.status_code == 201
    assert 'data-secret="shopSecret">' in r.text


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"kind": "api", "scope": "store", "storeSlug": ""}, "storeSlug"),
        ({"kind": "shop", "scope": "workspace"}, "storeSlug"),
        ({"kind": "owner", "scope": "workspace"}, "kind"),
        ({"kind": "api", "scope": "galaxy"}, "scope"),
        ({"kind": "api", "scope": "store", "storeSlug": "no-such-store"}, "storeSlug"),
    ],
)
def test_bad_key_forms_are_400_and_create_nothing(signed_in, world, table, form, field):
    token = signed_in.csrf()
    before = snapshot(table)
    r = signed_in.post_form("/app/setup/keys", form, csrf=token)
    assert r.status_code == 400, r.text
    field_id = {"storeSlug": "k-store", "kind": "k-kind", "scope": "k-scope"}[field]
    assert f'id="{field_id}-error"' in r.text
    assert snapshot(table) == before


# ------------------------------------------------------------------ surveys and NPS


def test_surveys_are_added_and_changed_as_the_json_api_shows(signed_in, world):
    base = f"/app/setup/stores/{world.store}/surveys"
    assert "No survey yet" in signed_in.get(base).text
    r = signed_in.post_form(base, {"name": "After a visit", "sendingType": "email", "delayMinutes": "90",
                                   "maxResends": "1", "resendDelayMinutes": "1440", "active": "on"})  # fmt: skip
    assert r.status_code == 303, r.text
    [survey] = api("GET", "/api/surveys", world.owner_headers()).json["items"]
    assert (survey["name"], survey["delayMinutes"], survey["maxResends"], survey["active"]) == (
        "After a visit", 90, 1, True,
    )  # fmt: skip
    r = signed_in.post_form(f"{base}/{survey['surveyId']}", {"name": "After a visit", "sendingType": "sms",
                                                             "delayMinutes": "90", "maxResends": "1",
                                                             "resendDelayMinutes": "1440", "rule.minAmount": "12.5",
                                                             "rule.channels": "web, shop"})  # fmt: skip
    assert r.status_code == 303, r.text
    [survey] = api("GET", "/api/surveys", world.owner_headers()).json["items"]
    assert (survey["sendingType"], survey["active"]) == ("sms", False)
    assert survey["rule"] == {"minAmount": 12.5, "channels": ["web", "shop"]}
    assert 'value="web, shop"' in signed_in.get(base).text
    bad = signed_in.post_form(f"{base}/{survey['surveyId']}", {"name": "After a visit", "rule.minAmount": "-3"})
    assert bad.status_code == 400
    assert 'id="sv-1-min-amount-error"' in bad.text
    r = signed_in.post_form(f"{base}/{survey['surveyId']}", {"name": "After a visit", "sendingType": "sms",
                                                             "resendDelayMinutes": "1440", "active": "on"})  # fmt: skip
    assert r.status_code == 303, r.text
    [survey] = api("GET", "/api/surveys", world.owner_headers()).json["items"]
    assert survey.get("rule") is None  # emptied: removed, as a PATCH with null does
    assert audit_actions(world)[1:3] == [
        ("survey.updated", f"{world.store}/{survey['surveyId']}"),
        ("survey.created", f"{world.store}/{survey['surveyId']}"),
    ]
    r = signed_in.post_form(base, {"name": "x", "sendingType": "email", "delayMinutes": "0", "maxResends": "2"})
    assert r.status_code == 400
    assert 'id="new-resend-delay-error"' in r.text or "resendDelayMinutes" in r.text


def test_nps_categories_and_channels_are_added_and_changed(signed_in, world):
    base = f"/app/setup/stores/{world.store}/nps"
    assert "Overall experience" in signed_in.get(base).text
    r = signed_in.post_form(f"{base}/channels", {"code": "kiosk", "name": "Kiosk at the door"})
    assert r.status_code == 303, r.text
    r = signed_in.post_form(f"{base}/categories", {"code": "service", "name": "Service",
                                                   "detractor_question": "What went wrong?"})  # fmt: skip
    assert r.status_code == 303, r.text
    q = f"/api/nps/channels?storeSlug={world.store}"
    channels = invoke("management", api_event("GET", "/api/nps/channels", headers=world.owner_headers(),
                                              query={"storeSlug": world.store})).json["items"]  # fmt: skip
    assert {c["code"] for c in channels} == {"default", "kiosk"}, q
    r = signed_in.post_form(f"{base}/channels/kiosk", {"name": "Kiosk"})  # unchecked: inactive
    assert r.status_code == 303
    channels = invoke("management", api_event("GET", "/api/nps/channels", headers=world.owner_headers(),
                                              query={"storeSlug": world.store})).json["items"]  # fmt: skip
    kiosk = next(c for c in channels if c["code"] == "kiosk")
    assert (kiosk["name"], kiosk["active"]) == ("Kiosk", False)
    again = signed_in.post_form(f"{base}/channels", {"code": "kiosk", "name": "Again"})
    assert again.status_code == 400
    assert 'id="new-channel-code-error"' in again.text
    assert [a for a, _ in audit_actions(world)[:3]] == [
        "nps.channel.updated", "nps.category.created", "nps.channel.created",
    ]  # fmt: skip


# ------------------------------------------------------------------ webhooks


def test_a_webhook_secret_is_shown_once_and_the_webhook_deleted(signed_in, world):
    r = signed_in.post_form("/app/setup/webhooks", {"url": "https://hooks.example.com/revisit",
                                                    "events": ["feedback.created", "nps.created"]})  # fmt: skip
    assert r.status_code == 201, r.text
    start = r.text.index('data-secret="secret">') + len('data-secret="secret">')
    secret = r.text[start : r.text.index("</code>", start)]
    assert secret.startswith("whsec_")
    listing = api("GET", "/api/webhooks", world.owner_headers(), function="webhooks").json["items"]
    [hook] = listing
    assert hook["events"] == ["feedback.created", "nps.created"]
    assert secret not in signed_in.get("/app/setup/webhooks").text
    r = signed_in.post_form(f"/app/setup/webhooks/{hook['id']}/enabled", {"enabled": "false"})
    assert r.status_code == 303
    assert api("GET", "/api/webhooks", world.owner_headers(), function="webhooks").json["items"][0]["enabled"] is False
    assert "Resume" in signed_in.get("/app/setup/webhooks").text
    r = signed_in.post_form(f"/app/setup/webhooks/{hook['id']}/rotate", {})
    assert r.status_code == 201
    start = r.text.index('data-secret="secret">') + len('data-secret="secret">')
    rotated = r.text[start : r.text.index("</code>", start)]
    assert rotated.startswith("whsec_") and rotated != secret
    assert "keeps signing beside it for 24 hours" in r.text
    assert rotated not in signed_in.get("/app/setup/webhooks").text
    r = signed_in.post_form(f"/app/setup/webhooks/{hook['id']}/delete", {})
    assert r.status_code == 303
    assert api("GET", "/api/webhooks", world.owner_headers(), function="webhooks").json["items"] == []
    assert [a for a, _ in audit_actions(world)[:4]] == [
        "webhook.deleted", "webhook.secret_rotated", "webhook.updated", "webhook.created",
    ]  # fmt: skip
    bad = signed_in.post_form("/app/setup/webhooks", {"url": "http://10.0.0.1/x", "events": ["nps.created"]})
    assert bad.status_code == 400
    assert 'id="w-url-error"' in bad.text


# ------------------------------------------------------------------ CSRF and roles: 403, nothing changed


def changes(world, key_id="key_x", survey_id="srv_x", webhook_id="wh_x"):
    """Every POST of the setup pages, with a valid form."""
    s = world.store
    return [
        (f"/app/setup/stores/{s}", settings_form(name="Hijacked")),
        (f"/app/setup/stores/{s}/surveys", {"name": "x", "sendingType": "email", "delayMinutes": "1"}),
        (f"/app/setup/stores/{s}/surveys/{survey_id}", {"name": "y", "sendingType": "email"}),
        (f"/app/setup/stores/{s}/nps/channels", {"code": "evil", "name": "Evil"}),
        (f"/app/setup/stores/{s}/nps/channels/default", {"name": "Evil"}),
        ("/app/setup/keys", {"kind": "api", "scope": "workspace"}),
        (f"/app/setup/keys/{key_id}/revoke", {}),
        ("/app/setup/webhooks", {"url": "https://hooks.example.com/x", "events": ["nps.created"]}),
        (f"/app/setup/webhooks/{webhook_id}/delete", {}),
        (f"/app/setup/webhooks/{webhook_id}/enabled", {"enabled": "false"}),
        (f"/app/setup/webhooks/{webhook_id}/rotate", {}),
    ]  # fmt: skip


def _real_ids(world):
    from revisit.domain import credentials, surveys, webhooks
    from revisit.domain.auth import Kind, Principal

    owner = Principal(world.workspace_id, Kind.OWNER, "workspace", None, "k")
    survey = surveys.create_survey(owner, {"storeSlug": world.store, "name": "S", "sendingType": "email"})
    hook = webhooks.create(owner, {"url": "https://hooks.example.com/a", "events": ["nps.created"]})
    key = credentials.issue(world.workspace_id, Kind.API, "workspace")
    return {"key_id": key["keyId"], "survey_id": survey["surveyId"], "webhook_id": hook["id"]}


@pytest.mark.parametrize("csrf", [None, "wrong", "forged-from-another-session"])
def test_without_the_csrf_token_every_change_is_403_and_nothing_changes(signed_in, world, table, csrf):
    ids = _real_ids(world)
    if csrf == "forged-from-another-session":
        with WebApp() as other:
            other.sign_in(world.workspace_id, world.owner_token)
            csrf = other.csrf()
    before = snapshot(table)
    for path, form in changes(world, **ids):
        r = signed_in.post_form(path, form, csrf=csrf)
        assert r.status_code == 403, (path, r.status_code)
    assert snapshot(table) == before


def test_a_viewer_gets_403_for_every_change_and_nothing_changes(world, outbox, table):
    ids = _real_ids(world)
    with invite_and_sign_in(outbox, world, "viewer@example.com", "viewer") as viewer:
        page = viewer.get(f"/app/setup/stores/{world.store}")
        assert page.status_code == 200  # a viewer reads the settings ...
        assert "fieldset" in page.text and " disabled" in page.text  # ... in a form that cannot be sent
        assert "Save the settings" not in page.text
        token = viewer.csrf()
        before = snapshot(table)
        for path, form in changes(world, **ids):
            r = viewer.post_form(path, form, csrf=token)
            assert r.status_code == 403, (path, r.status_code)
        assert snapshot(table) == before


def test_a_store_keys_session_sets_up_its_store_only(webapp, world, table):
    assert webapp.sign_in(world.workspace_id, world.store_key).status_code == 303
    assert webapp.get(f"/app/setup/stores/{world.other_store}").status_code == 404
    r = webapp.post_form(f"/app/setup/stores/{world.store}", settings_form(name="By the key"))
    assert r.status_code == 303
    assert api("GET", f"/api/stores/{world.store}", world.owner_headers()).json["name"] == "By the key"
    assert users.audit_page(owner_member(world.workspace_id))["items"][0]["actor"].startswith("API key key_")
    assert webapp.get("/app/setup/keys").status_code == 403


def test_the_sign_in_and_setup_pages_through_the_lambda_handler(world):
    """The Mangum handler with API Gateway events (stage "dev"): the link's page answers with its
    form and script under the stage's prefix; a setup page without a session sends to sign-in."""
    from tests.webapp_support import invoke as invoke_page
    from tests.webapp_support import page_event

    out = invoke_page(page_event("GET", "/app/signin"))
    assert out["statusCode"] == 200
    assert 'action="/dev/app/signin"' in out["body"]
    assert 'src="/dev/app/static/signin.js?v=' in out["body"]
    assert 'href="/dev/app/static/setup.css?v=' in out["body"]
    out = invoke_page(page_event("GET", "/app/setup"))
    assert out["statusCode"] == 303
    headers = {k.lower(): v for k, v in (out.get("headers") or {}).items()}
    multi = {k.lower(): v for k, v in (out.get("multiValueHeaders") or {}).items()}
    location = headers.get("location") or (multi.get("location") or [""])[0]
    assert location.startswith("/dev/app/login")


def test_every_post_of_the_setup_pages_is_in_the_csrf_and_role_tests(world):
    """A POST route added to pages/setup.py without a case above fails here."""
    from webapp.pages import setup

    covered = [path for path, _ in changes(world)]
    for route in setup.routes:
        if "POST" in (route.methods or ()):
            assert any(route.path_regex.match(p) for p in covered), route.path
