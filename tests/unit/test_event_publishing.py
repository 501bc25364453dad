"""Integration events survive EventBridge partial failures: retried, never lost, never doubled.

PutEvents answers 200 with ``FailedEntryCount`` > 0 when some entries were not taken. ``Bus``
stands in for EventBridge at botocore's ``before-call`` hook (as botocore's Stubber does, but
answering from what was sent): it refuses chosen events, by ``eventId``, a chosen number of times,
and records every entry of every call.
"""

from __future__ import annotations

import copy
import json
import uuid
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from revisit import delivery
from revisit.dal import tracker_events
from revisit.domain import sending
from tests.support import Context, emitted_metrics, function


class Bus:
    def __init__(self) -> None:
        self.client = delivery._client("events")
        self.refuse: dict[str, int] = {}  # eventId -> how many more times it is refused
        self.calls: list[list[dict[str, Any]]] = []
        self.published: list[dict[str, Any]] = []
        self.raise_code: str | None = None

    def __call__(self, model, params, **kwargs):
        sent = json.loads(params["body"])["Entries"]  # the request as serialized for the wire
        entries = [{**e, "Detail": json.loads(e["Detail"])} for e in sent]
        self.calls.append(entries)
        out = []
        for entry in entries:
            eid = entry["Detail"]["eventId"]
            if self.refuse.get(eid, 0) > 0:
                self.refuse[eid] -= 1
                out.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                self.published.append(entry)
                out.append({"EventId": str(uuid.uuid4())})
        failed = sum("ErrorCode" in r for r in out)
        return AWSResponse(None, 200, {}, None), {"FailedEntryCount": failed, "Entries": out}

    def ids(self) -> list[str]:
        return [e["Detail"]["eventId"] for e in self.published]


@pytest.fixture
def bus(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    stub = Bus()
    stub.client.meta.events.register("before-call.events.PutEvents", stub, unique_id="test-bus")
    yield stub
    stub.client.meta.events.unregister("before-call.events.PutEvents", unique_id="test-bus")


def events(n: int, kind: str = "SurveySent") -> list[dict[str, Any]]:
    return [{"detailType": kind, "detail": {"id": f"T{i}", "sendingIndex": Decimal(i)}} for i in range(n)]


# ------------------------------------------------------------------ revisit.delivery.publish_events


def test_entries_go_ten_per_call_with_a_stable_event_id(bus):
    batch = events(23)
    assert delivery.publish_events(batch) == 23
    assert [len(c) for c in bus.calls] == [10, 10, 3]
    first = bus.ids()
    assert len(set(first)) == 23
    assert bus.published[0]["Source"] == "revisit" and bus.published[0]["DetailType"] == "SurveySent"
    assert bus.published[4]["Detail"]["sendingIndex"] == 4  # Decimal from DynamoDB -> a JSON number
    delivery.publish_events(copy.deepcopy(batch))
    assert bus.ids()[23:] == first  # the same event, the same id: what consumers deduplicate on


def test_only_refused_entries_are_retried(bus):
    batch = events(12)
    ids = [delivery.event_id(e["detailType"], e["detail"]) for e in batch]
    bus.refuse = {ids[3]: 1, ids[7]: 2, ids[11]: 1}
    assert delivery.publish_events(batch) == 12
    sent = [[e["Detail"]["eventId"] for e in call] for call in bus.calls]
    assert sent == [ids[:10], [ids[3], ids[7]], [ids[7]], ids[10:], [ids[11]]]
    assert sorted(bus.ids()) == sorted(ids)  # each on the bus exactly once


def test_an_entry_still_refused_after_the_retries_is_raised_not_lost(bus):
    batch = events(3)
    ids = [delivery.event_id(e["detailType"], e["detail"]) for e in batch]
    bus.refuse = {ids[1]: 99}
    with pytest.raises(delivery.PublishFailed) as caught:
        delivery.publish_events(batch, attempts=3)
    assert caught.value.published == 2
    [failed] = caught.value.failed
    assert (failed.event_id, failed.code, failed.event) == (ids[1], "InternalFailure", batch[1])
    assert [len(c) for c in bus.calls] == [3, 1, 1]
    assert sorted(bus.ids()) == sorted([ids[0], ids[2]])


def test_a_callers_event_id_is_kept(bus):
    delivery.publish_events([{"detailType": "SurveyCompleted", "detail": {"eventId": "mine", "id": "T1"}}])
    assert bus.ids() == ["mine"]


def test_a_call_that_raises_fails_its_entries(monkeypatch):
    client = delivery._client("events")

    def broken(model, params, **kwargs):
        return AWSResponse(None, 400, {}, None), {
            "Error": {"Code": "AccessDeniedException", "Message": "no"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    client.meta.events.register("before-call.events.PutEvents", broken, unique_id="test-broken")
    try:
        with pytest.raises(delivery.PublishFailed) as caught:
            delivery.publish_events(events(2))
    finally:
        client.meta.events.unregister("before-call.events.PutEvents", unique_id="test-broken")
    assert [f.code for f in caught.value.failed] == ["AccessDeniedException"] * 2
    assert caught.value.published == 0


# ------------------------------------------------------------------ functions/integration_events


def tracker_image(tracker_id: str, status: str = "completed") -> dict[str, Any]:
    return {
        "pk": {"S": f"TRACKER#{tracker_id}"},
        "sk": {"S": "TRACKER"},
        "type": {"S": "tracker"},
        "gsi1pk": {"S": "TRK#1042"},
        "id": {"S": tracker_id},
        "workspaceId": {"S": "1042"},
        "storeSlug": {"S": "downtown-coffee"},
        "surveyId": {"S": "S1"},
        "purchaseId": {"S": "P1"},
        "customerId": {"S": "C1"},
        "sendingType": {"S": "email"},
        "status": {"S": status},
        "sendingIndex": {"N": "0"},
        "clicks": {"N": "2"},
        "uniqueClicks": {"N": "1"},
        "resent": {"BOOL": False},
        "link": {"S": "https://fb.example.com/r/abc"},
        "contact": {"M": {"email": {"S": "ann@example.com"}}},
    }


def stream_record(seq: int, tracker_id: str) -> dict[str, Any]:
    return {
        "eventID": f"evt-{seq}",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"pk": {"S": f"TRACKER#{tracker_id}"}, "sk": {"S": "TRACKER"}},
            "NewImage": tracker_image(tracker_id),
            "OldImage": tracker_image(tracker_id, "sent"),
            "SequenceNumber": f"{seq:021d}",
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/revisit-unit/stream/x",
    }


def test_a_refused_completion_fails_its_record_and_the_rest_wait_unpublished(bus, capsys):
    app = function("integration_events")
    records = [stream_record(seq, f"T{seq}") for seq in (1, 2, 3, 4)]
    bus.refuse = {"SurveyCompleted/T2": 3}  # refused in all three tries of the first delivery
    reply = app.lambda_handler({"Records": records}, Context())
    failures = [f["itemIdentifier"] for f in reply["batchItemFailures"]]
    assert failures == [f"{seq:021d}" for seq in (2, 3, 4)]  # Lambda retries from the lowest one
    assert bus.ids() == ["SurveyCompleted/T1"]  # T3 and T4 not published: they are delivered again
    assert [len(c) for c in bus.calls] == [1, 1, 1, 1]  # T1; T2 three times, alone
    assert emitted_metrics(capsys.readouterr().out) == {"IntegrationEventsPublished": 1, "IntegrationEventsFailed": 1}

    # Lambda redelivers from the first failure; EventBridge takes everything now.
    reply = app.lambda_handler({"Records": records[1:]}, Context())
    assert reply == {"batchItemFailures": []}
    assert bus.ids() == [f"SurveyCompleted/T{i}" for i in (1, 2, 3, 4)]  # each exactly once
    refused = {e["Detail"]["eventId"] for call in bus.calls[1:4] for e in call}
    assert refused == {"SurveyCompleted/T2"}  # the same id in the failed tries and the retry
    assert emitted_metrics(capsys.readouterr().out) == {"IntegrationEventsPublished": 3, "IntegrationEventsFailed": 0}


def test_a_batch_whose_every_record_fails_is_an_invocation_error(bus, capsys):
    """Powertools raises when no record succeeded: Lambda retries (and bisects) the whole batch."""
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    bus.refuse = {"SurveyCompleted/T1": 99}
    with pytest.raises(BatchProcessingError):
        function("integration_events").lambda_handler({"Records": [stream_record(1, "T1")]}, Context())
    assert bus.ids() == []
    assert emitted_metrics(capsys.readouterr().out) == {"IntegrationEventsPublished": 0, "IntegrationEventsFailed": 1}


def test_a_transient_refusal_is_retried_within_the_invocation(bus):
    app = function("integration_events")
    bus.refuse = {"SurveyCompleted/T2": 1}
    reply = app.lambda_handler({"Records": [stream_record(s, f"T{s}") for s in (1, 2, 3)]}, Context())
    assert reply == {"batchItemFailures": []}
    assert bus.ids() == [f"SurveyCompleted/T{i}" for i in (1, 2, 3)]


def test_completed_event_detail_is_the_trackers_seed_view(bus):
    from revisit.domain import trackers

    app = function("integration_events")
    reply = app.lambda_handler({"Records": [stream_record(1, "T9")]}, Context())
    assert reply == {"batchItemFailures": []}
    [entry] = bus.published
    assert entry["DetailType"] == "SurveyCompleted"
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    new = DynamoDBRecord(stream_record(1, "T9")).dynamodb.new_image
    expected = json.loads(
        json.dumps(
            {**trackers.view(new), "workspaceId": "1042", "storeSlug": "downtown-coffee"}, default=delivery._number
        )
    )
    assert entry["Detail"] == {"eventId": "SurveyCompleted/T9", **expected}
    assert "contact" not in entry["Detail"] and "pk" not in entry["Detail"]
    assert list(trackers.view({})) == list(tracker_events.SEED_FIELDS)  # the same fields, in order


def test_records_that_are_not_completions_publish_nothing(bus):
    app = function("integration_events")
    record = stream_record(1, "T1")
    record["dynamodb"]["OldImage"]["status"] = {"S": "completed"}  # already completed before
    reply = app.lambda_handler({"Records": [record]}, Context())
    assert reply == {"batchItemFailures": []}
    assert bus.calls == []


def test_integration_events_on_moto_eventbridge_reach_a_rule_target():
    """No stub: moto's EventBridge, a rule on source revisit, an SQS target."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    events_client = boto3.client("events", region_name="us-east-1")
    queue = sqs.create_queue(QueueName=f"revisit-events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"revisit-{uuid.uuid4().hex[:8]}"
    events_client.put_rule(Name=rule, EventPattern=json.dumps({"source": ["revisit"]}))
    events_client.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    try:
        reply = function("integration_events").lambda_handler({"Records": [stream_record(1, "T5")]}, Context())
        assert reply == {"batchItemFailures": []}
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        [event] = [json.loads(m["Body"]) for m in messages]
        assert event["detail-type"] == "SurveyCompleted"
        assert event["detail"]["eventId"] == "SurveyCompleted/T5"
        assert event["detail"]["id"] == "T5" and event["detail"]["clicks"] == 2
    finally:
        events_client.remove_targets(Rule=rule, Ids=["q"])
        events_client.delete_rule(Name=rule)


# ------------------------------------------------------------------ functions/scheduler


def test_scheduler_retries_refused_events_and_counts_what_still_fails(bus, monkeypatch, capsys, caplog):
    app = function("scheduler")
    report = sending.Report(due=12, sent=11, failed_attempts=1, lost_claims=2, events=events(12))
    monkeypatch.setattr(sending, "run", lambda *args, **kwargs: report)
    ids = [delivery.event_id(e["detailType"], e["detail"]) for e in report.events]
    bus.refuse = {ids[2]: 1, ids[5]: 99}
    summary = app.lambda_handler({"source": "aws.events"}, Context())
    assert summary == report.summary()
    assert sorted(bus.ids()) == sorted(ids[:5] + ids[6:])  # ids[2] on the second try; ids[5] never
    assert [len(c) for c in bus.calls] == [10, 2, 1, 2]  # 10; [2, 5]; [5]; the last 2
    out = capsys.readouterr().out
    assert emitted_metrics(out) == {
        "SurveysSent": 11,
        "SendFailures": 1,
        "ClaimsLost": 2,
        "IntegrationEventsPublished": 11,
        "IntegrationEventsFailed": 1,
    }
    [logged] = [r for r in caplog.records if r.getMessage() == "integration event not published"]
    assert (logged.levelname, logged.eventId, logged.code) == ("ERROR", ids[5], "InternalFailure")
