"""Event functions load only what they use: no pydantic, no REST resolver, only their clients.

Each module is imported in a fresh interpreter (this process has imported everything already),
with the layer and the function directory on ``sys.path`` as in Lambda; botocore's client factory
is wrapped to record every client made during the import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support import ROOT

PROBE = r"""
import importlib.util, json, sys
name = sys.argv[1]
sys.path[:0] = [f"{root}/functions/{name}", f"{root}/layers/revisit"]
import botocore.client
made = []
create = botocore.client.ClientCreator.create_client
def recording(self, service_name, *args, **kwargs):
    made.append(service_name)
    return create(self, service_name, *args, **kwargs)
botocore.client.ClientCreator.create_client = recording
spec = importlib.util.spec_from_file_location("app", f"{root}/functions/{name}/app.py")
module = importlib.util.module_from_spec(spec)
sys.modules["app"] = module
spec.loader.exec_module(module)
assert callable(module.lambda_handler)
heavy = sorted(
    m for m in sys.modules if m.split(".")[0] == "pydantic" or m.startswith("aws_lambda_powertools.event_handler")
)
http = [m for m in sys.modules if m.startswith("revisit.http")]
print(json.dumps({"clients": made, "heavy": heavy, "revisit_http": http}))
"""

# What each event function may create at import (a client it uses on every invocation).
EVENT_FUNCTIONS = {"scheduler": ["dynamodb"], "integration_events": []}


def _import_in_fresh_process(name: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "PYTHONPATH"))}
    env |= {"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "TABLE_NAME": "revisit-unit"}
    code = PROBE.replace("{root}", str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", code, name], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", sorted(EVENT_FUNCTIONS))
def test_event_function_imports_neither_pydantic_nor_the_rest_resolver(name):
    loaded = _import_in_fresh_process(name)
    assert loaded["heavy"] == [], f"{name} loads {loaded['heavy'][:5]}"
    assert loaded["revisit_http"] == []
    assert loaded["clients"] == EVENT_FUNCTIONS[name]


def test_observability_module_is_light():
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'layers' / 'revisit')!r}); "
        "from revisit.observability import logger, metrics; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'boto3')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_web_apps_start_loads_neither_pydantic_nor_the_rest_resolver():
    """The sign-in page, the overview and a store's dashboard need no request model: pydantic and
    the JSON API's glue load with the first form that uses them (the inbox, a setup page), not
    at every container's start (they cost ~140 ms of the web app's cold start)."""
    webapp = ROOT / "functions" / "webapp"
    code = (
        f"import sys; sys.path[:0] = [{str(webapp)!r}]; import app; "
        "assert callable(app.lambda_handler); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic' "
        "or m.startswith(('aws_lambda_powertools.event_handler', 'revisit.http'))))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "PYTHONPATH"))}
    env |= {"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "TABLE_NAME": "revisit-unit"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=webapp, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
