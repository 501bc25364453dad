"""Which send produced the answer (issue 16 part 4): the tracker report's counting rules and the
report itself (docs/trackers.md, "Report").

Each send of a tracker is one *attempt* (``sendingIndex`` 0 = the first send, 1 = the first
resend, ...) over one channel (email, sms, whatsapp; ``external`` for the links a partner sends).
Per store, UTC day, survey, attempt and channel the report keeps three counters:

- ``sent``: the scheduler sent that attempt (counted in the settle that records the send);
- ``clicked``: the tracker's first click came while that attempt was its latest send (counted in
  the update that opens the tracker - once per tracker);
- ``completed``: the answer came while that attempt was its latest send (counted in the
  submission's transaction).

A click or an answer counts on the day of the send it followed (the *send's* day, not the day of
the click), so ``completed / sent`` over a period is the response rate of the sends made in it.
External trackers are never sent by Revisit: their ``sent`` is null (the partner knows), their
clicks and answers count on the day the link was made.
"""

from __future__ import annotations

from datetime import UTC, date
from fractions import Fraction
from typing import Any

from revisit.dal import reports as dal
from revisit.dal import surveys as surveys_dal
from revisit.domain import analytics, workspaces
from revisit.domain.auth import Principal
from revisit.domain.util import now
from revisit.errors import field_error

EXTERNAL = "external"


def channel_of(tracker: dict[str, Any]) -> str:
    """The channel of the tracker's latest send: what the scheduler recorded, else what it would
    use (WhatsApp switched to SMS is SMS), ``external`` for a partner's link."""
    if tracker.get("sendingType") == EXTERNAL:
        return EXTERNAL
    if tracker.get("lastChannel"):
        return str(tracker["lastChannel"])
    if tracker.get("sendingType") == "whatsapp" and tracker.get("switchedToSms"):
        return "sms"
    return str(tracker.get("sendingType") or "email")


def send_day(tracker: dict[str, Any]) -> str:
    """The UTC day of the tracker's latest send (an external tracker's: the day its link was made)."""
    return str(tracker.get("sentAt") or tracker["createdAt"])[:10]


def count(
    tracker: dict[str, Any], kind: str, *, day: str | None = None, index: int | None = None, channel: str | None = None
) -> dict[str, Any]:
    """The report write of one event of ``tracker`` (an item of the transaction that moves it)."""
    index = int(tracker.get("sendingIndex") or 0) if index is None else index
    name = dal.counter(kind, tracker["surveyId"], index, channel or channel_of(tracker))
    return dal.count_op(tracker["workspaceId"], tracker["storeSlug"], day or send_day(tracker), {name: 1})


def _rate(completed: int, sent: int | None) -> float | None:
    return analytics.round_half_up(Fraction(100 * completed, sent), 1) if sent else None


def report(principal: Principal, store_slug: str | None, day_from: date | None, day_to: date | None) -> dict[str, Any]:
    """Per survey, attempt and channel: sent, clicked, completed and the response rate (completed /
    sent, in %) of the sends made in whole UTC days ``day_from``..``day_to`` (<= 366 days, the
    dashboard's rules). One Query of the report items (<= 366) and one of the workspace's surveys
    (their names): never the trackers."""
    slug = store_slug or principal.stores_visible()
    if slug is None:
        raise field_error("storeSlug", "required with workspace credentials", "missing")
    principal.require_store(slug)
    start, end = analytics.resolve_period(day_from, day_to, now().astimezone(UTC).date())
    workspaces.get_store(principal.workspace_id, slug)
    totals: dict[tuple[str, int, str], dict[str, int]] = {}
    for day in dal.days(principal.workspace_id, slug, start.isoformat(), end.isoformat()):
        for name, value in day.items():
            parsed = dal.parse_counter(name)
            if parsed is None:
                continue
            kind, survey_id, index, channel = parsed
            row = totals.setdefault((survey_id, index, channel), dict.fromkeys(dal.KINDS, 0))
            row[kind] += value
    names = {s["surveyId"]: s.get("name") for s in surveys_dal.list_for_workspace(principal.workspace_id)}
    rows = []
    for (survey_id, index, channel), c in sorted(totals.items()):
        sent = None if channel == EXTERNAL else c["sent"]
        rows.append(
            {
                "surveyId": survey_id,
                "surveyName": names.get(survey_id),
                "sendingIndex": index,
                "channel": channel,
                "sent": sent,
                "clicked": c["clicked"],
                "completed": c["completed"],
                "responseRate": _rate(c["completed"], sent),
            }
        )
    sent_total = sum(r["sent"] or 0 for r in rows)
    completed_sent = sum(r["completed"] for r in rows if r["sent"] is not None)
    return {
        "storeSlug": slug,
        "period": {"from": start.isoformat(), "to": end.isoformat(), "days": (end - start).days + 1},
        "rows": rows,
        "total": {
            "sent": sent_total,
            "clicked": sum(r["clicked"] for r in rows),
            "completed": sum(r["completed"] for r in rows),
            "responseRate": _rate(completed_sent, sent_total),
        },
    }
