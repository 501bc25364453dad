"""Setup (issue 17): a store's settings, its surveys, its NPS categories and channels; the
workspace's API keys and webhooks. Every change goes through the JSON API's own request models
(revisit.http.*_schemas, so a field is valid here exactly when it is there) and domain services
(revisit.domain.*), and every POST handler does the same four things in this order: the CSRF
token (403, nothing changed), the role (404 for a store out of sight, 403 for one the member may
only read), the change, the audit log entry.

* GET/POST /app/setup/stores/{slug} - name, time zone, language, colour, logo, review prompt, the
  survey question per language (``workspaces.update_store``, as PATCH /api/stores/{storeSlug}).
* GET/POST /app/setup/stores/{slug}/surveys, POST .../surveys/{surveyId} - surveys.
* GET /app/setup/stores/{slug}/nps, POST .../nps/{kind}, POST .../nps/{kind}/{code} - NPS setup.
* GET/POST /app/setup/keys, POST /app/setup/keys/{keyId}/revoke - owners: keys; a new secret is
  shown on the answer to its POST, once, and never again.
* GET/POST /app/setup/webhooks, POST /app/setup/webhooks/{id}/delete - the ``whsec_`` secret is
  shown once the same way.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from revisit import errors
from revisit.domain import credentials, locales, nps, surveys, users, webhooks, workspaces
from revisit.domain.auth import Kind
from webapp import auth
from webapp.pages.people import field_errors, forbidden, member, text
from webapp.render import not_found, redirect, render

nav = [("Setup", "/app/setup", None)]

LANGUAGES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian", "nl": "Dutch",
             "pt": "Portuguese"}  # fmt: skip
TIME_ZONES = [*sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))), "UTC"]
SENDING_TYPES = [("email", "Email"), ("sms", "Text message (SMS)"), ("whatsapp", "WhatsApp"),
                 ("external", "External (a partner sends the link)")]  # fmt: skip
SURVEY_DEFAULTS = {"name": "", "sendingType": "email", "delayMinutes": "60", "maxResends": "0",
                   "resendDelayMinutes": "", "linkValidDays": "", "newReviewLink": "", "active": True,
                   "rule.minAmount": "", "rule.channels": ""}  # fmt: skip
NPS_KINDS = {"categories": "category", "channels": "channel"}
NPS_TEXTS = [(f"{who}_{what}", f"{label} {words}") for who, label in
             (("promoter", "Promoters (9-10):"), ("passive", "Passives (7-8):"), ("detractor", "Detractors (1-6):"))
             for what, words in (("question", "the question"), ("success", "the thank-you"))]  # fmt: skip
EVENT_WORDS = {
    "feedback.created": "An answer arrived",
    "nps.created": "An NPS review arrived",
    "tracker.sent": "A survey was sent",
    "tracker.completed": "A survey was answered",
    "tracker.failed": "A survey could not be sent",
    "customer.dissatisfied": "A returning customer grew dissatisfied",
}
SHOWN_PARTS = (("key", "API key (header x-api-key)"), ("apiKey", "Partner key (header X-API-KEY)"),
               ("apiSecret", "Partner secret (header X-API-SECRET)"), ("shopId", "Shop id (shop_id)"),
               ("shopSecret", "Shop secret (shop_secret)"))  # fmt: skip
NOTICES = {
    "saved": "Saved.",
    "unchanged": "Nothing to change: the form matches what is stored.",
    "created": "Added.",
    "revoked": "The key is revoked: it stops working within seconds.",
    "deleted": "The webhook is deleted.",
    "paused": "The webhook is paused: nothing is sent to it until it is resumed.",
    "resumed": "The webhook is resumed.",
}


def _valid(model: Any, data: dict[str, Any]) -> Any:
    """``data`` as ``model`` (the JSON API's request model); ValidationFailed naming each field.
    The models (pydantic, revisit.http) are imported by the POST handlers that use them, not at
    import: a cold start serving a GET does not pay for them."""
    from pydantic import ValidationError

    from revisit.http.app import validation_error

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("done") or "")


def _changed(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in changes.items() if current.get(k) != v}


def _number(value: str) -> int | str | None:
    """A form's number: "" -> None (left out), digits -> int, anything else as given (the model says why)."""
    if not value:
        return None
    return int(value) if value.isdigit() and len(value) <= 12 else value


def _store_of(me: users.Member, slug: str) -> dict[str, Any]:
    """The store (404 when this member may not see it, or it does not exist)."""
    me.require_see(slug)
    return workspaces.store_settings(me.principal(slug), slug)


# ------------------------------------------------------------------ index


async def setup_index(request: Request) -> Response:
    me = member(request)
    stores = [{**s, "editable": me.can_set_up(s["slug"])} for s in users.visible_stores(me)]
    return render(
        request,
        "setup.html",
        {
            "stores": stores,
            "owner": me.is_owner,
            "workspace_setup": me.can_set_up_workspace(),
            "sees_all": me.stores is None,
            "role": me.role.value,
        },
    )


# ------------------------------------------------------------------ store settings


def _settings_form(form: FormData) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": text(form, "name", 200),
        "timezone": text(form, "timezone", 64),
        "locale": text(form, "locale", 8),
        "brandColor": text(form, "brandColor", 16) or None,
        "logoUrl": text(form, "logoUrl") or None,
    }
    min_rating, url = text(form, "reviewPrompt.minRating", 4), text(form, "reviewPrompt.url")
    if min_rating or url:
        data["reviewPrompt"] = {
            **({"minRating": _number(min_rating)} if min_rating else {}),
            **({"url": url} if url else {}),
        }
    else:
        data["reviewPrompt"] = None
    questions = {code: text(form, f"questions.{code}", 200) for code in locales.SUPPORTED}
    data["questions"] = {k: v for k, v in questions.items() if v} or None
    raw = text(form, "alertEmails", 4000).replace(",", "\n").splitlines()
    data["alertEmails"] = [a.strip() for a in raw if a.strip()][:20]
    data["alertMaxRating"] = _number(text(form, "alertMaxRating", 4)) or 2
    data["weeklyDigest"] = form.get("weeklyDigest") == "on"
    return data


def _values_of(settings: dict[str, Any]) -> dict[str, Any]:
    prompt = settings.get("reviewPrompt") or {}
    return {
        "name": settings.get("name") or "",
        "timezone": settings.get("timezone") or "UTC",
        "locale": settings.get("locale") or locales.DEFAULT,
        "brandColor": settings.get("brandColor") or "",
        "logoUrl": settings.get("logoUrl") or "",
        "reviewPrompt.minRating": str(prompt.get("minRating") or ""),
        "reviewPrompt.url": prompt.get("url") or "",
        **{f"questions.{k}": (settings.get("questions") or {}).get(k) or "" for k in locales.SUPPORTED},
        "alertEmails": "\n".join(settings.get("alertEmails") or []),
        "alertMaxRating": str(settings.get("alertMaxRating") or 2),
        "weeklyDigest": settings.get("weeklyDigest", True) is not False,
    }


def _store_page(request: Request, me: users.Member, store: dict[str, Any], status: int = 200, **ctx: Any) -> Response:
    return render(
        request,
        "store_setup.html",
        {
            "store": store,
            "values": _values_of(store),
            "errors": {},
            "editable": me.can_set_up(store["storeSlug"]),
            "languages": list(LANGUAGES.items()),
            "time_zones": TIME_ZONES,
            "notice": _notice(request),
            "section": "settings",
            **ctx,
        },
        status=status,
    )


async def store_settings(request: Request) -> Response:
    me = member(request)
    return _store_page(request, me, _store_of(me, request.path_params["slug"]))


async def save_store_settings(request: Request) -> Response:
    from revisit.http.schemas import StoreSettingsPatch

    form = await auth.csrf_form(request)
    me = member(request)
    slug = request.path_params["slug"]
    store = _store_of(me, slug)
    if not me.can_set_up(slug):
        return forbidden(request, "Your role may read this store's settings, not change them.")
    data = _settings_form(form)
    try:
        changes = _valid(StoreSettingsPatch, data).changes()
    except errors.ValidationFailed as exc:
        values = {**_values_of(store), **{k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}}
        values["weeklyDigest"] = form.get("weeklyDigest") == "on"
        failed: dict[str, str] = {}
        for name, message in field_errors(exc).items():  # alertEmails.3 -> the addresses' field
            failed.setdefault(name.split(".")[0] if name.startswith("alertEmails.") else name, message)
        return _store_page(request, me, store, 400, values=values, errors=failed)
    changed = _changed(store, changes)
    if not changed:
        return redirect(request, f"/app/setup/stores/{slug}", done="unchanged")
    workspaces.update_store(me.principal(slug), slug, changed)
    users.audit(me.workspace_id, me.actor, "store.updated", slug, changed)
    return redirect(request, f"/app/setup/stores/{slug}", done="saved")


# ------------------------------------------------------------------ surveys


def _survey_form(form: FormData, creating: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": text(form, "name", 200),
        "sendingType": text(form, "sendingType", 16),
        "delayMinutes": _number(text(form, "delayMinutes", 12)),
        "maxResends": _number(text(form, "maxResends", 12)),
        "resendDelayMinutes": _number(text(form, "resendDelayMinutes", 12)),
        "linkValidDays": _number(text(form, "linkValidDays", 12)),
        "newReviewLink": text(form, "newReviewLink") or None,
        "active": form.get("active") == "on",
    }
    min_amount = text(form, "rule.minAmount", 24)
    channels = [c.strip() for c in text(form, "rule.channels", 2000).split(",") if c.strip()][:30]
    rule: dict[str, Any] = {}
    if min_amount:
        try:
            rule["minAmount"] = float(min_amount)
        except ValueError:
            rule["minAmount"] = min_amount  # the model names the field
    if channels:
        rule["channels"] = channels
    data["rule"] = rule or None
    if creating:
        return {k: v for k, v in data.items() if v is not None and v != ""}
    for required in ("name", "sendingType", "delayMinutes", "maxResends"):  # left empty: unchanged
        if data[required] in (None, ""):
            del data[required]
    return data


def _surveys_page(request: Request, me: users.Member, slug: str, status: int = 200, **ctx: Any) -> Response:
    store = _store_of(me, slug)
    fields = ("surveyId", "name", "sendingType", "delayMinutes", "maxResends", "resendDelayMinutes", "linkValidDays",
              "newReviewLink", "active")  # fmt: skip
    items = []
    for survey in surveys.list_surveys(me.principal(slug), slug):
        rule = survey.get("rule") or {}
        amount = rule.get("minAmount")
        items.append({
            **{f: survey.get(f) for f in fields},
            "rule.minAmount": "" if amount is None else f"{amount:g}",
            "rule.channels": ", ".join(rule.get("channels") or []),
        })  # fmt: skip
    return render(
        request,
        "surveys_setup.html",
        {
            "store": store,
            "surveys": items,
            "editable": me.can_set_up(slug),
            "sending_types": SENDING_TYPES,
            "errors": {},
            "error_survey": None,
            "values": dict(SURVEY_DEFAULTS),
            "notice": _notice(request),
            "section": "surveys",
            **ctx,
        },
        status=status,
    )


async def surveys_page(request: Request) -> Response:
    return _surveys_page(request, member(request), request.path_params["slug"])


async def create_survey(request: Request) -> Response:
    from revisit.http.tracker_schemas import CreateSurvey

    form = await auth.csrf_form(request)
    me = member(request)
    slug = request.path_params["slug"]
    me.require_see(slug)
    if not me.can_set_up(slug):
        return forbidden(request, "Your role may read this store's surveys, not change them.")
    data = _survey_form(form, creating=True)
    try:
        spec = _valid(CreateSurvey, {**data, "storeSlug": slug}).model_dump(mode="json", exclude_none=True)
    except errors.ValidationFailed as exc:
        typed = {k: text(form, k) for k in SURVEY_DEFAULTS if k != "active"}
        values = {**SURVEY_DEFAULTS, **typed, "active": form.get("active") == "on"}
        return _surveys_page(request, me, slug, 400, errors=field_errors(exc), values=values)
    created = surveys.create_survey(me.principal(slug), spec)
    details = {k: v for k, v in spec.items() if k != "storeSlug"}
    users.audit(me.workspace_id, me.actor, "survey.created", f"{slug}/{created['surveyId']}", details)
    return redirect(request, f"/app/setup/stores/{slug}/surveys", done="created")


async def update_survey(request: Request) -> Response:
    from revisit.http.tracker_schemas import PatchSurvey

    form = await auth.csrf_form(request)
    me = member(request)
    slug, survey_id = request.path_params["slug"], request.path_params["survey_id"]
    me.require_see(slug)
    if not me.can_set_up(slug):
        return forbidden(request, "Your role may read this store's surveys, not change them.")
    current = next((s for s in surveys.list_surveys(me.principal(slug), slug) if s["surveyId"] == survey_id), None)
    if current is None:
        return not_found(request)
    data = _survey_form(form, creating=False)
    try:
        changes = _valid(PatchSurvey, data).changes()
    except errors.ValidationFailed as exc:
        return _surveys_page(request, me, slug, 400, errors=field_errors(exc), error_survey=survey_id)
    changed = _changed(current, changes)
    if not changed:
        return redirect(request, f"/app/setup/stores/{slug}/surveys", done="unchanged")
    try:
        surveys.update_survey(me.principal(slug), survey_id, changed)
    except errors.ValidationFailed as exc:
        return _surveys_page(request, me, slug, 400, errors=field_errors(exc), error_survey=survey_id)
    users.audit(me.workspace_id, me.actor, "survey.updated", f"{slug}/{survey_id}", changed)
    return redirect(request, f"/app/setup/stores/{slug}/surveys", done="saved")


# ------------------------------------------------------------------ NPS categories and channels


def _nps_item(item: dict[str, Any], category: bool) -> dict[str, Any]:
    out = {"id": item.get("id"), "code": item["code"], "name": item.get("name") or item["code"],
           "active": item.get("active", True)}  # fmt: skip
    if category:
        out |= {name: item.get(name) or "" for name, _ in NPS_TEXTS}
    return out


def _nps_page(request: Request, me: users.Member, slug: str, status: int = 200, **ctx: Any) -> Response:
    store = _store_of(me, slug)
    principal = me.principal(slug)
    return render(
        request,
        "nps_setup.html",
        {
            "store": store,
            "categories": [_nps_item(i, True) for i in nps.list_config(principal, slug, "category")],
            "channels": [_nps_item(i, False) for i in nps.list_config(principal, slug, "channel")],
            "texts": NPS_TEXTS,
            "editable": me.can_set_up(slug),
            "errors": {},
            "error_for": None,
            "values": {},
            "notice": _notice(request),
            "section": "nps",
            **ctx,
        },
        status=status,
    )


async def nps_page(request: Request) -> Response:
    return _nps_page(request, member(request), request.path_params["slug"])


def _nps_kind(request: Request) -> str | None:
    return NPS_KINDS.get(request.path_params["kind"])


async def add_nps(request: Request) -> Response:
    from revisit.http.nps_schemas import CreateCategory, CreateChannel

    form = await auth.csrf_form(request)
    me = member(request)
    slug, kind = request.path_params["slug"], _nps_kind(request)
    me.require_see(slug)
    if kind is None:
        return not_found(request)
    if not me.can_set_up(slug):
        return forbidden(request, "Your role may read this store's NPS setup, not change it.")
    data: dict[str, Any] = {"storeSlug": slug, "code": text(form, "code", 64), "name": text(form, "name", 200)}
    if kind == "category":
        data |= {name: text(form, name, 500) for name, _ in NPS_TEXTS if text(form, name, 500)}
    try:
        req = _valid(CreateCategory if kind == "category" else CreateChannel, data)
        spec = req.model_dump(exclude={"storeSlug"}, exclude_none=True)
        created = nps.add(me.principal(slug), slug, kind, spec)
    except (errors.ValidationFailed, errors.Conflict) as exc:
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        return _nps_page(request, me, slug, 400, errors=field_errors(exc), error_for=f"new-{kind}", values=values)
    users.audit(me.workspace_id, me.actor, f"nps.{kind}.created", f"{slug}/{created['code']}", spec)
    return redirect(request, f"/app/setup/stores/{slug}/nps", done="created")


async def update_nps(request: Request) -> Response:
    from revisit.http.nps_schemas import PatchConfig

    form = await auth.csrf_form(request)
    me = member(request)
    slug, kind, code = request.path_params["slug"], _nps_kind(request), request.path_params["code"]
    me.require_see(slug)
    if kind is None:
        return not_found(request)
    if not me.can_set_up(slug):
        return forbidden(request, "Your role may read this store's NPS setup, not change it.")
    principal = me.principal(slug)
    current = next((i for i in nps.list_config(principal, slug, kind) if i["code"] == code), None)
    if current is None:
        return not_found(request)
    data: dict[str, Any] = {"storeSlug": slug, "active": form.get("active") == "on"}
    if text(form, "name", 200):
        data["name"] = text(form, "name", 200)
    if kind == "category":
        data |= {name: text(form, name, 500) for name, _ in NPS_TEXTS if text(form, name, 500)}
    try:
        changes = _valid(PatchConfig, data).changes()
    except errors.ValidationFailed as exc:
        return _nps_page(request, me, slug, 400, errors=field_errors(exc), error_for=f"{kind}-{code}")
    changed = {k: v for k, v in changes.items() if current.get(k, True if k == "active" else None) != v}
    if not changed:
        return redirect(request, f"/app/setup/stores/{slug}/nps", done="unchanged")
    nps.update(principal, slug, kind, code, changed)
    users.audit(me.workspace_id, me.actor, f"nps.{kind}.updated", f"{slug}/{code}", changed)
    return redirect(request, f"/app/setup/stores/{slug}/nps", done="saved")


# ------------------------------------------------------------------ API keys (owners)


def _keys_page(request: Request, me: users.Member, status: int = 200, **ctx: Any) -> Response:
    fields = ("keyId", "kind", "scope", "storeSlug", "prefix", "label", "createdAt", "revokedAt")
    keys = [{f: k.get(f) for f in fields} for k in credentials.list_keys(me.workspace_id)]
    keys.sort(key=lambda k: (bool(k["revokedAt"]), k["createdAt"] or ""))
    return render(
        request,
        "keys.html",
        {
            "keys": keys,
            "stores": users.visible_stores(me),
            "errors": {},
            "values": {"kind": "api", "scope": "workspace", "storeSlug": "", "label": ""},
            "notice": _notice(request),
            "created": None,
            **ctx,
        },
        status=status,
    )


async def keys_page(request: Request) -> Response:
    me = member(request)
    if not me.is_owner:
        return forbidden(request, "Only an owner may see and change the API keys.")
    return _keys_page(request, me)


async def create_key(request: Request) -> Response:
    from revisit.http.schemas import CreateKey

    form = await auth.csrf_form(request)
    me = member(request)
    if not me.is_owner:
        return forbidden(request, "Only an owner may create API keys.")
    scope = text(form, "scope", 16)
    data: dict[str, Any] = {"kind": text(form, "kind", 16) or "api", "scope": scope}
    if scope == "store":
        data["storeSlug"] = text(form, "storeSlug", 64)
    if text(form, "label", 200):
        data["label"] = text(form, "label", 200)
    values = {"kind": data["kind"], "scope": scope, "storeSlug": text(form, "storeSlug", 64),
              "label": text(form, "label", 200)}  # fmt: skip
    try:
        req = _valid(CreateKey, data)
        shop_id = workspaces.get_store(me.workspace_id, req.storeSlug)["shopId"] if req.kind == "shop" else None
        issued = credentials.issue(me.workspace_id, Kind(req.kind), req.scope, req.storeSlug, req.label, shop_id)
    except (errors.ValidationFailed, errors.Conflict, errors.NotFound) as exc:
        failed = field_errors(exc)
        if "body" in failed:  # a rule across fields (scope and store): shown beside the store
            failed["storeSlug"] = failed.pop("body")
        return _keys_page(request, me, 400, errors=failed, values=values)
    details = {k: issued.get(k) for k in ("kind", "scope", "storeSlug", "label", "prefix") if issued.get(k)}
    users.audit(me.workspace_id, me.actor, "key.created", issued["keyId"], details)
    shown = [(name, words, issued[name]) for name, words in SHOWN_PARTS if name in issued]
    return _keys_page(request, me, 201, created={"record": issued, "shown": shown})


async def revoke_key(request: Request) -> Response:
    await auth.csrf_form(request)
    me = member(request)
    if not me.is_owner:
        return forbidden(request, "Only an owner may revoke API keys.")
    key_id = request.path_params["key_id"]
    try:
        revoked = credentials.revoke(me.workspace_id, key_id)
    except errors.NotFound:
        return not_found(request)
    users.audit(me.workspace_id, me.actor, "key.revoked", key_id, {"prefix": revoked.get("prefix")})
    return redirect(request, "/app/setup/keys", done="revoked")


# ------------------------------------------------------------------ webhooks


def _webhooks_page(request: Request, me: users.Member, status: int = 200, **ctx: Any) -> Response:
    return render(
        request,
        "webhooks_setup.html",
        {
            "webhooks": webhooks.list_endpoints(me.principal()),
            "stores": users.visible_stores(me),
            "events": list(EVENT_WORDS.items()),
            "editable": me.can_set_up_workspace(),
            "errors": {},
            "values": {"url": "", "events": [], "storeSlug": "", "description": ""},
            "notice": _notice(request),
            "created": None,
            **ctx,
        },
        status=status,
    )


async def webhooks_page(request: Request) -> Response:
    me = member(request)
    if me.stores is not None:  # webhooks span the workspace: not for a member of some stores only
        return forbidden(request, "Webhooks span the workspace; your role covers some stores only.")
    return _webhooks_page(request, me)


async def create_webhook(request: Request) -> Response:
    from revisit.http.webhook_schemas import CreateWebhook

    form = await auth.csrf_form(request)
    me = member(request)
    if not me.can_set_up_workspace():
        return forbidden(request, "Only an owner may add webhooks.")
    events = [e for e in form.getlist("events") if isinstance(e, str)][:10]
    data: dict[str, Any] = {"url": text(form, "url"), "events": events}
    if text(form, "storeSlug", 64):
        data["storeSlug"] = text(form, "storeSlug", 64)
    if text(form, "description", 500):
        data["description"] = text(form, "description", 500)
    values = {"url": data["url"], "events": events, "storeSlug": data.get("storeSlug", ""),
              "description": data.get("description", "")}  # fmt: skip
    try:
        spec = _valid(CreateWebhook, data).spec()
        created = webhooks.create(me.principal(), spec)
    except (errors.ValidationFailed, errors.Conflict, errors.NotFound) as exc:
        return _webhooks_page(request, me, 400, errors=field_errors(exc), values=values)
    details = {k: created.get(k) for k in ("url", "events", "storeSlug", "description") if created.get(k)}
    users.audit(me.workspace_id, me.actor, "webhook.created", created["id"], details)
    return _webhooks_page(request, me, 201, created=created)


async def delete_webhook(request: Request) -> Response:
    await auth.csrf_form(request)
    me = member(request)
    if not me.can_set_up_workspace():
        return forbidden(request, "Only an owner may delete webhooks.")
    webhook_id = request.path_params["webhook_id"]
    try:
        endpoint = webhooks.get(me.principal(), webhook_id)
        webhooks.delete(me.principal(), webhook_id)
    except errors.NotFound:
        return not_found(request)
    users.audit(me.workspace_id, me.actor, "webhook.deleted", webhook_id, {"url": endpoint.get("url")})
    return redirect(request, "/app/setup/webhooks", done="deleted")


async def toggle_webhook(request: Request) -> Response:
    form = await auth.csrf_form(request)
    me = member(request)
    if not me.can_set_up_workspace():
        return forbidden(request, "Only an owner may pause or resume webhooks.")
    webhook_id = request.path_params["webhook_id"]
    enabled = form.get("enabled") == "true"
    try:
        webhooks.update(me.principal(), webhook_id, {"enabled": enabled})
    except errors.NotFound:
        return not_found(request)
    users.audit(me.workspace_id, me.actor, "webhook.updated", webhook_id, {"enabled": enabled})
    return redirect(request, "/app/setup/webhooks", done="resumed" if enabled else "paused")


async def rotate_webhook(request: Request) -> Response:
    await auth.csrf_form(request)
    me = member(request)
    if not me.can_set_up_workspace():
        return forbidden(request, "Only an owner may rotate a webhook's secret.")
    webhook_id = request.path_params["webhook_id"]
    try:
        rotated = webhooks.rotate_secret(me.principal(), webhook_id)
    except errors.NotFound:
        return not_found(request)
    users.audit(me.workspace_id, me.actor, "webhook.secret_rotated", webhook_id, {"url": rotated.get("url")})
    return _webhooks_page(request, me, 201, created={**rotated, "rotated": True})


routes = [
    Route("/app/setup", setup_index, methods=["GET"]),
    Route("/app/setup/stores/{slug}", store_settings, methods=["GET"]),
    Route("/app/setup/stores/{slug}", save_store_settings, methods=["POST"]),
    Route("/app/setup/stores/{slug}/surveys", surveys_page, methods=["GET"]),
    Route("/app/setup/stores/{slug}/surveys", create_survey, methods=["POST"]),
    Route("/app/setup/stores/{slug}/surveys/{survey_id}", update_survey, methods=["POST"]),
    Route("/app/setup/stores/{slug}/nps", nps_page, methods=["GET"]),
    Route("/app/setup/stores/{slug}/nps/{kind}", add_nps, methods=["POST"]),
    Route("/app/setup/stores/{slug}/nps/{kind}/{code}", update_nps, methods=["POST"]),
    Route("/app/setup/keys", keys_page, methods=["GET"]),
    Route("/app/setup/keys", create_key, methods=["POST"]),
    Route("/app/setup/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
    Route("/app/setup/webhooks", webhooks_page, methods=["GET"]),
    Route("/app/setup/webhooks", create_webhook, methods=["POST"]),
    Route("/app/setup/webhooks/{webhook_id}/delete", delete_webhook, methods=["POST"]),
    Route("/app/setup/webhooks/{webhook_id}/enabled", toggle_webhook, methods=["POST"]),
    Route("/app/setup/webhooks/{webhook_id}/rotate", rotate_webhook, methods=["POST"]),
]
