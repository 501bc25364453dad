"""The one DynamoDB client of a container, the (de)serialisation of items, and the helpers every
data-access module shares: plain records, prefix and range queries, conditional updates and
transactions that raise named exceptions (:mod:`revisit.dal.errors`)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from revisit.config import settings
from revisit.dal import keys
from revisit.dal.errors import AlreadyExists, ConditionFailed

# Created once per container (cold start), reused by every invocation. boto3's standard retry mode,
# 3 attempts in all (throttling, 5xx, timeouts; with its jittered backoff of at most 1 s then 2 s),
# each given 0.5 s to connect and 1.5 s to answer: a call gives up after at most
# 3 x 2 s + 3 s = 9 s, under the 10 s of the API functions (template.yaml Globals), so the
# function answers 503 (http/app.py) rather than being killed mid-request.
CLIENT_CONFIG = Config(
    max_pool_connections=50,
    retries={"mode": "standard", "total_max_attempts": 3},  # botocore's max_attempts counts retries only
    connect_timeout=0.5,
    read_timeout=1.5,
)
client = boto3.client("dynamodb", region_name=settings().region, config=CLIENT_CONFIG)
TABLE = settings().table_name
SK_MAX = "\uffff"  # sorts after every character a sort key holds: the open end of a range

_ser = TypeSerializer()
_deser = TypeDeserializer()

Failure = type[ConditionFailed] | None


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


def plain_value(value: Any) -> Any:
    """boto3's Decimals (also inside maps and lists) as int or float."""
    return _plain(value)


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    """Python dict -> DynamoDB attribute map. ``None`` values are left out."""
    return {k: _ser.serialize(_wire(v)) for k, v in item.items() if v is not None}


def value(v: Any) -> dict[str, Any]:
    return _ser.serialize(_wire(v))


def deserialize(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {k: _plain(_deser.deserialize(v)) for k, v in item.items()}


def plain(item: dict[str, Any] | None, hidden: Sequence[str] = keys.HIDDEN) -> dict[str, Any] | None:
    """A stored item as a record: without its key, index and type attributes."""
    return {k: v for k, v in item.items() if k not in hidden} if item else None


def get(key: dict[str, str], consistent: bool = True) -> dict[str, Any] | None:
    """The item as stored (with its keys), or None."""
    resp = client.get_item(TableName=TABLE, Key=serialize(key), ConsistentRead=consistent)
    return deserialize(resp.get("Item"))


def get_record(key: dict[str, str], consistent: bool = True) -> dict[str, Any] | None:
    """The item as a plain record (:func:`plain`), or None."""
    return plain(get(key, consistent))


def put_new(item: dict[str, Any], failure: type[ConditionFailed] = AlreadyExists) -> None:
    """Put an item that must not exist yet; raise ``failure`` if it does."""
    try:
        client.put_item(TableName=TABLE, Item=serialize(item), ConditionExpression="attribute_not_exists(pk)")
    except ClientError as exc:
        raise _named(translate(exc), [failure]) from None


def transact(items: list[dict[str, Any]], failures: Sequence[Failure] = ()) -> None:
    """TransactWriteItems, with TableName filled in. ``failures[i]`` is the exception to raise when
    the condition of item ``i`` fails (the first failing item that has one wins); a failed item
    without one raises a plain ConditionFailed."""
    for entry in items:
        for op in entry.values():
            op.setdefault("TableName", TABLE)
    try:
        client.transact_write_items(TransactItems=items)
    except ClientError as exc:
        raise _named(translate(exc), failures) from None


def update(
    key: dict[str, str],
    expression: str,
    *,
    condition: str | None = None,
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    returns: str | None = None,
    failure: type[ConditionFailed] = ConditionFailed,
) -> dict[str, Any] | None:
    """One UpdateItem; ``failure`` when its condition fails. Returns the (deserialised) attributes
    asked for with ``returns`` (e.g. ALL_NEW), else None."""
    kwargs: dict[str, Any] = {"TableName": TABLE, "Key": serialize(key), "UpdateExpression": expression}
    if condition:
        kwargs["ConditionExpression"] = condition
    if names:
        kwargs["ExpressionAttributeNames"] = names
    if values:
        kwargs["ExpressionAttributeValues"] = values
    if returns:
        kwargs["ReturnValues"] = returns
    try:
        resp = client.update_item(**kwargs)
    except ClientError as exc:
        raise _named(translate(exc), [failure]) from None
    return deserialize(resp.get("Attributes")) if returns else None


def update_together(
    item_keys: Sequence[dict[str, str]],
    expression: str,
    *,
    condition: str,
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    failures: Sequence[Failure] = (),
) -> None:
    """The same conditional update of several items, in one transaction: they change together or
    not at all (a registry item and its look-up, a campaign and its token)."""
    update: dict[str, Any] = {"UpdateExpression": expression, "ConditionExpression": condition}
    if names:
        update["ExpressionAttributeNames"] = names
    if values:
        update["ExpressionAttributeValues"] = values
    transact([{"Update": {"Key": serialize(key), **update}} for key in item_keys], failures)


def update_fields(
    key: dict[str, str],
    changes: dict[str, Any],
    *,
    condition: str = "attribute_exists(pk)",
    sets: Sequence[str] = (),
    removes: Sequence[str] = (),
    values: dict[str, Any] | None = None,
    returns: str | None = None,
    failure: type[ConditionFailed] = ConditionFailed,
) -> dict[str, Any] | None:
    """SET every change with a value and REMOVE those set to None (plus the given clauses)."""
    names: dict[str, str] = {}
    vals: dict[str, Any] = dict(values or {})
    change_sets, change_removes = set_remove(changes, names, vals)
    return update(
        key,
        update_expression([*sets, *change_sets], [*change_removes, *removes]),
        condition=condition,
        names=names,
        values=vals,
        returns=returns,
        failure=failure,
    )


def query_raw(**kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a query as DynamoDB returns it (attribute-value maps), all pages."""
    kwargs.setdefault("TableName", TABLE)
    out: list[dict[str, Any]] = []
    while True:
        resp = client.query(**kwargs)
        out.extend(resp.get("Items", []))
        if "LastEvaluatedKey" not in resp:
            return out
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def query_all(**kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a query, following LastEvaluatedKey (bounded by the caller's key condition)."""
    return [deserialize(i) for i in query_raw(**kwargs)]


def query_partition(pk: str, sk_prefix: str | None = None) -> list[dict[str, Any]]:
    """Every item of a partition (whose sort key starts with ``sk_prefix``), as stored."""
    if sk_prefix is None:
        return query_all(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": value(pk)})
    return query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": value(pk), ":p": value(sk_prefix)},
    )


def query_prefix(pk: str, sk_prefix: str) -> list[dict[str, Any]]:
    """The plain records of a partition whose sort key starts with ``sk_prefix``."""
    return [plain(i) for i in query_partition(pk, sk_prefix)]


def time_bounds(from_ts: str | None, to_ts: str | None) -> tuple[str, str]:
    """Inclusive sort-key bounds of keys ``<timestamp>#...`` from ``from_ts`` through ``to_ts``."""
    return from_ts or "0", (to_ts + SK_MAX) if to_ts else SK_MAX


def range_query(
    pk_attr: str,
    sk_attr: str,
    pk_value: str,
    lo: str,
    hi: str,
    *,
    index: str | None = None,
    newest_first: bool = False,
) -> dict[str, Any]:
    """The Query request of one partition's sort keys from ``lo`` through ``hi`` (a base table or
    index partition); the caller may add filters, a limit and a start key."""
    req: dict[str, Any] = {
        "TableName": TABLE,
        "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :lo AND :hi",
        "ExpressionAttributeNames": {"#pk": pk_attr, "#sk": sk_attr},
        "ExpressionAttributeValues": {":pk": value(pk_value), ":lo": value(lo), ":hi": value(hi)},
    }
    if index:
        req["IndexName"] = index
    if newest_first:
        req["ScanIndexForward"] = False
    return req


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


def _named(err: Exception, failures: Sequence[Failure]) -> Exception:
    if isinstance(err, ConditionFailed):
        for index, failure in enumerate(failures):
            if failure is not None and err.failed_at(index):
                return failure(err.reasons)
    return err


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
