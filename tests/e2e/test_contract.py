"""The local stack serves the contract like any other function: /openapi.json and Swagger UI at
/docs, which renders in a real browser under its strict CSP with nothing from a CDN."""

from __future__ import annotations

import json
import shutil

import pytest

from revisit_dev import openapi

pytestmark = pytest.mark.e2e


def test_the_stack_serves_the_generated_contract(stack):
    reply = stack.request("GET", "/openapi.json")
    assert reply.status_code == 200 and reply.json() == json.loads(openapi.OUT.read_text())
    page = stack.request("GET", "/docs")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert stack.request("GET", "/docs/swagger-ui-bundle.js").status_code == 200
    assert stack.request("GET", "/docs/app.py").status_code == 404


def test_swagger_ui_renders_the_contract_in_a_browser(stack):
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):  # make test installs them: a missing browser is a failure, never a skip
        pytest.fail("headless Chromium is not installed (bash dev/install-browser.sh)", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(stack.url("/docs"))
        title = WebDriverWait(driver, 20).until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".info .title")))
        assert "Revisit" in title.text
        operations = driver.find_elements(By.CSS_SELECTOR, ".opblock")
        assert len(operations) == sum(len(v) for v in json.loads(openapi.OUT.read_text())["paths"].values())
        blocked = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
        assert not blocked, blocked
    finally:
        driver.quit()
