"""The store manager's web app (issue 17): server-rendered pages under /app and /app/{proxy+},
a Starlette app served by Mangum. Pages call the same domain services as the JSON API
(revisit.domain.*); the package beside this file (webapp/) holds the routes, the session and
CSRF, the templates and the charts. How a page is added: /work/coord/webapp-interface.md and
webapp/pages/__init__.py."""

from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES
from webapp import create_app

from revisit.observability import logger

app = create_app()
# REST API (v1) events; the path API Gateway gives is without the stage, and webapp's own
# middleware puts the stage back as the root path of links (webapp.StagePrefix). No lifespan:
# nothing to start or stop per container. Every answer is text (the SVG favicon too): a base64
# body would reach the browser as base64, the API having no binary media types. API Gateway sets
# Content-Length itself.
handler = Mangum(
    app,
    lifespan="off",
    text_mime_types=[*DEFAULT_TEXT_MIME_TYPES, "image/svg+xml"],
    exclude_headers=["content-length"],
)


@logger.inject_lambda_context
def lambda_handler(event, context):
    return handler(event, context)
