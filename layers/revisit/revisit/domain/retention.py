"""Retention (issue 18 part 5): a store's optional ``retentionMonths`` (1-120; unset = keep).

Once a day (RetentionFunction) every store with the setting loses its answers - feedback records
and NPS reviews, with their comments and civs - created more than that many months ago, and the
per-customer aggregate items of those days: customer-day activity and watch-list entries, and the
state of a customer whose latest visit is that old (their next visit is a first visit again).

The counters stay: day and hour counters are anonymous sums (totals, rating distribution, first
and return visit counts and sums, NPS), so the dashboard, NPS score and series of an old period
keep their totals, ratings, CSAT and NPS, while its identified customers and return rate (which
need the per-customer activity) and growing-dissatisfied list become empty. Deleting raw items
produces stream REMOVE records, which no consumer counts.

Stores are found through an index written with the setting (gsi2 ``RETENTIONSTORES``), never a
Scan. A run deletes at most ``budget`` items; what is left goes the next day.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import datetime
from typing import Any

from revisit.dal import retention as dal
from revisit.dal import workspaces as workspaces_dal
from revisit.domain.util import iso

BUDGET = 20_000  # items deleted per run (about 800 BatchWriteItem calls)


def months_before(at: datetime, months: int) -> datetime:
    """``at`` moved back by whole calendar months (the 31st of a shorter month: its last day)."""
    total = at.year * 12 + (at.month - 1) - months
    year, month = divmod(total, 12)
    day = min(at.day, monthrange(year, month + 1)[1])
    return at.replace(year=year, month=month + 1, day=day)


def purge_store(workspace_id: str, slug: str, months: int, at: datetime, budget: int) -> dict[str, int]:
    cutoff = iso(months_before(at, months))
    answers = dal.old_answers(workspace_id, slug, cutoff, budget)
    deleted_answers = dal.delete(answers)
    activity = dal.old_activity(workspace_id, slug, cutoff[:10], budget - deleted_answers)
    deleted_activity = dal.delete(activity)
    customers = 0
    for key, version in dal.idle_customers(workspace_id, slug, cutoff, budget - deleted_answers - deleted_activity):
        customers += dal.delete_customer(key, version)
    return {"answers": deleted_answers, "activity": deleted_activity, "customers": customers}


def run(at: datetime, budget: int | None = None) -> dict[str, Any]:
    """Every store with a retention setting, until ``budget`` (default BUDGET) items are deleted."""
    budget = BUDGET if budget is None else budget
    totals = {"stores": 0, "answers": 0, "activity": 0, "customers": 0}
    cursor = None
    while True:
        stores, cursor = workspaces_dal.retention_stores(cursor=cursor)
        for store in stores:
            left = budget - totals["answers"] - totals["activity"] - totals["customers"]
            if left <= 0:
                return totals
            months = store.get("retentionMonths")
            if not months:
                continue
            done = purge_store(store["workspaceId"], store["slug"], int(months), at, left)
            totals["stores"] += 1
            for k, v in done.items():
                totals[k] += v
        if not cursor:
            return totals
