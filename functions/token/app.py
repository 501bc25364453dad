"""POST /api/external/token - a one-time survey link carrying order and customer context."""

from revisit.domain import tokens
from revisit.domain.auth import Kind
from revisit.http.app import base_url, body, create_app, header, json_response, principal
from revisit.http.schemas import CreateToken
from revisit.observability import logger

app = create_app()


@app.post("/api/external/token")
def create_token():
    caller = principal(app, Kind.API, Kind.OWNER)
    req = body(app, CreateToken)
    payload = req.payload.as_dict()
    response, replayed = tokens.create_one_time(
        caller,
        req.storeSlug,
        payload,
        req.source or payload.get("source"),
        req.expiresInDays,
        base_url(app),
        idempotency_key=header(app, "Idempotency-Key"),
        request_fingerprint=tokens.fingerprint(req.model_dump(mode="json")),
    )
    return json_response(201, response, {"Idempotent-Replayed": "true"} if replayed else None)


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
