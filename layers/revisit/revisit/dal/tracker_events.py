"""Table stream images of trackers -> the SurveyCompleted integration event.

For ``functions/integration_events``, which may read the stream and put events but not touch the
table: this module imports nothing that creates a DynamoDB client (no ``revisit.dal.table``, no
domain module) and works on the images Powertools' ``DynamoDBRecord`` has deserialised already.

``SEED_FIELDS`` mirrors ``revisit.domain.trackers.SEED_FIELDS`` (the seed's tracker shape); a
unit test holds the two, and ``event_detail`` to ``trackers.view``, together.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from revisit.dal import keys

TRACKER_TYPE = "tracker"  # the value of the item-type attribute (keys.TYPE) on a tracker
COMPLETED = "completed"
SEED_FIELDS = (
    "id", "createdAt", "updatedAt", "surveyId", "surveyName", "sendAt", "sentAt", "resendAt", "resent",
    "sendingIndex", "customerId", "purchaseId", "sendingType", "status", "link", "newReviewLink", "sentTo",
    "switchedToSms", "clicks", "uniqueClicks",
)  # fmt: skip


def plain_value(value: Any) -> Any:
    """A stream image's value in plain Python: Decimals as int/float, sets as sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_value(v) for v in value]
    if isinstance(value, set):
        return sorted(plain_value(v) for v in value)
    return value


def completed(new_image: dict[str, Any] | None, old_image: dict[str, Any] | None) -> dict[str, Any] | None:
    """The tracker (its seed fields, ``workspaceId`` and ``storeSlug``, plain numbers) when this
    stream record is a tracker turning ``completed``; None for any other record."""
    new, old = new_image or {}, old_image or {}
    if new.get(keys.TYPE) != TRACKER_TYPE or new.get("status") != COMPLETED or old.get("status") == COMPLETED:
        return None
    record = {k: plain_value(new.get(k)) for k in SEED_FIELDS}
    record["workspaceId"], record["storeSlug"] = new["workspaceId"], new["storeSlug"]
    return record


def event_id(tracker_id: str) -> str:
    """The completion's id: one per tracker (a tracker completes once), the same in every retry."""
    return f"SurveyCompleted/{tracker_id}"


def event_detail(tracker: dict[str, Any]) -> dict[str, Any]:
    """The SurveyCompleted detail: ``eventId`` first, then the tracker as the seed shows it."""
    return {"eventId": event_id(tracker["id"]), **tracker}
