"""Request models of the management API (pydantic v2). Unknown fields are rejected."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"

# Field definitions shared by the request models (a constraint is stated once).
StoreSlug = Annotated[str, Field(pattern=SLUG_PATTERN)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Label = Annotated[str, Field(max_length=200)]
Source = Annotated[str, Field(min_length=1, max_length=64)]
OrderId = Annotated[str, Field(min_length=1, max_length=128)]
Comment = Annotated[str, Field(max_length=2000)]
Cursor = Annotated[str, Field(max_length=2048)]


def instant(value: Any, end_of_day: bool) -> Any:
    """Query-string dates: full ISO timestamps, or a day (YYYY-MM-DD: its start, or end for `to`)."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        day = datetime.fromisoformat(value).date()
        return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
    return value


def in_calendar(value: datetime | None) -> datetime | None:
    """An instant whose UTC time falls in years 1-9999: ``0001-01-01T00:00:00+01:00`` parses, yet
    every conversion to UTC (storage, comparison) would overflow."""
    if value is None:
        return None
    try:
        (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range: the time in UTC must fall in years 1-9999") from None
    return value


def with_headroom(value: datetime | None) -> datetime | None:
    """An instant that leaves room for the delays and validity added to it (at most two years)."""
    value = in_calendar(value)
    if value is not None and (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).year > 9997:
        raise ValueError("out of range: the time in UTC must be before year 9998")
    return value


# Storable by DynamoDB: at most 38 significant digits, magnitude 1E-130 .. 9.99E+125 (or zero).
DYNAMODB_MIN, DYNAMODB_MAX, DYNAMODB_DIGITS = Decimal("1E-130"), Decimal("1E126"), 38


def number_problem(value: Any) -> str | None:
    """Why DynamoDB cannot hold the number ``value`` (None when it can; booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "numbers must be finite"
    number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if isinstance(value, int) and len(str(abs(value))) > DYNAMODB_DIGITS:
        return f"numbers may have at most {DYNAMODB_DIGITS} digits"
    if number and not DYNAMODB_MIN <= abs(number) < DYNAMODB_MAX:
        return "numbers must be 0 or of magnitude 1E-130 to 9.99E+125"
    return None


def storable(value: Any) -> Any:
    problem = number_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Instant = Annotated[datetime, AfterValidator(in_calendar)]
# A timestamp parameter that may also be a whole day: a range's start (the day's first instant)
# or its end (the day's last instant).
DayStart = Annotated[
    datetime | None, BeforeValidator(lambda v: instant(v, end_of_day=False)), AfterValidator(in_calendar)
]
DayEnd = Annotated[datetime | None, BeforeValidator(lambda v: instant(v, end_of_day=True)), AfterValidator(in_calendar)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class CreateStore(Strict):
    slug: str = Field(pattern=SLUG_PATTERN, description="lower-case letters, digits and '-', 1-64 chars")
    name: Name | None = None
    timezone: str = Field(default="UTC", max_length=64)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown IANA time zone") from None
        return value


class CreateKey(Strict):
    scope: Literal["workspace", "store"]
    storeSlug: StoreSlug | None = None
    kind: Literal["api", "partner", "shop"] = "api"
    label: Label | None = None

    @model_validator(mode="after")
    def _store_scope(self) -> CreateKey:
        if self.scope == "store" and not self.storeSlug:
            raise ValueError("storeSlug is required when scope is 'store'")
        if self.scope == "workspace" and self.storeSlug:
            raise ValueError("storeSlug must be left out when scope is 'workspace'")
        if self.kind == "shop" and self.scope != "store":
            raise ValueError("shop credentials belong to one store: use scope 'store'")
        return self


# ------------------------------------------------------------------ survey links and feedback

PAYLOAD_MAX_BYTES = 4096
PAYLOAD_MAX_KEYS = 50
PAYLOAD_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
Civ = Annotated[str, Field(min_length=1, max_length=256)]
Rating = Annotated[int, Field(strict=True, ge=1, le=5)]


class TokenPayload(BaseModel):
    """Context that travels with the link: orderId, civ and further string/number/bool fields."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True, defer_build=True)

    orderId: OrderId | None = None
    civ: Civ | None = None

    @field_validator("orderId", mode="before")
    @classmethod
    def _order_id_as_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @model_validator(mode="after")
    def _scalar_fields(self) -> TokenPayload:
        extra = self.model_extra or {}
        if len(extra) + 2 > PAYLOAD_MAX_KEYS:
            raise ValueError(f"at most {PAYLOAD_MAX_KEYS} fields")
        for key, value in extra.items():
            if not PAYLOAD_KEY_RE.match(key):
                raise ValueError(f"field name {key[:70]!r} must be 1-64 letters, digits, '_', '.' or '-'")
            problem = number_problem(value)
            if problem:
                raise ValueError(f"{key}: {problem}")
            if not isinstance(value, (str, int, float, bool)) and value is not None:
                raise ValueError(f"{key}: only strings, numbers and booleans are allowed")
            if isinstance(value, str) and len(value) > 1000:
                raise ValueError(f"{key}: at most 1000 characters")
        size = len(json.dumps(self.as_dict(), separators=(",", ":")).encode())
        if size > PAYLOAD_MAX_BYTES:
            raise ValueError(f"payload is {size} bytes; at most {PAYLOAD_MAX_BYTES}")
        return self

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class CreateToken(Strict):
    storeSlug: StoreSlug
    payload: TokenPayload = Field(default_factory=TokenPayload)
    source: Source | None = None
    expiresInDays: Annotated[int, Field(strict=True, ge=1, le=365)] | None = None


class Submit(Strict):
    token: Annotated[str, Field(min_length=1, max_length=64)]
    rating: Rating
    comment: Comment | None = None
    civ: Civ | None = None


class CreateCampaign(Strict):
    storeSlug: StoreSlug
    name: Name
    payload: TokenPayload = Field(default_factory=TokenPayload)
    source: Source | None = None
    expiresAt: Instant | None = None
    maxUses: Annotated[int, Field(strict=True, ge=1, le=10_000_000)] | None = None


class FeedbackQuery(Strict):
    storeSlug: StoreSlug | None = None
    from_: DayStart = Field(default=None, alias="from")
    to: DayEnd = None
    minRating: int | None = Field(default=None, ge=1, le=5)
    maxRating: int | None = Field(default=None, ge=1, le=5)
    orderId: OrderId | None = None
    civ: Civ | None = None
    source: Source | None = None
    q: Name | None = None
    limit: int = Field(default=25, ge=1, le=100)
    cursor: Cursor | None = None
    format: Literal["csv", "jsonl"] = "csv"

    @field_validator("from_", "to")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    @model_validator(mode="after")
    def _ranges(self) -> FeedbackQuery:
        if self.minRating and self.maxRating and self.minRating > self.maxRating:
            raise ValueError("minRating must not be above maxRating")
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError("from must not be after to")
        return self
