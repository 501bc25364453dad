"""POST /partners/purchases (idempotent per store and purchaseId; makes the trackers Revisit sends)
and POST /partners/unsubscribes (opt-out sync)."""

from revisit.domain import purchases, unsubscribes
from revisit.domain.auth import Kind
from revisit.domain.util import iso
from revisit.http.app import base_url, body, create_app, json_response, principal
from revisit.http.tracker_schemas import CreatePurchase, PartnerUnsubscribe
from revisit.observability import logger

app = create_app()


@app.post("/partners/purchases")
def record_purchase():
    partner = principal(app, Kind.PARTNER)
    req = body(app, CreatePurchase)
    spec = req.model_dump(mode="json", exclude_none=True)
    spec["purchasedAt"] = iso(req.purchasedAt)
    purchase, created = purchases.record_purchase(partner, spec, base_url(app))
    return json_response(201 if created else 200, purchase)


@app.post("/partners/unsubscribes")
def sync_unsubscribe():
    partner = principal(app, Kind.PARTNER)
    req = body(app, PartnerUnsubscribe)
    result = unsubscribes.by_partner(partner, req.storeSlug, req.customerId, req.email, req.phone)
    return json_response(201, {"status": "unsubscribed", **result})


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
