"""GET /api/external/customers/{civ}?storeSlug= (a customer's data at a store: access) and DELETE
(erasure, every aggregate adjusted exactly): revisit.domain.privacy, docs/operations.md."""

from pydantic import ValidationError

from revisit.domain import privacy
from revisit.domain.auth import Kind
from revisit.http.app import create_app, json_response, principal, query, validation_error
from revisit.http.privacy_schemas import CustomerPath, CustomerQuery
from revisit.observability import logger

app = create_app()


def _civ(raw: str) -> str:
    try:
        return CustomerPath(civ=raw).civ
    except ValidationError as exc:
        raise validation_error(exc) from None


@app.get("/api/external/customers/<civ>")
def export_customer(civ: str):
    caller = principal(app, Kind.API, Kind.OWNER)
    q = query(app, CustomerQuery)
    answer = privacy.export_customer(caller, _civ(civ), q.storeSlug, q.contacts())
    return json_response(200, answer, {"Cache-Control": "no-store"})


@app.delete("/api/external/customers/<civ>")
def erase_customer(civ: str):
    caller = principal(app, Kind.API, Kind.OWNER)
    q = query(app, CustomerQuery)
    return json_response(200, privacy.erase_customer(caller, _civ(civ), q.storeSlug, q.contacts()))


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
