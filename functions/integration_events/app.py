"""Table stream -> SurveyCompleted on EventBridge when a tracker's survey is answered, and the
webhook deliveries of every event (docs/webhooks.md) on the delivery queue.

Each completion is one event whose detail carries a stable ``eventId`` (``SurveyCompleted/<tracker
id>``), the same in every retry: PutEvents has no idempotency key, so consumers deduplicate on it.
Records are published in stream order, one PutEvents each, an entry EventBridge refuses retried
alone (revisit.delivery). A record whose event is still refused is reported in
``batchItemFailures``, and so is every record after it in the batch, unpublished: Lambda retries a
stream from the lowest failed sequence number, so a record after a failure is delivered again
anyway - publishing it now would publish it twice. Records before the failure are done.

Webhooks: the same stream reader (no third one on the table's stream) turns a feedback or NPS
review INSERT, a tracker turning sent / completed / failed and a customer state that put the
customer on the growing-dissatisfied list into one delivery per matching endpoint of the
workspace (revisit.domain.webhooks.fan_out: a Query of its endpoints, a logged delivery, a queue
message). Fan-out comes before the EventBridge put, and it is idempotent (a delivery is logged
once), so a record retried after a refused put queues nothing twice. Imported history (items
marked ``imported: true``) fires nothing.

Alert emails (docs/alerts.md) come from the same events: a low rating or a customer growing
dissatisfied, for a store with alert addresses, is one message on the alert queue
(revisit.domain.alerts.fan_out); a retried record queues it again and the sender's markers keep
it to one email per address.

Imports: Powertools' Logger, Metrics and batch utility; the EventBridge client on the first put,
and the webhook fan-out (with its DynamoDB and SQS clients) on the first record that may be an
event; no pydantic, no REST resolver.
"""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from revisit import delivery
from revisit.dal import stream, tracker_events
from revisit.observability import MetricUnit, logger, metrics

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class NotAttempted(Exception):
    """An earlier record of this batch failed: this one is left for Lambda's retry."""


class _Batch:
    failed = False
    published = 0
    refused = 0
    queued = 0
    alerts = 0


def _fan_out(record: DynamoDBRecord) -> tuple[int, int]:
    """The record's webhook deliveries and alerts, queued (0, 0 when it is no event or nobody
    subscribed)."""
    name = record.event_name.name if record.event_name else None
    source = stream.webhook_source(name, record.dynamodb.new_image, record.dynamodb.old_image)
    if source is None:
        return 0, 0
    from revisit.domain import alerts, webhooks  # their clients are made here, on the first event

    return webhooks.fan_out(source), alerts.fan_out(source)


_batch = _Batch()


def record_handler(record: DynamoDBRecord) -> str:
    if _batch.failed:
        raise NotAttempted("an earlier record of the batch failed; retried from there")
    try:
        deliveries, alerts = _fan_out(record)
        _batch.queued += deliveries
        _batch.alerts += alerts
    except Exception:
        _batch.failed = True
        raise
    tracker = tracker_events.completed(record.dynamodb.new_image, record.dynamodb.old_image)
    if tracker is None or (record.dynamodb.new_image or {}).get("imported") is True:
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
    _batch.failed, _batch.published, _batch.refused, _batch.queued, _batch.alerts = False, 0, 0, 0, 0
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        metrics.add_metric(name="IntegrationEventsPublished", unit=MetricUnit.Count, value=_batch.published)
        metrics.add_metric(name="IntegrationEventsFailed", unit=MetricUnit.Count, value=_batch.refused)
        if _batch.queued:
            metrics.add_metric(name="WebhookDeliveriesQueued", unit=MetricUnit.Count, value=_batch.queued)
        if _batch.alerts:
            metrics.add_metric(name="AlertsQueued", unit=MetricUnit.Count, value=_batch.alerts)
        logger.info(
            "stream batch",
            extra={
                "records": len(event.get("Records") or []),
                "published": _batch.published,
                "refused": _batch.refused,
                "webhooksQueued": _batch.queued,
                "alertsQueued": _batch.alerts,
                "failed": len(processor.fail_messages),
            },
        )
