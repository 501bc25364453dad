"""A store's answers older than its retention (issue 18 part 5: ``retentionMonths``), by key.

| what                                   | key condition                                          |
|----------------------------------------|--------------------------------------------------------|
| feedback created before the cutoff     | Query pk=FB#ws#store, sk < <cutoff> (keys only)        |
| NPS reviews created before the cutoff  | Query pk=NPS#ws#store, sk < <cutoff> (keys only)       |
| customer-day activity before the day   | Query pk=AGGACT#ws#store, sk < DAY#<cutoff day> (keys) |
| watch entries last seen before the day | Query pk=AGG#ws#store, sk BETWEEN WATCH# AND WATCH#<cutoff day> (keys) |
| customer states last seen before       | Query pk=AGG#ws#store, begins_with(sk, CIV#), filter recent[0].at < cutoff |

Every Query reads at most ``limit`` keys (one run's budget; the next run goes on). Deleting is
BatchWriteItem (25 a call), or a Delete conditional on the version read for a customer state (the
aggregator may be counting a visit of that customer at that moment: then it stays).
"""

from __future__ import annotations

import time
from typing import Any

from revisit.dal import keys, table
from revisit.dal.errors import ConditionFailed


def _keys_below(pk: str, lo: str, hi: str, limit: int) -> list[dict[str, str]]:
    req = table.range_query(keys.PK, keys.SK, pk, lo, hi)
    req["ProjectionExpression"] = "#pk, #sk"
    out: list[dict[str, str]] = []
    while len(out) < limit:
        req["Limit"] = limit - len(out)
        resp = table.client.query(**req)
        out.extend({keys.PK: i[keys.PK]["S"], keys.SK: i[keys.SK]["S"]} for i in resp.get("Items", []))
        if "LastEvaluatedKey" not in resp:
            break
        req["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    return out


def old_answers(workspace_id: str, store_slug: str, cutoff: str, limit: int) -> list[dict[str, str]]:
    """The keys of the store's feedback records and NPS reviews created before ``cutoff`` (ISO)."""
    below = cutoff  # sort keys are "<createdAt>#<id>": one created at the cutoff sorts after it (kept)
    found = _keys_below(keys.feedback_store_pk(workspace_id, store_slug), "0", below, limit)
    return found + _keys_below(keys.nps_store_pk(workspace_id, store_slug), "0", below, limit - len(found))


def old_activity(workspace_id: str, store_slug: str, cutoff_day: str, limit: int) -> list[dict[str, str]]:
    """Keys of the customer-day activity and watch-list entries of days before ``cutoff_day``."""
    activity = _keys_below(keys.agg_activity_pk(workspace_id, store_slug), "DAY#", f"DAY#{cutoff_day}", limit)
    watch_hi = f"WATCH#{cutoff_day}"
    watch = _keys_below(keys.agg_store_pk(workspace_id, store_slug), "WATCH#", watch_hi, limit - len(activity))
    return [k for k in activity + watch if not k[keys.SK].startswith((f"DAY#{cutoff_day}", watch_hi))]


def idle_customers(workspace_id: str, store_slug: str, cutoff: str, limit: int) -> list[tuple[dict[str, str], int]]:
    """(key, version) of the store's customer states whose latest visit is before ``cutoff``."""
    req: dict[str, Any] = {
        "TableName": table.TABLE,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :civ)",
        "FilterExpression": "recent[0].#at < :cutoff",
        "ProjectionExpression": "pk, sk, version",
        "ExpressionAttributeNames": {"#at": "at"},
        "ExpressionAttributeValues": {
            ":pk": table.value(keys.agg_store_pk(workspace_id, store_slug)),
            ":civ": table.value("CIV#"),
            ":cutoff": table.value(cutoff),
        },
    }
    out: list[tuple[dict[str, str], int]] = []
    while len(out) < limit:
        resp = table.client.query(**req)
        out.extend(
            ({keys.PK: i[keys.PK]["S"], keys.SK: i[keys.SK]["S"]}, int(i["version"]["N"]))
            for i in resp.get("Items", [])
        )
        if "LastEvaluatedKey" not in resp:
            break
        req["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    return out[:limit]


def delete(item_keys: list[dict[str, str]]) -> int:
    """Delete these items (BatchWriteItem, 25 a call; unprocessed ones sent again). The count."""
    for start in range(0, len(item_keys), 25):
        request: dict[str, Any] = {
            table.TABLE: [{"DeleteRequest": {"Key": table.serialize(k)}} for k in item_keys[start : start + 25]]
        }
        for attempt in range(10):
            resp = table.client.batch_write_item(RequestItems=request)
            request = resp.get("UnprocessedItems") or {}
            if not request:
                break
            time.sleep(min(1.0, 0.05 * 2**attempt))
        else:
            raise RuntimeError("BatchWriteItem kept returning unprocessed items")
    return len(item_keys)


def delete_customer(key: dict[str, str], version: int) -> bool:
    """Delete a customer state if it still has ``version`` (else a visit was just counted: keep it)."""
    try:
        table.client.delete_item(
            TableName=table.TABLE,
            Key=table.serialize(key),
            ConditionExpression="version = :v",
            ExpressionAttributeValues={":v": table.value(version)},
        )
        return True
    except table.client.exceptions.ConditionalCheckFailedException:
        return False
    except ConditionFailed:  # pragma: no cover - translated elsewhere
        return False
