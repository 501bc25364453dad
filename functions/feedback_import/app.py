"""POST /api/external/feedback/import - past answers from another system (docs/imports.md).

The owner token or a workspace key; the body is JSON Lines (application/x-ndjson) or CSV
(text/csv), at most 1,000 rows. Every row is validated before anything is written (400 naming
``rows[n].field``, 1-based); then each row is written once, keyed by its ``externalId``.
"""

import base64

from revisit import errors
from revisit.domain import imports
from revisit.domain.auth import Kind
from revisit.domain.util import now
from revisit.http import import_schemas
from revisit.http.app import create_app, header, json_response, principal
from revisit.observability import logger

app = create_app()


def _text() -> str:
    event = app.current_event
    raw = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(raw).decode()
        except (ValueError, UnicodeDecodeError):
            raise errors.MalformedRequest(
                "The body is not UTF-8 text.", [{"field": "body", "message": "not UTF-8"}]
            ) from None
    return raw


@app.post("/api/external/feedback/import")
def import_feedback():
    caller = principal(app, Kind.API, Kind.OWNER)
    imports.require_workspace_scope(caller)
    rows = import_schemas.parse(_text(), header(app, "Content-Type") or "", now())
    answer = imports.import_rows(caller, [r.model_dump() for r in rows])
    logger.info("feedback imported", extra={"rows": answer["received"], "rowsCreated": answer["created"]})
    return json_response(200, answer)


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
