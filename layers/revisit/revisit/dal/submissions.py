"""A customer's answer as ONE transaction: use the token, store the feedback record and, for a
tracker's token, complete the tracker (composed here, so the token and tracker modules stay
independent of each other)."""

from __future__ import annotations

from typing import Any

from revisit.dal import feedback as feedback_dal
from revisit.dal import table
from revisit.dal import tokens as tokens_dal
from revisit.dal import trackers as trackers_dal
from revisit.dal.errors import TokenNotOpen


def consume_with_feedback(token: dict[str, Any], feedback: dict[str, Any], now_iso: str, now_epoch: int) -> None:
    """TokenNotOpen when the token was used up, expired or closed since it was read."""
    ops = [
        tokens_dal.consume_op(token, feedback["id"], now_iso, now_epoch),
        table.put_new_op(feedback_dal.to_item(feedback)),
    ]
    if token.get("trackerId"):
        ops.append(trackers_dal.completion_update(token["trackerId"], now_iso))
    table.transact(ops, failures=[TokenNotOpen])
