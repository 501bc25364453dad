"""Make moto's TransactWriteItems cost what DynamoDB's does.

moto 5.2 deep-copies every table a transaction touches, once per transaction item, so it can roll
back a failed transaction. With tens of thousands of items that makes each transaction take
seconds and a workload quadratic. This patch keeps moto's semantics (all conditions are checked
against the state before any write; any failure cancels everything with per-item reasons) but
checks every condition first and only then writes, backing up just the touched items.

Local tooling only (the local stack, the tests, the benchmark); nothing in the functions uses it.
"""

from __future__ import annotations

import copy
from typing import Any

_applied = False


def apply() -> None:
    global _applied  # noqa: PLW0603
    if _applied:
        return
    from moto.dynamodb.comparisons import get_filter_expression as condition_of
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        plan: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = []
        seen: set[tuple[str, str]] = set()
        errors: list[tuple[Any, Any, Any]] = []
        for entry in transact_items:
            if len(entry) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(entry.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table = self.get_table(op["TableName"])
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            marker = (op["TableName"], str(dict(sorted(key.items()))))
            if marker in seen:
                raise MultipleTransactionsException()
            seen.add(marker)
            current = self.get_item(op["TableName"], key)
            failed = None
            if op.get("ConditionExpression") is not None:
                condition = condition_of(
                    op["ConditionExpression"], op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                )
                if not condition.expr(current):
                    old = None
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old = current.to_json()["Attributes"]
                    failed = ("ConditionalCheckFailed", ConditionalCheckFailed().message, old)
            errors.append(failed or (None, None, None))
            plan.append((op_type, op, op["TableName"], key))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)

        backups = [(name, key, copy.deepcopy(self.get_item(name, key))) for _, _, name, key in plan]
        try:
            for op_type, op, name, key in plan:
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(
                        name, op["Item"], expression_attribute_names=names, expression_attribute_values=values
                    )
                elif op_type == "Delete":
                    self.delete_item(name, key, expression_attribute_names=names, expression_attribute_values=values)
                elif op_type == "Update":
                    self.update_item(
                        name,
                        key,
                        update_expression=op["UpdateExpression"],
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
        except Exception:
            for name, key, old in backups:  # undo what was written before the failure
                if old is None:
                    self.delete_item(name, key)
                else:
                    self.put_item(name, old.to_json()["Attributes"])
            raise

    DynamoDBBackend.transact_write_items = transact_write_items
    _applied = True
