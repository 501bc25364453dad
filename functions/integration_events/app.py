"""Table stream -> SurveyCompleted on EventBridge when a tracker's survey is answered.

Each completion is one event whose detail carries a stable ``eventId`` (``SurveyCompleted/<tracker
id>``), the same in every retry: PutEvents has no idempotency key, so consumers deduplicate on it.
Records are published in stream order, one PutEvents each, an entry EventBridge refuses retried
alone (revisit.delivery). A record whose event is still refused is reported in
``batchItemFailures``, and so is every record after it in the batch, unpublished: Lambda retries a
stream from the lowest failed sequence number, so a record after a failure is delivered again
anyway - publishing it now would publish it twice. Records before the failure are done.

Imports: Powertools' Logger, Metrics and batch utility, and the EventBridge client on the first
put; no pydantic, no REST resolver, no DynamoDB client (this function has no table permission).
"""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from revisit import delivery
from revisit.dal import tracker_events
from revisit.observability import MetricUnit, logger, metrics

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class NotAttempted(Exception):
    """An earlier record of this batch failed: this one is left for Lambda's retry."""


class _Batch:
    failed = False
    published = 0
    refused = 0


_batch = _Batch()


def record_handler(record: DynamoDBRecord) -> str:
    if _batch.failed:
        raise NotAttempted("an earlier record of the batch failed; retried from there")
    tracker = tracker_events.completed(record.dynamodb.new_image, record.dynamodb.old_image)
    if tracker is None:
        return "skipped"  # the event filter already keeps these out; stay correct without it
    try:
        delivery.publish_events([{"detailType": "SurveyCompleted", "detail": tracker_events.event_detail(tracker)}])
    except delivery.PublishFailed as exc:
        _batch.failed = True
        _batch.refused += len(exc.failed)
        for failed in exc.failed:
            logger.warning("integration event not published", extra={"eventId": failed.event_id, "code": failed.code})
        raise
    except Exception:
        _batch.failed = True
        _batch.refused += 1
        raise
    _batch.published += 1
    return "published"


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    _batch.failed, _batch.published, _batch.refused = False, 0, 0
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        metrics.add_metric(name="IntegrationEventsPublished", unit=MetricUnit.Count, value=_batch.published)
        metrics.add_metric(name="IntegrationEventsFailed", unit=MetricUnit.Count, value=_batch.refused)
        logger.info(
            "stream batch",
            extra={
                "records": len(event.get("Records") or []),
                "published": _batch.published,
                "refused": _batch.refused,
                "failed": len(processor.fail_messages),
            },
        )
