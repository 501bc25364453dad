"""A customer's answer: consume the token and store the feedback in one atomic write.

Retry-safe: a submit whose response was lost can be sent again and gets the first answer back
(``Submitted.replayed``), never a second record.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from revisit.dal import Contention, IdempotencyKeyReused, TokenNotOpen
from revisit.dal import submissions as dal
from revisit.dal import tokens as tokens_dal
from revisit.dal import trackers as trackers_dal
from revisit.domain import reports, tokens
from revisit.domain.util import iso, new_id, now, sha256_hex
from revisit.errors import Conflict

REPLAY_WINDOW = timedelta(hours=24)  # how long after use a retry still gets the first answer
MAX_ATTEMPTS = 8  # transactions tried when concurrent ones on the same token conflict


@dataclass(frozen=True)
class Submitted:
    """The stored feedback record, and whether it was stored by an earlier identical request."""

    feedback: dict[str, Any]
    replayed: bool


def request_hash(rating: int, comment: str | None, civ: str | None) -> str:
    """SHA-256 of the canonical JSON of the normalised answer (an empty comment or civ = none)."""
    return tokens.fingerprint({"rating": rating, "comment": comment or None, "civ": civ or None})


def submit(
    token_value: str,
    rating: int,
    comment: str | None,
    civ: str | None,
    *,
    idempotency_key: str | None = None,
    token_record: dict[str, Any] | None = None,
) -> Submitted:
    """Store one feedback record for the token.

    - one-time token: exactly one submission ever succeeds, however many race. The same answer
      again (rating, comment, civ) within 24 h of use gets the first record back
      (``replayed``); a different one is a Conflict (409);
    - campaign token: every use is a new record, until it expires, closes or reaches maxUses;
      only an ``idempotency_key`` (scoped to the token, kept 24 h) makes a retry return the first
      record; the same key with a different answer is a Conflict naming ``Idempotency-Key``;
      on a one-time token the key is accepted and changes nothing;
    - ``civ`` in the body wins over the token payload's; either alone is used; none = anonymous.

    ``token_record``: the token as the caller has just read it (the survey page reads it for the
    language and the store), so it is not read twice; the write is conditional on the token's
    state all the same, and a stale record only costs the re-read of a lost race.
    """
    tokens.check_idempotency_key(idempotency_key)
    at = now()
    epoch = int(at.timestamp())
    answer_hash = request_hash(rating, comment, civ)
    token = token_record if token_record is not None else tokens.lookup(token_value)
    for attempt in range(MAX_ATTEMPTS):
        state = tokens.state_of(token, epoch)
        if state != tokens.TokenState.OPEN:
            return _replay_or_raise(token, state, answer_hash, idempotency_key, rating, epoch)
        assert token is not None
        key_hash = sha256_hex(idempotency_key) if idempotency_key and token["kind"] == "campaign" else None
        tracker = trackers_dal.get(token["trackerId"]) if token.get("trackerId") else None
        feedback = _new_feedback(token, rating, comment, civ, at, tracker)
        retry = dal.Retry(answer_hash, _keep_until(token, epoch), key_hash)
        completed = reports.count(tracker, "completed") if tracker else None
        try:
            dal.consume_with_feedback(token, feedback, iso(at), epoch, retry, tracker=tracker, report=completed)
            return Submitted(feedback, replayed=False)
        except TokenNotOpen:
            # Lost a race (or the token changed state since we read it): answer from its state now.
            token = tokens.lookup(token_value)
            state = tokens.state_of(token, epoch)
            state = state if state != tokens.TokenState.OPEN else tokens.TokenState.USED
            return _replay_or_raise(token, state, answer_hash, idempotency_key, rating, epoch)
        except IdempotencyKeyReused:
            previous = tokens_dal.get_submit_idempotency(token_value, key_hash or "", epoch)
            if previous is not None:
                return _from_idempotency_record(token, previous, answer_hash, rating)
            token = tokens.lookup(token_value)  # it expired in between: claim the key again
        except Contention:
            # A concurrent transaction held the token (or tracker): wait a little, re-read, retry.
            time.sleep(random.uniform(0, min(0.25, 0.01 * 2**attempt)))  # jitter: the racers spread out
            token = tokens.lookup(token_value)
    raise Conflict(
        "This survey link is busy with another submission; please try again.",
        [{"field": "token", "message": "busy"}],
    )


def _new_feedback(
    token: dict[str, Any],
    rating: int,
    comment: str | None,
    civ: str | None,
    at: datetime,
    tracker: dict[str, Any] | None = None,
) -> dict:
    """The feedback record; through a tracker's link it also names the tracker and the send the
    answer followed (``sendingIndex``, ``channel``)."""
    payload = token.get("payload") or {}
    resolved_civ = civ or payload.get("civ") or None
    order_id = payload.get("orderId")
    feedback = {
        "id": new_id(),
        "workspaceId": token["workspaceId"],
        "storeSlug": token["storeSlug"],
        "rating": rating,
        "comment": comment or None,
        "civ": str(resolved_civ) if resolved_civ is not None else None,
        "civSource": ("body" if civ else "token") if resolved_civ else None,
        "orderId": str(order_id) if order_id is not None else None,
        "payload": payload,
        "source": token.get("source"),
        "tokenKind": token["kind"],
        "campaignId": token.get("campaignId"),
        "createdAt": iso(at),
    }
    if tracker is not None:
        feedback |= {
            "trackerId": tracker["id"],
            "sendingIndex": int(tracker.get("sendingIndex") or 0),
            "channel": reports.channel_of(tracker),
        }
    return {k: v for k, v in feedback.items() if v is not None}


def _keep_until(token: dict[str, Any], epoch: int) -> int:
    """A one-time token's expiry once used: readable (for retries) 24 h after use, and never
    earlier than the link's own expiry. A campaign key's record: 24 h."""
    window_end = epoch + int(REPLAY_WINDOW.total_seconds())
    if token["kind"] == "one_time" and token.get("expiresEpoch") is not None:
        return max(int(token["expiresEpoch"]), window_end)
    return window_end


def _replay_or_raise(
    token: dict[str, Any] | None, state: str, answer_hash: str, idempotency_key: str | None, rating: int, epoch: int
) -> Submitted:
    """The first answer when this request repeats it, else the error of the token's state."""
    if token is not None and token["kind"] == "one_time":
        if (
            state == tokens.TokenState.USED
            and token.get("submitHash") == answer_hash
            and token.get("feedbackId")
            and epoch < int(token.get("expiresEpoch") or 0)  # past it the token is gone (TTL)
        ):
            return _stored(token, token["feedbackId"], token.get("feedbackCreatedAt") or token.get("usedAt"), rating)
    elif token is not None and idempotency_key:
        previous = tokens_dal.get_submit_idempotency(token["token"], sha256_hex(idempotency_key), epoch)
        if previous is not None:
            return _from_idempotency_record(token, previous, answer_hash, rating)
    tokens.raise_for_state(state)
    raise AssertionError(state)  # raise_for_state raises for every state but OPEN


def _from_idempotency_record(
    token: dict[str, Any] | None, previous: dict[str, Any], answer_hash: str, rating: int
) -> Submitted:
    if previous.get("requestHash") != answer_hash:
        raise Conflict(
            "This Idempotency-Key was already used with a different answer.",
            [{"field": "Idempotency-Key", "message": "reused with a different body"}],
        )
    assert token is not None
    return _stored(token, previous["feedbackId"], previous["feedbackCreatedAt"], rating)


def _stored(token: dict[str, Any], feedback_id: str, created_at: str, rating: int) -> Submitted:
    record = dal.get_feedback(token["workspaceId"], token["storeSlug"], created_at, feedback_id)
    if record is None:  # erased since (the answer is still the first one's)
        record = {
            "id": feedback_id,
            "workspaceId": token["workspaceId"],
            "storeSlug": token["storeSlug"],
            "rating": rating,
            "createdAt": created_at,
        }
    return Submitted(record, replayed=True)
