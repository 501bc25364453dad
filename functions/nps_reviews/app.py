"""GET /nps/reviews - a shop's reviews (seed 002): at most 1,000 a request, then a cursor."""

from urllib.parse import urlencode

from revisit.domain import nps
from revisit.domain.util import iso_or_none
from revisit.errors import NotFound
from revisit.http.app import base_url, create_app, json_response, query
from revisit.http.nps_schemas import NPS_STATUS_OVERRIDES, ReviewsQuery, nps_error
from revisit.observability import logger

app = create_app(error_shape=nps_error, status_overrides=NPS_STATUS_OVERRIDES)


@app.get("/nps/reviews")
def reviews():
    params = app.current_event.query_string_parameters or {}
    if not params.get("shop_id") or not params.get("shop_secret"):
        raise NotFound("Required query parameters are missed or undefined: shop_id, shop_secret.")
    q = query(app, ReviewsQuery)
    items, next_cursor = nps.list_reviews(
        q.shop_id,
        q.shop_secret,
        iso_or_none(q.date_from),
        iso_or_none(q.date_to),
        q.channel,
        q.category,
        q.limit,
        q.cursor,
    )
    headers = {"Cache-Control": "no-store"}
    if next_cursor:
        following = urlencode({**{k: v for k, v in params.items() if k != "cursor"}, "cursor": next_cursor})
        headers["X-Next-Cursor"] = next_cursor
        headers["Link"] = f'<{base_url(app)}/nps/reviews?{following}>; rel="next"'
    return json_response(200, items, headers)


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
