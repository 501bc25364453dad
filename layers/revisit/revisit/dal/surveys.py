"""Surveys (per store): what to send after a purchase, when, how, and how often to resend."""

from __future__ import annotations

from typing import Any

from revisit.dal import keys, table

_HIDDEN = ("pk", "sk", "type")


def _strip(item: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: v for k, v in item.items() if k not in _HIDDEN} if item else None


def create(survey: dict[str, Any]) -> None:
    """The survey, with a check that its store exists (ConditionFailed.failed_at(0) otherwise)."""
    ws = survey["workspaceId"]
    table.transact(
        [
            table.must_exist(keys.store(ws, survey["storeSlug"])),
            table.put_new_op({**keys.survey(ws, survey["surveyId"]), "type": "survey", **survey}),
        ]
    )


def get(workspace_id: str, survey_id: str) -> dict[str, Any] | None:
    return _strip(table.get(keys.survey(workspace_id, survey_id)))


def list_for_workspace(workspace_id: str) -> list[dict[str, Any]]:
    items = table.query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={
            ":pk": table.value(keys.ws_pk(workspace_id)),
            ":p": table.value(keys.survey_prefix()),
        },
    )
    return [_strip(i) for i in items]


def update(workspace_id: str, survey_id: str, changes: dict[str, Any], updated_at: str) -> dict[str, Any]:
    """SET the given fields (None removes one); ConditionFailed if the survey does not exist."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {":updatedAt": table.value(updated_at)}
    sets, removes = table.set_remove(changes, names, values)
    kwargs: dict[str, Any] = {
        "TableName": table.TABLE,
        "Key": table.serialize(keys.survey(workspace_id, survey_id)),
        "UpdateExpression": table.update_expression(["updatedAt = :updatedAt", *sets], removes),
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeValues": values,
        "ReturnValues": "ALL_NEW",
    }
    if names:
        kwargs["ExpressionAttributeNames"] = names
    try:
        resp = table.client.update_item(**kwargs)
    except table.ClientError as exc:
        raise table.translate(exc) from None
    return _strip(table.deserialize(resp["Attributes"]))
