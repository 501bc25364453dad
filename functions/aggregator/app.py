"""DynamoDB Streams -> CIV loyalty aggregates (counters, customer visit history, watch list).

Each record is applied exactly once in effect (revisit.domain.analytics): a redelivered record
(a retried or bisected batch, the suffix after a reported failure) changes nothing. A record that
fails is reported in ``batchItemFailures``; Lambda retries from it.

Metrics (EMF), one per outcome and batch: ``RecordsApplied``, ``RecordsDuplicate`` (a replay that
changed nothing), ``RecordsSkipped`` (not a response), ``RecordsInvalid`` (logged, never retried)
and ``RecordsFailed`` (reported for a retry).
"""

from collections import Counter

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from revisit.domain import analytics
from revisit.observability import MetricUnit, logger, metrics

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
_outcomes: Counter[str] = Counter()
METRIC_NAMES = {outcome.value: f"Records{outcome.value.capitalize()}" for outcome in analytics.Outcome}


def record_handler(record: DynamoDBRecord) -> str:
    name = record.event_name.name if record.event_name else None
    outcome = analytics.apply_record(name, record.dynamodb.new_image if record.dynamodb else {})
    _outcomes[outcome.value] += 1
    return outcome.value


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    _outcomes.clear()
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        failed = len(processor.fail_messages)
        for outcome, metric in METRIC_NAMES.items():
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=_outcomes[outcome])
        metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=failed)
        logger.info("stream batch", extra={"records": len(event.get("Records") or []), "failed": failed, **_outcomes})
