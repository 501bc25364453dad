"""GET /s/{token} - the survey page a customer opens from a link; POST /s/{token} - its form
(form-encoded: works without JavaScript); GET/POST /u/{token} - opt out. All HTML, in the
customer's language (revisit.domain.locales.choose), with the store's name and branding."""

from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import Response

from revisit import errors, i18n
from revisit.domain import locales, prompts, submissions, tokens, unsubscribes, workspaces
from revisit.domain.util import now
from revisit.http import pages
from revisit.http.app import create_app, header
from revisit.observability import logger

app = create_app()
MAX_FORM_BYTES = 16 * 1024

_CLOSED = {  # token state -> (status, title, text)
    tokens.TokenState.UNKNOWN: (
        404,
        i18n.N_("Survey not found"),
        i18n.N_("This survey link does not exist. Please check the link."),
    ),
    tokens.TokenState.USED: (
        410,
        i18n.N_("Already answered"),
        i18n.N_("This survey has already been answered. Thank you!"),
    ),
    tokens.TokenState.EXPIRED: (410, i18n.N_("Survey expired"), i18n.N_("This survey link has expired.")),
    tokens.TokenState.EXHAUSTED: (
        410,
        i18n.N_("Survey closed"),
        i18n.N_("This survey is no longer accepting answers."),
    ),
    tokens.TokenState.CLOSED: (410, i18n.N_("Survey closed"), i18n.N_("This survey is no longer accepting answers.")),
}


def _html(page: pages.Page) -> Response:
    return Response(
        status_code=page.status, content_type="text/html; charset=utf-8", body=page.html, headers=page.headers
    )


def _context(record: dict | None) -> tuple[i18n.Text, pages.Brand, dict]:
    """The customer's language and the store's branding for a token (or for none)."""
    store = {}
    if record is not None:
        store = workspaces.cached_store(record["workspaceId"], record["storeSlug"]) or {}
    payload_locale = ((record or {}).get("payload") or {}).get("locale")
    language = locales.choose(payload_locale, header(app, "Accept-Language"), store.get("locale"))
    fallback = (record or {}).get("storeSlug") or ""
    return i18n.text(language), pages.Brand.of(store, fallback), store


def _closed(state: str, t: i18n.Text, brand: pages.Brand) -> Response:
    status, title, text = _CLOSED[state]
    return _html(pages.message(status, t, brand, t(title), t(text)))


@app.get("/s/<token>")
def survey_page(token: str):
    record = tokens.lookup(token)
    t, brand, store = _context(record)
    state = tokens.state_of(record, int(now().timestamp()))
    if state != tokens.TokenState.OPEN:
        return _closed(state, t, brand)
    return _html(pages.survey_form(t, brand, store.get("questions")))


def _form() -> dict[str, str]:
    event = app.current_event
    content_type = (header(app, "Content-Type") or "").split(";")[0].strip().lower()
    raw = event.decoded_body or ""
    if content_type != "application/x-www-form-urlencoded" or len(raw.encode()) > MAX_FORM_BYTES:
        return {}
    try:
        fields = parse_qs(raw, keep_blank_values=True, max_num_fields=10, strict_parsing=False)
    except ValueError:
        return {}
    return {k: v[0] for k, v in fields.items() if v}


@app.post("/s/<token>")
def survey_answer(token: str):
    record = tokens.lookup(token)
    t, brand, store = _context(record)
    state = tokens.state_of(record, int(now().timestamp()))
    form = _form()
    comment = form.get("comment", "").strip()
    rating = int(form["rating"]) if form.get("rating") in {"1", "2", "3", "4", "5"} else None
    problems = {}
    if rating is None:
        problems["rating"] = t("Please choose a rating from 1 to 5 stars.")
    if len(comment) > pages.COMMENT_MAX:
        problems["comment"] = t("Your comment is too long: at most {max} characters.", max=pages.COMMENT_MAX)
    if state not in (tokens.TokenState.OPEN, tokens.TokenState.USED):
        return _closed(state, t, brand)
    if problems:
        if state == tokens.TokenState.USED:
            return _closed(state, t, brand)
        questions = store.get("questions")
        page = pages.survey_form(t, brand, questions, rating=rating, comment=comment, errors=problems, status=400)
        return _html(page)
    # A used one-time token may still be this customer's own retry (the same answer): the
    # domain answers it with the first submission, anything else is "already answered".
    try:
        submissions.submit(token, rating, comment or None, None, token_record=record)
    except (errors.NotFound, errors.Conflict, errors.Gone):
        return _closed(tokens.state_of(tokens.lookup(token), int(now().timestamp())), t, brand)
    assert record is not None
    return _html(pages.thank_you(t, brand, rating, prompts.review_url(store, record, rating)))


@app.get("/u/<token>")
def unsubscribe_page(token: str):
    record = tokens.lookup(token)
    t, brand, _ = _context(record)
    if record is None or not record.get("trackerId"):
        return _html(
            pages.message(404, t, brand, t("Link not found"), t("This link does not exist. Please check the link."))
        )
    return _html(pages.unsubscribe_form(t, brand))


@app.post("/u/<token>")
def unsubscribe(token: str):
    record = tokens.lookup(token)
    t, brand, _ = _context(record)
    if record is None or not record.get("trackerId"):
        return _html(
            pages.message(404, t, brand, t("Link not found"), t("This link does not exist. Please check the link."))
        )
    unsubscribes.by_token(token)
    text = t("You will get no more survey messages from {store}.", store=brand.name)
    return _html(pages.message(200, t, brand, t("Unsubscribed"), text))


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
