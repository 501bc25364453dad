"""The tenant limit's shared counters (revisit.domain.limits, docs/operations.md "Abuse limits").

| item                         | pk        | sk              | written with                                |
|------------------------------|-----------|-----------------|---------------------------------------------|
| a workspace's minute         | RATE#ws   | W#<epoch minute>| UpdateItem ADD count (+ TTL), UPDATED_NEW   |

A container adds the requests it served since its last report; the answer is the minute's total
over every container. TTL removes the item ~2 minutes after its minute.
"""

from __future__ import annotations

from revisit.dal import keys, table

TYPE_USAGE = "tenant_usage"


def add_use(workspace_id: str, window: int, served: int, expires_epoch: int) -> int:
    """ADD ``served`` to the workspace's count of minute ``window``; the new total (one UpdateItem)."""
    resp = table.client.update_item(
        TableName=table.TABLE,
        Key=table.serialize(keys.tenant_usage(workspace_id, window)),
        UpdateExpression="ADD #c :n SET #t = :type, #e = :exp",
        ExpressionAttributeNames={"#c": "count", "#t": keys.TYPE, "#e": keys.TTL},
        ExpressionAttributeValues={
            ":n": table.value(served),
            ":type": table.value(TYPE_USAGE),
            ":exp": table.value(expires_epoch),
        },
        ReturnValues="UPDATED_NEW",
    )
    return int(resp["Attributes"]["count"]["N"])
