"""GET /app - the workspace overview: every store the identity may see, with its volume, average
rating, CSAT %, return rate and NPS (each with its 95 % interval) and a sparkline of its volume,
from ``analytics.store_rows`` (the JSON API's GET /api/external/dashboard/stores)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from revisit.domain import analytics
from webapp import auth, charts, period, trends
from webapp.render import interval, num, pct, render

nav = [("Overview", "/app", None)]


def few(count: int, what: str) -> str:
    """The small-sample note of a metric computed from ``count`` answers ("" when enough)."""
    if count == 0:
        return ""
    if count < analytics.MIN_SAMPLE:
        return f"Only {count} {what}{'' if count == 1 else 's'}: a rough figure."
    return ""


def figures(row: dict[str, Any]) -> list[dict[str, str]]:
    """The five metrics of a store row (or the total), in words where there is no number."""
    total = row["totalFeedback"]
    ident = row["identifiedCustomers"]
    nps_n = row["npsResponses"]
    return [
        {"id": "volume", "label": "Feedback", "value": num(total), "ci": "", "note": ""},
        {
            "id": "avg",
            "label": "Average rating",
            "value": f"{num(row['avgRating'], 2)} / 5" if total else "No ratings yet",
            "ci": interval(row["avgRatingCi95"], 2),
            "note": few(total, "rating"),
        },
        {
            "id": "csat",
            "label": "CSAT (4-5 stars)",
            "value": pct(row["csatPercent"]) if total else "No ratings yet",
            "ci": interval(row["csatPercentCi95"], 1, " %"),
            "note": few(total, "rating"),
        },
        {
            "id": "return",
            "label": "Return rate",
            "value": pct(row["returnRate"]) if ident else "No identified customers yet",
            "ci": interval(row["returnRateCi95"], 1, " %"),
            "note": few(ident, "identified customer"),
        },
        {
            "id": "nps",
            "label": "NPS",
            "value": num(row["nps"], 1) if nps_n else "No NPS answers yet",
            "ci": interval(row["npsCi95"], 1),
            "note": few(nps_n, "NPS answer"),
        },
    ]


def spark(me: auth.Identity, slug: str, p: period.Period) -> dict[str, Any]:
    interval_ = trends.pick_interval(p.day_from, p.day_to)
    rows = trends.series(me.principal_for(slug), slug, p.day_from, p.day_to, interval_)
    values = [r["totalFeedback"] for r in rows]
    drawn = values if any(values) else [None] * len(values)  # nothing to draw: the empty line, not zeros
    words = ", ".join(f"{trends.label(r, interval_)}: {r['totalFeedback']}" for r in rows)
    desc = f"Feedback per {interval_}: {words}." if any(values) else "No feedback in this period."
    return {"svg": charts.sparkline(f"spark-{slug}", drawn, f"Feedback per {interval_}", desc), "desc": desc}


async def overview(request: Request) -> Response:
    me = auth.current(request)
    p = period.parse(request)
    data = analytics.store_rows(me.principal, p.day_from, p.day_to)
    stores = [r for r in data["stores"] if me.can_see(r["storeSlug"])]
    cards = [{"row": r, "figures": figures(r), "spark": spark(me, r["storeSlug"], p)} for r in stores]
    total = data["total"] if me.stores is None and data["total"] else None
    return render(
        request,
        "overview.html",
        {
            "period": p,
            "presets": period.PRESETS,
            "cards": cards,
            "total": total,
            "total_figures": figures(total) if total else [],
        },
    )


routes = [Route("/app", overview, methods=["GET"])]
