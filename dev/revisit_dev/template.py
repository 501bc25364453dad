"""Read template.yaml: the one source of the table, routes, streams, schedules and environment.

``load_template(path)`` returns a :class:`Template` whose parts are plain dataclasses, with the
CloudFormation intrinsics the local stack needs resolved (``!Ref``, ``!Sub``, ``!GetAtt``, ``!If``,
``!Equals``, ``!Join``, ...). Nothing here talks to AWS or imports the ``revisit`` package.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
DEFAULT_STACK_NAME = "revisit-local"


# ------------------------------------------------------------------ YAML with CloudFormation tags


class _CfnLoader(yaml.SafeLoader):
    """A SafeLoader that reads ``!Tag value`` as the JSON form CloudFormation uses."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def parse_yaml(text: str) -> dict[str, Any]:
    return yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


# ------------------------------------------------------------------ the parts of a template


@dataclass(frozen=True)
class Route:
    path: str  # as in the template: /api/keys/{keyId}, /files/{proxy+}
    method: str  # GET, POST, ... or ANY
    event: str  # the event's name in the template


@dataclass(frozen=True)
class StreamEvent:
    """A ``DynamoDB`` event: an event source mapping on a table's stream."""

    event: str
    table: str | None  # logical id of the table whose stream it reads
    batch_size: int = 100
    batching_window_seconds: float = 0
    filters: tuple[dict[str, Any], ...] = ()  # parsed FilterCriteria patterns (OR-ed)
    maximum_retry_attempts: int = -1  # -1 = until the record expires, as in AWS
    maximum_record_age_seconds: int = -1  # -1 = until the stream trims it (24 h)
    bisect_on_error: bool = False
    report_batch_item_failures: bool = False
    starting_position: str = "LATEST"
    enabled: bool = True
    on_failure: str | None = None  # DestinationConfig.OnFailure.Destination (an SQS or SNS ARN)


@dataclass(frozen=True)
class ScheduleEvent:
    """A ``Schedule`` event (an EventBridge rule)."""

    event: str
    expression: str  # rate(5 minutes)
    input: str | None = None  # JSON text sent instead of the scheduled-event envelope
    enabled: bool = True


@dataclass(frozen=True)
class QueueEvent:
    """An ``SQS`` event: an event source mapping polling one of the template's queues."""

    event: str
    queue: str | None  # logical id of the AWS::SQS::Queue it reads
    batch_size: int = 10
    batching_window_seconds: float = 0
    report_batch_item_failures: bool = False
    maximum_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency
    enabled: bool = True


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    handler_file: Path  # Handler app.lambda_handler -> <code_dir>/app.py
    handler_name: str  # lambda_handler
    memory_mb: int = 128
    timeout_seconds: float = 3
    env: dict[str, str] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    streams: tuple[StreamEvent, ...] = ()
    schedules: tuple[ScheduleEvent, ...] = ()
    queues: tuple[QueueEvent, ...] = ()


@dataclass(frozen=True)
class GatewayResponse:
    """An API Gateway response the gateway produces itself (no route, integration failure, ...)."""

    status: int
    body: str
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def render(self, method: str, path: str, request_id: str, message: str) -> str:
        """Fill in the ``$context`` variables API Gateway offers in a response template."""
        values = {
            "$context.httpMethod": method,
            "$context.path": path,
            "$context.requestId": request_id,
            "$context.error.messageString": json.dumps(message),
            "$context.error.message": message,
        }
        pattern = re.compile("|".join(re.escape(k) for k in sorted(values, key=len, reverse=True)))
        return pattern.sub(lambda m: values[m.group(0)], self.body)


# API Gateway's own defaults, used where the template does not override a response type.
_BUILTIN_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": (403, '{"message":"Missing Authentication Token"}'),
    "ACCESS_DENIED": (403, '{"message":$context.error.messageString}'),
    "UNAUTHORIZED": (401, '{"message":$context.error.messageString}'),
    "REQUEST_TOO_LARGE": (413, '{"message":"Request Too Long"}'),
    "THROTTLED": (429, '{"message":"Too Many Requests"}'),
    "INTEGRATION_TIMEOUT": (504, '{"message": "Endpoint request timed out"}'),
    "DEFAULT_4XX": (400, '{"message":$context.error.messageString}'),
    "DEFAULT_5XX": (502, '{"message": "Internal server error"}'),
}


class TemplateError(ValueError):
    pass


# What the local stack runs for each resource type the template may declare.
EMULATED = {
    "AWS::DynamoDB::Table": "DynamoDB Local",
    "AWS::Serverless::Function": "one process per container",
    "AWS::Serverless::Api": "the local gateway",
    "AWS::Serverless::LayerVersion": "the installed revisit package",
    "AWS::SQS::Queue": "moto",
    "AWS::SecretsManager::Secret": "moto",
}
# Types that only configure AWS (monitoring, permissions, protection): listed at start, not run.
CONFIGURATION_ONLY = {
    "AWS::CloudWatch::Alarm",
    "AWS::Logs::LogGroup",
    "AWS::IAM::Role",
    "AWS::ApiGateway::Account",
    "AWS::ApiGateway::UsagePlan",
    "AWS::ApiGateway::UsagePlanKey",
    "AWS::ApiGateway::ApiKey",
    "AWS::WAFv2::WebACL",
    "AWS::WAFv2::WebACLAssociation",
}


# ------------------------------------------------------------------ the template


class Template:
    """A parsed template: its table, functions (with their events) and API Gateway responses."""

    def __init__(
        self,
        doc: dict[str, Any],
        root: Path,
        table_name: str = "revisit",
        region: str = DEFAULT_REGION,
        stack_name: str = DEFAULT_STACK_NAME,
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.doc = doc
        self.root = root
        self.table_name = table_name
        self.region = region
        self.stack_name = stack_name
        self.resources: dict[str, dict[str, Any]] = doc.get("Resources") or {}
        self.parameters = {
            name: str(spec.get("Default", "")) for name, spec in (doc.get("Parameters") or {}).items()
        } | (parameters or {})
        self._conditions: dict[str, bool] = {}
        # What !Ref / !GetAtt give for resources that exist locally (queue URLs, secret ARNs, ...).
        self.physical: dict[str, dict[str, str]] = {}

    # ---- intrinsics

    def resolve(self, value: Any) -> Any:
        """Resolve intrinsic functions in ``value`` (recursively) to plain values."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._fn(key[4:], arg)
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]  # type: ignore[return-value]
        if name in self.parameters:
            return self.parameters[name]
        if name not in self.resources:
            raise TemplateError(f"!Ref {name}: no such parameter or resource")
        if "Ref" in self.physical.get(name, {}):
            return self.physical[name]["Ref"]
        if self.resources[name].get("Type") == "AWS::DynamoDB::Table":
            return self.table_name
        return f"{self.stack_name}-{name}"

    def _get_att(self, name: str, attribute: str) -> str:
        if attribute in self.physical.get(name, {}):
            return self.physical[name][attribute]
        if self.resources.get(name, {}).get("Type") == "AWS::DynamoDB::Table":
            arn = f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{self.table_name}"
            return {"Arn": arn, "StreamArn": f"{arn}/stream/local"}.get(attribute, f"{name}.{attribute}")
        return f"arn:aws:local:{self.region}:{ACCOUNT_ID}:{self.stack_name}-{name}/{attribute}"

    def _fn(self, name: str, arg: Any) -> Any:
        if name == "GetAtt":
            return self._get_att(*self.resolve(arg))
        if name == "Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self._sub_var(m.group(1), extra)), text)
        if name == "Join":
            sep, items = self.resolve(arg)
            return sep.join(str(i) for i in items)
        if name == "Select":
            index, items = self.resolve(arg)
            return items[int(index)]
        if name == "Split":
            sep, text = self.resolve(arg)
            return text.split(sep)
        if name == "If":
            cond, yes, no = arg
            return self.resolve(yes if self.condition(cond) else no)
        if name == "Equals":
            left, right = self.resolve(arg)
            return str(left) == str(right)
        if name == "Not":
            return not self._truth(arg[0])
        if name == "And":
            return all(self._truth(a) for a in arg)
        if name == "Or":
            return any(self._truth(a) for a in arg)
        if name == "FindInMap":
            mapping, key, sub = self.resolve(arg)
            return self.doc["Mappings"][mapping][key][sub]
        raise TemplateError(f"Fn::{name} is not supported by the local stack")

    def _sub_var(self, name: str, extra: dict[str, Any]) -> Any:
        if name in extra:
            return extra[name]
        if "." in name:
            return self._get_att(*name.split(".", 1))
        return self._ref(name)

    def _truth(self, value: Any) -> bool:
        resolved = self.resolve(value)
        return resolved if isinstance(resolved, bool) else str(resolved).lower() == "true"

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = self._truth(self.doc["Conditions"][name])
        return self._conditions[name]

    # ---- resources

    def not_emulated(self) -> list[str]:
        """The configuration-only resources (``LogicalId (Type)``); raises TemplateError, naming
        it, for a resource type the local stack neither emulates nor may leave out."""
        skipped = []
        for lid, res in self.resources.items():
            kind = str(res.get("Type"))
            if "Condition" in res and not self.condition(res["Condition"]):
                continue
            if kind in CONFIGURATION_ONLY:
                skipped.append(f"{lid} ({kind})")
            elif kind not in EMULATED:
                raise TemplateError(f"{lid}: resources of type {kind} are not emulated by the local stack")
        return skipped

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {
            lid: res
            for lid, res in self.resources.items()
            if res.get("Type") == type_ and ("Condition" not in res or self.condition(res["Condition"]))
        }

    @property
    def table_logical_id(self) -> str:
        tables = self.of_type("AWS::DynamoDB::Table")
        if len(tables) != 1:
            raise TemplateError(f"expected one AWS::DynamoDB::Table, found {len(tables)}")
        return next(iter(tables))

    def _table_properties(self) -> dict[str, Any]:
        return self.resolve(self.resources[self.table_logical_id].get("Properties") or {})

    def table_create_kwargs(self, name: str | None = None) -> dict[str, Any]:
        """CreateTable arguments for the template's table (TTL is separate: ``ttl_attribute``)."""
        props = self._table_properties()
        kwargs: dict[str, Any] = {
            "TableName": name or self.table_name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
            if props.get(key):
                kwargs[key] = props[key]
        stream = props.get("StreamSpecification")
        if stream:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        return kwargs

    @property
    def ttl_attribute(self) -> str | None:
        ttl = self._table_properties().get("TimeToLiveSpecification") or {}
        return ttl.get("AttributeName") if _bool(ttl.get("Enabled", True)) else None

    def _declared_responses(self) -> dict[str, Any]:
        declared: dict[str, Any] = {}
        for api in self.of_type("AWS::Serverless::Api").values():
            declared |= self.resolve((api.get("Properties") or {}).get("GatewayResponses") or {})
        return declared

    def gateway_response(self, type_: str) -> GatewayResponse:
        """What API Gateway answers for a response type of its own, the template's overrides applied.

        As in API Gateway, a type the template leaves out keeps its status but takes the body of
        the template's DEFAULT_4XX / DEFAULT_5XX.
        """
        declared = self._declared_responses()
        status, body = _BUILTIN_RESPONSES.get(type_, _BUILTIN_RESPONSES["DEFAULT_4XX"])
        family = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        spec = declared.get(type_) or declared.get(family) or {}
        content_type, body = next(iter((spec.get("ResponseTemplates") or {}).items()), ("application/json", body))
        headers = (spec.get("ResponseParameters") or {}).get("Headers") or {}
        return GatewayResponse(
            status=int((declared.get(type_) or {}).get("StatusCode", status)),
            body=body,
            content_type=content_type,
            headers={k: str(v).strip("'") for k, v in headers.items()},
        )

    @property
    def gateway_responses(self) -> dict[str, GatewayResponse]:
        return {t: self.gateway_response(t) for t in sorted(set(_BUILTIN_RESPONSES) | set(self._declared_responses()))}

    @property
    def global_env(self) -> dict[str, str]:
        variables = (((self.doc.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables")
        return _env_strings(self.resolve(variables or {}))

    @property
    def functions(self) -> list[Function]:
        globals_ = (self.doc.get("Globals") or {}).get("Function") or {}
        return [
            self._function(lid, globals_, res.get("Properties") or {})
            for lid, res in self.of_type("AWS::Serverless::Function").items()
        ]

    def _function(self, logical_id: str, globals_: dict[str, Any], props: dict[str, Any]) -> Function:
        code_dir = self.root / str(self.resolve(props.get("CodeUri", globals_.get("CodeUri", "."))))
        handler = str(self.resolve(props.get("Handler", globals_.get("Handler", "app.lambda_handler"))))
        module, _, handler_name = handler.rpartition(".")
        own_env = ((props.get("Environment") or {}).get("Variables")) or {}
        routes, streams, schedules, queues = [], [], [], []
        for name, event in (props.get("Events") or {}).items():
            kind, ep = event.get("Type"), self.resolve(event.get("Properties") or {})
            if kind == "Api":
                routes.append(Route(ep["Path"], str(ep.get("Method", "ANY")).upper(), name))
            elif kind == "DynamoDB":
                streams.append(self._stream_event(name, event.get("Properties") or {}, ep))
            elif kind == "Schedule":
                schedules.append(_schedule_event(name, ep))
            elif kind == "SQS":
                queues.append(_queue_event(name, event.get("Properties") or {}, ep))
            else:
                raise TemplateError(f"{logical_id}.Events.{name}: events of type {kind} are not emulated")
        return Function(
            logical_id=logical_id,
            code_dir=code_dir,
            handler_file=code_dir / (module.replace(".", "/") + ".py"),
            handler_name=handler_name,
            memory_mb=int(self.resolve(props.get("MemorySize", globals_.get("MemorySize", 128)))),
            timeout_seconds=float(self.resolve(props.get("Timeout", globals_.get("Timeout", 3)))),
            env=self.global_env | _env_strings(self.resolve(own_env)),
            routes=tuple(routes),
            streams=tuple(streams),
            schedules=tuple(schedules),
            queues=tuple(queues),
        )

    def _stream_event(self, name: str, raw: dict[str, Any], props: dict[str, Any]) -> StreamEvent:
        source = raw.get("Stream")
        table = None
        if isinstance(source, dict) and "Fn::GetAtt" in source:
            att = source["Fn::GetAtt"]
            table = (att.split(".", 1) if isinstance(att, str) else att)[0]
        elif isinstance(source, dict) and "Fn::Sub" in source:
            match = re.search(r"\$\{(\w+)\.StreamArn\}", str(source["Fn::Sub"]))
            table = match.group(1) if match else None
        filters = tuple(json.loads(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", []))
        return StreamEvent(
            event=name,
            table=table,
            batch_size=int(props.get("BatchSize", 100)),
            batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            filters=filters,
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
            maximum_record_age_seconds=int(props.get("MaximumRecordAgeInSeconds", -1)),
            bisect_on_error=_bool(props.get("BisectBatchOnFunctionError", False)),
            report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            starting_position=str(props.get("StartingPosition", "LATEST")),
            enabled=_bool(props.get("Enabled", True)),
            on_failure=((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"),
        )


def _queue_event(name: str, raw: dict[str, Any], props: dict[str, Any]) -> QueueEvent:
    """An ``SQS`` event; its Queue must be a queue of the template (``!GetAtt Queue.Arn``)."""
    source = raw.get("Queue")
    queue = None
    if isinstance(source, dict) and "Fn::GetAtt" in source:
        att = source["Fn::GetAtt"]
        queue = (att.split(".", 1) if isinstance(att, str) else att)[0]
    elif isinstance(source, dict) and "Fn::Sub" in source:
        match = re.search(r"\$\{(\w+)\.Arn\}", str(source["Fn::Sub"]))
        queue = match.group(1) if match else None
    if queue is None:
        raise TemplateError(f"Events.{name}: the local stack emulates SQS events of the template's own queues only")
    scaling = props.get("ScalingConfig") or {}
    return QueueEvent(
        event=name,
        queue=queue,
        batch_size=int(props.get("BatchSize", 10)),
        batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
        report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        maximum_concurrency=int(scaling["MaximumConcurrency"]) if scaling.get("MaximumConcurrency") else None,
        enabled=_bool(props.get("Enabled", True)),
    )


def _schedule_event(name: str, props: dict[str, Any]) -> ScheduleEvent:
    expression = str(props.get("Schedule"))
    if not expression.startswith("rate("):
        raise TemplateError(f"Events.{name}: the schedule {expression} is not emulated (rate(...) only)")
    state = str(props.get("State", "ENABLED")).upper()
    return ScheduleEvent(
        event=name,
        expression=expression,
        input=props.get("Input"),
        enabled=_bool(props.get("Enabled", True)) and state == "ENABLED",
    )


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _env_strings(variables: dict[str, Any]) -> dict[str, str]:
    def text(v: Any) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else "" if v is None else str(v)

    return {k: text(v) for k, v in variables.items()}


def load_template(
    path: Path | str = TEMPLATE_PATH,
    table_name: str = "revisit",
    region: str = DEFAULT_REGION,
    parameters: dict[str, str] | None = None,
) -> Template:
    path = Path(path)
    return Template(parse_yaml(path.read_text()), path.parent, table_name, region, parameters=parameters)


def create_table_from_template(
    client: Any, name: str = "revisit", template: Template | Path | str | None = None
) -> dict[str, Any]:
    """Create the template's table (with its TTL) through a boto3 DynamoDB client; returns its description."""
    tpl = template if isinstance(template, Template) else load_template(template or TEMPLATE_PATH, table_name=name)
    client.create_table(**tpl.table_create_kwargs(name))
    if tpl.ttl_attribute:
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": tpl.ttl_attribute}
        )
    return client.describe_table(TableName=name)["Table"]
