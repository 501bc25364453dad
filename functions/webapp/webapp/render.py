"""Rendering: one Jinja2 environment (autoescape on), the shared base layout, the error pages,
the security headers every answer carries (strict CSP: no inline script or style, no CDN) and the
formatting filters the pages share (numbers, percents, intervals, deltas - never "0 %" or NaN for
a missing value)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from webapp import auth, templating
from webapp.templating import interval, num, pct, plural, signed  # noqa: F401 - the pages' formatting

HERE = Path(__file__).resolve().parent
TEMPLATES = templating.TEMPLATES
STATIC = HERE / "static"

# script-src 'self': the one small static JS file; style-src 'self': the CSS file (the SVG charts
# style themselves with attributes and the CSS file's classes, never a style attribute).
# img-src https: a store's logo is an https URL of its own; data: nothing else.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
PRIVATE = {"Cache-Control": "private, no-store"}


def _version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]


STATIC_FILES = {p.name: p for p in STATIC.iterdir() if p.is_file()} if STATIC.is_dir() else {}
STATIC_VERSIONS = {name: _version(name) for name in STATIC_FILES}


# ------------------------------------------------------------------ URLs


def url(request: Request, path: str, **query: Any) -> str:
    """``path`` (starting /app) as the browser must ask for it: under the stage when the app is
    served from API Gateway's own URL (root path), with ``query`` (None values left out)."""
    base = (request.scope.get("root_path") or "") + path
    params = {k: v for k, v in query.items() if v is not None and v != ""}
    return base + ("?" + urlencode(params) if params else "")


def static(request: Request, name: str) -> str:
    return url(request, f"/app/static/{name}", v=STATIC_VERSIONS.get(name))


# ------------------------------------------------------------------ the environment

env = templating.env


def nav_items(request: Request, me: auth.Identity | None) -> list[dict[str, Any]]:
    """The header's links: each page module's ``nav`` (pages/__init__.py), those ``me`` may see."""
    from webapp.pages import navigation

    if me is None:
        return []
    here = request.url.path.removeprefix(request.scope.get("root_path") or "")
    items = []
    for label, path, allowed in navigation():
        if allowed is not None and not allowed(me):
            continue
        current = here == path if path == "/app" else here.startswith(path)
        items.append({"label": label, "href": url(request, path), "current": current})
    return items


def context(request: Request, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    me = auth.optional(request)
    return {
        "request": request,
        "me": me,
        "csrf_field": auth.CSRF_FIELD,
        "csrf": auth.csrf_token(request),
        "url": lambda path, **q: url(request, path, **q),
        "static": lambda name: static(request, name),
        "nav": nav_items(request, me),
        **(extra or {}),
    }


def render(
    request: Request,
    template: str,
    ctx: dict[str, Any] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """``template`` (which extends base.html) with ``ctx``, as a private HTML page."""
    html = env.get_template(template).render(context(request, ctx))
    return HTMLResponse(html, status_code=status, headers={**PRIVATE, **(headers or {})})


def csrf_input(request: Request) -> Markup:
    """The hidden CSRF field, for forms built in Python (templates write it from ``csrf``)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(auth.CSRF_FIELD, auth.csrf_token(request))


def redirect(request: Request, path: str, **query: Any) -> RedirectResponse:
    """303 See Other to an /app path (after a POST, or to the sign-in page)."""
    return RedirectResponse(url(request, path, **query), status_code=303, headers=PRIVATE)


# ------------------------------------------------------------------ error pages

ERRORS = {
    400: ("This request cannot be answered", "Something in the address or the form is not valid."),
    403: (
        "This form has expired",
        "The form was not sent from this site, or it is too old. Nothing was changed. "
        "Go back, reload the page and try again.",
    ),
    404: (
        "Page not found",
        "There is no such page, or it belongs to a store you cannot see.",
    ),
    405: ("Not allowed", "This page cannot be used that way."),
    500: ("Something went wrong", "Something went wrong on our side; it has been logged. Please try again."),
    503: ("Briefly unavailable", "The service is briefly unavailable. Please try again in a moment."),
}


def error_page(
    request: Request, status: int, message: str | None = None, details: list[dict[str, Any]] | None = None
) -> Response:
    title, text = ERRORS.get(status, ERRORS[400])
    headers = {"Retry-After": "1"} if status == 503 else None
    try:
        return render(
            request,
            "error.html",
            {"status": status, "title": title, "text": message or text, "details": details or []},
            status=status,
            headers=headers,
        )
    except Exception:  # the error page must not fail in turn (e.g. the store is down while rendering)
        return HTMLResponse(f"<!doctype html><title>{title}</title><h1>{title}</h1>", status, headers=headers)


def not_found(request: Request) -> Response:
    """The 404 page (unknown page, or a store the signed-in identity may not see)."""
    return error_page(request, 404)
