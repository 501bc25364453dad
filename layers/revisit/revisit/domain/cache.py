"""A small time-to-live cache for one container (credentials, stores, NPS shop configuration).

Entries live ``seconds`` from when they were put (``time.monotonic``); a full cache is emptied
rather than evicted entry by entry - the sets are small and a miss costs one read.
"""

from __future__ import annotations

import time
from typing import Any

MISSING: Any = object()


class TtlCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any:
        """The live value of ``key``, else :data:`MISSING` (a cached value may be None)."""
        hit = self._entries.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return MISSING

    def put(self, key: Any, value: Any, seconds: float) -> None:
        if seconds <= 0:
            return
        if len(self._entries) > self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + seconds, value)

    def pop(self, key: Any) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
