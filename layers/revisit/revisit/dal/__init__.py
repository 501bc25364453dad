"""Data access: one module per aggregate behind the single table.

Only this package knows key names, index names and boto3. It hands plain dicts and dataclasses
to the domain and raises the exceptions below instead of botocore's.
"""

from __future__ import annotations


class ConditionFailed(Exception):
    """A conditional write (or one item of a transaction) found the item in another state.

    ``reasons`` holds one code per transaction item (``None`` where that item was fine), so the
    caller can tell which condition failed without seeing a botocore exception.
    """

    def __init__(self, reasons: list[str | None] | None = None) -> None:
        super().__init__("condition failed")
        self.reasons = reasons or []

    def failed_at(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"
