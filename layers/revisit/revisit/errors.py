"""Domain errors. The HTTP glue maps each to a status code; the domain never knows HTTP."""

from __future__ import annotations

from typing import Any


class RevisitError(Exception):
    code = "ERROR"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class ValidationFailed(RevisitError):
    """The request is well-formed but a field is wrong (HTTP 400; the details name each field)."""

    code = "VALIDATION_FAILED"


class MalformedRequest(RevisitError):
    """The body is not JSON, is too large, or is not an object (HTTP 400)."""

    code = "MALFORMED_REQUEST"


class Unauthenticated(RevisitError):
    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "Missing or invalid credentials.") -> None:
        super().__init__(message)


class Forbidden(RevisitError):
    code = "FORBIDDEN"

    def __init__(self, message: str = "These credentials may not access this resource.") -> None:
        super().__init__(message)


class NotFound(RevisitError):
    code = "NOT_FOUND"


class Conflict(RevisitError):
    code = "CONFLICT"


class Gone(RevisitError):
    code = "GONE"


class PreconditionFailed(RevisitError):
    """An ``If-Match`` that no longer holds: the resource changed since it was read (HTTP 412)."""

    code = "PRECONDITION_FAILED"


class PayloadTooLarge(RevisitError):
    code = "PAYLOAD_TOO_LARGE"


def field_error(field: str, message: str, kind: str = "invalid") -> ValidationFailed:
    """A validation error about one field, in the same shape pydantic errors are mapped to."""
    return ValidationFailed(f"{field}: {message}", details=[{"field": field, "message": message, "type": kind}])
