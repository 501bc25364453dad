"""The template's ``SQS`` events: queues (moto's, created by revisit_dev.resources) -> functions, as
Lambda's SQS event source mappings do it.

Each mapping polls its queue (ReceiveMessage, no long polling: moto's server answers one request
at a time), hands up to BatchSize messages to the function in Lambda's SQS event shape, and then
deletes them - all of them when the invocation succeeded, all but those it names in
``batchItemFailures`` with ReportBatchItemFailures (without it, as in AWS, the list is ignored).
A failed invocation deletes nothing: its messages come back after the queue's visibility timeout,
and the queue's RedrivePolicy (moto applies it) moves them to the dead-letter queue after
maxReceiveCount receives. Up to ScalingConfig.MaximumConcurrency batches (at most the function's
containers) run at once, so one slow batch never holds the others.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from revisit_dev.template import QueueEvent

log = logging.getLogger(__name__)

Invoke = Callable[[str, dict[str, Any]], Any]


def _message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """ReceiveMessage's MessageAttributes in the (camelCase) shape of Lambda's SQS event."""
    out = {}
    for name, value in (attributes or {}).items():
        out[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType"),
        }
    return out


def lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A ReceiveMessage message as a record of Lambda's SQS event."""
    body = message.get("Body", "")
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": _message_attributes(message.get("MessageAttributes") or {}),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class QueueMapping:
    """One function's ``SQS`` event: receive, invoke, delete what succeeded."""

    def __init__(
        self,
        function: str,
        event: QueueEvent,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        invoke: Invoke,
        region: str = "us-east-1",
        concurrency: int = 1,
    ) -> None:
        self.function = function
        self.event = event
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.invoke = invoke
        self.region = region
        limit = event.maximum_concurrency or concurrency
        self.concurrency = max(1, min(limit, concurrency))
        self._in_flight = 0
        self._lock = threading.Lock()
        self._warned_unreported = False
        self._executor: ThreadPoolExecutor | None = None

    @property
    def name(self) -> str:
        return f"{self.function}.{self.event.event}"

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def receive(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages (SQS hands out 10 a call; MaximumBatchingWindowInSeconds
        keeps gathering until the batch is full or the window has passed)."""
        batch: list[dict[str, Any]] = []
        started = time.monotonic()
        while len(batch) < self.event.batch_size:
            resp = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.event.batch_size - len(batch)),
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            got = resp.get("Messages", [])
            batch.extend(got)
            if not got and time.monotonic() - started >= self.event.batching_window_seconds:
                break
            if not got:
                time.sleep(min(0.1, self.event.batching_window_seconds))
        return batch

    def deliver(self, messages: list[dict[str, Any]]) -> list[str]:
        """Invoke with ``messages`` and delete those that succeeded; the ids left on the queue."""
        records = [lambda_record(m, self.queue_arn, self.region) for m in messages]
        ids = [r["messageId"] for r in records]
        try:
            result = self.invoke(self.function, {"Records": records})
        except Exception:
            # the function's own traceback is in its log; here one line says what failed
            log.error("%s failed on %d message(s): %s", self.name, len(records), sys.exc_info()[1])
            return ids
        failures = result.get("batchItemFailures") if isinstance(result, dict) else None
        kept: list[str] = []
        if failures and self.event.report_batch_item_failures:
            named = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
            if any(i not in ids for i in named):
                log.error("%s: batchItemFailures names unknown messages %s; the whole batch fails", self.name, named)
                return ids
            kept = [i for i in ids if i in named]
            log.warning("%s: %d of %d message(s) failed; they come back after the visibility timeout",
                        self.name, len(kept), len(ids))  # fmt: skip
        elif failures and not self._warned_unreported:
            log.warning("%s returned batchItemFailures without ReportBatchItemFailures: ignored, as in AWS", self.name)
            self._warned_unreported = True
        done = [m for m, r in zip(messages, records, strict=True) if r["messageId"] not in kept]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done[start : start + 10])
            ]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        if done:
            log.info("%s <- %d message(s)", self.name, len(done))
        return kept

    def poll_once(self, background: bool = False) -> int:
        """Start batches while fewer than the concurrency run; how many messages were received."""
        received = 0
        while self._in_flight < self.concurrency:
            batch = self.receive()
            if not batch:
                break
            received += len(batch)
            with self._lock:
                self._in_flight += 1
            if background:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"sqs-{self.function}")
                self._executor.submit(self._run, batch)
            else:
                self._run(batch)
        return received

    def _run(self, batch: list[dict[str, Any]]) -> None:
        try:
            self.deliver(batch)
        except Exception:
            log.exception("%s: delivering a batch failed", self.name)
        finally:
            with self._lock:
                self._in_flight -= 1

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


class QueuePoller:
    """A thread polling every mapping's queue; ``poll_once`` is one round."""

    def __init__(self, mappings: list[QueueMapping], interval: float = 0.2) -> None:
        self.mappings = mappings
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self, background: bool = True) -> int:
        return sum(m.poll_once(background) for m in self.mappings if m.event.enabled)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="queue-poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                received = self.poll_once()
            except Exception:
                log.exception("polling the queues failed; trying again")
                received = 0
                self._stop.wait(1)
            if not received:
                self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        for mapping in self.mappings:
            with contextlib.suppress(Exception):
                mapping.close()
