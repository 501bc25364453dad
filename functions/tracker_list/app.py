"""POST /partners/survey-tracker/list - trackers by send date, purchases or customers, paged."""

from revisit.domain import trackers
from revisit.domain.auth import Kind
from revisit.domain.util import iso_or_none
from revisit.http.app import body, create_app, json_response, principal
from revisit.http.tracker_schemas import ListTrackers
from revisit.observability import logger

app = create_app()


@app.post("/partners/survey-tracker/list")
def list_trackers():
    partner = principal(app, Kind.PARTNER)
    req = body(app, ListTrackers)
    result = trackers.list_trackers(
        partner,
        req.limit,
        req.page,
        iso_or_none(req.fromSendAt),
        iso_or_none(req.toSendAt),
        req.purchases,
        req.customers,
        req.storeSlug,
    )
    return json_response(200, result)


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
