"""A fresh Python process, as a Lambda container starts: the cold-start and memory measurements.

Run by bench/coldstart.py as ``python -S bench/child.py MODE SPEC_JSON OUT_JSON`` (``-S``: no
site-packages scan and no .pth hooks; the paths a Lambda runtime would have come from the spec).

  baseline  import boto3, make a DynamoDB client, one GetItem
  floor     the frameworks every API function stands on and nothing of Revisit: the baseline plus
            Powertools' Logger and APIGatewayRestResolver with one route that validates the body
            with a one-field pydantic model and makes the same GetItem
  cold      import functions/<name>/app.py (the layer on sys.path), serve the first request
  memory    the same, then the remaining requests; peak and current RSS after the first and last

Only the standard library is imported before the clock starts; the spec's events are plain JSON.
"""

import sys
import time

T0 = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402


def _status() -> dict:
    """VmRSS and VmHWM (peak) of this process, in KiB."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                out[name] = int(value.split()[0])
    return out


_FAKE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dev", "revisit_dev")
_fake_context: list = []


def Context(name: str, memory: int):
    """Lambda's context: the one fake (dev/revisit_dev/lambda_context.py, standard library only),
    loaded from its file when first needed - ``-S`` skips the editable install's path hook, and
    nothing of dev/ goes on the function's sys.path - with an id that costs no uuid import."""
    if not _fake_context:
        import importlib.util

        spec = importlib.util.spec_from_file_location("bench_lambda_context", os.path.join(_FAKE, "lambda_context.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _fake_context.append(module.LambdaContext)
    return _fake_context[0](name, memory, 60, aws_request_id=f"{time.time_ns():032x}", log_stream_name="bench")


def _uncompiled(prefixes: list) -> None:
    """Compile the layer's modules from source at every import, never from .pyc: sam build ships
    the layer without byte code (layers/revisit/Makefile) and /opt is read-only in Lambda."""
    import _frozen_importlib_external as external

    original = external.cache_from_source

    def cache_from_source(path, *args, **kwargs):
        if path.startswith(tuple(prefixes)):
            raise NotImplementedError
        return original(path, *args, **kwargs)

    external.cache_from_source = cache_from_source


def main() -> None:
    mode, spec_path, out_path = sys.argv[1:4]
    with open(spec_path) as f:
        spec = json.load(f)
    sys.path[:0] = spec.get("path", [])
    sys.path.extend(spec["site"])
    if spec.get("uncompiled"):
        _uncompiled(spec["uncompiled"])
    result = {"mode": mode}
    if mode == "baseline":
        import boto3

        client = boto3.client("dynamodb")
        t_import = time.perf_counter()
        item = client.get_item(TableName=spec["table"], Key=spec["key"]).get("Item")
        t_first = time.perf_counter()
        result["ok"] = item is not None
        result["after_first"] = _status()
    elif mode == "floor":
        t_import, t_first, result["ok"] = _floor(spec)
    else:
        import importlib.util

        module_spec = importlib.util.spec_from_file_location("app", spec["handler"])
        module = importlib.util.module_from_spec(module_spec)
        sys.modules["app"] = module
        module_spec.loader.exec_module(module)
        handler = module.lambda_handler
        t_import = time.perf_counter()
        events = spec["events"]
        reply = handler(events[0], Context(spec["name"], spec["memory_mb"]))
        t_first = time.perf_counter()
        result["ok"] = _ok(reply)
        result["reply"] = str(reply)[:300]
        if mode == "memory":
            result["after_first"] = _status()
            failures = 0
            for event in events[1:]:
                failures += not _ok(handler(event, Context(spec["name"], spec["memory_mb"])))
            result["after_last"] = _status()
            result["requests"] = len(events)
            result["failures"] = failures
    result["spawn_to_response_s"] = time.time() - float(os.environ["BENCH_SPAWN"])
    result["in_process_s"] = t_first - T0
    result["import_s"] = t_import - T0
    result["first_request_s"] = t_first - t_import
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = usage.ru_utime + usage.ru_stime  # the whole process: start-up, import, requests
    with open(out_path, "w") as f:
        json.dump(result, f)
    sys.stdout.flush()
    os._exit(0)  # measured already: skip the interpreter's teardown


def _floor(spec: dict) -> tuple[float, float, bool]:
    import boto3
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from pydantic import BaseModel, ConfigDict, Field

    class Body(BaseModel):
        model_config = ConfigDict(extra="forbid")
        storeSlug: str = Field(min_length=1, max_length=64)

    logger = Logger(service="floor")
    app = APIGatewayRestResolver()
    client = boto3.client("dynamodb")

    @app.post("/floor")
    def floor():
        Body.model_validate_json(app.current_event.body or "{}")
        item = client.get_item(TableName=spec["table"], Key=spec["key"]).get("Item")
        return {"found": item is not None}

    @logger.inject_lambda_context
    def handler(event, context):
        return app.resolve(event, context)

    t_import = time.perf_counter()
    event = {
        "resource": "/floor",
        "path": "/floor",
        "httpMethod": "POST",
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": {"requestId": "floor", "stage": "Prod", "httpMethod": "POST", "path": "/Prod/floor"},
        "body": json.dumps({"storeSlug": "downtown"}),
        "isBase64Encoded": False,
    }
    reply = handler(event, Context("floor", 512))
    return t_import, time.perf_counter(), _ok(reply) and json.loads(reply["body"]) == {"found": True}


def _ok(reply) -> bool:
    if isinstance(reply, dict) and "statusCode" in reply:
        return 200 <= reply["statusCode"] < 400
    return isinstance(reply, dict) and not reply.get("batchItemFailures")


if __name__ == "__main__":
    main()
