"""H5's steps of the web app's browser test (tests/e2e/test_webapp_browser.py appends them to its
FLOWS, and these pages to its PAGES): filter the feedback inbox and compare the answers shown with
the JSON search's, download the CSV of the filter and compare it byte for byte with the JSON API's
export, handle an answer with the workflow form (the API then shows the change), and the trackers
page's funnel after a survey, three purchases and one scheduler run equals the report API's.

Each step starts and ends signed in as the workspace owner (the core's ``sign_in``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ARTIFACTS = Path(__file__).resolve().parents[2] / "tests" / "artifacts" / "webapp"
FILTER = {"maxRating": "3"}

PAGES: list[tuple[str, str]] = [
    ("inbox", "/app/feedback"),
    ("inbox-store-new", "/app/feedback?storeSlug={store}&status=new&hasComment=false"),
    ("inbox-empty", "/app/feedback?storeSlug={other_store}"),
    ("trackers", "/app/stores/{store}/trackers"),
    ("trackers-90", "/app/stores/{store}/trackers?days=90"),
]


def _ids(b: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.get_attribute("data-id") for e in b.driver.find_elements(By.CSS_SELECTOR, "li.answer")]


def _select(b: Any, css: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(b.driver.find_element(By.CSS_SELECTOR, css)).select_by_value(value)


def inbox_filter(b: Any, ctx: dict[str, Any]) -> None:
    """Apply a filter in the form; the answers shown are the JSON search's, in its order."""
    b.open("/app/feedback")
    assert len(_ids(b)) == 25 and b.driver.find_elements("id", "next-page")  # more than a page: paged
    b.check("inbox-all")
    _select(b, "#f-store", ctx["store"])
    _select(b, "#f-max", FILTER["maxRating"])
    b.submit("#apply-filter")
    query = {k: v[0] for k, v in parse_qs(urlsplit(b.driver.current_url).query).items()}
    assert query == {"storeSlug": ctx["store"], **FILTER}, query
    key = {"x-api-key": ctx["creds"]["workspaceApiKey"]}
    api = ctx["stack"].request("GET", "/api/external/feedback", headers=key, params=query).json()
    assert _ids(b) == [i["id"] for i in api["items"]] and api["items"]
    assert all(i["rating"] <= 3 for i in api["items"])
    b.check("inbox-filtered")
    ctx["inbox_query"] = query
    ctx["inbox_first"] = api["items"][0]["id"]


def inbox_csv(b: Any, ctx: dict[str, Any]) -> None:
    """Download the CSV of the filter (the page's link) and compare it with the API's export."""
    target = ARTIFACTS / "feedback.csv"
    target.unlink(missing_ok=True)
    b.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(ARTIFACTS)})
    b.driver.find_element("id", "export-csv").click()
    deadline = time.monotonic() + 30
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert target.exists(), "the CSV was not downloaded"
    time.sleep(0.3)  # the download's last write
    key = {"x-api-key": ctx["creds"]["workspaceApiKey"]}
    api = ctx["stack"].request(
        "GET", "/api/external/feedback/export", headers=key, params={**ctx["inbox_query"], "format": "csv"}
    )
    assert api.status_code == 200
    downloaded = target.read_bytes()
    assert downloaded == api.content, (downloaded[:300], api.content[:300])
    rows = downloaded.decode("utf-8-sig").splitlines()
    assert rows[0].startswith("id,createdAt,") and len(rows) - 1 == int(api.headers["X-Revisit-Rows"])


def inbox_workflow(b: Any, ctx: dict[str, Any]) -> None:
    """Handle the first answer: status, tags, a note; the JSON API shows the same."""
    fid = ctx["inbox_first"]
    b.open(f"/app/feedback/{fid}")
    b.check("feedback-detail")
    _select(b, "#w-status", "in_progress")
    b.fill("#w-assignee", "harbour-manager@example.com")
    b.fill("#w-tags", "Slow service, e2e")
    b.fill("#w-note", "Called the customer back.")
    b.submit("#workflow button[type=submit]")
    assert b.driver.find_elements("id", "saved"), b.driver.page_source[:500]
    b.check("feedback-saved")
    key = {"x-api-key": ctx["creds"]["workspaceApiKey"]}
    record = ctx["stack"].request("GET", f"/api/external/feedback/{fid}", headers=key).json()
    assert record["status"] == "in_progress" and record["tags"] == ["e2e", "slow-service"]
    assert record["assignee"] == "harbour-manager@example.com"
    assert record["notes"][-1]["text"] == "Called the customer back."
    b.open(f"/app/feedback?storeSlug={ctx['store']}&status=in_progress")
    assert _ids(b) == [fid]


def trackers_numbers(b: Any, ctx: dict[str, Any]) -> None:
    """A survey, a purchase, one scheduler run: the trackers page shows the report API's numbers."""
    from datetime import UTC, datetime

    from selenium.webdriver.common.by import By

    stack, creds = ctx["stack"], ctx["creds"]
    key = {"x-api-key": creds["workspaceApiKey"]}
    partner = {"X-API-KEY": creds["partnerKey"], "X-API-SECRET": creds["partnerSecret"]}
    survey = {"storeSlug": ctx["store"], "name": "After your visit (e2e)", "sendingType": "email", "delayMinutes": 0}
    assert stack.request("POST", "/api/surveys", headers=key, json=survey).status_code == 201
    for n in range(3):
        purchase = {"purchaseId": f"e2e-p{n}", "customerId": f"C{n}", "storeSlug": ctx["store"],
                    "purchasedAt": datetime.now(UTC).isoformat(), "email": f"c{n}@example.com"}  # fmt: skip
        assert stack.request("POST", "/partners/purchases", headers=partner, json=purchase).status_code in (200, 201)
    b.open(f"/app/stores/{ctx['store']}/trackers")
    assert b.driver.find_element(By.ID, "n-scheduled").text == "3"
    assert stack.request("POST", "/_local/invoke/SchedulerFunction", json={}).status_code == 200
    b.open(f"/app/stores/{ctx['store']}/trackers")
    report = stack.request("GET", "/api/external/trackers/report", headers=key, params={"storeSlug": ctx["store"]})
    total = report.json()["total"]
    assert total["sent"] == 3
    for name in ("sent", "clicked", "completed"):
        assert b.driver.find_element(By.ID, f"n-{name}").text == f"{total[name]:,}", name
    assert b.driver.find_element(By.ID, "response-rate").text == f"{total['responseRate']:.1f} %"
    assert "After your visit (e2e)" in b.driver.find_element(By.ID, "tracker-rows").text
    b.check("trackers-sent")


FLOWS = [inbox_filter, inbox_csv, inbox_workflow, trackers_numbers]
