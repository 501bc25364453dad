"""The web app: a Starlette application whose pages call the domain services (revisit.domain).

``create_app()`` wires the route table (routes.py), the session cookies (auth.SessionCookies), the
security headers, the stage prefix of API Gateway's own URL, and one error page per failure:
not signed in -> 303 to /app/login; CSRF -> 403; unknown page or a store the identity may not
see -> the 404 page; bad input -> 400 naming the field; DynamoDB briefly unavailable -> 503;
anything else -> 500, logged.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from revisit import errors
from revisit.observability import logger
from webapp import auth, render


class StagePrefix:
    """API Gateway's own URL has the stage in it (``/dev/app``) but the event's ``path`` has not
    (``/app``): the stage (the request path's part before the event's path) becomes the ASGI
    root path, so the links the pages write (``render.url``) keep it. On the local stack and
    behind a custom domain without a base path the two agree and the root path is empty."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            event = scope.get("aws.event") or {}
            full = str((event.get("requestContext") or {}).get("path") or "")
            path = str(event.get("path") or "")
            if path and full != path and full.endswith(path):
                prefix = full[: -len(path)].rstrip("/")
                if prefix:
                    scope = {**scope, "root_path": prefix, "path": prefix + scope["path"]}
        await self.app(scope, receive, send)


class SecurityHeaders:
    """The CSP and the other security headers on every answer (pages, redirects, errors, files)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {k.lower() for k, _ in headers}
                headers += [
                    (k.lower().encode(), v.encode())
                    for k, v in render.SECURITY_HEADERS.items()
                    if k.lower().encode() not in present
                ]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"private, no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


def _login_redirect(request: Request, exc: auth.NotSignedIn) -> Response:
    here = request.url.path.removeprefix(request.scope.get("root_path") or "")
    query = {"expired": "1"} if exc.reason in ("expired", "revoked") else {}
    if request.method == "GET" and here.startswith("/app") and here not in ("/app", "/app/login"):
        target = here + (f"?{request.url.query}" if request.url.query else "")
        query["next"] = target
    response = render.redirect(request, "/app/login", **query)
    if request.cookies.get(auth.SESSION_COOKIE):
        auth.end_session(request, response)
    return response


async def _not_signed_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, auth.NotSignedIn)
    return _login_redirect(request, exc)


async def _csrf(request: Request, _exc: Exception) -> Response:
    return render.error_page(request, 403)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return render.not_found(request)
    return render.error_page(request, exc.status_code if exc.status_code in render.ERRORS else 400)


async def _domain(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.RevisitError)
    if isinstance(exc, errors.Unauthenticated):
        return _login_redirect(request, auth.NotSignedIn("revoked"))
    if isinstance(exc, errors.NotFound | errors.Forbidden):  # a foreign store looks like none at all
        return render.not_found(request)
    if isinstance(exc, errors.Conflict):
        return render.error_page(request, 400, exc.message, exc.details)
    return render.error_page(request, 400, exc.message, exc.details)


def _unexpected(request: Request, exc: Exception) -> Response:
    from botocore.exceptions import BotoCoreError, ClientError

    from revisit.http.app import transient

    if isinstance(exc, ClientError | BotoCoreError) and transient(exc):
        logger.warning("storage unavailable", extra={"error": type(exc).__name__})
        return render.error_page(request, 503)
    logger.exception("unhandled error")
    return render.error_page(request, 500)


class CatchAll:
    """Any other exception: the 500 page (503 when DynamoDB is briefly unavailable), logged once,
    never a traceback to the browser nor an exception out of the handler."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:
                raise
            await _unexpected(Request(scope), exc)(scope, receive, send)


def create_app() -> StagePrefix:
    from webapp.routes import table

    app = Starlette(
        routes=table(),
        middleware=[Middleware(CatchAll)],
        exception_handlers={
            auth.NotSignedIn: _not_signed_in,
            auth.CsrfFailed: _csrf,
            HTTPException: _http,
            errors.RevisitError: _domain,
        },
    )
    return StagePrefix(SecurityHeaders(auth.SessionCookies(app)))
