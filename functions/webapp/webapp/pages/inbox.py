"""The feedback inbox (issue 17): GET /app/feedback (the JSON search's filters and cursor paging),
GET /app/feedback/export (the same filter as CSV: the JSON API's own export function), and
GET/POST /app/feedback/{id} (one answer with its workflow form: status, assignee, tags, a note).

Every filter is read by the API's own request model (``FeedbackQuery``), every list, export and
change is ``revisit.domain.feedback`` - the functions GET/PATCH /api/external/feedback call. An
answer of a store the identity may not see, or an unknown id: the 404 page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from revisit import errors
from revisit.domain import feedback, workflow, workspaces
from webapp import auth
from webapp.render import not_found, redirect, render

if TYPE_CHECKING:
    from revisit.http.schemas import FeedbackQuery

# The filters of the page, by the API's names (the query string of /app/feedback and of the export).
FILTERS = ("storeSlug", "from", "to", "minRating", "maxRating", "hasComment", "civ", "orderId", "source",
           "status", "assignee", "tag", "q")  # fmt: skip
MORE = ("assignee", "tag", "civ", "orderId", "source", "q")  # behind "More filters" unless used
STATUS_WORDS = {"new": "New", "in_progress": "In progress", "resolved": "Resolved"}
PAGE_SIZE = 25


def _asked(request: Request) -> dict[str, str]:
    q = request.query_params
    return {k: q[k].strip() for k in FILTERS if q.get(k) and q[k].strip()}


def _visible_stores(me: auth.Identity) -> list[dict[str, Any]]:
    stores = workspaces.list_stores(me.workspace_id)
    return [s for s in stores if me.can_see(s["slug"])]


def _query(me: auth.Identity, asked: dict[str, str], extra: dict[str, str]) -> tuple[Any, FeedbackQuery]:
    """(principal, the API's validated query) for what the page was asked; a person who sees some
    stores only always searches one of them (the first when none is chosen)."""
    params = dict(asked)
    if me.stores is not None and not params.get("storeSlug"):
        if not me.stores:  # a person with no store: nothing to search (never the whole workspace)
            raise errors.NotFound("No store to show.")
        params["storeSlug"] = me.stores[0]
    slug = params.get("storeSlug")
    if slug and not me.can_see(slug):
        raise errors.NotFound(f"Store '{slug}' does not exist.")
    # pydantic and the API's models on the inbox's first request, not at every container's start
    # (the store page, the overview and the sign-in page need neither).
    from pydantic import ValidationError

    from revisit.http.app import validation_error
    from revisit.http.schemas import FeedbackQuery

    try:
        q = FeedbackQuery.model_validate({**params, **extra})
    except ValidationError as exc:
        raise validation_error(exc) from None
    principal = me.principal_for(slug) if slug else me.principal
    return principal, q


OPTIONAL = ("comment", "civ", "orderId", "source", "assignee", "noteCount", "channel", "imported", "externalId")


def _row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        **dict.fromkeys(OPTIONAL),
        **item,
        "status_words": STATUS_WORDS.get(item.get("status", "new"), item.get("status")),
        "when": item["createdAt"][:16].replace("T", " "),
        "tags_text": ", ".join(item.get("tags") or []),
    }


async def inbox(request: Request) -> Response:
    me = auth.current(request)
    asked = _asked(request)
    cursor = request.query_params.get("cursor") or None
    stores = _visible_stores(me)
    ctx: dict[str, Any] = {"asked": asked, "stores": stores, "statuses": STATUS_WORDS, "problems": [],
                           "rows": [], "next_cursor": None, "filtered": bool(asked), "cursor": cursor,
                           "shown_store": asked.get("storeSlug"),
                           "more_open": bool(set(asked) & set(MORE))}  # fmt: skip
    try:
        principal, q = _query(me, asked, {"limit": str(PAGE_SIZE), **({"cursor": cursor} if cursor else {})})
        page = feedback.search(principal, q.filters(), q.limit, q.cursor)
    except errors.ValidationFailed as exc:
        ctx["problems"] = exc.details or [{"field": "", "message": exc.message}]
        ctx["more_open"] = True
        return render(request, "inbox.html", ctx, status=400)
    ctx["rows"] = [_row(i) for i in page["items"] if me.can_see(i["storeSlug"])]
    ctx["next_cursor"] = page["nextCursor"]
    ctx["shown_store"] = q.storeSlug
    return render(request, "inbox.html", ctx)


async def export(request: Request) -> Response:
    """The CSV of the same filter: ``feedback.export`` (the JSON API's export), 5 MB a file; past
    that, the next part's link is in ``X-Revisit-Next-Cursor`` as in the API."""
    me = auth.current(request)
    cursor = request.query_params.get("cursor") or None
    try:
        principal, q = _query(me, _asked(request), {"format": "csv", **({"cursor": cursor} if cursor else {})})
    except errors.ValidationFailed:
        return await inbox(request)
    text, next_cursor, rows = feedback.export(principal, q.filters(), "csv", q.cursor)
    headers = {
        "Content-Disposition": 'attachment; filename="feedback.csv"',
        "Cache-Control": "private, no-store",
        "X-Revisit-Rows": str(rows),
    }
    if next_cursor:
        headers["X-Revisit-Next-Cursor"] = next_cursor
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


def _record(me: auth.Identity, feedback_id: str) -> dict[str, Any] | None:
    """The answer if this identity may see it (the same 404 otherwise, as the API)."""
    try:
        record = feedback.get(me.principal, feedback_id)
    except errors.NotFound:
        return None
    return record if me.can_see(record["storeSlug"]) else None


def _can_change(me: auth.Identity) -> bool:
    return me.role != "viewer"


def _detail(request: Request, me: auth.Identity, record: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "fb": _row(record),
        "notes": list(reversed(record.get("notes") or [])),  # newest first
        "statuses": STATUS_WORDS,
        "can_change": _can_change(me),
        "max_tags": workflow.MAX_TAGS,
        "note_max": workflow.NOTE_MAX_CHARS,
        "saved": request.query_params.get("saved") == "1",
        "problems": [],
        "form": {"assignee": record.get("assignee") or "", "tags": ", ".join(record.get("tags") or []), "note": ""},
        **extra,
    }


async def detail(request: Request) -> Response:
    me = auth.current(request)
    record = _record(me, request.path_params["id"])
    if record is None:
        return not_found(request)
    return render(request, "feedback_detail.html", _detail(request, me, record))


async def change(request: Request) -> Response:
    """The workflow form: one ``feedback.update`` (the PATCH's own), with the version the form was
    shown at as If-Match - a form older than a change made meanwhile changes nothing."""
    form = await auth.csrf_form(request)  # first: a missing or wrong token changes nothing (403)
    me = auth.current(request)
    record = _record(me, request.path_params["id"])
    if record is None:
        return not_found(request)
    if not _can_change(me):
        return render(request, "feedback_detail.html", _detail(request, me, record, problems=[
            {"field": "", "message": "Viewers can read the inbox but not change it."}]), status=403)  # fmt: skip
    status = str(form.get("status") or "")
    assignee = str(form.get("assignee") or "").strip()
    tags_text = str(form.get("tags") or "")
    note = str(form.get("note") or "").strip()
    changes: dict[str, Any] = {
        "status": status,
        "assignee": assignee.casefold() or None,
        "tags": [t for t in (p.strip() for p in tags_text.replace(";", ",").split(",")) if t],
    }
    problems = []
    if assignee and not (("@" in assignee) and "." in assignee.rsplit("@", 1)[-1] and " " not in assignee):
        problems.append({"field": "assignee", "message": "must be an email address"})
    version = str(form.get("version") or "")
    if not version.isdigit():
        problems.append({"field": "version", "message": "the form is incomplete; reload the page"})
    if not problems:
        try:
            feedback.update(
                me.principal_for(record["storeSlug"]),
                record["id"],
                changes,
                note=note or None,
                author=me.email or me.actor,
                if_match=int(version),
            )
            return redirect(request, f"/app/feedback/{record['id']}", saved="1")
        except errors.PreconditionFailed:
            fresh = _record(me, record["id"]) or record
            problems = [{"field": "", "message": "Someone changed this answer while you were editing it. "
                         "Here it is as it is now; make your change again."}]  # fmt: skip
            return render(request, "feedback_detail.html", _detail(request, me, fresh, problems=problems), status=409)
        except errors.ValidationFailed as exc:
            problems = exc.details or [{"field": "", "message": exc.message}]
    ctx = _detail(request, me, record, problems=problems)
    ctx["form"] = {"assignee": assignee, "tags": tags_text, "note": note, "status": status}
    return render(request, "feedback_detail.html", ctx, status=400)


routes = [
    Route("/app/feedback", inbox, methods=["GET"]),
    Route("/app/feedback/export", export, methods=["GET"]),
    Route("/app/feedback/{id}", detail, methods=["GET"]),
    Route("/app/feedback/{id}", change, methods=["POST"]),
]
nav = [("Feedback", "/app/feedback", None)]
