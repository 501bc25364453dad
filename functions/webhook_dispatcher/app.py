"""Delivery queue -> one signed POST per message (Standard Webhooks v1; docs/webhooks.md).

Batch size 1 (template.yaml): each message is its own invocation, so a slow endpoint (up to the
15 s attempt limit) only ever holds its own delivery. An HTTP failure is not a failed message:
the attempt is logged and the retry queued with its delay (revisit.domain.webhooks.dispatch). A
message is reported in ``batchItemFailures`` only when the table or the queue could not be
reached; SQS then redelivers it after the visibility timeout, and the delivery dead-letter queue
takes it after 5 receives.

Imports: Powertools' Logger, Metrics and batch utility and the domain; no pydantic, no REST
resolver. The SQS client is created on the first retry.
"""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from revisit.domain import webhooks
from revisit.observability import MetricUnit, logger, metrics

processor = BatchProcessor(event_type=EventType.SQS)
_outcomes: dict[str, int] = {}


def record_handler(record: SQSRecord) -> str:
    outcome = webhooks.dispatch(json.loads(record.body))
    _outcomes[outcome] = _outcomes.get(outcome, 0) + 1
    return outcome


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    _outcomes.clear()
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        for outcome in ("succeeded", "retrying", "failed", "disabled"):
            if _outcomes.get(outcome):
                metrics.add_metric(name=f"Webhook_{outcome}", unit=MetricUnit.Count, value=_outcomes[outcome])
        logger.info("webhook deliveries", extra={"outcomes": dict(_outcomes), "failed": len(processor.fail_messages)})
