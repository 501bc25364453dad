"""Small shared helpers of the domain: clocks, identifiers, secrets and hashes."""

from __future__ import annotations

import hashlib
import secrets
import string
import uuid
from datetime import UTC, datetime

_ALPHABET = string.ascii_letters + string.digits


def now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """UTC timestamp with millisecond precision and a Z: sortable as a string (naive = UTC). The
    year always has four digits (``0001-01-01T...``; strftime's %Y gives ``1`` on Linux)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    return f"{dt.year:04d}-" + dt.strftime("%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """An ISO timestamp (naive = UTC). ValueError also for an instant whose UTC time falls outside
    years 1-9999 (``0001-01-01T00:00:00+01:00``), which every later conversion would overflow on."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    try:
        dt.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range: its UTC time must fall in years 1-9999") from None
    return dt


def random_base62(length: int) -> str:
    """``length`` characters of base62 from the OS CSPRNG (5.95 bits each): one uniform number
    below 62**length (one read of the CSPRNG), written in base 62."""
    n = secrets.randbelow(62**length)
    chars = []
    for _ in range(length):
        n, digit = divmod(n, 62)
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def new_id() -> str:
    return str(uuid.uuid4())


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def iso_or_none(dt: datetime | None) -> str | None:
    """:func:`iso` of a timestamp that may be absent (an optional query parameter)."""
    return iso(dt) if dt else None
