"""Testing the web app's pages in-process (shared by the webapp tests of H4, H5 and H6).

    from tests import webapp_support
    from tests.webapp_support import WebApp, auth, render   # the app's modules, importable from here

    webapp, signed_in = webapp_support.webapp, webapp_support.signed_in   # the fixtures

    def test_my_page(signed_in):                     # the world's owner, signed in
        r = signed_in.get("/app/my-page")
        assert r.status_code == 200 and "My page" in r.text
        r = signed_in.post_form("/app/my-page", {"name": "x"})   # the page's CSRF token added
        r = signed_in.post_form("/app/my-page", {"name": "x"}, csrf=None)   # no token: 403

``webapp`` is a client with nobody signed in; ``signed_in`` the world's owner token signed in
(``tests.world``); ``WebApp.sign_in(workspace_id, secret)`` signs in with any secret. The
client is Starlette's TestClient (httpx) on https://testserver (so the Secure cookie is sent),
redirects not followed; the app is the function's own (functions/webapp/app.py's ``app``), and
``invoke`` calls its Lambda handler (Mangum) with an API Gateway REST event instead.
"""

from __future__ import annotations

import functools
import html
import re
import sys
from typing import Any

import pytest

from tests.support import ROOT, Context, api_event, function

WEBAPP_DIR = ROOT / "functions" / "webapp"
if str(WEBAPP_DIR) not in sys.path:
    sys.path.insert(0, str(WEBAPP_DIR))  # the function's task root: its package ``webapp``

from starlette.testclient import TestClient  # noqa: E402
from webapp import auth, charts, render, templating  # noqa: E402, F401 - for the tests: from tests.webapp_support import auth

TEST_SESSION_KEY = b"unit-test-webapp-session-key"
auth._secret = functools.cache(lambda: TEST_SESSION_KEY)  # the real one reads Secrets Manager
auth._serializer.cache_clear()

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_of(page: str) -> str | None:
    """The CSRF token a page's forms carry (None if it has none)."""
    m = _META.search(page) or _CSRF.search(page)
    return html.unescape(m.group(1)) if m else None


def app_module():
    """functions/webapp/app.py (its ``app``, ``handler`` and ``lambda_handler``)."""
    return function("webapp")


class WebApp(TestClient):
    """A browser-like client of the web app: cookies kept, redirects not followed."""

    def __init__(self) -> None:
        super().__init__(app_module().app, base_url="https://testserver", follow_redirects=False)

    def csrf(self, page: str = "/app") -> str:
        """The CSRF token of the current session (read from ``page``'s forms)."""
        r = self.get(page)
        assert r.status_code == 200, (page, r.status_code, r.headers.get("location"))
        token = csrf_of(r.text)
        assert token, f"{page} has no CSRF token"
        return token

    def sign_in(self, workspace_id: str, secret: str, next_: str | None = None) -> Any:
        """POST the sign-in form as a browser would (its CSRF token first); returns the answer."""
        token = csrf_of(self.get("/app/login").text)
        data = {"csrf_token": token or "", "workspaceId": workspace_id, "secret": secret}
        if next_:
            data["next"] = next_
        return self.post("/app/login", data=data)

    def post_form(self, path: str, data: dict[str, Any], csrf: str | bool | None = True, page: str = "/app") -> Any:
        """POST ``data`` with this session's CSRF token (``csrf=True``), a given one, or none (None)."""
        if csrf is True:
            csrf = self.csrf(page)
        body = dict(data)
        if csrf:
            body["csrf_token"] = csrf
        return self.post(path, data=body)


@pytest.fixture
def webapp(world) -> WebApp:
    with WebApp() as client:
        yield client


@pytest.fixture
def signed_in(world) -> WebApp:
    with WebApp() as client:
        r = client.sign_in(world.workspace_id, world.owner_token)
        assert r.status_code == 303, r.text
        yield client


def page_event(
    method: str, path: str, *, cookie: str | None = None, body: str | None = None, query: dict | None = None
) -> dict[str, Any]:
    """A REST API (v1) proxy event for the app's {proxy+} route, as API Gateway sends it."""
    headers = {"Accept": "text/html"}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    resource = "/app" if path == "/app" else "/app/{proxy+}"
    params = None if path == "/app" else {"proxy": path.removeprefix("/app/")}
    event = api_event(method, path, resource=resource, headers=headers, query=query, path_params=params)
    event["body"] = body
    return event


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    """The Lambda handler's answer (a proxy result dict) for ``event``."""
    return app_module().lambda_handler(event, Context())
