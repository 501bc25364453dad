"""The ``revisit`` CLI without a stack: moto's table (``--table``), the API's own validation."""

from __future__ import annotations

import argparse
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from revisit_dev import cli
from tests.support import api_event, invoke

TABLE = "revisit-unit"


@pytest.fixture(autouse=True)
def _keep_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``--table`` sets TABLE_NAME (and the local stack's target would set AWS_*): undo it after."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["--table", TABLE, *args])
    out, err = capsys.readouterr()
    return code, out, err


def count(table: Any) -> int:
    return table.scan(TableName=TABLE)["Count"]


def api_message(world: Any, body: dict[str, Any]) -> str:
    """What the management API answers to POST /api/stores with ``body``."""
    reply = invoke("management", api_event("POST", "/api/stores", body=body, headers=world.owner_headers()))
    assert reply.status == 400
    return reply.json["error"]["message"]


@pytest.mark.parametrize(
    ("options", "body", "option"),
    [
        (["--store", "Downtown Coffee!"], {"slug": "Downtown Coffee!"}, "--store"),
        (["--store", "ok", "--timezone", "Mars/Olympus"], {"slug": "ok", "timezone": "Mars/Olympus"}, "--timezone"),
        (["--store", "ok", "--name", ""], {"slug": "ok", "name": ""}, "--name"),
    ],
)
@pytest.mark.parametrize("command", ["bootstrap", "create-store"])
def test_a_store_the_api_rejects_is_rejected_with_its_message_and_nothing_is_written(
    world, table, capsys, command: str, options: list[str], body: dict[str, Any], option: str
):
    expected = api_message(world, body)
    before = count(table)
    code, out, err = run(capsys, command, "--workspace-id", "cli-ws", *options)
    assert code == 1
    assert out == ""
    assert f"error: {expected}\n" in err
    assert option in err  # which option the API's field is
    assert count(table) == before  # not even the workspace


def test_a_bad_workspace_id_is_rejected_and_nothing_is_written(table, capsys):
    code, _, err = run(capsys, "bootstrap", "--workspace-id", "no spaces", "--store", "ok")
    assert code == 1
    assert "workspaceId" in err and "--workspace-id" in err
    assert count(table) == 0


def test_create_store_applies_name_and_timezone(table, capsys):
    code, out, err = run(
        capsys,
        "create-store",
        "--workspace-id",
        "cli-ws",
        "--store",
        "uptown",
        "--name",
        "Uptown",
        "--timezone",
        "Europe/Paris",
    )
    assert (code, err) == (0, "")
    store = json.loads(out)
    assert (store["slug"], store["name"], store["timezone"]) == ("uptown", "Uptown", "Europe/Paris")
    from revisit.domain import workspaces

    stored = workspaces.get_store("cli-ws", "uptown")
    assert (stored["name"], stored["timezone"]) == ("Uptown", "Europe/Paris")

    # Idempotent when nothing else is asked; an error (not silence) when another zone or name is.
    assert run(capsys, "create-store", "--workspace-id", "cli-ws", "--store", "uptown")[0] == 0
    assert (
        run(capsys, "create-store", "--workspace-id", "cli-ws", "--store", "uptown", "--timezone", "Europe/Paris")[0]
        == 0
    )
    code, _, err = run(capsys, "create-store", "--workspace-id", "cli-ws", "--store", "uptown", "--timezone", "UTC")
    assert code == 1
    assert "already exists" in err and "Europe/Paris" in err
    assert workspaces.get_store("cli-ws", "uptown")["timezone"] == "Europe/Paris"


def test_create_store_defaults_are_the_apis(table, capsys):
    code, out, _ = run(capsys, "create-store", "--workspace-id", "cli-ws", "--store", "  plain  ")
    assert code == 0
    store = json.loads(out)
    assert (store["slug"], store["name"], store["timezone"]) == ("plain", "plain", "UTC")  # stripped, as the API does


def test_bootstrap_creates_the_store_with_its_timezone(table, capsys):
    code, out, _ = run(
        capsys, "bootstrap", "--workspace-id", "cli-ws", "--store", "dt", "--timezone", "Asia/Tokyo", "--json"
    )
    assert code == 0
    creds = json.loads(out)
    assert creds["storeSlug"] == "dt" and creds["ownerToken"]
    from revisit.domain import workspaces

    assert workspaces.get_store("cli-ws", "dt")["timezone"] == "Asia/Tokyo"


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    from importlib.metadata import version

    assert capsys.readouterr().out.strip() == f"revisit {version('revisit')}"


def _parsers() -> list[argparse.ArgumentParser]:
    parser = cli._parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [parser, *sub.choices.values()]


def test_every_option_has_help_and_help_is_plain_text():
    parsers = _parsers()
    assert {p.prog.split()[-1] for p in parsers[1:]} >= {"bootstrap", "create-store", "invoke", "outbox"}
    for parser in parsers:
        for action in parser._actions:
            assert action.help, f"{parser.prog} {action.option_strings or action.dest} has no help"
        text = parser.format_help()
        assert "``" not in text and ":class:" not in text, parser.prog


def test_outbox_and_invoke_refuse_a_deployed_table(capsys):
    for command in (["outbox"], ["invoke", "SchedulerFunction"]):
        with pytest.raises(SystemExit) as done:
            cli.main(["--table", TABLE, *command])
        assert "local stack only" in str(done.value.code)


def test_commands_on_the_local_stack_say_when_it_is_not_running(tmp_path: Path):
    with pytest.raises(SystemExit) as done:
        cli.main(["--data-dir", str(tmp_path), "invoke", "SchedulerFunction"])
    assert "not running" in str(done.value.code) and "make dev" in str(done.value.code)


class _FakeStack(BaseHTTPRequestHandler):
    """POST /_local/invoke/<fn> as the stack answers it: the event back, or 404."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.path, body))  # type: ignore[attr-defined]
        function = self.path.removeprefix("/_local/invoke/")
        if function == "Nope":
            status, answer = 404, {"message": "no function 'Nope' in the template"}
        else:
            status, answer = 200, {"function": function, "result": json.loads(body) if body else "scheduled"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def fake_stack(tmp_path: Path) -> Iterator[tuple[Path, list[tuple[str, bytes]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeStack)
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    info = {"baseUrl": f"http://127.0.0.1:{server.server_port}", "awsEndpointUrl": "http://127.0.0.1:9", "region": "x"}
    (tmp_path / "stack.json").write_text(json.dumps(info | {"tableName": "t"}))
    try:
        yield tmp_path, server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def test_invoke_posts_to_the_running_stack_and_prints_the_result(fake_stack, capsys, tmp_path: Path):
    data_dir, seen = fake_stack
    assert cli.main(["--data-dir", str(data_dir), "invoke", "SchedulerFunction"]) == 0
    assert json.loads(capsys.readouterr().out) == {"function": "SchedulerFunction", "result": "scheduled"}
    event = tmp_path / "event.json"
    event.write_text('{"Records": []}')
    assert cli.main(["--data-dir", str(data_dir), "invoke", "AggregatorFunction", "--event", str(event)]) == 0
    assert json.loads(capsys.readouterr().out)["result"] == {"Records": []}
    assert seen == [
        ("/_local/invoke/SchedulerFunction", b""),
        ("/_local/invoke/AggregatorFunction", b'{"Records": []}'),
    ]
    assert os.environ.get("AWS_ENDPOINT_URL") != "http://127.0.0.1:9"  # invoke needs no AWS settings


def test_invoke_reports_an_unknown_function_and_a_bad_event(fake_stack, capsys, tmp_path: Path):
    data_dir, seen = fake_stack
    assert cli.main(["--data-dir", str(data_dir), "invoke", "Nope"]) == 1
    assert "404 no function 'Nope' in the template" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SystemExit) as done:
        cli.main(["--data-dir", str(data_dir), "invoke", "Fn", "--event", str(bad)])
    assert "is not JSON" in str(done.value.code)
    assert len(seen) == 1  # the bad event was not sent
