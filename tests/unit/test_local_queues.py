"""The local stack's SQS event sources (revisit_dev.queues) on moto's SQS, and their template parsing."""

from __future__ import annotations

import json
import textwrap
import threading
import time
import uuid
from pathlib import Path

import boto3
import pytest

from revisit_dev.queues import QueueMapping, QueuePoller
from revisit_dev.template import QueueEvent, TemplateError, load_template


@pytest.fixture
def sqs():
    return boto3.client("sqs", region_name="us-east-1")


def make_queue(sqs, visibility: int = 30) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": str(visibility)})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def left(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


class Recorder:
    def __init__(self, answer=None, fail: bool = False) -> None:
        self.events: list[dict] = []
        self.answer = answer
        self.fail = fail

    def __call__(self, function: str, event: dict):
        self.events.append(event)
        if self.fail:
            raise RuntimeError("boom")
        return self.answer(event) if callable(self.answer) else self.answer


def test_batches_in_lambdas_sqs_shape_and_deletes_what_succeeded(sqs):
    url, arn = make_queue(sqs)
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
    invoke = Recorder({"batchItemFailures": []})
    mapping = QueueMapping("Fn", QueueEvent("Q", "Queue", batch_size=2), sqs, url, arn, invoke)
    assert mapping.poll_once() == 3  # a batch of 2, then 1
    assert [len(e["Records"]) for e in invoke.events] == [2, 1]
    record = invoke.events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody"} <= set(record)
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert sorted(json.loads(r["body"])["n"] for e in invoke.events for r in e["Records"]) == [0, 1, 2]
    assert left(sqs, url) == 0


def test_reported_failures_stay_on_the_queue_the_rest_is_deleted(sqs):
    url, arn = make_queue(sqs, visibility=1)
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))

    def fail_the_second(event):
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}

    invoke = Recorder(fail_the_second)
    event = QueueEvent("Q", "Queue", batch_size=10, report_batch_item_failures=True)
    mapping = QueueMapping("Fn", event, sqs, url, arn, invoke)
    mapping.poll_once()
    assert left(sqs, url) == 1
    time.sleep(1.1)  # the visibility timeout: the failed message comes back, received a second time
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    assert len(again) == 1 and again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_without_report_batch_item_failures_the_list_is_ignored_as_in_aws(sqs):
    url, arn = make_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    invoke = Recorder(lambda e: {"batchItemFailures": [{"itemIdentifier": e["Records"][0]["messageId"]}]})
    QueueMapping("Fn", QueueEvent("Q", "Queue"), sqs, url, arn, invoke).poll_once()
    assert left(sqs, url) == 0


def test_a_failed_invocation_deletes_nothing(sqs):
    url, arn = make_queue(sqs, visibility=30)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    mapping = QueueMapping("Fn", QueueEvent("Q", "Queue"), sqs, url, arn, Recorder(fail=True))
    assert mapping.poll_once() == 1
    assert left(sqs, url) == 1  # invisible for the visibility timeout, then back
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None


def test_a_delayed_message_waits_for_its_delay(sqs):
    url, arn = make_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    invoke = Recorder({})
    mapping = QueueMapping("Fn", QueueEvent("Q", "Queue"), sqs, url, arn, invoke)
    assert mapping.poll_once() == 0
    time.sleep(1.1)
    assert mapping.poll_once() == 1


def test_concurrency_lets_a_slow_batch_not_hold_the_next(sqs):
    url, arn = make_queue(sqs)
    for n in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
    release = threading.Event()
    started: list[str] = []

    def slow(function, event):
        started.append(event["Records"][0]["body"])
        if len(started) == 1:
            release.wait(5)
        return {}

    event = QueueEvent("Q", "Queue", batch_size=1, maximum_concurrency=2)
    poller = QueuePoller([QueueMapping("Fn", event, sqs, url, arn, slow, concurrency=4)])
    try:
        poller.poll_once()
        deadline = time.monotonic() + 5
        while len(started) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(started) == 2  # the second ran while the first was still running
    finally:
        release.set()
        poller.stop()


def _template(tmp_path: Path, events: str) -> Path:
    body = textwrap.dedent(
        """\
        Resources:
          Deliveries:
            Type: AWS::SQS::Queue
            Properties: {VisibilityTimeout: 60}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: functions/fn
              Handler: app.lambda_handler
              Events:
        """
    )
    path = tmp_path / "template.yaml"
    path.write_text(body + textwrap.indent(textwrap.dedent(events), " " * 8))
    return path


def test_the_template_sqs_event_is_parsed(tmp_path: Path):
    path = _template(
        tmp_path,
        """\
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Deliveries.Arn
            BatchSize: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig: {MaximumConcurrency: 5}
        """,
    )
    (fn,) = load_template(path).functions
    assert fn.queues == (QueueEvent("Work", "Deliveries", 1, 0, True, 5, True),)


def test_an_sqs_event_of_a_queue_outside_the_template_is_an_error(tmp_path: Path):
    path = _template(tmp_path, "Work: {Type: SQS, Properties: {Queue: 'arn:aws:sqs:us-east-1:1:elsewhere'}}\n")
    with pytest.raises(TemplateError, match="own queues"):
        load_template(path).functions  # noqa: B018


def test_the_real_template_feeds_the_dispatcher_one_message_at_a_time():
    dispatcher = next(f for f in load_template().functions if f.logical_id == "WebhookDispatcherFunction")
    (event,) = dispatcher.queues
    assert (event.queue, event.batch_size, event.report_batch_item_failures) == ("WebhookDeliveryQueue", 1, True)
    assert dispatcher.timeout_seconds > 15
