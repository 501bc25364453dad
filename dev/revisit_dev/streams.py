"""The table's DynamoDB stream -> functions, as Lambda event source mappings do it.

One poller reads the stream (GetRecords against moto) and hands every record to each mapping
(a function's ``DynamoDB`` event). A mapping keeps its own queue: it drops records its
FilterCriteria reject, invokes the function with batches of up to BatchSize records, and on a
failure retries from the first failed record (``batchItemFailures`` with ReportBatchItemFailures,
else the whole batch) until MaximumRetryAttempts, then logs and skips the batch.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from revisit_dev.template import StreamEvent

log = logging.getLogger(__name__)

Invoke = Callable[[str, dict[str, Any]], Any]
_MISSING = object()


# ------------------------------------------------------------------ event filtering


def matches_filters(filters: tuple[dict[str, Any], ...] | list[dict[str, Any]], record: dict[str, Any]) -> bool:
    """FilterCriteria: no filters keep every record, else any one pattern must match."""
    return not filters or any(matches(p, record) for p in filters)


def matches(pattern: dict[str, Any], data: Any) -> bool:
    """Lambda event-filtering (EventBridge) pattern matching on a record's JSON.

    Objects nest; a leaf is a list of alternatives: exact values, ``prefix``, ``suffix``,
    ``equals-ignore-case``, ``wildcard``, ``exists``, ``anything-but`` and ``numeric`` (which also
    reads DynamoDB's numbers-as-strings, e.g. ``{"N": [{"numeric": [">", 3]}]}``).
    """
    for key, rule in pattern.items():
        value = data.get(key, _MISSING) if isinstance(data, dict) else _MISSING
        if isinstance(rule, dict):
            if not matches(rule, value if isinstance(value, dict) else {}):
                return False
        elif isinstance(rule, list):
            if not _leaf(rule, value):
                return False
        else:
            raise ValueError(f"filter pattern: the value of {key!r} must be an object or a list")
    return True


def _leaf(rules: list[Any], value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(_matcher(rule, v) for rule in rules for v in values)


def _matcher(rule: Any, value: Any) -> bool:
    if not isinstance(rule, dict):
        return value is not _MISSING and _equal(rule, value)
    ((op, arg),) = rule.items()
    if op == "exists":
        return (value is not _MISSING) == bool(arg)
    if value is _MISSING:
        return False
    if op == "anything-but":
        if isinstance(arg, dict):
            return not _matcher(arg, value)
        return not any(_equal(a, value) for a in (arg if isinstance(arg, list) else [arg]))
    if op == "numeric":
        return _numeric(arg, value)
    if not isinstance(value, str):
        return False
    if op == "prefix":
        return value.startswith(arg)
    if op == "suffix":
        return value.endswith(arg)
    if op == "equals-ignore-case":
        return value.lower() == str(arg).lower()
    if op == "wildcard":
        return re.fullmatch(".*".join(re.escape(p) for p in str(arg).split("*")), value, re.DOTALL) is not None
    raise ValueError(f"filter pattern: unsupported operator {op!r}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _equal(expected: Any, value: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool) or expected is None or value is None:
        return expected is value
    if isinstance(expected, int | float) and isinstance(value, int | float):
        return float(expected) == float(value)
    return expected == value


_COMPARE = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _numeric(conditions: list[Any], value: Any) -> bool:
    number = _number(value)
    if number is None:
        return False
    pairs = zip(conditions[::2], conditions[1::2], strict=True)
    return all(_COMPARE[op](number, float(bound)) for op, bound in pairs)


# ------------------------------------------------------------------ records


def _jsonable(value: Any) -> Any:
    """boto3's parsed stream record -> the JSON Lambda sends (bytes as base64, times as epoch)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def lambda_record(raw: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record in the shape of a record of Lambda's DynamoDB Streams event."""
    record = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": _jsonable(raw["dynamodb"]),
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:
        record["userIdentity"] = raw["userIdentity"]
    return record


# ------------------------------------------------------------------ one event source mapping


class Mapping:
    """One function's ``DynamoDB`` event: filter, batch, invoke, retry."""

    def __init__(
        self,
        function: str,
        event: StreamEvent,
        invoke: Invoke,
        retry_delay: float = 1.0,
        max_retry_delay: float = 30,
        on_failure: Callable[[str, dict[str, Any]], None] | None = None,
        function_arn: str = "",
    ) -> None:
        self.function = function
        self.event = event
        self.invoke = invoke
        self.on_failure = on_failure  # (destination ARN, record) -> None
        self.function_arn = function_arn
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.pending: list[dict[str, Any]] = []
        self._pending_since = 0.0
        self._attempts = 0
        self._retry_at = 0.0
        self._batch_limit = event.batch_size
        self._warned_unreported = False

    @property
    def name(self) -> str:
        return f"{self.function}.{self.event.event}"

    def offer(self, record: dict[str, Any], now: float | None = None) -> None:
        if not matches_filters(self.event.filters, record):
            return
        if not self.pending:
            self._pending_since = time.monotonic() if now is None else now
        self.pending.append(record)

    def step(self, now: float | None = None) -> bool:
        """Deliver one batch if one is due; True when a batch succeeded (another may follow)."""
        now = time.monotonic() if now is None else now
        if not self.pending or now < self._retry_at:
            return False
        full = len(self.pending) >= self.event.batch_size
        if not full and now - self._pending_since < self.event.batching_window_seconds:
            return False
        batch = self.pending[: self._batch_limit]
        failed_at = self._deliver(batch)
        if failed_at is None:
            del self.pending[: len(batch)]
            self._attempts, self._batch_limit = 0, self.event.batch_size
            self._pending_since = now
            return True
        del self.pending[:failed_at]  # checkpoint the records before the first failure
        self._attempts += 1
        limit = self.event.maximum_retry_attempts
        if 0 <= limit < self._attempts:
            skipped = len(batch) - failed_at
            log.error("%s: giving up after %d retries; skipping %d record(s)", self.name, limit, skipped)
            self._send_failure(batch[failed_at:])
            del self.pending[:skipped]
            self._attempts, self._batch_limit = 0, self.event.batch_size
            return False
        if self.event.bisect_on_error and failed_at == 0 and len(batch) > 1:
            self._batch_limit = max(1, len(batch) // 2)
        self._retry_at = now + min(self.max_retry_delay, self.retry_delay * 2 ** (self._attempts - 1))
        return False

    def _send_failure(self, records: list[dict[str, Any]]) -> None:
        """Tell the OnFailure destination about skipped records, in Lambda's format."""
        if not (self.event.on_failure and self.on_failure):
            return
        first, last = records[0], records[-1]
        record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self._attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": None,
                "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first["dynamodb"].get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": _iso(last["dynamodb"].get("ApproximateCreationDateTime")),
                "batchSize": len(records),
                "streamArn": first.get("eventSourceARN"),
            },
        }
        try:
            self.on_failure(self.event.on_failure, record)
        except Exception:
            log.exception("%s: could not send the failure to %s", self.name, self.event.on_failure)

    def _deliver(self, batch: list[dict[str, Any]]) -> int | None:
        """Invoke with ``batch``; the index of the first failed record, or None if all succeeded."""
        try:
            result = self.invoke(self.function, {"Records": batch})
        except Exception:
            log.exception("%s failed on a batch of %d stream record(s)", self.name, len(batch))
            return 0
        failures = result.get("batchItemFailures") if isinstance(result, dict) else None
        if not failures:
            log.info("%s <- %d stream record(s)", self.name, len(batch))
            return None
        if not self.event.report_batch_item_failures:
            if not self._warned_unreported:
                log.warning(
                    "%s returned batchItemFailures without ReportBatchItemFailures: ignored, as in AWS", self.name
                )
                self._warned_unreported = True
            return None
        sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
        ids = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
        if any(i not in sequence for i in ids):
            log.error("%s: batchItemFailures names unknown records %s; retrying the whole batch", self.name, ids)
            return 0
        first = min(sequence.index(i) for i in ids)
        log.warning("%s: %d of %d record(s) failed; retrying from %s", self.name, len(ids), len(batch), sequence[first])
        return first


# ------------------------------------------------------------------ the poller


class StreamPoller:
    """Reads a stream from LATEST and feeds every mapping; ``poll_once`` is one round."""

    def __init__(
        self,
        streams_client: Any,
        stream_arn: str,
        mappings: list[Mapping],
        region: str = "us-east-1",
        interval: float = 0.2,
        writes: Callable[[], int] | None = None,
    ) -> None:
        self.client = streams_client
        self.stream_arn = stream_arn
        self.mappings = mappings
        self.region = region
        self.interval = interval
        self.writes = writes  # a counter of table writes: skip GetRecords while it stands still
        self._iterators: dict[str, str] = {}
        self._seen_writes: int | None = None
        self._more = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        """Take LATEST iterators: records written after this are delivered, older ones never."""
        shards = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if "EndingSequenceNumber" in shard.get("SequenceNumberRange", {}):
                continue  # closed shard
            it = self.client.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )
            self._iterators[shard["ShardId"]] = it["ShardIterator"]

    def poll_once(self) -> int:
        """Fetch new records (if the table may have changed) and let each mapping deliver."""
        fetched = 0
        writes = self.writes() if self.writes else None
        if writes is None or writes != self._seen_writes or self._more:
            fetched = self._fetch()
            self._seen_writes = writes
        for mapping in self.mappings:
            while mapping.step():
                pass
        return fetched

    def _fetch(self) -> int:
        fetched, self._more = 0, False
        for shard_id, iterator in list(self._iterators.items()):
            resp = self.client.get_records(ShardIterator=iterator, Limit=1000)
            records = [lambda_record(r, self.stream_arn, self.region) for r in resp.get("Records", [])]
            for record in records:
                for mapping in self.mappings:
                    mapping.offer(record)
            fetched += len(records)
            self._more = self._more or len(records) == 1000
            if resp.get("NextShardIterator"):
                self._iterators[shard_id] = resp["NextShardIterator"]
            else:
                del self._iterators[shard_id]
        return fetched

    def start(self) -> None:
        self.open()
        self._thread = threading.Thread(target=self._run, name="stream-poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll_once()
            except Exception:
                log.exception("polling the stream failed; trying again")
                self._stop.wait(1)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
