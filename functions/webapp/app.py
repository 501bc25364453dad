"""The store manager's web app (issue 17): server-rendered pages under /app and /app/{proxy+},
a Starlette app served by Mangum. Pages call the same domain services as the JSON API
(revisit.domain.*); the package beside this file (webapp/) holds the routes, the session and
CSRF, the templates and the charts. How a page is added: /work/coord/webapp-interface.md and
webapp/pages/__init__.py."""

from mangum import Mangum
from webapp import create_app

from revisit.observability import logger

app = create_app()
# REST API (v1) events; the path API Gateway gives is without the stage, and webapp's own
# middleware puts the stage back as the root path of links (webapp.StagePrefix). No lifespan:
# nothing to start or stop per container.
handler = Mangum(app, lifespan="off", exclude_headers=["content-length"])


@logger.inject_lambda_context
def lambda_handler(event, context):
    return handler(event, context)
