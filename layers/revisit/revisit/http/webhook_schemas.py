"""Request models of the webhook API (functions/webhooks; docs/webhooks.md)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AnyHttpUrl, Field, UrlConstraints, model_validator

from revisit.config import settings
from revisit.http.schemas import Cursor, Instant, StoreSlug, Strict, public_https

EventName = Literal[
    "feedback.created", "nps.created", "tracker.sent", "tracker.completed", "tracker.failed", "customer.dissatisfied"
]


def _loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_url(url: AnyHttpUrl) -> AnyHttpUrl:
    """https to a public host; the local stack alone (WEBHOOK_ALLOW_LOOPBACK) also takes a
    loopback URL, over http too. The dispatcher checks again, on the resolved address, each time."""
    if settings().webhook_allow_loopback and _loopback(url.host or ""):
        return url
    return public_https(url)


WebhookUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=2048), AfterValidator(webhook_url)]
Events = Annotated[list[EventName], Field(min_length=1, max_length=6)]
Description = Annotated[str, Field(max_length=500)]


class CreateWebhook(Strict):
    url: WebhookUrl
    events: Events
    storeSlug: StoreSlug | None = None
    description: Description | None = None
    enabled: bool = True

    def spec(self) -> dict[str, Any]:
        return {**self.model_dump(exclude_none=True), "url": str(self.url)}


class PatchWebhook(Strict):
    """Every field optional; null removes storeSlug or description."""

    url: WebhookUrl | None = None
    events: Events | None = None
    storeSlug: StoreSlug | None = None
    description: Description | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _required_stay(self) -> PatchWebhook:
        for name in ("url", "events", "enabled"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be removed")
        return self

    def changes(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.model_fields_set}
        if out.get("url") is not None:
            out["url"] = str(out["url"])
        return out


class DeliveriesQuery(Strict):
    limit: int = Field(default=25, ge=1, le=100)
    cursor: Cursor | None = None


class Recover(Strict):
    since: Instant
