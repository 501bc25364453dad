"""People in the web app on the local stack (DynamoDB Local, SES through moto's outbox): a sign-in
link used by several browsers at once signs exactly one in; the link's page can be opened any
number of times first; a removed user's session ends at their next request; a changed role
applies to the open session; the JSON API sees a store renamed on the page."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import requests

WORKSPACE, STORE, OTHER = "people-e2e", "north-deli", "south-deli"
LINK = re.compile(r"https?://[^\s#]+/app/signin#(sil_[A-Za-z0-9]{43})")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A cookie-keeping client of the web app that posts forms with the page's CSRF token."""

    def __init__(self, stack) -> None:
        self.stack = stack
        self.http = requests.Session()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.stack.url(path), allow_redirects=False, timeout=30, **kwargs)

    def post(self, path: str, data: dict, page: str) -> requests.Response:
        token = CSRF.search(self.get(page).text).group(1)
        return self.http.post(
            self.stack.url(path), data={**data, "csrf_token": token}, allow_redirects=False, timeout=30
        )

    def sign_in_with_secret(self, workspace_id: str, secret: str) -> None:
        r = self.post("/app/login", {"workspaceId": workspace_id, "secret": secret}, page="/app/login")
        assert r.status_code == 303, r.text


def _setup(stack):
    creds = stack.bootstrap(WORKSPACE, STORE)
    owner_api = stack.owner_headers(creds)
    made = stack.request("POST", "/api/stores", headers=owner_api, json={"slug": OTHER, "name": "South Deli"})
    assert made.status_code in (201, 409), made.text
    owner = Browser(stack)
    owner.sign_in_with_secret(creds["workspaceId"], creds["ownerToken"])
    return creds, owner_api, owner


def _tokens(stack, address: str) -> list[str]:
    emails = [m for m in stack.request("GET", "/_local/outbox").json()["emails"] if address in m["to"]]
    return [t for m in emails for t in LINK.findall(m["body"])]


def _invite(owner: Browser, stack, address: str, role: str, stores=()) -> str:
    before = len(_tokens(stack, address))
    r = owner.post("/app/people/invite", {"email": address, "role": role, "stores": list(stores)}, "/app/people")
    assert r.status_code == 303, r.text
    deadline = time.monotonic() + 10
    while len(_tokens(stack, address)) == before:
        assert time.monotonic() < deadline, f"no invitation to {address}"
        time.sleep(0.2)
    return _tokens(stack, address)[-1]


def _user_id(owner: Browser, address: str) -> str:
    page = owner.get("/app/people").text
    start = page.index(f"<h3>{address}</h3>")
    return re.search(r"/app/people/(usr_[A-Za-z0-9]+)/role", page[start:]).group(1)


def test_a_link_used_by_several_browsers_at_once_signs_exactly_one_in(stack):
    _, _, owner = _setup(stack)
    for n in range(3):
        address = f"race{n}@example.com"
        token = _invite(owner, stack, address, "viewer")
        browsers = [Browser(stack) for _ in range(4)]
        forms = []
        for b in browsers:
            for _ in range(2):  # a mail scanner and the reader open the page: nothing is used
                page = b.get("/app/signin")
                assert page.status_code == 200
            forms.append(CSRF.search(page.text).group(1))

        def use(args):
            b, csrf, link = args
            return b.http.post(
                stack.url("/app/signin"), data={"csrf_token": csrf, "token": link}, allow_redirects=False, timeout=30
            ).status_code

        with ThreadPoolExecutor(len(browsers)) as pool:
            statuses = sorted(pool.map(use, [(b, csrf, token) for b, csrf in zip(browsers, forms, strict=True)]))
        assert statuses == [303, 410, 410, 410], (address, statuses)
        signed_in = [b for b in browsers if b.get("/app/setup").status_code == 200]
        assert len(signed_in) == 1


def test_a_removed_users_session_ends_and_a_role_change_applies(stack):
    _, owner_api, owner = _setup(stack)
    address = "lee@example.com"
    token = _invite(owner, stack, address, "viewer")
    lee = Browser(stack)
    lee.get("/app/signin")
    r = lee.post("/app/signin", {"token": token}, page="/app/signin")
    assert r.status_code == 303
    store_page = f"/app/setup/stores/{STORE}"
    form = {"name": "North Deli", "timezone": "UTC", "locale": "en", "alertMaxRating": "2", "weeklyDigest": "on"}
    assert lee.post(store_page, {**form, "name": "Lee was here"}, page=store_page).status_code == 403
    assert stack.request("GET", f"/api/stores/{STORE}", headers=owner_api).json()["name"] != "Lee was here"

    lee_id = _user_id(owner, address)
    r = owner.post(f"/app/people/{lee_id}/role", {"role": "manager", "stores": [STORE]}, "/app/people")
    assert r.status_code == 303
    assert lee.post(store_page, {**form, "name": "Lee's Deli"}, page=store_page).status_code == 303
    assert stack.request("GET", f"/api/stores/{STORE}", headers=owner_api).json()["name"] == "Lee's Deli"
    assert lee.get(f"/app/setup/stores/{OTHER}").status_code == 404

    r = owner.post(f"/app/people/{lee_id}/remove", {}, "/app/people")
    assert r.status_code == 303
    removed_at = time.monotonic()
    while True:  # every container: at once with the stack's 0 s credential cache, <= 5 s by default
        r = lee.get(store_page)
        if r.status_code == 303:
            break
        assert time.monotonic() - removed_at < 5.5, "the removed user's session still works after 5 s"
        time.sleep(0.1)
    assert "/app/login" in r.headers["location"]
