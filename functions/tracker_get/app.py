"""GET /partners/survey-tracker?id= - one survey tracker, with exactly the seed's fields."""

from revisit.domain import trackers
from revisit.domain.auth import Kind
from revisit.http.app import create_app, json_response, principal, query
from revisit.http.tracker_schemas import TrackerQuery
from revisit.observability import logger

app = create_app()


@app.get("/partners/survey-tracker")
def get_tracker():
    partner = principal(app, Kind.PARTNER)
    req = query(app, TrackerQuery)
    return json_response(200, trackers.get(partner, str(req.id)))


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
