"""Workspaces and stores."""

from __future__ import annotations

import re
import secrets
from typing import Any

from revisit.config import settings as runtime_settings
from revisit.dal import AlreadyExists, NoSuchItem, UnknownWorkspace
from revisit.dal import workspaces as dal
from revisit.domain import locales
from revisit.domain.auth import Principal
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


# A store's settings besides its name and time zone (validated by the caller); absent = not set.
SETTINGS = ("locale", "brandColor", "logoUrl", "reviewPrompt", "questions", "alertEmails", "alertMaxRating",
            "weeklyDigest", "retentionMonths")  # fmt: skip
# Alert emails (docs/alerts.md): defaults on read, so a store stored before these settings needs
# no migration - it has no addresses, which means no alerts and no digest.
ALERT_MAX_RATING_DEFAULT = 2  # an answer of 1 or 2 stars alerts
WEEKLY_DIGEST_DEFAULT = True  # the digest goes to the alert addresses unless turned off


def alert_settings(store: dict[str, Any]) -> tuple[list[str], int, bool]:
    """(alert addresses, the highest rating that alerts, weekly digest on) of a store."""
    max_rating = store.get("alertMaxRating")
    digest = store.get("weeklyDigest")
    return (
        list(store.get("alertEmails") or []),
        int(max_rating) if max_rating is not None else ALERT_MAX_RATING_DEFAULT,
        bool(digest) if digest is not None else WEEKLY_DIGEST_DEFAULT,
    )


def create_store(
    workspace_id: str,
    slug: str,
    name: str | None = None,
    timezone: str = "UTC",
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A new store (with its NPS shop id and first category and channel); ``settings`` are the
    optional ones of :data:`SETTINGS` (e.g. ``{"locale": "fr"}``)."""
    given = {k: v for k, v in (settings or {}).items() if v is not None}
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise field_error(unknown[0], "is not a store setting")
    store = {
        "workspaceId": workspace_id,
        "slug": slug,
        "name": name or slug,
        "timezone": timezone,
        **given,
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


def store_settings(principal: Principal, slug: str) -> dict[str, Any]:
    """GET /api/stores/{storeSlug}: the owner, a workspace key or a key of this very store."""
    principal.require_store(slug)
    return settings_view(get_store(principal.workspace_id, slug))


def update_store(principal: Principal, slug: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change some of a store's settings (None removes an optional one) in one conditional write;
    the store's settings after it. This container's cached copy is dropped at once (others keep
    theirs for at most STORE_CACHE_SECONDS)."""
    principal.require_store(slug)
    unknown = sorted(set(changes) - {"name", "timezone", *SETTINGS})
    if unknown:
        raise field_error(unknown[0], "cannot be changed")
    for required in ("name", "timezone"):
        if required in changes and changes[required] is None:
            raise field_error(required, "cannot be null (a store always has one)")
    if not changes:
        return store_settings(principal, slug)
    try:
        store = dal.update_store(principal.workspace_id, slug, changes, iso(now()))
    except NoSuchItem:
        raise NotFound(
            f"Store '{slug}' does not exist.", details=[{"field": "storeSlug", "message": "unknown store"}]
        ) from None
    finally:
        _store_cache.pop((principal.workspace_id, slug))
    return settings_view(store)


def settings_view(store: dict[str, Any]) -> dict[str, Any]:
    """A store's settings as the API shows them: every one named, null when not set."""
    return {
        "storeSlug": store["slug"],
        "name": store.get("name") or store["slug"],
        "timezone": store.get("timezone") or "UTC",
        "locale": store.get("locale") or locales.DEFAULT,
        "brandColor": store.get("brandColor"),
        "logoUrl": store.get("logoUrl"),
        "reviewPrompt": store.get("reviewPrompt"),
        "questions": store.get("questions"),
        **dict(zip(("alertEmails", "alertMaxRating", "weeklyDigest"), alert_settings(store), strict=True)),
        "retentionMonths": store.get("retentionMonths"),
        "shopId": store.get("shopId"),
        "createdAt": store.get("createdAt"),
        "updatedAt": store.get("updatedAt"),
    }


def find_store(workspace_id: str, slug: str) -> dict[str, Any] | None:
    return dal.get_store(workspace_id, slug)


def list_stores(workspace_id: str) -> list[dict[str, Any]]:
    return dal.list_stores(workspace_id)


def store_by_shop_id(shop_id: str) -> dict[str, Any] | None:
    return dal.store_by_shop_id(shop_id)


_store_cache = TtlCache(max_entries=1024)


def cached_store(workspace_id: str, slug: str) -> dict[str, Any] | None:
    """A store as stored (name, time zone, locale, branding, ...) for display, cached in the
    container for ``STORE_CACHE_SECONDS`` (default 30 s: the longest a customer sees an old name)."""
    store = _store_cache.get((workspace_id, slug))
    if store is MISSING:
        store = dal.get_store(workspace_id, slug)
        _store_cache.put((workspace_id, slug), store, runtime_settings().store_cache_seconds)
    return store
