"""Issuing, listing and revoking credentials.

Every secret has at least 128 bits from the OS CSPRNG, is returned once at creation, and is
stored only as a SHA-256 hash (see ``auth.secret_hash``). A workspace holds at most
``MAX_ACTIVE_KEYS`` keys that are not revoked (409 beyond: revoke one first); the listing is paged.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

from revisit.dal import AlreadyRevoked, BadCursor, ConditionFailed, UnknownStore, UnknownWorkspace
from revisit.dal import credentials as dal
from revisit.domain.auth import Kind, secret_hash
from revisit.domain.util import iso, now, random_base62
from revisit.errors import Conflict, NotFound, field_error

PREFIX_LEN = 10
MAX_ACTIVE_KEYS = 100  # active (not revoked) credentials of every kind per workspace
MAX_PAGE = 100


def issue(
    workspace_id: str,
    kind: Kind,
    scope: str,
    store_slug: str | None = None,
    label: str | None = None,
    shop_id: str | None = None,
) -> dict[str, Any]:
    """Create a credential. Returns the record plus the secret parts, shown only here."""
    if scope == "store" and not store_slug:
        raise ValueError("store scope needs a store")
    # Checked before the write (one COUNT Query): concurrent creations at the limit may pass it
    # together - the quota bounds a workspace's keys, it is not a security boundary.
    if dal.count_active(workspace_id) >= MAX_ACTIVE_KEYS:
        raise Conflict(
            f"This workspace has {MAX_ACTIVE_KEYS} active keys, the most it may hold; revoke one first.",
            [{"field": "kind", "message": f"at most {MAX_ACTIVE_KEYS} active keys per workspace"}],
        )
    key_id = "key_" + random_base62(16)
    shown: dict[str, str]
    if kind is Kind.OWNER:
        token = "nk_live_" + random_base62(32)
        hash_, prefix, shown = secret_hash(kind, token), token[: PREFIX_LEN + 4], {"token": token}
    elif kind is Kind.API:
        key = "nk_" + random_base62(32)
        hash_, prefix, shown = secret_hash(kind, key), key[:PREFIX_LEN], {"key": key}
    elif kind is Kind.PARTNER:
        public, secret = "pk_" + random_base62(24), "sk_" + random_base62(40)
        hash_, prefix, shown = secret_hash(kind, secret, public), public, {"apiKey": public, "apiSecret": secret}
    else:  # Kind.SHOP: the public id is the store's shop id
        if not shop_id:
            raise ValueError("shop credentials need the store's shop id")
        secret = secrets.token_hex(16)
        hash_, prefix, shown = secret_hash(kind, secret, shop_id), shop_id, {"shopId": shop_id, "shopSecret": secret}
    record = {
        "keyId": key_id,
        "kind": kind.value,
        "scope": scope,
        "workspaceId": workspace_id,
        "storeSlug": store_slug if scope == "store" else None,
        "prefix": prefix,
        "label": label,
        "createdAt": iso(now()),
    }
    try:
        dal.create({k: v for k, v in record.items() if v is not None}, hash_)
    except (UnknownStore, UnknownWorkspace):
        what = f"Store '{store_slug}'" if store_slug else f"Workspace {workspace_id}"
        raise NotFound(
            f"{what} does not exist.", details=[{"field": "storeSlug", "message": "unknown store"}]
        ) from None
    except ConditionFailed:  # a key id or secret collision (AlreadyExists)
        raise Conflict("Credential collision; try again.") from None
    return {**{k: v for k, v in record.items() if v is not None}, **shown}


def list_keys(workspace_id: str) -> list[dict[str, Any]]:
    return sorted(dal.list_for_workspace(workspace_id), key=lambda r: (r["createdAt"], r["keyId"]))


def list_page(workspace_id: str, limit: int = MAX_PAGE, cursor: str | None = None) -> dict[str, Any]:
    """GET /api/keys: ``{"items": [...], "nextCursor": ...}`` in key id order, ``limit`` a page."""
    if not 1 <= limit <= MAX_PAGE:
        raise field_error("limit", f"must be between 1 and {MAX_PAGE}")
    try:
        items, next_cursor = dal.list_page(workspace_id, limit, cursor)
    except BadCursor as exc:
        raise field_error("cursor", str(exc)) from None
    return {"items": items, "nextCursor": next_cursor}


def revoke(workspace_id: str, key_id: str) -> dict[str, Any]:
    record = dal.get_registry(workspace_id, key_id)
    if record is None:
        raise NotFound(f"Key {key_id} does not exist.")
    if not record.get("revokedAt"):
        revoked_at = iso(now())
        with contextlib.suppress(AlreadyRevoked):  # revoked concurrently: the end state is the same
            dal.revoke(workspace_id, key_id, record["secretHash"], revoked_at)
        record["revokedAt"] = revoked_at
    return {k: v for k, v in record.items() if k != "secretHash"}
