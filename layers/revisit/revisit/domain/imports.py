"""Importing history (issue 16 part 5; docs/imports.md): past answers from another system become
feedback records of their own day, each at most once.

The rows arrive validated (revisit.http.import_schemas: every row is checked before anything is
written); here their stores are checked, then each row is written on its own, conditional on its
``externalId`` (revisit.dal.imports). Imported records are marked ``imported: true`` and keep
their ``source``: the loyalty aggregator counts them on their ``createdAt`` day like any answer,
and no integration event or webhook fires for them.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from revisit.dal import imports as dal
from revisit.domain import workspaces
from revisit.domain.auth import Principal
from revisit.domain.util import iso, now
from revisit.errors import Forbidden, ValidationFailed

DEFAULT_SOURCE = "import"
WRITERS = 16  # rows written at once (each its own transaction)
_ID_SPACE = uuid.UUID("6f1c2d0e-5b8a-4d3e-9c71-2a4f0b9e8d15")  # feedback ids of imported rows


def feedback_id(workspace_id: str, external_id: str) -> str:
    """An imported row's feedback id: the same for the same (workspace, externalId), always."""
    return str(uuid.uuid5(_ID_SPACE, f"{workspace_id}/{external_id}"))


def require_workspace_scope(principal: Principal) -> None:
    if principal.scope != "workspace":
        raise Forbidden("Importing needs the owner token or a workspace key: a store key may not import.")


def _record(workspace_id: str, row: dict[str, Any]) -> dict[str, Any]:
    created: datetime = row["createdAt"]
    record = {
        "id": feedback_id(workspace_id, row["externalId"]),
        "workspaceId": workspace_id,
        "storeSlug": row["storeSlug"],
        "rating": row["rating"],
        "comment": row.get("comment") or None,
        "civ": row.get("civ") or None,
        "civSource": "import" if row.get("civ") else None,
        "orderId": row.get("orderId") or None,
        "source": row.get("source") or DEFAULT_SOURCE,
        "createdAt": iso(created),
        "imported": True,
        "externalId": row["externalId"],
    }
    return {k: v for k, v in record.items() if v is not None}


def import_rows(principal: Principal, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Write the rows (valid, at most 1,000) of one request. Answers how many were created and how
    many were there already (imported before: a retried or resumed request)."""
    require_workspace_scope(principal)
    ws = principal.workspace_id
    known = {slug: workspaces.find_store(ws, slug) is not None for slug in {r["storeSlug"] for r in rows}}
    unknown = [
        {"field": f"rows[{n}].storeSlug", "message": "is not a store of this workspace", "type": "unknown_store"}
        for n, r in enumerate(rows, 1)
        if not known[r["storeSlug"]]
    ]
    if unknown:
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in unknown[:5])
        raise ValidationFailed(f"Nothing was imported: {summary}", unknown)
    at = iso(now())
    records = [_record(ws, r) for r in rows]
    with ThreadPoolExecutor(max_workers=min(WRITERS, len(records))) as pool:
        written = list(pool.map(lambda rec: dal.write(rec, rec["externalId"], at), records))
    created = sum(written)
    return {"received": len(rows), "created": created, "alreadyPresent": len(rows) - created}
