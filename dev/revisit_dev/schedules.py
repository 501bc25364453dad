"""Fire the template's ``Schedule`` / ``ScheduleV2`` events, as EventBridge would.

``rate(...)`` and the usual ``cron(...)`` fields (numbers, names, ``*``, ``?``, ranges, lists and
steps) are understood; a cron expression using ``L``, ``W`` or ``#`` fires every minute instead,
with a warning. ``REVISIT_SCHEDULE_SECONDS`` replaces every schedule by that period.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from revisit_dev.template import ACCOUNT_ID, ScheduleEvent

log = logging.getLogger(__name__)

Invoke = Callable[[str, dict[str, Any]], Any]

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_MONTHS = {
    m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}


def rate_seconds(expression: str) -> int | None:
    """Seconds between firings of ``rate(N unit)``; None if ``expression`` is not a rate."""
    m = re.fullmatch(r"rate\(\s*(\d+)\s+(\w+)\s*\)", expression.strip())
    if not m:
        return None
    if m.group(2) not in _UNITS:
        raise ValueError(f"{expression}: unit must be minute(s), hour(s) or day(s)")
    return int(m.group(1)) * _UNITS[m.group(2)]


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int] | None:
    """One cron field -> the set of values it allows; None for ``*`` / ``?`` (anything)."""
    if text in ("*", "?"):
        return None

    def value(token: str) -> int:
        if names and token in names:
            return names[token]
        if not token.isdigit():
            raise ValueError(f"cron field {text!r}: {token!r} is not supported locally (L, W and # are not)")
        return int(token)

    out: set[int] = set()
    for part in text.upper().split(","):
        base, _, step = part.partition("/")
        first, _, last = base.partition("-")
        start = low if base == "*" else value(first)
        end = value(last) if last else (high if step or base == "*" else start)
        out.update(range(start, end + 1, int(step or 1)))
    return frozenset(out)


@dataclass(frozen=True)
class Cron:
    """An EventBridge cron expression: minutes hours day-of-month month day-of-week year."""

    minutes: frozenset[int] | None
    hours: frozenset[int] | None
    days: frozenset[int] | None
    months: frozenset[int] | None
    weekdays: frozenset[int] | None  # 1 = Sunday ... 7 = Saturday
    years: frozenset[int] | None
    zone: str = "UTC"

    @classmethod
    def parse(cls, expression: str, zone: str = "UTC") -> Cron:
        m = re.fullmatch(r"cron\((.*)\)", expression.strip())
        fields = m.group(1).split() if m else []
        if len(fields) != 6:
            raise ValueError(f"{expression}: a cron expression has 6 fields")
        return cls(
            _field(fields[0], 0, 59),
            _field(fields[1], 0, 23),
            _field(fields[2], 1, 31),
            _field(fields[3], 1, 12, _MONTHS),
            _field(fields[4], 1, 7, _DAYS),
            _field(fields[5], 1970, 2199),
            zone,
        )

    def next_after(self, after: datetime) -> datetime:
        """The first firing strictly after ``after`` (an aware datetime), in UTC."""
        tz = ZoneInfo(self.zone)
        local = after.astimezone(tz)
        day = local.date()
        for _ in range(366 * 5):
            weekday = (day.weekday() + 1) % 7 + 1
            if all(
                allowed is None or value in allowed
                for allowed, value in (
                    (self.days, day.day),
                    (self.months, day.month),
                    (self.weekdays, weekday),
                    (self.years, day.year),
                )
            ):
                for hour in sorted(self.hours or range(24)):
                    for minute in sorted(self.minutes or range(60)):
                        at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                        if at > local:
                            return at.astimezone(UTC)
            day += timedelta(days=1)
        raise ValueError("the cron expression never fires")


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
        self.period: float | None = override_seconds
        self.cron: Cron | None = None
        if self.period is None:
            self.period = rate_seconds(event.expression)
        if self.period is None:
            try:
                self.cron = Cron.parse(event.expression, event.timezone)
            except ValueError as exc:
                log.warning("%s.%s: %s; firing it every minute instead", function, event.event, exc)
                self.period = 60

    def next_after(self, now: datetime) -> datetime:
        if self.cron is not None:
            return self.cron.next_after(now)
        return now + timedelta(seconds=self.period or 60)


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
            log.exception("%s: scheduled invocation failed", name)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
