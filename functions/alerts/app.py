"""Alert emails (docs/alerts.md): the alert queue -> one alert's emails per message; the daily
schedule -> each store's weekly digest, once a week.

Queue: a message whose emails could not all be sent is reported in ``batchItemFailures``; SQS
redelivers it after the visibility timeout (the addresses already sent are marked and skipped),
and the alert dead-letter queue takes it after 5 receives. Schedule: every store is tried; the
run fails at the end when a store's digest did not go out, so EventBridge's retry (and the next
day's run) sends the missing ones - never one twice.

Imports: Powertools' Logger, Metrics and batch utility and the alerts domain (its SES and DynamoDB
clients); no pydantic, no REST resolver.
"""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from revisit.domain import alerts
from revisit.observability import MetricUnit, logger, metrics

processor = BatchProcessor(event_type=EventType.SQS)
_counts: dict[str, int] = {}


def record_handler(record: SQSRecord) -> str:
    counts = alerts.send(json.loads(record.body))
    for name, value in counts.items():
        _counts[name] = _counts.get(name, 0) + value
    return "sent"


def _digests() -> dict:
    try:
        report = alerts.run_digests()
    except alerts.NotSent as exc:
        metrics.add_metric(name="DigestsFailed", unit=MetricUnit.Count, value=len(exc.report.get("failedStores", [])))
        logger.error("weekly digests", extra={"report": exc.report})
        raise
    metrics.add_metric(name="DigestEmailsSent", unit=MetricUnit.Count, value=report.get("sent", 0))
    logger.info("weekly digests", extra={"report": report})
    return report


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    if "Records" not in event:  # the schedule
        return _digests()
    _counts.clear()
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        metrics.add_metric(name="AlertEmailsSent", unit=MetricUnit.Count, value=_counts.get("sent", 0))
        logger.info("alert emails", extra={"counts": dict(_counts), "failed": len(processor.fail_messages)})
