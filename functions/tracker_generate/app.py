"""POST /partners/survey-tracker/generate - the external trackers of every applicable survey of a purchase."""

from revisit.domain import trackers
from revisit.domain.auth import Kind
from revisit.http.app import base_url, body, create_app, json_response, principal
from revisit.http.tracker_schemas import Generate
from revisit.observability import logger

app = create_app()


@app.post("/partners/survey-tracker/generate")
def generate():
    partner = principal(app, Kind.PARTNER)
    req = body(app, Generate)
    items, created = trackers.generate(partner, req.purchaseId, base_url(app), req.storeSlug)
    return json_response(201 if created else 200, {"items": items, "created": created})


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
