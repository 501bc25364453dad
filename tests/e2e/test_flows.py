"""End to end over HTTP, like a POS, a customer's phone, a partner's billing system and a shop's NPS widget."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.e2e

SEED_TOKEN_BODY = """{
"storeSlug": "downtown-coffee",
"payload": {
"orderId": "ORD-12345",
"civ": "CUST-7891"
}
}"""


@pytest.fixture(scope="module")
def creds(stack):
    return stack.bootstrap("1042", "downtown-coffee")


def test_seed_000_examples_verbatim_then_the_page_and_a_submission(stack, creds):
    token_reply = stack.request(
        "POST",
        "/api/external/token",
        data=SEED_TOKEN_BODY,
        headers={"x-api-key": creds["storeApiKey"], "Content-Type": "application/json"},
    )
    assert token_reply.status_code == 201, token_reply.text
    token, url = token_reply.json()["token"], token_reply.json()["url"]
    assert url == f"{stack.base_url}/s/{token}" and len(url) < 80

    page = stack.session.get(url)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "ORD-12345" not in page.text and 'name="rating"' in page.text
    assert '<form method="post"' in page.text and "action=" not in page.text  # posts to the page itself

    submit_body = f"""{{
"token": "{token}",
"rating": 5,
"comment": "Great service as always.",
"civ": "CUST-7891"
}}"""
    submitted = stack.request(
        "POST", "/api/external/public/submit", data=submit_body, headers={"Content-Type": "application/json"}
    )
    assert submitted.status_code == 201, submitted.text
    assert stack.session.get(url).status_code == 410

    found = stack.request(
        "GET",
        "/api/external/feedback",
        params={"orderId": "ORD-12345"},
        headers={"x-api-key": creds["workspaceApiKey"]},
    )
    [item] = found.json()["items"]
    assert item["rating"] == 5 and item["civ"] == "CUST-7891" and item["comment"] == "Great service as always."
    csv_export = stack.request(
        "GET", "/api/external/feedback/export", params={"format": "csv"}, headers={"x-api-key": creds["storeApiKey"]}
    )
    assert csv_export.status_code == 200 and "ORD-12345" in csv_export.text


def test_fifty_concurrent_submissions_of_one_token_make_one_record(stack, creds):
    token = stack.request(
        "POST",
        "/api/external/token",
        json={"storeSlug": "downtown-coffee", "payload": {"orderId": "RACE-1"}},
        headers={"x-api-key": creds["storeApiKey"]},
    ).json()["token"]

    def submit(i):  # fifty different answers (an identical one would be a retry, replayed with 200)
        body = {"token": token, "rating": 1 + i % 5, "comment": f"answer {i}"}
        return stack.request("POST", "/api/external/public/submit", json=body)

    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = list(pool.map(submit, range(50)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses.count(201) == 1 and statuses.count(409) == 49, statuses
    assert all(r.json()["error"]["code"] == "CONFLICT" for r in replies if r.status_code == 409)
    found = stack.request(
        "GET", "/api/external/feedback", params={"orderId": "RACE-1"}, headers={"x-api-key": creds["storeApiKey"]}
    ).json()["items"]
    assert len(found) == 1


def test_cross_store_and_cross_workspace_are_refused(stack, creds):
    other = stack.bootstrap("2000", "downtown-coffee")
    assert (
        stack.request(
            "POST",
            "/api/external/token",
            json={"storeSlug": "other-store"},
            headers={"x-api-key": creds["storeApiKey"]},
        ).status_code
        == 403
    )
    assert (
        stack.request(
            "GET",
            "/api/external/feedback",
            params={"orderId": "ORD-12345"},
            headers={"x-api-key": other["workspaceApiKey"]},
        ).json()["items"]
        == []
    )
    assert stack.request("GET", "/api/external/feedback", headers={"x-api-key": "nk_forged"}).status_code == 401


def partner(creds):
    return {"X-API-KEY": creds["partnerKey"], "X-API-SECRET": creds["partnerSecret"]}


def test_seed_001_tracker_flow_with_twenty_concurrent_generates(stack, creds):
    owner = {"Authorization": f"Bearer {creds['ownerToken']}", "x-workspace-id": "1042"}
    for body in (
        {"storeSlug": "downtown-coffee", "name": "Receipt QR", "sendingType": "external"},
        {
            "storeSlug": "downtown-coffee",
            "name": "Email follow-up",
            "sendingType": "email",
            "delayMinutes": 60,
            "resendDelayMinutes": 1440,
            "maxResends": 1,
        },
    ):
        assert stack.request("POST", "/api/surveys", json=body, headers=owner).status_code == 201
    purchase = {
        "purchaseId": "INV-2026-77",
        "customerId": "CUST-7891",
        "storeSlug": "downtown-coffee",
        "purchasedAt": "2026-11-21T09:30:00Z",
        "amount": 42.0,
        "email": "ann@example.com",
    }
    assert stack.request("POST", "/partners/purchases", json=purchase, headers=partner(creds)).status_code == 201

    def generate(_):
        return stack.request(
            "POST", "/partners/survey-tracker/generate", json={"purchaseId": "INV-2026-77"}, headers=partner(creds)
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(generate, range(20)))
    assert all(r.status_code in (200, 201) for r in replies), [r.text for r in replies]
    ids = {frozenset(t["id"] for t in r.json()["items"]) for r in replies}
    # part 5: generate answers the external tracker only (every caller the same one); the email
    # tracker was made when the purchase was recorded
    assert len(ids) == 1 and len(next(iter(ids))) == 1
    listed = stack.request(
        "POST", "/partners/survey-tracker/list", json={"purchases": ["INV-2026-77"]}, headers=partner(creds)
    ).json()
    assert listed["total"] == 2

    external = next(t for t in replies[0].json()["items"] if t["sendingType"] == "external")
    got = stack.request("GET", "/partners/survey-tracker", params={"id": external["id"]}, headers=partner(creds))
    assert got.status_code == 200 and got.json()["status"] == "ready"
    clicked = stack.session.get(external["link"], allow_redirects=False, headers={"User-Agent": "phone"})
    assert clicked.status_code == 302
    token = clicked.headers["Location"].rsplit("/", 1)[1]
    assert stack.request("POST", "/api/external/public/submit", json={"token": token, "rating": 4}).status_code == 201
    final = stack.request(
        "GET", "/partners/survey-tracker", params={"id": external["id"]}, headers=partner(creds)
    ).json()
    assert final["clicks"] == 1 and final["uniqueClicks"] == 1 and final["status"] == "completed"

    for body, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"page": 0}, "page"),
        ({"purchases": [str(i) for i in range(101)]}, "purchases"),
    ):
        bad = stack.request("POST", "/partners/survey-tracker/list", json=body, headers=partner(creds))
        assert bad.status_code == 400 and bad.json()["error"]["details"][0]["field"] == field


def test_seed_002_curl_examples(stack, creds):
    owner = {"Authorization": f"Bearer {creds['ownerToken']}", "x-workspace-id": "1042"}
    stack.request(
        "POST",
        "/api/nps/categories",
        headers=owner,
        json={
            "storeSlug": "downtown-coffee",
            "code": "category_id",
            "name": "After purchase",
            "passive_success": "Thanks!",
        },
    )
    stack.request(
        "POST",
        "/api/nps/channels",
        headers=owner,
        json={"storeSlug": "downtown-coffee", "code": "channel_id", "name": "Email"},
    )
    shop_id, secret = creds["shopId"], creds["shopSecret"]
    cats = stack.session.get(f"{stack.base_url}/nps/categories?shop_id={shop_id}")
    # part 5: a new shop also has its default category and channel (code 'default')
    assert cats.status_code == 200 and [c["code"] for c in cats.json()] == ["default", "category_id"]
    chans = stack.session.get(f"{stack.base_url}/nps/channels?shop_id={shop_id}")
    assert [c["code"] for c in chans.json()] == ["default", "channel_id"]
    seed_shop, seed_secret = "0d42fd8b713d0752776ca589cc0056", "0123456789abcdef0123456789abcdef"
    by_secret_body = (
        '{"shop_id":"0d42fd8b713d0752776ca589cc0056","shop_secret":"0123456789abcdef0123456789abcdef",'
        '"category":"category_id","channel":"channel_id","rate":8,"comment":"ok thanks",'
        '"email":"john.doe@examplemail.com"}'
    )  # the seed's example, as written
    body = by_secret_body.replace(seed_shop, shop_id).replace(seed_secret, secret)
    by_secret = stack.session.post(
        f"{stack.base_url}/nps/create", headers={"content-type": "application/json"}, data=body
    )
    assert by_secret.status_code == 200 and by_secret.json()["status"] == "success"
    did = stack.session.get(f"{stack.base_url}/nps/init?shop_id={shop_id}").json()["did"]
    by_did_body = (
        '{"shop_id":"0d42fd8b713d0752776ca589cc0056","did":"7rjVGhMykT","category":"category_id",'
        '"channel":"channel_id","rate":8,"comment":"ok thanks"}'
    )
    body = by_did_body.replace(seed_shop, shop_id).replace("7rjVGhMykT", did)
    by_did = stack.session.post(f"{stack.base_url}/nps/create", headers={"content-type": "application/json"}, data=body)
    assert by_did.status_code == 200, by_did.text
    reviews = stack.session.get(f"{stack.base_url}/nps/reviews?shop_id={shop_id}&shop_secret={secret}")
    assert [r["comment"] for r in reviews.json()] == ["ok thanks", "ok thanks"]


def test_scheduler_sends_on_the_local_stack_and_the_outbox_shows_it(stack):
    """The schedule fires from the template; moto's SES receives the email with the tracker's link."""
    import time

    own = stack.bootstrap("3000", "outbox-cafe")
    owner = {"Authorization": f"Bearer {own['ownerToken']}", "x-workspace-id": "3000"}
    assert (
        stack.request(
            "POST",
            "/api/surveys",
            headers=owner,
            json={"storeSlug": "outbox-cafe", "name": "Now", "sendingType": "email", "delayMinutes": 0},
        ).status_code
        == 201
    )
    headers = partner(own)
    stack.request(
        "POST",
        "/partners/purchases",
        headers=headers,
        json={
            "purchaseId": "OUT-1",
            "customerId": "C-OUT",
            "storeSlug": "outbox-cafe",
            "purchasedAt": "2026-01-01T00:00:00Z",
            "email": "out@example.com",
        },
    )
    # part 5: the email tracker comes from the purchase; generate answers external ones only
    assert (
        stack.request(
            "POST", "/partners/survey-tracker/generate", json={"purchaseId": "OUT-1"}, headers=headers
        ).json()["items"]
        == []
    )
    [tracker] = stack.request(
        "POST", "/partners/survey-tracker/list", json={"purchases": ["OUT-1"]}, headers=headers
    ).json()["items"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        sent = stack.request("GET", "/partners/survey-tracker", params={"id": tracker["id"]}, headers=headers).json()
        if sent["status"] == "sent":
            break
        time.sleep(0.5)
    assert sent["status"] == "sent" and sent["sentTo"] == "out@example.com"
    outbox = stack.request("GET", "/_local/outbox").json()
    assert any(sent["link"] in m["body"] and m["to"] == ["out@example.com"] for m in outbox["emails"])
    assert sent["link"] in stack.cli("outbox").stdout
