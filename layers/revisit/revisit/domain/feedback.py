"""Search and export of feedback, scoped to what the caller's credentials may see."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from typing import Any

from revisit.dal import feedback as dal
from revisit.domain.auth import Principal
from revisit.errors import field_error

MAX_EVALUATED_PER_PAGE = 2_000
EXPORT_MAX_BYTES = 5_000_000  # Lambda's synchronous response limit is 6 MB; keep a margin.
# The export's columns: the time first, then every public field but the workspace (one per export)
# and the payload (spread into payload.<key> columns).
BASE_COLUMNS = (
    "id",
    "createdAt",
    *(f for f in dal.PUBLIC_FIELDS if f not in ("id", "createdAt", "workspaceId", "payload")),
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
    out = io.StringIO()
    out.write("\ufeff")  # UTF-8 BOM: spreadsheets then read accents and emoji correctly
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*BASE_COLUMNS, *(f"payload.{k}" for k in payload_keys)])
    for r in rows:
        payload = r.get("payload") or {}
        writer.writerow([_cell(r.get(c)) for c in BASE_COLUMNS] + [_cell(payload.get(k)) for k in payload_keys])
    return out.getvalue(), cursor, len(rows)
