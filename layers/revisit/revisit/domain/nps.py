"""NPS compatible with seed 002: categories, channels, device ids, reviews - with keyed hashes.

Respondent types: promoter 9-10, passive 7-8, detractor 1-6. Next to 1-5 star feedback a review
counts as rating ceil(rate / 2) (1-2 -> 1 ... 9-10 -> 5), so "satisfied" (CSAT: 4-5 stars) is
exactly rate >= 7, passives and promoters (docs/metrics.md).

Privacy beyond the original: email and phone are never stored. They become ``client``, a number
derived from an HMAC (the deployment's secret key) of the shop and the identity, so a returning
reviewer is recognised while the table holds nothing that reveals who they are.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import timedelta
from typing import Any

from revisit import hashing
from revisit.dal import AlreadyExists, BadCursor, NoSuchItem
from revisit.dal import nps as dal
from revisit.domain import auth
from revisit.domain.auth import Kind, Presented, Principal
from revisit.domain.cache import MISSING, TtlCache
from revisit.domain.util import iso, now, random_base62, sha256_hex
from revisit.errors import Conflict, Forbidden, NotFound, RevisitError, Unauthenticated, field_error

CATEGORY_FIELDS = (
    "id", "code", "name", "promoter_question", "promoter_success", "passive_question", "passive_success",
    "detractor_question", "detractor_success",
)  # fmt: skip
CHANNEL_FIELDS = ("id", "code", "name")
CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_REVIEWS_PER_REQUEST = 1000
DEVICE_LIFETIME = timedelta(days=365)  # a did from /nps/init is unknown after this
_CONFIG_CACHE_SECONDS = 30.0
_config_cache = TtlCache(max_entries=512)
# GET /nps/init: device ids an address may obtain for a shop per clock hour (docs/operations.md).
INIT_PER_ADDRESS_PER_HOUR = 60
_NO_SHOP = {"workspaceId": "\x00", "slug": "\x00"}  # compared against when the shop is unknown


class TooManyRequests(RevisitError):
    """A quota is used up until ``retry_after`` seconds from now (HTTP 429 with Retry-After)."""

    code = "TOO_MANY_REQUESTS"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


def respondent_type(rate: int) -> str:
    return "promoter" if rate >= 9 else "passive" if rate >= 7 else "detractor"


def as_rating(rate: int) -> int:
    """A 1-10 NPS rate on the 1-5 star scale of feedback: ceil(rate / 2)."""
    return (rate + 1) // 2


class ShopNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Shop not found.", [{"field": "shop_id", "message": "unknown shop"}])


def _config(shop_id: str, fresh: bool = False) -> tuple[dict, list, list]:
    """The shop and its categories/channels: one Query, cached 30 s in the container - an unknown
    shop too (shop ids are random: none is asked for before it exists), so an unknown shop costs
    what a known one does."""
    hit = MISSING if fresh else _config_cache.get(shop_id)
    if hit is None:
        raise ShopNotFound()
    if hit is not MISSING:
        return hit
    shop, categories, channels = dal.shop_config(shop_id)
    if shop is None:
        _config_cache.put(shop_id, None, _CONFIG_CACHE_SECONDS)
        raise ShopNotFound()
    value = (shop, categories, channels)
    _config_cache.put(shop_id, value, _CONFIG_CACHE_SECONDS)
    return value


def clear_cache() -> None:
    _config_cache.clear()


def active(shop_id: str, kind: str) -> list[dict[str, Any]]:
    """GET /nps/categories, /nps/channels: the active ones, with exactly the seed's fields."""
    _, categories, channels = _config(shop_id)
    items, fields = (categories, CATEGORY_FIELDS) if kind == "category" else (channels, CHANNEL_FIELDS)
    return [{f: i.get(f) for f in fields} for i in items if i.get("active", True)]


def init_device(shop_id: str, address: str = "") -> dict[str, str]:
    """A device id (valid for DEVICE_LIFETIME) and a session id for a shop: the seed's
    'Initialization'. At most INIT_PER_ADDRESS_PER_HOUR per client address and shop each clock
    hour (one counter item, deleted by TTL after the hour): 429 beyond, until the next hour."""
    _config(shop_id)  # 404 for an unknown shop
    did = random_base62(10)
    at = now()
    hour = at.replace(minute=0, second=0, microsecond=0)
    next_hour = int((hour + timedelta(hours=1)).timestamp())
    device = {"shopId": shop_id, "createdAt": iso(at), "expiresEpoch": int((at + DEVICE_LIFETIME).timestamp())}
    counter = dal.InitCounter(
        shop_id, sha256_hex(f"nps-init|{shop_id}|{address}"), hour.strftime("%Y%m%d%H"), next_hour + 3600
    )
    for _ in range(3):  # a device id clash (62**10 ids): draw another
        try:
            dal.put_device_counted(did, device, counter, INIT_PER_ADDRESS_PER_HOUR)
            return {"status": "success", "did": did, "seance": random_base62(16)}
        except dal.QuotaUsed:
            break
        except AlreadyExists:
            did = random_base62(10)
    raise TooManyRequests(
        f"Too many initializations from this address for this shop; retry after the hour "
        f"(at most {INIT_PER_ADDRESS_PER_HOUR} an hour).",
        next_hour - int(at.timestamp()),
    )


def _authorise(shop_id: str, shop: dict[str, Any], shop_secret: str | None, did: str | None) -> None:
    """shop_secret (a store-scoped shop credential) or a device id issued for this shop; 403 otherwise."""
    if shop_secret:
        try:
            principal = auth.authenticate(Presented(shop_id=shop_id, shop_secret=shop_secret), frozenset({Kind.SHOP}))
        except (Unauthenticated, Forbidden):
            raise Forbidden("Failed authorization: shop_secret does not match shop_id.") from None
        same_workspace = hmac.compare_digest(principal.workspace_id, str(shop["workspaceId"]))
        same_store = hmac.compare_digest(str(principal.store_slug or ""), str(shop["slug"]))
        if not (same_workspace and same_store):
            raise Forbidden("Failed authorization: shop_secret does not match shop_id.")
        return
    device = dal.get_device(did or "")
    expired = device is not None and device.get("expiresEpoch", float("inf")) <= now().timestamp()
    if device is None or expired or device.get("shopId") != shop_id:  # past its TTL = gone, deleted or not
        raise Forbidden("Failed authorization: unknown did for this shop.")


def client_number(shop_id: str, identity: str) -> int:
    """A stable, non-reversible number for a reviewer (52 bits of an HMAC: safe in JSON)."""
    return int(hashing.keyed_hash(f"{shop_id}|{identity}")[:13], 16)


def create_review(req: dict[str, Any]) -> dict[str, Any]:
    shop_id = req["shop_id"]
    shop, categories, channels = _config(shop_id)
    _authorise(shop_id, shop, req.get("shop_secret"), req.get("did"))
    category = next((c for c in categories if c["code"] == req["category"] and c.get("active", True)), None)
    if category is None:
        fresh = _config(shop_id, fresh=True)  # a category created seconds ago is not in the cache yet
        category = next((c for c in fresh[1] if c["code"] == req["category"] and c.get("active", True)), None)
        channels = fresh[2]
    if category is None:
        raise field_error("category", f"unknown category '{req['category']}' for this shop")
    if not any(c["code"] == req["channel"] and c.get("active", True) for c in channels):
        raise field_error("channel", f"unknown channel '{req['channel']}' for this shop")
    identity = (
        f"email:{req['email'].strip().lower()}" if req.get("email")
        else f"phone:{req['phone'].strip()}" if req.get("phone")
        else f"did:{req['did']}"
    )  # fmt: skip
    rate = req["rate"]
    kind = respondent_type(rate)
    review = {
        "client": client_number(shop_id, identity),
        "rate": rate,
        "channel": req["channel"],
        "category": req["category"],
        "comment": req.get("comment") or None,
        "respondentType": kind,
        "civ": req.get("loyalty_id") or None,
        "orderId": req.get("order_id") or None,
        "workspaceId": shop["workspaceId"],
        "storeSlug": shop["slug"],
        "shopId": shop_id,
    }
    for _ in range(3):  # ids are time-based with 12 random bits; a clash is retried
        at = now()
        review.update(id=int(at.timestamp() * 1000) * 4096 + secrets.randbelow(4096), createdAt=iso(at))
        try:
            dal.put_review({k: v for k, v in review.items() if v is not None})
            break
        except AlreadyExists:
            continue
    else:  # pragma: no cover
        raise Conflict("Could not allocate a review id; retry.")
    return {"status": "success", "respondent_type": kind, "message": category.get(f"{kind}_success") or ""}


def list_reviews(
    shop_id: str,
    shop_secret: str,
    from_ts: str | None,
    to_ts: str | None,
    channel: str | None,
    category: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    # A known shop with a wrong secret and an unknown shop get the same 403 after the same work
    # (a cached config, the secret's hash and its GetItem, the same compares): no existence oracle.
    try:
        shop, _, _ = _config(shop_id)
    except ShopNotFound:
        _authorise(shop_id, _NO_SHOP, shop_secret, None)
        raise Forbidden("Failed authorization: shop_secret does not match shop_id.") from None
    _authorise(shop_id, shop, shop_secret, None)
    try:
        query = dal.ReviewQuery(shop["workspaceId"], shop["slug"], from_ts, to_ts, channel, category)
        items, next_cursor = dal.reviews_page(query, limit, cursor)
    except BadCursor as exc:
        raise field_error("cursor", str(exc)) from None
    fields = ("id", "client", "rate", "channel", "category", "comment")
    return [{**{f: r.get(f) for f in fields}, "created_at": r["createdAt"]} for r in items], next_cursor


# ---------------------------------------------------------------- management (our API)


def _shop_of(principal: Principal, store_slug: str) -> str:
    from revisit.domain import workspaces

    principal.require_store(store_slug)
    return workspaces.get_store(principal.workspace_id, store_slug)["shopId"]


def add(principal: Principal, store_slug: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    shop_id = _shop_of(principal, store_slug)
    record = {**spec, "active": spec.get("active", True), "createdAt": iso(now())}
    try:
        record = dal.add_config(shop_id, kind, record)
    except AlreadyExists:
        raise Conflict(
            f"A {kind} with code '{spec['code']}' exists.", [{"field": "code", "message": "exists"}]
        ) from None
    _config_cache.pop(shop_id)
    return dict(record)


def default_codes(shop_id: str) -> dict[str, str | None]:
    """The codes of the category and channel a shop was created with (None for a shop of before)."""
    shop, _, _ = _config(shop_id, fresh=True)
    return {"defaultCategory": shop.get("defaultCategory"), "defaultChannel": shop.get("defaultChannel")}


def list_config(principal: Principal, store_slug: str, kind: str) -> list[dict[str, Any]]:
    shop_id = _shop_of(principal, store_slug)
    _, categories, channels = _config(shop_id, fresh=True)
    return [dict(i) for i in (categories if kind == "category" else channels)]


def update(principal: Principal, store_slug: str, kind: str, code: str, changes: dict[str, Any]) -> dict[str, Any]:
    shop_id = _shop_of(principal, store_slug)
    try:
        updated = dal.update_config(shop_id, kind, code, changes)
    except NoSuchItem:
        raise NotFound(f"No {kind} '{code}' in this shop.") from None
    _config_cache.pop(shop_id)
    return updated
