"""A customer's answer: consume the token and store the feedback in one atomic write."""

from __future__ import annotations

from typing import Any

from revisit.dal import TokenNotOpen
from revisit.dal import submissions as dal
from revisit.domain import tokens
from revisit.domain.util import iso, new_id, now


def submit(token_value: str, rating: int, comment: str | None, civ: str | None) -> dict[str, Any]:
    """Store one feedback record for the token.

    - one-time token: exactly one submission ever succeeds, however many race (409 for the rest);
    - campaign token: every use is a new record, until it expires, closes or reaches maxUses;
    - ``civ`` in the body wins over the token payload's; either alone is used; none = anonymous.
    """
    at = now()
    epoch = int(at.timestamp())
    token = tokens.lookup(token_value)
    tokens.raise_for_state(tokens.state_of(token, epoch))
    assert token is not None
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
    feedback = {k: v for k, v in feedback.items() if v is not None}
    try:
        dal.consume_with_feedback(token, feedback, iso(at), epoch)
    except TokenNotOpen:
        # Lost a race (or the token changed state since we read it): report its state now.
        state = tokens.state_of(tokens.lookup(token_value), epoch)
        tokens.raise_for_state(state if state != tokens.TokenState.OPEN else tokens.TokenState.USED)
        raise
    return feedback
