"""The local stack: the whole system on one machine, read from template.yaml (``make dev``).

No Docker, no AWS account. The table is Amazon's DynamoDB Local (revisit_dev.engine), its data
kept in ``$REVISIT_DATA_DIR`` (default ``.local/``) across restarts; moto's server stands in for
SES, SNS, EventBridge, SQS and Secrets Manager (revisit_dev.resources). Each function runs as
Lambda runs it, one process per container (revisit_dev.containers), behind a local API Gateway
(revisit_dev.gateway), a DynamoDB Streams poller (revisit_dev.streams), the SQS event sources
(revisit_dev.queues) and the template's schedules (revisit_dev.schedules). See docs/local-stack.md.

Environment: REVISIT_PORT (3000), REVISIT_DYNAMODB_PORT and REVISIT_MOTO_PORT (free ports),
REVISIT_DATA_DIR (.local), TABLE_NAME (revisit), REVISIT_MAX_CONTAINERS (containers per
function, 4), REVISIT_DYNAMODB_HEAP (512m), REVISIT_SCHEDULE_SECONDS (off) and REVISIT_TEMPLATE
(template.yaml). A variable of the template's functions (e.g. CREDENTIAL_CACHE_SECONDS) that you
export wins over the template's value.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from revisit_dev.containers import Functions
from revisit_dev.engine import DynamoDBLocal, EngineError, ensure_table
from revisit_dev.gateway import Gateway, GatewayServer, Request
from revisit_dev.processes import rss_bytes
from revisit_dev.queues import QueueMapping, QueuePoller
from revisit_dev.resources import (
    HOST,
    MotoServer,
    create_resources,
    function_environments,
    local_aws_env,
    outbox,
    send_to_destination,
    use_local_aws,
)
from revisit_dev.schedules import Scheduler, Timer
from revisit_dev.streams import Mapping, StreamPoller
from revisit_dev.template import DEFAULT_REGION, REPO_ROOT, TEMPLATE_PATH, Template, TemplateError, load_template

__all__ = ["MotoServer", "Stack", "data_dir", "main", "use_local_aws"]

log = logging.getLogger("revisit_dev.stack")

DEFAULT_DATA_DIR = REPO_ROOT / ".local"


def data_dir() -> Path:
    return Path(os.environ.get("REVISIT_DATA_DIR") or DEFAULT_DATA_DIR)


def template_path() -> Path:
    return Path(os.environ.get("REVISIT_TEMPLATE") or TEMPLATE_PATH)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _timers(template: Template) -> list[Timer]:
    override = os.environ.get("REVISIT_SCHEDULE_SECONDS")
    return [
        Timer(fn.logical_id, event, float(override) if override else None)
        for fn in template.functions
        for event in fn.schedules
        if event.enabled
    ]


class Stack:
    """Everything of the local stack, from ``start()`` to ``stop()``."""

    def __init__(
        self, port: int, dynamodb_port: int, moto_port: int, directory: Path, table_name: str, template_file: Path
    ) -> None:
        self.directory = directory
        self.table_name = table_name
        self.region = DEFAULT_REGION
        self.stack_file = directory / "stack.json"
        self.template = load_template(template_file, table_name=table_name, region=self.region)
        self.not_emulated = self.template.not_emulated()  # raises, naming it, for an unsupported type
        self.functions_spec = self.template.functions  # parses every event: an unsupported one stops here
        self.engine = DynamoDBLocal(directory / "dynamodb", dynamodb_port or _free_port())
        self.moto = MotoServer(moto_port)
        self.size = int(os.environ.get("REVISIT_MAX_CONTAINERS", "4"))
        self.functions: Functions | None = None
        self.poller: StreamPoller | None = None
        self.queue_poller: QueuePoller | None = None
        self.scheduler: Scheduler | None = None
        self.started_at = time.monotonic()
        gateway = Gateway(
            self.template,
            self._invoke,
            self.template.parameters.get("Stage", "dev"),
            self._health,
            local={
                "GET /_local/outbox": lambda _request: outbox(self.region),
                "GET /_local/stats": lambda _request: self.stats(),
                "POST /_local/invoke/": self._invoke_now,
            },
        )
        try:
            self.server = GatewayServer((HOST, port), gateway)
        except OSError as exc:
            raise SystemExit(
                f"error: cannot listen on {HOST}:{port} ({exc.strerror}); is the stack running? set REVISIT_PORT"
            ) from None
        self.base_url = self.server.base_url

    @classmethod
    def from_env(cls) -> Stack:
        return cls(
            port=int(os.environ.get("REVISIT_PORT", "3000")),
            dynamodb_port=int(os.environ.get("REVISIT_DYNAMODB_PORT", "0")),
            moto_port=int(os.environ.get("REVISIT_MOTO_PORT", "0")),
            directory=data_dir(),
            table_name=os.environ.get("TABLE_NAME") or "revisit",
            template_file=template_path(),
        )

    def _invoke(self, logical_id: str, event: dict[str, Any], timeout: float | None = None) -> Any:
        assert self.functions is not None
        return self.functions.invoke(logical_id, event, timeout)

    def _invoke_now(self, request: Request) -> Any:
        """``POST /_local/invoke/<LogicalId>``: run a function now with the JSON body as its event
        (an empty body: the event its schedule would send). For ``revisit invoke``."""
        from revisit_dev.schedules import scheduled_event

        logical_id = request.path.removeprefix("/_local/invoke/")
        spec = next((fn for fn in self.functions_spec if fn.logical_id == logical_id), None)
        if spec is None:
            raise LookupError(f"no function {logical_id!r} in the template")
        if request.body.strip():
            event = json.loads(request.body)
        elif spec.schedules:
            from datetime import UTC, datetime

            at = datetime.now(UTC)
            event = scheduled_event(logical_id, spec.schedules[0], at, self.region, self.template.stack_name)
        else:
            event = {}
        return {"function": logical_id, "result": self._invoke(logical_id, event)}

    def _health(self) -> dict[str, Any]:
        pools = sorted(self.functions.pools) if self.functions else []
        return {"status": "ok", "table": self.table_name, "functions": pools}

    def stats(self) -> dict[str, Any]:
        """Memory of every part (bytes of RSS) and containers per function, for the bench."""
        import resource

        assert self.functions is not None
        containers = {lid: p.containers for lid, p in self.functions.pools.items()}
        stack_rss = rss_bytes(os.getpid()) or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        functions = self.functions.rss_bytes()
        engine = self.engine.rss_bytes()
        return {
            "rssBytes": {"stack": stack_rss, "functions": functions, "dynamodbLocal": engine},
            "totalRssBytes": stack_rss + functions + engine,
            "containers": containers,
            "uptimeSeconds": round(time.monotonic() - self.started_at, 1),
        }

    def start(self) -> None:
        self.engine.start()
        self.moto.start()
        use_local_aws(self.moto.url, self.region, self.engine.url)
        import boto3

        create_resources(self.template, self.directory, self.moto.url, self.region)
        aws = local_aws_env(self.moto.url, self.engine.url, self.region)
        envs = function_environments(self.template, os.environ, aws, os.environ)
        for env in envs.values():
            env["TABLE_NAME"] = self.table_name
            env["PUBLIC_BASE_URL"] = env.get("PUBLIC_BASE_URL") or self.base_url
        sender = next((e["EMAIL_SENDER"] for e in envs.values() if e.get("EMAIL_SENDER")), None)
        if sender:  # SES (moto's too) sends only from a verified identity
            boto3.client("ses", region_name=self.region).verify_email_identity(EmailAddress=sender)
        dynamodb = boto3.client("dynamodb", region_name=self.region)
        description = ensure_table(dynamodb, self.template, self.table_name)

        self.functions = Functions(self.functions_spec, envs, self.template.stack_name, self.region, self.size)
        # One container of each function starts now, in the background, as provisioned
        # concurrency would: the stack answers at once, and an early request waits for its INIT.
        threading.Thread(target=self.functions.warm, name="warm", daemon=True).start()

        mappings = self._mappings()
        if mappings:
            streams = boto3.client("dynamodbstreams", region_name=self.region)
            self.poller = StreamPoller(streams, description["LatestStreamArn"], mappings, self.region)
            self.poller.start()
        queue_mappings = self._queue_mappings()
        if queue_mappings:
            self.queue_poller = QueuePoller(queue_mappings)
            self.queue_poller.start()
        timers = _timers(self.template)
        if timers:
            self.scheduler = Scheduler(timers, self._invoke, self.region, self.template.stack_name)
            self.scheduler.start()

        info = {
            "baseUrl": self.base_url,
            "awsEndpointUrl": self.moto.url,
            "dynamodbEndpointUrl": self.engine.url,
            "tableName": self.table_name,
            "region": self.region,
            "pid": os.getpid(),
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        self.stack_file.write_text(json.dumps(info, indent=2))
        threading.Thread(target=self.server.serve_forever, args=(0.1,), name="gateway", daemon=True).start()
        self._serving = True

    def _mappings(self) -> list[Mapping]:
        out = []
        for fn in self.functions_spec:
            for event in fn.streams:
                if not event.enabled:
                    continue
                if event.table not in (None, self.template.table_logical_id):
                    raise TemplateError(f"{fn.logical_id}.{event.event}: the stream of {event.table} is not emulated")
                assert self.functions is not None
                arn = self.functions.pools[fn.logical_id].arn
                out.append(Mapping(fn.logical_id, event, self._invoke, on_failure=self._send, function_arn=arn))
        return out

    def _queue_mappings(self) -> list[QueueMapping]:
        """The template's SQS events, on the queues create_resources made in moto."""
        import boto3

        sqs = boto3.client("sqs", region_name=self.region, endpoint_url=self.moto.url)
        out = []
        for fn in self.functions_spec:
            for event in fn.queues:
                if not event.enabled:
                    continue
                queue = self.template.physical.get(event.queue or "")
                if queue is None:
                    raise TemplateError(f"{fn.logical_id}.{event.event}: {event.queue} is not a queue of the template")
                visibility = float(
                    sqs.get_queue_attributes(QueueUrl=queue["QueueUrl"], AttributeNames=["VisibilityTimeout"])[
                        "Attributes"
                    ]["VisibilityTimeout"]
                )
                if visibility < fn.timeout_seconds:  # CloudFormation refuses such a mapping too
                    raise TemplateError(
                        f"{fn.logical_id}.{event.event}: the queue's visibility timeout ({visibility:.0f} s) is "
                        f"less than the function's Timeout ({fn.timeout_seconds:.0f} s)"
                    )
                out.append(
                    QueueMapping(
                        fn.logical_id,
                        event,
                        sqs,
                        queue["QueueUrl"],
                        queue["Arn"],
                        self._invoke,
                        self.region,
                        concurrency=self.size,
                    )
                )
        return out

    def _send(self, destination: str, record: dict[str, Any]) -> None:
        send_to_destination(self.template, self.moto.url, self.region, destination, record)

    def stop(self) -> None:
        """Stop taking requests, let running ones finish, then stop every part (the table is kept)."""
        if getattr(self, "_serving", False):
            self.server.shutdown()
        if not self.server.drain(10):
            log.warning("some requests were still running after 10 s")
        self.server.server_close()
        for part in (self.scheduler, self.poller, self.queue_poller):
            if part:
                part.stop()
        if self.functions:
            self.functions.close()
        self.engine.stop()
        self.stack_file.unlink(missing_ok=True)
        self.moto.stop()

    def banner(self, seconds: float) -> str:
        functions = self.functions_spec
        routes = [f"    {r.method:<6} {r.path:<42} {fn.logical_id}" for fn in functions for r in fn.routes]
        routes += [f"    stream {e.event:<42} {fn.logical_id}" for fn in functions for e in fn.streams]
        routes += [f"    {e.expression:<49} {fn.logical_id}" for fn in functions for e in fn.schedules]
        routes += [
            f"    sqs    {e.event + ' <- ' + str(e.queue):<42} {fn.logical_id}" for fn in functions for e in fn.queues
        ]
        skipped = ", ".join(self.not_emulated) or "none"
        return "\n".join(
            [
                "",
                f"Revisit local stack: {self.base_url}   (healthy after {seconds:.1f} s)",
                *routes,
                f"  table:        DynamoDB Local on {self.engine.url}, data in {self.engine.directory}"
                + ("" if self.engine.fsync else " (fsync off: eatmydata)"),
                f"  not emulated: {skipped} (configuration only)",
                "  credentials:  .venv/bin/revisit bootstrap --workspace-id 1042 --store downtown-coffee --json",
                f"  try:          curl {self.base_url}/health",
                f"  web app:      {self.base_url}/app   (sign in: the workspace id + its owner token from bootstrap)",
                f"  sent:         curl {self.base_url}/_local/outbox   (or: .venv/bin/revisit outbox)",
                "  send now:     .venv/bin/revisit invoke SchedulerFunction",
                "  stop:         Ctrl-C (the data is kept)",
                "",
            ]
        )


def run(stop: threading.Event) -> None:
    started = time.monotonic()
    stack = Stack.from_env()
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    print(stack.banner(time.monotonic() - started), flush=True)
    try:
        # Short waits: a signal may land on another thread, and then only wakes this one at its
        # next Python instruction.
        while not stop.wait(0.2):
            pass
    finally:
        log.info("stopping")
        stack.stop()
        print(f"Stopped; the table is kept in {stack.engine.directory}", flush=True)


def main() -> int:
    formatter = logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S")
    logging.basicConfig(level=logging.INFO)
    logging.root.handlers[0].setFormatter(formatter)
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
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # everything is stopped and flushed: skip the interpreter's teardown
