"""The local stack: the whole system on one machine, read from template.yaml (``make dev``).

No Docker, no AWS account: moto's server stands in for DynamoDB (+ Streams), SES, SNS,
EventBridge and SQS; the functions' real handlers run in this process behind a local API Gateway,
a DynamoDB Streams poller and a scheduler. The table's items are saved to ``$REVISIT_DATA_DIR``
(default ``.local/``) and restored at the next start. See docs/local-stack.md.

Environment: REVISIT_PORT (3000), REVISIT_MOTO_PORT (a free port), REVISIT_DATA_DIR (.local),
TABLE_NAME (revisit), REVISIT_MAX_CONTAINERS (8), REVISIT_SCHEDULE_SECONDS (off) and
REVISIT_TEMPLATE (template.yaml). A variable of the template's Globals (e.g.
CREDENTIAL_CACHE_SECONDS) that you export wins over the template's value.
"""

from __future__ import annotations

import base64
import importlib.util
import itertools
import json
import logging
import os
import secrets
import signal
import string
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from revisit_dev.gateway import Gateway, GatewayServer
from revisit_dev.schedules import Scheduler, Timer
from revisit_dev.streams import Mapping, StreamPoller
from revisit_dev.template import (
    ACCOUNT_ID,
    DEFAULT_REGION,
    REPO_ROOT,
    TEMPLATE_PATH,
    Function,
    Template,
    TemplateError,
    create_table_from_template,
    load_template,
)

log = logging.getLogger("revisit_dev.stack")

HOST = "127.0.0.1"
SNAPSHOT_SECONDS = 2.0
DEFAULT_DATA_DIR = REPO_ROOT / ".local"
_DYNAMODB_WRITES = {
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
}


def data_dir() -> Path:
    return Path(os.environ.get("REVISIT_DATA_DIR") or DEFAULT_DATA_DIR)


def template_path() -> Path:
    return Path(os.environ.get("REVISIT_TEMPLATE") or TEMPLATE_PATH)


# ------------------------------------------------------------------ moto


class MotoServer:
    """moto's server on loopback, answering one request at a time.

    moto's backends are not thread-safe: two concurrent conditional writes (or transactions) on
    one item could both succeed. A lock around the WSGI app makes every request atomic, as
    DynamoDB's conditions are. The server also counts DynamoDB writes, so the snapshotter and the
    stream poller only work when the table may have changed.
    """

    def __init__(self, port: int = 0) -> None:
        from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        self._app = DomainDispatcherApplication(create_backend_app)
        self._lock = threading.Lock()
        self.writes = 0
        self._server = make_server(HOST, port, self._serialized, threaded=True, request_handler=MotoRequestHandler)
        self.url = f"http://{HOST}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), name="moto", daemon=True)

    def _serialized(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            service, _, action = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")
            if service.startswith("DynamoDB_") and action in _DYNAMODB_WRITES:
                self.writes += 1
            return list(self._app(environ, start_response))

    def start(self) -> MotoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)


# ------------------------------------------------------------------ environment


_FORCED_AWAY = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def use_local_aws(endpoint_url: str, region: str = DEFAULT_REGION) -> None:
    """Send every AWS SDK call of this process to moto, whatever the developer's AWS settings."""
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_") or k in _FORCED_AWAY]:
        del os.environ[key]
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )


def configure_environment(template: Template, base_url: str, table_name: str) -> dict[str, str]:
    """Give this process the functions' environment from the template (Globals and each function's).

    Must run before ``revisit`` (or any handler) is imported: its boto3 client is made at import.
    A variable already exported wins. Returns the environment that was applied.
    """
    env: dict[str, str] = {}
    for fn in template.functions:
        for key, value in fn.env.items():
            if env.get(key, value) != value:
                log.warning(
                    "%s: %s=%r differs from another function's %r; one process holds one",
                    fn.logical_id,
                    key,
                    value,
                    env[key],
                )
            env.setdefault(key, value)
    env["PUBLIC_BASE_URL"] = env.get("PUBLIC_BASE_URL") or base_url
    applied = {key: os.environ.get(key, value) for key, value in env.items()}
    applied["TABLE_NAME"] = table_name
    os.environ.update(applied)
    return applied


def create_resources(
    template: Template, directory: Path, endpoint_url: str | None = None, region: str = DEFAULT_REGION
) -> None:
    """Create the template's queues, topics and secrets in moto; record what !Ref / !GetAtt give.

    A generated secret is kept in ``<directory>/secrets.json`` so it survives a restart (hashes
    made with it stay comparable).
    """
    import boto3

    def client(service: str) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=endpoint_url)

    for lid, res in template.of_type("AWS::SQS::Queue").items():
        props = template.resolve(res.get("Properties") or {})
        name = props.get("QueueName") or f"{template.stack_name}-{lid}" + (".fifo" if props.get("FifoQueue") else "")
        attributes = {"FifoQueue": "true"} if props.get("FifoQueue") else {}
        url = client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        template.physical[lid] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}
    for lid, res in template.of_type("AWS::SNS::Topic").items():
        props = template.resolve(res.get("Properties") or {})
        name = props.get("TopicName") or f"{template.stack_name}-{lid}"
        arn = client("sns").create_topic(Name=name)["TopicArn"]
        template.physical[lid] = {"Ref": arn, "TopicArn": arn, "TopicName": name}
    secrets_file = directory / "secrets.json"
    saved = json.loads(secrets_file.read_text()) if secrets_file.is_file() else {}
    for lid, res in template.of_type("AWS::SecretsManager::Secret").items():
        props = template.resolve(res.get("Properties") or {})
        value = props.get("SecretString") or saved.get(lid) or _generate_secret(props.get("GenerateSecretString") or {})
        saved[lid] = value
        name = props.get("Name") or f"{template.stack_name}-{lid}"
        arn = client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]
        template.physical[lid] = {"Ref": arn, "Id": arn}
    if saved:
        directory.mkdir(parents=True, exist_ok=True)
        secrets_file.write_text(json.dumps(saved, indent=2))


def _generate_secret(spec: dict[str, Any]) -> str:
    """Like GenerateSecretString: letters and digits (punctuation left out), maybe inside a JSON template."""
    alphabet = string.ascii_letters + string.digits + ("" if spec.get("ExcludePunctuation") else "!#$%&*+-.:;=?@^_~")
    alphabet = "".join(c for c in alphabet if c not in str(spec.get("ExcludeCharacters", "")))
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    if spec.get("SecretStringTemplate") and spec.get("GenerateStringKey"):
        return json.dumps(json.loads(spec["SecretStringTemplate"]) | {spec["GenerateStringKey"]: value})
    return value


# ------------------------------------------------------------------ functions ("containers")


@dataclass
class FakeContext:
    """The parts of Lambda's context object handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    client_context: Any = None
    identity: Any = None
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


_module_numbers = itertools.count(1)


class FunctionPool:
    """Up to ``size`` warm "containers" of one function, each a separately loaded handler module.

    Lambda runs one request per container at a time and a handler's module globals (the
    Powertools resolver, its current event) belong to its container; so does this pool. Each
    invocation takes an idle instance, loading a new one if none is idle and fewer than ``size``
    exist, else waiting for one.
    """

    def __init__(self, fn: Function, region: str, stack_name: str, size: int = 8) -> None:
        self.fn = fn
        self.size = size
        self.name = f"{stack_name}-{fn.logical_id}"
        self.arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{self.name}"
        self._idle: list[Callable[[Any, Any], Any]] = []
        self._count = 0
        self._cond = threading.Condition()

    def load(self) -> Callable[[Any, Any], Any]:
        """Import the handler file as a new, uniquely named module and return its handler."""
        if not self.fn.handler_file.is_file():
            raise FileNotFoundError(f"{self.fn.logical_id}: {self.fn.handler_file} does not exist")
        name = f"_revisit_fn_{self.fn.logical_id}_{next(_module_numbers)}"
        spec = importlib.util.spec_from_file_location(name, self.fn.handler_file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # pydantic and dataclasses look their module up here
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return getattr(module, self.fn.handler_name)

    def _acquire(self) -> Callable[[Any, Any], Any]:
        with self._cond:
            self._cond.wait_for(lambda: self._idle or self._count < self.size)
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return self.load()
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, handler: Callable[[Any, Any], Any]) -> None:
        with self._cond:
            self._idle.append(handler)
            self._cond.notify()

    def warm(self) -> None:
        self._release(self._acquire())

    def invoke(self, event: dict[str, Any]) -> Any:
        handler = self._acquire()
        try:
            context = FakeContext(self.name, self.fn.memory_mb, self.arn, self.fn.timeout_seconds)
            return handler(event, context)
        finally:
            self._release(handler)

    @property
    def instances(self) -> int:
        return self._count


class Functions:
    """Every function of the template, invoked by logical id."""

    def __init__(self, functions: list[Function], region: str, stack_name: str, size: int = 8) -> None:
        self.pools = {fn.logical_id: FunctionPool(fn, region, stack_name, size) for fn in functions}

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        return self.pools[logical_id].invoke(event)

    def warm(self) -> None:
        """Load one instance of each function now, so import errors show at start."""
        for logical_id, pool in self.pools.items():
            try:
                pool.warm()
            except FileNotFoundError as exc:
                log.warning("%s; invoking it fails (502 on its routes) until it exists and the stack restarts", exc)
            except Exception:
                log.exception("%s failed to load; invoking it fails (502 on its routes)", logical_id)


# ------------------------------------------------------------------ snapshots


def _encode(value: dict[str, Any]) -> dict[str, Any]:
    """A boto3 attribute value -> DynamoDB JSON (binary as base64)."""
    ((kind, v),) = value.items()
    if kind == "B":
        return {"B": base64.b64encode(v).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode() for b in v]}
    if kind == "M":
        return {"M": {k: _encode(x) for k, x in v.items()}}
    if kind == "L":
        return {"L": [_encode(x) for x in v]}
    return value


def _decode(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, v),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(v)}
    if kind == "BS":
        return {"BS": [base64.b64decode(b) for b in v]}
    if kind == "M":
        return {"M": {k: _decode(x) for k, x in v.items()}}
    if kind == "L":
        return {"L": [_decode(x) for x in v]}
    return value


def dump_items(client: Any, table: str) -> list[dict[str, Any]]:
    """Every item of the table, as DynamoDB JSON."""
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items.extend({k: _encode(v) for k, v in item.items()} for item in page["Items"])
    return items


def save_snapshot(client: Any, table: str, path: Path) -> int:
    """Write the table's items to ``path`` (atomically: a crash never leaves half a file)."""
    items = dump_items(client, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    doc = {"format": 1, "table": table, "savedAt": datetime.now(UTC).isoformat(), "items": items}
    tmp.write_text(json.dumps(doc, separators=(",", ":")))
    tmp.replace(path)
    return len(items)


def restore_snapshot(client: Any, table: str, path: Path) -> int:
    """Put the items saved in ``path`` back into the table; returns how many."""
    if not path.is_file():
        return 0
    items = json.loads(path.read_text())["items"]
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": {k: _decode(v) for k, v in i.items()}}} for i in items[start : start + 25]]
        pending: dict[str, Any] = {table: requests}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return len(items)


# ------------------------------------------------------------------ the stack


def _timers(template: Template) -> list[Timer]:
    override = os.environ.get("REVISIT_SCHEDULE_SECONDS")
    return [
        Timer(fn.logical_id, event, float(override) if override else None)
        for fn in template.functions
        for event in fn.schedules
        if event.enabled
    ]


def _mappings(template: Template, functions: Functions, send: Callable[[str, dict[str, Any]], None]) -> list[Mapping]:
    out = []
    for fn in template.functions:
        for event in fn.streams:
            if not event.enabled:
                continue
            if event.table not in (None, template.table_logical_id):
                log.warning("%s.%s reads the stream of %s: not emulated", fn.logical_id, event.event, event.table)
                continue
            arn = functions.pools[fn.logical_id].arn
            out.append(Mapping(fn.logical_id, event, functions.invoke, on_failure=send, function_arn=arn))
    return out


class Stack:
    """Everything of the local stack, from ``start()`` to ``stop()``."""

    def __init__(self, port: int, moto_port: int, directory: Path, table_name: str, template_file: Path) -> None:
        self.directory = directory
        self.table_name = table_name
        self.region = DEFAULT_REGION
        self.snapshot_path = directory / f"table-{table_name}.json"
        self.stack_file = directory / "stack.json"
        self.template = load_template(template_file, table_name=table_name, region=self.region)
        self.moto = MotoServer(moto_port)
        size = int(os.environ.get("REVISIT_MAX_CONTAINERS", "8"))
        self.functions = Functions(self.template.functions, self.region, self.template.stack_name, size)
        gateway = Gateway(
            self.template,
            self.functions.invoke,
            self.template.parameters.get("Stage", "dev"),
            self._health,
            local={"/_local/outbox": self.outbox},
        )
        try:
            self.server = GatewayServer((HOST, port), gateway)
        except OSError as exc:
            raise SystemExit(
                f"error: cannot listen on {HOST}:{port} ({exc.strerror}); is the stack running? set REVISIT_PORT"
            ) from None
        self.base_url = self.server.base_url
        self.poller: StreamPoller | None = None
        self.scheduler: Scheduler | None = None
        self._saved_writes = 0

    @classmethod
    def from_env(cls) -> Stack:
        return cls(
            port=int(os.environ.get("REVISIT_PORT", "3000")),
            moto_port=int(os.environ.get("REVISIT_MOTO_PORT", "0")),
            directory=data_dir(),
            table_name=os.environ.get("TABLE_NAME") or "revisit",
            template_file=template_path(),
        )

    def outbox(self) -> dict[str, Any]:
        """What the functions "sent" through moto: SES emails and SNS text messages, newest last."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses import ses_backends
        from moto.sns import sns_backends

        ses = ses_backends[DEFAULT_ACCOUNT_ID][self.region]
        sns = sns_backends[DEFAULT_ACCOUNT_ID][self.region]
        emails = [
            {
                "id": m.id,
                "from": m.source,
                "to": m.destinations.get("ToAddresses", []),
                "subject": m.subject,
                "body": m.body,
            }
            for m in ses.sent_messages
            if hasattr(m, "subject")
        ]
        sms = [{"id": mid, "to": phone, "text": text} for mid, (phone, text) in sns.sms_messages.items()]
        return {"emails": emails, "sms": sms}

    def _health(self) -> dict[str, Any]:
        return {"status": "ok", "table": self.table_name, "functions": sorted(self.functions.pools)}

    def start(self) -> int:
        """Start every part; returns how many items were restored."""
        from revisit_dev import moto_patches

        moto_patches.apply()  # transactions at DynamoDB's cost, not a deep copy of the table each
        self.moto.start()
        use_local_aws(self.moto.url, self.region)
        import boto3
        from botocore.exceptions import ClientError

        self.dynamodb = boto3.client("dynamodb", region_name=self.region, endpoint_url=self.moto.url)
        create_resources(self.template, self.directory, self.moto.url, self.region)
        env = configure_environment(self.template, self.base_url, self.table_name)
        if env.get("EMAIL_SENDER"):  # SES (moto's too) sends only from a verified identity
            boto3.client("ses", region_name=self.region).verify_email_identity(EmailAddress=env["EMAIL_SENDER"])
        description = create_table_from_template(self.dynamodb, self.table_name, self.template)
        try:
            restored = restore_snapshot(self.dynamodb, self.table_name, self.snapshot_path)
        except (ClientError, ValueError, KeyError) as exc:
            raise SystemExit(
                f"error: cannot restore {self.snapshot_path}: {exc}\nMove the file away to start with an empty table."
            ) from None
        self._saved_writes = self.moto.writes
        self.functions.warm()

        mappings = _mappings(self.template, self.functions, self._send)
        if mappings:
            streams = boto3.client("dynamodbstreams", region_name=self.region, endpoint_url=self.moto.url)
            arn = description["LatestStreamArn"]
            self.poller = StreamPoller(streams, arn, mappings, self.region, writes=lambda: self.moto.writes)
            self.poller.start()  # from LATEST, after the restore: restored items are not replayed
        timers = _timers(self.template)
        if timers:
            self.scheduler = Scheduler(timers, self.functions.invoke, self.region, self.template.stack_name)
            self.scheduler.start()

        info = {"baseUrl": self.base_url, "awsEndpointUrl": self.moto.url, "tableName": self.table_name}
        info |= {"region": self.region, "pid": os.getpid()}
        self.directory.mkdir(parents=True, exist_ok=True)
        self.stack_file.write_text(json.dumps(info, indent=2))
        threading.Thread(target=self.server.serve_forever, args=(0.1,), name="gateway", daemon=True).start()
        return restored

    def _send(self, destination: str, record: dict[str, Any]) -> None:
        """Deliver an on-failure record to an SQS queue or SNS topic of the template."""
        import boto3

        service = destination.split(":")[2]
        client = boto3.client(service, region_name=self.region, endpoint_url=self.moto.url)
        if service == "sqs":
            url = next(p["QueueUrl"] for p in self.template.physical.values() if p.get("Arn") == destination)
            client.send_message(QueueUrl=url, MessageBody=json.dumps(record))
        elif service == "sns":
            client.publish(TopicArn=destination, Message=json.dumps(record))
        else:
            log.warning("on-failure destination %s is not emulated", destination)

    def snapshot_if_changed(self) -> None:
        writes = self.moto.writes
        if writes != self._saved_writes:
            self._saved_writes = writes
            save_snapshot(self.dynamodb, self.table_name, self.snapshot_path)

    def stop(self) -> int:
        """Stop taking requests, let running ones finish, save the data; returns the items saved."""
        self.server.shutdown()
        if not self.server.drain(10):
            log.warning("some requests were still running after 10 s")
        self.server.server_close()
        for part in (self.scheduler, self.poller):
            if part:
                part.stop()
        count = save_snapshot(self.dynamodb, self.table_name, self.snapshot_path)
        self.stack_file.unlink(missing_ok=True)
        self.moto.stop()
        return count

    def banner(self, restored: int) -> str:
        functions = self.template.functions
        routes = [f"    {r.method:<6} {r.path:<42} {fn.logical_id}" for fn in functions for r in fn.routes]
        routes += [f"    stream {e.event:<42} {fn.logical_id}" for fn in functions for e in fn.streams]
        routes += [f"    {e.expression:<49} {fn.logical_id}" for fn in functions for e in fn.schedules]
        return "\n".join(
            [
                "",
                f"Revisit local stack: {self.base_url}",
                *routes,
                f"  data:         {self.snapshot_path} ({restored} items restored)",
                "  credentials:  .venv/bin/revisit bootstrap --workspace-id 1042 --store downtown-coffee --json",
                f"  try:          curl {self.base_url}/health",
                f"  sent:         curl {self.base_url}/_local/outbox   (emails and SMS the scheduler sent)",
                "  stop:         Ctrl-C (the data is kept)",
                "",
            ]
        )


def run(stop: threading.Event) -> None:
    stack = Stack.from_env()
    restored = stack.start()
    print(stack.banner(restored), flush=True)
    next_snapshot = time.monotonic() + SNAPSHOT_SECONDS
    try:
        # Short waits: a signal may land on another thread, and then only wakes this one at its
        # next Python instruction.
        while not stop.wait(0.2):
            if time.monotonic() >= next_snapshot:
                stack.snapshot_if_changed()
                next_snapshot = time.monotonic() + SNAPSHOT_SECONDS
    finally:
        log.info("stopping")
        count = stack.stop()
        print(f"Stopped; {count} items saved to {stack.snapshot_path}", flush=True)


def main() -> int:
    formatter = logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S")
    logging.basicConfig(level=logging.INFO)
    logging.root.handlers[0].setFormatter(formatter)
    # A handler of our own: Powertools' Logger(service="revisit") adds a filter to the root
    # handlers that drops the records of every logger whose name contains "revisit".
    ours = logging.StreamHandler()
    ours.setFormatter(formatter)
    logging.getLogger("revisit_dev").addHandler(ours)
    logging.getLogger("revisit_dev").propagate = False
    for noisy in ("werkzeug", "urllib3.connectionpool", "botocore", "moto"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signum, signal.SIG_DFL)  # a second Ctrl-C ends it at once

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # Ctrl-C, kill, closed terminal
        signal.signal(signum, on_signal)
    try:
        run(stop)
    except (TemplateError, yaml.YAMLError) as exc:
        print(f"error: {template_path()}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # all is saved and flushed: skip the second of interpreter teardown
