"""Who is calling: credentials -> Principal, and what a principal may touch.

Secrets are looked up by their SHA-256 hash (one GetItem). A positive look-up is cached in the
container, and trusted without a read for at most ``REVOCATION_BOUND_SECONDS`` (5 s) - or
``CREDENTIAL_CACHE_SECONDS`` when that is shorter (0 turns the cache off): a revoked key stops
working within 5 s in every warm container (docs/operations.md). Past that age the same GetItem
reads it again, so a key in use costs at most one read per 5 s per container and a request of a
warm container still makes no credential call. Failures are never cached and never say which
part was wrong.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from enum import StrEnum

from revisit.config import settings
from revisit.dal import credentials as credentials_dal
from revisit.domain import limits
from revisit.domain.cache import MISSING, TtlCache
from revisit.domain.util import sha256_hex
from revisit.errors import Forbidden, Unauthenticated


class Kind(StrEnum):
    OWNER = "owner"  # Authorization: Bearer nk_live_... + x-workspace-id
    API = "api"  # x-api-key: nk_...
    PARTNER = "partner"  # X-API-KEY + X-API-SECRET
    SHOP = "shop"  # shop_id + shop_secret


@dataclass(frozen=True)
class Principal:
    workspace_id: str
    kind: Kind
    scope: str  # "workspace" | "store"
    store_slug: str | None
    key_id: str

    def can_access_store(self, slug: str) -> bool:
        return self.scope == "workspace" or self.store_slug == slug

    def require_store(self, slug: str) -> None:
        if not self.can_access_store(slug):
            raise Forbidden()

    def stores_visible(self) -> str | None:
        """None = every store of the workspace, else the one store this key is bound to."""
        return None if self.scope == "workspace" else self.store_slug


@dataclass(frozen=True)
class Presented:
    """Credentials as the caller presented them, independent of headers or query strings."""

    bearer: str | None = None
    workspace_id: str | None = None
    api_key: str | None = None
    api_secret: str | None = None
    shop_id: str | None = None
    shop_secret: str | None = None


_cache = TtlCache(max_entries=1024)  # secret hash -> (read at, look-up record); positive answers only
REVOCATION_BOUND_SECONDS = 5.0  # the longest a revoked credential keeps working in a warm container
_clock = time.monotonic  # when a cached look-up was read (tests move it)


def secret_hash(kind: Kind, secret: str, public_id: str | None = None) -> str:
    """The stored hash of a secret; pairs (key + secret) hash both parts together."""
    material = secret if public_id is None else f"{public_id}:{secret}"
    return sha256_hex(f"{kind.value}:{material}")


def trusted_seconds() -> float:
    """How long a cached look-up is used without reading it again: the revocation bound."""
    return min(settings().credential_cache_seconds, REVOCATION_BOUND_SECONDS)


def _lookup(hash_: str) -> dict | None:
    return _lookup_fresh(hash_)[0]


def _lookup_fresh(hash_: str) -> tuple[dict | None, bool]:
    """(the look-up record or None, whether it was read from the table just now)."""
    hit = _cache.get(hash_)
    if hit is not MISSING and _clock() - hit[0] < trusted_seconds():
        return hit[1], False
    return _read(hash_), True


def _read(hash_: str) -> dict | None:
    read_at = _clock()
    record = credentials_dal.lookup(hash_)
    if record and not record.get("revokedAt"):
        _cache.put(hash_, (read_at, record), trusted_seconds())
        return record
    _cache.pop(hash_)
    return None


def clear_cache() -> None:
    _cache.clear()


def authenticate(presented: Presented, allowed: frozenset[Kind]) -> Principal:
    """Resolve presented credentials; 401 if unknown/revoked/missing, 403 if of a kind not allowed."""
    if presented.bearer is not None:
        kind, hash_ = Kind.OWNER, secret_hash(Kind.OWNER, presented.bearer)
    elif presented.api_key is not None and presented.api_secret is not None:
        kind, hash_ = Kind.PARTNER, secret_hash(Kind.PARTNER, presented.api_secret, presented.api_key)
    elif presented.api_key is not None:
        kind, hash_ = Kind.API, secret_hash(Kind.API, presented.api_key)
    elif presented.shop_id is not None and presented.shop_secret is not None:
        kind, hash_ = Kind.SHOP, secret_hash(Kind.SHOP, presented.shop_secret, presented.shop_id)
    else:
        raise Unauthenticated()
    record, fresh = _lookup_fresh(hash_)
    if record is None or record.get("kind") != kind.value:
        raise Unauthenticated()
    if kind is Kind.OWNER and not hmac.compare_digest(str(presented.workspace_id or ""), str(record["workspaceId"])):
        raise Unauthenticated()
    principal = Principal(
        workspace_id=record["workspaceId"],
        kind=kind,
        scope=record["scope"],
        store_slug=record.get("storeSlug"),
        key_id=record["keyId"],
    )
    if kind not in allowed:
        raise Forbidden()
    limits.admit(principal.workspace_id, fresh)  # the tenant's share (429 beyond it)
    return principal


def authenticate_stored(kind: Kind, hash_: str, workspace_id: str) -> Principal:
    """A credential verified once before (a web app session keeps its hash, never the secret),
    resolved again through the same cache as :func:`authenticate`: a revoked or unknown one - or
    one of another kind or workspace - raises 401 within ``REVOCATION_BOUND_SECONDS``."""
    record = _lookup(hash_)
    if (
        record is None
        or record.get("kind") != kind.value
        or not hmac.compare_digest(str(workspace_id), str(record["workspaceId"]))
    ):
        raise Unauthenticated()
    return Principal(
        workspace_id=record["workspaceId"],
        kind=kind,
        scope=record["scope"],
        store_slug=record.get("storeSlug"),
        key_id=record["keyId"],
    )
