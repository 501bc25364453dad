"""GET /s/{token} - the survey page a customer opens from a link; GET/POST /u/{token} - opt out."""

from aws_lambda_powertools.event_handler import Response

from revisit.domain import tokens, unsubscribes, workspaces
from revisit.domain.util import now
from revisit.http import pages
from revisit.http.app import create_app
from revisit.observability import logger

app = create_app()

_CLOSED = {
    tokens.TokenState.UNKNOWN: (404, "Survey not found", "This survey link does not exist. Please check the link."),
    tokens.TokenState.USED: (410, "Already answered", "This survey has already been answered. Thank you!"),
    tokens.TokenState.EXPIRED: (410, "Survey expired", "This survey link has expired."),
    tokens.TokenState.EXHAUSTED: (410, "Survey closed", "This survey is no longer accepting answers."),
    tokens.TokenState.CLOSED: (410, "Survey closed", "This survey is no longer accepting answers."),
}


def _html(status: int, html: str) -> Response:
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=html, headers=pages.HEADERS)


@app.get("/s/<token>")
def survey_page(token: str):
    record = tokens.lookup(token)
    state = tokens.state_of(record, int(now().timestamp()))
    if state != tokens.TokenState.OPEN:
        status, title, text = _CLOSED[state]
        return _html(status, pages.message(title, text))
    store = workspaces.cached_store(record["workspaceId"], record["storeSlug"]) or {}
    name = store.get("name") or record["storeSlug"]
    return _html(200, pages.survey_form(name, token, "../api/external/public/submit"))


@app.get("/u/<token>")
def unsubscribe_page(token: str):
    record = tokens.lookup(token)
    if record is None or not record.get("trackerId"):
        return _html(404, pages.message("Link not found", "This link does not exist. Please check the link."))
    return _html(200, pages.unsubscribe_form(token))


@app.post("/u/<token>")
def unsubscribe(token: str):
    unsubscribes.by_token(token)  # unknown token -> 404 JSON from the error mapping
    return _html(200, pages.message("Unsubscribed", "You will get no more survey messages from this store."))


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
