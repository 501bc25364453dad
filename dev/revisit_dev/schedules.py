"""Fire the template's ``Schedule`` events, as EventBridge rules would.

The template schedules with ``rate(...)`` only, so that is all this understands; a ``cron(...)``
expression stops the start (revisit_dev.template). ``REVISIT_SCHEDULE_SECONDS`` replaces every
rate by that period (the tests tick every second).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from revisit_dev.template import ACCOUNT_ID, ScheduleEvent

log = logging.getLogger(__name__)

Invoke = Callable[[str, dict[str, Any]], Any]

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def rate_seconds(expression: str) -> int:
    """Seconds between firings of ``rate(N unit)``."""
    m = re.fullmatch(r"rate\(\s*(\d+)\s+(\w+)\s*\)", expression.strip())
    if not m or m.group(2) not in _UNITS or int(m.group(1)) < 1:
        raise ValueError(f"{expression}: the local stack emulates rate(N minute(s)|hour(s)|day(s)) schedules only")
    return int(m.group(1)) * _UNITS[m.group(2)]


def scheduled_event(function: str, event: ScheduleEvent, at: datetime, region: str, stack: str) -> dict[str, Any]:
    """The event EventBridge sends (or the template's Input instead)."""
    if event.input is not None:
        return json.loads(event.input)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{stack}-{function}{event.event}"],
        "detail": {},
    }


class Timer:
    """When one schedule fires next."""

    def __init__(self, function: str, event: ScheduleEvent, override_seconds: float | None = None) -> None:
        self.function = function
        self.event = event
        self.period: float = override_seconds if override_seconds is not None else rate_seconds(event.expression)

    def next_after(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.period)


class Scheduler:
    """A thread that invokes functions when their schedules are due (each in its own thread)."""

    def __init__(
        self,
        timers: list[Timer],
        invoke: Invoke,
        region: str = "us-east-1",
        stack: str = "revisit-local",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.timers = timers
        self.invoke = invoke
        self.region = region
        self.stack = stack
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._due: dict[int, datetime] = {}

    def start(self) -> None:
        now = self.clock()
        self._due = {i: t.next_after(now) for i, t in enumerate(self.timers)}
        for timer, due in zip(self.timers, self._due.values(), strict=True):
            log.info("%s.%s (%s): next at %s", timer.function, timer.event.event, timer.event.expression, due)
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._due:
            wait = (min(self._due.values()) - self.clock()).total_seconds()
            if self._stop.wait(max(0.0, min(wait, 1.0))):
                return
            self.fire_due()

    def fire_due(self, background: bool = True) -> list[dict[str, Any]]:
        """Invoke every timer whose time has come; returns the events sent."""
        now = self.clock()
        sent = []
        for i, timer in enumerate(self.timers):
            due = self._due.get(i)
            if due is None or due > now:
                continue
            event = scheduled_event(timer.function, timer.event, due, self.region, self.stack)
            self._due[i] = timer.next_after(max(now, due))
            sent.append(event)
            if background:
                threading.Thread(target=self._invoke, args=(timer, event), daemon=True).start()
            else:
                self._invoke(timer, event)
        return sent

    def _invoke(self, timer: Timer, event: dict[str, Any]) -> None:
        name = f"{timer.function}.{timer.event.event}"
        try:
            self.invoke(timer.function, event)
            log.info("%s: scheduled invocation done", name)
        except Exception:
            # the function's own traceback is in its log; here one line says what failed
            log.error("%s: scheduled invocation failed: %s", name, sys.exc_info()[1])

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
