"""Clicks on a tracker's link: counted per visitor (a keyed hash, never the raw IP or user agent)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from revisit import hashing
from revisit.dal import trackers as dal
from revisit.domain import reports, tokens
from revisit.domain.cache import MISSING, TtlCache
from revisit.domain.util import iso, now

VISITOR_MEMORY = timedelta(days=90)  # a visitor counts as unique again after this
# A tracker's link is one customer's: a few devices and forwards are real, hundreds of "unique
# visitors" are a scanner or an abuser. Past this many, clicks are still counted, without a marker.
MAX_UNIQUE_VISITORS = 20
FIRST_CLICK_FROM = ("sent", "ready")  # the states a first click opens (and the report counts)
# Per token and container (issue 18 part 4): a link clicked faster than this is a script. Past it,
# within the minute, a click still redirects but writes nothing (1 GetItem of the token instead of
# 3-4 calls with a transaction): a flood on one link cannot turn into writes.
CLICKS_PER_TOKEN_PER_MINUTE = 30
_recent = TtlCache(max_entries=4096)  # token -> (minute, clicks counted in it here)
_wall = time.time  # tests move it


def _within_rate(token_value: str) -> bool:
    minute = int(_wall() // 60)
    hit = _recent.get(token_value)
    counted = hit[1] if hit is not MISSING and hit[0] == minute else 0
    if counted >= CLICKS_PER_TOKEN_PER_MINUTE:
        return False
    _recent.put(token_value, (minute, counted + 1), 120)
    return True


def record_click(token_value: str, visitor_fingerprint: str) -> dict[str, Any] | None:
    """Count a click on a tracker link (by a keyed hash of the visitor - its address - never the
    raw IP; at most MAX_UNIQUE_VISITORS visitor markers a link); returns
    the token so the caller can redirect to its survey page, or None for an unknown token. The
    tracker's first click also counts as ``clicked`` in the tracker report, once."""
    token = tokens.lookup(token_value)
    if token is None:
        return None
    tracker_id = token.get("trackerId")
    if tracker_id and _within_rate(token_value):
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
