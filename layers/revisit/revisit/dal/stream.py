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
