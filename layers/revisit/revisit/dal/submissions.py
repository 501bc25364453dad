"""A customer's answer as ONE transaction: use the token, store the feedback record and, for a
tracker's token, complete the tracker (composed here, so the token and tracker modules stay
independent of each other). What a retry of the same answer needs is written in that same
transaction: on a one-time token its request hash and the feedback's id (the token's expiry
extended), on a campaign token an Idempotency-Key record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from revisit.dal import feedback as feedback_dal
from revisit.dal import keys, table
from revisit.dal import tokens as tokens_dal
from revisit.dal import trackers as trackers_dal
from revisit.dal.errors import Contention, IdempotencyKeyReused, TokenNotOpen

__all__ = ["Contention", "IdempotencyKeyReused", "Retry", "TokenNotOpen", "consume_with_feedback", "get_feedback"]


@dataclass(frozen=True)
class Retry:
    """What a retry of this answer is recognised by.

    ``request_hash``: SHA-256 of the normalised answer. One-time token: kept on the token, whose
    expiry becomes ``keep_until_epoch``. ``key_hash`` (campaign token with an Idempotency-Key):
    an idempotency record for that key on this token, expiring at ``keep_until_epoch``.
    """

    request_hash: str
    keep_until_epoch: int
    key_hash: str | None = None


def consume_with_feedback(
    token: dict[str, Any],
    feedback: dict[str, Any],
    now_iso: str,
    now_epoch: int,
    retry: Retry | None = None,
    *,
    tracker: dict[str, Any] | None = None,
    report: dict[str, Any] | None = None,
) -> None:
    """TokenNotOpen when the token was used up, expired or closed since it was read;
    IdempotencyKeyReused when the campaign token's Idempotency-Key has an unexpired record;
    Contention when a concurrent transaction held one of the items, or the token's ``tracker``
    (as read: its send is on the feedback record) was sent again meanwhile (re-read and try
    again). ``report`` (the tracker report's ``completed``) is written in the same transaction."""
    one_time = token["kind"] == "one_time"
    consume = tokens_dal.consume_op(
        token,
        feedback["id"],
        now_iso,
        now_epoch,
        request_hash=retry.request_hash if retry and one_time else None,
        feedback_created_at=feedback["createdAt"],
        keep_until_epoch=retry.keep_until_epoch if retry else None,
    )
    ops = [consume, table.put_new_op(feedback_dal.to_item(feedback))]
    failures: list[Any] = [TokenNotOpen, None]
    if token.get("trackerId"):
        if tracker is not None:
            completion = trackers_dal.completion_update(
                token["trackerId"],
                now_iso,
                sending_index=int(tracker.get("sendingIndex") or 0),
                sent_at=tracker.get("sentAt"),
            )
            ops.append(completion)
            failures.append(Contention)  # sent again since it was read: re-read, try again
        else:
            ops.append(trackers_dal.completion_update(token["trackerId"], now_iso))
            failures.append(None)
    if report is not None:
        ops.append(report)
        failures.append(None)
    if retry and retry.key_hash and not one_time:
        record = {
            "requestHash": retry.request_hash,
            "feedbackId": feedback["id"],
            "feedbackCreatedAt": feedback["createdAt"],
        }
        ops.append(
            tokens_dal.submit_idempotency_op(token["token"], retry.key_hash, record, now_epoch, retry.keep_until_epoch)
        )
        failures.append(IdempotencyKeyReused)
    try:
        table.transact(ops, failures=failures)
    except ClientError as exc:
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
        if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException" and (
            "TransactionConflict" in reasons
        ):
            raise Contention() from None
        raise


def get_feedback(workspace_id: str, store_slug: str, created_at: str, feedback_id: str) -> dict[str, Any] | None:
    """The stored feedback record (as :func:`consume_with_feedback` was given it), or None."""
    record = table.get_record(keys.feedback(workspace_id, store_slug, created_at, feedback_id))
    if record is not None:
        record.pop("commentLc", None)
    return record
