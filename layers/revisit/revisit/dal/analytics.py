"""CIV loyalty aggregates: the stream aggregator's state and the dashboard's reads of it.

| item                          | pk                 | sk                          | written with            |
|-------------------------------|--------------------|-----------------------------|-------------------------|
| day counters of a store       | AGG#ws#store       | DAY#yyyy-mm-dd              | ADD (Update)            |
| hour counters of a store's day| AGG#ws#store       | HOURS#yyyy-mm-dd            | ADD (Update)            |
| customer state (store, civ)   | AGG#ws#store       | CIV#civ                     | Put, version condition  |
| watch list entry              | AGG#ws#store       | WATCH#yyyy-mm-dd#civ        | Put / Delete            |
| customer activity on a day    | AGGACT#ws#store    | DAY#yyyy-mm-dd#CIV#civ      | ADD (Update)            |
| applied-record marker         | AGGMARK#source#id  | META                        | Put, attribute_not_exists, TTL |

| access pattern (dashboard)          | key condition                                          |
|-------------------------------------|--------------------------------------------------------|
| day counters of a period            | pk=AGG#ws#store, sk BETWEEN DAY#from AND DAY#to        |
| hour counters of a period (series)  | pk=AGG#ws#store, sk BETWEEN HOURS#from AND HOURS#to    |
| customers active in a period        | pk=AGGACT#ws#store, sk BETWEEN DAY#from# AND DAY#to$   |
| watched customers seen in a period  | pk=AGG#ws#store, sk BETWEEN WATCH#from# AND WATCH#to$  |

Every change of one source record is ONE TransactWriteItems whose first item is the marker: a
replayed record fails that condition and changes nothing (:class:`AlreadyApplied`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from revisit.dal import keys, table
from revisit.dal.errors import AlreadyApplied, Contention

TYPE_MARKER = "agg_marker"
TYPE_DAY = "agg_day"
TYPE_HOURS = "agg_hours"
TYPE_ACTIVITY = "agg_activity"
TYPE_CUSTOMER = "agg_customer"
TYPE_WATCH = "agg_watch"

_HIDDEN = (*keys.HIDDEN, "workspaceId", "storeSlug")

__all__ = [
    "AlreadyApplied",
    "Change",
    "Contention",
    "activity",
    "apply",
    "day_counters",
    "get_customer",
    "hour_counters",
    "watch_list",
]


@dataclass(frozen=True)
class Change:
    """Everything one source record changes, applied atomically by :func:`apply`.

    ``day_deltas`` maps a day to counter deltas (added with ADD; zeros are left out);
    ``hour_deltas`` likewise maps a UTC day to its hour counters' deltas (``hHH:<counter>``, one
    item per day: :func:`hour_counters`).
    ``customer`` is the customer's whole new state; ``customer_version`` the version the stored
    state must still have (``None``: it must not exist yet). ``watch`` puts the customer's
    watch-list entry (keyed by its ``lastVisitAt`` day); ``unwatch_day`` deletes the entry keyed
    by that day (the customer left the list, or their latest visit moved to another day).
    """

    source: str
    record_id: str
    workspace_id: str
    store_slug: str
    applied_at: str
    marker_expires_epoch: int
    day_deltas: dict[str, dict[str, int]] = field(default_factory=dict)
    hour_deltas: dict[str, dict[str, int]] = field(default_factory=dict)
    civ: str | None = None
    activity_day: str | None = None
    customer: dict[str, Any] | None = None
    customer_version: int | None = None
    watch: dict[str, Any] | None = None
    unwatch_day: str | None = None


def _strip(item: dict[str, Any] | None) -> dict[str, Any] | None:
    return table.plain(item, _HIDDEN)


def get_customer(workspace_id: str, store_slug: str, civ: str) -> dict[str, Any] | None:
    """The customer's state at the store (strongly consistent: the aggregator builds on it)."""
    return _strip(table.get(keys.agg_customer(workspace_id, store_slug, civ), consistent=True))


def _adds(deltas: dict[str, int], set_values: dict[str, Any]) -> dict[str, Any]:
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets, adds = [], []
    for i, (name, v) in enumerate(set_values.items()):
        names[f"#s{i}"], values[f":s{i}"] = name, table.value(v)
        sets.append(f"#s{i} = :s{i}")
    for i, (name, delta) in enumerate(sorted(deltas.items())):
        names[f"#a{i}"], values[f":a{i}"] = name, table.value(delta)
        adds.append(f"#a{i} :a{i}")
    expression = "SET " + ", ".join(sets)
    if adds:
        expression += " ADD " + ", ".join(adds)
    return {"UpdateExpression": expression, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}


def _items(change: Change) -> list[dict[str, Any]]:
    ws, store = change.workspace_id, change.store_slug
    owner = {"workspaceId": ws, "storeSlug": store}
    marker = {
        **keys.agg_marker(change.source, change.record_id),
        keys.TYPE: TYPE_MARKER,
        **owner,
        "source": change.source,
        "recordId": change.record_id,
        "appliedAt": change.applied_at,
        keys.TTL: change.marker_expires_epoch,
    }
    items: list[dict[str, Any]] = [
        {"Put": {"Item": table.serialize(marker), "ConditionExpression": "attribute_not_exists(pk)"}}
    ]
    if change.customer is not None and change.civ is not None:
        state = {**keys.agg_customer(ws, store, change.civ), keys.TYPE: TYPE_CUSTOMER, **owner, **change.customer}
        put: dict[str, Any] = {"Item": table.serialize(state)}
        if change.customer_version is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = {":v": table.value(change.customer_version)}
        items.append({"Put": put})  # index 1: its version condition is the contention check
    for day, deltas in sorted(change.day_deltas.items()):
        nonzero = {k: v for k, v in deltas.items() if v}
        update = _adds(nonzero, {keys.TYPE: TYPE_DAY, **owner, "day": day})
        items.append({"Update": {"Key": table.serialize(keys.agg_day(ws, store, day)), **update}})
    for day, deltas in sorted(change.hour_deltas.items()):
        nonzero = {k: v for k, v in deltas.items() if v}
        update = _adds(nonzero, {keys.TYPE: TYPE_HOURS, **owner, "day": day})
        items.append({"Update": {"Key": table.serialize(keys.agg_hours(ws, store, day)), **update}})
    if change.activity_day is not None and change.civ is not None:
        update = _adds(
            {"visits": 1}, {keys.TYPE: TYPE_ACTIVITY, **owner, "day": change.activity_day, "civ": change.civ}
        )
        key = keys.agg_activity(ws, store, change.activity_day, change.civ)
        items.append({"Update": {"Key": table.serialize(key), **update}})
    if change.civ is not None and change.watch is not None:
        key = keys.agg_watch(ws, store, change.watch["lastVisitAt"][:10], change.civ)
        items.append({"Put": {"Item": table.serialize({**key, keys.TYPE: TYPE_WATCH, **owner, **change.watch})}})
    if change.civ is not None and change.unwatch_day is not None:
        items.append({"Delete": {"Key": table.serialize(keys.agg_watch(ws, store, change.unwatch_day, change.civ))}})
    return items


def apply(change: Change) -> None:
    """Write the marker and every aggregate change of one source record in ONE transaction.

    Raises AlreadyApplied when the marker exists (a redelivered record), Contention when the
    customer state is no longer the one the change was computed from (re-read and retry).
    """
    try:
        table.transact(_items(change), failures=[AlreadyApplied, Contention if change.customer is not None else None])
    except ClientError as exc:
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
        if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException" and (
            "TransactionConflict" in reasons
        ):
            raise Contention() from None
        raise


def counter_updates(workspace_id: str, store_slug: str, **deltas: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """The transaction items that ADD ``deltas`` - a :class:`Change`'s ``*_deltas`` fields (day,
    hour, ... counters) - exactly as :func:`apply` writes them, without a marker (the erasure
    negates a customer's sums with them: revisit.domain.privacy)."""
    change = Change("", "", workspace_id, store_slug, "", 0, **deltas)  # type: ignore[arg-type]
    return _items(change)[1:]


def _between(pk: str, lo: str, hi: str) -> list[dict[str, Any]]:
    return table.query_all(**table.range_query(keys.PK, keys.SK, pk, lo, hi))


def day_counters(
    workspace_id: str, store_slug: str, day_from: str, day_to: str, counters: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The store's day counter items of days ``day_from``..``day_to`` (inclusive, YYYY-MM-DD);
    days without feedback have no item. At most 366 small items: one Query page. ``counters``:
    read only these counters (and ``day``); a missing counter is 0 to the caller."""
    lo, hi = keys.agg_day_range(day_from, day_to)
    request = table.range_query(keys.PK, keys.SK, keys.agg_store_pk(workspace_id, store_slug), lo, hi)
    if counters is not None:
        names = {f"#c{i}": name for i, name in enumerate(("day", *counters))}
        request["ProjectionExpression"] = ", ".join(["#sk", *names])
        request["ExpressionAttributeNames"] |= names
    return [_strip(i) for i in table.query_all(**request)]


def hour_counters(workspace_id: str, store_slug: str, day_from: str, day_to: str) -> list[dict[str, Any]]:
    """The store's hour counter items of UTC days ``day_from``..``day_to`` (inclusive): ``day`` and
    its ``hHH:<counter>`` attributes; days without feedback have no item. At most 367 items of at
    most ~5 KB (24 hours x 12 counters): one Query, a few 1 MB pages at most."""
    lo, hi = keys.agg_hours_range(day_from, day_to)
    return [_strip(i) for i in _between(keys.agg_store_pk(workspace_id, store_slug), lo, hi)]


def activity(workspace_id: str, store_slug: str, day_from: str, day_to: str) -> list[tuple[str, str, int]]:
    """``(day, customer, visits)`` of every identified customer on every day of the period they
    gave feedback: one item per active customer-day (about 120 bytes each, so ~8,000 per 1 MB
    page). ``customer`` identifies the customer at the store: their civ as a key part (the civ,
    or its SHA-256 for a civ of more than 512 bytes, see :func:`keys.agg_civ_part`)."""
    lo, hi = keys.agg_activity_range(day_from, day_to)
    request = table.range_query(keys.PK, keys.SK, keys.agg_activity_pk(workspace_id, store_slug), lo, hi)
    # Thousands of items at a busy store: read only the sort key (DAY#<day>#CIV#<customer>) and
    # the count, and decode them directly. Parsing is most of the cost of this call (botocore's
    # shape parser takes ~4 us an attribute); DynamoDB charges the whole item all the same.
    request["ProjectionExpression"] = "#sk, visits"
    prefix = len("DAY#yyyy-mm-dd#CIV#")
    return [
        (i[keys.SK]["S"][4:14], i[keys.SK]["S"][prefix:], int(i["visits"]["N"]) if "visits" in i else 0)
        for i in table.query_raw(**request)
    ]


def watch_list(workspace_id: str, store_slug: str, day_from: str, day_to: str) -> list[dict[str, Any]]:
    """The watch-list entries (customers whose recent ratings fell below their earlier average)
    whose latest visit is on a day ``day_from``..``day_to``: one range of the store's partition."""
    lo, hi = keys.agg_watch_range(day_from, day_to)
    return [_strip(i) for i in _between(keys.agg_store_pk(workspace_id, store_slug), lo, hi)]
