"""POST /nps/create - save an NPS review (seed 002), by shop_secret or by did."""

from revisit.domain import nps
from revisit.errors import NotFound
from revisit.http.app import body, create_app, json_response, raw_json_body
from revisit.http.nps_schemas import NPS_STATUS_OVERRIDES, NpsCreate, nps_error
from revisit.observability import logger

app = create_app(cors=True, error_shape=nps_error, status_overrides=NPS_STATUS_OVERRIDES)


@app.post("/nps/create")
def create():
    raw = raw_json_body(app, max_bytes=16 * 1024)
    if not isinstance(raw, dict) or not raw.get("shop_id"):
        raise NotFound("Required query parameters are missed or undefined: shop_id.")
    req = body(app, NpsCreate, max_bytes=16 * 1024)
    return json_response(200, nps.create_review(req.model_dump()))


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
