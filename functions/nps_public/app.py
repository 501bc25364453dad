"""GET /nps/categories, GET /nps/channels (shop_id only, as in seed 002) and GET /nps/init (a did;
at most nps.INIT_PER_ADDRESS_PER_HOUR per client address and shop an hour, then 429)."""

from revisit.domain import nps
from revisit.errors import NotFound
from revisit.http.app import create_app, json_response, query
from revisit.http.nps_schemas import NPS_STATUS_OVERRIDES, ShopQuery, nps_error
from revisit.observability import logger

app = create_app(cors=True, error_shape=nps_error, status_overrides=NPS_STATUS_OVERRIDES)


def _shop_id() -> str:
    if not app.current_event.get_query_string_value("shop_id"):
        raise NotFound("Required query parameters are missed or undefined: shop_id.")
    return query(app, ShopQuery).shop_id


@app.get("/nps/categories")
def categories():
    return json_response(200, nps.active(_shop_id(), "category"))


@app.get("/nps/channels")
def channels():
    return json_response(200, nps.active(_shop_id(), "channel"))


@app.get("/nps/init")
def init():
    shop_id = _shop_id()
    return json_response(200, nps.init_device(shop_id, app.current_event.request_context.identity.source_ip or ""))


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
