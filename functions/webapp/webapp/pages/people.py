"""People and the audit log (issue 17, ``revisit.domain.users``) - owners only:

* GET /app/people - the users (address, role, stores, status, last sign-in), the invitation form;
  per user: change the role (and a manager's stores), email a new link, remove.
* POST /app/people/invite, /app/people/{userId}/role, /app/people/{userId}/link,
  /app/people/{userId}/remove - each checks the CSRF token, then the role, then changes and
  records it in the audit log (the domain service does), then 303 back with a notice.
* GET /app/audit - who changed what and when, newest first, 50 a page.

Also the helpers the setup pages share: the signed-in :class:`users.Member`, the 403 page for a
role that may not do something, and a validation error's messages by field.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from revisit import errors
from revisit.domain import users
from webapp import auth
from webapp.pages.signin import link_base
from webapp.render import redirect, render

nav = [
    ("People", "/app/people", lambda me: me.is_owner),
    ("Audit log", "/app/audit", lambda me: me.is_owner),
]

ROLE_WORDS = {
    "owner": "Owner: everything, people and keys included",
    "manager": "Manager: reads and sets up the chosen stores",
    "viewer": "Viewer: reads every store, changes nothing",
}
NOTICES = {
    "invited": "The invitation is sent.",
    "invited-unsent": "The user is added, but the email could not be sent; use “Email a new link”.",
    "role": "The role is changed; it applies to their open sessions within seconds.",
    "link": "A new sign-in link is sent.",
    "link-unsent": "The email could not be sent; try again later.",
    "removed": "The user is removed; their sessions end within seconds.",
}


# ------------------------------------------------------------------ shared with the setup pages


def member(request: Request) -> users.Member:
    """The signed-in member (role and stores as of at most 5 s ago); 303 to sign-in when none."""
    me = auth.current(request)
    if isinstance(me.member, users.Member):
        return me.member
    if me.kind == "user":
        found = users.resolve_session(me.workspace_id, me.user_id or "")
        if found is None:
            raise auth.NotSignedIn("revoked")
        return found
    return users.member_of_principal(me.principal)


def forbidden(request: Request, message: str) -> Response:
    """The 403 page: this role may not do that (nothing was changed)."""
    return render(request, "forbidden.html", {"message": message}, status=403)


def field_errors(exc: errors.RevisitError) -> dict[str, str]:
    """A validation error's messages by field (the form's input names are the API's field names)."""
    out: dict[str, str] = {}
    for detail in exc.details or []:
        name = str(detail.get("field") or "form")
        out.setdefault(name, str(detail.get("message") or "is not valid"))
    if not out:
        out["form"] = exc.message
    return out


def text(form: FormData, name: str, limit: int = 2048) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


# ------------------------------------------------------------------ people


def _people_page(request: Request, me: users.Member, status: int = 200, **ctx: Any) -> Response:
    stores = users.visible_stores(me)
    rows = users.list_users(me)
    return render(
        request,
        "people.html",
        {
            "users": rows,
            "stores": stores,
            "roles": ROLE_WORDS,
            "self_id": me.user_id,
            "notice": NOTICES.get(request.query_params.get("done") or ""),
            "errors": {},
            "invite": {"email": "", "role": "viewer", "stores": []},
            "error_user": None,
            **ctx,
        },
        status=status,
    )


async def people(request: Request) -> Response:
    me = member(request)
    if not me.is_owner:
        return forbidden(request, "Only an owner may see and change who has access.")
    return _people_page(request, me)


async def invite(request: Request) -> Response:
    form = await auth.csrf_form(request)
    me = member(request)
    if not me.is_owner:
        return forbidden(request, "Only an owner may invite people.")
    email, role = text(form, "email", 320), text(form, "role", 20)
    stores = [s for s in form.getlist("stores") if isinstance(s, str)][:100]
    try:
        done = users.invite(me, email, role, stores, link_base(request))
    except errors.ValidationFailed as exc:
        invited = {"email": email, "role": role, "stores": stores}
        return _people_page(request, me, 400, errors=field_errors(exc), invite=invited)
    except errors.Conflict as exc:
        invited = {"email": email, "role": role, "stores": stores}
        return _people_page(request, me, 409, errors=field_errors(exc), invite=invited)
    return redirect(request, "/app/people", done="invited" if done["emailSent"] else "invited-unsent")


async def change_role(request: Request) -> Response:
    form = await auth.csrf_form(request)
    me = member(request)
    if not me.is_owner:
        return forbidden(request, "Only an owner may change roles.")
    user_id = request.path_params["user_id"]
    stores = [s for s in form.getlist("stores") if isinstance(s, str)][:100]
    try:
        users.change_role(me, user_id, text(form, "role", 20), stores)
    except errors.ValidationFailed as exc:
        return _people_page(request, me, 400, errors=field_errors(exc), error_user=user_id)
    except errors.Forbidden as exc:
        return forbidden(request, exc.message)
    return redirect(request, "/app/people", done="role")


async def new_link(request: Request) -> Response:
    await auth.csrf_form(request)
    me = member(request)
    if not me.is_owner:
        return forbidden(request, "Only an owner may send sign-in links to others.")
    done = users.send_new_link(me, request.path_params["user_id"], link_base(request))
    return redirect(request, "/app/people", done="link" if done["emailSent"] else "link-unsent")


async def remove(request: Request) -> Response:
    await auth.csrf_form(request)
    me = member(request)
    if not me.is_owner:
        return forbidden(request, "Only an owner may remove people.")
    try:
        users.remove_user(me, request.path_params["user_id"])
    except errors.Forbidden as exc:
        return forbidden(request, exc.message)
    return redirect(request, "/app/people", done="removed")


# ------------------------------------------------------------------ audit log


def describe(details: Any) -> str:
    """An entry's details in one line: ``name: New name; timezone: Europe/Paris``."""
    if not isinstance(details, dict) or not details:
        return ""

    def words(value: Any) -> str:
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k}: {words(v)}" for k, v in value.items()) + "}"
        if isinstance(value, list):
            return ", ".join(words(v) for v in value) or "none"
        if value is None:
            return "removed"
        return str(value)

    return "; ".join(f"{k}: {words(v)}" for k, v in details.items())


async def audit_log(request: Request) -> Response:
    me = member(request)
    if not me.is_owner:
        return forbidden(request, "Only an owner may read the audit log.")
    cursor = request.query_params.get("cursor") or None
    try:
        page = users.audit_page(me, 50, cursor[:2048] if cursor else None)
    except errors.ValidationFailed:
        page = users.audit_page(me, 50, None)
    entries = [{**e, "words": describe(e.get("details"))} for e in page["items"]]
    return render(request, "audit.html", {"entries": entries, "next_cursor": page["nextCursor"], "paged": bool(cursor)})


routes = [
    Route("/app/people", people, methods=["GET"]),
    Route("/app/people/invite", invite, methods=["POST"]),
    Route("/app/people/{user_id}/role", change_role, methods=["POST"]),
    Route("/app/people/{user_id}/link", new_link, methods=["POST"]),
    Route("/app/people/{user_id}/remove", remove, methods=["POST"]),
    Route("/app/audit", audit_log, methods=["GET"]),
]
