"""Request models of the NPS API (seed 002) and of its management (categories, channels)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from revisit.http.schemas import Comment, Cursor, DayEnd, DayStart, Name, OrderId, StoreSlug, Strict

Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Text = Annotated[str, Field(max_length=1000)]


def nps_error(_status: int, _code: str, message: str, details: list) -> dict[str, Any]:
    """The seed's error body: {"status": "error", "message": ...} (the message names the field)."""
    return {"status": "error", "message": message}


# The seed answers 403 for failed authorization (we would say 401).
NPS_STATUS_OVERRIDES = {401: 403}


class ShopQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    shop_id: Annotated[str, Field(min_length=1, max_length=64)]


class NpsCreate(BaseModel):
    """POST /nps/create. Unknown fields are ignored (clients of the original may send more)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, defer_build=True)

    shop_id: Annotated[str, Field(min_length=1, max_length=64)]
    shop_secret: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    did: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    # The seed's table calls seance required, yet its own two examples leave it out: accepted, not required.
    seance: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{6,24}$")] | None = None
    loyalty_id: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    order_id: OrderId | None = None
    channel: Code
    category: Code
    rate: Annotated[int, Field(ge=1, le=10)]
    comment: Comment | None = None

    @field_validator("rate", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        """Integers, and digit strings ("8": form-style clients); never booleans or fractions."""
        if isinstance(value, bool):
            raise ValueError("must be an integer between 1 and 10")
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("must be an integer between 1 and 10, not a fraction")
        if isinstance(value, str) and not value.strip().isdigit():
            raise ValueError("must be an integer between 1 and 10")
        return value

    @field_validator("order_id", "loyalty_id", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _who(self) -> NpsCreate:
        if not self.shop_secret and not self.did:
            raise ValueError("shop_secret or did is required")
        if not self.did and not (self.email or self.phone):
            raise ValueError("email or phone is required when did is not used")
        return self


class ReviewsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    shop_id: Annotated[str, Field(min_length=1, max_length=64)]
    shop_secret: Annotated[str, Field(min_length=1, max_length=128)]
    date_from: DayStart = None
    date_to: DayEnd = None
    channel: Code | None = None
    category: Code | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 1000
    cursor: Cursor | None = None


# A category's six texts: what to ask, and what to answer, each kind of respondent.
_TEXTS: dict[str, Any] = {
    f"{kind}_{what}": (Text | None, None)
    for kind in ("promoter", "passive", "detractor")
    for what in ("question", "success")
}

CreateCategory = create_model(
    "CreateCategory",
    __base__=Strict,
    storeSlug=(StoreSlug, ...),
    code=(Code, ...),
    name=(Name, ...),
    **_TEXTS,
    active=(bool, True),
)


class CreateChannel(Strict):
    storeSlug: StoreSlug
    code: Code
    name: Name
    active: bool = True


class _Patch(Strict):
    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if k != "storeSlug" and v is not None}


# One patch model for categories and channels (a channel has no texts).
PatchConfig = create_model(
    "PatchConfig",
    __base__=_Patch,
    storeSlug=(StoreSlug, ...),
    name=(Name | None, None),
    **_TEXTS,
    active=(bool | None, None),
)
