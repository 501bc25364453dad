"""GET /app/stores/{slug} - a store's loyalty dashboard: period picker; first vs return visits
side by side; the loyalty signal in words (delta and interval); the customers growing
dissatisfied, each linking to their feedback; the rating distribution; trends over time; NPS by
channel and category. The numbers are ``analytics.dashboard``, ``analytics.nps_score`` and the
series (webapp.trends) - the JSON API's own answers. A store the identity may not see: 404."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from revisit.domain import analytics, workspaces
from revisit.domain.auth import Principal
from webapp import auth, charts, period, trends
from webapp.pages.overview import few
from webapp.render import interval, not_found, num, pct, render, signed

VOLUME_BARS = 12  # the volume chart's bars (the table under it has every period)


def visits(block: dict[str, Any], what: str) -> dict[str, Any]:
    n = block["count"]
    return {
        "count": n,
        "avg": f"{num(block['avgRating'], 2)} / 5" if n else f"No {what} visits in this period",
        "avg_ci": interval(block["avgRatingCi95"], 2),
        "csat": pct(block["csatPercent"]) if n else "—",
        "csat_ci": interval(block["csatPercentCi95"], 1, " %"),
        "note": few(n, f"{what} visit"),
    }


def signal_words(s: dict[str, Any]) -> dict[str, str]:
    """The loyalty signal as sentences: which way, by how much (the delta), how sure (interval)."""
    if s["direction"] is None:
        return {"headline": "Not enough visits to compare yet.", "detail": s["note"] or "", "delta": ""}
    size = num(abs(s["delta"]), 2)
    head = {
        "higher": f"Returning customers rate {size} stars higher than first-time customers.",
        "lower": f"Returning customers rate {size} stars lower than first-time customers.",
        "consistent": "Returning customers rate about the same as first-time customers.",
    }[s["direction"]]
    ci = f"{signed(s['deltaCi95'][0])} to {signed(s['deltaCi95'][1])}" if s["deltaCi95"] else ""
    delta = f"Difference {signed(s['delta'])} stars" + (f" (95 % interval {ci})" if ci else "") + "."
    sure = "The interval excludes zero: this is unlikely to be chance." if s["significant"] is True else ""
    return {"headline": head, "delta": delta, "detail": " ".join(x for x in (sure, s["note"] or "") if x)}


def nps_rows(items: list[dict[str, Any]], key: str, names: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "code": it[key],
            "name": names.get(it[key], it[key]),
            "responses": it["responses"],
            "nps": num(it["nps"], 1) if it["responses"] else "—",
            "ci": interval(it["scoreCi95"], 1),
            "note": few(it["responses"], "answer"),
            "value": it["nps"],
        }
        for it in items
    ]


def _names(store: dict[str, Any], kind: str) -> dict[str, str]:
    """NPS category / channel codes -> their names, from the shop's configuration as the NPS API
    serves it (cached 30 s in the container: no read on most pages); a code stands for itself when
    the configuration cannot be read or no longer lists it."""
    from revisit.domain import nps

    try:
        items = nps.active(str(store.get("shopId") or ""), kind)
    except Exception:  # the names are a nicety: the codes are shown without them
        return {}
    return {str(i.get("code")): str(i.get("name") or i.get("code")) for i in items}


def trend_block(principal: Principal, slug: str, p: period.Period) -> dict[str, Any]:
    interval_ = trends.pick_interval(p.day_from, p.day_to)
    answer = analytics.series(principal, slug, p.day_from, p.day_to, interval_)
    rows = trends.rows_of(answer)
    labels = [trends.label(r, interval_) for r in rows]
    has_data = any(r["totalFeedback"] for r in rows)
    rating_desc = "; ".join(
        f"{lab}: first {num(r['firstAvg'], 2)}, return {num(r['returnAvg'], 2)}"
        for lab, r in zip(labels, rows, strict=True)
        if r["firstVisits"] or r["returnVisits"]
    )
    volume_desc = ", ".join(f"{lab}: {r['totalFeedback']}" for lab, r in zip(labels, rows, strict=True))
    return {
        "interval": interval_,
        "timezone": answer["timezone"],
        "rows": [{"label": lab, **r} for lab, r in zip(labels, rows, strict=True)],
        "has_data": has_data,
        "rating_chart": charts.line(
            "trend-rating",
            labels,
            [
                charts.Series("First visits", [r["firstAvg"] for r in rows], "first"),
                charts.Series("Return visits", [r["returnAvg"] for r in rows], "return"),
            ],
            f"Average rating per {interval_}",
            f"Average rating per {interval_}, first and return visits (1 to 5): {rating_desc or 'no ratings'}.",
            y_min=1,
            y_max=5,
        ),
        "volume_chart": charts.bars(
            "trend-volume",
            [(lab, r["totalFeedback"]) for lab, r in zip(labels, rows, strict=True)][-VOLUME_BARS:],
            f"Feedback per {interval_}" + (f" (the latest {VOLUME_BARS})" if len(rows) > VOLUME_BARS else ""),
            f"Feedback per {interval_}: {volume_desc}.",
        ),
    }


async def store_page(request: Request) -> Response:
    me = auth.current(request)
    slug = request.path_params["slug"]
    if not me.can_see(slug):
        return not_found(request)
    principal = me.principal_for(slug)
    p = period.parse(request)
    d = analytics.dashboard(principal, slug, p.day_from, p.day_to)  # unknown / foreign: 404 page
    nps = analytics.nps_score(principal, slug, p.day_from, p.day_to)
    store = workspaces.cached_store(me.workspace_id, slug) or {}
    dist = [(f"{r} star{'s' if r != '1' else ''}", d["ratingDistribution"][r]) for r in ("5", "4", "3", "2", "1")]
    total = d["totalFeedback"]
    dist_desc = ", ".join(f"{label}: {n}" for label, n in dist)
    return render(
        request,
        "store.html",
        {
            "slug": slug,
            "name": store.get("name") or slug,
            "period": p,
            "presets": period.PRESETS,
            "d": d,
            "identified": d["identifiedCustomers"],
            "return_rate": pct(d["returnRate"]) if d["identifiedCustomers"] else "No identified customers yet",
            "return_ci": interval(d["returnRateCi95"], 1, " %"),
            "return_note": few(d["identifiedCustomers"], "identified customer"),
            "first": visits(d["firstVisit"], "first"),
            "ret": visits(d["returnVisit"], "return"),
            "signal": signal_words(d["loyaltySignal"]),
            "dissatisfied": d["growingDissatisfied"],
            "dist": [
                {"label": label, "count": n, "share": pct(100 * n / total if total else None)} for label, n in dist
            ],
            "dist_chart": charts.bars(
                "dist", dist, "Rating distribution", f"Feedback by rating: {dist_desc}." if total else "No ratings."
            ),
            "trend": trend_block(principal, slug, p),
            "nps": nps,
            "nps_value": num(nps["nps"], 1) if nps["responses"] else "No NPS answers in this period",
            "nps_ci": interval(nps["scoreCi95"], 1),
            "nps_note": few(nps["responses"], "NPS answer"),
            "by_channel": nps_rows(nps["byChannel"], "channel", _names(store, "channel") if nps["byChannel"] else {}),
            "by_category": nps_rows(
                nps["byCategory"], "category", _names(store, "category") if nps["byCategory"] else {}
            ),
        },
    )


routes = [Route("/app/stores/{slug}", store_page, methods=["GET"])]
