"""GET /app/stores/{slug}/trackers - a store's survey trackers: scheduled -> sent -> clicked ->
completed, and the response rate per survey, attempt and channel. The counts are the tracker
report's (``revisit.domain.reports.report``, what GET /api/external/trackers/report answers);
"scheduled" is the store's trackers still waiting for their send among the latest ones of the
period (``trackers.list_trackers``, the partner list's own function). /app/trackers goes to the
first store the identity may see."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from revisit.domain import reports, trackers, workspaces
from revisit.domain.util import iso
from webapp import auth, period
from webapp.render import not_found, num, pct, redirect, render

WAITING = ("scheduled", "ready")  # created, their send not made yet
SCHEDULED_PAGES = 3  # at most 300 trackers read to count those waiting (the page says when more)


def attempt_words(index: int) -> str:
    return "First send" if index == 0 else f"Reminder {index}"


def _rate(value: float | None, sent: int | None) -> str:
    if sent is None:
        return "Not sent by Revisit (a partner's links)"
    if not sent:
        return "Nothing sent yet"
    return pct(value)


def _waiting(principal: Any, slug: str, p: period.Period) -> tuple[int, bool]:
    """(trackers waiting to be sent among the latest of the period, whether there are more)."""
    lo = iso(datetime.combine(p.day_from, time.min, tzinfo=UTC))
    hi = iso(datetime.combine(p.day_to, time.max, tzinfo=UTC))
    count, more = 0, False
    for page in range(1, SCHEDULED_PAGES + 1):
        answer = trackers.list_trackers(principal, 100, page, lo, hi, None, None, slug)
        count += sum(1 for t in answer["items"] if t.get("status") in WAITING)
        more = bool(answer.get("hasMore"))
        if not more:
            break
    return count, more


async def trackers_page(request: Request) -> Response:
    me = auth.current(request)
    slug = request.path_params["slug"]
    if not me.can_see(slug):
        return not_found(request)
    principal = me.principal_for(slug)
    p = period.parse(request)
    report = reports.report(principal, slug, p.day_from, p.day_to)  # an unknown store: the 404 page
    store = workspaces.cached_store(me.workspace_id, slug) or {}
    waiting, more = _waiting(principal, slug, p)
    rows = [
        {
            **r,
            "survey": r["surveyName"] or r["surveyId"],
            "attempt": attempt_words(r["sendingIndex"]),
            "sent_text": "—" if r["sent"] is None else num(r["sent"]),
            "rate": _rate(r["responseRate"], r["sent"]),
        }
        for r in report["rows"]
    ]
    total = report["total"]
    return render(
        request,
        "trackers.html",
        {
            "slug": slug,
            "name": store.get("name") or slug,
            "period": p,
            "presets": period.PRESETS,
            "rows": rows,
            "total": total,
            "total_rate": _rate(total["responseRate"], total["sent"]),
            "waiting": waiting,
            "waiting_more": more,
        },
    )


async def first_store(request: Request) -> Response:
    me = auth.current(request)
    stores = [s["slug"] for s in workspaces.list_stores(me.workspace_id) if me.can_see(s["slug"])]
    if not stores:
        return not_found(request)
    return redirect(request, f"/app/stores/{stores[0]}/trackers")


routes = [
    Route("/app/stores/{slug}/trackers", trackers_page, methods=["GET"]),
    Route("/app/trackers", first_store, methods=["GET"]),
]
nav = [("Trackers", "/app/trackers", None)]
