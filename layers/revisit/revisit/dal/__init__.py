"""Data access: one module per aggregate behind the single table.

Only this package knows key names, attribute names of keys and TTLs, index names and boto3. It
hands plain records (dicts without key attributes, numbers as int/float) and dataclasses to the
domain and raises the named exceptions of :mod:`revisit.dal.errors` instead of botocore's.
"""

from __future__ import annotations

from revisit.dal.errors import (
    AlreadyApplied,
    AlreadyExists,
    AlreadyRevoked,
    BadCursor,
    ConditionFailed,
    Contention,
    IdempotencyKeyReused,
    InvalidRecord,
    NoSuchItem,
    TokenNotOpen,
    UnknownStore,
    UnknownWorkspace,
)

__all__ = [
    "AlreadyApplied",
    "AlreadyExists",
    "AlreadyRevoked",
    "BadCursor",
    "ConditionFailed",
    "Contention",
    "IdempotencyKeyReused",
    "InvalidRecord",
    "NoSuchItem",
    "TokenNotOpen",
    "UnknownStore",
    "UnknownWorkspace",
]
