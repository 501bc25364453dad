"""Opaque page cursors: a query's LastEvaluatedKey, checked on the way back in.

A cursor only ever continues the query it came from: its partition key must be the one of the
query it is given to, and it may name key attributes only - so a cursor can never reach into
another workspace's partition.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from revisit.dal import keys
from revisit.dal.errors import BadCursor

# gsi4 (the scheduler's due index) is never paged by a cursor.
_KEY_ATTRIBUTES = {keys.PK, keys.SK, *(k for k in keys.INDEX_KEYS if not k.startswith(keys.GSI4))}


def encode(last_key: dict[str, Any]) -> str:
    plain = {k: next(iter(v.values())) for k, v in last_key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str, pk_attr: str, pk_value: str) -> dict[str, Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise BadCursor("cursor is not one this API issued") from None
    if (
        not isinstance(raw, dict)
        or not set(raw) <= _KEY_ATTRIBUTES
        or not all(isinstance(v, str) for v in raw.values())
    ):
        raise BadCursor("cursor is not one this API issued")
    if raw.get(pk_attr) != pk_value:
        raise BadCursor("cursor does not belong to this search")
    return {k: {"S": v} for k, v in raw.items()}
