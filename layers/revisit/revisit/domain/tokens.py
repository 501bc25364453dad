"""Survey tokens: one-time links for POS/billing/email flows and reusable campaign tokens.

A token is ``tkn_`` + 22 base62 characters (131 bits from the OS CSPRNG), so a link such as
``https://fb.example.com/s/tkn_...`` stays around 50 characters, short enough for SMS.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from revisit.config import settings
from revisit.dal import IdempotencyKeyReused, UnknownStore
from revisit.dal import tokens as dal
from revisit.domain.auth import Principal
from revisit.domain.util import iso, now, parse_iso, random_base62, sha256_hex
from revisit.errors import Conflict, Gone, NotFound, field_error

TOKEN_RE = re.compile(r"^tkn_[A-Za-z0-9]{22}$")
IDEMPOTENCY_TTL = timedelta(hours=24)


def new_token_value() -> str:
    return "tkn_" + random_base62(22)


def survey_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/s/{token}"


def _ttl_days(requested: int | None) -> int:
    cap = settings().token_max_ttl_days
    days = requested or settings().token_default_ttl_days
    if days > cap:
        raise field_error("expiresInDays", f"at most {cap} days", "less_than_equal")
    return days


def _public(token: dict[str, Any], base_url: str) -> dict[str, Any]:
    out = {
        "token": token["token"],
        "url": survey_url(base_url, token["token"]),
        "expiresAt": token.get("expiresAt"),
        "storeSlug": token["storeSlug"],
        "kind": token["kind"],
    }
    if token["kind"] == "campaign":
        out.update({k: token.get(k) for k in ("campaignId", "maxUses", "uses", "status")})
    return out


IDEMPOTENCY_KEY_RE = re.compile(r"^[\x20-\x7e]{1,255}$")  # 1-255 printable ASCII characters


def check_idempotency_key(value: str | None) -> None:
    """An ``Idempotency-Key`` header (token creation, campaign submits): 400 naming it unless it
    is 1-255 printable ASCII characters (a lone surrogate could not even be hashed: a 500)."""
    if value is not None and not IDEMPOTENCY_KEY_RE.match(value):
        raise field_error("Idempotency-Key", "must be 1-255 printable ASCII characters")


def create_one_time(
    principal: Principal,
    store_slug: str,
    payload: dict[str, Any],
    source: str | None,
    expires_in_days: int | None,
    base_url: str,
    idempotency_key: str | None = None,
    request_fingerprint: str = "",
) -> tuple[dict[str, Any], bool]:
    """Create a one-time token. Returns (response, replayed) - replayed when the Idempotency-Key
    was seen before with the same request, in which case the first token is returned again."""
    check_idempotency_key(idempotency_key)
    principal.require_store(store_slug)
    created = now()
    expires = created + timedelta(days=_ttl_days(expires_in_days))
    token = one_time_record(principal, new_token_value(), store_slug, payload, source, created, expires)
    response = _public(token, base_url)
    key_hash = sha256_hex(idempotency_key) if idempotency_key else None
    idempotency = None
    if key_hash:
        record = {"requestHash": request_fingerprint, "response": response}
        idempotency = (key_hash, record, int(created.timestamp()), int((created + IDEMPOTENCY_TTL).timestamp()))
    try:
        dal.create(token, idempotency)
        return response, False
    except UnknownStore:
        raise _unknown_store(store_slug) from None
    except IdempotencyKeyReused:
        previous = dal.get_idempotency(principal.workspace_id, store_slug, key_hash or "")
    if previous is None or previous.get("requestHash") != request_fingerprint:
        raise Conflict(
            "This Idempotency-Key was already used with a different request.",
            [{"field": "Idempotency-Key", "message": "reused with a different body"}],
        )
    return previous["response"], True


def one_time_record(
    principal: Principal,
    value: str,
    store_slug: str,
    payload: dict[str, Any],
    source: str | None,
    created: datetime,
    expires: datetime,
    **extra: Any,
) -> dict[str, Any]:
    """A one-time token as stored: open until used or expired (``expiresEpoch``; the data layer
    also lets TTL delete it some time after)."""
    token = {
        "token": value,
        "kind": "one_time",
        "status": "open",
        "workspaceId": principal.workspace_id,
        "storeSlug": store_slug,
        "payload": payload,
        "source": source,
        "createdAt": iso(created),
        "createdBy": principal.key_id,
        "expiresAt": iso(expires),
        "expiresEpoch": int(expires.timestamp()),
        **extra,
    }
    return {k: v for k, v in token.items() if v is not None}


def _unknown_store(slug: str) -> NotFound:
    return NotFound(f"Store '{slug}' does not exist.", [{"field": "storeSlug", "message": "unknown store"}])


def fingerprint(data: Any) -> str:
    return sha256_hex(json.dumps(data, sort_keys=True, separators=(",", ":")))


def create_campaign(
    principal: Principal,
    store_slug: str,
    name: str,
    payload: dict[str, Any],
    source: str | None,
    expires_at: str | None,
    max_uses: int | None,
    base_url: str,
) -> dict[str, Any]:
    principal.require_store(store_slug)
    created = now()
    campaign_id = "cmp_" + random_base62(16)
    token_value = new_token_value()
    expires = parse_iso(expires_at) if expires_at else None
    if expires is not None and expires <= created:
        raise field_error("expiresAt", "must be in the future")
    common = {
        "workspaceId": principal.workspace_id,
        "storeSlug": store_slug,
        "campaignId": campaign_id,
        "status": "open",
        "createdAt": iso(created),
        "expiresAt": iso(expires) if expires else None,
        "maxUses": max_uses,
    }
    registry = {**common, "name": name, "token": token_value, "source": source}
    token = {
        **common,
        "token": token_value,
        "kind": "campaign",
        "uses": 0,
        "payload": payload,
        "source": source,
        # Campaign tokens are not TTL-deleted: their use count is history. Expiry is enforced on use.
        "expiresEpoch": int(expires.timestamp()) if expires else None,
    }
    try:
        dal.create_campaign(
            {k: v for k, v in registry.items() if v is not None}, {k: v for k, v in token.items() if v is not None}
        )
    except UnknownStore:
        raise _unknown_store(store_slug) from None
    return campaign_view(registry, base_url, uses=0)


def campaign_view(registry: dict[str, Any], base_url: str, uses: int | None = None) -> dict[str, Any]:
    out = {
        k: registry.get(k)
        for k in ("campaignId", "name", "storeSlug", "status", "createdAt", "expiresAt", "maxUses", "source")
    }
    out["token"] = registry["token"]
    out["url"] = survey_url(base_url, registry["token"])
    if uses is not None:
        out["uses"] = uses
    return out


def list_campaigns(principal: Principal, base_url: str) -> list[dict[str, Any]]:
    visible = principal.stores_visible()
    items = [c for c in dal.list_campaigns(principal.workspace_id) if visible is None or c["storeSlug"] == visible]
    return [campaign_view(c, base_url) for c in sorted(items, key=lambda c: c["createdAt"])]


def close_campaign(principal: Principal, campaign_id: str, base_url: str) -> dict[str, Any]:
    registry = dal.get_campaign(principal.workspace_id, campaign_id)
    if registry is None:
        raise NotFound(f"Campaign {campaign_id} does not exist.")
    principal.require_store(registry["storeSlug"])
    closed = iso(now())
    dal.close_campaign(principal.workspace_id, campaign_id, registry["token"], closed)
    registry.update(status="closed", closedAt=closed)
    return campaign_view(registry, base_url)


# ---------------------------------------------------------------- using a token


class TokenState:
    OPEN = "open"
    USED = "used"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    CLOSED = "closed"
    UNKNOWN = "unknown"


def state_of(token: dict[str, Any] | None, at_epoch: int) -> str:
    """The token's state at a time; expiry is checked here, not left to TTL (which lags by days)."""
    if token is None:
        return TokenState.UNKNOWN
    if token.get("status") == "used":
        return TokenState.USED
    if token.get("status") == "closed":
        return TokenState.CLOSED
    expiry = token.get("expiresEpoch")
    if expiry is not None and expiry <= at_epoch:
        return TokenState.EXPIRED
    if token.get("maxUses") is not None and token.get("uses", 0) >= token["maxUses"]:
        return TokenState.EXHAUSTED
    return TokenState.OPEN


def lookup(token_value: str) -> dict[str, Any] | None:
    if not TOKEN_RE.match(token_value):
        return None
    return dal.get(token_value)


def raise_for_state(state: str) -> None:
    if state == TokenState.UNKNOWN:
        raise NotFound("This survey link does not exist.", [{"field": "token", "message": "unknown token"}])
    if state == TokenState.USED:
        raise Conflict("This survey link has already been used.", [{"field": "token", "message": "already used"}])
    if state == TokenState.EXPIRED:
        raise Gone("This survey link has expired.", [{"field": "token", "message": "expired"}])
    if state in (TokenState.EXHAUSTED, TokenState.CLOSED):
        raise Gone("This survey is no longer accepting answers.", [{"field": "token", "message": state}])
