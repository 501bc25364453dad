"""Request models of the management API (pydantic v2). Unknown fields are rejected."""

from __future__ import annotations

import ipaddress
import json
import math
import re
import unicodedata
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    UrlConstraints,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from revisit.domain import feedback, locales
from revisit.domain import workflow as feedback_rules
from revisit.domain.util import iso_or_none

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


# ------------------------------------------------------------------ stores and their settings


def public_https(url: AnyHttpUrl) -> AnyHttpUrl:
    """A link we put in customers' messages and pages: https, and not to an address inside a
    network (private, loopback, link-local - the cloud metadata service - or otherwise not global)."""
    if url.scheme != "https":
        raise ValueError("must be an https URL")
    host = (url.host or "").strip("[]").lower()
    if host == "localhost" or host.endswith((".localhost", ".internal")):
        raise ValueError("must point to a public host")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return url  # a host name
    mapped = getattr(address, "ipv4_mapped", None)
    if not address.is_global or (mapped is not None and not mapped.is_global):
        raise ValueError("must not point to a private, loopback, link-local or metadata address")
    return url


def known_zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown IANA time zone") from None
    return value


def _printable(value: str) -> str:
    """Text shown to customers (pages, email subjects, SMS): no control characters or line breaks."""
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value):
        raise ValueError("must not contain control characters or line breaks")
    return value


def _supported_locale(value: str) -> str:
    if value not in locales.SUPPORTED:
        raise ValueError(f"must be one of {', '.join(locales.SUPPORTED)}")
    return value


def _hex_colour(value: str) -> str:
    if not re.fullmatch(r"#[0-9A-Fa-f]{6}", value):
        raise ValueError("must be a colour written #rrggbb (e.g. #1a73e8)")
    return value.lower()


def _question_text(value: str) -> str:
    if "{" in value.replace("{store}", "") or "}" in value.replace("{store}", ""):
        raise ValueError("may hold the placeholder {store} and no other braces")
    return value


def _cannot_change(_value: Any) -> Any:
    raise ValueError("cannot be changed")


# An address as SES takes it: local@domain, no spaces, quotes, angle brackets or control
# characters, a domain of dot-separated labels (RFC 5321's 254-character path limit).
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def _email_address(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL_RE.fullmatch(value) or ".." in value:
        raise ValueError("must be an email address (name@example.com)")
    return value


def _distinct_addresses(value: list[str]) -> list[str]:
    lowered = [v.lower() for v in value]
    if len(set(lowered)) != len(lowered):
        raise ValueError("lists an address twice")
    return value


PublicHttpsUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=2048), AfterValidator(public_https)]
DisplayName = Annotated[str, Field(min_length=1, max_length=80), AfterValidator(_printable)]
TimeZone = Annotated[str, Field(max_length=64), AfterValidator(known_zone)]
Locale = Annotated[str, AfterValidator(_supported_locale)]
BrandColor = Annotated[str, AfterValidator(_hex_colour)]
QuestionText = Annotated[
    str, Field(min_length=1, max_length=200), AfterValidator(_printable), AfterValidator(_question_text)
]
Fixed = Annotated[Any, AfterValidator(_cannot_change)]
EmailAddress = Annotated[str, Field(max_length=254), AfterValidator(_email_address)]
# Alert emails (docs/alerts.md): at most 10 addresses; empty = no alerts and no digest.
AlertEmails = Annotated[list[EmailAddress], Field(max_length=10), AfterValidator(_distinct_addresses)]
AlertMaxRating = Annotated[int, Field(strict=True, ge=1, le=5)]


class ReviewPrompt(Strict):
    """After a rating of at least ``minRating``, the thank-you page offers the public review ``url``."""

    minRating: Annotated[int, Field(strict=True, ge=4, le=5)]
    url: PublicHttpsUrl


# The survey question per language ({"fr": "Comment était votre visite chez {store} ?"}): one
# optional field per supported locale, so an unknown one is rejected as `questions.<key>`.
Questions = create_model(
    "Questions",
    __base__=Strict,
    **{code: (QuestionText | None, None) for code in locales.SUPPORTED},
)

# The settings a store has besides its slug, in the order the API shows them.
STORE_SETTINGS = ("name", "timezone", "locale", "brandColor", "logoUrl", "reviewPrompt", "questions",
                  "alertEmails", "alertMaxRating", "weeklyDigest", "retentionMonths")  # fmt: skip


def _settings_dump(model: BaseModel, fields: set[str]) -> dict[str, Any]:
    """The given settings as stored: URLs as text, a questions map without its unset languages (an
    empty one is no map: None)."""
    out = model.model_dump(mode="json", include=fields)
    if out.get("questions") is not None:
        out["questions"] = {k: v for k, v in out["questions"].items() if v is not None} or None
    return out


class StoreSettings(Strict):
    """The optional settings of a store, shared by its creation and its PATCH."""

    locale: Locale | None = None
    brandColor: BrandColor | None = None
    logoUrl: PublicHttpsUrl | None = None
    reviewPrompt: ReviewPrompt | None = None
    questions: Questions | None = None  # type: ignore[valid-type]
    alertEmails: AlertEmails | None = Field(
        default=None, description="who gets alert emails and the weekly digest (at most 10; [] = off)"
    )
    alertMaxRating: AlertMaxRating | None = Field(
        default=None, description="an answer rated at or below this alerts (1-5; default 2)"
    )
    weeklyDigest: bool | None = Field(default=None, strict=True, description="the weekly digest (default true)")
    retentionMonths: Annotated[int, Field(strict=True, ge=1, le=120)] | None = Field(
        default=None, description="delete answers older than this many months (1-120; unset = keep)"
    )


class CreateStore(StoreSettings):
    # The slug, as `storeSlug` (the name every other route uses) or `slug` (its older name): one of them.
    storeSlug: StoreSlug | None = Field(default=None, description="lower-case letters, digits and '-', 1-64 chars")
    slug: StoreSlug | None = Field(default=None, validate_default=True, description="the same as storeSlug")
    name: DisplayName | None = None
    timezone: TimeZone = "UTC"

    @field_validator("slug")
    @classmethod
    def _one_slug(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "storeSlug" not in info.data:  # storeSlug itself was invalid: its own error says why
            return value
        other = info.data["storeSlug"]
        if value is not None and other is not None:
            raise ValueError("give the slug once: as storeSlug or as slug, not both")
        if value is None and other is None:
            raise ValueError("is required (as storeSlug or slug)")
        return value or other

    def settings(self) -> dict[str, Any]:
        """The optional settings given (name and timezone are arguments of their own)."""
        given = self.model_fields_set & set(STORE_SETTINGS) - {"name", "timezone"}
        return {k: v for k, v in _settings_dump(self, given).items() if v is not None}


class StoreSettingsPatch(StoreSettings):
    """PATCH /api/stores/{storeSlug}: every field optional; null removes an optional setting."""

    name: DisplayName | None = None
    timezone: TimeZone | None = None
    # What identifies a store or records its history is not a setting.
    slug: Fixed = None
    storeSlug: Fixed = None
    shopId: Fixed = None
    workspaceId: Fixed = None
    createdAt: Fixed = None
    updatedAt: Fixed = None

    @field_validator("name", "timezone", mode="before")
    @classmethod
    def _required(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null (a store always has one)")
        return value

    def changes(self) -> dict[str, Any]:
        """Only the settings the caller sent; None removes one."""
        return _settings_dump(self, self.model_fields_set & set(STORE_SETTINGS))


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
    locale: Annotated[str, AfterValidator(_supported_locale)] | None = None  # the customer's language

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


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if len(value) > 254 or not EMAIL_RE.match(value):
        raise ValueError("must be an email address")
    return value.casefold()


def _assignee_filter(value: str) -> str:
    """``none``: answers nobody is assigned to (as ""), else an assignee's email."""
    return "" if value.casefold() == "none" else _email(value)


def _tag(value: str) -> str:
    return feedback_rules.normalise_tag(value)


def _tags(value: list[str]) -> list[str]:
    return feedback_rules.normalise_tags(value)


Email = Annotated[str, AfterValidator(_email)]
WorkflowStatus = Literal["new", "in_progress", "resolved"]
Tag = Annotated[str, Field(max_length=200), AfterValidator(_tag)]


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
    hasComment: bool | None = None
    status: WorkflowStatus | None = None
    assignee: Annotated[str, AfterValidator(_assignee_filter)] | None = Field(
        default=None, description="an assignee's email, or none: answers nobody is assigned to"
    )
    tag: Tag | None = None
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

    def filters(self) -> feedback.Filters:
        """The domain's search filters of this query: the JSON API's and the web app's inbox's."""
        return feedback.Filters(
            store_slug=self.storeSlug,
            from_ts=iso_or_none(self.from_),
            to_ts=iso_or_none(self.to),
            min_rating=self.minRating,
            max_rating=self.maxRating,
            order_id=self.orderId,
            civ=self.civ,
            source=self.source,
            text=self.q,
            has_comment=self.hasComment,
            status=self.status,
            assignee=self.assignee,
            tag=self.tag,
        )


class FeedbackPatch(Strict):
    """PATCH /api/external/feedback/{feedbackId}: only what changes. ``assignee``/``tags`` null
    (or ``[]``) remove them; ``tags`` is the whole set; ``note`` appends one internal note."""

    status: WorkflowStatus | None = None
    assignee: Email | None = None
    tags: Annotated[list[str], Field(max_length=200), AfterValidator(_tags)] | None = None
    note: Annotated[str, Field(min_length=1, max_length=2000)] | None = None

    @field_validator("status", "note", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null")
        return value

    def changes(self) -> dict[str, Any]:
        """The workflow fields the caller sent (None: remove)."""
        return {k: getattr(self, k) for k in ("status", "assignee", "tags") if k in self.model_fields_set}
