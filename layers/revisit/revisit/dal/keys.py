"""Every key and index name of the single table, in one place (see docs/data-model.md).

Key values are built only here so that a change of layout is a change of this file.
"""

from __future__ import annotations

PK = "pk"
SK = "sk"
GSI1 = "gsi1"  # gsi1pk / gsi1sk: look-ups by a secondary identity (order id, tracker lists, ...)
GSI2 = "gsi2"  # gsi2pk / gsi2sk: a second look-up (civ, ...)
GSI3 = "gsi3"  # gsi3pk / gsi3sk: workspace-wide time lines
TTL = "expiresAtEpoch"
META = "META"


def workspace(workspace_id: str) -> dict[str, str]:
    return {PK: f"WS#{workspace_id}", SK: META}


def store(workspace_id: str, slug: str) -> dict[str, str]:
    return {PK: f"WS#{workspace_id}", SK: f"STORE#{slug}"}


def store_prefix() -> str:
    return "STORE#"


def shop(shop_id: str) -> dict[str, str]:
    return {PK: f"SHOP#{shop_id}", SK: META}


def key_registry(workspace_id: str, key_id: str) -> dict[str, str]:
    return {PK: f"WS#{workspace_id}", SK: f"KEY#{key_id}"}


def key_registry_prefix() -> str:
    return "KEY#"


def credential(secret_hash: str) -> dict[str, str]:
    return {PK: f"CRED#{secret_hash}", SK: META}


def ws_pk(workspace_id: str) -> str:
    return f"WS#{workspace_id}"


def token(token_value: str) -> dict[str, str]:
    return {PK: f"TOKEN#{token_value}", SK: META}


def idempotency(workspace_id: str, key_hash: str) -> dict[str, str]:
    return {PK: f"IDEM#{workspace_id}#{key_hash}", SK: META}


def campaign(workspace_id: str, campaign_id: str) -> dict[str, str]:
    return {PK: f"WS#{workspace_id}", SK: f"CAMPAIGN#{campaign_id}"}


def campaign_prefix() -> str:
    return "CAMPAIGN#"


# Feedback: the store's time line is the base table; order id, civ and the workspace-wide time
# line are sparse GSIs. Sort keys are "<createdAt>#<id>" so date ranges are key conditions.
def feedback(workspace_id: str, store_slug: str, created_at: str, feedback_id: str) -> dict[str, str]:
    return {PK: feedback_store_pk(workspace_id, store_slug), SK: f"{created_at}#{feedback_id}"}


def feedback_store_pk(workspace_id: str, store_slug: str) -> str:
    return f"FB#{workspace_id}#{store_slug}"


def feedback_order_pk(workspace_id: str, order_id: str) -> str:
    return f"FBORDER#{workspace_id}#{order_id}"


def feedback_civ_pk(workspace_id: str, civ: str) -> str:
    return f"FBCIV#{workspace_id}#{civ}"


def feedback_workspace_pk(workspace_id: str) -> str:
    return f"FBWS#{workspace_id}"
