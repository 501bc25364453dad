"""The inbox's workflow rules, with no dependency (the request models import them too): statuses,
limits, and how a tag is normalised."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_NOTES", "MAX_TAGS", "NOTE_MAX_CHARS", "STATUSES", "TAG_MAX_CHARS", "normalise_tag", "normalise_tags"]

STATUSES = ("new", "in_progress", "resolved")
MAX_NOTES = 100  # internal notes kept per answer (a PATCH adding one more is a 400 naming `note`)
NOTE_MAX_CHARS = 2_000
MAX_TAGS = 20
TAG_MAX_CHARS = 40
_TAG_SPACES = re.compile(r"[\s_-]+")
_TAG_ALLOWED = re.compile(r"^[^\W_](?:[\w-]*[^\W_])?$")  # letters and digits, '-' inside


def normalise_tag(text: str) -> str:
    """A tag as stored and matched: NFKC, lower case, spaces and '_' as one '-'; 1-40 letters,
    digits and inner '-' (ValueError otherwise). "Late Delivery" and "late_delivery" are one tag."""
    tag = _TAG_SPACES.sub("-", unicodedata.normalize("NFKC", text).strip().casefold()).strip("-")
    if not tag:
        raise ValueError("a tag must not be empty")
    if len(tag) > TAG_MAX_CHARS:
        raise ValueError(f"a tag has at most {TAG_MAX_CHARS} characters ({tag[:50]!r} has {len(tag)})")
    if not _TAG_ALLOWED.match(tag):
        raise ValueError(f"a tag is letters, digits and '-' ({tag[:50]!r} is not)")
    return tag


def normalise_tags(tags: list[str]) -> list[str]:
    """The set of tags, normalised, sorted; at most MAX_TAGS (ValueError otherwise)."""
    out = sorted({normalise_tag(t) for t in tags})
    if len(out) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return out
