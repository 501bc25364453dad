"""CIV loyalty analytics (seed 000): the stream aggregator's rules and the dashboard's metrics.

The aggregator turns each inserted feedback record into a *visit* and folds it into per-store
aggregates; the dashboard answers from those aggregates only. Definitions: docs/metrics.md;
items and access patterns: docs/analytics-design.md.

Exactly once in effect: every visit's changes are one transaction together with a marker keyed
on the record's own id, so a redelivered record changes nothing. The aggregates are also
independent of delivery order: a customer's first visit is the earliest by (createdAt, id) -
a record that arrives late but is older than the recorded first visit takes its place, and the
former first visit is re-counted as a return visit on its own day, in the same transaction.
"""

from __future__ import annotations

import logging
import math
import time
from bisect import bisect_right
from calendar import monthrange
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from revisit import hashing
from revisit.dal import analytics as dal
from revisit.dal import privacy as privacy_dal
from revisit.dal import stream
from revisit.dal.errors import InvalidRecord
from revisit.domain import stats, workspaces
from revisit.domain.auth import Principal
from revisit.domain.util import iso, now, parse_iso
from revisit.errors import field_error

log = logging.getLogger(__name__)

RECENT_VISITS = 3  # "recent" = a customer's 3 latest visits (kept in their state)
MIN_EARLIER_VISITS = 2  # growing dissatisfied: at least 2 visits before the recent ones ...
DISSATISFIED_DROP = Fraction(1)  # ... and recent average <= earlier average - 1.0
CONSISTENT_BELOW = Fraction(1, 10)  # |returnAvg - firstAvg| < 0.1 -> "consistent"
MIN_SAMPLE = 30  # fewer first or return visits than this -> a sample-size note
CSAT_MIN_RATING = 4  # CSAT: the share of ratings of 4 or 5
DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 366
MARKER_TTL = timedelta(days=8)  # > the stream's 24 h retention: a record can't come back later
MAX_ATTEMPTS = 5  # optimistic retries of one record when its customer state changed meanwhile

SOURCE_FEEDBACK = stream.FEEDBACK
SOURCE_NPS_REVIEW = stream.NPS_REVIEW

_COUNTERS = ("total", "anonymous", "r1", "r2", "r3", "r4", "r5")
_VISIT_COUNTERS = (
    *("firstCount", "firstSum", "firstSq", "firstCsat"),
    *("returnCount", "returnSum", "returnSq", "returnCsat"),
)
_NPS_KINDS = ("promoters", "passives", "detractors")
_NPS_COUNTERS = tuple(f"nps:{kind}" for kind in _NPS_KINDS)
# Per UTC hour (item HOURS#day, attributes hHH:<name>): only what the series adds up.
HOUR_COUNTERS = (
    *("r1", "r2", "r3", "r4", "r5"),
    *("firstCount", "firstSum", "returnCount", "returnSum"),
    *_NPS_COUNTERS,
)
RATING_SCALE = (1.0, 5.0)  # a mean rating's interval stays on the scale


# ------------------------------------------------------------------ stream records -> visits


class Outcome(StrEnum):
    APPLIED = "applied"  # the record changed the aggregates now
    DUPLICATE = "duplicate"  # a redelivery: its marker was there, nothing changed
    SKIPPED = "skipped"  # not something the aggregates count (other item types, changes, removals)
    INVALID = "invalid"  # a response without the fields a visit needs (logged, not retried)


__all__ = [
    "InvalidRecord",
    "Outcome",
    "Visit",
    "apply_record",
    "apply_visit",
    "dashboard",
    "nps_score",
    "plan",
    "series",
    "store_rows",
]


@dataclass(frozen=True)
class Visit:
    """One customer response at a store, whatever produced it (a feedback record, an NPS review)."""

    source: str
    id: str
    workspace_id: str
    store_slug: str
    civ: str | None
    at: str  # ISO UTC with milliseconds and Z: sortable as text
    rating: int  # 1-5 (an NPS rate 1-10 counts as ceil(rate / 2))
    nps: tuple[int, str, str] | None = None  # an NPS review's (rate, channel, category)

    @property
    def day(self) -> str:
        return self.at[:10]

    @property
    def order(self) -> tuple[str, str]:
        """Chronological order of a customer's visits: createdAt, ties broken by id."""
        return (self.at, self.id)


def _in_range(value: int, low: int, high: int, name: str, record_id: str) -> int:
    if not low <= value <= high:
        raise InvalidRecord(f"{name} is not {low}-{high}", record_id)
    return value


def _created_at(response: stream.Response) -> str:
    try:
        return iso(parse_iso(response.created_at))
    except ValueError:
        raise InvalidRecord("createdAt is not an ISO timestamp", response.id) from None


def visit_of(event_name: str | None, image: Mapping[str, Any]) -> Visit | None:
    """The visit a stream record stands for, or None when the aggregates ignore it.

    This is the one mapping from stored responses to visits (the data layer reads the record). An
    NPS review is a visit of its ``civ`` (the review's loyalty_id) rated ceil(rate / 2) stars, so
    CSAT (4-5 stars) is rate >= 7; it also counts towards the store's NPS (promoter 9-10, passive
    7-8, detractor 1-6), in total and per channel and category.
    """
    response = stream.inserted_response(event_name, image)
    if response is None:
        return None  # a modify, a remove, every other item type: not a visit
    common = {
        "source": response.source,
        "id": response.id,
        "workspace_id": response.workspace_id,
        "store_slug": response.store_slug,
        "civ": response.civ,
    }
    if response.source == SOURCE_FEEDBACK:
        rating = _in_range(response.score, 1, 5, "rating", response.id)
        return Visit(**common, at=_created_at(response), rating=rating)
    rate = _in_range(response.score, 1, 10, "rate", response.id)
    nps = (rate, response.channel or "", response.category or "")
    return Visit(**common, at=_created_at(response), rating=(rate + 1) // 2, nps=nps)


def apply_record(event_name: str | None, image: Mapping[str, Any]) -> Outcome:
    """Fold one stream record into the aggregates, exactly once in effect."""
    try:
        visit = visit_of(event_name, image)
    except InvalidRecord as exc:
        log.error("stream record %s cannot be counted: %s", exc.record_id, exc)
        return Outcome.INVALID
    if visit is None:
        return Outcome.SKIPPED
    return apply_visit(visit)


def erasure_hash(workspace_id: str, store_slug: str, civ: str) -> str:
    """The keyed hash an erased customer's tombstone is keyed by (revisit.domain.privacy)."""
    return hashing.keyed_hash(f"erased-customer|{workspace_id}|{store_slug}|{civ}")


def _erased_at(visit: Visit, state: Mapping[str, Any] | None) -> str | None:
    """When this customer was last erased at the store, or None. A state remembers it (a customer
    who came back after an erasure); without a state, the tombstone says (one more GetItem, for a
    customer's first visit only). An erasure still running: the record is retried later."""
    if state is not None:
        return state.get("erasedAt")
    assert visit.civ is not None
    tombstone = privacy_dal.get_tombstone(
        visit.workspace_id, visit.store_slug, erasure_hash(visit.workspace_id, visit.store_slug, visit.civ)
    )
    if tombstone is None:
        return None
    if tombstone.get("status") != "done":
        raise RuntimeError(f"the customer of {visit.id} is being erased; the record is retried")
    return str(tombstone["erasedAt"])


def apply_visit(visit: Visit) -> Outcome:
    """One GetItem (the customer's state) and one TransactWriteItems; more only on contention (and
    a customer's first visit reads the erasure tombstone, revisit.domain.privacy). A record of an
    erased customer created at or before the erasure is skipped: it never brings them back."""
    for attempt in range(MAX_ATTEMPTS):
        state = dal.get_customer(visit.workspace_id, visit.store_slug, visit.civ) if visit.civ else None
        erased_at = _erased_at(visit, state) if visit.civ else None
        if erased_at is not None and visit.at <= erased_at:
            return Outcome.SKIPPED
        change = plan(state, visit, now())
        if erased_at is not None and state is None and change.customer is not None:
            change = replace(change, customer={**change.customer, "erasedAt": erased_at})
        try:
            dal.apply(change)
        except dal.AlreadyApplied:
            return Outcome.DUPLICATE
        except dal.Contention:
            time.sleep(0.01 * attempt)  # another writer of this customer: re-read, re-plan
            continue
        return Outcome.APPLIED
    raise RuntimeError(f"customer state of {visit.id} kept changing; the record is retried")


# ------------------------------------------------------------------ the aggregation rules (pure)


def _csat(rating: int) -> int:
    return 1 if rating >= CSAT_MIN_RATING else 0


def _add(deltas: dict[str, dict[str, int]], day: str, **changes: int) -> None:
    counters = deltas.setdefault(day, {})
    for name, delta in changes.items():
        counters[name] = counters.get(name, 0) + delta


def _add_hour(hours: dict[str, dict[str, int]], at: str, **changes: int) -> None:
    """Hour counters of the UTC hour of ``at`` (ISO UTC): ``hHH:<counter>`` of the day's item."""
    _add(hours, at[:10], **{f"h{at[11:13]}:{name}": delta for name, delta in changes.items()})


def watch_entry(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The customer's watch-list entry if they are growing dissatisfied, else None.

    Rule: 3 recent visits (the latest 3) and at least 2 earlier ones, and the recent average at
    least 1.0 below the earlier average (compared exactly, in integers).
    """
    recent = state["recent"]
    earlier_count = state["visitCount"] - len(recent)
    if len(recent) < RECENT_VISITS or earlier_count < MIN_EARLIER_VISITS:
        return None
    recent_sum = sum(r["rating"] for r in recent)
    earlier_sum = state["ratingSum"] - recent_sum
    if Fraction(recent_sum, len(recent)) > Fraction(earlier_sum, earlier_count) - DISSATISFIED_DROP:
        return None
    return {
        "civ": state["civ"],
        "visitCount": state["visitCount"],
        "earlierSum": earlier_sum,
        "earlierCount": earlier_count,
        "recentSum": recent_sum,
        "recentCount": len(recent),
        "recentRatings": [r["rating"] for r in recent],
        "lastVisitAt": recent[0]["at"],
    }


def plan(state: Mapping[str, Any] | None, visit: Visit, at: datetime) -> dal.Change:
    """Every change one visit makes, computed from the customer's current state (pure)."""
    deltas: dict[str, dict[str, int]] = {}
    hours: dict[str, dict[str, int]] = {}  # the series' hour counters (HOUR_COUNTERS), same transaction
    _add(deltas, visit.day, total=1, **{f"r{visit.rating}": 1})
    _add_hour(hours, visit.at, **{f"r{visit.rating}": 1})
    if visit.nps is not None:
        rate, channel, category = visit.nps
        kind = nps_kind(rate)
        _add(deltas, visit.day, **{f"nps:{kind}": 1, f"npsCh:{channel}:{kind}": 1, f"npsCat:{category}:{kind}": 1})
        _add_hour(hours, visit.at, **{f"nps:{kind}": 1})
    base = {
        "source": visit.source,
        "record_id": visit.id,
        "workspace_id": visit.workspace_id,
        "store_slug": visit.store_slug,
        "applied_at": iso(at),
        "marker_expires_epoch": int((at + MARKER_TTL).timestamp()),
    }
    if visit.civ is None:
        _add(deltas, visit.day, anonymous=1)
        return dal.Change(**base, day_deltas=deltas, hour_deltas=hours)

    me = {"at": visit.at, "rating": visit.rating, "id": visit.id}
    r = visit.rating
    first = {"firstCount": 1, "firstSum": r, "firstSq": r * r, "firstCsat": _csat(r)}
    if state is None:
        _add(deltas, visit.day, **first)
        _add_hour(hours, visit.at, firstCount=1, firstSum=r)
        new = {
            "civ": visit.civ,
            "visitCount": 1,
            "ratingSum": visit.rating,
            "firstVisitAt": visit.at,
            "firstRating": visit.rating,
            "firstFeedbackId": visit.id,
            "recent": [me],
            "version": 1,
        }
        old_watch = None
    else:
        new = {
            **state,
            "visitCount": state["visitCount"] + 1,
            "ratingSum": state["ratingSum"] + visit.rating,
            "version": state["version"] + 1,
        }
        if visit.order < (state["firstVisitAt"], state["firstFeedbackId"]):
            # Older than the recorded first visit: this one is the first; the former first
            # becomes a return visit, on its own day.
            was_day, was = state["firstVisitAt"][:10], state["firstRating"]
            _add(deltas, visit.day, **first)
            _add_hour(hours, visit.at, firstCount=1, firstSum=r)
            _add_hour(hours, state["firstVisitAt"], firstCount=-1, firstSum=-was, returnCount=1, returnSum=was)
            _add(
                deltas,
                was_day,
                firstCount=-1,
                firstSum=-was,
                firstSq=-was * was,
                firstCsat=-_csat(was),
                returnCount=1,
                returnSum=was,
                returnSq=was * was,
                returnCsat=_csat(was),
            )
            new |= {"firstVisitAt": visit.at, "firstRating": visit.rating, "firstFeedbackId": visit.id}
        else:
            _add(deltas, visit.day, returnCount=1, returnSum=r, returnSq=r * r, returnCsat=_csat(r))
            _add_hour(hours, visit.at, returnCount=1, returnSum=r)
        recent = sorted([*state["recent"], me], key=lambda r: (r["at"], r["id"]), reverse=True)
        new["recent"] = recent[:RECENT_VISITS]
        old_watch = watch_entry(state)
    new_watch = watch_entry(new)
    return dal.Change(
        **base,
        day_deltas=deltas,
        hour_deltas=hours,
        civ=visit.civ,
        activity_day=visit.day,
        customer=new,
        customer_version=state["version"] if state is not None else None,
        watch=new_watch,
        unwatch_day=_moved_or_gone(old_watch, new_watch),
    )


def _moved_or_gone(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str | None:
    """The day of the watch-list entry to delete: the old entry's, unless the new entry has the
    same key (same latest-visit day) and simply overwrites it."""
    if old is None:
        return None
    old_day = old["lastVisitAt"][:10]
    return None if new is not None and new["lastVisitAt"][:10] == old_day else old_day


def nps_kind(rate: int) -> str:
    return "promoters" if rate >= 9 else "passives" if rate >= 7 else "detractors"


# ------------------------------------------------------------------ the dashboard


def round_half_up(value: Fraction, places: int) -> float:
    """``value`` rounded to ``places`` decimals, halves away from zero (4.125 -> 4.13), exactly."""
    scaled = abs(value) * 10**places
    whole = math.floor(scaled + Fraction(1, 2))
    return (-whole if value < 0 else whole) / 10**places  # int / int: the nearest float, exactly


def _avg(total: int, count: int) -> float | None:
    return round_half_up(Fraction(total, count), 2) if count else None


def _percent(part: int, count: int) -> float | None:
    return round_half_up(Fraction(100 * part, count), 1) if count else None


def _interval(bounds: tuple[float, ...] | None, places: int, scale: int = 1) -> list[float] | None:
    """``[low, high]`` of a 95 % interval (times ``scale``), rounded like the value it goes with
    (each bound exactly, half away from zero, from the float computed); None stays None."""
    if bounds is None:
        return None
    return [round_half_up(Fraction(b) * scale, places) for b in bounds[:2]]


def resolve_period(day_from: date | None, day_to: date | None, today: date) -> tuple[date, date]:
    """Whole UTC days, both inclusive. Default: the 30 days ending today (or ending ``to``)."""
    to = day_to or today
    start = day_from or to - timedelta(days=min(DEFAULT_PERIOD_DAYS - 1, (to - date.min).days))  # from 0001-01-01
    if start > to:
        raise field_error("from", "must not be after to", "date_order")
    if (to - start).days + 1 > MAX_PERIOD_DAYS:
        raise field_error("from", f"the period is at most {MAX_PERIOD_DAYS} days", "period_too_long")
    return start, to


def _period(day_from: date | None, day_to: date | None) -> tuple[date, date, dict[str, Any]]:
    start, end = resolve_period(day_from, day_to, now().astimezone(UTC).date())
    return start, end, {"from": start.isoformat(), "to": end.isoformat(), "days": (end - start).days + 1}


def _store_and_period(
    principal: Principal, store_slug: str | None, day_from: date | None, day_to: date | None
) -> tuple[str, str, date, date]:
    """(workspace, store, first day, last day) the caller may read; 404 for an unknown store."""
    slug = store_slug or principal.stores_visible()
    if slug is None:
        raise field_error("storeSlug", "required with workspace credentials", "missing")
    principal.require_store(slug)
    start, end = resolve_period(day_from, day_to, now().astimezone(UTC).date())
    workspaces.get_store(principal.workspace_id, slug)
    return principal.workspace_id, slug, start, end


# ------------------------------------------------------------------ one implementation per metric


def _period_counters(ws: str, slug: str, lo: str, hi: str, names: tuple[str, ...]) -> dict[str, int]:
    """The day counters ``names`` summed over the period (one Query of <= 366 items)."""
    c = dict.fromkeys(names, 0)
    for day in dal.day_counters(ws, slug, lo, hi, counters=names):
        for name in c:
            c[name] += int(day.get(name, 0))
    return c


def _customers(ws: str, slug: str, lo: str, hi: str) -> tuple[int, int]:
    """(identified customers, returning customers) of the period: distinct civs with a visit in
    it, and those with more than one (one Query of the period's customer-day activity)."""
    per_customer: dict[str, int] = {}
    for _day, customer, visits in dal.activity(ws, slug, lo, hi):
        per_customer[customer] = per_customer.get(customer, 0) + visits
    return sum(1 for v in per_customer.values() if v > 0), sum(1 for v in per_customer.values() if v > 1)


def _ratings(count: int, total: int, squares: int, csat: int) -> dict[str, Any]:
    """Mean rating and CSAT % of ``count`` ratings (sum ``total``, sum of squares ``squares``,
    ``csat`` of them 4-5 stars), each with its 95 % interval: t for the mean, Wilson for CSAT."""
    return {
        "avgRating": _avg(total, count),
        "avgRatingCi95": _interval(stats.mean_interval(count, total, squares, *RATING_SCALE), 2),
        "csatPercent": _percent(csat, count),
        "csatPercentCi95": _interval(stats.wilson_interval(csat, count), 1, 100),
    }


def _return_rate(identified: int, returning: int) -> dict[str, Any]:
    """Share of identified customers with more than one visit in the period (Wilson interval)."""
    return {
        "identifiedCustomers": identified,
        "returningCustomers": returning,
        "returnRate": _percent(returning, identified),
        "returnRateCi95": _interval(stats.wilson_interval(returning, identified), 1, 100),
    }


def _visits_block(count: int, total: int, squares: int, csat: int) -> dict[str, Any]:
    return {"count": count, **_ratings(count, total, squares, csat)}


def _loyalty(c: Mapping[str, int]) -> dict[str, Any]:
    first, ret = c["firstCount"], c["returnCount"]
    signal: dict[str, Any] = {
        "direction": None,
        "delta": None,
        "deltaCi95": None,
        "significant": None,
        "threshold": float(CONSISTENT_BELOW),
        "minSample": MIN_SAMPLE,
        "note": None,
    }
    if not first or not ret:
        missing = " and ".join(n for n, k in (("first", first), ("return", ret)) if not k)
        signal["note"] = f"No {missing} visits in this period: nothing to compare."
        return signal
    delta = Fraction(c["returnSum"], ret) - Fraction(c["firstSum"], first)
    signal["delta"] = round_half_up(delta, 2)
    if abs(delta) < CONSISTENT_BELOW:
        signal["direction"] = "consistent"
    else:
        signal["direction"] = "higher" if delta > 0 else "lower"
    welch = stats.welch_interval(
        (first, c["firstSum"], c.get("firstSq", 0)), (ret, c["returnSum"], c.get("returnSq", 0)), RATING_SCALE[1] - 1
    )
    small = first < MIN_SAMPLE or ret < MIN_SAMPLE
    if welch is None:
        signal["note"] = (
            f"Inconclusive: {first} first and {ret} return visits are too few (or their ratings too uniform) "
            "to tell the difference from chance."
        )
        return signal
    low, high = signal["deltaCi95"] = _interval(welch, 2)
    signal["significant"] = welch[0] > 0 or welch[1] < 0
    if not signal["significant"]:
        signal["note"] = (
            f"Inconclusive: return visits rate {signal['delta']:+.2f} against first visits, but the true "
            f"difference could be anywhere from {low:+.2f} to {high:+.2f} (95 % interval), zero included: "
            "it may be chance."
        )
    elif small:
        signal["note"] = (
            f"Small sample: {first} first and {ret} return visits; the 95 % interval excludes 0, but with "
            f"fewer than {MIN_SAMPLE} of either it rests on a rough normal approximation."
        )
    return signal


def _dissatisfied(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Watched customers whose latest visit is in the period (the entries read): largest drop
    first, then the most recently seen, then by civ."""
    rows = []
    for e in entries:
        earlier = Fraction(e["earlierSum"], e["earlierCount"])
        recent = Fraction(e["recentSum"], e["recentCount"])
        rows.append((earlier - recent, e))
    rows.sort(key=lambda t: t[1]["civ"])
    rows.sort(key=lambda t: t[1]["lastVisitAt"], reverse=True)
    rows.sort(key=lambda t: t[0], reverse=True)
    return [
        {
            "civ": e["civ"],
            "visitCount": e["visitCount"],
            "earlierAvg": round_half_up(Fraction(e["earlierSum"], e["earlierCount"]), 2),
            "recentAvg": round_half_up(Fraction(e["recentSum"], e["recentCount"]), 2),
            "drop": round_half_up(drop, 2),
            "recentRatings": e["recentRatings"],
            "lastVisitAt": e["lastVisitAt"],
        }
        for drop, e in rows
    ]


# ------------------------------------------------------------------ the dashboard


def dashboard(
    principal: Principal, store_slug: str | None, day_from: date | None, day_to: date | None
) -> dict[str, Any]:
    """The loyalty metrics of one store for whole UTC days ``day_from``..``day_to``.

    Reads the aggregates only: one GetItem (the store), one Query of day counters (<= 366 items),
    one Query of customer activity (one item per identified customer per day they gave feedback)
    and one Query of the period's watch-list entries - never the raw feedback.
    """
    ws, slug, start, end = _store_and_period(principal, store_slug, day_from, day_to)
    lo, hi = start.isoformat(), end.isoformat()
    c = _period_counters(ws, slug, lo, hi, _COUNTERS + _VISIT_COUNTERS)
    identified, returning = _customers(ws, slug, lo, hi)
    return {
        "storeSlug": slug,
        "period": {"from": lo, "to": hi, "days": (end - start).days + 1},
        "totalFeedback": c["total"],
        "anonymousFeedback": c["anonymous"],
        "identifiedFeedback": c["total"] - c["anonymous"],
        "ratingDistribution": {str(r): c[f"r{r}"] for r in range(1, 6)},
        **_return_rate(identified, returning),
        "firstVisit": _visits_block(c["firstCount"], c["firstSum"], c["firstSq"], c["firstCsat"]),
        "returnVisit": _visits_block(c["returnCount"], c["returnSum"], c["returnSq"], c["returnCsat"]),
        "loyaltySignal": _loyalty(c),
        "growingDissatisfied": _dissatisfied(dal.watch_list(ws, slug, lo, hi)),
    }


# ------------------------------------------------------------------ NPS score


def _nps_block(counts: Mapping[str, int]) -> dict[str, Any]:
    p, pa, d = counts.get("promoters", 0), counts.get("passives", 0), counts.get("detractors", 0)
    n = p + pa + d
    return {
        "responses": n,
        "promoters": p,
        "passives": pa,
        "detractors": d,
        "promotersPercent": _percent(p, n),
        "passivesPercent": _percent(pa, n),
        "detractorsPercent": _percent(d, n),
        "nps": round_half_up(Fraction(100 * (p - d), n), 1) if n else None,
        "scoreCi95": _interval(stats.nps_interval(p, pa, d), 1),
    }


def nps_score(
    principal: Principal, store_slug: str | None, day_from: date | None, day_to: date | None
) -> dict[str, Any]:
    """NPS of one store for whole UTC days, in total and per channel and category, from the day
    counters the aggregator keeps (one Query of <= 366 items; never the reviews themselves).
    NPS = % promoters - % detractors, from -100 to 100."""
    ws, slug, start, end = _store_and_period(principal, store_slug, day_from, day_to)
    lo, hi = start.isoformat(), end.isoformat()
    total: dict[str, int] = {}
    by: dict[str, dict[str, dict[str, int]]] = {"npsCh": {}, "npsCat": {}}
    for day in dal.day_counters(ws, slug, lo, hi):
        for name, value in day.items():
            if name.startswith("nps:"):
                kind = name.split(":", 1)[1]
                total[kind] = total.get(kind, 0) + int(value)
            elif name.startswith(("npsCh:", "npsCat:")):
                group, code, kind = name.split(":", 2)
                bucket = by[group].setdefault(code, {})
                bucket[kind] = bucket.get(kind, 0) + int(value)
    return {
        "storeSlug": slug,
        "period": {"from": lo, "to": hi, "days": (end - start).days + 1},
        **_nps_block(total),
        "byChannel": [{"channel": code, **_nps_block(c)} for code, c in sorted(by["npsCh"].items())],
        "byCategory": [{"category": code, **_nps_block(c)} for code, c in sorted(by["npsCat"].items())],
    }


# ------------------------------------------------------------------ all stores at once

_ROW_COUNTERS = ("total", "r1", "r2", "r3", "r4", "r5", *_NPS_COUNTERS)


def _distribution_ratings(c: Mapping[str, int]) -> dict[str, Any]:
    """:func:`_ratings` of every visit counted in ``r1``..``r5`` (anonymous ones included)."""
    count = sum(c.get(f"r{r}", 0) for r in range(1, 6))
    total = sum(r * c.get(f"r{r}", 0) for r in range(1, 6))
    squares = sum(r * r * c.get(f"r{r}", 0) for r in range(1, 6))
    return _ratings(count, total, squares, c.get("r4", 0) + c.get("r5", 0))


def _store_row(c: Mapping[str, int], identified: int, returning: int) -> dict[str, Any]:
    """One row of the stores view from its period counters and customers: the same metric
    functions as the dashboard and the NPS score (all visits, anonymous ones included)."""
    nps = _nps_block({kind: c[f"nps:{kind}"] for kind in _NPS_KINDS})
    return {
        "totalFeedback": c["total"],
        **_distribution_ratings(c),
        **_return_rate(identified, returning),
        "npsResponses": nps["responses"],
        "nps": nps["nps"],
        "npsCi95": nps["scoreCi95"],
    }


def store_rows(principal: Principal, day_from: date | None, day_to: date | None) -> dict[str, Any]:
    """Every store the caller may see, one row each, and (for workspace credentials) the
    workspace total: a customer is a civ at one store, so the total's customers are the sum of
    the stores'. Cost per store: one Query of day counters (<= 366 items) and one Query of the
    period's customer-day activity; plus one Query listing the stores (a store key: one GetItem)."""
    ws = principal.workspace_id
    start, end, period = _period(day_from, day_to)
    lo, hi = start.isoformat(), end.isoformat()
    own = principal.stores_visible()
    stores = workspaces.list_stores(ws) if own is None else [workspaces.get_store(ws, own)]
    rows = []
    summed = dict.fromkeys(_ROW_COUNTERS, 0)
    identified = returning = 0
    for store in sorted(stores, key=lambda s: s["slug"]):
        slug = store["slug"]
        c = _period_counters(ws, slug, lo, hi, _ROW_COUNTERS)
        ident, ret = _customers(ws, slug, lo, hi)
        rows.append({"storeSlug": slug, "name": store.get("name"), **_store_row(c, ident, ret)})
        for name, value in c.items():
            summed[name] += value
        identified, returning = identified + ident, returning + ret
    total = {"stores": len(rows), **_store_row(summed, identified, returning)} if own is None else None
    return {"period": period, "stores": rows, "total": total}


# ------------------------------------------------------------------ series (trends)

SERIES_INTERVALS = ("day", "week", "month")
_FIRST_DAY, _LAST_DAY = date(1, 1, 2), date(9999, 12, 30)  # local midnights stay inside datetime's range


def _bucket_days(start: date, end: date, interval: str) -> list[tuple[date, date]]:
    """The buckets' (first, last) local dates: calendar days, weeks (Monday to Sunday) or months,
    clipped to the period (the first and last bucket may be partial: ``start`` / ``end`` say so)."""
    buckets = []
    first = start
    while first <= end:
        if interval == "day":
            length = 1
        elif interval == "week":
            length = 7 - first.weekday()  # to the next Monday
        else:
            length = monthrange(first.year, first.month)[1] - first.day + 1  # to the next 1st
        last = first + timedelta(days=min(length, (end - first).days + 1) - 1)
        buckets.append((first, last))
        first = last + timedelta(days=1)
    return buckets


def bucket_start(day: date, zone: tzinfo) -> datetime:
    """The UTC hour a bucket beginning on local ``day`` starts at: the UTC hour that contains the
    day's first instant (local midnight, or the end of a DST gap at midnight). In a whole-hour zone
    that is local midnight itself; in a quarter- or half-hour zone (Asia/Kathmandu +05:45, Asia/Kolkata
    +05:30) the bucket starts 15 / 30 minutes before local midnight, at 23:45 / 23:30 local
    (docs/metrics.md, "Trends: the series")."""
    first = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
    return first.replace(minute=0, second=0, microsecond=0)


def _split(c: Mapping[str, int], kind: str) -> dict[str, Any]:
    count = c.get(f"{kind}Count", 0)
    return {"count": count, "avgRating": _avg(c.get(f"{kind}Sum", 0), count)}


def _series_bucket(first: date, last: date, starts: datetime, ends: datetime, c: Mapping[str, int]) -> dict[str, Any]:
    """One bucket from its summed hour counters, with the dashboard's and NPS score's own metric
    functions (:func:`_ratings`, :func:`_avg`, :func:`_nps_block`)."""
    nps = _nps_block({kind: c.get(f"nps:{kind}", 0) for kind in _NPS_KINDS})
    ratings = _distribution_ratings(c)
    return {
        "start": first.isoformat(),
        "end": last.isoformat(),
        "startsAt": iso(starts),
        "endsAt": iso(ends),
        "count": sum(c.get(f"r{r}", 0) for r in range(1, 6)),
        **ratings,
        "firstVisit": _split(c, "first"),
        "returnVisit": _split(c, "return"),
        "nps": {"responses": nps["responses"], "score": nps["nps"], "scoreCi95": nps["scoreCi95"]},
    }


def series(
    principal: Principal, store_slug: str | None, day_from: date | None, day_to: date | None, interval: str = "day"
) -> dict[str, Any]:
    """One store's metrics per day, week (from Monday) or month of its local calendar, for local
    dates ``day_from``..``day_to`` (both inclusive; default: the 30 days ending today there).

    A bucket starts at :func:`bucket_start` of its first date and ends where the next begins (DST:
    each boundary on its own, so a bucket may be 23 or 25 hours a day). Empty buckets are listed
    with count 0 and null averages. Cost, whatever the number of records: one GetItem (the store)
    and one Query of the period's hour counter items (one per UTC day, <= 367 items)."""
    if interval not in SERIES_INTERVALS:
        raise field_error("interval", f"must be one of {', '.join(SERIES_INTERVALS)}", "enum")
    slug = store_slug or principal.stores_visible()
    if slug is None:
        raise field_error("storeSlug", "required with workspace credentials", "missing")
    principal.require_store(slug)
    store = workspaces.get_store(principal.workspace_id, slug)
    zone_name = store.get("timezone") or "UTC"
    zone = ZoneInfo(zone_name)
    start, end = resolve_period(day_from, day_to, now().astimezone(zone).date())
    if start < _FIRST_DAY:
        raise field_error("from", f"must be {_FIRST_DAY.isoformat()} or later", "out_of_range")
    if end > _LAST_DAY:
        raise field_error("to", f"must be {_LAST_DAY.isoformat()} or earlier", "out_of_range")
    days = _bucket_days(start, end, interval)
    bounds = [bucket_start(first, zone) for first, _ in days] + [bucket_start(end + timedelta(days=1), zone)]
    sums: list[dict[str, int]] = [{} for _ in days]
    hour = timedelta(hours=1)
    lo, hi = bounds[0].date().isoformat(), (bounds[-1] - hour).date().isoformat()
    for item in dal.hour_counters(principal.workspace_id, slug, lo, hi):
        midnight = datetime.fromisoformat(item["day"]).replace(tzinfo=UTC)
        for name, value in item.items():
            if not (name.startswith("h") and name[3:4] == ":"):
                continue
            at = midnight + int(name[1:3]) * hour
            n = bisect_right(bounds, at) - 1
            if 0 <= n < len(days):
                counters = sums[n]
                counter = name[4:]
                counters[counter] = counters.get(counter, 0) + int(value)
    return {
        "storeSlug": slug,
        "timezone": zone_name,
        "interval": interval,
        "period": {"from": start.isoformat(), "to": end.isoformat(), "days": (end - start).days + 1},
        "buckets": [
            _series_bucket(first, last, bounds[n], bounds[n + 1], sums[n]) for n, (first, last) in enumerate(days)
        ],
    }
