"""EventBridge schedule -> send and resend due survey trackers (see revisit.domain.sending)."""

from revisit import delivery
from revisit.domain import sending
from revisit.domain.util import now
from revisit.http.app import logger

ADAPTERS = delivery.default_adapters()


@logger.inject_lambda_context
def lambda_handler(event, context):
    report = sending.run(now(), ADAPTERS, time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    try:
        delivery.publish_events(report.events)
    except Exception:  # integration events are best effort; the sends stand
        logger.exception("could not put integration events")
    logger.info("scheduler run", extra=report.summary())
    return report.summary()
