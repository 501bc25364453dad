"""The web app's core (issue 17): sign-in, sessions, CSRF, store visibility, the overview and a
store's dashboard - in-process with Starlette's TestClient and through the Lambda handler
(Mangum) with API Gateway REST events, under moto (tests/unit/conftest.py).

The numbers a page shows are compared with the JSON API's answers for the same period (the
dashboard function invoked with an API Gateway event): one implementation of every metric.
"""

from __future__ import annotations

import copy
import html
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from revisit.dal import nps as nps_dal
from revisit.domain import auth as domain_auth
from revisit.domain import credentials
from revisit.domain.auth import Kind
from tests import webapp_support
from tests.analytics_support import deliver, fb, put_feedback
from tests.support import api_event, sample_event
from tests.support import invoke as invoke_function
from tests.webapp_support import WebApp, auth, charts, csrf_of, invoke, page_event, render

webapp, signed_in = webapp_support.webapp, webapp_support.signed_in  # fixtures

VALUE = re.compile(r'<span class="value(?: words)?" data-metric="([^"]+)">([^<]*)</span>')


def values(page: str) -> dict[str, str]:
    return {k: html.unescape(v).strip() for k, v in VALUE.findall(page)}


def today() -> datetime:
    return datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)


def at(days_ago: int, minute: int = 0) -> str:
    return (today() - timedelta(days=days_ago, minutes=-minute)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def session_cookie(client: WebApp) -> str | None:
    return client.cookies.get(auth.SESSION_COOKIE)


def api(world, path: str, query: dict[str, str]) -> dict:
    """The JSON API's answer (the dashboard function, owner token)."""
    reply = invoke_function("dashboard", api_event("GET", path, headers=world.owner_headers(), query=query))
    assert reply.status == 200, reply.text
    return reply.json


@pytest.fixture
def history(world, stream):
    """Feedback at the world's store: returning customers (one growing dissatisfied), first-time
    ones, anonymous ones; and NPS reviews by channel and category - through the aggregator."""
    fbs = []
    for i in range(6):  # returning customers rating higher on their second visit
        fbs += [fb(f"C{i}", at(20, i), 3), fb(f"C{i}", at(10, i), 5)]
    fbs += [fb("D1", at(25), 5), fb("D1", at(24), 5), fb("D1", at(6), 2), fb("D1", at(5), 2), fb("D1", at(4), 1)]
    fbs += [fb(f"N{i}", at(3, i), 4) for i in range(4)] + [fb(None, at(2, i), 1 + i % 5) for i in range(5)]
    for f in fbs:
        put_feedback(f)
    for i, rate in enumerate([10, 9, 9, 7, 3, 10, 6]):
        nps_dal.put_review(
            {
                "id": 5_000 + i,
                "client": i,
                "rate": rate,
                "channel": "email" if i % 2 else "web",
                "category": "after_purchase",
                "respondentType": "x",
                "workspaceId": world.workspace_id,
                "storeSlug": world.store,
                "shopId": "shop",
                "createdAt": at(7, i),
            }
        )
    deliver(stream.read())
    return fbs


# ------------------------------------------------------------------ sign-in


def test_sign_in_with_the_owner_token_sets_a_strict_cookie_holding_no_secret(webapp, world):
    page = webapp.get("/app/login")
    assert page.status_code == 200
    assert 'name="workspaceId"' in page.text and 'name="secret"' in page.text and csrf_of(page.text)
    r = webapp.sign_in(world.workspace_id, world.owner_token)
    assert r.status_code == 303 and r.headers["location"] == "/app"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(auth.SESSION_COOKIE + "="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/app"} <= flags
    assert f"max-age={auth.IDLE_SECONDS}" in flags
    value = cookie.split(";")[0].split("=", 1)[1]
    assert world.owner_token not in value and world.owner_token[8:] not in value
    payload = auth._serializer("session").loads(value)
    assert set(payload) == {"v", "ws", "sub", "k", "h", "sid", "iat", "seen"}
    assert payload["h"] == domain_auth.secret_hash(Kind.OWNER, world.owner_token)  # a look-up hash, not the secret
    overview = webapp.get("/app")
    assert overview.status_code == 200 and "Owner token" in overview.text
    assert world.owner_token not in overview.text


@pytest.mark.parametrize("who", ["workspace_key", "store_key"])
def test_sign_in_with_an_api_key(webapp, world, who):
    assert webapp.sign_in(world.workspace_id, getattr(world, who)).status_code == 303
    assert webapp.get("/app").status_code == 200


@pytest.mark.parametrize(
    "case",
    ["wrong secret", "owner token of another workspace", "key of another workspace", "partner secret", "empty"],
)
def test_a_bad_secret_is_refused_with_the_same_words_and_no_session(webapp, world, case):
    ws, secret = {
        "wrong secret": (world.workspace_id, "nk_live_" + "x" * 32),
        "owner token of another workspace": (world.workspace_id, world.foreign_owner_token),
        "key of another workspace": (world.workspace_id, world.foreign_key),
        "partner secret": (world.workspace_id, world.partner_secret),
        "empty": (world.workspace_id, ""),
    }[case]
    r = webapp.sign_in(ws, secret)
    assert r.status_code == (400 if case == "empty" else 401)
    assert session_cookie(webapp) is None
    if case != "empty":
        assert "do not match an active owner token or API key" in r.text
        assert secret not in r.text  # the secret is never written back into the form
        assert f'value="{world.workspace_id}"' in r.text  # the workspace id is
    assert webapp.get("/app").status_code == 303


def test_the_owner_token_needs_its_own_workspace_id(webapp, world):
    assert webapp.sign_in(world.foreign_workspace_id, world.owner_token).status_code == 401
    assert webapp.sign_in(world.workspace_id, world.owner_token).status_code == 303


def test_the_sign_in_form_needs_its_csrf_token(webapp, world):
    webapp.get("/app/login")
    r = webapp.post("/app/login", data={"workspaceId": world.workspace_id, "secret": world.owner_token})
    assert r.status_code == 403 and "Nothing was changed" in r.text
    assert session_cookie(webapp) is None
    r = webapp.post(
        "/app/login", data={"workspaceId": world.workspace_id, "secret": world.owner_token, "csrf_token": "forged"}
    )
    assert r.status_code == 403 and session_cookie(webapp) is None


def test_a_page_asked_for_before_sign_in_comes_back_after_it(webapp, world):
    r = webapp.get(f"/app/stores/{world.store}?days=7")
    assert r.status_code == 303
    target = urlsplit(r.headers["location"])
    assert target.path == "/app/login"
    nxt = parse_qs(target.query)["next"][0]
    assert nxt == f"/app/stores/{world.store}?days=7"
    page = webapp.get(r.headers["location"])
    assert f'name="next" value="{html.escape(nxt)}"' in page.text
    r = webapp.sign_in(world.workspace_id, world.owner_token, next_=nxt)
    assert r.status_code == 303 and r.headers["location"] == nxt


@pytest.mark.parametrize("evil", ["//evil.example/app", "https://evil.example/", "/app/../\\evil", "/other"])
def test_next_never_leaves_the_app(webapp, world, evil):
    r = webapp.sign_in(world.workspace_id, world.owner_token, next_=evil)
    assert r.status_code == 303 and r.headers["location"] == "/app"


# ------------------------------------------------------------------ sessions end


def test_an_idle_session_expires_back_to_the_sign_in_page(signed_in, monkeypatch):
    now = auth._clock()
    monkeypatch.setattr(auth, "_clock", lambda: now + auth.IDLE_SECONDS - 1)
    assert signed_in.get("/app").status_code == 200  # renewed: seen moves on
    monkeypatch.setattr(auth, "_clock", lambda: now + 2 * auth.IDLE_SECONDS - 2)
    assert signed_in.get("/app").status_code == 200
    monkeypatch.setattr(auth, "_clock", lambda: now + 3 * auth.IDLE_SECONDS)
    r = signed_in.get("/app")
    assert r.status_code == 303 and r.headers["location"] == "/app/login?expired=1"
    assert any(c.startswith(auth.SESSION_COOKIE + '=""') for c in r.headers.get_list("set-cookie"))
    page = signed_in.get("/app/login?expired=1")
    assert "Your session has ended" in page.text


def test_a_session_ends_after_its_absolute_lifetime_however_active(signed_in, monkeypatch):
    start = auth._clock()
    t = start
    while t < start + auth.MAX_SECONDS - auth.IDLE_SECONDS:
        t += auth.IDLE_SECONDS - 60
        monkeypatch.setattr(auth, "_clock", lambda t=t: t)
        assert signed_in.get("/app").status_code == 200
    monkeypatch.setattr(auth, "_clock", lambda: start + auth.MAX_SECONDS)
    assert signed_in.get("/app").status_code == 303


def test_a_tampered_cookie_is_no_session(signed_in):
    value = session_cookie(signed_in)
    signed_in.cookies.set(auth.SESSION_COOKIE, value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1])
    assert signed_in.get("/app").status_code == 303


def test_a_revoked_keys_session_ends_within_the_cache_bound(webapp, world, monkeypatch):
    """With the deployed cache (5 s) a revoked key's session lasts at most 5 s more."""
    issued = credentials.issue(world.workspace_id, Kind.API, "workspace", label="revoke me")
    clock = [1000.0]
    monkeypatch.setattr(domain_auth, "_clock", lambda: clock[0])
    monkeypatch.setattr(domain_auth, "trusted_seconds", lambda: domain_auth.REVOCATION_BOUND_SECONDS)
    assert webapp.sign_in(world.workspace_id, issued["key"]).status_code == 303
    assert webapp.get("/app").status_code == 200
    credentials.revoke(world.workspace_id, issued["keyId"])
    clock[0] += domain_auth.REVOCATION_BOUND_SECONDS - 0.5
    assert webapp.get("/app").status_code == 200  # still trusted from the cache
    clock[0] += 0.5
    r = webapp.get(f"/app/stores/{world.store}")
    assert r.status_code == 303 and r.headers["location"].startswith("/app/login?expired=1")
    assert webapp.get("/app").status_code == 303


def test_a_revoked_owner_token_ends_its_session_at_once_without_a_cache(signed_in, world):
    key_id = next(k["keyId"] for k in credentials.list_keys(world.workspace_id) if k["kind"] == "owner")
    credentials.revoke(world.workspace_id, key_id)
    assert signed_in.get("/app").status_code == 303  # CREDENTIAL_CACHE_SECONDS=0 in the unit tests


# ------------------------------------------------------------------ CSRF and logout


def test_logout_needs_the_sessions_csrf_token_and_ends_the_session(signed_in, world):
    r = signed_in.post_form("/app/logout", {}, csrf=None)
    assert r.status_code == 403 and "Nothing was changed" in r.text
    assert signed_in.get("/app").status_code == 200  # still signed in
    assert signed_in.post_form("/app/logout", {}, csrf="0" * 64).status_code == 403
    with WebApp() as other:  # another session's token is not this one's
        other.sign_in(world.workspace_id, world.owner_token)
        foreign = other.csrf()
    assert signed_in.post_form("/app/logout", {}, csrf=foreign).status_code == 403
    assert signed_in.get("/app").status_code == 200
    r = signed_in.post_form("/app/logout", {})
    assert r.status_code == 303 and r.headers["location"] == "/app/login?signed_out=1"
    assert session_cookie(signed_in) is None
    assert signed_in.get("/app").status_code == 303


def test_a_copy_of_a_logged_out_cookie_is_no_session(signed_in, world, table):
    """Logout ends the session itself, not only the browser's cookie: a copy taken before (a
    shared computer, a stolen cookie) is refused on this container at once and, through the
    table, on a fresh one (it lasted until its idle expiry)."""
    from revisit.domain import users

    copied = session_cookie(signed_in)
    assert copied and signed_in.get("/app").status_code == 200
    assert signed_in.post_form("/app/logout", {}).status_code == 303
    with WebApp() as thief:
        thief.cookies.set(auth.SESSION_COOKIE, copied)
        assert thief.get("/app").status_code == 303  # this container knows at once
        users.clear_cache()  # another container: it reads the table
        r = thief.get("/app")
        assert r.status_code == 303 and r.headers["location"].startswith("/app/login")
    items = table.scan(TableName=os.environ["TABLE_NAME"])["Items"]
    ended = [i for i in items if i.get("type", {}).get("S") == "session_ended"]
    assert len(ended) == 1 and "expiresAtEpoch" in ended[0]
    sid = auth._serializer("session").loads(copied)["sid"]
    assert copied not in str(ended) and sid not in str(ended)  # a hash of the session id only
    with WebApp() as other:  # another session of the same owner is untouched
        other.sign_in(world.workspace_id, world.owner_token)
        assert other.get("/app").status_code == 200


def test_every_form_of_the_core_pages_carries_the_csrf_field(signed_in, world):
    for path in ("/app", f"/app/stores/{world.store}"):
        page = signed_in.get(path).text
        token = csrf_of(page)
        for form in re.findall(r'<form method="post".*?</form>', page, re.S):
            assert f'name="csrf_token" value="{token}"' in form, form


# ------------------------------------------------------------------ visibility: the 404 page


def test_a_store_key_sees_its_store_only(webapp, world):
    webapp.sign_in(world.workspace_id, world.store_key)
    page = webapp.get("/app")
    assert f'data-store="{world.store}"' in page.text and f'data-store="{world.other_store}"' not in page.text
    assert webapp.get(f"/app/stores/{world.store}").status_code == 200
    r = webapp.get(f"/app/stores/{world.other_store}")
    assert r.status_code == 404 and "Page not found" in r.text
    assert r.text == webapp.get("/app/stores/no-such-store").text.replace("no-such-store", world.other_store)


def test_a_store_of_another_workspace_is_the_404_page(signed_in, world):
    with WebApp() as foreign:
        foreign.sign_in(world.foreign_workspace_id, world.foreign_owner_token)
        assert foreign.get(f"/app/stores/{world.other_store}").status_code == 404  # 1042's store
        page = foreign.get(f"/app/stores/{world.store}")  # its own store of the same slug
        assert page.status_code == 200 and "Someone else" in page.text
    assert "Someone else" not in signed_in.get(f"/app/stores/{world.store}").text


def test_unknown_pages_and_files_are_the_404_page(signed_in):
    for path in ("/app/nope", "/app/stores", "/app/static/nope.css", "/app/stores/a/b"):
        r = signed_in.get(path)
        assert r.status_code == 404 and "Page not found" in r.text, path
        assert r.headers["content-type"].startswith("text/html")


def test_a_wrong_method_is_answered_with_a_page(signed_in):
    r = signed_in.post("/app", data={})
    assert r.status_code == 405 and "<h1>Not allowed</h1>" in r.text


# ------------------------------------------------------------------ the pages: headers and content


def test_every_answer_carries_the_strict_csp_and_no_inline_script_or_style(signed_in, world):
    for path in ("/app", f"/app/stores/{world.store}", "/app/login", "/app/nope"):
        r = signed_in.get(path)
        h = r.headers
        assert h["content-security-policy"] == render.CSP and "unsafe-inline" not in render.CSP
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
        assert h["strict-transport-security"].startswith("max-age=31536000")
        assert h["cache-control"] in ("private, no-store",)
        assert not re.search(r"<script(?![^>]*\bsrc=)", r.text), path  # no inline script
        assert " style=" not in r.text and "<style" not in r.text, path
    css = signed_in.get(render.static(_request(), "app.css"))
    assert css.status_code == 200 and "immutable" in css.headers["cache-control"]


def _request():
    from starlette.requests import Request

    return Request({"type": "http", "root_path": "", "path": "/app", "headers": [], "query_string": b""})


def test_empty_states_are_words_never_zero_percent_or_nan(signed_in, world):
    for path in ("/app", f"/app/stores/{world.store}", f"/app/stores/{world.store}?days=365"):
        page = signed_in.get(path).text
        assert "NaN" not in page and "None" not in page and "nan" not in page.lower().replace("nancy", "")
        assert not re.search(r">\s*0(\.0)? %", page), path
    store = signed_in.get(f"/app/stores/{world.store}").text
    assert "No feedback in this period." in store
    assert "Not enough visits to compare yet." in store
    assert "No NPS answers in this period" in store
    assert values(signed_in.get("/app").text)[f"{world.store}-avg"] == "No ratings yet"


def test_the_overview_shows_the_json_apis_store_rows(signed_in, world, history):
    page = signed_in.get("/app")
    assert page.status_code == 200
    shown = values(page.text)
    rows = api(world, "/api/external/dashboard/stores", {})
    for row in rows["stores"]:
        slug = row["storeSlug"]
        assert shown[f"{slug}-volume"] == f"{row['totalFeedback']:,}"
        if row["totalFeedback"]:
            assert shown[f"{slug}-avg"] == f"{row['avgRating']:.2f} / 5"
            assert shown[f"{slug}-csat"] == f"{row['csatPercent']:.1f} %"
            assert f"{row['avgRatingCi95'][0]:.2f} to {row['avgRatingCi95'][1]:.2f}" in page.text
        if row["identifiedCustomers"]:
            assert shown[f"{slug}-return"] == f"{row['returnRate']:.1f} %"
        if row["npsResponses"]:
            assert shown[f"{slug}-nps"] == f"{row['nps']:.1f}"
    assert shown["total-volume"] == f"{rows['total']['totalFeedback']:,}"
    assert rows["stores"][0]["totalFeedback"] == len(history) + 7  # the NPS reviews count too
    assert 'class="chart spark"' in page.text and "Feedback per day" in page.text


def test_the_store_dashboard_shows_the_json_apis_numbers(signed_in, world, history):
    lo, hi = (today() - timedelta(days=29)).date().isoformat(), today().date().isoformat()
    page = signed_in.get(f"/app/stores/{world.store}", params={"from": lo, "to": hi})
    assert page.status_code == 200
    shown = values(page.text)
    d = api(world, "/api/external/dashboard", {"storeSlug": world.store, "from": lo, "to": hi})
    nps = api(world, "/api/external/nps-score", {"storeSlug": world.store, "from": lo, "to": hi})
    series = api(
        world, "/api/external/dashboard/series", {"storeSlug": world.store, "from": lo, "to": hi, "interval": "day"}
    )
    assert shown["total"] == f"{d['totalFeedback']:,}"
    assert shown["return-rate"] == f"{d['returnRate']:.1f} %"
    for key, block in (("first", d["firstVisit"]), ("return", d["returnVisit"])):
        assert shown[f"{key}-count"] == f"{block['count']:,}"
        assert shown[f"{key}-avg"] == f"{block['avgRating']:.2f} / 5"
        assert shown[f"{key}-csat"] == f"{block['csatPercent']:.1f} %"
    signal = d["loyaltySignal"]
    assert signal["direction"] == "higher"
    assert f"rate {abs(signal['delta']):.2f} stars higher" in page.text
    assert f"Difference +{signal['delta']:.2f} stars" in page.text
    if signal["deltaCi95"]:
        low, high = signal["deltaCi95"]
        assert f"{low:+.2f} to {high:+.2f}".replace("-", "−") in page.text
    assert [c["civ"] for c in d["growingDissatisfied"]] == ["D1"]
    link = render.url(_request(), "/app/feedback", storeSlug=world.store, civ="D1")
    assert f'href="{html.escape(link)}"' in page.text
    for rating, count in d["ratingDistribution"].items():
        label = f"{rating} star{'s' if rating != '1' else ''}"
        assert re.search(rf'<th scope="row">{label}</th><td>{count}</td>', page.text), label
    assert shown["nps"] == f"{nps['nps']:.1f}"
    for ch in nps["byChannel"]:
        row = rf'data-channel="{ch["channel"]}"><th scope="row">[^<]+</th><td>{ch["responses"]}</td>'
        row += rf"\s*<td>{ch['nps']:.1f}"
        assert re.search(row, page.text), ch
    days_with_feedback = [b for b in series["buckets"] if b["count"]]
    table = page.text[page.text.index("The numbers per day") :]
    for b in days_with_feedback:
        assert f"<td>{b['count']}</td>" in table
    assert 'aria-labelledby="trend-rating-t trend-rating-d"' in page.text


def test_the_period_picker(signed_in, world, history):
    page = signed_in.get(f"/app/stores/{world.store}", params={"days": "7"})
    assert '<a href="/app/stores/downtown-coffee?days=7" aria-current="true">' in page.text
    d = api(
        world,
        "/api/external/dashboard",
        {"storeSlug": world.store, "from": (today() - timedelta(days=6)).date().isoformat()},
    )
    assert values(page.text)["total"] == f"{d['totalFeedback']:,}"
    for query, words in (
        ({"from": "2026-02-30"}, "Dates must be written YYYY-MM-DD"),
        ({"from": "2026-05-02", "to": "2026-05-01"}, "must not be after to"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "at most 366 days"),
        ({"days": "12"}, "Choose 7, 30, 90, 365 days"),
    ):
        r = signed_in.get(f"/app/stores/{world.store}", params=query)
        assert r.status_code == 200 and words in r.text and 'role="alert"' in r.text, query
        assert "(30 days, UTC)" in r.text


# ------------------------------------------------------------------ through the Lambda handler


def test_the_handler_answers_api_gateway_events_from_events(world):
    event = sample_event("webapp_page")
    assert event["resource"] == "/app/{proxy+}" and event["requestContext"]["path"] == "/dev" + event["path"]
    out = invoke(copy.deepcopy(event))
    assert out["statusCode"] == 200 and not out["isBase64Encoded"]
    assert out["headers"]["content-type"] == "text/html; charset=utf-8"
    assert 'action="/dev/app/login"' in out["body"]  # links keep API Gateway's stage
    assert "content-length" not in out["headers"]  # API Gateway sets it
    cookies = out["multiValueHeaders"].get("set-cookie") or [out["headers"]["set-cookie"]]
    login_cookie = next(c for c in cookies if c.startswith(auth.LOGIN_COOKIE)).split(";")[0]
    assert "Path=/dev/app" in next(c for c in cookies if c.startswith(auth.LOGIN_COOKIE))
    token = csrf_of(out["body"])
    body = urlencode({"csrf_token": token, "workspaceId": world.workspace_id, "secret": world.owner_token})
    out = invoke(page_event("POST", "/app/login", cookie=login_cookie, body=body))
    assert out["statusCode"] == 303 and out["headers"]["location"] == "/dev/app"
    cookies = out["multiValueHeaders"].get("set-cookie") or [out["headers"]["set-cookie"]]
    session = next(c for c in cookies if c.startswith(auth.SESSION_COOKIE)).split(";")[0]
    out = invoke(page_event("GET", f"/app/stores/{world.store}", cookie=session, query={"days": "7"}))
    assert out["statusCode"] == 200 and "Downtown Coffee" in out["body"]
    assert 'href="/dev/app?days=7"' in out["body"]
    out = invoke(page_event("GET", "/app", cookie=session))
    assert out["statusCode"] == 200 and f'href="/dev/app/stores/{world.store}?days=30"' in out["body"]
    out = invoke(page_event("GET", "/app"))  # no cookie
    assert out["statusCode"] == 303 and out["headers"]["location"] == "/dev/app/login"
    out = invoke(page_event("GET", "/app/stores/nope", cookie=session))
    assert out["statusCode"] == 404 and "Page not found" in out["body"]


def test_the_handler_answers_every_static_file_as_text(world):
    """The API has no binary media types: a base64 body would reach the browser as base64."""
    for name in render.STATIC_FILES:
        out = invoke(page_event("GET", f"/app/static/{name}"))
        assert out["statusCode"] == 200 and out["isBase64Encoded"] is False, name
        assert out["body"] == render.STATIC_FILES[name].read_text(), name


def test_the_handler_answers_the_503_page_when_dynamodb_is_unavailable(world, monkeypatch):
    from botocore.exceptions import ClientError

    from revisit.domain import analytics

    def throttled(*_a, **_k):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Query")

    with WebApp() as client:
        client.sign_in(world.workspace_id, world.owner_token)
        monkeypatch.setattr(analytics, "dashboard", throttled)
        r = client.get(f"/app/stores/{world.store}")
        assert r.status_code == 503 and r.headers["retry-after"] == "1" and "Briefly unavailable" in r.text
        monkeypatch.setattr(analytics, "dashboard", lambda *a, **k: 1 / 0)
        r = client.get(f"/app/stores/{world.store}")
        assert r.status_code == 500 and "Traceback" not in r.text and "ZeroDivision" not in r.text


def test_the_signing_key_is_read_from_secrets_manager(monkeypatch):
    """The real loader (tests/webapp_support.py replaced it by a constant): a fresh copy of the module."""
    import importlib.util

    import boto3

    from revisit.config import Settings

    arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="webapp-session-test", SecretString="k" * 64
    )["ARN"]
    config = Settings.from_env()
    object.__setattr__(config, "webapp_session_secret", None)
    object.__setattr__(config, "webapp_session_secret_arn", arn)
    spec = importlib.util.spec_from_file_location("webapp_auth_fresh", auth.__file__)
    fresh = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "webapp_auth_fresh", fresh)  # dataclasses look their module up
    spec.loader.exec_module(fresh)
    monkeypatch.setattr(fresh, "settings", lambda: config)
    assert fresh._secret() == b"k" * 64
    object.__setattr__(config, "webapp_session_secret_arn", "")
    fresh._secret.cache_clear()
    with pytest.raises(RuntimeError, match="WEBAPP_SESSION_SECRET_ARN"):
        fresh._secret()


# ------------------------------------------------------------------ charts


def test_charts_are_labelled_escaped_and_show_gaps_not_zeros():
    svg = str(charts.sparkline("s<1>", [1, None, 3, 4], "Feedback <per> day", "a & b"))
    assert svg.startswith('<svg class="chart spark"') and 'role="img"' in svg
    assert 'aria-labelledby="s&lt;1&gt;-t s&lt;1&gt;-d"' in svg
    assert '<title id="s&lt;1&gt;-t">Feedback &lt;per&gt; day</title>' in svg and "a &amp; b" in svg
    assert svg.count("<circle") == 1 and svg.count("<polyline") == 1  # 1 | gap | 3-4
    empty = str(charts.sparkline("e", [None, None], "t", "No feedback"))
    assert "spark-empty" in empty and "polyline" not in empty
    bars = str(charts.bars("b", [("5 stars", 3), ("4 stars", None)], "t", "d"))
    assert "no data" in bars and ">3<" in bars
    line = str(charts.line("l", ["a", "b", "c"], [charts.Series("First", [4.0, None, 5.0], "first")], "t", "d", 1, 5))
    assert line.count('class="pt first"') == 2 and "polyline" not in line


def test_templates_compiled_at_build_time_render_the_same_pages(tmp_path, signed_in, world):
    """What `sam build` ships (functions/webapp/Makefile: templating.py compiles the templates)."""
    from tests.webapp_support import templating

    assert templating.compile_all(tmp_path) == len(templating.environment(None).list_templates(extensions=["html"]))
    compiled = templating.environment(tmp_path)
    assert type(compiled.loader).__name__ == "ModuleLoader"
    assert type(templating.env.loader).__name__ == "FileSystemLoader"  # the sources here
    before = signed_in.get(f"/app/stores/{world.store}?days=7").text
    original = render.env
    try:
        render.env = compiled
        after = signed_in.get(f"/app/stores/{world.store}?days=7").text
    finally:
        render.env = original
    assert after == before and "<h1>Downtown Coffee</h1>" in after


def test_the_benchmarks_page_events_are_signed_in(world, monkeypatch):
    """bench/scenarios.py builds the session cookie itself: the app must take it (else the bench
    would time the redirect to the sign-in page)."""
    import functools

    from bench.common import HASH_SECRET
    from bench.scenarios import ok, webapp_event

    monkeypatch.setattr(auth, "_secret", functools.cache(HASH_SECRET.encode))
    auth._serializer.cache_clear()
    try:
        fx = {"ws": world.workspace_id, "owner": world.owner_headers()}
        for name, path in (("webapp_store", f"/app/stores/{world.store}"), ("webapp_overview", "/app")):
            out = invoke(webapp_event(fx, path))
            assert out["statusCode"] == 200 and ok(name, out), (path, out["statusCode"], out["headers"])
    finally:
        auth._serializer.cache_clear()


def test_a_manager_of_two_stores_sees_those_only_and_a_removed_users_session_ends(webapp, world, monkeypatch):
    """A user's session (H6's users): the overview lists the manager's stores and no workspace
    total, another store is the 404 page, and removing the user ends the session within 5 s."""
    from revisit.domain import users, workspaces

    workspaces.create_store(world.workspace_id, "harbour-cafe", "Harbour Cafe")
    principal = domain_auth.authenticate(
        domain_auth.Presented(bearer=world.owner_token, workspace_id=world.workspace_id), frozenset({Kind.OWNER})
    )
    owner = users.member_of_principal(principal)

    class Outbox:
        def send(self, message):
            return "sent"

    user = users.invite(owner, "ana@example.com", "manager", [world.store, "harbour-cafe"], "https://x", Outbox())
    payload = auth._new_session(world.workspace_id, {"sub": "user", "uid": user["userId"], "x": {}})
    webapp.cookies.set(auth.SESSION_COOKIE, auth._serializer("session").dumps(payload))
    page = webapp.get("/app")
    assert page.status_code == 200 and "ana@example.com" in page.text
    listed = re.findall(r'data-store="([^"]+)"', page.text)
    assert listed == ["downtown-coffee", "harbour-cafe"]
    assert "total-volume" not in page.text  # the workspace's total is not a manager's to see
    assert webapp.get("/app/stores/harbour-cafe").status_code == 200
    assert webapp.get(f"/app/stores/{world.other_store}").status_code == 404
    clock = [1000.0]
    monkeypatch.setattr(users, "_clock", lambda: clock[0])
    users.clear_cache()
    assert webapp.get("/app").status_code == 200
    users.remove_user(owner, user["userId"])
    clock[0] += 5
    r = webapp.get("/app")
    assert r.status_code == 303 and r.headers["location"] == "/app/login?expired=1"


def test_nps_by_channel_shows_the_channels_names(signed_in, world, history):
    from revisit.domain import nps

    principal = domain_auth.authenticate(
        domain_auth.Presented(bearer=world.owner_token, workspace_id=world.workspace_id), frozenset({Kind.OWNER})
    )
    nps.add(principal, world.store, "channel", {"code": "web", "name": "Our website"})
    nps.clear_cache()
    page = signed_in.get(f"/app/stores/{world.store}").text
    assert re.search(r'data-channel="web"><th scope="row">Our website</th>', page)
    assert re.search(r'data-channel="email"><th scope="row">email</th>', page)  # not configured: its code
