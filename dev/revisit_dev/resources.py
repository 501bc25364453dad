"""The AWS services around the table, as the template declares them: moto's server on loopback for
SES, SNS (text messages), EventBridge, SQS and Secrets Manager; the template's queues and secrets
created in it; each function's environment; and the outbox (what SES and SNS were asked to send).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from revisit_dev.template import DEFAULT_REGION, Template

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


class MotoServer:
    """moto's server on loopback, answering one request at a time (moto's backends are not
    thread-safe). It serves every service but DynamoDB, which is DynamoDB Local's."""

    def __init__(self, port: int = 0) -> None:
        from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        self._app = DomainDispatcherApplication(create_backend_app)
        self._lock = threading.Lock()
        self._server = make_server(HOST, port, self._serialized, threaded=True, request_handler=MotoRequestHandler)
        self.url = f"http://{HOST}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), name="moto", daemon=True)

    def _serialized(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            return list(self._app(environ, start_response))

    def start(self) -> MotoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)


# ------------------------------------------------------------------ environment


_FORCED_AWAY = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def local_aws_env(endpoint_url: str, dynamodb_url: str | None = None, region: str = DEFAULT_REGION) -> dict[str, str]:
    """The variables that send every AWS SDK call to the local stack: DynamoDB (and its streams)
    to DynamoDB Local, everything else to moto; fake credentials, no instance metadata."""
    env = {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if dynamodb_url:
        env |= {"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url, "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": dynamodb_url}
    return env


def use_local_aws(endpoint_url: str, region: str = DEFAULT_REGION, dynamodb_url: str | None = None) -> None:
    """Point this process's AWS SDK at the local stack, whatever the developer's AWS settings."""
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_") or k in _FORCED_AWAY]:
        del os.environ[key]
    os.environ.update(local_aws_env(endpoint_url, dynamodb_url, region))


def function_environments(
    template: Template, base: Mapping[str, str], aws: Mapping[str, str], overrides: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    """Each function's process environment: ``base`` (PATH, HOME, ...) without AWS settings, the
    function's variables from the template (Globals and its own), the local AWS settings.

    A variable of the template that is in ``overrides`` (what the developer exported) wins over
    the template's value, so e.g. ``CREDENTIAL_CACHE_SECONDS=0 make dev`` works.
    """
    clean = {k: v for k, v in base.items() if not k.startswith("AWS_") and k not in _FORCED_AWAY}
    out = {}
    for fn in template.functions:
        own = {key: overrides.get(key, value) for key, value in fn.env.items()}
        out[fn.logical_id] = clean | LOCAL_ONLY_ENV | own | dict(aws)
    return out


# ------------------------------------------------------------------ resources


# The queue properties moto applies as in SQS (visibility timeout for the SQS event sources, delays).
QUEUE_ATTRIBUTES = ("VisibilityTimeout", "DelaySeconds", "MessageRetentionPeriod", "MaximumMessageSize")
# What only the local stack sets in every function's environment (never the template: a deployed
# stack must not): webhooks may go to loopback receivers (http too), e.g. a test's own server; the
# web app's session cookie is not Secure on the plain-http http://127.0.0.1:3000.
LOCAL_ONLY_ENV = {"WEBHOOK_ALLOW_LOOPBACK": "true", "WEBAPP_INSECURE_COOKIES": "true"}


def create_resources(template: Template, directory: Path, endpoint_url: str, region: str = DEFAULT_REGION) -> None:
    """Create the template's queues and secrets in moto; record what !Ref / !GetAtt give.

    A generated secret is kept in ``<directory>/secrets.json`` so it survives a restart (hashes
    made with it stay comparable).
    """
    import boto3

    def client(service: str) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=endpoint_url)

    queues = template.of_type("AWS::SQS::Queue")
    for lid, res in queues.items():
        props = template.resolve(res.get("Properties") or {})
        name = props.get("QueueName") or f"{template.stack_name}-{lid}"
        attributes = {k: str(props[k]) for k in QUEUE_ATTRIBUTES if k in props}
        url = client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        template.physical[lid] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}
    for lid, res in queues.items():  # a RedrivePolicy names another queue: once all exist
        redrive = (res.get("Properties") or {}).get("RedrivePolicy")
        if redrive:
            policy = template.resolve(redrive)
            policy = policy if isinstance(policy, str) else json.dumps(policy)
            client("sqs").set_queue_attributes(
                QueueUrl=template.physical[lid]["QueueUrl"], Attributes={"RedrivePolicy": policy}
            )
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


def send_to_destination(template: Template, endpoint_url: str, region: str, destination: str, record: Any) -> None:
    """Deliver an event source mapping's on-failure record to the template's SQS queue."""
    import boto3

    url = next((p["QueueUrl"] for p in template.physical.values() if p.get("Arn") == destination), None)
    if url is None:
        log.warning("on-failure destination %s is not a queue of the template: not emulated", destination)
        return
    boto3.client("sqs", region_name=region, endpoint_url=endpoint_url).send_message(
        QueueUrl=url, MessageBody=json.dumps(record)
    )


def outbox(region: str = DEFAULT_REGION) -> dict[str, Any]:
    """What the functions "sent" through moto: SES emails and SNS text messages, newest last."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses import ses_backends
    from moto.sns import sns_backends

    ses = ses_backends[DEFAULT_ACCOUNT_ID][region]
    sns = sns_backends[DEFAULT_ACCOUNT_ID][region]
    emails = [
        {
            "id": m.id,
            "from": m.source,
            "to": m.destinations.get("ToAddresses", []),
            "subject": m.subject,
            "body": m.body,
        }
        if hasattr(m, "subject")
        else _raw_email(m)  # SendRawEmail (the alert emails)
        for m in ses.sent_messages
        if hasattr(m, "subject") or hasattr(m, "raw_data")
    ]
    sms = [{"id": mid, "to": phone, "text": text} for mid, (phone, text) in sns.sms_messages.items()]
    return {"emails": emails, "sms": sms}


def _raw_email(message: Any) -> dict[str, Any]:
    """A SendRawEmail message as the outbox shows it: its headers parsed, the text part as body,
    and the headers a mail client acts on (List-Unsubscribe, List-Unsubscribe-Post)."""
    import email
    from email import policy

    parsed = email.message_from_string(message.raw_data, policy=policy.default)
    part = parsed.get_body(preferencelist=("plain", "html"))
    extra = {name: str(parsed[name]) for name in ("List-Unsubscribe", "List-Unsubscribe-Post") if parsed[name]}
    return {
        "id": message.id,
        "from": message.source,
        "to": list(message.destinations),
        "subject": str(parsed["Subject"] or ""),
        "body": part.get_content() if part is not None else "",
        "headers": extra,
    }
