"""Migrations of stored data for existing deployments (`revisit migrate`): the operator's tool, kept
out of the Lambda layer so that no function can Scan.

Each migration has an id and is recorded in a marker item (``MIGRATION#<id>``): while it runs the
marker holds the scan cursor of the last page done, so an interrupted run resumes there; once the
scan is through the marker says ``applied`` and later runs skip it. Items are changed with
conditional writes on the shape they were read in, so a second run - or two runs at once -
changes nothing twice. Migrations scan the table (request paths never do).

| id                               | what                                                                   |
|----------------------------------|------------------------------------------------------------------------|
| 0001-purchases-by-store          | PURCHASE#ws#id -> PURCHASE#ws#store#id (+ gsi1 by id); raw email/phone |
|                                  | -> keyed hashes; purchasedAt with a four-digit year                    |
| 0002-idempotency-by-store        | unexpired IDEM#ws#hash -> IDEM#ws#store#hash                           |
| 0003-tracker-contacts            | a tracker's raw contact: removed when nothing is pending, else bounded |
|                                  | by its link's expiry; identity hashes kept                             |
| 0004-device-ttl                  | DID# items get a TTL (createdAt + the device lifetime)                 |
| 0005-tracker-report              | the tracker report's counters (TRKRPT#ws#store / DAY#day) built from   |
|                                  | the trackers' sends, first clicks and answers not counted yet          |
| 0006-day-squares                 | day counters (AGG#ws#store / DAY#day) get firstSq / returnSq, the sums |
|                                  | of squared ratings, recomputed from the day's feedback and NPS reviews |
| 0007-feedback-by-id              | feedback records get gsi4 keys FBID#ws#id / createdAt (the inbox finds |
|                                  | an answer by its id); their workflow needs none: no status is new      |
| 0008-hour-counters               | every day counter item (AGG#ws#store / DAY#day) gets its hour counters |
|                                  | (HOURS#day: the series), recomputed from the day's feedback and NPS    |
|                                  | reviews, unless they agree with the day's counters already             |
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from revisit import hashing
from revisit.dal import keys, table
from revisit.dal import purchases as purchases_dal
from revisit.dal.errors import ConditionFailed

DEVICE_LIFETIME_SECONDS = 365 * 86400  # revisit.domain.nps.DEVICE_LIFETIME
_SHORT_YEAR = re.compile(r"^(\d{1,3})-")


@dataclass
class Migration:
    id: str
    description: str
    prefix: str  # the pk prefix of the items it looks at
    step: Callable[[dict[str, Any], bool], bool]  # (item as stored, dry run) -> changed (or would)


@dataclass
class Outcome:
    id: str
    status: str = "pending"  # applied now | already applied | dry run | interrupted
    scanned: int = 0
    changed: int = 0
    pages: int = 0
    resumed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "extra"} | self.extra


# ---------------------------------------------------------------- helpers


def _epoch(ts: str) -> int:
    return int(datetime.fromisoformat(four_digit_year(ts).replace("Z", "+00:00")).timestamp())


def four_digit_year(ts: str) -> str:
    """``1-01-01T...`` (what strftime's %Y wrote for years below 1000) -> ``0001-01-01T...``."""
    m = _SHORT_YEAR.match(ts)
    return f"{int(m.group(1)):04d}-{ts[m.end() :]}" if m else ts


def _identities(contact: dict[str, Any]) -> list[list[str]]:
    """The keyed hashes opt-outs are matched against (revisit.domain.unsubscribes.identities)."""
    out: list[list[str]] = []
    if contact.get("email"):
        out.append(["EMAIL", hashing.keyed_hash(str(contact["email"]).strip().lower())])
    for name in ("phone", "whatsapp"):
        if contact.get(name):
            entry = ["PHONE", hashing.keyed_hash(str(contact[name]).strip())]
            if entry not in out:
                out.append(entry)
    return out


def _move(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Put ``new`` and delete ``old`` (as read) together. When ``new`` exists already (an earlier
    or concurrent run, or the new code recorded it) only the old item goes; False when the old
    one was gone already."""
    old_key = {keys.PK: old[keys.PK], keys.SK: old[keys.SK]}
    delete = {"Delete": {"Key": table.serialize(old_key), "ConditionExpression": "attribute_exists(pk)"}}
    try:
        table.transact([table.put_new_op(new), delete])
        return True
    except ConditionFailed as exc:
        if exc.failed_at(1):
            return False  # moved by another run
    try:
        table.client.delete_item(
            TableName=table.TABLE, Key=table.serialize(old_key), ConditionExpression="attribute_exists(pk)"
        )
        return True
    except table.client.exceptions.ConditionalCheckFailedException:
        return False


# ---------------------------------------------------------------- the migrations


def _purchases(item: dict[str, Any], dry_run: bool) -> bool:
    if item.get(keys.TYPE) != "purchase" or item[keys.SK] != keys.META:
        return False
    ws, store, pid = item["workspaceId"], item["storeSlug"], item["purchaseId"]
    if item[keys.PK] == keys.purchase(ws, store, pid)[keys.PK]:
        return False  # the new shape
    if dry_run:
        return True
    contact = {k: item[k] for k in ("email", "phone", "whatsapp") if item.get(k)}
    record = {k: v for k, v in item.items() if k not in (keys.PK, keys.SK, *keys.INDEX_KEYS, *contact)}
    record["identities"] = record.get("identities") or _identities(contact)
    if record.get("purchasedAt"):
        record["purchasedAt"] = four_digit_year(record["purchasedAt"])
    new = {**record, **keys.purchase(ws, store, pid), "gsi1pk": keys.purchase_id_pk(ws, pid), "gsi1sk": store}
    new |= purchases_dal.customer_keys(new)  # migration 0009's customer index, as the new code writes it
    return _move(item, new)


def _idempotency(item: dict[str, Any], dry_run: bool) -> bool:
    parts = item[keys.PK].split("#")
    if item.get(keys.TYPE) != "idempotency" or len(parts) != 3:
        return False  # the new shape is IDEM#ws#store#hash
    store = (item.get("response") or {}).get("storeSlug")
    if not store or (item.get(keys.TTL) or 0) <= time.time():
        return False  # expired (TTL deletes it) or nothing to scope it by
    if dry_run:
        return True
    _, ws, key_hash = parts
    record = {k: v for k, v in item.items() if k not in (keys.PK, keys.SK)}
    new = {**record, **keys.idempotency(ws, store, key_hash), "workspaceId": ws, "storeSlug": store}
    return _move(item, new)


def _tracker_contacts(item: dict[str, Any], dry_run: bool) -> bool:
    if item.get(keys.TYPE) != "tracker" or not item.get("contact") or keys.CONTACT_UNTIL in item:
        return False
    if dry_run:
        return True
    key = {keys.PK: item[keys.PK], keys.SK: item[keys.SK]}
    values = {":ids": table.value(item.get("identities") or _identities(item["contact"]))}
    pending = "gsi4pk" in item and item.get("status") not in ("completed", "expired", "failed", "cancelled")
    if pending and item.get("sendingType") != "external" and item.get("linkExpiresAt"):
        expression = f"SET identities = :ids, {keys.CONTACT_UNTIL} = :until"
        condition = f"attribute_exists(contact) AND attribute_not_exists({keys.CONTACT_UNTIL})"
        values[":until"] = table.value(_epoch(item["linkExpiresAt"]))
    else:
        expression = "SET identities = :ids REMOVE contact"
        condition = f"attribute_exists(contact) AND attribute_not_exists({keys.CONTACT_UNTIL})"
    try:
        table.update(key, expression, condition=condition, values=values)
        return True
    except ConditionFailed:
        return False  # changed meanwhile (sent, settled, another run): nothing to do


def _device_ttl(item: dict[str, Any], dry_run: bool) -> bool:
    if item.get(keys.TYPE) != "device" or keys.TTL in item:
        return False
    if dry_run:
        return True
    created = _epoch(item["createdAt"]) if item.get("createdAt") else int(time.time())
    try:
        table.update(
            {keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
            f"SET {keys.TTL} = :ttl",
            condition=f"attribute_exists(pk) AND attribute_not_exists({keys.TTL})",
            values={":ttl": table.value(created + DEVICE_LIFETIME_SECONDS)},
        )
        return True
    except ConditionFailed:
        return False


def _report_events(item: dict[str, Any]) -> tuple[dict[str, dict[str, int]], list[str]]:
    """What a stored tracker contributes to the tracker report and is not counted yet: counters per
    day, and the events (``sent:<index>``, ``clicked``, ``completed``) they stand for.

    The tracker keeps only its latest send (``sentAt``, ``sendingIndex``), so an earlier attempt
    ``k`` is dated ``sentAt - (sendingIndex - k) * resendDelayMinutes`` (exact but for quiet-hour
    deferrals and retries) and sent over the latest channel; the first click goes to the latest
    attempt sent by ``openedAt``; the answer to the latest attempt (answering stops the resends)."""
    from datetime import timedelta

    from revisit.dal import reports as reports_dal
    from revisit.dal.trackers import REPORT_COUNTED
    from revisit.domain import reports

    counted = set(item.get(REPORT_COUNTED) or ())
    survey = item.get("surveyId")
    if not survey or not item.get("workspaceId") or not item.get("storeSlug") or not item.get("createdAt"):
        return {}, []
    channel = reports.channel_of(item)
    index = int(item.get("sendingIndex") or 0)
    attempts: list[tuple[int, str]] = []  # (attempt, its estimated send time) - sent ones only
    if item.get("sentAt") and channel != reports.EXTERNAL:
        last = datetime.fromisoformat(four_digit_year(item["sentAt"]).replace("Z", "+00:00"))
        step = timedelta(minutes=int(item.get("resendDelayMinutes") or 0))
        attempts = [(k, _iso(last - step * (index - k))) for k in range(index + 1)]
    days: dict[str, dict[str, int]] = {}
    events: list[str] = []

    def add(kind: str, attempt: int, day: str, event: str) -> None:
        name = reports_dal.counter(kind, survey, attempt, channel)
        days.setdefault(day, {})[name] = days.get(day, {}).get(name, 0) + 1
        events.append(event)

    for k, at in attempts:
        if f"sent:{k}" not in counted:
            add("sent", k, at[:10], f"sent:{k}")
    external_day = str(item["createdAt"])[:10]
    opened = item.get("openedAt") or (item.get("updatedAt") if int(item.get("clicks") or 0) else None)
    if opened and "clicked" not in counted and (attempts or channel == reports.EXTERNAL):
        before = [(k, at) for k, at in attempts if at <= opened] or attempts[:1]
        k, at = before[-1] if before else (0, external_day)
        add("clicked", k, at[:10], "clicked")
    if item.get("status") == "completed" and "completed" not in counted and (attempts or channel == reports.EXTERNAL):
        k, at = attempts[-1] if attempts else (0, external_day)
        add("completed", k, at[:10], "completed")
    return days, events


def _iso(dt: datetime) -> str:
    return f"{dt.year:04d}-" + dt.astimezone(UTC).strftime("%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _tracker_report(item: dict[str, Any], dry_run: bool) -> bool:
    """Count what the tracker did before the live counting (or besides it) into the report, once:
    the tracker's ``reportCounted`` gains the events in the same transaction as the counters, on
    the condition that none of them is in it yet and that the tracker is still as read (a send,
    click or answer in between: it is read again and counted from its new state)."""
    from revisit.dal import reports as reports_dal
    from revisit.dal.trackers import REPORT_COUNTED

    for _attempt in range(5):
        if item.get(keys.TYPE) != "tracker" or item[keys.SK] != keys.META:
            return False
        days, events = _report_events(item)
        if not events:
            return False
        if dry_run:
            return True
        values: dict[str, Any] = {
            ":events": table.value(set(events)),
            ":idx": table.value(int(item.get("sendingIndex") or 0)),
            ":st": table.value(item.get("status") or ""),
        }
        fresh = []
        for i, event in enumerate(events):
            values[f":e{i}"] = table.value(event)
            fresh.append(f"NOT contains({REPORT_COUNTED}, :e{i})")
        same = "attribute_exists(pk) AND #s = :st AND "
        same += "sendingIndex = :idx" if "sendingIndex" in item else "attribute_not_exists(sendingIndex)"
        if item.get("openedAt"):
            same += " AND openedAt = :opened"
            values[":opened"] = table.value(item["openedAt"])
        else:
            same += " AND attribute_not_exists(openedAt)"
        tracker_update = {
            "Update": {
                "Key": table.serialize({keys.PK: item[keys.PK], keys.SK: item[keys.SK]}),
                "UpdateExpression": f"ADD {REPORT_COUNTED} :events",
                "ConditionExpression": " AND ".join([same, *fresh]),
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": values,
            }
        }
        ws, store = item["workspaceId"], item["storeSlug"]
        ops = [tracker_update] + [reports_dal.count_op(ws, store, day, c) for day, c in sorted(days.items())]
        try:
            table.transact(ops)
            return True
        except ConditionFailed:  # moved (or counted) since it was read: read it again
            fresh_item = table.get({keys.PK: item[keys.PK], keys.SK: item[keys.SK]})
            if fresh_item is None:
                return False
            item = fresh_item
    raise RuntimeError(f"tracker {item[keys.PK]} kept changing; run the migration again")


def _day_visits(ws: str, store: str, day: str) -> list[Any]:
    """The visits of ``day`` (UTC) at the store, from its raw records: the feedback and NPS review
    time lines (sort keys ``<createdAt>#<id>``), mapped by the aggregator's own ``visit_of``. The
    neighbouring days are read too and filtered on the visit's UTC day, whatever form the stored
    ``createdAt`` has."""
    from datetime import date, timedelta

    from revisit.dal.errors import InvalidRecord
    from revisit.domain import analytics

    d = date.fromisoformat(day)
    lo, hi = (d - timedelta(days=1)).isoformat(), (d + timedelta(days=1)).isoformat() + "~"
    visits = []
    for pk in (keys.feedback_store_pk(ws, store), keys.nps_store_pk(ws, store)):
        for item in table.query_all(**table.range_query(keys.PK, keys.SK, pk, lo, hi)):
            try:
                visit = analytics.visit_of("INSERT", item)
            except InvalidRecord:
                continue  # the aggregator skips it too
            if visit is not None and visit.day == day:
                visits.append(visit)
    return visits


_SQUARED = ("firstSq", "returnSq")
_CHECKED = ("total", "firstCount", "firstSum", "firstCsat", "returnCount", "returnSum", "returnCsat")


def _day_counters_of(item: dict[str, Any]) -> dict[str, int] | None:
    """What the aggregator would have counted on the item's day: first and return visits
    (classified by the customer states the aggregator keeps: ``firstFeedbackId``) with the sums of
    their squared ratings. None while the raw records and the counters disagree (a record still
    in the stream, a reclassification under way): the aggregator is behind."""
    from revisit.dal import analytics as agg

    ws, store, day = item["workspaceId"], item["storeSlug"], item["day"]
    c = dict.fromkeys(_CHECKED + _SQUARED, 0)
    states: dict[str, dict[str, Any] | None] = {}
    for visit in _day_visits(ws, store, day):
        c["total"] += 1
        if visit.civ is None:
            continue
        if visit.civ not in states:
            states[visit.civ] = agg.get_customer(ws, store, visit.civ)
        state = states[visit.civ]
        if state is None:
            return None  # not applied yet
        kind = "first" if state["firstFeedbackId"] == visit.id else "return"
        c[f"{kind}Count"] += 1
        c[f"{kind}Sum"] += visit.rating
        c[f"{kind}Sq"] += visit.rating * visit.rating
        c[f"{kind}Csat"] += 1 if visit.rating >= 4 else 0
    if any(c[name] != int(item.get(name, 0)) for name in _CHECKED):
        return None
    return c


def _day_squares(item: dict[str, Any], dry_run: bool) -> bool:
    """Set a day item's ``firstSq`` / ``returnSq`` to what the aggregator would have added since the
    first record, on the condition that the item's counters are still as read (a record applied
    in between: read again and recompute). New records keep adding to them (ADD) after."""
    for attempt in range(5):
        if item.get(keys.TYPE) != "agg_day" or not item[keys.SK].startswith("DAY#"):
            return False
        counted = _day_counters_of(item)
        if counted is None:
            time.sleep(0.2 * attempt)  # the aggregator is behind: give it a moment
        elif all(counted[name] == int(item.get(name, 0)) for name in _SQUARED):
            return False  # right already (migrated, or counted from the first record by the new code)
        elif dry_run:
            return True
        else:
            values: dict[str, Any] = {}
            names: dict[str, str] = {}
            same = ["attribute_exists(pk)"]
            for i, name in enumerate(_CHECKED + _SQUARED):
                names[f"#c{i}"] = name
                if name in item:
                    values[f":c{i}"] = table.value(item[name])
                    same.append(f"#c{i} = :c{i}")
                else:
                    same.append(f"attribute_not_exists(#c{i})")
            sets = []
            for name in _SQUARED:
                i = (_CHECKED + _SQUARED).index(name)
                values[f":n{i}"] = table.value(counted[name])
                sets.append(f"#c{i} = :n{i}")
            try:
                table.update(
                    {keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
                    "SET " + ", ".join(sets),
                    condition=" AND ".join(same),
                    names=names,
                    values=values,
                )
                return True
            except ConditionFailed:
                pass  # a record was applied meanwhile: read the item again
        fresh = table.get({keys.PK: item[keys.PK], keys.SK: item[keys.SK]})
        if fresh is None:
            return False
        item = fresh
    raise RuntimeError(
        f"day counters {item[keys.PK]} {item[keys.SK]} do not match the raw records yet (the aggregator is "
        "behind, or a record is in its failure queue): run the migration again later"
    )


def _feedback_by_id(item: dict[str, Any], dry_run: bool) -> bool:
    if item.get(keys.TYPE) != "feedback" or "gsi4pk" in item or not item.get("id") or not item.get("workspaceId"):
        return False
    if dry_run:
        return True
    try:
        table.update(
            {keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
            "SET gsi4pk = :pk, gsi4sk = :sk",
            condition="attribute_exists(pk) AND attribute_not_exists(gsi4pk)",
            values={
                ":pk": table.value(keys.feedback_id_pk(item["workspaceId"], item["id"])),
                ":sk": table.value(item["createdAt"]),
            },
        )
        return True
    except ConditionFailed:
        return False  # another run did it


_HOURLY = ("r1", "r2", "r3", "r4", "r5", "firstCount", "firstSum", "returnCount", "returnSum")
_HOURLY_NPS = ("nps:promoters", "nps:passives", "nps:detractors")


def _summed_hours(hours: dict[str, Any] | None) -> dict[str, int]:
    """An hour item's counters summed over its hours (``hHH:<name>`` -> ``<name>``)."""
    sums = dict.fromkeys(_HOURLY + _HOURLY_NPS, 0)
    for name, value in (hours or {}).items():
        if name[:1] == "h" and name[3:4] == ":" and name[4:] in sums:
            sums[name[4:]] += int(value)
    return sums


def _hours_of(item: dict[str, Any]) -> dict[str, int] | None:
    """The hour counters (``hHH:<name>``) the aggregator would have added on the item's day since
    its first record: the day's visits from the raw records, first or return by the customer states
    (``firstFeedbackId``). None while they and the day counters disagree (the aggregator is behind)."""
    from revisit.dal import analytics as agg
    from revisit.domain import analytics

    ws, store, day = item["workspaceId"], item["storeSlug"], item["day"]
    hours: dict[str, int] = {}
    totals = dict.fromkeys(("total", *_HOURLY, *_HOURLY_NPS), 0)
    states: dict[str, dict[str, Any] | None] = {}

    def add(at: str, name: str, delta: int) -> None:
        key = f"h{at[11:13]}:{name}"
        hours[key] = hours.get(key, 0) + delta
        totals[name] += delta

    for visit in _day_visits(ws, store, day):
        totals["total"] += 1
        add(visit.at, f"r{visit.rating}", 1)
        if visit.nps is not None:
            add(visit.at, f"nps:{analytics.nps_kind(visit.nps[0])}", 1)
        if visit.civ is None:
            continue
        if visit.civ not in states:
            states[visit.civ] = agg.get_customer(ws, store, visit.civ)
        state = states[visit.civ]
        if state is None:
            return None  # not applied yet
        kind = "first" if state["firstFeedbackId"] == visit.id else "return"
        add(visit.at, f"{kind}Count", 1)
        add(visit.at, f"{kind}Sum", visit.rating)
    if any(totals[name] != int(item.get(name, 0)) for name in totals):
        return None
    return {k: v for k, v in hours.items() if v}


def _hours(item: dict[str, Any], dry_run: bool) -> bool:
    """Give a day counter item's day its hour counters (HOURS#day), exact.

    A day is right already when its hour counters, summed over the hours, equal its day counters
    (ratings r1..r5, first/return count and sum, NPS kinds): then every record of the day was
    counted by the new aggregator, moves of former first visits included. Otherwise the day's hour
    counters are recomputed from its raw records and Put whole, in one transaction with a check that
    the day counters are still as read: every record applied - by old or new code - changes them,
    so one applied in between fails the check and the day is read again. Markers play no part (an
    expired one neither): the raw records and the customer states are the truth."""
    from revisit.dal import analytics as agg

    for attempt in range(5):
        if item.get(keys.TYPE) != agg.TYPE_DAY or not item[keys.SK].startswith("DAY#"):
            return False
        ws, store, day = item["workspaceId"], item["storeSlug"], item["day"]
        hours_key = keys.agg_hours(ws, store, day)
        current = table.get(hours_key, consistent=True)
        summed = _summed_hours(current)
        if all(summed[name] == int(item.get(name, 0)) for name in summed):
            return False  # migrated, or every record of the day counted by the new code
        counted = _hours_of(item)
        if counted is None:
            time.sleep(0.2 * attempt)  # the aggregator is behind: give it a moment
        elif dry_run:
            return True
        else:
            names: dict[str, str] = {}
            values: dict[str, Any] = {}
            same = ["attribute_exists(pk)"]
            for i, name in enumerate(("total", *_HOURLY, *_HOURLY_NPS)):
                names[f"#c{i}"] = name
                if name in item:
                    values[f":c{i}"] = table.value(item[name])
                    same.append(f"#c{i} = :c{i}")
                else:
                    same.append(f"attribute_not_exists(#c{i})")
            check: dict[str, Any] = {
                "Key": table.serialize({keys.PK: item[keys.PK], keys.SK: item[keys.SK]}),
                "ConditionExpression": " AND ".join(same),
                "ExpressionAttributeNames": names,
            }
            if values:
                check["ExpressionAttributeValues"] = values
            owner = {"workspaceId": ws, "storeSlug": store}
            new = {**hours_key, keys.TYPE: agg.TYPE_HOURS, **owner, "day": day, **counted}
            try:
                table.transact([{"ConditionCheck": check}, {"Put": {"Item": table.serialize(new)}}])
                return True
            except ConditionFailed:
                pass  # a record was applied meanwhile: read the day again
        fresh = table.get({keys.PK: item[keys.PK], keys.SK: item[keys.SK]}, consistent=True)
        if fresh is None:
            return False
        item = fresh
    raise RuntimeError(
        f"day counters {item[keys.PK]} {item[keys.SK]} do not match the raw records yet (the aggregator is "
        "behind, or a record is in its failure queue): run the migration again later"
    )


def _customer_keys(item: dict[str, Any], index: str, wanted: dict[str, str], dry_run: bool) -> bool:
    """Add the customer access path (``index``'s keys ``wanted``) to an item that lacks it,
    conditional on it still lacking it (a second run or the new code writing it: nothing twice)."""
    if not wanted or item.get(f"{index}pk") == wanted[f"{index}pk"]:
        return False
    if dry_run:
        return True
    try:
        table.update(
            {keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
            f"SET {index}pk = :pk, {index}sk = :sk",
            condition=f"attribute_exists(pk) AND attribute_not_exists({index}pk)",
            values={":pk": table.value(wanted[f"{index}pk"]), ":sk": table.value(wanted[f"{index}sk"])},
        )
        return True
    except ConditionFailed:
        return False


def _purchase_customers(item: dict[str, Any], dry_run: bool) -> bool:
    if item.get(keys.TYPE) != "purchase" or item[keys.SK] != keys.META or "storeSlug" not in item:
        return False
    return _customer_keys(item, "gsi2", purchases_dal.customer_keys(item), dry_run)


def _review_customers(item: dict[str, Any], dry_run: bool) -> bool:
    if item.get(keys.TYPE) != "nps_review" or not item.get("civ"):
        return False
    pk = keys.nps_customer_pk(item["workspaceId"], item["storeSlug"], item["civ"])
    return _customer_keys(item, "gsi3", {"gsi3pk": pk, "gsi3sk": item[keys.SK]}, dry_run)


def _review_contacts(item: dict[str, Any], dry_run: bool) -> bool:
    if item.get(keys.TYPE) != "nps_review" or item.get("client") is None:
        return False
    pk = keys.nps_contact_pk(item["workspaceId"], item["storeSlug"], int(item["client"]))
    return _customer_keys(item, "gsi4", {"gsi4pk": pk, "gsi4sk": item[keys.SK]}, dry_run)


def _token_customers(item: dict[str, Any], dry_run: bool) -> bool:
    if item.get(keys.TYPE) != "token" or item[keys.SK] != keys.META:
        return False
    civ = (item.get("payload") or {}).get("civ")
    if not isinstance(civ, str) or not civ:
        return False
    pk = keys.token_customer_pk(item["workspaceId"], item["storeSlug"], civ)
    return _customer_keys(item, "gsi1", {"gsi1pk": pk, "gsi1sk": f"TOKEN#{item['token']}"}, dry_run)


MIGRATIONS = (
    Migration("0001-purchases-by-store", "purchases keyed by store; contact as keyed hashes", "PURCHASE#", _purchases),
    Migration("0002-idempotency-by-store", "Idempotency-Key records keyed by store", "IDEM#", _idempotency),
    Migration(
        "0003-tracker-contacts", "a tracker's raw contact only while a send is pending", "TRACKER#", _tracker_contacts
    ),
    Migration("0004-device-ttl", "NPS device ids expire", "DID#", _device_ttl),
    Migration(
        "0005-tracker-report",
        "the tracker report's counters from the trackers' past sends, clicks and answers",
        "TRACKER#",
        _tracker_report,
    ),
    Migration(
        "0006-day-squares",
        "day counters keep the sums of squared ratings (the dashboard's 95 % intervals)",
        "AGG#",
        _day_squares,
    ),
    Migration("0007-feedback-by-id", "feedback records found by their id (the inbox)", "FB#", _feedback_by_id),
    Migration("0008-hour-counters", "hour counters of every day (the series of the store's calendar)", "AGG#", _hours),
    # A customer's data found by keys (access and erasure, revisit.domain.privacy): no Scan.
    Migration("0009-customer-purchases", "a store's purchases by customer id (gsi2)", "PURCHASE#", _purchase_customers),
    Migration("0009-customer-reviews", "a store's NPS reviews by loyalty_id (gsi3)", "NPS#", _review_customers),
    Migration("0009-customer-contacts", "a store's NPS reviews by reviewer number (gsi4)", "NPS#", _review_contacts),
    Migration("0009-customer-tokens", "a store's tokens by their payload's civ (gsi1)", "TOKEN#", _token_customers),
)


# ---------------------------------------------------------------- the runner


def _marker(migration_id: str) -> dict[str, Any] | None:
    return table.get(keys.migration(migration_id))


def _start(migration: Migration) -> None:
    item = {**keys.migration(migration.id), keys.TYPE: "migration", "status": "running", "startedAt": _now()}
    with contextlib.suppress(ConditionFailed):  # started before (interrupted) or by a concurrent run
        table.put_new(item)


def _advance(migration_id: str, seen: str | None, cursor: str | None, changed: int) -> bool:
    """Record the page done: the cursor moves from ``seen`` to ``cursor`` (None = the scan is
    through: applied). False when another run moved it first."""
    values: dict[str, Any] = {":n": table.value(changed)}
    if seen is None:
        condition = "attribute_not_exists(#c) AND #s = :running"
    else:
        condition = "#c = :seen AND #s = :running"
        values[":seen"] = table.value(seen)
    values[":running"] = table.value("running")
    if cursor is None:
        expression = "SET #s = :applied, appliedAt = :at ADD changed :n REMOVE #c"
        values[":applied"], values[":at"] = table.value("applied"), table.value(_now())
    else:
        expression = "SET #c = :cursor ADD changed :n"
        values[":cursor"] = table.value(cursor)
    try:
        table.update(
            keys.migration(migration_id),
            expression,
            condition=condition,
            names={"#c": "cursor", "#s": "status"},
            values=values,
        )
        return True
    except ConditionFailed:
        return False


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _scan_page(prefix: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    req: dict[str, Any] = {
        "TableName": table.TABLE,
        "Limit": limit,
        "ConsistentRead": True,
        "FilterExpression": "begins_with(pk, :p)",
        "ExpressionAttributeValues": {":p": table.value(prefix)},
    }
    if cursor:
        req["ExclusiveStartKey"] = json.loads(cursor)
    resp = table.client.scan(**req)
    last = resp.get("LastEvaluatedKey")
    return [table.deserialize(i) for i in resp.get("Items", [])], json.dumps(last, sort_keys=True) if last else None


def status() -> list[dict[str, Any]]:
    """Every migration and its marker's state."""
    out = []
    for m in MIGRATIONS:
        marker = _marker(m.id) or {}
        out.append({"id": m.id, "description": m.description, "status": marker.get("status", "pending")})
    return out


def run(
    *,
    dry_run: bool = False,
    only: str | None = None,
    page_size: int = 100,
    progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Apply every migration not applied yet (or just ``only``), page by page, resuming an
    interrupted one at its cursor. A dry run writes nothing and counts what would change."""
    outcomes = []
    for migration in MIGRATIONS:
        if only and migration.id != only:
            continue
        outcome = Outcome(migration.id)
        outcomes.append(outcome)
        marker = _marker(migration.id)
        if marker and marker.get("status") == "applied":
            outcome.status = "already applied"
            continue
        if not dry_run:
            _start(migration)
            marker = _marker(migration.id) or {}
        cursor = (marker or {}).get("cursor")
        outcome.resumed = cursor is not None
        while True:
            items, next_cursor = _scan_page(migration.prefix, page_size, cursor)
            changed = sum(1 for item in items if migration.step(item, dry_run))
            outcome.scanned += len(items)
            outcome.changed += changed
            outcome.pages += 1
            if progress:
                progress(outcome)
            if dry_run:
                if next_cursor is None:
                    outcome.status = "dry run"
                    break
                cursor = next_cursor
                continue
            if not _advance(migration.id, cursor, next_cursor, changed):
                marker = _marker(migration.id) or {}
                if marker.get("status") == "applied":  # a concurrent run finished it
                    break
                next_cursor = marker.get("cursor")  # a concurrent run is ahead: go on from there
            if next_cursor is None:
                break
            cursor = next_cursor
        if not dry_run:
            outcome.status = "applied now"
    return outcomes
