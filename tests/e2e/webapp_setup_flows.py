"""H6's steps of the web app's browser test (tests/e2e/test_webapp_browser.py appends them to its
FLOWS, and these pages to its PAGES): people and sign-in by an emailed link (the local stack's
outbox), renaming the store on its settings page, creating and revoking an API key.

Each step starts and ends signed in as the workspace owner (the core's ``sign_in``).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

MANAGER = "harbour-manager@example.com"
FIGURES = Path(__file__).resolve().parents[1] / "artifacts" / "webapp" / "setup-flows.json"
NEW_NAME = "Harbour Café & Co"
LINK = re.compile(r"https?://[^\s#]+(/app/signin#(sil_[A-Za-z0-9]{43}))")

PAGES: list[tuple[str, str]] = [
    ("setup", "/app/setup"),
    ("store-settings", "/app/setup/stores/{store}"),
    ("store-surveys", "/app/setup/stores/{store}/surveys"),
    ("store-nps", "/app/setup/stores/{store}/nps"),
    ("webhooks", "/app/setup/webhooks"),
    ("people", "/app/people"),
    ("audit", "/app/audit"),
]


def _latest_link(ctx: dict[str, Any], address: str, after: int = 0) -> tuple[str, str]:
    """(path with fragment, token) of the newest email to ``address``, once there are more than ``after``."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        emails = [m for m in ctx["stack"].request("GET", "/_local/outbox").json()["emails"] if address in m["to"]]
        if len(emails) > after:
            match = LINK.search(emails[-1]["body"])
            assert match, emails[-1]["body"]
            return match.group(1), match.group(2)
        time.sleep(0.25)
    raise AssertionError(f"no new email to {address} in the outbox")


def _emails_to(ctx: dict[str, Any], address: str) -> int:
    return sum(address in m["to"] for m in ctx["stack"].request("GET", "/_local/outbox").json()["emails"])


def _click_confirmed(b: Any, css: str) -> None:
    """Click a button of a ``data-confirm`` form, accept the question, wait for the next page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    old = b.driver.find_element(By.TAG_NAME, "html")
    b.driver.find_element(By.CSS_SELECTOR, css).click()
    WebDriverWait(b.driver, 5).until(ec.alert_is_present())
    b.driver.switch_to.alert.accept()
    WebDriverWait(b.driver, 15).until(ec.staleness_of(old))


def _sign_out(b: Any) -> None:
    b.open("/app")
    b.submit(".who button[type=submit]")
    assert b.path == "/app/login"


def _sign_in_as_owner(b: Any, ctx: dict[str, Any]) -> None:
    b.open("/app/login")
    b.fill("#workspaceId", ctx["creds"]["workspaceId"])
    b.fill("#secret", ctx["creds"]["ownerToken"])
    b.submit("#secret-form button[type=submit]")
    assert b.path == "/app", b.driver.current_url


def invite_and_sign_in_by_email(b: Any, ctx: dict[str, Any]) -> None:
    """The owner invites a manager of the store; the manager asks for a link on the sign-in page,
    opens the emailed link (which uses nothing), presses Sign in, renames the store; the same link
    a second time is refused."""
    from selenium.webdriver.common.by import By

    invite_form = "form[action$='/app/people/invite']"
    b.open("/app/people")
    b.fill(f"{invite_form} input[name=email]", MANAGER)
    b.driver.find_element(By.CSS_SELECTOR, f"{invite_form} input[name=role][value=manager]").click()
    b.driver.find_element(By.CSS_SELECTOR, f"{invite_form} input[name=stores][value='{ctx['store']}']").click()
    b.submit(f"{invite_form} button[type=submit]")
    assert "The invitation is sent" in b.driver.page_source
    assert MANAGER in b.driver.page_source
    b.check("people-invited")
    _latest_link(ctx, MANAGER)  # the invitation arrived

    _sign_out(b)
    sent = _emails_to(ctx, MANAGER)
    b.fill("#email", MANAGER)
    asked = time.monotonic()
    b.submit("form[action$='/app/login/email'] button[type=submit]")
    path, token = _latest_link(ctx, MANAGER, after=sent)
    ctx.setdefault("figures", {})["linkInOutboxSeconds"] = round(time.monotonic() - asked, 2)
    notice = b.driver.find_element(By.ID, "email-notice").text
    assert "If that address has access" in notice
    b.check("login-link-sent")

    b.open(path)
    assert b.path == "/app/signin"
    field = b.driver.find_element(By.ID, "signin-token")
    assert field.get_attribute("value") == token  # copied from the fragment by signin.js ...
    assert "#" not in b.driver.current_url  # ... which then dropped it from the address bar
    b.check("signin")
    pressed = time.monotonic()
    b.submit("form[data-signin] button[type=submit]")
    ctx["figures"]["signInToOverviewSeconds"] = round(time.monotonic() - pressed, 2)
    assert b.path == "/app", b.driver.current_url
    assert MANAGER in b.driver.find_element(By.CSS_SELECTOR, ".who-label").text

    b.open(f"/app/setup/stores/{ctx['store']}")
    b.fill("#s-name", NEW_NAME)
    b.submit("form[action$='/app/setup/stores/" + ctx["store"] + "'] button[type=submit]")
    assert "Saved." in b.driver.page_source
    shown = ctx["stack"].request("GET", f"/api/stores/{ctx['store']}", headers=ctx["owner"]).json()
    assert shown["name"] == NEW_NAME
    assert b.driver.find_element(By.ID, "s-name").get_attribute("value") == NEW_NAME
    b.check("store-renamed")
    b.open(f"/app/setup/stores/{ctx['other_store']}")  # not the manager's store: the 404 page
    assert "Page not found" in b.driver.page_source
    b.check("setup-foreign-store", status=404)

    b.open(path)  # the same link again
    b.submit("form[data-signin] button[type=submit]")
    assert "used already or has expired" in b.driver.page_source
    b.check("signin-used", status=410)

    _sign_out(b)
    _sign_in_as_owner(b, ctx)
    b.open("/app/audit")
    text = b.driver.find_element(By.TAG_NAME, "main").text
    assert f"{MANAGER} — store.updated {ctx['store']}" in text
    assert "user.invited" in text and "user.signed_in" in text


def create_and_revoke_a_key(b: Any, ctx: dict[str, Any]) -> None:
    """The owner creates a store key (its secret shown once, and working), then revokes it (it stops)."""
    from selenium.webdriver.common.by import By

    stack, store = ctx["stack"], ctx["store"]
    b.open("/app/setup/keys")
    b.check("keys")
    form = "form[action$='/app/setup/keys']"
    b.driver.find_element(By.CSS_SELECTOR, f"{form} input[name=scope][value=store]").click()
    from selenium.webdriver.support.ui import Select

    Select(b.driver.find_element(By.ID, "k-store")).select_by_value(store)
    b.fill("#k-label", "e2e till")
    b.submit(f"{form} button[type=submit]")
    secret = b.driver.find_element(By.CSS_SELECTOR, "[data-secret=key]").text
    assert secret.startswith("nk_")
    assert "shown this once and never again" in b.driver.page_source
    b.check("key-created")
    assert stack.request("GET", f"/api/stores/{store}", headers={"x-api-key": secret}).status_code == 200

    b.open("/app/setup/keys")
    assert secret not in b.driver.page_source
    card = b.driver.find_element(By.XPATH, "//li[contains(@class,'row')][.//h3[text()='e2e till']]")
    key_id = card.get_attribute("data-key")
    _click_confirmed(b, f"li[data-key='{key_id}'] form button[type=submit]")
    assert "The key is revoked" in b.driver.page_source
    started = time.monotonic()
    while stack.request("GET", f"/api/stores/{store}", headers={"x-api-key": secret}).status_code != 401:
        assert time.monotonic() - started < 6, "the revoked key still works after 6 s"
        time.sleep(0.2)
    ctx.setdefault("figures", {})["revokedKeyRefusedAfterSeconds"] = round(time.monotonic() - started, 2)
    b.check("key-revoked")
    FIGURES.write_text(json.dumps(ctx["figures"], indent=2) + "\n")


FLOWS = [invite_and_sign_in_by_email, create_and_revoke_a_key]
