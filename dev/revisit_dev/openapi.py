"""The OpenAPI 3.1 contract of every route, generated from the code (offline: no cold-start cost).

    python -m revisit_dev.openapi            # write docs/openapi.json
    python -m revisit_dev.openapi --check    # exit 1 when docs/openapi.json differs (make test)

Where each part comes from:
- **routes**: template.yaml's Api events (path, function) and each function's own resolver
  decorators (``@app.get("/api/stores/<store_slug>")``), read from functions/*/app.py with ``ast``;
  a template route no handler serves, or a handler route the template lacks, stops the generation.
- **requests**: the pydantic models the handler itself passes to ``body(app, Model)`` and
  ``query(app, Model)`` - the very models that validate requests - as JSON Schema.
- **security**: the credential kinds the handler passes to ``principal(app, Kind...)``.
- **success statuses**: the literal statuses of its ``json_response(...)`` calls.
- **response bodies**: :data:`RESPONSES` below (the API returns plain dicts built by the domain,
  so their shapes are written here; tests/unit/test_openapi.py checks real responses against them).
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
OUT = ROOT / "docs" / "openapi.json"
SERVED = ROOT / "functions" / "docs" / "openapi.json"  # the docs function's copy (the same bytes)
REF = "#/components/schemas/{model}"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")

# ------------------------------------------------------------------ response shapes


WEBHOOK_EVENTS = (
    "feedback.created",
    "nps.created",
    "tracker.sent",
    "tracker.completed",
    "tracker.failed",
    "customer.dissatisfied",
)


def _obj(required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    return schema


def _s(fmt: str | None = None, nullable: bool = False, description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"] if nullable else "string"}
    if fmt:
        schema["format"] = fmt
    if description:
        schema["description"] = description
    return schema


def _n(nullable: bool = False, integer: bool = False, description: str | None = None) -> dict[str, Any]:
    kind = "integer" if integer else "number"
    schema: dict[str, Any] = {"type": [kind, "null"] if nullable else kind}
    if description:
        schema["description"] = description
    return schema


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": REF.format(model=name)}


def _items(item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return _obj(("items",), items={"type": "array", "items": item}, **extra)


SHAPES: dict[str, dict[str, Any]] = {
    "Error": _obj(
        ("error",),
        error=_obj(
            ("code", "message", "details"),
            code=_s(),
            message=_s(),
            details={
                "type": "array",
                "items": _obj(("field",), field=_s(), message=_s(), type=_s()),
            },
        ),
    ),
    "NpsError": _obj(("status",), status={"const": "error"}, error=_s(), message=_s()),
    "Store": _obj(
        ("storeSlug", "name", "timezone", "locale"),
        storeSlug=_s(),
        name=_s(),
        timezone=_s(),
        locale=_s(),
        brandColor=_s(nullable=True),
        logoUrl=_s(nullable=True),
        reviewPrompt={"type": ["object", "null"]},
        questions={"type": ["object", "null"]},
        alertEmails={
            "type": "array",
            "items": _s("email"),
            "maxItems": 10,
            "description": "who gets alert emails and the weekly digest ([] = off)",
        },
        alertMaxRating={
            "type": "integer",
            "minimum": 1,
            "maximum": 5,
            "description": "an answer rated at or below this alerts (default 2)",
        },
        weeklyDigest={"type": "boolean", "description": "the weekly digest to the alert addresses (default true)"},
        retentionMonths={
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 120,
            "description": "answers older than this many months are deleted daily (null: kept)",
        },
        shopId=_s(nullable=True),
        createdAt=_s(nullable=True),
        updatedAt=_s(nullable=True),
    ),
    "Credential": _obj(
        ("keyId", "kind", "scope", "prefix", "createdAt"),
        keyId=_s(),
        kind={"enum": ["owner", "api", "partner", "shop"]},
        scope={"enum": ["workspace", "store"]},
        storeSlug=_s(),
        prefix=_s(),
        label=_s(),
        createdAt=_s("date-time"),
        key=_s(description="the secret, in the create response only"),
        token=_s(description="the secret, in the create response only"),
    ),
    "Token": _obj(("token", "url", "expiresAt"), token=_s(), url=_s("uri"), expiresAt=_s("date-time")),
    "Submitted": _obj(
        ("id", "status", "rating", "createdAt"),
        id=_s(),
        status={"const": "received"},
        rating=_n(integer=True),
        createdAt=_s("date-time"),
    ),
    "Feedback": _obj(
        ("id", "storeSlug", "rating", "createdAt"),
        id=_s(),
        storeSlug=_s(),
        rating=_n(integer=True),
        comment=_s(),
        civ=_s(),
        orderId=_s(),
        payload={"type": "object"},
        source=_s(),
        createdAt=_s("date-time"),
        trackerId=_s(description="the tracker whose link was answered"),
        sendingIndex=_n(integer=True, description="which send of that tracker (0: the first)"),
        channel=_s(),
        imported={"type": "boolean"},
        externalId=_s(description="an imported row's id in the system it came from"),
        status={"enum": ["new", "in_progress", "resolved"], "description": "the inbox's workflow (none yet: new)"},
        assignee=_s(description="the email of who handles it"),
        tags={"type": "array", "items": {"type": "string"}, "description": "normalised, sorted"},
        noteCount=_n(integer=True, description="internal notes (in search results; the notes: GET by id)"),
    ),
    "Campaign": _obj(
        ("campaignId", "storeSlug", "token", "url"),
        campaignId=_s(),
        storeSlug=_s(),
        name=_s(nullable=True),
        status=_s(nullable=True),
        token=_s(),
        url=_s("uri"),
        expiresAt=_s(nullable=True),
        maxUses=_n(integer=True, nullable=True),
        uses=_n(integer=True),
    ),
    "Survey": _obj(
        ("surveyId", "storeSlug", "name", "sendingType", "active"),
        surveyId=_s(),
        storeSlug=_s(),
        name=_s(),
        sendingType={"enum": ["email", "sms", "whatsapp", "external"]},
        active={"type": "boolean"},
        createdAt=_s("date-time"),
        updatedAt=_s("date-time"),
    ),
    "Tracker": _obj(
        ("id", "status"),
        id=_s(),
        status=_s(),
        sendingType=_s(),
        sendingIndex=_n(integer=True, nullable=True),
        link=_s(nullable=True),
        sentTo=_s(nullable=True),
    ),
    "Purchase": _obj(("purchaseId", "storeSlug"), purchaseId=_s(), storeSlug=_s(), customerId=_s()),
    "Visits": _obj(
        ("count", "avgRating", "csatPercent", "avgRatingCi95", "csatPercentCi95"),
        count=_n(integer=True),
        avgRating=_n(nullable=True),
        avgRatingCi95=_ref("Ci95"),
        csatPercent=_n(nullable=True),
        csatPercentCi95=_ref("Ci95"),
    ),
    "Period": _obj(("from", "to", "days"), **{"from": _s("date"), "to": _s("date"), "days": _n(integer=True)}),
    "NpsBlock": _obj(
        ("responses", "nps"),
        responses=_n(integer=True),
        promoters=_n(integer=True),
        passives=_n(integer=True),
        detractors=_n(integer=True),
        nps=_n(nullable=True),
        scoreCi95=_ref("Ci95"),
    ),
    "NpsItem": _obj(("id", "code", "name"), id=_n(integer=True), code=_s(), name=_s(), active={"type": "boolean"}),
}
SHAPES["FeedbackDetail"] = {
    "allOf": [
        _ref("Feedback"),
        _obj(
            ("status", "notes", "version"),
            notes={
                "type": "array",
                "items": _obj(("id", "author", "at", "text"), id=_s(), author=_s(), at=_s("date-time"), text=_s()),
                "description": "internal notes, oldest first (at most 100)",
            },
            version=_n(integer=True, description="ADDed by every change; the ETag (for If-Match)"),
            workflowUpdatedAt=_s("date-time"),
        ),
    ]
}
SHAPES["Endpoint"] = _obj(
    ("id", "url", "events", "enabled", "createdAt"),
    id=_s(),
    url=_s("uri"),
    events={"type": "array", "items": {"enum": list(WEBHOOK_EVENTS)}},
    storeSlug=_s(nullable=True),
    description=_s(nullable=True),
    enabled={"type": "boolean"},
    disabledReason=_s(nullable=True),
    disabledAt=_s(nullable=True),
    failingSince=_s(nullable=True),
    createdAt=_s("date-time"),
    updatedAt=_s(nullable=True),
    secretRotatedAt=_s(nullable=True),
    previousSecretExpiresAt=_s(nullable=True),
    secret=_s(description="whsec_...: in the create and rotate-secret responses only"),
)
SHAPES["Delivery"] = _obj(
    ("id", "webhookId", "msgId", "event", "status", "attempts"),
    id=_s(),
    webhookId=_s(),
    msgId=_s(description="the webhook-id header, the same in every retry and replay"),
    event=_s(),
    status={"enum": ["pending", "succeeded", "failed"]},
    attempts=_n(integer=True),
    responseCode=_n(integer=True, nullable=True),
    latencyMs=_n(integer=True, nullable=True),
    lastError=_s(nullable=True),
    createdAt=_s(),
    lastAttemptAt=_s(nullable=True),
    nextAttemptAt=_s(nullable=True),
)
_REPORT_COUNTS = {
    "sent": _n(integer=True, nullable=True),
    "clicked": _n(integer=True),
    "completed": _n(integer=True),
    "responseRate": _n(nullable=True),
}
SHAPES["TrackerReport"] = _obj(
    ("storeSlug", "period", "rows", "total"),
    storeSlug=_s(),
    period=_ref("Period"),
    rows={
        "type": "array",
        "items": _obj(
            ("surveyId", "sendingIndex", "channel", "completed"),
            surveyId=_s(),
            surveyName=_s(nullable=True),
            sendingIndex=_n(integer=True),
            channel=_s(),
            **_REPORT_COUNTS,
        ),
    },
    total=_obj(("completed",), **_REPORT_COUNTS),
)
_CI = {"type": ["array", "null"], "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
SHAPES["Ci95"] = {**_CI, "description": "95 % interval [low, high], rounded like its value; null: not computable"}
SHAPES["StoreRow"] = _obj(
    ("totalFeedback", "avgRating", "csatPercent", "returnRate", "nps"),
    storeSlug=_s(),
    name=_s(),
    stores=_n(integer=True),
    totalFeedback=_n(integer=True),
    avgRating=_n(nullable=True),
    avgRatingCi95=_ref("Ci95"),
    csatPercent=_n(nullable=True),
    csatPercentCi95=_ref("Ci95"),
    identifiedCustomers=_n(integer=True),
    returningCustomers=_n(integer=True),
    returnRate=_n(nullable=True),
    returnRateCi95=_ref("Ci95"),
    npsResponses=_n(integer=True),
    nps=_n(nullable=True),
    npsCi95=_ref("Ci95"),
)
_SPLIT = _obj(("count", "avgRating"), count=_n(integer=True), avgRating=_n(nullable=True))
SHAPES["Series"] = _obj(
    ("storeSlug", "timezone", "interval", "period", "buckets"),
    storeSlug=_s(),
    timezone=_s(description="the store's time zone: buckets follow its calendar"),
    interval={"enum": ["day", "week", "month"]},
    period=_ref("Period"),
    buckets={
        "type": "array",
        "items": _obj(
            ("start", "end", "startsAt", "endsAt", "count", "avgRating", "csatPercent", "firstVisit", "returnVisit"),
            start=_s("date", description="the bucket's first local date"),
            end=_s("date", description="its last local date (inclusive)"),
            startsAt=_s("date-time", description="UTC: the hour containing local midnight (docs/metrics.md)"),
            endsAt=_s("date-time", description="UTC, exclusive: the next bucket's startsAt"),
            count=_n(integer=True),
            avgRating=_n(nullable=True),
            avgRatingCi95=_ref("Ci95"),
            csatPercent=_n(nullable=True),
            csatPercentCi95=_ref("Ci95"),
            firstVisit=_SPLIT,
            returnVisit=_SPLIT,
            nps=_obj(
                ("responses", "score"),
                responses=_n(integer=True),
                score=_n(nullable=True),
                scoreCi95=_ref("Ci95"),
            ),
        ),
    },
)
SHAPES["Dashboard"] = _obj(
    ("storeSlug", "period", "totalFeedback", "returnRate", "firstVisit", "returnVisit", "loyaltySignal"),
    storeSlug=_s(),
    period=_ref("Period"),
    totalFeedback=_n(integer=True),
    anonymousFeedback=_n(integer=True),
    identifiedFeedback=_n(integer=True),
    ratingDistribution={"type": "object", "additionalProperties": {"type": "integer"}},
    identifiedCustomers=_n(integer=True),
    returningCustomers=_n(integer=True),
    returnRate=_n(nullable=True),
    returnRateCi95=_ref("Ci95"),
    firstVisit=_ref("Visits"),
    returnVisit=_ref("Visits"),
    loyaltySignal=_obj(
        ("direction", "delta"),
        direction={"enum": ["higher", "lower", "consistent", None]},
        delta=_n(nullable=True),
        threshold=_n(),
        minSample=_n(integer=True),
        note=_s(nullable=True),
        deltaCi95=_ref("Ci95"),
        significant={"type": ["boolean", "null"], "description": "the interval of the delta excludes 0"},
    ),
    growingDissatisfied={"type": "array", "items": _obj(("civ",), civ=_s(), drop=_n())},
)

JSON = "application/json"
HTML = "text/html"
# "METHOD /path" -> (media type, schema) of the success responses
RESPONSES: dict[str, tuple[str, dict[str, Any]]] = {
    "GET /r/{token}": (HTML, {"type": "string"}),
    "GET /api/external/dashboard": (JSON, _ref("Dashboard")),
    "GET /api/external/nps-score": (
        JSON,
        {
            "allOf": [
                _ref("NpsBlock"),
                _obj(("storeSlug", "period"), storeSlug=_s(), period=_ref("Period")),
            ]
        },
    ),
    "GET /api/external/feedback": (
        JSON,
        _items(_ref("Feedback"), count=_n(integer=True), nextCursor=_s(nullable=True)),
    ),
    "GET /api/external/feedback/export": (
        "text/csv",
        {"type": "string", "description": "or JSON Lines (format=jsonl)"},
    ),
    "POST /api/stores": (JSON, _obj(("slug",), slug=_s(), name=_s(), shopId=_s())),
    "GET /api/stores": (JSON, _items(_obj(("slug",), slug=_s(), name=_s()))),
    "GET /api/stores/{storeSlug}": (JSON, _ref("Store")),
    "PATCH /api/stores/{storeSlug}": (JSON, _ref("Store")),
    "POST /api/keys": (JSON, _ref("Credential")),
    "GET /api/keys": (JSON, _items(_ref("Credential"))),
    "DELETE /api/keys/{keyId}": (JSON, {"type": "object"}),
    "POST /api/campaigns": (JSON, _ref("Campaign")),
    "GET /api/campaigns": (JSON, _items(_ref("Campaign"))),
    "DELETE /api/campaigns/{campaignId}": (JSON, {"type": "object"}),
    "POST /api/surveys": (JSON, _ref("Survey")),
    "GET /api/surveys": (JSON, _items(_ref("Survey"))),
    "PATCH /api/surveys/{surveyId}": (JSON, _ref("Survey")),
    "POST /api/nps/{kind}": (JSON, _ref("NpsItem")),
    "GET /api/nps/{kind}": (JSON, _items(_ref("NpsItem"))),
    "PATCH /api/nps/{kind}/{code}": (JSON, _ref("NpsItem")),
    "POST /nps/create": (JSON, _obj(("status",), status=_s(), respondent_type=_s(), message=_s())),
    "GET /nps/categories": (JSON, {"type": "array", "items": _ref("NpsItem")}),
    "GET /nps/channels": (JSON, {"type": "array", "items": _ref("NpsItem")}),
    "GET /nps/init": (JSON, _obj(("status", "did"), status=_s(), did=_s(), seance=_s())),
    "GET /nps/reviews": (JSON, {"type": "array", "items": {"type": "object"}}),
    "POST /partners/purchases": (JSON, _ref("Purchase")),
    "POST /partners/unsubscribes": (JSON, _obj(("status",), status={"const": "unsubscribed"})),
    "POST /api/external/public/submit": (JSON, _ref("Submitted")),
    "GET /s/{token}": (HTML, {"type": "string"}),
    "POST /s/{token}": (HTML, {"type": "string"}),
    "GET /u/{token}": (HTML, {"type": "string"}),
    "POST /u/{token}": (HTML, {"type": "string"}),
    "GET /alerts/unsubscribe/{alertToken}": (HTML, {"type": "string"}),
    "POST /alerts/unsubscribe/{alertToken}": (HTML, {"type": "string"}),
    "POST /api/external/token": (JSON, _ref("Token")),
    "POST /partners/survey-tracker/generate": (JSON, _items(_ref("Tracker"), created={"type": "integer"})),
    "GET /partners/survey-tracker": (JSON, _ref("Tracker")),
    "GET /openapi.json": (JSON, {"type": "object", "required": ["openapi", "paths"]}),
    "POST /api/webhooks": (JSON, _ref("Endpoint")),
    "GET /api/webhooks": (JSON, _items(_ref("Endpoint"))),
    "GET /api/webhooks/{webhookId}": (JSON, _ref("Endpoint")),
    "PATCH /api/webhooks/{webhookId}": (JSON, _ref("Endpoint")),
    "DELETE /api/webhooks/{webhookId}": (JSON, _obj(("id", "deleted"), id=_s(), deleted={"const": True})),
    "POST /api/webhooks/{webhookId}/rotate-secret": (JSON, _ref("Endpoint")),
    "GET /api/webhooks/{webhookId}/deliveries": (JSON, _items(_ref("Delivery"), nextCursor=_s(nullable=True))),
    "POST /api/webhooks/{webhookId}/deliveries/{deliveryId}/replay": (JSON, _ref("Delivery")),
    "POST /api/webhooks/{webhookId}/recover": (
        JSON,
        _obj(("recovered", "since"), recovered=_n(integer=True), since=_s()),
    ),
    "GET /api/external/trackers/report": (JSON, _ref("TrackerReport")),
    "GET /api/external/feedback/{feedbackId}": (JSON, _ref("FeedbackDetail")),
    "PATCH /api/external/feedback/{feedbackId}": (JSON, _ref("FeedbackDetail")),
    "GET /api/external/dashboard/series": (JSON, _ref("Series")),
    "GET /api/external/dashboard/stores": (
        JSON,
        _obj(
            ("period", "stores", "total"),
            period=_ref("Period"),
            stores={"type": "array", "items": _ref("StoreRow")},
            total={"anyOf": [_ref("StoreRow"), {"type": "null"}], "description": "null for a store key"},
        ),
    ),
    "POST /api/external/feedback/import": (
        JSON,
        _obj(
            ("received", "created", "alreadyPresent"),
            received=_n(integer=True),
            created=_n(integer=True),
            alreadyPresent=_n(integer=True, description="rows imported before (a retried or resumed request)"),
        ),
    ),
    "GET /docs": (HTML, {"type": "string"}),
    "GET /docs/{asset}": ("text/javascript", {"type": "string"}),
    "GET /api/external/customers/{civ}": (
        JSON,
        _obj(
            (
                *("civ", "storeSlug", "feedback", "npsReviews", "trackers", "tokens"),
                *("purchases", "unsubscribes", "loyalty", "erasure"),
            ),
            civ=_s(),
            storeSlug=_s(),
            feedback={"type": "array", "items": _ref("Feedback")},
            npsReviews={"type": "array", "items": {"type": "object"}},
            trackers={"type": "array", "items": {"type": "object"}},
            tokens={"type": "array", "items": {"type": "object"}, "description": "without the token values"},
            purchases={"type": "array", "items": {"type": "object"}},
            unsubscribes={"type": "array", "items": {"type": "object"}},
            loyalty={"type": "object", "description": "the aggregator's state: customer, daysWithVisits, watchList"},
            erasure={"type": ["object", "null"], "description": "erasedAt and status of an earlier erasure"},
        ),
    ),
    "DELETE /api/external/customers/{civ}": (
        JSON,
        _obj(
            ("storeSlug", "erasedAt", "deleted", "aggregates"),
            storeSlug=_s(),
            erasedAt=_s(),
            deleted={"type": "object", "description": "items deleted, by kind"},
            aggregates={"type": "object", "description": "transactions, visitsSubtracted, recordsClaimed"},
        ),
    ),
    "POST /partners/survey-tracker/list": (
        JSON,
        _items(_ref("Tracker"), page=_n(integer=True), limit=_n(integer=True), hasMore={"type": "boolean"}),
    ),
}

_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"}
PATH_PARAMETERS = {  # what each path parameter looks like (anything else cannot name a resource: 404)
    "token": {"type": "string", "pattern": "^tkn_[A-Za-z0-9]{22}$", "description": "a survey link's token"},
    "alertToken": {
        "type": "string",
        "pattern": "^[A-Za-z0-9_-]{8,256}\\.[0-9a-f]{32}$",
        "description": "an alert email's unsubscribe token",
    },
    "storeSlug": {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"},
    "kind": {"enum": ["categories", "channels"]},
    "civ": {"type": "string", "minLength": 1, "maxLength": 256, "description": "the customer's civ at the store"},
    "feedbackId": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$", "description": "an answer's id"},
    "asset": {"enum": ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-initializer.js"]},
}

EXTRA_MEDIA = {
    "GET /api/external/feedback/export": ("application/x-ndjson",),
    "GET /docs/{asset}": ("text/css",),
}  # other media of a response

# "METHOD /path" -> one line on what the operation does (a handler's docstring, when it has one, wins)
SUMMARIES = {
    "GET /api/external/customers/{civ}": "A customer's data at a store (access request): answers, reviews, trackers, "
    "tokens, purchases, opt-out, loyalty state",
    "DELETE /api/external/customers/{civ}": "Erase a customer at a store: every item, every aggregate adjusted exactly",
    "POST /api/stores": "Create a store (`storeSlug`; `slug` is its deprecated older name) with any settings",
    "GET /api/stores": "The workspace's stores",
    "GET /api/stores/{storeSlug}": "A store's settings: name, timezone, locale, branding, review prompt, questions",
    "PATCH /api/stores/{storeSlug}": "Change a store's settings (only what changes; `null` removes an optional one)",
    "POST /api/keys": "Issue a credential: an API key (workspace or store), a partner key pair, an NPS shop secret",
    "GET /api/keys": "The workspace's credentials (never their secrets)",
    "DELETE /api/keys/{keyId}": "Revoke a credential",
    "POST /api/external/token": "A one-time survey link with a payload (`orderId`, `civ`, `locale`, ...)",
    "GET /s/{token}": "The survey page (1-5 stars, comment) in the customer's language",
    "POST /s/{token}": "The survey page's form (form-encoded; no JavaScript needed): thank-you or error page",
    "POST /api/external/public/submit": (
        "A customer's answer (`civ` in the body wins); a retry gets the first answer (200, `Idempotent-Replayed`)"
    ),
    "POST /api/campaigns": "A reusable campaign token (expiry, max uses)",
    "GET /api/campaigns": "The workspace's campaign tokens",
    "DELETE /api/campaigns/{campaignId}": "Close a campaign token",
    "GET /api/external/feedback": (
        "Search answers by store, date, rating, order id, civ, source, text, comment, status, assignee, tag;"
        " cursor paging"
    ),
    "GET /api/external/feedback/export": "Export the matches as spreadsheet-safe CSV or JSON Lines, 5 MB a page",
    "GET /api/external/dashboard": (
        "Loyalty (CIV) dashboard: return rate, first vs return visits, loyalty signal, customers growing dissatisfied"
    ),
    "GET /api/external/nps-score": "NPS in total and per channel and category, from the aggregates",
    "POST /api/surveys": "A survey sent after purchases (email, sms, whatsapp, external)",
    "GET /api/surveys": "The workspace's surveys",
    "PATCH /api/surveys/{surveyId}": "Change a survey",
    "POST /api/nps/{kind}": "Add an NPS category or channel",
    "GET /api/nps/{kind}": "A store's NPS categories or channels",
    "PATCH /api/nps/{kind}/{code}": "Change an NPS category or channel",
    "POST /partners/purchases": "Record a purchase (idempotent); trackers of matching surveys follow",
    "POST /partners/unsubscribes": "Opt a customer out of survey messages",
    "POST /partners/survey-tracker/generate": "Seed 001: external survey trackers (links) for a purchase",
    "GET /partners/survey-tracker": "Seed 001: one survey tracker",
    "POST /partners/survey-tracker/list": "Seed 001: survey trackers by purchase, customer or period",
    "GET /r/{token}": "A tracker's link: counts the click, redirects to the survey page",
    "GET /u/{token}": "Unsubscribe page (a confirmation step)",
    "POST /u/{token}": "Unsubscribe",
    "GET /alerts/unsubscribe/{alertToken}": "Alert emails' unsubscribe page (a confirmation step)",
    "POST /alerts/unsubscribe/{alertToken}": "Stop alert emails and digests (also RFC 8058 one-click)",
    "GET /nps/categories": "Seed 002: the shop's active NPS categories",
    "GET /nps/channels": "Seed 002: the shop's active NPS channels",
    "GET /nps/init": "Seed 002: a device id (`did`) for a kiosk or app",
    "POST /nps/create": "Seed 002: an NPS review (rate 1-10)",
    "GET /nps/reviews": "Seed 002: the shop's reviews",
    "GET /openapi.json": "This contract (OpenAPI 3.1, generated from the code)",
    "GET /docs": "Swagger UI on this contract",
    "GET /docs/{asset}": "Swagger UI's files",
    "POST /api/webhooks": "Register a webhook endpoint (Standard Webhooks v1); its `whsec_` secret is shown once",
    "GET /api/webhooks": "The workspace's webhook endpoints",
    "GET /api/webhooks/{webhookId}": "One webhook endpoint",
    "PATCH /api/webhooks/{webhookId}": "Change a webhook endpoint (url, events, store, description, enabled)",
    "DELETE /api/webhooks/{webhookId}": "Delete a webhook endpoint",
    "POST /api/webhooks/{webhookId}/rotate-secret": "A new secret; the old one keeps signing beside it for 24 h",
    "GET /api/webhooks/{webhookId}/deliveries": "The delivery log: event, status, attempts, response code, latency",
    "POST /api/webhooks/{webhookId}/deliveries/{deliveryId}/replay": "Deliver one event again (same `webhook-id`)",
    "POST /api/webhooks/{webhookId}/recover": "Deliver again every failed event since a time",
    "GET /api/external/dashboard/stores": "Every store of the workspace side by side, each number with its interval",
    "GET /api/external/dashboard/series": (
        "Trends: one store per day, week (from Monday) or month of its local calendar, each number with its interval"
    ),
    "GET /api/external/trackers/report": "Per survey, attempt and channel: sent, clicked, completed, response rate",
    "POST /api/external/feedback/import": "Import past answers: JSON Lines or CSV, up to 1,000 rows, each stored once",
    "GET /api/external/feedback/{feedbackId}": "One answer with its workflow: status, assignee, tags, internal notes",
    "PATCH /api/external/feedback/{feedbackId}": (
        "Change an answer's status, assignee or tags, or add an internal note (`If-Match`: only if unchanged)"
    ),
}
README = ROOT / "README.md"
TABLE_BEGIN, TABLE_END = "<!-- api-table:begin (make openapi) -->", "<!-- api-table:end -->"
WHO = {"ownerBearer": "owner", "apiKey": "key", "partnerKey": "partner", "shopSecret": "shop"}


def readme_table(document: dict[str, Any]) -> str:
    """The README's endpoint table, from the contract: one row per operation."""
    rows = ["| endpoint | who | what |", "|---|---|---|"]
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            who = " or ".join(dict.fromkeys(WHO[next(iter(r))] for r in op["security"] if r)) or "anyone"
            if path.startswith(("/s/", "/u/", "/r/")):
                who = "customer"
            elif path.startswith("/nps/") and who == "anyone":
                who = "shop (`shop_id`)"
            rows.append(f"| `{method.upper()} {path}` | {who} | {op['summary']} |")
    return "\n".join(rows)


def with_readme_table(text: str, document: dict[str, Any]) -> str:
    begin, end = text.index(TABLE_BEGIN) + len(TABLE_BEGIN), text.index(TABLE_END)
    return text[:begin] + "\n" + readme_table(document) + "\n" + text[end:]


SECURITY_SCHEMES = {
    "ownerBearer": {"type": "http", "scheme": "bearer", "description": "the workspace owner's token"},
    "workspaceId": {"type": "apiKey", "in": "header", "name": "x-workspace-id", "description": "with ownerBearer"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "a workspace or store API key"},
    "partnerKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY", "description": "partner key (seed 001)"},
    "partnerSecret": {"type": "apiKey", "in": "header", "name": "X-API-SECRET", "description": "with partnerKey"},
    "shopSecret": {
        "type": "apiKey",
        "in": "query",
        "name": "shop_secret",
        "description": "the NPS shop's secret (seed 002; or `did` from /nps/init on /nps/create)",
    },
}
KIND_SECURITY = {
    "OWNER": {"ownerBearer": [], "workspaceId": []},
    "API": {"apiKey": []},
    "PARTNER": {"partnerKey": [], "partnerSecret": []},
    "SHOP": {"shopSecret": []},
}
NPS_PREFIX = "/nps/"
SEED_EXAMPLES = {  # request bodies from the seed documents (../shared/seeds)
    "POST /api/external/token": {
        "storeSlug": "downtown-coffee",
        "payload": {"orderId": "ORD-12345", "civ": "CUST-7891"},
    },
    "POST /api/external/public/submit": {
        "token": "tkn_8fJ2kLmN9pQrStUvWxYz01",
        "rating": 5,
        "comment": "Great coffee!",
    },
    "POST /partners/survey-tracker/generate": {"purchaseId": "B-1"},
}

# ------------------------------------------------------------------ reading the handlers


def _handler_routes(function_dir: Path) -> list[dict[str, Any]]:
    """Every ``@app.<method>(path)`` of a function's app.py with what its body calls."""
    source = (function_dir / "app.py").read_text()
    tree = ast.parse(source)
    imported: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("revisit.http."):
            for alias in node.names:
                imported[alias.asname or alias.name] = node.module
    routes = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if (
                isinstance(deco, ast.Call)
                and isinstance(deco.func, ast.Attribute)
                and deco.func.attr in HTTP_METHODS
                and isinstance(deco.args[0], ast.Constant)
            ):
                rule = re.sub(r"<(\w+)>", r"{\1}", deco.args[0].value)
                routes.append({"method": deco.func.attr, "rule": rule, "handler": node, "doc": ast.get_docstring(node)})
    for route in routes:
        route.update(_calls(route["handler"], imported, tree))
    return routes


def _model(node: ast.AST, imported: dict[str, str]) -> Any:
    import importlib

    if isinstance(node, ast.Name) and node.id in imported:
        return getattr(importlib.import_module(imported[node.id]), node.id)
    return None


def _calls(handler: ast.FunctionDef, imported: dict[str, str], module: ast.Module) -> dict[str, Any]:
    found: dict[str, Any] = {"body": None, "query": None, "kinds": [], "statuses": set(), "params": []}
    helpers = {f.name: f for f in module.body if isinstance(f, ast.FunctionDef)}
    todo, seen = [handler], set()
    while todo:  # the handler and the module's own helpers it calls
        fn = todo.pop()
        seen.add(fn.name)
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name in helpers and name not in seen:
                todo.append(helpers[name])
            if name == "body" and len(node.args) >= 2:
                arg = node.args[1]  # a model, or `A if ... else B`: either
                options = [arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]
                found["body"] = tuple(m for m in (_model(a, imported) for a in options) if m is not None) or None
            elif name == "get_query_string_value" and node.args and isinstance(node.args[0], ast.Constant):
                found["params"].append(node.args[0].value)
            elif name == "Response":
                for kw in node.keywords:
                    if kw.arg == "status_code" and isinstance(kw.value, ast.Constant):
                        found["statuses"].add(kw.value.value)
            elif name == "query" and len(node.args) >= 2:
                found["query"] = _model(node.args[1], imported)
            elif name == "principal":
                found["kinds"] += [a.attr for a in node.args[1:] if isinstance(a, ast.Attribute)]
            elif name == "json_response" and node.args:
                status = node.args[0]
                if isinstance(status, ast.Constant):
                    found["statuses"].add(status.value)
                elif isinstance(status, ast.IfExp):
                    found["statuses"] |= {n.value for n in (status.body, status.orelse) if isinstance(n, ast.Constant)}
    return found


# ------------------------------------------------------------------ the document


def _template_routes() -> list[tuple[str, str, str, str]]:
    from revisit_dev.template import load_template

    template = load_template()
    out = []
    for function in template.functions:
        for route in function.routes:
            out.append(
                (function.logical_id, str(function.code_dir.relative_to(ROOT)), route.path, route.method.lower())
            )
    return out


def _schemas(models: list[Any]) -> tuple[dict[Any, dict[str, Any]], dict[str, Any]]:
    from pydantic.json_schema import models_json_schema

    unique = list(dict.fromkeys(models))
    refs, top = models_json_schema([(m, "validation") for m in unique], ref_template=REF)
    by_model = {m: refs[(m, "validation")] for m in unique}
    return by_model, top.get("$defs", {})


# Functions whose routes are not part of the API's contract: the store manager's web app serves
# HTML pages for browsers under /app and /app/{proxy+} (Starlette; docs/webapp.md), not an API.
NOT_API = {"functions/webapp"}


def build() -> dict[str, Any]:
    template_routes = [r for r in _template_routes() if r[1] not in NOT_API]
    operations: list[dict[str, Any]] = []
    served: set[tuple[str, str]] = set()
    for _logical_id, code_uri, path, method in template_routes:
        routes = _handler_routes(ROOT / code_uri)
        matching = [r for r in routes if r["rule"] == path or _same_path(r["rule"], path)]
        if method != "any":
            matching = [r for r in matching if r["method"] == method]
        if not matching:
            raise SystemExit(f"template route {method.upper()} {path} ({code_uri}) is served by no handler")
        for r in matching:
            key = (r["method"], path)
            if key not in served:
                served.add(key)
                operations.append({**r, "path": path, "tag": Path(code_uri).name})
    for code_uri in sorted({c for _, c, _, _ in template_routes}):
        for r in _handler_routes(ROOT / code_uri):
            if not any(_same_path(r["rule"], p) and r["method"] == m for m, p in served):
                raise SystemExit(f"{code_uri} serves {r['method'].upper()} {r['rule']}, which template.yaml lacks")

    models = [m for op in operations for m in (*(op["body"] or ()), op["query"]) if m is not None]
    refs, defs = _schemas(models)
    paths: dict[str, dict[str, Any]] = {}
    for op in sorted(operations, key=lambda o: (o["path"], HTTP_METHODS.index(o["method"]))):
        paths.setdefault(op["path"], {})[op["method"]] = _operation(op, refs, defs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Revisit",
            "version": _version(),
            "description": (
                "Customer feedback: one-time survey links with order and customer context, the CIV "
                "loyalty dashboard, partner survey trackers (seed 001) and NPS (seed 002). Generated "
                "from the code by `python -m revisit_dev.openapi`; `make test` fails when it drifts."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "http://127.0.0.1:3000", "description": "make dev"}],
        "paths": paths,
        "components": {"schemas": {**defs, **SHAPES}, "securitySchemes": SECURITY_SCHEMES},
    }


def _same_path(rule: str, path: str) -> bool:
    """``/api/stores/{store_slug}`` (handler) and ``/api/stores/{storeSlug}`` (template) match."""
    return re.sub(r"\{\w+\}", "{}", rule) == re.sub(r"\{\w+\}", "{}", path)


def _version() -> str:
    match = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    return match.group(1) if match else "0"


def _operation(op: dict[str, Any], refs: dict[Any, dict[str, Any]], defs: dict[str, Any]) -> dict[str, Any]:
    key = f"{op['method'].upper()} {op['path']}"
    summary = (op["doc"] or "").strip().splitlines()[0] if op["doc"] else SUMMARIES.get(key, key)
    out: dict[str, Any] = {"operationId": _operation_id(op), "summary": summary, "tags": [op["tag"]]}
    params = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS.get(name, _ID)}
        for name in re.findall(r"\{(\w+)\}", op["path"])
    ]
    if op["query"] is not None:
        schema = defs.get(op["query"].__name__) or refs[op["query"]]
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    for name in op["params"]:
        if any(p["name"] == name for p in params):
            continue
        params.append({"name": name, "in": "query", "required": False, "schema": {"type": "string"}})
    if params:
        out["parameters"] = params
    if op["body"] is not None:
        bodies = [refs[m] for m in op["body"]]
        content: dict[str, Any] = {"schema": bodies[0] if len(bodies) == 1 else {"oneOf": bodies}}
        if key in SEED_EXAMPLES:
            content["example"] = SEED_EXAMPLES[key]
        from revisit.http.app import every_field_optional

        optional = all(every_field_optional(m) for m in op["body"])  # what body() itself decides
        out["requestBody"] = {"required": not optional, "content": {JSON: content}}
    elif op["method"] == "post" and op["path"] in ("/s/{token}", "/u/{token}", "/alerts/unsubscribe/{alertToken}"):
        form = _obj(
            ("rating",), rating={"enum": ["1", "2", "3", "4", "5"]}, comment={"type": "string", "maxLength": 2000}
        )
        if op["path"] != "/s/{token}":
            form = {"type": "object"}
        out["requestBody"] = {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": form}}}
    kinds = list(dict.fromkeys(op["kinds"]))
    if kinds:
        out["security"] = [KIND_SECURITY[k] for k in kinds if k in KIND_SECURITY]
    elif op["path"] in ("/nps/reviews",):
        out["security"] = [KIND_SECURITY["SHOP"]]
    else:
        out["security"] = []
    if key not in RESPONSES:
        raise SystemExit(f"{key}: add its response shape to RESPONSES in dev/revisit_dev/openapi.py")
    media, schema = RESPONSES[key]
    statuses = sorted(s for s in op["statuses"] if s < 400) or [200]
    content = {media: {"schema": schema}, **{m: {"schema": schema} for m in EXTRA_MEDIA.get(key, ())}}
    responses: dict[str, Any] = {str(s): {"description": _reason(s), "content": content} for s in statuses}
    error = _ref("NpsError" if op["path"].startswith(NPS_PREFIX) else "Error")
    error_media = HTML if media == HTML else JSON
    for status in _errors(op):
        responses.setdefault(
            str(status),
            {
                "description": _reason(status),
                "content": {error_media: {"schema": error if error_media == JSON else {"type": "string"}}},
            },
        )
    out["responses"] = responses
    return out


def _errors(op: dict[str, Any]) -> list[int]:
    statuses = [400, 404]  # 404: an unknown store, token, id - or a path no route has
    if op["kinds"] or op["path"] == "/nps/reviews":
        statuses += [401, 403]
    if op["method"] in ("post", "patch", "delete"):
        statuses += [409, 413]
    if "token" in op["path"] or op["path"].endswith("/submit"):
        statuses.append(410)
    if not op["path"].startswith(("/docs", "/openapi.json")):
        statuses.append(503)  # DynamoDB throttled or unavailable: retry after Retry-After
    if op["path"] == "/nps/init":
        statuses.append(429)  # the device quota per address and shop
    if op["method"] == "patch" and op["path"] == "/api/external/feedback/{feedbackId}":
        statuses.append(412)  # If-Match: the answer changed since it was read
    return sorted(set(statuses))


def _operation_id(op: dict[str, Any]) -> str:
    words = [w for w in re.split(r"[/{}\-]+", op["path"]) if w]
    return op["method"] + "".join(w[:1].upper() + w[1:] for w in words)


def _reason(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render(build())
    readme = with_readme_table(README.read_text(), json.loads(text))
    if args == ["--check"]:
        stale = [p for p in (OUT, SERVED) if not p.is_file() or p.read_text() != text]
        stale += [README] if README.read_text() != readme else []
        for path in stale:
            print(f"{path.relative_to(ROOT)} differs from the code: run `python -m revisit_dev.openapi`")
        return 1 if stale else 0
    for path in (OUT, SERVED):
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    README.write_text(readme)
    print("wrote the endpoint table of README.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
