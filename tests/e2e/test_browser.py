"""A real browser (headless Debian Chromium) on the customer's pages, in three languages (issue 14).

For each language a customer's browser, with JavaScript off, opens a survey link and answers by
keyboard only (Tab to the radio group, ArrowRight 1 -> 4, Tab to the comment, Tab to the button,
Enter), sees the page follow a store rename, gets the error tied to its field after sending no
rating, the review link after a high rating and "we will look into it" after a low one, the
closed pages (used link 410, unknown link 404) and the unsubscribe pages. Every page is checked
with axe-core (the version pinned in dev/browser/package-lock.json) at 390 px and 1280 px wide -
0 violations - and screenshotted at both widths into tests/artifacts/browser/.

The language comes from the token's payload (fr; the browser asks for Italian), the browser's
Accept-Language (de), or the store's locale (es; the browser asks for Japanese, unsupported).

JavaScript: the pages have none of their own. The customer's flow runs with script execution
disabled (DevTools ``Emulation.setScriptExecutionDisabled``, checked on a page with an inline
script); axe needs its timers, so it runs with scripts enabled on the very page the customer saw
(no reload), injected through WebDriver (DevTools, not subject to the page's CSP, which has no
script-src), and scripts are disabled again before the next step.

Needs Debian's chromium and chromium-driver and axe-core (make test installs them with
dev/install-browser.sh); skipped where they are absent, except with CI=true, where that fails.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from revisit import i18n

pytestmark = pytest.mark.e2e

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "dev" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO / "tests" / "artifacts" / "browser"
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
WIDTHS = ((390, 844), (1280, 900))
REVIEW_URL = "https://example.com/review"
RUN_AXE = (
    "const done = arguments[arguments.length - 1];"
    f"axe.run(document, {{runOnly: {json.dumps(AXE_RULES)}}})"
    ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
    " targets: v.nodes.map(n => n.target.join(' '))}))))"
    ".catch(e => done({error: String(e)}));"
)
AXE_CANARY = "data:text/html,<title>bad</title><main><h1>Bad</h1><img src='x.png'></main>"
SCRIPT_PROBE = "data:text/html,<title>off</title><script>document.title='on'</script>"

# language -> how the customer's page gets it, and what the pages without a token's store say
SCENARIOS = {
    "fr": {"payload": {"locale": "fr"}, "browser": "it", "store": {}, "unknown": "it", "unsubscribe": "it"},
    "de": {"payload": {}, "browser": "de", "store": {}, "unknown": "de", "unsubscribe": "de"},
    "es": {"payload": {}, "browser": "ja", "store": {"locale": "es"}, "unknown": "en", "unsubscribe": "es"},
}
NAMES = {"fr": "Café Lumière", "de": "Bäckerei Sonnenschein", "es": "Cafetería Sol y Sombra"}
BRANDS = {"fr": "#6a1b9a", "de": "#ffd400", "es": "#c62828"}


def _missing() -> str | None:
    if not (CHROMIUM and DRIVER):
        return "headless Chromium is not installed (apt-get install chromium chromium-driver)"
    if not AXE.exists():
        return f"axe-core is not installed in {AXE.parents[2]} (bash dev/install-browser.sh)"
    return None


@pytest.fixture(scope="module")
def axe_source() -> str:
    message = _missing()
    if message:
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)  # CI proves the browser tests: they never skip there
        pytest.skip(message)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in (*ARTIFACTS.glob("*.png"), ARTIFACTS / "axe.json"):
        old.unlink(missing_ok=True)
    return AXE.read_text()


def _browser(accept_language: str):
    """A headless Chromium asking for ``accept_language``, with JavaScript off."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--window-size={WIDTHS[0][0]},{WIDTHS[0][1]}",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": accept_language})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_script_timeout(30)
    _scripts(driver, enabled=False)
    driver.get(SCRIPT_PROBE)
    assert driver.title == "off", "JavaScript is still on"
    return driver


def _scripts(driver, *, enabled: bool) -> None:
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": not enabled})


class Pages:
    """Screenshots and axe runs of the pages one browser shows, with the violations found."""

    def __init__(self, driver, axe_source: str) -> None:
        self.driver, self.axe_source = driver, axe_source
        self.counts: dict[str, int] = {}
        self.violations: list[str] = []

    def axe(self) -> list[dict]:
        """axe-core's violations on the current page, as it is (no reload)."""
        _scripts(self.driver, enabled=True)  # axe needs its timers; the customer's flow never has scripts
        try:
            self.driver.execute_script(self.axe_source)  # through DevTools: the page's CSP does not apply
            found = self.driver.execute_async_script(RUN_AXE)
        finally:
            _scripts(self.driver, enabled=False)
        assert isinstance(found, list), found
        return found

    def check(self, name: str, language: str, status: int = 200) -> None:
        """The current page at both widths: its language, a screenshot, axe's verdict; and that the
        browser logged nothing but, for an error page, its own HTTP status."""
        driver = self.driver
        assert driver.find_element("tag name", "html").get_attribute("lang") == language, (name, language)
        for width, height in WIDTHS:
            driver.set_window_size(width, height)
            assert driver.execute_script("return innerWidth") == width
            driver.save_screenshot(str(ARTIFACTS / f"{name}-{language}-{width}.png"))
            found = self.axe()
            key = f"{name}-{language}-{width}"
            self.counts[key] = len(found)
            self.violations += [
                f"{key}: {v['id']} ({v['impact']}) {' | '.join(v['targets'])}: {v['help']}" for v in found
            ]
        driver.set_window_size(*WIDTHS[0])
        own = f"{driver.current_url} - Failed to load resource: the server responded with a status of {status} "
        severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == ([own + f"({HTTPStatus(status).phrase})"] if status >= 400 else []), (name, severe)


def _keys(driver, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    chain = ActionChains(driver)
    for key in keys:
        chain.send_keys(key)
    chain.perform()


def _active(driver):
    return driver.switch_to.active_element


def _wait_h1(driver, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 10).until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), text))


def _answer_by_keyboard(driver, t: i18n.Text, stars: int, comment: str) -> None:
    """From a freshly loaded form: Tab to the radio group, ArrowRight to ``stars``, Tab to the
    comment and type, Tab to the button, Enter."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _keys(driver, Keys.TAB)
    assert _active(driver).get_attribute("id") == "r1"  # the first Tab lands on star 1
    for n in range(2, stars + 1):
        _keys(driver, Keys.ARROW_RIGHT)
        radio = _active(driver)
        assert radio.get_attribute("id") == f"r{n}" and radio.is_selected()  # 1 -> 2 -> ... in order
    radio = _active(driver)
    assert radio.get_attribute("value") == str(stars)
    assert radio.accessible_name == t("{n} of 5 stars", n=stars)
    checked = driver.find_elements(By.CSS_SELECTOR, "input[name=rating]:checked")
    assert [r.get_attribute("value") for r in checked] == [str(stars)]
    # visible focus: the focused radio's label has the outline (input:focus-visible + label), others none
    focused = driver.find_element(By.CSS_SELECTOR, f"label[for=r{stars}]")
    assert focused.value_of_css_property("outline-style") != "none"
    assert focused.value_of_css_property("outline-width") not in ("0px", "")
    if stars > 1:
        assert driver.find_element(By.CSS_SELECTOR, "label[for=r1]").value_of_css_property("outline-style") == "none"
    _keys(driver, Keys.TAB)
    assert _active(driver).get_attribute("id") == "comment"
    if comment:
        _keys(driver, comment)
    _keys(driver, Keys.TAB)
    assert _active(driver).get_attribute("type") == "submit"
    _keys(driver, Keys.ENTER)


def _store_setup(stack, language: str, scenario: dict) -> dict:
    slug = f"browser-{language}"
    creds = stack.bootstrap("4000", slug)
    owner = stack.owner_headers(creds)
    prompt = {"reviewPrompt": {"minRating": 4, "url": REVIEW_URL}, "brandColor": BRANDS[language],
              "alertEmails": [f"manager-{language}@example.com"]}  # fmt: skip
    patched = stack.request("PATCH", f"/api/stores/{slug}", headers=owner, json=prompt | scenario["store"])
    assert patched.status_code == 200, patched.text
    survey = {"storeSlug": slug, "name": "Receipt QR", "sendingType": "external"}
    assert stack.request("POST", "/api/surveys", json=survey, headers=owner).status_code == 201
    return creds | {"slug": slug}


def _token(stack, creds: dict, order_id: str, scenario: dict) -> str:
    payload = {"orderId": order_id, "civ": f"CIV-{order_id}"} | scenario["payload"]
    reply = stack.request(
        "POST",
        "/api/external/token",
        headers={"x-api-key": creds["storeApiKey"]},
        json={"storeSlug": creds["slug"], "payload": payload},
    )
    assert reply.status_code == 201, reply.text
    return reply.json()["url"]


def _tracker_token(stack, creds: dict) -> str:
    partner = {"X-API-KEY": creds["partnerKey"], "X-API-SECRET": creds["partnerSecret"]}
    purchase = {
        "purchaseId": f"{creds['slug']}-P1",
        "customerId": "C-1",
        "storeSlug": creds["slug"],
        "purchasedAt": "2026-11-21T09:30:00Z",
    }
    assert stack.request("POST", "/partners/purchases", json=purchase, headers=partner).status_code == 201
    generated = stack.request(
        "POST", "/partners/survey-tracker/generate", json={"purchaseId": purchase["purchaseId"]}, headers=partner
    )
    assert generated.status_code == 201, generated.text
    [tracker] = generated.json()["items"]
    return tracker["link"].rsplit("/", 1)[1]


@pytest.mark.parametrize("language", list(SCENARIOS))
def test_a_customer_answers_by_keyboard_without_javascript(stack, axe_source, language):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    scenario = SCENARIOS[language]
    t = i18n.text(language)
    creds = _store_setup(stack, language, scenario)
    driver = _browser(scenario["browser"])
    pages = Pages(driver, axe_source)
    try:
        # axe sees violations where there are some (its 0s below mean something)
        driver.get(AXE_CANARY)
        assert {"image-alt", "html-has-lang"} <= {v["id"] for v in pages.axe()}
        driver.get_log("browser")  # (the canary's missing image)

        # the pages carry no script and their CSP allows none: axe gets in through WebDriver only
        url = _token(stack, creds, "A", scenario)
        csp = stack.request("GET", urlsplit(url).path).headers["Content-Security-Policy"]
        assert "script-src" not in csp and "default-src 'none'" in csp

        # 1. the form, then a rename shows on it
        driver.get(url)
        _wait_h1(driver, i18n.question(t, creds["slug"], None))
        renamed = stack.request(
            "PATCH", f"/api/stores/{creds['slug']}", headers=stack.owner_headers(creds), json={"name": NAMES[language]}
        )
        assert renamed.status_code == 200, renamed.text
        driver.refresh()
        _wait_h1(driver, i18n.question(t, NAMES[language], None))
        assert driver.title == t("Feedback for {store}", store=NAMES[language])
        pages.check("form", language)

        # 2. keyboard only: 4 stars and a comment -> the thank-you page (4 >= minRating: the review link)
        comment = {"fr": "Très bon café.", "de": "Sehr guter Kuchen.", "es": "Muy buen café."}[language]
        _answer_by_keyboard(driver, t, 4, comment)
        _wait_h1(driver, t("Thank you!"))
        assert t("Your feedback has been received.") in driver.page_source
        link = driver.find_element(By.LINK_TEXT, t("Write a review"))
        assert link.get_attribute("href") == REVIEW_URL
        pages.check("thank-you-4-stars", language)
        found = stack.request(
            "GET", "/api/external/feedback", params={"orderId": "A"}, headers={"x-api-key": creds["storeApiKey"]}
        )
        assert found.status_code == 200, found.text
        assert [(f["rating"], f["comment"], f["civ"]) for f in found.json()["items"]] == [(4, comment, "CIV-A")]

        # 3. the used link: 410, "already answered"
        assert stack.request("GET", urlsplit(url).path).status_code == 410
        driver.get(url)
        _wait_h1(driver, t("Already answered"))
        assert t("This survey has already been answered. Thank you!") in driver.find_element(By.TAG_NAME, "p").text
        pages.check("used", language, 410)

        # 4. no rating: the browser's own validation (the radios are required) keeps the form ...
        driver.get(_token(stack, creds, "B", scenario))
        _wait_h1(driver, i18n.question(t, NAMES[language], None))
        _keys(driver, Keys.TAB, Keys.TAB, Keys.TAB)
        assert _active(driver).get_attribute("type") == "submit"
        html = driver.find_element(By.TAG_NAME, "html")
        _keys(driver, Keys.ENTER)
        time.sleep(0.5)
        assert html.is_displayed() and not driver.find_elements(By.ID, "rating-error")  # not posted
        assert len(driver.find_elements(By.CSS_SELECTOR, "input[name=rating]:invalid")) == 5
        # ... and a browser that does not validate posts it: the server's error, tied to the field
        driver.execute_script("document.forms[0].noValidate = true")  # WebDriver's, not the page's
        _keys(driver, Keys.ENTER)  # the button still has the focus
        error = t("Please choose a rating from 1 to 5 stars.")
        WebDriverWait(driver, 10).until(ec.presence_of_element_located((By.ID, "rating-error")))
        assert error != "Please choose a rating from 1 to 5 stars."  # in the customer's language
        assert driver.find_element(By.ID, "rating-error").text == error
        for radio in driver.find_elements(By.CSS_SELECTOR, "input[name=rating]"):
            assert radio.get_attribute("aria-describedby") == "rating-error"
            assert radio.get_attribute("aria-invalid") == "true"
        pages.check("form-error", language, 400)
        # the error page stays usable: 5 stars by keyboard -> the review link
        _answer_by_keyboard(driver, t, 5, "")
        _wait_h1(driver, t("Thank you!"))
        assert driver.find_element(By.LINK_TEXT, t("Write a review")).get_attribute("href") == REVIEW_URL
        pages.check("thank-you-review", language)

        # 5. a low rating: no review link, "we will look into it"
        driver.get(_token(stack, creds, "C", scenario))
        _wait_h1(driver, i18n.question(t, NAMES[language], None))
        _answer_by_keyboard(driver, t, 2, "")
        _wait_h1(driver, t("Thank you!"))
        assert t("Thank you for telling us. We will look into it.") in driver.page_source
        assert not driver.find_elements(By.TAG_NAME, "a")
        pages.check("thank-you-low", language)
        ratings = stack.request(
            "GET", "/api/external/feedback", params={"orderId": "B"}, headers={"x-api-key": creds["storeApiKey"]}
        ).json()["items"]
        assert [f["rating"] for f in ratings] == [5]

        # 6. an unknown link: 404, in the browser's language (no token, no store)
        unknown = "/s/tkn_NoSuchLinkAnywhere0000"
        assert stack.request("GET", unknown).status_code == 404
        driver.get(stack.url(unknown))
        u = i18n.text(scenario["unknown"])
        _wait_h1(driver, u("Survey not found"))
        pages.check("not-found", scenario["unknown"], 404)

        # 7. unsubscribe (a tracker's link; its payload has no locale): the confirmation, then done
        tracker = _tracker_token(stack, creds)
        driver.get(stack.url(f"/u/{tracker}"))
        u = i18n.text(scenario["unsubscribe"])
        _wait_h1(driver, u("Stop survey messages?"))
        assert NAMES[language] in driver.page_source
        pages.check("unsubscribe", scenario["unsubscribe"])
        _keys(driver, Keys.TAB)
        assert _active(driver).get_attribute("type") == "submit"
        _keys(driver, Keys.ENTER)
        _wait_h1(driver, u("Unsubscribed"))
        pages.check("unsubscribed", scenario["unsubscribe"])

        # 8. the store's alert emails (step 5's 2 stars; docs/alerts.md): their unsubscribe page, in
        # the store's language, by keyboard, then done
        a = i18n.text(scenario["store"].get("locale", "en"))
        manager, deadline, mails = f"manager-{language}@example.com", time.monotonic() + 45, []
        while not mails and time.monotonic() < deadline:
            outbox = stack.request("GET", "/_local/outbox").json()["emails"]
            mails = [m for m in outbox if manager in m["to"] and "List-Unsubscribe" in m.get("headers", {})]
            time.sleep(0.25)
        assert mails, f"no alert email to {manager}"
        driver.get(mails[0]["headers"]["List-Unsubscribe"].strip("<>"))
        _wait_h1(driver, a("Stop alert emails?"))
        assert NAMES[language] in driver.page_source
        pages.check("alert-unsubscribe", a.language)
        _keys(driver, Keys.TAB)
        assert _active(driver).get_attribute("type") == "submit"
        _keys(driver, Keys.ENTER)
        _wait_h1(driver, a("Unsubscribed"))
        pages.check("alert-unsubscribed", a.language)
        driver.get(SCRIPT_PROBE)
        assert driver.title == "off", "JavaScript came on during the customer's flow"
    finally:
        driver.quit()
    summary = ARTIFACTS / "axe.json"
    counts = json.loads(summary.read_text()) if summary.exists() else {}
    summary.write_text(json.dumps(counts | pages.counts, indent=1, sort_keys=True) + "\n")
    assert not pages.violations, "axe-core found violations:\n" + "\n".join(pages.violations)
