"""A customer's erasure at a store (issue 18 part 5): the tombstone, the aggregate transactions
and the deletion of the raw items. The plan itself is the domain's (revisit.domain.privacy).

The tombstone: pk ``AGGTOMB#ws#store#<keyed hash of the civ>``, sk ``META``; ``erasedAt``, ``status``
(running / done), ``cursor``, the frozen ``plan`` while running - never the civ.

| pattern                                   | calls                                                      |
|-------------------------------------------|------------------------------------------------------------|
| tombstone (the aggregator, new customers) | GetItem (consistent)                                       |
| applied-record markers of the records     | BatchGetItem, 100 keys a call (consistent)                 |
| the aggregate changes                     | TransactWriteItems, <= 99 items + the tombstone a chunk    |
| the raw items                             | BatchWriteItem (DeleteRequest), 25 a call                  |

The aggregate changes are ONE transaction when they fit (99 items), else chunks in a fixed order,
each with the tombstone's ``cursor`` moved from k to k + 1 under the condition ``cursor = k``: a
retried chunk fails that condition and subtracts nothing twice; an interrupted erasure resumes at
the cursor from the plan kept in the tombstone (which holds days, counters and record ids, never
the civ: the keys that contain it are rebuilt from the request).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from revisit.dal import analytics, keys, table
from revisit.dal.errors import ConditionFailed, Contention

TYPE_TOMBSTONE = "agg_tombstone"
CHUNK = 99  # items per transaction besides the tombstone's own (the limit is 100)

__all__ = [
    "Contention",
    "Plan",
    "TombstoneMoved",
    "delete_items",
    "get_tombstone",
    "markers",
    "run",
]


class TombstoneMoved(ConditionFailed):
    """Another erasure of this customer wrote the tombstone meanwhile: read it again."""


@dataclass
class Plan:
    """The aggregate changes of one erasure, frozen before its first transaction (JSON in the
    tombstone while it runs). ``deltas``: a Change's ``*_deltas`` fields, already negated."""

    erased_at: str
    marker_expires_epoch: int
    deltas: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    visits: int = 0  # the counted visits subtracted (informative)
    activity_days: list[str] = field(default_factory=list)
    watch_day: str | None = None
    state_version: int | None = None  # the customer state to delete (None: there is none)
    claims: list[list[str]] = field(default_factory=list)  # [source, id] of unapplied records


def get_tombstone(workspace_id: str, store_slug: str, civ_hash: str) -> dict[str, Any] | None:
    """The customer's erasure tombstone at the store (``erasedAt``, ``status``, ``cursor``,
    ``plan`` while running), strongly consistent; None if never erased."""
    item = table.get(keys.agg_tombstone(workspace_id, store_slug, civ_hash), consistent=True)
    return table.plain(item)


def markers(records: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The applied-record markers of ``(source, record id)`` pairs that have one (BatchGetItem,
    consistent, 100 keys a call; unprocessed keys asked again)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    wanted = [table.serialize(keys.agg_marker(s, i)) for s, i in dict.fromkeys(records)]
    for start in range(0, len(wanted), 100):
        request: dict[str, Any] = {table.TABLE: {"Keys": wanted[start : start + 100], "ConsistentRead": True}}
        for attempt in range(10):
            resp = table.client.batch_get_item(RequestItems=request)
            for raw in resp.get("Responses", {}).get(table.TABLE, []):
                item = table.deserialize(raw) or {}
                found[(item["source"], item["recordId"])] = table.plain(item) or {}
            request = resp.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(min(1.0, 0.05 * 2**attempt))
        else:
            raise Contention()
    return found


def _ops(workspace_id: str, store_slug: str, civ: str, plan: Plan) -> list[tuple[dict[str, Any], bool]]:
    """The plan as transaction items in a fixed order, each with whether its condition failing
    means "re-plan" (the customer state moved, a claimed record was applied meanwhile)."""
    ws, store = workspace_id, store_slug
    ops: list[tuple[dict[str, Any], bool]] = []
    if plan.state_version is not None:
        delete = {
            "Key": table.serialize(keys.agg_customer(ws, store, civ)),
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": {":v": table.value(plan.state_version)},
        }
        ops.append(({"Delete": delete}, True))
    for source, record_id in plan.claims:
        marker = {
            **keys.agg_marker(source, record_id),
            keys.TYPE: analytics.TYPE_MARKER,
            "workspaceId": ws,
            "storeSlug": store,
            "source": source,
            "recordId": record_id,
            "appliedAt": plan.erased_at,
            "erased": True,  # claimed by an erasure: never counted, nothing to subtract
            keys.TTL: plan.marker_expires_epoch,
        }
        ops.append(
            ({"Put": {"Item": table.serialize(marker), "ConditionExpression": "attribute_not_exists(pk)"}}, True)
        )
    ops.extend((op, False) for op in analytics.counter_updates(ws, store, **plan.deltas))
    for day in plan.activity_days:
        ops.append(({"Delete": {"Key": table.serialize(keys.agg_activity(ws, store, day, civ))}}, False))
    if plan.watch_day is not None:
        ops.append(({"Delete": {"Key": table.serialize(keys.agg_watch(ws, store, plan.watch_day, civ))}}, False))
    return ops


def _tombstone_op(
    workspace_id: str,
    store_slug: str,
    civ_hash: str,
    plan: Plan,
    k: int,
    last: bool,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    key = keys.agg_tombstone(workspace_id, store_slug, civ_hash)
    status = "done" if last else "running"
    if k == 0:
        item: dict[str, Any] = {
            **key,
            keys.TYPE: TYPE_TOMBSTONE,
            "workspaceId": workspace_id,
            "storeSlug": store_slug,
            "civHash": civ_hash,
            "erasedAt": plan.erased_at,
            "status": status,
            "cursor": 1,
            "erasures": int((previous or {}).get("erasures", 0)) + 1,
        }
        if not last:
            item["plan"] = json.dumps(asdict(plan), sort_keys=True)
        put: dict[str, Any] = {"Item": table.serialize(item)}
        if previous is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "erasedAt = :prev AND #st = :done"
            put["ExpressionAttributeNames"] = {"#st": "status"}
            put["ExpressionAttributeValues"] = {
                ":prev": table.value(previous["erasedAt"]),
                ":done": table.value("done"),
            }
        return {"Put": put}
    update = "SET #c = :next" + (", #st = :done REMOVE #p" if last else "")
    names = {"#c": "cursor", **({"#st": "status", "#p": "plan"} if last else {})}
    values = {":k": table.value(k), ":next": table.value(k + 1), ":t": table.value(plan.erased_at)}
    if last:
        values[":done"] = table.value("done")
    return {
        "Update": {
            "Key": table.serialize(key),
            "UpdateExpression": update,
            "ConditionExpression": "#c = :k AND erasedAt = :t",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def plan_of(tombstone: dict[str, Any]) -> Plan:
    """The frozen plan of a running erasure (from its tombstone)."""
    return Plan(**json.loads(tombstone["plan"]))


def run(
    workspace_id: str,
    store_slug: str,
    civ: str,
    civ_hash: str,
    plan: Plan,
    previous: dict[str, Any] | None,
    cursor: int = 0,
) -> int:
    """Apply the plan's aggregate changes from chunk ``cursor`` on; returns the transactions made.

    ``previous``: the tombstone as read before a new erasure (None: none yet), which the first
    chunk's Put is conditional on. TombstoneMoved: another erasure got there first; Contention:
    the customer state or a claimed record moved since the plan was made (make it again). Both
    only from the first chunk, which holds the state's delete and every claim.
    """
    ops = _ops(workspace_id, store_slug, civ, plan)
    chunks = [ops[i : i + CHUNK] for i in range(0, len(ops), CHUNK)] or [[]]
    if any(replan for chunk in chunks[1:] for _, replan in chunk):
        raise Contention()  # more records in flight than one transaction holds: try again later
    made = 0
    for k in range(cursor, len(chunks)):
        last = k == len(chunks) - 1
        items = [_tombstone_op(workspace_id, store_slug, civ_hash, plan, k, last, previous)]
        items.extend(op for op, _ in chunks[k])
        failures: list[Any] = [TombstoneMoved, *(Contention if replan else None for _, replan in chunks[k])]
        try:
            table.transact(items, failures=failures)
        except ClientError as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if "TransactionConflict" in reasons:
                raise Contention() from None
            raise
        made += 1
    return made


def delete_items(item_keys: list[dict[str, str]]) -> int:
    """Delete the items with these keys (BatchWriteItem, 25 a call, unprocessed ones sent again);
    deleting an absent item is a no-op, so a retry is harmless. Returns the calls made."""
    unique = list({(k[keys.PK], k[keys.SK]): k for k in item_keys}.values())
    calls = 0
    for start in range(0, len(unique), 25):
        request: dict[str, Any] = {
            table.TABLE: [{"DeleteRequest": {"Key": table.serialize(k)}} for k in unique[start : start + 25]]
        }
        for attempt in range(10):
            calls += 1
            resp = table.client.batch_write_item(RequestItems=request)
            request = resp.get("UnprocessedItems") or {}
            if not request:
                break
            time.sleep(min(1.0, 0.05 * 2**attempt))
        else:
            raise Contention()
    return calls
