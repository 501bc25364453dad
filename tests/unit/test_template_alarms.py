"""Every dead-letter queue of the template has an alarm on its visible messages: a message there
is work the product gave up on (a stream batch, a webhook delivery, an alert email), and nobody
reads a queue nobody is told about."""

from __future__ import annotations

from revisit_dev.template import TEMPLATE_PATH, parse_yaml


def _ref_name(value):
    """The logical id a ``!GetAtt X.Arn`` / ``!GetAtt X.QueueName`` / ``!Ref X`` points at."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else str(target).split(".")[0]
        if "Ref" in value:
            return value["Ref"]
    return None


def _dead_letter_queues(resources):
    found = set()
    for resource in resources.values():
        props = resource.get("Properties") or {}
        redrive = props.get("RedrivePolicy") or {}
        if _ref_name(redrive.get("deadLetterTargetArn")):
            found.add(_ref_name(redrive["deadLetterTargetArn"]))
        for event in (props.get("Events") or {}).values():
            on_failure = ((event.get("Properties") or {}).get("DestinationConfig") or {}).get("OnFailure") or {}
            if _ref_name(on_failure.get("Destination")):
                found.add(_ref_name(on_failure["Destination"]))
    return found


def test_every_dead_letter_queue_has_an_alarm():
    resources = parse_yaml(TEMPLATE_PATH.read_text())["Resources"]
    queues = _dead_letter_queues(resources)
    assert {"AggregatorDeadLetterQueue", "IntegrationEventsDeadLetterQueue", "AlertDeadLetterQueue"} <= queues
    alarmed = {
        _ref_name(d["Value"])
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        for d in r["Properties"].get("Dimensions", [])
        if d.get("Name") == "QueueName"
    }
    assert queues - alarmed == set()
