"""Table stream -> SurveyCompleted on EventBridge when a tracker's survey is answered."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from revisit import delivery
from revisit.domain import trackers
from revisit.http.app import logger

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    new, old = record.dynamodb.new_image or {}, record.dynamodb.old_image or {}
    if new.get("type") != "tracker" or new.get("status") != "completed" or old.get("status") == "completed":
        return  # the event filter already keeps these out; stay correct without it
    detail = {**trackers.view(new), "workspaceId": new["workspaceId"], "storeSlug": new["storeSlug"]}
    delivery.publish_events([{"detailType": "SurveyCompleted", "detail": detail}])


@logger.inject_lambda_context
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
