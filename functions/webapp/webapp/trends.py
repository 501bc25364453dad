"""Trends over time for the charts: one row per period ("bucket") of a store, from
``revisit.domain.analytics.series`` - the JSON API's own GET /api/external/dashboard/series -
in the store's local calendar (days, weeks from Monday, months)."""

from __future__ import annotations

from datetime import date
from typing import Any

from revisit.domain import analytics
from revisit.domain.auth import Principal


def pick_interval(day_from: date, day_to: date) -> str:
    days = (day_to - day_from).days + 1
    return "day" if days <= 31 else "week" if days <= 190 else "month"


def rows_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """analytics.series' buckets, flattened for the templates."""
    return [
        {
            "from": b["start"],
            "to": b["end"],
            "totalFeedback": b["count"],
            "avgRating": b["avgRating"],
            "firstVisits": b["firstVisit"]["count"],
            "firstAvg": b["firstVisit"]["avgRating"],
            "returnVisits": b["returnVisit"]["count"],
            "returnAvg": b["returnVisit"]["avgRating"],
            "npsResponses": b["nps"]["responses"],
            "nps": b["nps"]["score"],
        }
        for b in answer["buckets"]
    ]


def series(principal: Principal, slug: str, day_from: date, day_to: date, interval: str) -> list[dict[str, Any]]:
    return rows_of(analytics.series(principal, slug, day_from, day_to, interval))


def label(row: dict[str, Any], interval: str) -> str:
    lo = date.fromisoformat(row["from"][:10])
    if interval == "month":
        return lo.strftime("%b %Y")
    if interval == "week":
        return "wk " + lo.strftime("%d %b")
    return lo.strftime("%d %b")
