"""GET /alerts/unsubscribe/{alertToken} - asks to confirm; POST - the address gets no more alert
emails or digests from that store (also RFC 8058's one-click POST from the mail client's
List-Unsubscribe button). HTML in the store's language, no JavaScript (revisit.http.pages)."""

from aws_lambda_powertools.event_handler import Response

from revisit import errors, i18n
from revisit.domain import alerts, locales
from revisit.http import pages
from revisit.http.app import create_app, header
from revisit.observability import logger

app = create_app()


def _html(page: pages.Page) -> Response:
    return Response(
        status_code=page.status, content_type="text/html; charset=utf-8", body=page.html, headers=page.headers
    )


def _not_found() -> Response:
    # No store to take the language from: the reader's browser's (Accept-Language), else English.
    t = i18n.text(locales.choose(None, header(app, "Accept-Language"), None))
    text = t("This link does not exist. Please check the link.")
    return _html(pages.message(404, t, pages.Brand.of(None, "Revisit"), t("Link not found"), text))


@app.get("/alerts/unsubscribe/<alert_token>")
def confirm(alert_token: str):
    try:
        store = alerts.unsubscribe_target(alert_token)
    except errors.NotFound:
        return _not_found()
    t = i18n.text(store.get("locale") or "en")
    return _html(pages.alert_unsubscribe_form(t, pages.Brand.of(store, store["slug"])))


@app.post("/alerts/unsubscribe/<alert_token>")
def unsubscribe(alert_token: str):
    try:
        store = alerts.unsubscribe(alert_token)
    except errors.NotFound:
        return _not_found()
    t = i18n.text(store.get("locale") or "en")
    brand = pages.Brand.of(store, store["slug"])
    text = t("This address will get no more alert emails or weekly digests from {store}.", store=brand.name)
    return _html(pages.message(200, t, brand, t("Unsubscribed"), text))


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
