"""The one DynamoDB client of a container and the (de)serialisation of items."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from revisit.config import settings
from revisit.dal import ConditionFailed

_REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

# Created once per container (cold start), reused by every invocation.
client = boto3.client("dynamodb", region_name=_REGION, config=Config(max_pool_connections=50))
TABLE = settings().table_name

_ser = TypeSerializer()
_deser = TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def _wire(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    """Python dict -> DynamoDB attribute map. ``None`` values are left out."""
    return {k: _ser.serialize(_wire(v)) for k, v in item.items() if v is not None}


def value(v: Any) -> dict[str, Any]:
    return _ser.serialize(_wire(v))


def deserialize(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {k: _plain(_deser.deserialize(v)) for k, v in item.items()}


def get(key: dict[str, str], consistent: bool = True) -> dict[str, Any] | None:
    resp = client.get_item(TableName=TABLE, Key=serialize(key), ConsistentRead=consistent)
    return deserialize(resp.get("Item"))


def put_new(item: dict[str, Any]) -> None:
    """Put an item that must not exist yet; raise ConditionFailed if it does."""
    try:
        client.put_item(TableName=TABLE, Item=serialize(item), ConditionExpression="attribute_not_exists(pk)")
    except ClientError as exc:
        raise translate(exc) from None


def transact(items: list[dict[str, Any]]) -> None:
    """TransactWriteItems, with TableName filled in; ConditionFailed names the failing items."""
    for entry in items:
        for op in entry.values():
            op.setdefault("TableName", TABLE)
    try:
        client.transact_write_items(TransactItems=items)
    except ClientError as exc:
        raise translate(exc) from None


def query_all(**kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a query, following LastEvaluatedKey (bounded by the caller's key condition)."""
    kwargs.setdefault("TableName", TABLE)
    out: list[dict[str, Any]] = []
    while True:
        resp = client.query(**kwargs)
        out.extend(deserialize(i) for i in resp.get("Items", []))
        last = resp.get("LastEvaluatedKey")
        if not last:
            return out
        kwargs["ExclusiveStartKey"] = last


def translate(exc: ClientError) -> Exception:
    """botocore's conditional-write failures -> ConditionFailed; anything else unchanged."""
    code = exc.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return ConditionFailed(["ConditionalCheckFailed"])
    if code == "TransactionCanceledException":
        reasons = [
            (r.get("Code") if r.get("Code") not in (None, "None") else None)
            for r in exc.response.get("CancellationReasons", [])
        ]
        if any(r == "ConditionalCheckFailed" for r in reasons):
            return ConditionFailed(reasons)
    return exc


# ---------------------------------------------------------------- transaction and update builders


def must_exist(key: dict[str, str]) -> dict[str, Any]:
    """A transaction item: the item at ``key`` must exist (e.g. the store a new record belongs to)."""
    return {
        "ConditionCheck": {"TableName": TABLE, "Key": serialize(key), "ConditionExpression": "attribute_exists(pk)"}
    }


def put_new_op(item: dict[str, Any]) -> dict[str, Any]:
    """A transaction item: put ``item``, which must not exist yet."""
    return {"Put": {"TableName": TABLE, "Item": serialize(item), "ConditionExpression": "attribute_not_exists(pk)"}}


def set_remove(changes: dict[str, Any], names: dict[str, str], values: dict[str, Any]) -> tuple[list[str], list[str]]:
    """SET clauses for the changes with a value and REMOVE clauses for those set to None; fills
    ``names`` and ``values`` with placeholders (#f0, :v0, ...)."""
    sets, removes = [], []
    for i, (field, val) in enumerate(changes.items()):
        names[f"#f{i}"] = field
        if val is None:
            removes.append(f"#f{i}")
        else:
            sets.append(f"#f{i} = :v{i}")
            values[f":v{i}"] = value(val)
    return sets, removes


def update_expression(sets: list[str], removes: list[str]) -> str:
    return " ".join(
        part
        for part in ("SET " + ", ".join(sets) if sets else "", "REMOVE " + ", ".join(removes) if removes else "")
        if part
    )
