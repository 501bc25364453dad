"""Test helpers: load a function's real handler, build API Gateway events from events/ samples."""

from __future__ import annotations

import copy
import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from revisit_dev.lambda_context import LambdaContext

ROOT = Path(__file__).resolve().parents[1]


@cache
def function(name: str) -> ModuleType:
    """functions/<name>/app.py as its own module (every function's module is called app.py)."""
    spec = importlib.util.spec_from_file_location(f"revisit_fn_{name}", ROOT / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sample_event(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "events" / f"{name}.json").read_text())


class Context(LambdaContext):
    """Lambda's context for a handler called in-process (the one fake: revisit_dev.lambda_context)."""


def api_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST (v1) proxy event shaped like the samples in events/."""
    event = copy.deepcopy(sample_event("token"))
    hdrs = {k: v for k, v in event["headers"].items() if k.lower() in ("host", "user-agent", "x-forwarded-for")}
    if body is not None:
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    event.update(
        resource=resource or path,
        path=path,
        httpMethod=method,
        headers=hdrs,
        multiValueHeaders={k: [v] for k, v in hdrs.items()},
        queryStringParameters=query or None,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
        pathParameters=path_params,
        body=None if body is None else (body if isinstance(body, str) else json.dumps(body)),
    )
    event["requestContext"].update(resourcePath=resource or path, httpMethod=method, path=f"/dev{path}")
    return event


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


def invoke(function_name: str, event: dict[str, Any]) -> Reply:
    out = function(function_name).lambda_handler(event, Context())
    headers = {k.lower(): v for k, v in (out.get("headers") or {}).items()}
    for k, v in (out.get("multiValueHeaders") or {}).items():
        headers.setdefault(k.lower(), v[-1])
    assert "Traceback" not in (out.get("body") or "")
    return Reply(out["statusCode"], headers, out.get("body") or "")


def emitted_metrics(out: str) -> dict[str, float]:
    """The EMF metrics in a function's output (Powertools Metrics), summed over its lines."""
    found: dict[str, float] = {}
    for line in out.splitlines():
        if '"_aws"' in line:
            doc = json.loads(line)
            for directive in doc["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    value = doc[metric["Name"]]
                    found[metric["Name"]] = found.get(metric["Name"], 0) + (
                        sum(value) if isinstance(value, list) else value
                    )
    return found
