"""Surveys: what a store sends after a purchase, when, how, and how often to resend."""

from __future__ import annotations

from typing import Any

from revisit.dal import NoSuchItem, UnknownStore
from revisit.dal import surveys as dal
from revisit.domain.auth import Principal
from revisit.domain.util import iso, now, random_base62
from revisit.errors import NotFound, field_error

SENDING_TYPES = ("email", "sms", "whatsapp", "external")


def create_survey(principal: Principal, spec: dict[str, Any]) -> dict[str, Any]:
    principal.require_store(spec["storeSlug"])
    at = iso(now())
    survey = {
        **{k: v for k, v in spec.items() if v is not None},
        "surveyId": "srv_" + random_base62(16),
        "workspaceId": principal.workspace_id,
        "active": spec.get("active", True),
        "createdAt": at,
        "updatedAt": at,
    }
    try:
        dal.create(survey)
    except UnknownStore:
        raise NotFound(
            f"Store '{spec['storeSlug']}' does not exist.", [{"field": "storeSlug", "message": "unknown store"}]
        ) from None
    return _survey_view(survey)


def _survey_view(survey: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in survey.items() if k != "workspaceId"}


def list_surveys(principal: Principal, store_slug: str | None) -> list[dict[str, Any]]:
    if store_slug:
        principal.require_store(store_slug)
    visible = store_slug or principal.stores_visible()
    items = dal.list_for_workspace(principal.workspace_id)
    return [
        _survey_view(s) for s in sorted(items, key=lambda s: s["createdAt"]) if not visible or s["storeSlug"] == visible
    ]


def update_survey(principal: Principal, survey_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    current = dal.get(principal.workspace_id, survey_id)
    if current is None or not principal.can_access_store(current["storeSlug"]):
        raise NotFound(f"Survey {survey_id} does not exist.")
    merged = {**current, **changes}
    if merged.get("maxResends") and not merged.get("resendDelayMinutes"):
        raise field_error("resendDelayMinutes", "is required when maxResends > 0")
    try:
        return _survey_view(dal.update(principal.workspace_id, survey_id, changes, iso(now())))
    except NoSuchItem:
        raise NotFound(f"Survey {survey_id} does not exist.") from None
