"""Webhook API (owner or workspace-scoped API key): endpoints, secret rotation, the delivery log,
replay and recovery (docs/webhooks.md)."""

from revisit.domain import webhooks
from revisit.domain.auth import Kind
from revisit.http.app import body, create_app, json_response, principal, query
from revisit.http.webhook_schemas import CreateWebhook, DeliveriesQuery, PatchWebhook, Recover
from revisit.observability import logger

app = create_app()


def _caller():
    return principal(app, Kind.OWNER, Kind.API)


@app.post("/api/webhooks")
def create_webhook():
    caller = _caller()
    req = body(app, CreateWebhook)
    return json_response(201, webhooks.create(caller, req.spec()))


@app.get("/api/webhooks")
def list_webhooks():
    return json_response(200, {"items": webhooks.list_endpoints(_caller())})


@app.get("/api/webhooks/<webhook_id>")
def get_webhook(webhook_id: str):
    return json_response(200, webhooks.get(_caller(), webhook_id))


@app.patch("/api/webhooks/<webhook_id>")
def update_webhook(webhook_id: str):
    caller = _caller()
    req = body(app, PatchWebhook)
    return json_response(200, webhooks.update(caller, webhook_id, req.changes()))


@app.delete("/api/webhooks/<webhook_id>")
def delete_webhook(webhook_id: str):
    return json_response(200, webhooks.delete(_caller(), webhook_id))


@app.post("/api/webhooks/<webhook_id>/rotate-secret")
def rotate_secret(webhook_id: str):
    return json_response(200, webhooks.rotate_secret(_caller(), webhook_id))


@app.get("/api/webhooks/<webhook_id>/deliveries")
def list_deliveries(webhook_id: str):
    caller = _caller()
    q = query(app, DeliveriesQuery)
    return json_response(200, webhooks.deliveries(caller, webhook_id, q.limit, q.cursor))


@app.post("/api/webhooks/<webhook_id>/deliveries/<delivery_id>/replay")
def replay_delivery(webhook_id: str, delivery_id: str):
    return json_response(202, webhooks.replay(_caller(), webhook_id, delivery_id))


@app.post("/api/webhooks/<webhook_id>/recover")
def recover(webhook_id: str):
    caller = _caller()
    req = body(app, Recover)
    return json_response(202, webhooks.recover(caller, webhook_id, req.since))


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
