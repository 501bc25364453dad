"""Management API: stores and credentials (owner); store settings, campaigns, surveys, NPS setup (owner or
API key)."""

from revisit.domain import credentials, nps, surveys, tokens, workspaces
from revisit.domain.auth import Kind
from revisit.domain.util import iso_or_none
from revisit.errors import Forbidden, NotFound, field_error
from revisit.http.app import base_url, body, create_app, json_response, principal
from revisit.http.nps_schemas import CreateCategory, CreateChannel, PatchConfig
from revisit.http.schemas import CreateCampaign, CreateKey, CreateStore, StoreSettingsPatch
from revisit.http.tracker_schemas import CreateSurvey, PatchSurvey
from revisit.observability import logger

app = create_app()


@app.post("/api/stores")
def create_store():
    owner = principal(app, Kind.OWNER)
    req = body(app, CreateStore)
    store = workspaces.create_store(owner.workspace_id, req.slug, req.name, req.timezone, req.settings())
    return json_response(201, store)


@app.get("/api/stores")
def list_stores():
    owner = principal(app, Kind.OWNER)
    return json_response(200, {"items": workspaces.list_stores(owner.workspace_id)})


@app.get("/api/stores/<store_slug>")
def get_store_settings(store_slug: str):
    caller = principal(app, Kind.OWNER, Kind.API)
    return json_response(200, workspaces.store_settings(caller, store_slug))


@app.patch("/api/stores/<store_slug>")
def update_store_settings(store_slug: str):
    caller = principal(app, Kind.OWNER, Kind.API)
    caller.require_store(store_slug)  # a key of another store learns nothing, not even a bad field
    req = body(app, StoreSettingsPatch)
    return json_response(200, workspaces.update_store(caller, store_slug, req.changes()))


@app.post("/api/keys")
def create_key():
    owner = principal(app, Kind.OWNER)
    req = body(app, CreateKey)
    shop_id = None
    if req.kind == "shop":
        shop_id = workspaces.get_store(owner.workspace_id, req.storeSlug)["shopId"]
    issued = credentials.issue(owner.workspace_id, Kind(req.kind), req.scope, req.storeSlug, req.label, shop_id)
    return json_response(201, issued)


@app.get("/api/keys")
def list_keys():
    """A page of keys (``limit`` 1-100, default 100) and ``nextCursor`` (null on the last page)."""
    owner = principal(app, Kind.OWNER)
    raw_limit = app.current_event.get_query_string_value("limit")
    limit = credentials.MAX_PAGE
    if raw_limit is not None:
        if not raw_limit.isdigit():
            raise field_error("limit", f"must be a whole number between 1 and {credentials.MAX_PAGE}")
        limit = int(raw_limit)
    cursor = app.current_event.get_query_string_value("cursor") or None
    return json_response(200, credentials.list_page(owner.workspace_id, limit, cursor))


@app.delete("/api/keys/<key_id>")
def revoke_key(key_id: str):
    owner = principal(app, Kind.OWNER)
    return json_response(200, credentials.revoke(owner.workspace_id, key_id))


@app.post("/api/campaigns")
def create_campaign():
    caller = principal(app, Kind.OWNER, Kind.API)
    req = body(app, CreateCampaign)
    campaign = tokens.create_campaign(
        caller,
        req.storeSlug,
        req.name,
        req.payload.as_dict(),
        req.source,
        iso_or_none(req.expiresAt),
        req.maxUses,
        base_url(app),
    )
    return json_response(201, campaign)


@app.get("/api/campaigns")
def list_campaigns():
    caller = principal(app, Kind.OWNER, Kind.API)
    return json_response(200, {"items": tokens.list_campaigns(caller, base_url(app))})


@app.delete("/api/campaigns/<campaign_id>")
def close_campaign(campaign_id: str):
    caller = principal(app, Kind.OWNER, Kind.API)
    try:
        return json_response(200, tokens.close_campaign(caller, campaign_id, base_url(app)))
    except Forbidden:  # another store's campaign: the same answer as one that does not exist
        raise NotFound(f"Campaign {campaign_id} does not exist.") from None


@app.post("/api/surveys")
def create_survey():
    caller = principal(app, Kind.OWNER, Kind.API)
    req = body(app, CreateSurvey)
    return json_response(201, surveys.create_survey(caller, req.model_dump(mode="json", exclude_none=True)))


@app.get("/api/surveys")
def list_surveys():
    caller = principal(app, Kind.OWNER, Kind.API)
    store = app.current_event.get_query_string_value("storeSlug")
    return json_response(200, {"items": surveys.list_surveys(caller, store)})


@app.patch("/api/surveys/<survey_id>")
def update_survey(survey_id: str):
    caller = principal(app, Kind.OWNER, Kind.API)
    req = body(app, PatchSurvey)
    return json_response(200, surveys.update_survey(caller, survey_id, req.changes()))


@app.post("/api/nps/<kind>")
def create_nps_config(kind: str):
    caller = principal(app, Kind.OWNER, Kind.API)
    what = _nps_kind(kind)
    req = body(app, CreateCategory if what == "category" else CreateChannel)
    spec = req.model_dump(exclude={"storeSlug"}, exclude_none=True)
    return json_response(201, nps.add(caller, req.storeSlug, what, spec))


@app.get("/api/nps/<kind>")
def list_nps_config(kind: str):
    caller = principal(app, Kind.OWNER, Kind.API)
    store = app.current_event.get_query_string_value("storeSlug") or caller.stores_visible()
    if not store:
        raise field_error("storeSlug", "is required", "missing")
    return json_response(200, {"items": nps.list_config(caller, store, _nps_kind(kind))})


@app.patch("/api/nps/<kind>/<code>")
def update_nps_config(kind: str, code: str):
    caller = principal(app, Kind.OWNER, Kind.API)
    req = body(app, PatchConfig)
    return json_response(200, nps.update(caller, req.storeSlug, _nps_kind(kind), code, req.changes()))


def _nps_kind(kind: str) -> str:
    kinds = {"categories": "category", "channels": "channel"}
    if kind not in kinds:
        raise NotFound(f"No route for /api/nps/{kind}.")
    return kinds[kind]


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
