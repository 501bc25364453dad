"""What the customer is offered after answering: a public review link, or nothing.

The store's ``reviewPrompt`` (``{"minRating": 4|5, "url": ...}``) offers its URL after a rating
at or above ``minRating``. For a tracker's link, the survey's ``newReviewLink`` (copied onto the
tracker) comes first, offered from the same ``minRating`` or, when the store set none, from 4
stars (the CSAT threshold).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from revisit.dal import trackers as trackers_dal

DEFAULT_MIN_RATING = 4


def review_url(store: Mapping[str, Any] | None, token: Mapping[str, Any], rating: int) -> str | None:
    """The review link to offer after ``rating`` on ``token``'s link, or None."""
    prompt = (store or {}).get("reviewPrompt") or {}
    if rating < int(prompt.get("minRating") or DEFAULT_MIN_RATING):
        return None
    if token.get("trackerId"):
        tracker = trackers_dal.get(str(token["trackerId"])) or {}
        if tracker.get("newReviewLink"):
            return str(tracker["newReviewLink"])
    return prompt.get("url") or None
