"""Imported feedback (issue 16 part 5): a past answer from another system, stored once.

| pattern                         | key / condition                                             |
|---------------------------------|-------------------------------------------------------------|
| import one row                  | TransactWrite: Put IMPORT#ws#externalId (condition new),    |
|                                 | Put the feedback record (condition new), ConditionCheck store |

The key item is the arbiter of "this externalId was imported": it is written in the same
transaction as the feedback record, so a retried or resumed import never stores a row twice,
also when two requests race for the same row.
"""

from __future__ import annotations

import random
import time
from typing import Any

from botocore.exceptions import ClientError

from revisit.dal import feedback as feedback_dal
from revisit.dal import keys, table
from revisit.dal.errors import AlreadyExists, UnknownStore

__all__ = ["UnknownStore", "write"]
ATTEMPTS = 5


def write(record: dict[str, Any], external_id: str, imported_at: str) -> bool:
    """Store one imported feedback record with its key item. False when this workspace imported
    ``external_id`` before (nothing written); UnknownStore when the record's store is gone."""
    ws, store = record["workspaceId"], record["storeSlug"]
    key_item = {
        **keys.import_key(ws, external_id),
        keys.TYPE: "import_key",
        "workspaceId": ws,
        "externalId": external_id,
        "storeSlug": store,
        "feedbackId": record["id"],
        "feedbackCreatedAt": record["createdAt"],
        "importedAt": imported_at,
    }
    ops = [
        table.put_new_op(key_item),
        table.put_new_op(feedback_dal.to_item(record)),
        table.must_exist(keys.store(ws, store)),
    ]
    for attempt in range(ATTEMPTS):
        try:
            table.transact(ops, failures=[AlreadyExists, AlreadyExists, UnknownStore])
            return True
        except AlreadyExists:
            return False
        except ClientError as exc:  # a concurrent import of the same row held the key: try again
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if "TransactionConflict" not in reasons or attempt == ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))
    return False  # pragma: no cover - the loop returns or raises


def get_key(workspace_id: str, external_id: str) -> dict[str, Any] | None:
    """The key item of an imported row (its feedback id and time), or None."""
    return table.get_record(keys.import_key(workspace_id, external_id))
