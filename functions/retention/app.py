"""EventBridge schedule (daily) -> delete the answers older than each store's ``retentionMonths``
(revisit.domain.retention). Metrics: ``RetentionAnswersDeleted``, ``RetentionStores``."""

from revisit.domain import retention
from revisit.domain.util import now
from revisit.observability import MetricUnit, logger, metrics


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    totals = retention.run(now())
    metrics.add_metric(name="RetentionAnswersDeleted", unit=MetricUnit.Count, value=totals["answers"])
    metrics.add_metric(name="RetentionStores", unit=MetricUnit.Count, value=totals["stores"])
    logger.info("retention run", extra=totals)
    return totals
