"""Signing in by an emailed link (issue 17, ``revisit.domain.users``).

* POST /app/login/email - the sign-in page's "email me a link" form (``login_email.html``, shown
  inside login.html): always the same answer, "if that address has access, a link was sent"
  (429 past the per-address quota, the same for every address).
* GET /app/signin - the link's page. The token is in the link's fragment, which browsers never
  send: the page's script (app.js) copies it into the form's field; without JavaScript the reader
  pastes the code the email also shows. Opening the page uses nothing (mail scanners open links).
* POST /app/signin - "Sign in": uses the token (once; a second use, an expired link or a removed
  user's link is the 410 page) and starts the user's session.
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from revisit import errors
from revisit.config import settings
from revisit.domain import users
from webapp import auth
from webapp.render import redirect, render

ANSWER_FLOOR_SECONDS = 0.8  # "email me a link" never answers sooner (well above an SES call's time)
SENT = (
    "If that address has access to a workspace, a sign-in link is on its way to it. "
    "The link works once, for 15 minutes."
)


def link_base(request: Request) -> str:
    """Where emailed links point: PUBLIC_BASE_URL (the API's custom domain), else the API's own
    URL from API Gateway's request context (never the request's Host header, which a client
    chooses), else - in-process tests - the app's own base URL."""
    configured = settings().public_base_url
    if configured:
        return configured
    context = (request.scope.get("aws.event") or {}).get("requestContext") or {}
    domain, stage = context.get("domainName"), context.get("stage")
    if domain:
        return f"https://{domain}/{stage}" if stage and stage != "$default" else f"https://{domain}"
    return str(request.base_url).rstrip("/") + (request.scope.get("root_path") or "")


def _login_page(request: Request, status: int = 200, **ctx) -> Response:
    return render(
        request,
        "login.html",
        {
            "notice": None,
            "error": None,
            "workspace_id": "",
            "next": None,
            "email_value": "",
            "email_error": None,
            "email_notice": None,
            **ctx,
        },
        status=status,
    )


async def request_link(request: Request) -> Response:
    form = await auth.csrf_form(request)
    email = str(form.get("email") or "")[:320]
    started = time.monotonic()
    try:
        users.request_link(email, link_base(request))
    except errors.ValidationFailed as exc:
        message = exc.details[0]["message"] if exc.details else exc.message
        return _login_page(request, 400, email_value=email.strip(), email_error=f"Email address {message}.")
    except users.TooManyRequests as exc:
        response = _login_page(request, 429, email_value=email.strip(), email_error=exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    # A known address costs a link and an SES call that an unknown one does not: every answer
    # waits until the same floor, so its timing does not tell them apart either.
    await asyncio.sleep(max(0.0, ANSWER_FLOOR_SECONDS - (time.monotonic() - started)))
    return _login_page(request, 200, email_notice=SENT)


async def signin_page(request: Request) -> Response:
    return render(request, "signin.html", {"error": None})


async def signin(request: Request) -> Response:
    form = await auth.csrf_form(request)
    token = str(form.get("token") or "").strip()[:100]
    try:
        member = users.sign_in(token)
    except users.LinkInvalid as exc:
        return render(request, "signin.html", {"error": exc.message}, status=410)
    response = redirect(request, "/app")
    auth.start_user_session(request, response, member.workspace_id, member.user_id or "")
    return response


routes = [
    Route("/app/login/email", request_link, methods=["POST"]),
    Route("/app/signin", signin_page, methods=["GET"]),
    Route("/app/signin", signin, methods=["POST"]),
]
