"""Search and export of feedback, scoped to what the caller's credentials may see, and the inbox's
workflow on each answer: status (new, in progress, resolved), assignee, internal notes, tags.

The workflow is the manager's: it is in search results, exports and the record's own GET/PATCH,
never in what a customer or a webhook sees (``dal.feedback.public``), and the aggregates never read
it (they count INSERTs only). A record from before the inbox has no status: it reads as ``new``.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from typing import Any

from revisit.dal import feedback as dal
from revisit.domain.auth import Kind, Principal
from revisit.domain.util import iso, new_id, now
from revisit.domain.workflow import MAX_NOTES, NOTE_MAX_CHARS, STATUSES, normalise_tags
from revisit.errors import Conflict, NotFound, PreconditionFailed, field_error

MAX_EVALUATED_PER_PAGE = 2_000
EXPORT_MAX_BYTES = 5_000_000  # Lambda's synchronous response limit is 6 MB; keep a margin.
# The export's columns: the time first, then every public field but the workspace (one per export)
# and the payload (spread into payload.<key> columns).
BASE_COLUMNS = (
    "id",
    "createdAt",
    *(f for f in dal.PUBLIC_FIELDS if f not in ("id", "createdAt", "workspaceId", "payload")),
    *dal.INBOX_FIELDS,  # status, assignee, tags ("; " between tags)
)
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Filters:
    store_slug: str | None = None
    from_ts: str | None = None
    to_ts: str | None = None
    min_rating: int | None = None
    max_rating: int | None = None
    order_id: str | None = None
    civ: str | None = None
    source: str | None = None
    text: str | None = None
    has_comment: bool | None = None
    status: str | None = None
    assignee: str | None = None  # "" = answers nobody is assigned to
    tag: str | None = None


def _query(principal: Principal, f: Filters) -> dal.Query:
    if f.store_slug is not None:
        principal.require_store(f.store_slug)
        store = f.store_slug
    else:
        store = principal.stores_visible()  # a store key only ever sees its own store
    return dal.Query(workspace_id=principal.workspace_id, **{**asdict(f), "store_slug": store})


def search(principal: Principal, f: Filters, limit: int, cursor: str | None) -> dict[str, Any]:
    try:
        items, next_cursor = dal.search_page(_query(principal, f), limit, cursor, MAX_EVALUATED_PER_PAGE)
    except dal.BadCursor as exc:
        raise field_error("cursor", str(exc)) from None
    return {"items": items, "count": len(items), "nextCursor": next_cursor}


def _page(q: dal.Query, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    try:
        return dal.search_page(q, limit, cursor, MAX_EVALUATED_PER_PAGE)
    except dal.BadCursor as exc:
        raise field_error("cursor", str(exc)) from None


def _cell(value: Any) -> Any:
    """Spreadsheet-safe cell: text that a spreadsheet would run as a formula is quoted with '."""
    if isinstance(value, str) and value.startswith(_FORMULA_LEADS):
        return "'" + value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def export(principal: Principal, f: Filters, fmt: str, cursor: str | None = None) -> tuple[str, str | None, int]:
    """Every match as CSV or JSON lines, newest first, up to EXPORT_MAX_BYTES.

    Returns (body, continuation cursor or None, rows). Beyond the size limit the body stops at a
    page boundary and the cursor continues exactly there: no record is skipped or repeated.
    """
    q = _query(principal, f)
    rows: list[dict[str, Any]] = []
    size = 0
    while True:
        items, after = _page(q, 100, cursor)
        page_size = sum(len(json.dumps(i, ensure_ascii=False)) + 16 for i in items)
        if rows and size + page_size > EXPORT_MAX_BYTES:
            break  # resume with the cursor that fetched this page
        rows.extend(items)
        size += page_size
        cursor = after
        if cursor is None:
            break
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), cursor, len(rows)
    payload_keys = sorted({k for r in rows for k in (r.get("payload") or {})})
    rows = [{**r, "tags": "; ".join(r["tags"])} if r.get("tags") else r for r in rows]
    out = io.StringIO()
    out.write("\ufeff")  # UTF-8 BOM: spreadsheets then read accents and emoji correctly
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*BASE_COLUMNS, *(f"payload.{k}" for k in payload_keys)])
    for r in rows:
        payload = r.get("payload") or {}
        writer.writerow([_cell(r.get(c)) for c in BASE_COLUMNS] + [_cell(payload.get(k)) for k in payload_keys])
    return out.getvalue(), cursor, len(rows)


# ------------------------------------------------------------------ the inbox's workflow


def author_of(principal: Principal) -> str:
    """Who wrote a note, when no person is named (the API): the credential that was used."""
    return "owner" if principal.kind is Kind.OWNER else f"key {principal.key_id}"


def _visible(principal: Principal, feedback_id: str) -> dict[str, Any]:
    """The caller's record with this id; an unknown id and another store's record are the same
    404 (no way to learn that an id exists elsewhere)."""
    record = dal.find(principal.workspace_id, feedback_id)
    if record is None or not principal.can_access_store(record["storeSlug"]):
        raise NotFound("No feedback with this id.")
    return record


def get(principal: Principal, feedback_id: str) -> dict[str, Any]:
    """One answer with its workflow (notes oldest first) and ``version``."""
    return dal.detail(_visible(principal, feedback_id))


def update(
    principal: Principal,
    feedback_id: str,
    changes: dict[str, Any],
    *,
    note: str | None = None,
    author: str | None = None,
    if_match: int | None = None,
) -> dict[str, Any]:
    """Change an answer's workflow in one conditional write: ``changes`` holds what the caller sent
    of ``status``, ``assignee`` (None: nobody) and ``tags`` (the whole set; empty or None: none);
    ``note`` is appended with its author and time. With ``if_match`` the write happens only if the
    record is still at that version (else 412); without it, concurrent changes of different fields
    and concurrent notes are all kept. Answers the record as written."""
    record = _visible(principal, feedback_id)
    unknown = set(changes) - {"status", "assignee", "tags"}
    if unknown:
        raise field_error(sorted(unknown)[0], "is not a workflow field")
    if changes.get("status") is not None and changes["status"] not in STATUSES:
        raise field_error("status", f"must be one of {', '.join(STATUSES)}")
    if "status" in changes and changes["status"] is None:
        raise field_error("status", "cannot be null (use new)")
    stored = dict(changes)
    if "tags" in stored:
        try:
            stored["tags"] = normalise_tags(stored["tags"] or []) or None
        except ValueError as exc:
            raise field_error("tags", str(exc)) from None
    entry = None
    if note is not None:
        text = note.strip()
        if not text or len(text) > NOTE_MAX_CHARS:
            raise field_error("note", f"must be 1-{NOTE_MAX_CHARS} characters")
        entry = {"id": new_id(), "author": author or author_of(principal), "at": iso(now()), "text": text}
    if not stored and entry is None:
        if if_match is not None and int(record.get("version") or 0) != if_match:
            raise _stale(record, if_match)
        return dal.detail(record)
    try:
        written = dal.update_workflow(
            principal.workspace_id,
            record,
            stored,
            note=entry,
            max_notes=MAX_NOTES,
            expected_version=if_match,
            at=iso(now()),
        )
    except dal.RecordTooLarge:
        raise field_error("note", "this answer holds as much text as it can (400 KB): shorten the note") from None
    except dal.WorkflowConflict as exc:
        current = exc.current
        if current is None or current.get("storeSlug") != record["storeSlug"]:
            raise NotFound("No feedback with this id.") from None
        if if_match is not None and int(current.get("version") or 0) != if_match:
            raise _stale(current, if_match) from None
        if entry is not None and len(current.get("notes") or []) >= MAX_NOTES:
            raise field_error("note", f"this answer has {MAX_NOTES} notes, the most it keeps") from None
        raise Conflict("The feedback changed while it was being updated; try again.") from None
    return dal.detail(written)


def _stale(current: dict[str, Any], expected: int) -> PreconditionFailed:
    version = int(current.get("version") or 0)
    return PreconditionFailed(
        f"The feedback is at version {version}, not {expected}: it changed since it was read; read it again.",
        [{"field": "If-Match", "message": f"the current version is {version}", "type": "stale"}],
    )
