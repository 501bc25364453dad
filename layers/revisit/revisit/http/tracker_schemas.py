"""Request models of the partner survey-tracker API (seed 001) and of surveys/purchases."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from revisit.http.schemas import Instant, Name, StoreSlug, Strict, public_https, storable, with_headroom

ReviewLink = Annotated[AnyHttpUrl, AfterValidator(public_https)]
Id = Annotated[str, Field(min_length=1, max_length=128)]
E164 = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164, e.g. +33612345678")]
Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
SendingType = Literal["email", "sms", "whatsapp", "external"]
Customer = Annotated[str, Field(min_length=1, max_length=256)]
# A survey's settings, shared by create (with defaults) and patch (every field optional).
DelayMinutes = Annotated[int, Field(ge=0, le=525_600)]
ResendDelayMinutes = Annotated[int, Field(ge=1, le=525_600)]
MaxResends = Annotated[int, Field(ge=0, le=10)]
LinkValidDays = Annotated[int, Field(ge=1, le=365)]


class Rule(Strict):
    minAmount: Annotated[float, Field(ge=0), AfterValidator(storable)] | None = None
    channels: (
        Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=20)] | None
    ) = None


class SurveyFields(Strict):
    name: Name
    sendingType: SendingType
    delayMinutes: DelayMinutes = 60
    resendDelayMinutes: ResendDelayMinutes | None = None
    maxResends: MaxResends = 0
    newReviewLink: ReviewLink | None = None
    rule: Rule | None = None
    active: bool = True
    linkValidDays: LinkValidDays | None = None

    @model_validator(mode="after")
    def _resends_need_a_delay(self) -> SurveyFields:
        if self.maxResends and not self.resendDelayMinutes:
            raise ValueError("resendDelayMinutes is required when maxResends > 0")
        return self


class CreateSurvey(SurveyFields):
    storeSlug: StoreSlug


class PatchSurvey(Strict):
    name: Name | None = None
    sendingType: SendingType | None = None
    delayMinutes: DelayMinutes | None = None
    resendDelayMinutes: ResendDelayMinutes | None = None
    maxResends: MaxResends | None = None
    newReviewLink: ReviewLink | None = None
    rule: Rule | None = None
    active: bool | None = None
    linkValidDays: LinkValidDays | None = None

    @model_validator(mode="after")
    def _no_null_for_required(self) -> PatchSurvey:
        for required in ("name", "sendingType", "delayMinutes", "maxResends", "active"):
            if required in self.model_fields_set and getattr(self, required) is None:
                raise ValueError(f"{required} cannot be null")
        return self

    def changes(self) -> dict:
        """Only the fields the caller sent; an explicit null removes an optional one (e.g. rule)."""
        return self.model_dump(mode="json", exclude_unset=True)


class CreatePurchase(Strict):
    purchaseId: Id
    customerId: Customer
    storeSlug: StoreSlug
    purchasedAt: Annotated[datetime, AfterValidator(with_headroom)]
    amount: Annotated[float, Field(ge=0, le=1e12), AfterValidator(storable)] | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    channel: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    email: Email | None = None
    phone: E164 | None = None
    whatsapp: E164 | None = None


class Generate(Strict):
    purchaseId: Id
    # Purchase ids are the store's: a store-scoped key implies it; a workspace-scoped key names the
    # store when two of its stores recorded the same id (docs/trackers.md).
    storeSlug: StoreSlug | None = None


class TrackerQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    id: UUID


IdList = Annotated[list[Id], Field(min_length=1, max_length=100)]


class ListTrackers(Strict):
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    page: Annotated[int, Field(ge=1)] = 1
    fromSendAt: Instant | None = None
    toSendAt: Instant | None = None
    purchases: IdList | None = None
    customers: IdList | None = None
    storeSlug: StoreSlug | None = None  # only this store's trackers (a store-scoped key: its own)

    @field_validator("limit", "page", mode="before")
    @classmethod
    def _whole_numbers(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("must be a number")
        return value

    @model_validator(mode="after")
    def _range(self) -> ListTrackers:
        if self.fromSendAt and self.toSendAt and self.fromSendAt > self.toSendAt:
            raise ValueError("fromSendAt must not be after toSendAt")
        return self


class PartnerUnsubscribe(Strict):
    """Opt-outs to sync: for one store, or the whole workspace when storeSlug is left out."""

    storeSlug: StoreSlug | None = None
    customerId: Customer | None = None
    email: Email | None = None
    phone: E164 | None = None

    @model_validator(mode="after")
    def _someone(self) -> PartnerUnsubscribe:
        if not (self.customerId or self.email or self.phone):
            raise ValueError("give at least one of customerId, email, phone")
        return self
