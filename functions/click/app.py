"""GET /r/{token} - a tracker link: count the click, then send the visitor to the survey page."""

from aws_lambda_powertools.event_handler import Response

from revisit import i18n
from revisit.domain import clicks, locales
from revisit.http import pages
from revisit.http.app import base_url, create_app, header
from revisit.observability import logger

app = create_app()


@app.get("/r/<token>")
def click(token: str):
    # A visitor is an address: the User-Agent is the client's to choose (30 of them were 30 "unique"
    # visitors of one address).
    visitor = app.current_event.request_context.identity.source_ip or ""
    if clicks.record_click(token, visitor) is None:
        t = i18n.text(locales.choose(None, header(app, "Accept-Language"), None))
        page = pages.message(
            404, t, pages.Brand(""), t("Survey not found"), t("This survey link does not exist. Please check the link.")
        )
        return Response(status_code=404, content_type="text/html; charset=utf-8", body=page.html, headers=page.headers)
    location = f"{base_url(app)}/s/{token}"
    return Response(status_code=302, headers={"Location": location, "Cache-Control": "no-store"}, body="")


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
