"""The ``revisit`` CLI on the running local stack: invoke, and stores checked with the API's rules."""

from __future__ import annotations

import json
from pathlib import Path

WORKSPACE = "cli-e2e"


def test_invoke_runs_the_scheduler_now(stack):
    out = stack.cli("invoke", "SchedulerFunction")
    answer = json.loads(out.stdout)
    assert answer["function"] == "SchedulerFunction"
    summary = answer["result"]  # the scheduler's run summary
    assert {"due", "sent", "failed_attempts"} <= set(summary) and all(isinstance(v, int) for v in summary.values())


def test_invoke_sends_the_event_file(stack, tmp_path: Path):
    event = {
        "resource": "/api/stores",
        "path": "/api/stores",
        "httpMethod": "GET",
        "headers": {"Accept": "application/json"},
        "multiValueHeaders": {"Accept": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"resourcePath": "/api/stores", "httpMethod": "GET", "path": "/api/stores", "stage": "dev"},
        "body": None,
        "isBase64Encoded": False,
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    out = stack.cli("invoke", "ManagementFunction", "--event", str(path))
    answer = json.loads(out.stdout)
    assert answer["function"] == "ManagementFunction"
    assert answer["result"]["statusCode"] == 401  # the function ran on that event: no credentials in it


def test_invoke_of_an_unknown_function_fails_naming_it(stack):
    out = stack.cli("invoke", "NoSuchFunction", check=False)
    assert out.returncode == 1
    assert "404" in out.stderr and "NoSuchFunction" in out.stderr


def test_create_store_applies_name_and_timezone(stack):
    creds = stack.bootstrap(WORKSPACE, "main")
    out = stack.cli(
        "create-store",
        "--workspace-id",
        WORKSPACE,
        "--store",
        "uptown",
        "--name",
        "Uptown",
        "--timezone",
        "Europe/Paris",
    )
    created = json.loads(out.stdout)
    assert (created["name"], created["timezone"]) == ("Uptown", "Europe/Paris")
    stores = stack.request("GET", "/api/stores", headers=stack.owner_headers(creds)).json()["items"]
    uptown = next(s for s in stores if s["slug"] == "uptown")
    assert (uptown["name"], uptown["timezone"]) == ("Uptown", "Europe/Paris")


def test_bootstrap_rejects_what_the_api_rejects_and_writes_nothing(stack):
    creds = stack.bootstrap(WORKSPACE, "main")
    headers = stack.owner_headers(creds)
    before = stack.request("GET", "/api/stores", headers=headers).json()["items"]
    for options, body in (
        (["--store", "Downtown Coffee!"], {"slug": "Downtown Coffee!"}),
        (["--store", "mars", "--timezone", "Mars/Olympus"], {"slug": "mars", "timezone": "Mars/Olympus"}),
    ):
        api = stack.request("POST", "/api/stores", headers=headers, json=body)
        assert api.status_code == 400
        out = stack.cli("bootstrap", "--workspace-id", WORKSPACE, *options, check=False)
        assert out.returncode != 0
        assert out.stdout == ""
        assert f"error: {api.json()['error']['message']}" in out.stderr
    assert stack.request("GET", "/api/stores", headers=headers).json()["items"] == before


def test_invoke_reports_a_function_error(stack, tmp_path: Path):
    path = tmp_path / "empty.json"
    path.write_text("{}")  # not an API Gateway event: the management function fails on it
    out = stack.cli("invoke", "ManagementFunction", "--event", str(path), check=False)
    assert out.returncode == 1
    assert "502" in out.stderr and "ManagementFunction" in out.stderr
