"""Table stream records -> the typed records a stream consumer works with.

Only this module knows how a stream record looks: the event name, the item type attribute and
the numbers boto3 (or Powertools) hands over as ``Decimal``. A consumer gets a
:class:`Response` (a customer's answer: a feedback record or an NPS review) or None for every
other record, and :class:`~revisit.dal.errors.InvalidRecord` for a response that lacks the fields
it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from revisit.dal import keys
from revisit.dal.errors import InvalidRecord
from revisit.dal.tracker_events import SEED_FIELDS, plain_value

FEEDBACK = "feedback"
NPS_REVIEW = "nps_review"


@dataclass(frozen=True)
class Response:
    """A customer's answer as stored: a 1-5 star feedback ``rating`` or a 1-10 NPS ``rate``
    (``score``), with an NPS review's channel and category. Ranges are the consumer's rules."""

    source: str  # FEEDBACK | NPS_REVIEW
    id: str
    workspace_id: str
    store_slug: str
    civ: str | None
    created_at: str  # as stored (ISO text)
    score: int
    channel: str | None = None
    category: str | None = None


def _text(image: Mapping[str, Any], name: str) -> str:
    value = image.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRecord(f"{name} is missing or not text", image.get("id"))
    return value


def _whole(image: Mapping[str, Any], name: str) -> int:
    value = image.get(name)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InvalidRecord(f"{name} is not a number", image.get("id"))
    if isinstance(value, Decimal) and (not value.is_finite() or value != value.to_integral_value()):
        raise InvalidRecord(f"{name} is not a whole number", image.get("id"))
    return int(value)


def _civ(image: Mapping[str, Any]) -> str | None:
    civ = image.get("civ")
    if civ is not None and (not isinstance(civ, str) or not civ):
        raise InvalidRecord("civ is not text", image.get("id"))
    return civ


def inserted_response(event_name: str | None, image: Mapping[str, Any] | None) -> Response | None:
    """The response a stream record inserted, or None (a modify, a remove, another item type).

    ``image`` is the record's new image as plain Python values (numbers as Decimal or int).
    """
    if event_name != "INSERT" or not image:
        return None
    kind = image.get(keys.TYPE)
    if kind == FEEDBACK:
        return Response(
            source=FEEDBACK,
            id=_text(image, "id"),
            workspace_id=_text(image, "workspaceId"),
            store_slug=_text(image, "storeSlug"),
            civ=_civ(image),
            created_at=_text(image, "createdAt"),
            score=_whole(image, "rating"),
        )
    if kind == NPS_REVIEW:
        return Response(
            source=NPS_REVIEW,
            id=str(_whole(image, "id")),
            workspace_id=_text(image, "workspaceId"),
            store_slug=_text(image, "storeSlug"),
            civ=_civ(image),
            created_at=_text(image, "createdAt"),
            score=_whole(image, "rate"),
            channel=_text(image, "channel"),
            category=_text(image, "category"),
        )
    return None


# ------------------------------------------------------------------ webhook sources
# What the webhook fan-out (functions/integration_events) reads from the stream. Like the rest of
# this module it creates no client: the fan-out reads the endpoints through revisit.dal.webhooks.

TRACKER = "tracker"
CUSTOMER = "agg_customer"  # a customer's loyalty state (revisit.dal.analytics.TYPE_CUSTOMER)
TRACKER_EVENTS = ("sent", "completed", "failed")  # the tracker statuses that are webhook events
# What an NPS review event carries (what GET /nps/reviews returns, named as our API names it); a
# feedback event carries what the search returns (revisit.domain.webhooks projects it).
NPS_FIELDS = ("id", "storeSlug", "client", "rate", "channel", "category", "comment", "createdAt")


@dataclass(frozen=True)
class ItemEvent:
    """An event a record is: ``key`` is the same in every retry of the record (one per event)."""

    type: str  # feedback.created | nps.created | tracker.sent | tracker.completed | tracker.failed
    key: str
    workspace_id: str
    store_slug: str | None
    occurred_at: str  # ISO text, as stored
    data: dict[str, Any]


@dataclass(frozen=True)
class CustomerChange:
    """A customer's loyalty state before and after one visit (the domain decides what it means)."""

    workspace_id: str
    store_slug: str
    civ: str
    before: dict[str, Any] | None
    after: dict[str, Any]


def webhook_source(
    event_name: str | None, new_image: Mapping[str, Any] | None, old_image: Mapping[str, Any] | None
) -> ItemEvent | CustomerChange | None:
    """The webhook event of a stream record, a customer-state change, or None (every other record,
    and imported history: an item marked ``imported: true`` never fires an event)."""
    new, old = dict(new_image or {}), dict(old_image or {})
    if not new or new.get("imported") is True or event_name not in ("INSERT", "MODIFY"):
        return None
    kind = new.get(keys.TYPE)
    if kind == FEEDBACK and event_name == "INSERT":
        data = {k: plain_value(v) for k, v in new.items() if k not in keys.HIDDEN and v is not None}
        return ItemEvent("feedback.created", f"feedback.created/{_text(new, 'id')}", _text(new, "workspaceId"),
                         _text(new, "storeSlug"), _text(new, "createdAt"), data)  # fmt: skip
    if kind == NPS_REVIEW and event_name == "INSERT":
        data = {k: plain_value(new[k]) for k in NPS_FIELDS if new.get(k) is not None}
        ws, store = _text(new, "workspaceId"), _text(new, "storeSlug")
        key = f"nps.created/{store}/{_whole(new, 'id')}"
        return ItemEvent("nps.created", key, ws, store, _text(new, "createdAt"), data)
    if kind == TRACKER:
        status = new.get("status")
        if status not in TRACKER_EVENTS or old.get("status") == status:
            return None
        data = {k: plain_value(new.get(k)) for k in SEED_FIELDS} | {"storeSlug": new.get("storeSlug")}
        at = str(new.get("updatedAt") or new.get("createdAt") or "")
        tracker_id = _text(new, "id")
        return ItemEvent(f"tracker.{status}", f"tracker.{status}/{tracker_id}", _text(new, "workspaceId"),
                         new.get("storeSlug"), at, data)  # fmt: skip
    if kind == CUSTOMER and event_name == "MODIFY" and isinstance(new.get("civ"), str):
        return CustomerChange(
            workspace_id=_text(new, "workspaceId"),
            store_slug=_text(new, "storeSlug"),
            civ=new["civ"],
            before={k: plain_value(v) for k, v in old.items() if k not in keys.HIDDEN} if old else None,
            after={k: plain_value(v) for k, v in new.items() if k not in keys.HIDDEN},
        )
    return None
