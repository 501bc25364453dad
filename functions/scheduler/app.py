"""EventBridge schedule -> send and resend due survey trackers (see revisit.domain.sending).

After the sends, the run's integration events go to EventBridge, ten per PutEvents; an entry
EventBridge refuses is retried alone a bounded number of times (revisit.delivery.publish_events).
Events still refused are logged with their ``eventId`` and counted (``IntegrationEventsFailed``):
they are best effort, the sends stand. Metrics: ``SurveysSent``, ``SendFailures``, ``ClaimsLost``,
``IntegrationEventsPublished``, ``IntegrationEventsFailed``.

Imports: Powertools' Logger and Metrics, the sending domain (the DynamoDB client), delivery's
adapters (SES, SNS, EventBridge clients made on first use); no pydantic, no REST resolver.
"""

from revisit import delivery
from revisit.domain import sending
from revisit.domain.util import now
from revisit.observability import MetricUnit, logger, metrics

ADAPTERS = delivery.default_adapters()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    report = sending.run(now(), ADAPTERS, time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    summary = report.summary()
    published, refused = 0, 0
    try:
        published = delivery.publish_events(report.events)
    except delivery.PublishFailed as exc:
        published, refused = exc.published, len(exc.failed)
        for failed in exc.failed:
            logger.error(
                "integration event not published",
                extra={"eventId": failed.event_id, "detailType": failed.event["detailType"], "code": failed.code},
            )
    except Exception:  # integration events are best effort; the sends stand
        refused = len(report.events)
        logger.exception("could not put integration events")
    metrics.add_metric(name="SurveysSent", unit=MetricUnit.Count, value=summary.get("sent", 0))
    metrics.add_metric(name="SendFailures", unit=MetricUnit.Count, value=summary.get("failed_attempts", 0))
    metrics.add_metric(name="ClaimsLost", unit=MetricUnit.Count, value=summary.get("lost_claims", 0))
    metrics.add_metric(name="IntegrationEventsPublished", unit=MetricUnit.Count, value=published)
    metrics.add_metric(name="IntegrationEventsFailed", unit=MetricUnit.Count, value=refused)
    logger.info("scheduler run", extra={**summary, "events_published": published, "events_failed": refused})
    return summary
