"""The table's DynamoDB stream -> functions, as Lambda event source mappings do it.

One poller reads the stream's shards (GetRecords against DynamoDB Local) and hands every record to each mapping
(a function's ``DynamoDB`` event). A mapping keeps its own queue: it drops records its
FilterCriteria reject, invokes the function with batches of up to BatchSize records, and on a
failure retries from the first failed record (``batchItemFailures`` with ReportBatchItemFailures,
else the whole batch) until MaximumRetryAttempts, then logs and skips the batch.
"""

from __future__ import annotations

import base64
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from revisit_dev.template import StreamEvent

log = logging.getLogger(__name__)

Invoke = Callable[[str, dict[str, Any]], Any]


# ------------------------------------------------------------------ event filtering


def matches_filters(filters: tuple[dict[str, Any], ...] | list[dict[str, Any]], record: dict[str, Any]) -> bool:
    """FilterCriteria: no filters keep every record, else any one pattern must match.

    Matching is moto's EventBridge event-pattern matcher (the rules Lambda's event filtering
    uses), not one of our own.
    """
    from moto.events.models import EventPattern

    return not filters or any(EventPattern(None, pattern).matches_event(record) for pattern in filters)


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
        self._drop_too_old()
        if not self.pending:
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

    def _drop_too_old(self) -> None:
        """MaximumRecordAgeInSeconds: records older than that go to the OnFailure destination."""
        limit = self.event.maximum_record_age_seconds
        if limit < 0:
            return
        oldest_kept = time.time() - limit
        expired = 0
        while expired < len(self.pending) and (
            self.pending[expired]["dynamodb"].get("ApproximateCreationDateTime", oldest_kept) < oldest_kept
        ):
            expired += 1
        if expired:
            log.error("%s: %d record(s) older than %d s; skipping them", self.name, expired, limit)
            self._send_failure(self.pending[:expired])
            del self.pending[:expired]
            self._attempts, self._batch_limit = 0, self.event.batch_size

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
            # the function's own traceback is in its log; here one line says what failed
            log.error("%s failed on a batch of %d stream record(s): %s", self.name, len(batch), sys.exc_info()[1])
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
    """Reads every shard of a stream and feeds every mapping; ``poll_once`` is one round.

    Shards open when the poller starts are read from LATEST (records written before the start
    are never replayed, as for a new event source mapping); shards that appear later (DynamoDB
    rolls shards over) are read from TRIM_HORIZON, a parent before its children. An expired
    iterator is renewed after the last record read.
    """

    def __init__(
        self,
        streams_client: Any,
        stream_arn: str,
        mappings: list[Mapping],
        region: str = "us-east-1",
        interval: float = 0.25,
        discover_every: float = 5.0,
    ) -> None:
        self.client = streams_client
        self.stream_arn = stream_arn
        self.mappings = mappings
        self.region = region
        self.interval = interval
        self.discover_every = discover_every
        self._iterators: dict[str, str] = {}
        self._last: dict[str, str] = {}  # shard -> sequence number of the last record read
        self._known: set[str] = set()
        self._discovered_at = 0.0
        self._more = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _shards(self) -> list[dict[str, Any]]:
        shards, start = [], None
        while True:
            kwargs = {"StreamArn": self.stream_arn} | ({"ExclusiveStartShardId": start} if start else {})
            description = self.client.describe_stream(**kwargs)["StreamDescription"]
            shards += description.get("Shards", [])
            start = description.get("LastEvaluatedShardId")
            if not start:
                return shards

    def _iterator(self, shard_id: str, kind: str, sequence: str | None = None) -> str:
        kwargs = {"SequenceNumber": sequence} if sequence else {}
        return self.client.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=kind, **kwargs
        )["ShardIterator"]

    def open(self) -> None:
        """Take LATEST iterators on the open shards: records written after this are delivered."""
        for shard in self._shards():
            self._known.add(shard["ShardId"])
            if "EndingSequenceNumber" not in shard.get("SequenceNumberRange", {}):
                self._iterators[shard["ShardId"]] = self._iterator(shard["ShardId"], "LATEST")
        self._discovered_at = time.monotonic()

    def _discover(self) -> None:
        for shard in self._shards():  # DescribeStream lists parents before their children
            if shard["ShardId"] not in self._known:
                self._known.add(shard["ShardId"])
                self._iterators[shard["ShardId"]] = self._iterator(shard["ShardId"], "TRIM_HORIZON")
        self._discovered_at = time.monotonic()

    def poll_once(self) -> int:
        """Fetch new records and let each mapping deliver what is due."""
        if time.monotonic() - self._discovered_at >= self.discover_every:
            self._discover()
        fetched = self._fetch()
        for mapping in self.mappings:
            while not self._stop.is_set() and mapping.step():
                pass
        return fetched

    def _get_records(self, shard_id: str, iterator: str) -> dict[str, Any]:
        try:
            return self.client.get_records(ShardIterator=iterator, Limit=1000)
        except self.client.exceptions.ExpiredIteratorException:
            last = self._last.get(shard_id)
            kind = "AFTER_SEQUENCE_NUMBER" if last else "LATEST"
            fresh = self._iterator(shard_id, kind, last)
            return self.client.get_records(ShardIterator=fresh, Limit=1000)

    def _fetch(self) -> int:
        fetched, self._more = 0, False
        for shard_id, iterator in list(self._iterators.items()):
            resp = self._get_records(shard_id, iterator)
            records = [lambda_record(r, self.stream_arn, self.region) for r in resp.get("Records", [])]
            for record in records:
                for mapping in self.mappings:
                    mapping.offer(record)
            if records:
                self._last[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
            fetched += len(records)
            self._more = self._more or len(records) == 1000
            if resp.get("NextShardIterator"):
                self._iterators[shard_id] = resp["NextShardIterator"]
            else:  # a closed shard, read to its end: its children carry on
                del self._iterators[shard_id]
                self._discovered_at = 0.0
        return fetched

    def start(self) -> None:
        self.open()
        self._thread = threading.Thread(target=self._run, name="stream-poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0 if self._more else self.interval):
            try:
                self.poll_once()
            except Exception:
                log.exception("polling the stream failed; trying again")
                self._stop.wait(1)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
