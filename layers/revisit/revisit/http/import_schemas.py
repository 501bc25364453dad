"""POST /api/external/feedback/import: the body (JSON Lines or CSV) -> validated rows (docs/imports.md).

Every row is checked before anything is written; the errors name the row, 1-based in the order
of the records (``rows[1]`` is the first JSON line, or the first CSV line after the header; blank
lines are skipped and not counted), and the field: ``rows[7].rating``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from revisit import errors
from revisit.http.app import plain_message
from revisit.http.schemas import Civ, Comment, Instant, OrderId, Source, StoreSlug

MAX_ROWS = 1_000
MAX_BYTES = 5_000_000  # Lambda's synchronous request limit is 6 MB; keep a margin
COLUMNS = ("storeSlug", "createdAt", "rating", "comment", "civ", "orderId", "source", "externalId")
REQUIRED = ("storeSlug", "createdAt", "rating", "externalId")
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines", "application/x-jsonlines")
CSV_TYPES = ("text/csv",)


def _whole(value: Any) -> Any:
    """A rating as a whole number: 5 or "5" (CSV cells are text), never true, 4.5 or "4.5"."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number from 1 to 5")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


ExternalId = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[\x20-\x7e]+$")]


class ImportRow(BaseModel):
    """One past answer. ``externalId`` is the answer's id in the system it comes from: a row whose
    ``externalId`` this workspace imported before is left alone (already present)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    storeSlug: StoreSlug
    createdAt: Instant
    rating: Annotated[int, BeforeValidator(_whole), Field(strict=True, ge=1, le=5)]
    comment: Comment | None = None
    civ: Civ | None = None
    orderId: OrderId | None = None
    source: Source | None = None
    externalId: ExternalId

    @field_validator("createdAt")
    @classmethod
    def _zoned(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must include a time zone (e.g. Z or +02:00)")
        return value.astimezone(UTC)

    @field_validator("orderId", "civ", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value


def _row_error(number: int, field: str, message: str, kind: str = "invalid") -> dict[str, Any]:
    return {"field": f"rows[{number}]" + (f".{field}" if field else ""), "message": message, "type": kind}


def _records(text: str, content_type: str) -> list[Any]:
    """The body's records (JSON values for JSON Lines, dicts of the cells for CSV)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in JSONL_TYPES:
        out: list[Any] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append(_NotJson())
            if len(out) > MAX_ROWS:
                break
        return out
    if kind in CSV_TYPES:
        reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), restval=None)
        header = [h.strip() for h in reader.fieldnames or []]
        if not header:
            raise errors.ValidationFailed(
                "The CSV has no header line.", [{"field": "columns", "message": "a header line is required"}]
            )
        unknown = [h for h in header if h not in COLUMNS]
        missing = [c for c in REQUIRED if c not in header]
        if unknown or missing:
            details = [{"field": f"columns.{h}", "message": "is not a column of an import"} for h in unknown]
            details += [{"field": f"columns.{c}", "message": "is a required column"} for c in missing]
            raise errors.ValidationFailed(
                f"Invalid CSV header: the columns are {', '.join(COLUMNS)}.",
                [{**d, "type": "invalid"} for d in details],
            )
        reader.fieldnames = header
        rows = []
        for cells in reader:
            if not any((v or "").strip() for k, v in cells.items() if k is not None):
                continue
            extra = cells.pop(None, None)  # more cells than columns
            row: dict[str, Any] = {k: v for k, v in cells.items() if v is not None and v.strip() != ""}
            if extra:
                row["_extraCells"] = extra
            rows.append(row)
            if len(rows) > MAX_ROWS:
                break
        return rows
    raise errors.MalformedRequest(
        "Send the rows as JSON Lines (Content-Type: application/x-ndjson) or CSV (text/csv).",
        [{"field": "Content-Type", "message": "must be application/x-ndjson or text/csv", "type": "invalid"}],
    )


class _NotJson:
    """A JSON line that does not parse."""


def parse(text: str, content_type: str, now: datetime) -> list[ImportRow]:
    """Every row, validated; a ValidationFailed naming each bad row and field, or a 413 beyond
    MAX_ROWS rows / MAX_BYTES bytes. Nothing is written by a request that fails here."""
    if len(text.encode()) > MAX_BYTES:
        raise errors.PayloadTooLarge(
            f"The body is larger than {MAX_BYTES} bytes: send fewer rows per request.",
            [{"field": "body", "message": f"at most {MAX_BYTES} bytes", "type": "too_large"}],
        )
    records = _records(text, content_type)
    if len(records) > MAX_ROWS:
        raise errors.PayloadTooLarge(
            f"At most {MAX_ROWS} rows per request: split the file (revisit import does).",
            [{"field": "rows", "message": f"at most {MAX_ROWS} rows per request", "type": "too_many_rows"}],
        )
    if not records:
        raise errors.ValidationFailed("No rows to import.", [{"field": "rows", "message": "no rows", "type": "empty"}])
    rows: list[ImportRow] = []
    details: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, record in enumerate(records, 1):
        if isinstance(record, _NotJson):
            details.append(_row_error(number, "", "is not valid JSON", "json_invalid"))
            continue
        if not isinstance(record, dict):
            details.append(_row_error(number, "", "must be a JSON object", "model_type"))
            continue
        if "_extraCells" in record:
            details.append(_row_error(number, "", "has more cells than the header has columns"))
            continue
        try:
            row = ImportRow.model_validate(record)
        except ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False):
                loc = ".".join(str(p) for p in err.get("loc", ()))
                details.append(_row_error(number, loc, plain_message(err), err.get("type", "invalid")))
            continue
        if row.createdAt > now:
            details.append(_row_error(number, "createdAt", "must not be in the future", "future"))
        if row.externalId in seen:
            details.append(_row_error(number, "externalId", f"repeats row {seen[row.externalId]}", "duplicate"))
        seen.setdefault(row.externalId, number)
        rows.append(row)
    if details:
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        more = f" (and {len(details) - 5} more)" if len(details) > 5 else ""
        raise errors.ValidationFailed(f"Nothing was imported: {summary}{more}", details)
    return rows
