"""Resolver factory and the mapping of domain errors to HTTP responses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from pydantic import BaseModel, ValidationError

from revisit import errors
from revisit.config import settings
from revisit.domain import auth
from revisit.domain.auth import Kind, Presented, Principal
from revisit.observability import logger

MAX_BODY_BYTES = 64 * 1024

STATUS = {
    errors.MalformedRequest: 400,
    errors.ValidationFailed: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.PayloadTooLarge: 413,
}

M = TypeVar("M", bound=BaseModel)


# Every JSON answer (errors too): never sniffed as another type, never kept by a cache (they carry
# tenants' data and credentials). A caller's own value (e.g. "private, no-store") wins.
JSON_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        headers={**JSON_HEADERS, **(headers or {})},
    )


ErrorShape = Callable[[int, str, str, list], dict[str, Any]]


def standard_error(_status: int, code: str, message: str, details: list) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def create_app(
    cors: bool = False, error_shape: ErrorShape = standard_error, status_overrides: dict[int, int] | None = None
) -> APIGatewayRestResolver:
    """A resolver whose every failure is one JSON error shape: never a stack trace or a 502.

    ``error_shape`` and ``status_overrides`` let a compatibility API (the NPS seed) keep the
    shapes and codes its clients expect.
    """
    overrides = status_overrides or {}

    def fail(status: int, code: str, message: str, details: list | None = None, headers=None) -> Response:
        status = overrides.get(status, status)
        return json_response(status, error_shape(status, code, message, details or []), headers)

    cors_config = None
    if cors:
        from aws_lambda_powertools.event_handler import CORSConfig

        cors_config = CORSConfig(allow_origin="*", max_age=600)
    app = APIGatewayRestResolver(cors=cors_config)

    @app.exception_handler(errors.RevisitError)
    def _domain_error(exc: errors.RevisitError) -> Response:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 and 401 not in overrides else None
        return fail(status, exc.code, exc.message, exc.details, headers)

    @app.not_found
    def _not_found(_: NotFoundError) -> Response:
        event = app.current_event
        path, method = event.path, event.http_method.upper()
        allowed = sorted(
            {r.method for r in app._static_routes + app._dynamic_routes if r.rule.match(path)}  # noqa: SLF001
        )
        if allowed:
            return fail(
                405,
                "METHOD_NOT_ALLOWED",
                f"{method} is not allowed on {path}; use {', '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            )
        return fail(404, "NOT_FOUND", f"No route for {method} {path}.")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return fail(500, "INTERNAL", "Something went wrong on our side; it has been logged.")

    return app


def _lower_headers(app: APIGatewayRestResolver) -> dict[str, str]:
    return {k.lower(): v for k, v in (app.current_event.headers or {}).items()}


def presented(app: APIGatewayRestResolver) -> Presented:
    h = _lower_headers(app)
    bearer = None
    authz = h.get("authorization")
    if authz:
        scheme, _, token = authz.partition(" ")
        bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else ""
    return Presented(
        bearer=bearer,
        workspace_id=h.get("x-workspace-id"),
        api_key=h.get("x-api-key") or None,
        api_secret=h.get("x-api-secret") or None,
    )


def principal(app: APIGatewayRestResolver, *allowed: Kind) -> Principal:
    return auth.authenticate(presented(app), frozenset(allowed))


def validation_error(exc: ValidationError, prefix: str = "") -> errors.ValidationFailed:
    details = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        field = ".".join(p for p in (prefix, loc) if p) or "body"
        details.append({"field": field, "message": err.get("msg", "invalid"), "type": err.get("type", "invalid")})
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return errors.ValidationFailed(f"Invalid request: {summary}", details)


def raw_json_body(app: APIGatewayRestResolver, max_bytes: int = MAX_BODY_BYTES) -> Any:
    event = app.current_event
    raw = event.body
    if raw is None or raw == "":
        raise errors.MalformedRequest("A JSON body is required.", [{"field": "body", "message": "missing"}])
    if event.is_base64_encoded:
        import base64

        try:
            raw = base64.b64decode(raw).decode()
        except (ValueError, UnicodeDecodeError):
            raise errors.MalformedRequest(
                "The body is not UTF-8 JSON.", [{"field": "body", "message": "not UTF-8"}]
            ) from None
    if len(raw.encode()) > max_bytes:
        raise errors.PayloadTooLarge(
            f"The body is larger than {max_bytes} bytes.", [{"field": "body", "message": f"at most {max_bytes} bytes"}]
        )
    try:
        return json.loads(raw)
    except RecursionError:
        raise too_deep() from None
    except ValueError as exc:
        raise errors.MalformedRequest(
            f"The body is not valid JSON: {exc.msg} at position {exc.pos}.", [{"field": "body", "message": "not JSON"}]
        ) from None


def too_deep() -> errors.MalformedRequest:
    """JSON nested beyond what the parser (or a model) recurses through: the caller's fault, 400."""
    return errors.MalformedRequest(
        "The body is nested too deeply to be read.", [{"field": "body", "message": "nested too deeply"}]
    )


def body(app: APIGatewayRestResolver, model: type[M], max_bytes: int = MAX_BODY_BYTES) -> M:
    data = raw_json_body(app, max_bytes)
    if not isinstance(data, dict):
        raise errors.MalformedRequest(
            "The body must be a JSON object.", [{"field": "body", "message": "not an object"}]
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    except RecursionError:
        raise too_deep() from None


def query(app: APIGatewayRestResolver, model: type[M]) -> M:
    params = app.current_event.query_string_parameters or {}
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise validation_error(exc) from None


def base_url(app: APIGatewayRestResolver) -> str:
    """Where survey links point: PUBLIC_BASE_URL (a short custom domain), else this API's own URL."""
    configured = settings().public_base_url
    if configured:
        return configured
    ctx = app.current_event.request_context
    domain = ctx.domain_name or app.current_event.headers.get("Host", "localhost")
    stage = ctx.stage
    return f"https://{domain}/{stage}" if stage and not domain.endswith(f"/{stage}") else f"https://{domain}"


def header(app: APIGatewayRestResolver, name: str) -> str | None:
    return _lower_headers(app).get(name.lower())
