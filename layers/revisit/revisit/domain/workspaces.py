"""Workspaces and stores."""

from __future__ import annotations

import re
import secrets
from typing import Any

from revisit.dal import AlreadyExists, UnknownWorkspace
from revisit.dal import workspaces as dal
from revisit.domain.cache import MISSING, TtlCache
from revisit.domain.util import iso, now
from revisit.errors import Conflict, NotFound, field_error

WORKSPACE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Every new shop starts with one NPS category and one channel, so the seed's /nps/create works
# at once (`revisit bootstrap` prints their codes); the owner renames, adds or deactivates them.
DEFAULT_CATEGORY = {
    "id": 1,
    "code": "default",
    "name": "Overall experience",
    "promoter_question": "What did you like most?",
    "promoter_success": "Thank you! We are glad you enjoyed it.",
    "passive_question": "What could we do better?",
    "passive_success": "Thank you for your feedback.",
    "detractor_question": "What went wrong?",
    "detractor_success": "Thank you for telling us; we will do better.",
    "active": True,
}
DEFAULT_CHANNEL = {"id": 2, "code": "default", "name": "Default", "active": True}


def ensure_workspace(workspace_id: str, name: str | None = None) -> bool:
    """Create the workspace if it does not exist; True when it was created now."""
    if not WORKSPACE_ID_RE.match(workspace_id):
        raise field_error("workspaceId", "1-64 letters, digits, '-' or '_'")
    return dal.create_workspace(workspace_id, name or workspace_id, iso(now()))


def create_store(workspace_id: str, slug: str, name: str | None = None, timezone: str = "UTC") -> dict[str, Any]:
    store = {
        "workspaceId": workspace_id,
        "slug": slug,
        "name": name or slug,
        "timezone": timezone,
        "shopId": secrets.token_hex(15),
        "createdAt": iso(now()),
    }
    defaults = (
        {**DEFAULT_CATEGORY, "createdAt": store["createdAt"]},
        {**DEFAULT_CHANNEL, "createdAt": store["createdAt"]},
    )
    try:
        dal.create_store(store, *defaults)
    except UnknownWorkspace:
        raise NotFound(f"Workspace {workspace_id} does not exist.") from None
    except AlreadyExists:
        raise Conflict(f"Store '{slug}' already exists in this workspace.") from None
    return store


def get_store(workspace_id: str, slug: str) -> dict[str, Any]:
    store = dal.get_store(workspace_id, slug)
    if store is None:
        raise NotFound(f"Store '{slug}' does not exist.", details=[{"field": "storeSlug", "message": "unknown store"}])
    return store


def find_store(workspace_id: str, slug: str) -> dict[str, Any] | None:
    return dal.get_store(workspace_id, slug)


def list_stores(workspace_id: str) -> list[dict[str, Any]]:
    return dal.list_stores(workspace_id)


def store_by_shop_id(shop_id: str) -> dict[str, Any] | None:
    return dal.store_by_shop_id(shop_id)


STORE_CACHE_SECONDS = 300.0
_store_cache = TtlCache(max_entries=1024)


def cached_store(workspace_id: str, slug: str) -> dict[str, Any] | None:
    """A store's public facts (name, time zone) for display, cached in the container for 5 min."""
    store = _store_cache.get((workspace_id, slug))
    if store is MISSING:
        store = dal.get_store(workspace_id, slug)
        _store_cache.put((workspace_id, slug), store, STORE_CACHE_SECONDS)
    return store
