"""The local stack's parts: template reader, gateway, function pool, streams, schedules, snapshots."""

from __future__ import annotations

import base64
import json
import os
import textwrap
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from revisit_dev import gateway as gw
from revisit_dev.gateway import Gateway, GatewayServer, Match, Request, Router, build_event, proxy_reply
from revisit_dev.schedules import Cron, Scheduler, Timer, rate_seconds, scheduled_event
from revisit_dev.stack import (
    FakeContext,
    FunctionPool,
    Functions,
    MotoServer,
    configure_environment,
    create_resources,
    restore_snapshot,
    save_snapshot,
)
from revisit_dev.streams import Mapping, StreamPoller, lambda_record, matches, matches_filters
from revisit_dev.template import (
    Route,
    ScheduleEvent,
    StreamEvent,
    Template,
    create_table_from_template,
    load_template,
    parse_yaml,
)

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    """moto in-process (works alone or inside the unit suite's global mock)."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # else stream calls 404 with botocore 1.44
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def write_template(tmp_path: Path, resources: str, globals_: str = "") -> Path:
    text = textwrap.dedent(
        """\
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Stage: {Type: String, Default: dev}
          LogLevel: {Type: String, Default: INFO}
        Globals:
          Function:
            Timeout: 10
            MemorySize: 512
            Environment:
              Variables:
                TABLE_NAME: !Ref Table
                LOG_LEVEL: !Ref LogLevel
        %s
        Resources:
          Table:
            Type: AWS::DynamoDB::Table
            Properties:
              BillingMode: PAY_PER_REQUEST
              AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
              KeySchema: [{AttributeName: pk, KeyType: HASH}]
              StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
        """
    ) % textwrap.dedent(globals_)
    path = tmp_path / "template.yaml"
    path.write_text(text + textwrap.indent(textwrap.dedent(resources), "  "))
    return path


def write_function(tmp_path: Path, name: str, code: str) -> Path:
    directory = tmp_path / "functions" / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "app.py").write_text(textwrap.dedent(code))
    return directory


# ====================================================================== template


def test_yaml_understands_cloudformation_short_tags():
    doc = parse_yaml(
        textwrap.dedent(
            """\
            a: !Ref Thing
            b: !GetAtt Table.Arn
            c: !GetAtt [Table, StreamArn]
            d: !Sub "${AWS::Region}-${Stage}"
            e: !If [IsProd, big, small]
            f: !Join [",", [x, !Ref Stage]]
            """
        )
    )
    assert doc["a"] == {"Ref": "Thing"}
    assert doc["b"] == {"Fn::GetAtt": ["Table", "Arn"]}
    assert doc["c"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    assert doc["d"] == {"Fn::Sub": "${AWS::Region}-${Stage}"}
    assert doc["e"] == {"Fn::If": ["IsProd", "big", "small"]}
    assert doc["f"] == {"Fn::Join": [",", ["x", {"Ref": "Stage"}]]}


def test_intrinsics_resolve_against_parameters_conditions_and_resources():
    doc = parse_yaml(
        textwrap.dedent(
            """\
            Parameters:
              Stage: {Type: String, Default: dev}
              Size: {Type: Number, Default: 30}
            Conditions:
              IsProd: !Equals [!Ref Stage, prod]
            Resources:
              Table: {Type: AWS::DynamoDB::Table}
              Queue: {Type: AWS::SQS::Queue}
            """
        )
    )
    tpl = Template(doc, Path("."), table_name="t1")
    resolve = tpl.resolve
    assert resolve({"Ref": "Table"}) == "t1"
    assert resolve({"Ref": "Size"}) == "30"
    assert resolve({"Fn::Sub": "${AWS::Region}/${Stage}/${Table}"}) == "us-east-1/dev/t1"
    assert resolve({"Fn::Sub": "${Table.Arn}/index/*"}) == "arn:aws:dynamodb:us-east-1:123456789012:table/t1/index/*"
    assert resolve({"Fn::Sub": ["${X}-${Stage}", {"X": "x"}]}) == "x-dev"
    assert resolve({"Fn::If": ["IsProd", "p", "d"]}) == "d"
    assert resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}) == "a-dev"
    tpl.physical["Queue"] = {"Ref": "http://q", "Arn": "arn:q"}
    assert resolve([{"Ref": "Queue"}, {"Fn::GetAtt": ["Queue", "Arn"]}]) == ["http://q", "arn:q"]
    prod = Template(doc, Path("."), parameters={"Stage": "prod"})
    assert prod.resolve({"Fn::If": ["IsProd", "p", "d"]}) == "p"


def test_the_real_template():
    tpl = load_template()
    kwargs = tpl.table_create_kwargs("x")
    assert kwargs["TableName"] == "x"
    assert kwargs["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert kwargs["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert tpl.ttl_attribute == "expiresAtEpoch"
    functions = {fn.logical_id: fn for fn in tpl.functions}
    management = functions["ManagementFunction"]
    assert Route("/api/keys", "ANY", "Keys") in management.routes
    assert management.handler_file == tpl.root / "functions" / "management" / "app.py"
    assert management.handler_name == "lambda_handler"
    assert management.env["TABLE_NAME"] == "revisit"
    assert management.env["CREDENTIAL_CACHE_SECONDS"] == "30"
    assert tpl.gateway_response("MISSING_AUTHENTICATION_TOKEN").status == 404
    assert tpl.gateway_response("DEFAULT_5XX").status == 502


def test_events_and_environment_of_functions(tmp_path: Path):
    path = write_template(
        tmp_path,
        """\
        Dlq: {Type: AWS::SQS::Queue}
        Worker:
          Type: AWS::Serverless::Function
          Properties:
            CodeUri: functions/worker
            Handler: pkg.main.handle
            Timeout: 60
            Environment: {Variables: {OWN: !Sub "${Stage}-own"}}
            Events:
              Stream:
                Type: DynamoDB
                Properties:
                  Stream: !GetAtt Table.StreamArn
                  StartingPosition: TRIM_HORIZON
                  BatchSize: 10
                  MaximumBatchingWindowInSeconds: 1
                  MaximumRetryAttempts: 3
                  BisectBatchOnFunctionError: true
                  FunctionResponseTypes: [ReportBatchItemFailures]
                  DestinationConfig: {OnFailure: {Destination: !GetAtt Dlq.Arn}}
                  FilterCriteria:
                    Filters:
                      - Pattern: '{"eventName": ["INSERT"]}'
              Nightly:
                Type: Schedule
                Properties: {Schedule: "cron(0 3 * * ? *)", Input: '{"job": "nightly"}'}
              Often:
                Type: ScheduleV2
                Properties: {ScheduleExpression: rate(5 minutes), State: DISABLED}
              Page:
                Type: Api
                Properties: {Path: "/w/{id}", Method: get}
        """,
    )
    tpl = load_template(path, table_name="tbl")
    (fn,) = tpl.functions
    assert fn.handler_file == tmp_path / "functions" / "worker" / "pkg" / "main.py"
    assert fn.handler_name == "handle"
    assert (fn.timeout_seconds, fn.memory_mb) == (60, 512)
    assert fn.env == {"TABLE_NAME": "tbl", "LOG_LEVEL": "INFO", "OWN": "dev-own"}
    assert fn.routes == (Route("/w/{id}", "GET", "Page"),)
    (stream,) = fn.streams
    assert stream.table == "Table"
    assert (stream.batch_size, stream.batching_window_seconds, stream.maximum_retry_attempts) == (10, 1, 3)
    assert stream.bisect_on_error and stream.report_batch_item_failures
    assert stream.filters == ({"eventName": ["INSERT"]},)
    assert stream.starting_position == "TRIM_HORIZON"
    assert stream.on_failure and stream.on_failure.endswith("Dlq/Arn")
    nightly, often = fn.schedules
    assert (nightly.expression, nightly.input, nightly.enabled) == ("cron(0 3 * * ? *)", '{"job": "nightly"}', True)
    assert (often.expression, often.enabled) == ("rate(5 minutes)", False)


def test_table_is_created_from_the_template(aws):
    client = boto3.client("dynamodb", region_name=REGION)
    table = create_table_from_template(client, "from-template")
    expected = load_template().table_create_kwargs()
    assert table["KeySchema"] == expected["KeySchema"]
    assert sorted(i["IndexName"] for i in table["GlobalSecondaryIndexes"]) == sorted(
        i["IndexName"] for i in expected["GlobalSecondaryIndexes"]
    )
    assert table["StreamSpecification"]["StreamEnabled"] is True
    ttl = client.describe_time_to_live(TableName="from-template")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAtEpoch"}


# ====================================================================== gateway


def test_router_picks_the_most_specific_route():
    router = Router(
        [
            ("Proxy", Route("/files/{proxy+}", "ANY", "e")),
            ("One", Route("/files/{name}", "ANY", "e")),
            ("Literal", Route("/files/readme", "ANY", "e")),
            ("GetOnly", Route("/items", "GET", "e")),
            ("Root", Route("/", "ANY", "e")),
        ]
    )

    def target(method: str, path: str) -> tuple[str, dict[str, str]] | None:
        m = router.match(method, path)
        return (m.function, m.path_parameters) if m else None

    assert target("GET", "/files/readme") == ("Literal", {})
    assert target("GET", "/files/a.txt") == ("One", {"name": "a.txt"})
    assert target("PUT", "/files/a/b/c") == ("Proxy", {"proxy": "a/b/c"})
    assert target("GET", "/items/") == ("GetOnly", {})
    assert target("POST", "/items") is None  # API Gateway: no such method -> MISSING_AUTHENTICATION_TOKEN
    assert target("GET", "/") == ("Root", {})
    assert target("GET", "/nothing") is None


def test_build_event_is_a_rest_proxy_event():
    request = Request(
        method="POST",
        path="/s/abc",
        query="a=1&a=2&b=",
        headers=(("Host", "127.0.0.1:3000"), ("User-Agent", "ua/1"), ("X-Multi", "1"), ("X-Multi", "2")),
        body=b'{"x": 1}',
        source_ip="10.0.0.9",
        request_id="req-1",
        time_ms=1_700_000_000_000,
    )
    event = build_event(request, Match("Fn", Route("/s/{token}", "ANY", "Page"), {"token": "abc"}), "dev")
    assert event["resource"] == "/s/{token}"
    assert event["path"] == "/s/abc"
    assert event["httpMethod"] == "POST"
    assert event["headers"]["X-Multi"] == "2"
    assert event["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert event["queryStringParameters"] == {"a": "2", "b": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    assert event["pathParameters"] == {"token": "abc"}
    assert event["stageVariables"] is None
    assert event["body"] == '{"x": 1}'
    assert event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["resourcePath"] == "/s/{token}"
    assert (ctx["httpMethod"], ctx["path"], ctx["stage"], ctx["requestId"]) == ("POST", "/s/abc", "dev", "req-1")
    assert ctx["domainName"] == "127.0.0.1:3000"
    assert ctx["identity"]["sourceIp"] == "10.0.0.9"
    assert ctx["identity"]["userAgent"] == "ua/1"
    assert ctx["requestTimeEpoch"] == 1_700_000_000_000


def test_build_event_without_query_or_body_and_with_binary_body():
    match = Match("Fn", Route("/x", "ANY", "X"), {})
    empty = build_event(Request("GET", "/x"), match, "dev")
    assert empty["queryStringParameters"] is None
    assert empty["multiValueQueryStringParameters"] is None
    assert empty["pathParameters"] is None
    assert empty["body"] is None
    binary = build_event(Request("POST", "/x", body=b"\xff\x00"), match, "dev")
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\xff\x00"


def test_proxy_reply_maps_the_handler_result():
    status, headers, body = proxy_reply(
        {
            "statusCode": 201,
            "headers": {"X-One": "a", "Set-Cookie": "ignored"},
            "multiValueHeaders": {"Set-Cookie": ["c=1", "d=2"]},
            "body": base64.b64encode(b"\x00bin").decode(),
            "isBase64Encoded": True,
        }
    )
    assert status == 201
    assert ("X-One", "a") in headers
    assert [v for k, v in headers if k == "Set-Cookie"] == ["c=1", "d=2"]
    assert ("Content-Type", "application/json") in headers
    assert body == b"\x00bin"
    assert proxy_reply({"statusCode": 204})[2] == b""
    with pytest.raises(gw.MalformedProxyResponse):
        proxy_reply({"body": "no status"})


def _fake_template(tmp_path: Path) -> Template:
    path = write_template(
        tmp_path,
        """\
        Api:
          Type: AWS::Serverless::Api
          Properties:
            StageName: dev
            GatewayResponses:
              MISSING_AUTHENTICATION_TOKEN:
                StatusCode: "404"
                ResponseTemplates:
                  application/json: '{"error":"no route for $context.httpMethod $context.path"}'
              DEFAULT_5XX:
                ResponseTemplates:
                  application/json: '{"error":"upstream"}'
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            CodeUri: functions/fn
            Handler: app.lambda_handler
            Events:
              Ok: {Type: Api, Properties: {Path: /ok, Method: ANY}}
              Boom: {Type: Api, Properties: {Path: /boom, Method: ANY}}
              Bad: {Type: Api, Properties: {Path: /bad, Method: ANY}}
        """,
    )
    return load_template(path)


def _fake_invoke(_function: str, event: dict[str, Any]) -> Any:
    if event["path"] == "/boom":
        raise RuntimeError("boom")
    if event["path"] == "/bad":
        return "not a proxy response"
    return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": event["body"] or "ok"}


def test_gateway_answers_with_the_templates_gateway_responses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    gateway = Gateway(_fake_template(tmp_path), _fake_invoke)

    ok = gateway.respond(Request("GET", "/ok"))
    assert (ok.status, ok.body, ok.function) == (200, b"ok", "Fn")

    missing = gateway.respond(Request("DELETE", "/nowhere"))
    assert missing.status == 404
    assert json.loads(missing.body) == {"error": "no route for DELETE /nowhere"}

    for path in ("/boom", "/bad"):
        failed = gateway.respond(Request("GET", path))
        assert (failed.status, json.loads(failed.body)) == (502, {"error": "upstream"})

    health = gateway.respond(Request("GET", "/health"))
    assert health.status == 200 and json.loads(health.body)["status"] == "ok"

    monkeypatch.setattr(gw, "MAX_BODY_BYTES", 4)
    assert gateway.respond(Request("POST", "/ok", body=b"12345")).status == 413


def test_gateway_serves_http(tmp_path: Path):
    server = GatewayServer(("127.0.0.1", 0), Gateway(_fake_template(tmp_path), _fake_invoke))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        req = urllib.request.Request(server.base_url + "/ok", data=b"hello", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/plain"
            assert resp.headers["x-amzn-RequestId"]
            assert resp.read() == b"hello"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(server.base_url + "/nope", timeout=10)
        assert err.value.code == 404
        assert server.drain(1)
    finally:
        server.shutdown()
        server.server_close()


# ====================================================================== functions


COUNTING_HANDLER = """\
    import threading
    import time

    INSTANCE = object()  # module state: one per "container"
    busy = threading.Lock()


    def lambda_handler(event, context):
        assert busy.acquire(blocking=False), "a container ran two requests at once"
        try:
            time.sleep(event.get("sleep", 0))
            ms = context.get_remaining_time_in_millis()
            return {"instance": id(INSTANCE), "name": context.function_name, "ms": ms}
        finally:
            busy.release()
"""


def _pool_template(tmp_path: Path) -> Template:
    write_function(tmp_path, "counter", COUNTING_HANDLER)
    path = write_template(
        tmp_path,
        """\
        Counter:
          Type: AWS::Serverless::Function
          Properties: {CodeUri: functions/counter, Handler: app.lambda_handler, Timeout: 5}
        """,
    )
    return load_template(path)


def test_pool_runs_concurrent_requests_on_separate_instances(tmp_path: Path):
    (fn,) = _pool_template(tmp_path).functions
    pool = FunctionPool(fn, REGION, "stack", size=4)
    started = time.monotonic()
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda _: pool.invoke({"sleep": 0.3}), range(4)))
    assert time.monotonic() - started < 1.0  # really concurrent
    assert len({r["instance"] for r in results}) == 4
    assert results[0]["name"] == "stack-Counter"
    assert 0 < results[0]["ms"] <= 5000
    pool.invoke({})
    assert pool.instances == 4  # warm instances are reused


def test_pool_never_exceeds_its_size(tmp_path: Path):
    (fn,) = _pool_template(tmp_path).functions
    pool = FunctionPool(fn, REGION, "stack", size=2)
    with ThreadPoolExecutor(6) as ex:
        results = list(ex.map(lambda _: pool.invoke({"sleep": 0.05}), range(6)))
    assert len({r["instance"] for r in results}) <= 2
    assert pool.instances == 2


def test_fake_context_has_what_powertools_reads():
    ctx = FakeContext("stack-Fn", 256, "arn:aws:lambda:us-east-1:123456789012:function:stack-Fn", 3)
    assert ctx.function_name == "stack-Fn"
    assert ctx.memory_limit_in_mb == 256
    assert ctx.invoked_function_arn.endswith(":function:stack-Fn")
    assert uuid.UUID(ctx.aws_request_id)
    assert 0 < ctx.get_remaining_time_in_millis() <= 3000
    assert ctx.log_group_name == "/aws/lambda/stack-Fn"


def test_a_route_added_to_the_template_is_served(tmp_path: Path):
    write_function(
        tmp_path,
        "hello",
        """\
        import json

        def lambda_handler(event, context):
            body = {"who": event["pathParameters"]["who"], "resource": event["resource"]}
            return {"statusCode": 200, "body": json.dumps(body)}
        """,
    )
    path = write_template(
        tmp_path,
        """\
        Hello:
          Type: AWS::Serverless::Function
          Properties:
            CodeUri: functions/hello
            Handler: app.lambda_handler
            Events:
              Hi: {Type: Api, Properties: {Path: "/hello/{who}", Method: ANY}}
        """,
    )
    tpl = load_template(path)
    functions = Functions(tpl.functions, REGION, "stack")
    reply = Gateway(tpl, functions.invoke).respond(Request("GET", "/hello/ada"))
    assert reply.status == 200
    assert json.loads(reply.body) == {"who": "ada", "resource": "/hello/{who}"}


# ====================================================================== event filtering

RECORD = {
    "eventName": "INSERT",
    "dynamodb": {
        "Keys": {"pk": {"S": "WS#1"}},
        "NewImage": {"type": {"S": "feedback"}, "score": {"N": "9"}, "tags": {"SS": ["a", "b"]}, "ok": {"BOOL": True}},
    },
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"eventName": ["INSERT"]}, True),
        ({"eventName": ["MODIFY", "REMOVE"]}, False),
        ({"dynamodb": {"NewImage": {"type": {"S": ["feedback", "nps_review"]}}}, "eventName": ["INSERT"]}, True),
        ({"dynamodb": {"NewImage": {"type": {"S": ["other"]}}}}, False),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "WS#"}]}}}}, True),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"suffix": "#1"}]}}}}, True),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"equals-ignore-case": "ws#1"}]}}}}, True),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"wildcard": "WS*1"}]}}}}, True),
        ({"dynamodb": {"NewImage": {"type": [{"exists": True}]}}}, True),
        ({"dynamodb": {"NewImage": {"missing": [{"exists": False}]}}}, True),
        ({"dynamodb": {"OldImage": {"type": [{"exists": False}]}}}, True),  # no OldImage at all
        ({"dynamodb": {"OldImage": {"type": [{"exists": True}]}}}, False),
        ({"eventName": [{"anything-but": ["REMOVE"]}]}, True),
        ({"eventName": [{"anything-but": "INSERT"}]}, False),
        ({"eventName": [{"anything-but": {"prefix": "INS"}}]}, False),
        ({"dynamodb": {"NewImage": {"score": {"N": [{"numeric": [">", 5, "<=", 9]}]}}}}, True),
        ({"dynamodb": {"NewImage": {"score": {"N": [{"numeric": ["<", 5]}]}}}}, False),
        ({"dynamodb": {"NewImage": {"tags": {"SS": ["b"]}}}}, True),  # any element of an array
        ({"dynamodb": {"NewImage": {"ok": {"BOOL": [True]}}}}, True),
        ({"dynamodb": {"NewImage": {"ok": {"BOOL": [1]}}}}, False),
    ],
)
def test_filter_patterns(pattern: dict[str, Any], expected: bool):
    assert matches(pattern, RECORD) is expected


def test_filters_are_or_ed_and_none_keeps_everything():
    assert matches_filters((), RECORD)
    assert matches_filters(({"eventName": ["REMOVE"]}, {"eventName": ["INSERT"]}), RECORD)
    assert not matches_filters(({"eventName": ["REMOVE"]},), RECORD)


# ====================================================================== streams


def test_lambda_record_is_shaped_like_lambdas():
    raw = {
        "eventID": "e1",
        "eventName": "INSERT",
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
            "Keys": {"pk": {"S": "a"}},
            "NewImage": {"pk": {"S": "a"}, "blob": {"B": b"\x00\x01"}},
            "SequenceNumber": "100",
            "SizeBytes": 10,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    record = lambda_record(raw, "arn:stream", REGION)
    assert record["eventVersion"] == "1.1"
    assert record["eventSourceARN"] == "arn:stream"
    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1704164645
    assert record["dynamodb"]["NewImage"]["blob"] == {"B": "AAE="}
    json.dumps(record)


def _record(seq: int, kind: str = "feedback", name: str = "INSERT") -> dict[str, Any]:
    return {
        "eventID": str(seq),
        "eventName": name,
        "dynamodb": {"SequenceNumber": str(seq), "NewImage": {"type": {"S": kind}}, "ApproximateCreationDateTime": 0},
        "eventSourceARN": "arn:stream",
    }


class Recorder:
    """A stand-in function: records batches, answers from a script."""

    def __init__(self, *answers: Any) -> None:
        self.batches: list[list[str]] = []
        self.answers = list(answers)

    def __call__(self, _function: str, event: dict[str, Any]) -> Any:
        self.batches.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_mapping_filters_and_batches():
    fn = Recorder()
    event = StreamEvent(
        "S", "Table", batch_size=2, filters=({"dynamodb": {"NewImage": {"type": {"S": ["feedback"]}}}},)
    )
    mapping = Mapping("Fn", event, fn)
    for seq in range(1, 6):
        mapping.offer(_record(seq, "feedback" if seq != 3 else "other"))
    while mapping.step():
        pass
    assert fn.batches == [["1", "2"], ["4", "5"]]


def test_mapping_waits_for_its_batching_window():
    fn = Recorder()
    mapping = Mapping("Fn", StreamEvent("S", "Table", batch_size=10, batching_window_seconds=1), fn)
    mapping.offer(_record(1), now=100.0)
    assert not mapping.step(now=100.5)
    assert mapping.step(now=101.0)
    assert fn.batches == [["1"]]


def test_batch_item_failures_retry_from_the_first_failed_record():
    fn = Recorder({"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "4"}]}, {"batchItemFailures": []})
    event = StreamEvent("S", "Table", batch_size=10, report_batch_item_failures=True)
    mapping = Mapping("Fn", event, fn, retry_delay=0)
    for seq in range(1, 5):
        mapping.offer(_record(seq))
    assert not mapping.step()
    assert mapping.step()
    assert fn.batches == [["1", "2", "3", "4"], ["3", "4"]]
    assert mapping.pending == []


def test_batch_item_failures_are_ignored_without_report_batch_item_failures():
    fn = Recorder({"batchItemFailures": [{"itemIdentifier": "1"}]})
    mapping = Mapping("Fn", StreamEvent("S", "Table"), fn, retry_delay=0)
    mapping.offer(_record(1))
    assert mapping.step()
    assert mapping.pending == []


def test_errors_retry_then_skip_and_report_to_the_destination():
    sent: list[tuple[str, dict[str, Any]]] = []
    fn = Recorder(RuntimeError("1"), RuntimeError("2"), RuntimeError("3"), None)
    event = StreamEvent("S", "Table", batch_size=10, maximum_retry_attempts=2, on_failure="arn:aws:sqs:dlq")
    mapping = Mapping("Fn", event, fn, retry_delay=0, on_failure=lambda d, r: sent.append((d, r)))
    mapping.offer(_record(1))
    mapping.offer(_record(2))
    for _ in range(3):
        assert not mapping.step()
    assert mapping.pending == []
    assert fn.batches == [["1", "2"]] * 3  # the first try and two retries
    ((destination, info),) = sent
    assert destination == "arn:aws:sqs:dlq"
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    batch = info["DDBStreamBatchInfo"]
    assert (batch["startSequenceNumber"], batch["endSequenceNumber"], batch["batchSize"]) == ("1", "2", 2)
    mapping.offer(_record(3))
    assert mapping.step()  # the stream moves on


def test_bisect_halves_a_failing_batch():
    fn = Recorder(RuntimeError("x"))
    mapping = Mapping("Fn", StreamEvent("S", "Table", batch_size=4, bisect_on_error=True), fn, retry_delay=0)
    for seq in range(1, 5):
        mapping.offer(_record(seq))
    while mapping.step() or len(fn.batches) < 2:
        pass
    assert fn.batches[:3] == [["1", "2", "3", "4"], ["1", "2"], ["3", "4"]]


def test_poller_delivers_table_changes_from_latest(aws):
    ddb = boto3.client("dynamodb", region_name=REGION)
    table = create_table_from_template(ddb, "stream-test")
    ddb.put_item(TableName="stream-test", Item={"pk": {"S": "old"}, "sk": {"S": "x"}, "type": {"S": "feedback"}})
    fn = Recorder()
    event = StreamEvent(
        "S", "Table", filters=({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["feedback"]}}}},)
    )
    writes = [0]
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    poller = StreamPoller(streams, table["LatestStreamArn"], [Mapping("Fn", event, fn)], writes=lambda: writes[0])
    poller.open()
    for pk, kind in (("a", "feedback"), ("b", "other"), ("c", "feedback")):
        ddb.put_item(TableName="stream-test", Item={"pk": {"S": pk}, "sk": {"S": "x"}, "type": {"S": kind}})
    ddb.delete_item(TableName="stream-test", Key={"pk": {"S": "a"}, "sk": {"S": "x"}})

    assert poller.poll_once() == 4
    assert len(fn.batches) == 1
    assert poller.poll_once() == 0  # nothing new
    writes[0] += 1
    ddb.put_item(TableName="stream-test", Item={"pk": {"S": "d"}, "sk": {"S": "x"}, "type": {"S": "feedback"}})
    assert poller.poll_once() == 1
    assert len(fn.batches) == 2


def test_poller_skips_get_records_while_nothing_was_written(aws):
    ddb = boto3.client("dynamodb", region_name=REGION)
    table = create_table_from_template(ddb, "quiet-test")
    calls = []

    class Streams:
        def __init__(self) -> None:
            self.real = boto3.client("dynamodbstreams", region_name=REGION)

        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(self.real, name)

    poller = StreamPoller(Streams(), table["LatestStreamArn"], [], writes=lambda: 7)
    poller.open()
    poller.poll_once()
    poller.poll_once()
    poller.poll_once()
    assert calls.count("get_records") == 1


# ====================================================================== schedules


def test_rates():
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("rate(1 day)") == 86400
    assert rate_seconds("cron(0 3 * * ? *)") is None


def test_cron_next_firing():
    at = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)  # a Monday
    assert Cron.parse("cron(0 3 * * ? *)").next_after(at) == datetime(2024, 1, 2, 3, 0, tzinfo=UTC)
    assert Cron.parse("cron(0/15 * * * ? *)").next_after(at) == datetime(2024, 1, 1, 12, 15, tzinfo=UTC)
    assert Cron.parse("cron(30 9 ? * SAT,SUN *)").next_after(at) == datetime(2024, 1, 6, 9, 30, tzinfo=UTC)
    assert Cron.parse("cron(0 8 1 JAN-MAR ? *)").next_after(at) == datetime(2024, 2, 1, 8, 0, tzinfo=UTC)
    paris = Cron.parse("cron(0 9 * * ? *)", "Europe/Paris")
    assert paris.next_after(at) == datetime(2024, 1, 2, 8, 0, tzinfo=UTC)


def test_unsupported_cron_fires_every_minute_and_override_wins():
    at = datetime(2024, 1, 1, tzinfo=UTC)
    every_minute = Timer("Fn", ScheduleEvent("E", "cron(0 0 L * ? *)"))
    assert (every_minute.next_after(at) - at).total_seconds() == 60
    fast = Timer("Fn", ScheduleEvent("E", "rate(1 day)"), override_seconds=2)
    assert (fast.next_after(at) - at).total_seconds() == 2


def test_scheduled_event_shape_and_input():
    at = datetime(2024, 1, 1, 3, 0, tzinfo=UTC)
    event = scheduled_event("Fn", ScheduleEvent("Nightly", "rate(1 day)"), at, REGION, "stack")
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2024-01-01T03:00:00Z"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/stack-FnNightly"]
    assert event["detail"] == {}
    assert scheduled_event("Fn", ScheduleEvent("N", "rate(1 day)", input='{"a": 1}'), at, REGION, "s") == {"a": 1}


def test_scheduler_fires_due_timers():
    now = [datetime(2024, 1, 1, tzinfo=UTC)]
    invoked: list[tuple[str, dict[str, Any]]] = []
    timer = Timer("Fn", ScheduleEvent("Tick", "rate(5 minutes)"))
    scheduler = Scheduler([timer], lambda fn, ev: invoked.append((fn, ev)), clock=lambda: now[0])
    scheduler.start()
    scheduler.stop()
    assert scheduler.fire_due(background=False) == []
    now[0] = datetime(2024, 1, 1, 0, 5, tzinfo=UTC)
    (event,) = scheduler.fire_due(background=False)
    assert invoked == [("Fn", event)]
    assert event["time"] == "2024-01-01T00:05:00Z"
    assert scheduler.fire_due(background=False) == []


# ====================================================================== stack


def test_snapshot_round_trip(aws, tmp_path: Path):
    ddb = boto3.client("dynamodb", region_name=REGION)
    create_table_from_template(ddb, "snap")
    items = [
        {
            "pk": {"S": f"P{i}"},
            "sk": {"S": "S"},
            "n": {"N": str(i)},
            "b": {"B": bytes([i, 255])},
            "m": {"M": {"l": {"L": [{"S": "x"}, {"BS": [b"\x01"]}]}}},
            "ss": {"SS": ["a", "b"]},
        }
        for i in range(30)
    ]
    for item in items:
        ddb.put_item(TableName="snap", Item=item)
    path = tmp_path / "snap.json"
    assert save_snapshot(ddb, "snap", path) == 30
    ddb.delete_table(TableName="snap")
    create_table_from_template(ddb, "snap")
    assert restore_snapshot(ddb, "snap", path) == 30
    restored = ddb.scan(TableName="snap")["Items"]
    key = lambda i: i["pk"]["S"]  # noqa: E731
    assert sorted(restored, key=key) == sorted(items, key=key)
    assert restore_snapshot(ddb, "snap", tmp_path / "missing.json") == 0


def test_moto_server_makes_conditional_writes_atomic(aws):
    moto = MotoServer(0).start()
    try:
        ddb = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto.url)
        name = "race-" + uuid.uuid4().hex[:8]
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        before = moto.writes

        def put(i: int) -> bool:
            try:
                ddb.put_item(
                    TableName=name,
                    Item={"pk": {"S": "one"}, "by": {"N": str(i)}},
                    ConditionExpression="attribute_not_exists(pk)",
                )
                return True
            except ddb.exceptions.ConditionalCheckFailedException:
                return False

        with ThreadPoolExecutor(10) as ex:
            assert sum(ex.map(put, range(30))) == 1
        assert moto.writes == before + 30
    finally:
        moto.stop()


def test_configure_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    tpl = _fake_template(tmp_path)
    for key in ("TABLE_NAME", "LOG_LEVEL", "PUBLIC_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")  # exported: wins over the template
    applied = configure_environment(tpl, "http://127.0.0.1:3999", "local-table")
    assert applied == {"TABLE_NAME": "local-table", "LOG_LEVEL": "DEBUG", "PUBLIC_BASE_URL": "http://127.0.0.1:3999"}
    assert os.environ["TABLE_NAME"] == "local-table"


def test_resources_are_created_and_referenced(aws, tmp_path: Path):
    path = write_template(
        tmp_path,
        """\
        Dlq: {Type: AWS::SQS::Queue}
        Topic: {Type: AWS::SNS::Topic}
        Key:
          Type: AWS::SecretsManager::Secret
          Properties: {GenerateSecretString: {PasswordLength: 20, ExcludePunctuation: true}}
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            CodeUri: functions/fn
            Handler: app.lambda_handler
            Environment:
              Variables: {KEY_ARN: !Ref Key, DLQ_URL: !Ref Dlq, DLQ_ARN: !GetAtt Dlq.Arn, TOPIC: !Ref Topic}
        """,
    )
    tpl = load_template(path)
    create_resources(tpl, tmp_path / "data")
    env = tpl.functions[0].env
    secret = boto3.client("secretsmanager", region_name=REGION).get_secret_value(SecretId=env["KEY_ARN"])
    assert len(secret["SecretString"]) == 20 and secret["SecretString"].isalnum()
    assert env["DLQ_ARN"].startswith("arn:aws:sqs:")
    boto3.client("sqs", region_name=REGION).send_message(QueueUrl=env["DLQ_URL"], MessageBody="x")
    assert env["TOPIC"].startswith("arn:aws:sns:")

    again = load_template(path)
    boto3.client("secretsmanager", region_name=REGION).delete_secret(
        SecretId=env["KEY_ARN"], ForceDeleteWithoutRecovery=True
    )
    create_resources(again, tmp_path / "data")
    same = boto3.client("secretsmanager", region_name=REGION).get_secret_value(
        SecretId=again.functions[0].env["KEY_ARN"]
    )
    assert same["SecretString"] == secret["SecretString"]  # kept across restarts
