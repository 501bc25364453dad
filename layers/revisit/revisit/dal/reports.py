"""The tracker report: per store and UTC day, how many sends each (survey, attempt, channel) made,
how many of them were clicked and how many answered (issue 16 part 4).

| pattern                          | key condition                                        |
|----------------------------------|------------------------------------------------------|
| a store's report days            | Query pk=TRKRPT#ws#store, sk BETWEEN DAY#from, DAY#to |

The counters are never computed from the trackers: each is ADDed in the same write that moves
a tracker (:func:`count_op` is an item of that transaction), so the report costs one Query of at
most 366 items whatever the number of trackers. A counter is the attribute
``<kind>:<surveyId>:<sendingIndex>:<channel>`` (kind: sent, clicked, completed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from revisit.dal import keys, table

KINDS = ("sent", "clicked", "completed")
TYPE = "tracker_report"  # not 'feedback'/'nps_review'/'tracker': no stream consumer reacts to it
_META = ("workspaceId", "storeSlug", "day")


def counter(kind: str, survey_id: str, sending_index: int, channel: str) -> str:
    return f"{kind}:{survey_id}:{int(sending_index)}:{channel}"


def parse_counter(name: str) -> tuple[str, str, int, str] | None:
    """(kind, surveyId, sendingIndex, channel) of a counter attribute, or None for another one."""
    parts = name.split(":")
    if len(parts) != 4 or parts[0] not in KINDS or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2]), parts[3]


def count_op(workspace_id: str, store_slug: str, day: str, counts: Mapping[str, int]) -> dict[str, Any]:
    """A transaction item that ADDs ``counts`` (counter name -> delta) to the store's day item
    (created by the first ADD)."""
    names = {"#t": keys.TYPE, "#w": "workspaceId", "#s": "storeSlug", "#d": "day"}
    values = {
        ":t": table.value(TYPE),
        ":w": table.value(workspace_id),
        ":s": table.value(store_slug),
        ":d": table.value(day),
    }
    adds = []
    for i, (name, delta) in enumerate(sorted(counts.items())):
        names[f"#c{i}"] = name
        values[f":n{i}"] = table.value(int(delta))
        adds.append(f"#c{i} :n{i}")
    return {
        "Update": {
            "TableName": table.TABLE,
            "Key": table.serialize(keys.tracker_report_day(workspace_id, store_slug, day)),
            "UpdateExpression": "SET #t = :t, #w = :w, #s = :s, #d = :d ADD " + ", ".join(adds),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def days(workspace_id: str, store_slug: str, day_from: str, day_to: str) -> list[dict[str, int]]:
    """The counters of each day ``day_from``..``day_to`` that has any (one Query, <= 366 items)."""
    lo, hi = keys.tracker_report_range(day_from, day_to)
    req = table.range_query(keys.PK, keys.SK, keys.tracker_report_pk(workspace_id, store_slug), lo, hi)
    out = []
    for item in table.query_all(**req):
        record = table.plain(item) or {}
        out.append({k: int(v) for k, v in record.items() if k not in _META and isinstance(v, int)})
    return out
