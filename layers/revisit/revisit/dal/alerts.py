"""Alert emails' markers and opt-outs (docs/alerts.md, docs/data-model.md).

| pattern                                   | key                                                    |
|-------------------------------------------|--------------------------------------------------------|
| an alert / digest went to an address      | GetItem/PutItem pk=ALERTSENT#ws#store, sk=<kind>#<h>#<address key> |
| a digest week done for the store          | the same, address key ``ALL``                          |
| an address opted out of a store's alerts  | BatchGetItem pk=UNSUB#ws#store, sk=ALERT#<address key> |
| the stores with alert addresses           | Query gsi1 pk=ALERTSTORES (revisit.dal.workspaces)     |

A marker is claimed (conditional put, ``status: sending``) before the email goes out and set to
``sent`` after SES took it; a failed send deletes the claim (conditional on it being ours) so a
retry sends. A claim left by a crashed sender is taken over after ``lease_seconds``. Markers
expire with the TTL.
"""

from __future__ import annotations

import contextlib
from typing import Any

from revisit.dal import keys, table
from revisit.dal.errors import AlreadyExists, ConditionFailed

TYPE_MARKER = "alert_marker"
OPT_OUT_KIND = "ALERT"
SENT, SENDING = "sent", "sending"


def marker(workspace_id: str, store_slug: str, subject: str, address_key: str) -> dict[str, str]:
    """The marker of one email (``address_key`` ``ALL``: the week's digest, every address)."""
    return keys.alert_marker(workspace_id, store_slug, subject, address_key)


def claim(key: dict[str, str], now_epoch: int, lease_seconds: int, expires_epoch: int) -> bool:
    """Claim the right to send this email: True when it is ours to send now; False when it was
    sent already, or another sender's claim is younger than the lease."""
    item = {**key, keys.TYPE: TYPE_MARKER, "status": SENDING, "claimedAt": now_epoch, keys.TTL: expires_epoch}
    try:
        table.put_new(item)
        return True
    except AlreadyExists:
        pass
    found = table.get(key) or {}
    if found.get("status") != SENDING or int(found.get("claimedAt") or 0) > now_epoch - lease_seconds:
        return False
    try:  # a stale claim: take it over, unless someone else just did
        table.update(
            key,
            "SET claimedAt = :now",
            condition="#s = :sending AND claimedAt = :old",
            names={"#s": "status"},
            values={
                ":now": table.value(now_epoch),
                ":sending": table.value(SENDING),
                ":old": table.value(found.get("claimedAt")),
            },
        )
    except ConditionFailed:
        return False
    return True


def is_sent(key: dict[str, str]) -> bool:
    return (table.get(key) or {}).get("status") == SENT


def mark_sent(key: dict[str, str], record: dict[str, Any], expires_epoch: int) -> None:
    """The email went out (``record``: its provider id, when)."""
    table.update_fields(key, {**record, "status": SENT, keys.TTL: expires_epoch})


def put_sent(key: dict[str, str], record: dict[str, Any], expires_epoch: int) -> None:
    """A marker that is done at once (the week's digest went to every address)."""
    with contextlib.suppress(AlreadyExists):
        table.put_new({**key, keys.TYPE: TYPE_MARKER, **record, "status": SENT, keys.TTL: expires_epoch})


def release(key: dict[str, str], claimed_at: int) -> None:
    """Give a claim back after a failed send (only if it is still this claim)."""
    from botocore.exceptions import ClientError

    try:
        table.client.delete_item(
            TableName=table.TABLE,
            Key=table.serialize(key),
            ConditionExpression="#s = :sending AND claimedAt = :at",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":sending": table.value(SENDING), ":at": table.value(claimed_at)},
        )
    except ClientError as exc:
        if not isinstance(table.translate(exc), ConditionFailed):
            raise


def opt_out(workspace_id: str, store_slug: str, address_key: str, record: dict[str, Any]) -> None:
    """The address gets no more alerts or digests of this store (idempotent: the first record stays)."""
    key = keys.unsubscribe(workspace_id, store_slug, OPT_OUT_KIND, address_key)
    with contextlib.suppress(AlreadyExists):
        table.put_new({**key, keys.TYPE: "alert_unsubscribe", **record})


def opted_out(workspace_id: str, store_slug: str, address_keys: list[str]) -> set[str]:
    """Which of these address keys opted out of the store's alerts (one BatchGetItem, <= 10 keys)."""
    if not address_keys:
        return set()
    wanted = {table.serialize(keys.unsubscribe(workspace_id, store_slug, OPT_OUT_KIND, k))["sk"]["S"]: k
              for k in address_keys}  # fmt: skip
    request = {table.TABLE: {"Keys": [table.serialize(keys.unsubscribe(workspace_id, store_slug, OPT_OUT_KIND, k))
                                      for k in address_keys], "ProjectionExpression": "sk"}}  # fmt: skip
    found: set[str] = set()
    while request:
        resp = table.client.batch_get_item(RequestItems=request)
        found |= {wanted[i["sk"]["S"]] for i in resp.get("Responses", {}).get(table.TABLE, [])}
        request = resp.get("UnprocessedKeys") or {}
    return found
