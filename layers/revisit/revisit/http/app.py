"""Resolver factory and the mapping of domain errors to HTTP responses."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError
from pydantic import BaseModel, ValidationError

from revisit import errors
from revisit.config import settings
from revisit.domain import auth
from revisit.domain.auth import Kind, Presented, Principal
from revisit.http.schemas import SLUG_PATTERN
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
    errors.PreconditionFailed: 412,
    errors.PayloadTooLarge: 413,
}

M = TypeVar("M", bound=BaseModel)

# The WWW-Authenticate challenge of each kind of credential (RFC 9110 11.6.1: custom schemes are
# allowed), in the order a route accepting several lists them.
CHALLENGES = {
    Kind.OWNER: 'Bearer realm="revisit"',  # + x-workspace-id
    Kind.API: 'ApiKey header="x-api-key"',
    Kind.PARTNER: 'PartnerKey headers="X-API-KEY, X-API-SECRET"',
}
# The NPS seed's routes take their credentials as parameters and answer a failed authorization
# with 403 (seed 002 says nothing of a challenge): the 403 names the parameters they accept.
SEED_CHALLENGES = {
    "/nps/create": 'ApiKey body="shop_id, shop_secret", ApiKey body="shop_id, did"',
    "/nps/reviews": 'ApiKey query="shop_id, shop_secret"',
}


def challenge(allowed: frozenset[Kind] | set[Kind]) -> str:
    """One challenge per scheme the route accepts (comma-separated, as RFC 9110 allows)."""
    return ", ".join(c for kind, c in CHALLENGES.items() if kind in allowed) or CHALLENGES[Kind.OWNER]


class Challenged(errors.Unauthenticated):
    """Unauthenticated, with the challenge of the credentials the route accepts."""

    def __init__(self, message: str, challenge: str) -> None:
        super().__init__(message)
        self.challenge = challenge


# Every JSON answer (errors too): never sniffed as another type, never kept by a cache (they carry
# tenants' data and credentials). A caller's own value (e.g. "private, no-store") wins.
JSON_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}

# On every answer a function builds (JSON, HTML pages, exports, redirects): HTTPS only, for a year,
# on every subdomain too (RFC 6797). Added by the resolver (:class:`Resolver`), so no route forgets it.
HSTS = {"Strict-Transport-Security": "max-age=31536000; includeSubDomains"}

# DynamoDB's "not now" answers (after boto3's own retries, dal/table.py): the request changed
# nothing it could not undo (every multi-item write is one transaction), so the caller may retry.
# 503 with Retry-After instead of a 500 with a traceback.
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        "LimitExceededException",
    }
)
TRANSIENT_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"})
RETRY_AFTER_SECONDS = 1


def transient(exc: BaseException) -> bool:
    """Whether a botocore error is DynamoDB (or the network to it) being briefly unavailable."""
    if isinstance(exc, (HTTPClientError, ConnectionError)):  # timeouts, refused or reset connections
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        if code in TRANSIENT_CODES:
            return True
        if code == "TransactionCanceledException":
            reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
            return bool(reasons & TRANSIENT_REASONS)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500
    return False


class Resolver(APIGatewayRestResolver):
    """The REST resolver, with :data:`HSTS` on every answer it returns, and one request line in
    the log at DEBUG (route, path, status): the Logger redacts the tokens in it (observability)."""

    def resolve(self, event, context) -> dict[str, Any]:
        out = super().resolve(event, context)
        if isinstance(out, dict):
            if logger.isEnabledFor(logging.DEBUG) and isinstance(event, dict):
                logger.debug(
                    "request",
                    extra={
                        "method": event.get("httpMethod"),
                        "route": event.get("resource"),
                        "path": event.get("path"),
                        "pathParameters": event.get("pathParameters"),
                        "status": out.get("statusCode"),
                    },
                )
            if isinstance(out.get("multiValueHeaders"), dict):
                for name, value in HSTS.items():
                    out["multiValueHeaders"].setdefault(name, [value])
            else:
                out["headers"] = {**HSTS, **(out.get("headers") or {})}
        return out


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
    app = Resolver(cors=cors_config)

    @app.exception_handler(errors.RevisitError)
    def _domain_error(exc: errors.RevisitError) -> Response:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        headers = None
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int):  # a quota used up (e.g. nps.TooManyRequests)
            status, headers = 429, {"Retry-After": str(retry_after)}
        elif status == 401 and 401 not in overrides:
            headers = {"WWW-Authenticate": getattr(exc, "challenge", None) or CHALLENGES[Kind.OWNER]}
        elif 401 in overrides and isinstance(exc, errors.Forbidden) and app.current_event.resource in SEED_CHALLENGES:
            headers = {"WWW-Authenticate": SEED_CHALLENGES[app.current_event.resource]}
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

    @app.exception_handler([ClientError, BotoCoreError])
    def _aws_error(exc: Exception) -> Response:
        if not transient(exc):
            return _unexpected(exc)
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
        logger.warning("storage unavailable", extra={"error": code})
        return fail(
            503,
            "UNAVAILABLE",
            f"The service is briefly unavailable; retry in {RETRY_AFTER_SECONDS} s.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

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
    """The caller, if it presents credentials of one of the ``allowed`` kinds; a 401 names them."""
    try:
        return auth.authenticate(presented(app), frozenset(allowed))
    except errors.Unauthenticated as exc:
        raise Challenged(exc.message, challenge(set(allowed))) from None


def _n(value: Any) -> str:
    """A bound as written in a message: 5, not 5.0."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _plural(count: Any, word: str) -> str:
    return f"{_n(count)} {word}{'' if str(count) == '1' else 's'}"


# The request models' patterns, in words (any other one is quoted).
PATTERNS = {
    SLUG_PATTERN: "must be 1-64 lower-case letters, digits and '-', not starting or ending with '-'",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": "must be an email address",
    r"^\+[1-9][0-9]{6,14}$": "must be a phone number in E.164 form, e.g. +33612345678",
    r"^\+?[0-9 ()-]{6,24}$": "must be a phone number, e.g. +33 6 12 34 56 78",
    r"^[A-Z]{3}$": "must be a three-letter currency code, e.g. EUR",
    r"^[A-Za-z0-9_.-]{1,64}$": "must be 1-64 letters, digits, '_', '.' or '-'",
}

# pydantic's error types in plain words (its own wording - "Input should be", "Field required" -
# is a library's, not this API's). Each takes the error's ctx.
_MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "missing": lambda _: "is required",
    "extra_forbidden": lambda _: "is not a field of this request",
    "int_type": lambda _: "must be a whole number",
    "int_parsing": lambda _: "must be a whole number",
    "int_from_float": lambda _: "must be a whole number",
    "int_parsing_size": lambda _: "must be a smaller whole number",
    "float_type": lambda _: "must be a number",
    "float_parsing": lambda _: "must be a number",
    "decimal_type": lambda _: "must be a number",
    "decimal_parsing": lambda _: "must be a number",
    "finite_number": lambda _: "must be a finite number",
    "bool_type": lambda _: "must be true or false",
    "bool_parsing": lambda _: "must be true or false",
    "string_type": lambda _: "must be a string",
    "string_unicode": lambda _: "must be a string",
    "string_too_short": lambda c: (
        "must not be empty"
        if str(c.get("min_length")) == "1"
        else f"must be at least {_plural(c.get('min_length'), 'character')}"
    ),
    "string_too_long": lambda c: f"must be at most {_plural(c.get('max_length'), 'character')}",
    "string_pattern_mismatch": lambda c: PATTERNS.get(
        str(c.get("pattern")), f"is not in the expected form (pattern {c.get('pattern')})"
    ),
    "too_short": lambda c: f"must have at least {_plural(c.get('min_length'), 'item')}",
    "too_long": lambda c: f"must have at most {_plural(c.get('max_length'), 'item')}",
    "greater_than": lambda c: f"must be more than {_n(c.get('gt'))}",
    "greater_than_equal": lambda c: f"must be at least {_n(c.get('ge'))}",
    "less_than": lambda c: f"must be less than {_n(c.get('lt'))}",
    "less_than_equal": lambda c: f"must be at most {_n(c.get('le'))}",
    "multiple_of": lambda c: f"must be a multiple of {_n(c.get('multiple_of'))}",
    "literal_error": lambda c: f"must be {c.get('expected')}",
    "enum": lambda c: f"must be {c.get('expected')}",
    "none_required": lambda _: "must be null",
    "model_type": lambda _: "must be an object",
    "model_attributes_type": lambda _: "must be an object",
    "dict_type": lambda _: "must be an object",
    "list_type": lambda _: "must be a list",
    "tuple_type": lambda _: "must be a list",
    "set_type": lambda _: "must be a list",
    "date_type": lambda _: "must be a day written YYYY-MM-DD",
    "date_parsing": lambda _: "must be a day written YYYY-MM-DD",
    "date_from_datetime_parsing": lambda _: "must be a day written YYYY-MM-DD",
    "date_from_datetime_inexact": lambda _: "must be a day written YYYY-MM-DD, without a time",
    "datetime_type": lambda _: "must be a date and time such as 2024-05-01T18:30:00Z",
    "datetime_parsing": lambda _: "must be a date and time such as 2024-05-01T18:30:00Z",
    "datetime_from_date_parsing": lambda _: (
        "must be a date and time such as 2024-05-01T18:30:00Z (or a day YYYY-MM-DD)"
    ),
    "datetime_object_invalid": lambda _: "must be a date and time such as 2024-05-01T18:30:00Z",
    "timezone_aware": lambda _: "must include a time zone (e.g. Z or +02:00)",
    "timezone_naive": lambda _: "must not include a time zone",
    "uuid_type": lambda _: "must be a UUID",
    "uuid_parsing": lambda _: "must be a UUID",
    "uuid_version": lambda _: "must be a UUID",
    "url_type": lambda _: "must be a URL",
    "url_parsing": lambda _: "must be a URL",
    "url_syntax_violation": lambda _: "must be a URL",
    "url_scheme": lambda c: f"must be a URL whose scheme is {c.get('expected_schemes')}",
    "url_too_long": lambda c: f"must be at most {_plural(c.get('max_length'), 'character')}",
    "json_invalid": lambda _: "must be valid JSON",
    "recursion_loop": lambda _: "is nested too deeply",
}
_LIBRARY_PREFIXES = ("Value error, ", "Assertion failed, ")


def plain_message(err: dict[str, Any]) -> str:
    """A pydantic error in this API's words: what the field must be, without the library's phrasing."""
    kind = err.get("type", "")
    words = _MESSAGES.get(kind)
    if words is not None:
        return words(err.get("ctx") or {})
    msg = str(err.get("msg") or "is invalid")
    for prefix in _LIBRARY_PREFIXES:  # a custom validator's own message, already in plain words
        msg = msg.removeprefix(prefix)
    if msg.startswith("Input should be "):
        msg = "must be " + msg.removeprefix("Input should be ")
    return msg


def validation_error(exc: ValidationError, prefix: str = "") -> errors.ValidationFailed:
    details = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        field = ".".join(p for p in (prefix, loc) if p) or "body"
        details.append({"field": field, "message": plain_message(err), "type": err.get("type", "invalid")})
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return errors.ValidationFailed(f"Invalid request: {summary}", details)


def raw_json_body(app: APIGatewayRestResolver, max_bytes: int = MAX_BODY_BYTES, default: Any = None) -> Any:
    """The body as JSON; an absent or empty one is ``default`` when given, else a 400."""
    event = app.current_event
    raw = event.body
    if (raw is None or raw == "") and default is not None:
        return default
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
        if raw == "" and default is not None:
            return default
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


def every_field_optional(model: type[BaseModel]) -> bool:
    """Whether ``{}`` is a complete body of ``model``: every field has a default that stands as it
    is (a default validated on its own, e.g. CreateStore's one-of-two slug, is a required field)."""
    return all(not f.is_required() and not f.validate_default for f in model.model_fields.values())


def too_deep() -> errors.MalformedRequest:
    """JSON nested beyond what the parser (or a model) recurses through: the caller's fault, 400."""
    return errors.MalformedRequest(
        "The body is nested too deeply to be read.", [{"field": "body", "message": "nested too deeply"}]
    )


def body(
    app: APIGatewayRestResolver, model: type[M], max_bytes: int = MAX_BODY_BYTES, optional: bool | None = None
) -> M:
    """The body as ``model``. Where every field is optional (``optional``; by default: read from the
    model) an absent or empty body is ``{}``; a body that is present must be a JSON object."""
    if optional is None:
        optional = every_field_optional(model)
    data = raw_json_body(app, max_bytes, default={} if optional else None)
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
