"""Sessions, CSRF and the signed-in identity of the web app.

A session is a short-lived signed cookie (HttpOnly, SameSite=Strict, Secure when deployed) that
holds no secret: the workspace, what signed in - a credential's SHA-256 *hash* (the look-up key
the credential store already keys on; it cannot be turned back into the secret) or a user id -,
a random session id and its times. Every request resolves it again through the domain's
credential cache (``revisit.domain.auth``), so a revoked key's session ends within the cache's
bound (5 s); a user's session is resolved by ``revisit.domain.users`` (removing a user ends it).

Lifetime: ``IDLE_SECONDS`` after the last request (each page renews the cookie), never more than
``MAX_SECONDS`` after sign-in. Logout deletes the cookie and marks the session id as ended in the
table (``revisit.domain.users.end_session``): a copy of the cookie taken before stops working at
once on the container that signed out and within 5 s on the others (one GetItem per session,
container and 5 s).

CSRF: every form carries ``csrf_token`` = HMAC(key, session id); every POST checks it
(:func:`csrf_form`). The sign-in form, before any session, is bound the same way to a short
pre-session cookie.

The signing key is per deployment and secret: a Secrets Manager secret that CloudFormation
generates (``WebAppSessionSecret`` in template.yaml; the local stack generates it once and keeps it
in its data directory's secrets.json), read once per container. Rotating it signs everyone out.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from revisit import errors, hashing
from revisit.config import settings
from revisit.domain import auth as domain_auth
from revisit.domain import users
from revisit.domain.auth import Kind, Presented, Principal

SESSION_COOKIE = "revisit_session"
LOGIN_COOKIE = "revisit_login"  # the sign-in form's pre-session (CSRF before there is a session)
CSRF_FIELD = "csrf_token"
IDLE_SECONDS = 30 * 60  # a session ends 30 minutes after its last request ...
MAX_SECONDS = 8 * 3600  # ... and 8 hours after sign-in, whatever its activity
LOGIN_SECONDS = 15 * 60  # the sign-in form's pre-session
RENEW_AFTER_SECONDS = 60  # a request renews the cookie at most once a minute

_clock = time.time  # tests move it


class NotSignedIn(Exception):
    """No session, an expired one, or one whose credential or user is gone: 303 to /app/login."""

    def __init__(self, reason: str = "none") -> None:
        super().__init__(reason)
        self.reason = reason  # "none" | "expired" | "revoked"


class CsrfFailed(Exception):
    """A POST without the form's CSRF token, or with a wrong one: 403, nothing changed."""


@dataclass(frozen=True)
class Identity:
    """Who is signed in. ``principal`` is what every domain service takes (store visibility)."""

    workspace_id: str
    principal: Principal
    kind: str  # "owner" (owner token) | "api" (API key) | "user" (a person, H6)
    role: str  # "owner" | "manager" | "viewer"
    session_id: str
    label: str  # who, in words, for the header: "Owner token", "API key nk_AbCdEf…", an email
    user_id: str | None = None
    email: str | None = None
    stores: tuple[str, ...] | None = None  # None = every store of the workspace
    extra: dict[str, Any] = field(default_factory=dict)
    member: Any = None  # revisit.domain.users.Member: role checks of the setup and people pages

    def principal_for(self, slug: str) -> Principal:
        """The principal to call a domain service about one store with (a manager of several
        stores gets one scoped to it); NotFound (-> the 404 page) for a store out of sight."""
        if not self.can_see(slug):
            raise errors.NotFound(f"Store '{slug}' does not exist.")
        return self.member.principal(slug) if self.member is not None else self.principal

    def can_see(self, slug: str) -> bool:
        if self.stores is not None:
            return slug in self.stores
        return self.principal.can_access_store(slug)

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"

    @property
    def actor(self) -> str:
        """How the audit log names who did it: an address, else the credential."""
        if self.member is not None:
            return self.member.actor
        return self.email or self.user_id or f"{self.kind} {self.principal.key_id}"


# ------------------------------------------------------------------ the key


@functools.cache
def _secret() -> bytes:
    config = settings()
    names = "WEBAPP_SESSION_SECRET_ARN (or WEBAPP_SESSION_SECRET)"
    return hashing.deployment_secret(config.webapp_session_secret, config.webapp_session_secret_arn, names)


@functools.cache
def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(_secret(), salt=salt, signer_kwargs={"digest_method": hashlib.sha256})


def _csrf_for(session_id: str) -> str:
    return hmac.new(_secret(), f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


# ------------------------------------------------------------------ cookies


def _cookie_path(request: Request) -> str:
    return (request.scope.get("root_path") or "") + "/app"


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=_cookie_path(request),
        secure=settings().webapp_secure_cookies,
        httponly=True,
        samesite="strict",
    )


def _delete_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=_cookie_path(request), secure=settings().webapp_secure_cookies, httponly=True, samesite="strict"
    )


def _read(request: Request, name: str, salt: str) -> dict[str, Any] | None:
    raw = request.cookies.get(name)
    if not raw:
        return None
    try:
        data = _serializer(salt).loads(raw)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


# ------------------------------------------------------------------ sessions


def _new_session(workspace_id: str, subject: dict[str, Any]) -> dict[str, Any]:
    at = int(_clock())
    return {"v": 1, "ws": workspace_id, **subject, "sid": secrets.token_urlsafe(16), "iat": at, "seen": at}


def _write_session(request: Request, response: Response, payload: dict[str, Any]) -> None:
    left = min(IDLE_SECONDS, payload["iat"] + MAX_SECONDS - payload["seen"])
    _set_cookie(request, response, SESSION_COOKIE, _serializer("session").dumps(payload), max(int(left), 1))


def start_key_session(request: Request, response: Response, principal: Principal, hash_: str) -> None:
    """Sign in with an owner token or an API key (already authenticated by the caller)."""
    payload = _new_session(principal.workspace_id, {"sub": "key", "k": principal.kind.value, "h": hash_})
    _write_session(request, response, payload)
    _delete_cookie(request, response, LOGIN_COOKIE)


def start_user_session(
    request: Request, response: Response, workspace_id: str, user_id: str, extra: dict[str, Any] | None = None
) -> None:
    """Sign a user in (H6: after a sign-in link was checked). ``extra`` (small, no secret) comes back
    to ``revisit.domain.users.session_identity`` on every request, e.g. a session generation."""
    payload = _new_session(workspace_id, {"sub": "user", "uid": user_id, "x": extra or {}})
    _write_session(request, response, payload)
    _delete_cookie(request, response, LOGIN_COOKIE)


def end_session(request: Request, response: Response) -> None:
    """Logout: the cookie is deleted and the session id marked as ended in the table, so a copy
    of the cookie taken before stops working too (within the 5 s re-check on other containers)."""
    payload = _read(request, SESSION_COOKIE, "session")
    if payload is not None and payload.get("sid"):
        users.end_session(payload["sid"], int(payload.get("iat", _clock())) + MAX_SECONDS)
    _delete_cookie(request, response, SESSION_COOKIE)


def _resolve_key(payload: dict[str, Any]) -> Identity:
    kind = Kind(payload["k"])
    if kind not in (Kind.OWNER, Kind.API):
        raise NotSignedIn("revoked")
    try:
        principal = domain_auth.authenticate_stored(kind, payload["h"], payload["ws"])
    except errors.Unauthenticated:
        raise NotSignedIn("revoked") from None
    member = users.member_of_principal(principal)
    if kind is Kind.OWNER:
        label = "Owner token"
    else:
        where = f" for {principal.store_slug}" if principal.scope == "store" else ""
        label = f"API key {principal.key_id}{where}"
    return Identity(
        workspace_id=principal.workspace_id,
        principal=principal,
        kind=kind.value,
        role=member.role.value,
        session_id=payload["sid"],
        label=label,
        stores=None if member.stores is None else tuple(sorted(member.stores)),
        member=member,
    )


def _resolve_user(payload: dict[str, Any]) -> Identity:
    """A user's session: ``revisit.domain.users.session_identity(workspace_id, user_id, extra)``
    (H6) answers a dict - principal, role, email, stores (None = all) - or None when the user is
    gone or their sessions were ended."""
    found = users.session_identity(payload["ws"], payload["uid"], payload.get("x") or {})
    if not found:
        raise NotSignedIn("revoked")
    stores = found.get("stores")
    return Identity(
        workspace_id=payload["ws"],
        principal=found["principal"],
        kind="user",
        role=found["role"],
        session_id=payload["sid"],
        label=found.get("email") or payload["uid"],
        user_id=payload["uid"],
        email=found.get("email"),
        stores=None if stores is None else tuple(stores),
        extra=payload.get("x") or {},
        member=found.get("member"),
    )


def current(request: Request) -> Identity:
    """The signed-in identity of this request; raises :class:`NotSignedIn` (-> 303 to the sign-in
    page) when there is no session, it expired, or its key was revoked / its user removed."""
    cached = request.scope.get("revisit.identity")
    if cached is not None:
        return cached
    payload = _read(request, SESSION_COOKIE, "session")
    if payload is None or payload.get("v") != 1:
        raise NotSignedIn("none")
    at = _clock()
    if at - payload["seen"] >= IDLE_SECONDS or at - payload["iat"] >= MAX_SECONDS:
        raise NotSignedIn("expired")
    if users.session_ended(payload["sid"]):  # signed out (a copy of a logged-out cookie)
        raise NotSignedIn("none")
    me = _resolve_user(payload) if payload.get("sub") == "user" else _resolve_key(payload)
    request.scope["revisit.identity"] = me
    if at - payload["seen"] >= RENEW_AFTER_SECONDS:  # sliding expiry: SessionCookies sets it
        request.scope["revisit.renew"] = {**payload, "seen": int(at)}
    return me


def optional(request: Request) -> Identity | None:
    """The identity if someone is signed in, else None (never redirects)."""
    try:
        return current(request)
    except NotSignedIn:
        return None


# ------------------------------------------------------------------ CSRF


def csrf_token(request: Request) -> str:
    """The CSRF token for forms on this page: bound to the session, or before sign-in to the
    sign-in form's pre-session (which this call starts when there is none)."""
    payload = _read(request, SESSION_COOKIE, "session")
    if payload and payload.get("v") == 1 and optional(request) is not None:
        return _csrf_for(payload["sid"])
    pre = _read(request, LOGIN_COOKIE, "login") or request.scope.get("revisit.login")
    if not pre or _clock() - pre.get("iat", 0) >= LOGIN_SECONDS:
        pre = {"sid": secrets.token_urlsafe(16), "iat": int(_clock())}
        request.scope["revisit.login"] = pre
        request.scope["revisit.set_login"] = _serializer("login").dumps(pre)
    return _csrf_for("login:" + pre["sid"])


def check_csrf(request: Request, form: FormData) -> None:
    """403 (:class:`CsrfFailed`) unless ``form`` carries this session's token. Call it before
    anything changes."""
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not sent:
        raise CsrfFailed()
    payload = _read(request, SESSION_COOKIE, "session")
    expected = []
    if payload and payload.get("v") == 1:
        expected.append(_csrf_for(payload["sid"]))
    pre = _read(request, LOGIN_COOKIE, "login")
    if pre and _clock() - pre.get("iat", 0) < LOGIN_SECONDS:
        expected.append(_csrf_for("login:" + pre["sid"]))
    if not any(hmac.compare_digest(sent, e) for e in expected):
        raise CsrfFailed()


async def csrf_form(request: Request) -> FormData:
    """The POSTed form, after its CSRF token was checked (403 otherwise)."""
    form = await request.form()
    check_csrf(request, form)
    return form


# ------------------------------------------------------------------ sign-in with a secret


def sign_in_with_secret(workspace_id: str, secret: str) -> tuple[Principal, str]:
    """(principal, credential hash) of an owner token (``nk_live_``) with its workspace id, or an
    API key (``nk_``) of that workspace; :class:`revisit.errors.Unauthenticated` otherwise - the
    same for every reason (unknown, revoked, wrong workspace, another kind of credential)."""
    if secret.startswith("nk_live_"):
        kind, presented = Kind.OWNER, Presented(bearer=secret, workspace_id=workspace_id)
    else:
        kind, presented = Kind.API, Presented(api_key=secret)
    try:
        principal = domain_auth.authenticate(presented, frozenset({kind}))
    except errors.Forbidden:
        raise errors.Unauthenticated() from None
    if not hmac.compare_digest(principal.workspace_id, workspace_id):
        raise errors.Unauthenticated()
    return principal, domain_auth.secret_hash(kind, secret)


# ------------------------------------------------------------------ audit


def audit(me: Identity, action: str, target: str, details: dict[str, Any] | None = None) -> None:
    """Record a setup change (who, what, when) in the workspace's audit log
    (``revisit.domain.users.audit``); call it after the change succeeded. ``details`` never holds a
    secret (users.audit drops fields named like one)."""
    users.audit(me.workspace_id, me.actor, action, target, details or {})


# ------------------------------------------------------------------ the cookies a response carries


class SessionCookies:
    """ASGI middleware: adds the renewed session cookie and the sign-in pre-session cookie that a
    request's :func:`current` / :func:`csrf_token` decided on (pages need not think of it)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                request = Request(scope)
                extra = Response()
                renew = scope.get("revisit.renew")
                headers = list(message.get("headers") or [])
                already = {v for k, v in headers if k.lower() == b"set-cookie"}
                touched = any(v.startswith(SESSION_COOKIE.encode() + b"=") for v in already)
                if renew is not None and not touched:
                    _write_session(request, extra, renew)
                login = scope.get("revisit.set_login")
                if login is not None and not any(v.startswith(LOGIN_COOKIE.encode() + b"=") for v in already):
                    _set_cookie(request, extra, LOGIN_COOKIE, login, LOGIN_SECONDS)
                headers += [(k, v) for k, v in extra.raw_headers if k == b"set-cookie"]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)
