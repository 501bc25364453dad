"""Clicks on a tracker's link: counted per visitor (a keyed hash, never the raw IP or user agent)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from revisit import hashing
from revisit.dal import trackers as dal
from revisit.domain import reports, tokens
from revisit.domain.util import iso, now

VISITOR_MEMORY = timedelta(days=90)  # a visitor counts as unique again after this
# A tracker's link is one customer's: a few devices and forwards are real, hundreds of "unique
# visitors" are a scanner or an abuser. Past this many, clicks are still counted, without a marker.
MAX_UNIQUE_VISITORS = 20
FIRST_CLICK_FROM = ("sent", "ready")  # the states a first click opens (and the report counts)


def record_click(token_value: str, visitor_fingerprint: str) -> dict[str, Any] | None:
    """Count a click on a tracker link (by a keyed hash of the visitor - its address - never the
    raw IP; at most MAX_UNIQUE_VISITORS visitor markers a link); returns
    the token so the caller can redirect to its survey page, or None for an unknown token. The
    tracker's first click also counts as ``clicked`` in the tracker report, once."""
    token = tokens.lookup(token_value)
    if token is None:
        return None
    tracker_id = token.get("trackerId")
    if tracker_id:
        at = now()
        tracker = dal.get(tracker_id)
        visitor = hashing.keyed_hash(f"{tracker_id}|{visitor_fingerprint}")
        if tracker and int(tracker.get("uniqueClicks") or 0) >= MAX_UNIQUE_VISITORS:
            visitor = None  # bounded: no more visitor markers for this link
        first_click = None
        if tracker and tracker.get("status") in FIRST_CLICK_FROM:
            first_click = reports.count(tracker, "clicked")  # on the day of the send it follows
        dal.record_click(
            tracker_id,
            visitor,
            iso(at),
            int((at + VISITOR_MEMORY).timestamp()),
            first_click_report=first_click,
            sending_index=int(tracker.get("sendingIndex") or 0) if tracker else None,
        )
    return token
