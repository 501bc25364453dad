"""People, not shared secrets (issue 17): users of a workspace, sign-in by emailed link, roles and the
audit log of every setup change.

* **Roles.** ``owner``: everything, users and keys included. ``manager`` of chosen stores: reads
  and sets up those stores only (another store is as if it did not exist). ``viewer``: reads every
  store, changes nothing. A session signed in with a secret maps onto the same roles
  (:func:`member_of_principal`): the owner token is an owner, a workspace API key a manager of
  every store, a store's key a manager of that store.
* **Sign-in links.** An invitation, or a request from the sign-in page, emails a link that works
  once, for ``LINK_LIFETIME`` (15 min). Its token has 256 bits from the OS CSPRNG and travels in
  the link's fragment (never sent to a server, so never in a log); it is stored only as a keyed
  hash (:mod:`revisit.hashing`). Mail scanners fetch links: opening the page uses nothing, its
  "Sign in" button (a POST) uses the token - by a conditional delete, so a second use fails.
* **No existence oracle.** :func:`request_link` answers the same for every address; at most
  ``LINK_REQUESTS_PER_HOUR`` requests per address and clock hour, known or not.
* **Sessions follow the user.** :func:`resolve_session` reads the user again at least every
  ``SESSION_RECHECK_SECONDS`` (5 s, the revocation bound of keys): a removed user's session ends
  and a changed role applies within it.
* **Audit.** :func:`audit` records who changed what and when; :func:`audit_page` lists it newest
  first.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol

from revisit import hashing
from revisit.dal import AlreadyExists, BadCursor, NoSuchItem, UnknownWorkspace
from revisit.dal import users as dal
from revisit.domain import workspaces
from revisit.domain.auth import REVOCATION_BOUND_SECONDS, Kind, Principal, trusted_seconds
from revisit.domain.cache import MISSING, TtlCache
from revisit.domain.nps import TooManyRequests
from revisit.domain.util import iso, now, random_base62, sha256_hex
from revisit.errors import Conflict, Forbidden, Gone, NotFound, field_error

LINK_LIFETIME = timedelta(minutes=15)
LINK_REQUESTS_PER_HOUR = 5  # per address (known or not) and clock hour
SESSION_RECHECK_SECONDS = REVOCATION_BOUND_SECONDS  # the longest a removed user's session lasts
MAX_USERS = 200  # per workspace
MAX_AUDIT_PAGE = 100
SIGNIN_PATH = "/app/signin"  # the page of the emailed link; the token follows in its fragment
TOKEN_PREFIX = "sil_"  # noqa: S105 - a prefix, not a secret
_TOKEN_RE = re.compile(r"^sil_[A-Za-z0-9]{43}$")
# Deliberately plain: one @, no spaces, a dot in the domain; SES decides the rest.
_EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\.[A-Za-z]{2,63}$")
_SECRET_DETAIL_NAMES = {"secret", "token", "key", "apisecret", "shopsecret", "password"}


class Role(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    VIEWER = "viewer"


class LinkInvalid(Gone):
    def __init__(self) -> None:
        super().__init__("This sign-in link has been used already or has expired. Ask for a new one.")


class Mailer(Protocol):
    """revisit.delivery's email adapter (SesEmail) or a test's stand-in."""

    def send(self, message: Any) -> Any: ...


@dataclass(frozen=True)
class Member:
    """Who is signed in to the web app, and what they may see and change."""

    workspace_id: str
    role: Role
    stores: frozenset[str] | None = None  # the stores of a manager; None = every store
    user_id: str | None = None  # a user's session
    email: str | None = None
    key_id: str | None = None  # a session signed in with a secret: the credential's key id
    key_kind: str | None = None  # "owner" or "api" for a secret's session

    @property
    def actor(self) -> str:
        """How the audit log names this member: a user's address, else the credential."""
        if self.email:
            return self.email
        return f"owner token {self.key_id}" if self.key_kind == Kind.OWNER.value else f"API key {self.key_id}"

    @property
    def is_owner(self) -> bool:
        return self.role is Role.OWNER

    def can_see(self, slug: str) -> bool:
        return self.stores is None or slug in self.stores

    def can_set_up(self, slug: str) -> bool:
        return self.role is Role.OWNER or (self.role is Role.MANAGER and self.can_see(slug))

    def can_set_up_workspace(self) -> bool:
        """Workspace-wide setup (webhooks): an owner, or a manager of every store (a workspace key)."""
        return self.role is Role.OWNER or (self.role is Role.MANAGER and self.stores is None)

    def require_see(self, slug: str) -> None:
        """A store this member may not see is as if it did not exist: 404."""
        if not self.can_see(slug):
            raise NotFound(f"Store '{slug}' does not exist.", [{"field": "storeSlug", "message": "unknown store"}])

    def require_set_up(self, slug: str) -> None:
        """404 for a store out of sight, 403 for one this member may only read."""
        self.require_see(slug)
        if not self.can_set_up(slug):
            raise Forbidden("Your role may not change this store's setup.")

    def require_set_up_workspace(self) -> None:
        if not self.can_set_up_workspace():
            raise Forbidden("Only an owner may change the workspace's setup.")

    def require_owner(self) -> None:
        if not self.is_owner:
            raise Forbidden("Only an owner may do this.")

    def principal(self, slug: str | None = None) -> Principal:
        """The domain Principal the JSON API's services take: scoped to ``slug`` (which this member
        must see), or to what the member sees when None (every store, or a manager's only one).
        The role check (read or set up) is the caller's, before it changes anything."""
        kind = Kind.OWNER if self.is_owner else Kind.API
        ident = self.key_id or f"user:{self.user_id}"
        if slug is not None:
            self.require_see(slug)
            if self.stores is not None:
                return Principal(self.workspace_id, kind, "store", slug, ident)
        elif self.stores is not None:
            if len(self.stores) != 1:
                raise ValueError("a manager of several stores needs a store to act on")
            return Principal(self.workspace_id, kind, "store", next(iter(self.stores)), ident)
        return Principal(self.workspace_id, kind, "workspace", None, ident)

    def principal_of_workspace(self) -> Principal:
        """A workspace-wide Principal whatever the stores: only for a caller that filters by
        :meth:`can_see` itself (the web app's identity of a manager of several stores)."""
        kind = Kind.OWNER if self.is_owner else Kind.API
        return Principal(self.workspace_id, kind, "workspace", None, self.key_id or f"user:{self.user_id}")


def member_of_principal(principal: Principal) -> Member:
    """A session signed in with a secret: the owner token is an owner, a workspace API key a manager
    of every store, a store's API key a manager of that store. Other credentials have no web app."""
    if principal.kind is Kind.OWNER:
        return Member(principal.workspace_id, Role.OWNER, None, key_id=principal.key_id, key_kind="owner")
    if principal.kind is Kind.API:
        stores = frozenset({principal.store_slug}) if principal.scope == "store" and principal.store_slug else None
        return Member(principal.workspace_id, Role.MANAGER, stores, key_id=principal.key_id, key_kind="api")
    raise Forbidden("Sign in with the owner token or an API key.")


def _member(user: dict[str, Any]) -> Member:
    role = Role(user["role"])
    stores = frozenset(user.get("stores") or ()) if role is Role.MANAGER else None
    return Member(user["workspaceId"], role, stores, user_id=user["userId"], email=user["email"])


def visible_stores(member: Member) -> list[dict[str, Any]]:
    """The stores of the workspace this member may see, by slug."""
    stores = workspaces.list_stores(member.workspace_id)
    return sorted((s for s in stores if member.can_see(s["slug"])), key=lambda s: s["slug"])


# ------------------------------------------------------------------ addresses and hashes


def normalise_email(text: str | None) -> str:
    """An address as stored and compared: stripped, lower-case; 400 naming ``email`` if it is none."""
    email = (text or "").strip().lower()
    if len(email) > 254 or not _EMAIL_RE.match(email):
        raise field_error("email", "must be an email address (name@example.com)")
    return email


def _email_hash(email: str) -> str:
    return hashing.keyed_hash(f"user-email|{email}")


def _token_hash(token: str) -> str:
    return hashing.keyed_hash(f"signin-link|{token}")


def _default_mailer() -> Mailer:
    from revisit.delivery import SesEmail

    return SesEmail()


def _send(mailer: Mailer | None, to: str, subject: str, text: str) -> bool:
    from revisit.delivery import Message

    delivery = (mailer or _default_mailer()).send(Message(to=to, subject=subject, text=text))
    return bool(getattr(delivery, "ok", False))


def _new_link(workspace_id: str, user_id: str, purpose: str, base_url: str) -> str:
    """A sign-in link for the user (stored as the token's hash); the URL, with the token in its fragment."""
    token = TOKEN_PREFIX + random_base62(43)
    at = now()
    record = {"workspaceId": workspace_id, "userId": user_id, "purpose": purpose, "createdAt": iso(at)}
    dal.put_link(_token_hash(token), record, int((at + LINK_LIFETIME).timestamp()))
    return f"{base_url.rstrip('/')}{SIGNIN_PATH}#{token}"


_LINK_HELP = (
    "The link works once, for 15 minutes. Opening it shows a Sign in button; nothing happens before "
    "you press it. When it has expired, ask for a new one on the sign-in page with your email address."
)


def _invitation_text(workspace_id: str, inviter: str, role: Role, link: str) -> str:
    return (
        f"{inviter} invited you to the Revisit workspace {workspace_id} as {role.value}.\n\n"
        f"Sign in: {link}\n\n{_LINK_HELP}\n\nIf you did not expect this email, ignore it.\n"
    )


# ------------------------------------------------------------------ users (owners only)


def user_view(user: dict[str, Any]) -> dict[str, Any]:
    return {k: user.get(k) for k in ("userId", "email", "role", "stores", "status", "createdAt", "lastSignInAt")}


def _role_and_stores(member: Member, role: str, stores: list[str] | None) -> tuple[Role, list[str]]:
    try:
        chosen = Role(role)
    except ValueError:
        raise field_error("role", "must be owner, manager or viewer") from None
    if chosen is not Role.MANAGER:
        return chosen, []
    wanted = sorted(set(stores or ()))
    if not wanted:
        raise field_error("stores", "a manager needs at least one store")
    known = {s["slug"] for s in workspaces.list_stores(member.workspace_id)}
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise field_error("stores", f"unknown store '{unknown[0]}'")
    return chosen, wanted


def list_users(member: Member) -> list[dict[str, Any]]:
    member.require_owner()
    users = dal.list_users(member.workspace_id)
    return [user_view(u) for u in sorted(users, key=lambda u: (u["email"], u["userId"]))]


def invite(
    member: Member,
    email: str,
    role: str,
    stores: list[str] | None,
    base_url: str,
    mailer: Mailer | None = None,
) -> dict[str, Any]:
    """An owner adds a user and emails them a sign-in link; the user, and ``emailSent``."""
    member.require_owner()
    address = normalise_email(email)
    chosen, chosen_stores = _role_and_stores(member, role, stores)
    if len(dal.list_users(member.workspace_id)) >= MAX_USERS:
        raise Conflict(f"A workspace has at most {MAX_USERS} users; remove one first.")
    at = iso(now())
    user = {
        "userId": "usr_" + random_base62(16),
        "workspaceId": member.workspace_id,
        "email": address,
        "role": chosen.value,
        "stores": chosen_stores,
        "status": "invited",
        "invitedBy": member.actor,
        "createdAt": at,
        "updatedAt": at,
    }
    try:
        dal.create_user(user, _email_hash(address))
    except UnknownWorkspace:
        raise NotFound(f"Workspace {member.workspace_id} does not exist.") from None
    except AlreadyExists:
        raise Conflict(
            f"{address} is a user of this workspace already.", [{"field": "email", "message": "is a user already"}]
        ) from None
    audit(member.workspace_id, member.actor, "user.invited", address, {"role": chosen.value, "stores": chosen_stores})
    link = _new_link(member.workspace_id, user["userId"], "invitation", base_url)
    sent = _send(
        mailer,
        address,
        f"You are invited to Revisit ({member.workspace_id})",
        _invitation_text(member.workspace_id, member.email or "An owner", chosen, link),
    )
    return {**user_view(user), "emailSent": sent}


def _user_of(member: Member, user_id: str) -> dict[str, Any]:
    member.require_owner()
    user = dal.get_user(member.workspace_id, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    return user


def send_new_link(member: Member, user_id: str, base_url: str, mailer: Mailer | None = None) -> dict[str, Any]:
    """An owner emails a user a fresh link (an invitation expired unread, say)."""
    user = _user_of(member, user_id)
    link = _new_link(member.workspace_id, user_id, "invitation", base_url)
    sent = _send(
        mailer,
        user["email"],
        f"You are invited to Revisit ({member.workspace_id})",
        _invitation_text(member.workspace_id, member.email or "An owner", Role(user["role"]), link),
    )
    audit(member.workspace_id, member.actor, "user.link_sent", user["email"], {})
    return {**user_view(user), "emailSent": sent}


def change_role(member: Member, user_id: str, role: str, stores: list[str] | None = None) -> dict[str, Any]:
    """An owner changes a user's role (and a manager's stores); the user's sessions follow within
    SESSION_RECHECK_SECONDS."""
    user = _user_of(member, user_id)
    if user_id == member.user_id:
        raise Forbidden("You cannot change your own role; ask another owner.")
    chosen, chosen_stores = _role_and_stores(member, role, stores)
    try:
        updated = dal.update_user(
            member.workspace_id, user_id, {"role": chosen.value, "stores": chosen_stores, "updatedAt": iso(now())}
        )
    except NoSuchItem:
        raise NotFound(f"User {user_id} does not exist.") from None
    finally:
        _sessions.pop((member.workspace_id, user_id))
    before = {"role": user["role"], "stores": user.get("stores") or []}
    audit(
        member.workspace_id,
        member.actor,
        "user.role_changed",
        user["email"],
        {"from": before, "to": {"role": chosen.value, "stores": chosen_stores}},
    )
    return user_view(updated)


def remove_user(member: Member, user_id: str) -> dict[str, Any]:
    """An owner removes a user: their sessions end within SESSION_RECHECK_SECONDS (at once in this
    container) and their unused links stop working."""
    user = _user_of(member, user_id)
    if user_id == member.user_id:
        raise Forbidden("You cannot remove yourself; ask another owner.")
    try:
        dal.delete_user(member.workspace_id, user_id, _email_hash(user["email"]))
    except NoSuchItem:
        raise NotFound(f"User {user_id} does not exist.") from None
    finally:
        _sessions.pop((member.workspace_id, user_id))
    audit(member.workspace_id, member.actor, "user.removed", user["email"], {"role": user["role"]})
    return {"userId": user_id, "email": user["email"], "removed": True}


# ------------------------------------------------------------------ signing in


def request_link(email: str, base_url: str, mailer: Mailer | None = None) -> None:
    """The sign-in page's "email me a link": one email with a link per workspace the address is a
    user of, or nothing at all - the caller answers the same either way. TooManyRequests (the
    same for every address) past LINK_REQUESTS_PER_HOUR this clock hour."""
    address = normalise_email(email)
    email_hash = _email_hash(address)
    at = now()
    hour = at.replace(minute=0, second=0, microsecond=0)
    next_hour = hour + timedelta(hours=1)
    try:
        dal.count_request(email_hash, hour.strftime("%Y%m%d%H"), LINK_REQUESTS_PER_HOUR, int(next_hour.timestamp()))
    except dal.QuotaUsed:
        raise TooManyRequests(
            f"Too many sign-in links were asked for this address this hour; try again after "
            f"{next_hour.strftime('%H:%M')} UTC.",
            int((next_hour - at).total_seconds()),
        ) from None
    found = dal.memberships(email_hash)
    if not found:
        return
    lines = []
    for membership in sorted(found, key=lambda m: m["workspaceId"]):
        link = _new_link(membership["workspaceId"], membership["userId"], "sign-in", base_url)
        lines.append(f"Workspace {membership['workspaceId']}: {link}")
    text = (
        "Someone (we hope you) asked for a link to sign in to Revisit.\n\n"
        + "\n".join(lines)
        + f"\n\n{_LINK_HELP}\n\nIf you did not ask for it, ignore this email: nothing changes.\n"
    )
    _send(mailer, address, "Your Revisit sign-in link", text)


def sign_in(token: str | None) -> Member:
    """Use a sign-in link (the POST of its page): the member it signs in, once. LinkInvalid (410)
    for a link used already, expired, never issued, or of a user removed since."""
    if not token or not _TOKEN_RE.match(token):
        raise LinkInvalid()
    try:
        link = dal.use_link(_token_hash(token), int(now().timestamp()))
    except dal.LinkNotUsable:
        raise LinkInvalid() from None
    ws, user_id = link["workspaceId"], link["userId"]
    at = iso(now())
    try:
        user = dal.update_user(ws, user_id, {"status": "active", "lastSignInAt": at})
    except NoSuchItem:  # removed after the link was sent
        raise LinkInvalid() from None
    _sessions.pop((ws, user_id))
    audit(ws, user["email"], "user.signed_in", user["email"], {"by": link.get("purpose", "sign-in")})
    return _member(user)


_sessions = TtlCache(max_entries=2048)  # (workspace, user id) -> (read at, Member)
_clock = time.monotonic  # when a cached user was read (tests move it)


def resolve_session(workspace_id: str, user_id: str) -> Member | None:
    """The member of a user's session as of at most :func:`recheck_seconds` (<= 5 s) ago, or None
    when the user was removed (the session is over). Read again past that age: one GetItem per 5 s
    per signed-in user and container."""
    key = (workspace_id, user_id)
    hit = _sessions.get(key)
    if hit is not MISSING and _clock() - hit[0] < recheck_seconds():
        return hit[1]
    read_at = _clock()
    user = dal.get_user(workspace_id, user_id)
    if user is None:
        _sessions.pop(key)
        return None
    member = _member(user)
    _sessions.put(key, (read_at, member), recheck_seconds())
    return member


def recheck_seconds() -> float:
    """How long a container trusts a user it read: the credentials' bound (5 s, or
    CREDENTIAL_CACHE_SECONDS when shorter; 0 reads the user on every request)."""
    return min(SESSION_RECHECK_SECONDS, trusted_seconds())


def session_identity(workspace_id: str, user_id: str, extra: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The web app's hook (webapp.auth): a user's session as ``{"principal", "role", "email",
    "stores"}`` - ``stores`` None for every store -, or None when the session is over. The
    principal is scoped to the store of a manager of one store, else to the workspace: a page
    shows a manager of several stores only those (``stores``; :meth:`Member.principal` per store)."""
    member = resolve_session(workspace_id, user_id)
    if member is None:
        return None
    one_store = member.stores is not None and len(member.stores) == 1
    principal = member.principal() if one_store else member.principal_of_workspace()
    return {
        "principal": principal,
        "role": member.role.value,
        "email": member.email,
        "stores": None if member.stores is None else sorted(member.stores),
        "member": member,
    }


_ended = TtlCache(max_entries=4096)  # session id hash -> signed out (True), or not as of <= 5 s ago


def end_session(session_id: str, until_epoch: int) -> None:
    """Logout: the session is over on every container - at once on this one, within
    :func:`recheck_seconds` on the others - even for a copy of its cookie. The marker is kept
    until the session would have expired anyway (``until_epoch``)."""
    key = sha256_hex(f"web-session|{session_id}")
    dal.end_session(key, until_epoch)
    _ended.put(key, True, max(until_epoch - now().timestamp(), 1))


def session_ended(session_id: str) -> bool:
    """Whether the session was signed out: one GetItem per session, container and 5 s."""
    key = sha256_hex(f"web-session|{session_id}")
    hit = _ended.get(key)
    if hit is not MISSING:
        return bool(hit)
    ended = dal.session_ended(key, int(now().timestamp()))
    _ended.put(key, ended, 3600 if ended else recheck_seconds())
    return ended


def clear_cache() -> None:
    _sessions.clear()
    _ended.clear()


# ------------------------------------------------------------------ audit log


def _safe_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """The details without anything named like a secret, strings cut at 500 characters."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                str(k): ("(not recorded)" if str(k).lower() in _SECRET_DETAIL_NAMES else clean(v))
                for k, v in list(value.items())[:50]
            }
        if isinstance(value, (list, tuple, set, frozenset)):
            return [clean(v) for v in list(value)[:50]]
        if isinstance(value, str):
            return value[:500]
        if value is None or isinstance(value, (bool, int)):
            return value
        return str(value)[:500]

    return clean(dict(details or {}))


def audit(workspace_id: str, actor: str, action: str, target: str, details: dict[str, Any] | None = None) -> None:
    """Record a setup change: who (``actor``: an address or a credential), what (``action`` such as
    ``store.updated``, ``target`` such as the store's slug, ``details`` of the change - never a
    secret), and when (now)."""
    entry = {
        "id": random_base62(10),
        "at": iso(now()),
        "actor": str(actor)[:320],
        "action": str(action)[:80],
        "target": str(target)[:320],
        "details": _safe_details(details),
    }
    dal.put_audit(workspace_id, entry)


def audit_page(member: Member, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    """The audit log, newest first: ``{"items", "nextCursor"}`` (owners only)."""
    member.require_owner()
    if not 1 <= limit <= MAX_AUDIT_PAGE:
        raise field_error("limit", f"must be between 1 and {MAX_AUDIT_PAGE}")
    try:
        items, next_cursor = dal.audit_page(member.workspace_id, limit, cursor)
    except BadCursor as exc:
        raise field_error("cursor", str(exc)) from None
    return {"items": items, "nextCursor": next_cursor}
