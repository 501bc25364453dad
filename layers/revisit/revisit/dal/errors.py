"""The data layer's exceptions: what went wrong in the domain's words, never a transaction position.

Every conditional write that finds an item in another state raises a subclass of
:class:`ConditionFailed` that names the condition (the store does not exist, the token is no
longer open, ...); which item of which transaction it was stays inside the data layer.
"""

from __future__ import annotations


class ConditionFailed(Exception):
    """A conditional write (or one item of a transaction) found the item in another state.

    ``reasons`` holds one code per transaction item (``None`` where that item was fine); only the
    data layer reads it, to raise the named subclass the domain catches.
    """

    def __init__(self, reasons: list[str | None] | None = None) -> None:
        super().__init__("condition failed")
        self.reasons = reasons or []

    def failed_at(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


class UnknownStore(ConditionFailed):
    """The store a new record belongs to does not exist."""


class UnknownWorkspace(ConditionFailed):
    """The workspace a new record belongs to does not exist."""


class AlreadyExists(ConditionFailed):
    """An item that must be new exists already (a slug, a code, an id)."""


class NoSuchItem(ConditionFailed):
    """The item to update does not exist."""


class AlreadyRevoked(ConditionFailed):
    """The credential was revoked already."""


class TokenNotOpen(ConditionFailed):
    """The token was used up, expired or closed since it was read."""


class IdempotencyKeyReused(ConditionFailed):
    """An unexpired idempotency record exists for this key."""


class AlreadyApplied(ConditionFailed):
    """The source record's marker exists: its effects are in the aggregates already."""


class Contention(ConditionFailed):
    """The customer state changed since it was read (or a concurrent transaction held an item)."""


class BadCursor(ValueError):
    """A page cursor this API did not issue, or one of another search."""


class InvalidRecord(ValueError):
    """A stream record of a counted type without the fields it needs (logged, never retried)."""

    def __init__(self, message: str, record_id: object = None) -> None:
        super().__init__(message)
        self.record_id = record_id
