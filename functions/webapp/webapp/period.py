"""The period picker: ``?days=7|30|90|365`` (ending today) or ``?from=YYYY-MM-DD&to=YYYY-MM-DD``,
checked by the domain's own rule (analytics.resolve_period: whole UTC days, at most 366)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from starlette.requests import Request

from revisit import errors
from revisit.domain import analytics

PRESETS = (7, 30, 90, 365)


@dataclass(frozen=True)
class Period:
    day_from: date
    day_to: date
    days: int
    preset: int | None  # the preset chosen, if one
    error: str | None = None  # what was wrong with the dates asked for (the default is shown)

    @property
    def query(self) -> dict[str, str]:
        if self.preset:
            return {"days": str(self.preset)}
        return {"from": self.day_from.isoformat(), "to": self.day_to.isoformat()}

    @property
    def words(self) -> str:
        return f"{self.day_from:%d %b %Y} to {self.day_to:%d %b %Y} ({self.days} days, UTC)"


def today() -> date:
    return datetime.now(UTC).date()


def _default(error: str | None = None) -> Period:
    end = today()
    return Period(end - timedelta(days=29), end, 30, 30, error)


def parse(request: Request) -> Period:
    q = request.query_params
    if q.get("from") or q.get("to"):
        try:
            lo = date.fromisoformat(q["from"]) if q.get("from") else None
            hi = date.fromisoformat(q["to"]) if q.get("to") else None
        except ValueError:
            return _default("Dates must be written YYYY-MM-DD; showing the last 30 days.")
        try:
            start, end = analytics.resolve_period(lo, hi, today())
        except errors.ValidationFailed as exc:
            message = exc.details[0]["message"] if exc.details else exc.message
            return _default(f"That period cannot be shown ({message}); showing the last 30 days.")
        return Period(start, end, (end - start).days + 1, None)
    days = q.get("days")
    if days:
        if days not in {str(p) for p in PRESETS}:
            return _default(f"Choose {', '.join(map(str, PRESETS))} days or two dates; showing the last 30 days.")
        end = today()
        return Period(end - timedelta(days=int(days) - 1), end, int(days), int(days))
    return _default()
