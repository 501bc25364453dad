"""GET and PATCH /api/external/feedback/{feedbackId}: one answer and the inbox's workflow on it -
status (new, in_progress, resolved), assignee, internal notes, tags (docs/inbox.md).

The owner token, a workspace key or the key of the answer's store; an unknown id and another
store's answer are the same 404. The answer carries ``ETag: "<version>"``; a PATCH with
``If-Match`` of that value is applied only if nobody changed the answer since (else 412).
"""

import re

from revisit import errors
from revisit.domain import feedback
from revisit.domain.auth import Kind
from revisit.http.app import body, create_app, header, json_response, principal
from revisit.http.schemas import FeedbackPatch
from revisit.observability import logger

app = create_app()
_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _answer(record: dict) -> object:
    return json_response(200, record, {"ETag": f'"{record["version"]}"', "Cache-Control": "private, no-store"})


def _id(feedback_id: str) -> str:
    if not _ID.match(feedback_id):
        raise errors.NotFound("No feedback with this id.")
    return feedback_id


def _if_match() -> int | None:
    value = header(app, "If-Match")
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 12:
        raise errors.field_error("If-Match", 'must be the ETag of the answer, e.g. "3"')
    return int(text)


@app.get("/api/external/feedback/<feedback_id>")
def get_feedback(feedback_id: str):
    caller = principal(app, Kind.API, Kind.OWNER)
    return _answer(feedback.get(caller, _id(feedback_id)))


@app.patch("/api/external/feedback/<feedback_id>")
def patch_feedback(feedback_id: str):
    caller = principal(app, Kind.API, Kind.OWNER)
    wanted = _id(feedback_id)
    change = body(app, FeedbackPatch)
    expected = _if_match()
    record = feedback.update(caller, wanted, change.changes(), note=change.note, if_match=expected)
    logger.info("feedback workflow changed", extra={"fields": sorted(change.model_fields_set)})
    return _answer(record)


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
