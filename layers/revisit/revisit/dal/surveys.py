"""Surveys (per store): what to send after a purchase, when, how, and how often to resend."""

from __future__ import annotations

from typing import Any

from revisit.dal import keys, table
from revisit.dal.errors import NoSuchItem, UnknownStore


def create(survey: dict[str, Any]) -> None:
    """The survey, with a check that its store exists (UnknownStore otherwise)."""
    ws = survey["workspaceId"]
    table.transact(
        [
            table.must_exist(keys.store(ws, survey["storeSlug"])),
            table.put_new_op({**keys.survey(ws, survey["surveyId"]), keys.TYPE: "survey", **survey}),
        ],
        failures=[UnknownStore],
    )


def get(workspace_id: str, survey_id: str) -> dict[str, Any] | None:
    return table.get_record(keys.survey(workspace_id, survey_id))


def list_for_workspace(workspace_id: str) -> list[dict[str, Any]]:
    return table.query_prefix(keys.ws_pk(workspace_id), keys.survey_prefix())


def update(workspace_id: str, survey_id: str, changes: dict[str, Any], updated_at: str) -> dict[str, Any]:
    """SET the given fields (None removes one); NoSuchItem if the survey does not exist."""
    updated = table.update_fields(
        keys.survey(workspace_id, survey_id),
        changes,
        sets=["updatedAt = :updatedAt"],
        values={":updatedAt": table.value(updated_at)},
        returns="ALL_NEW",
        failure=NoSuchItem,
    )
    return table.plain(updated)
