"""GET/POST /app/login (the bootstrap sign-in: workspace id + owner token or API key) and
POST /app/logout. The email-link sign-in (H6) adds its own form through the template
``login_email.html`` (included when it exists) and its own routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from revisit import errors
from webapp import auth
from webapp.render import redirect, render

MAX_WORKSPACE_ID = 64
MAX_SECRET = 200
FAILED = "That workspace id and secret do not match an active owner token or API key of that workspace."


def safe_next(value: object) -> str | None:
    """A page of this app to go back to after sign-in - a path under /app, never another site."""
    if not isinstance(value, str) or not value.startswith("/app") or value.startswith("/app/login"):
        return None
    if "//" in value or "\\" in value or any(ord(c) < 32 for c in value) or len(value) > 500:
        return None
    return value


def _form(request: Request, status: int = 200, **ctx) -> Response:
    notice = None
    if request.query_params.get("expired"):
        notice = "Your session has ended. Please sign in again."
    elif request.query_params.get("signed_out"):
        notice = "You are signed out."
    return render(
        request,
        "login.html",
        {
            "notice": notice,
            "error": None,
            "workspace_id": "",
            "next": safe_next(request.query_params.get("next")),
            **ctx,
        },
        status=status,
    )


async def login_page(request: Request) -> Response:
    if auth.optional(request) is not None:
        return redirect(request, safe_next(request.query_params.get("next")) or "/app")
    return _form(request)


async def login(request: Request) -> Response:
    form = await auth.csrf_form(request)
    workspace_id = str(form.get("workspaceId") or "").strip()
    secret = str(form.get("secret") or "").strip()
    next_ = safe_next(form.get("next"))
    problems = []
    if not workspace_id or len(workspace_id) > MAX_WORKSPACE_ID:
        problems.append("workspace id")
    if not secret or len(secret) > MAX_SECRET:
        problems.append("secret")
    if problems:
        return _form(
            request,
            400,
            error=f"Enter the {' and the '.join(problems)}.",
            workspace_id=workspace_id[:MAX_WORKSPACE_ID],
            next=next_,
        )
    try:
        principal, hash_ = auth.sign_in_with_secret(workspace_id, secret)
    except errors.Unauthenticated:
        return _form(request, 401, error=FAILED, workspace_id=workspace_id, next=next_)
    response = redirect(request, next_ or "/app")
    auth.start_key_session(request, response, principal, hash_)
    return response


async def logout(request: Request) -> Response:
    await auth.csrf_form(request)
    response = redirect(request, "/app/login", signed_out="1")
    auth.end_session(request, response)
    return response


routes = [
    Route("/app/login", login_page, methods=["GET"]),
    Route("/app/login", login, methods=["POST"]),
    Route("/app/logout", logout, methods=["POST"]),
]
