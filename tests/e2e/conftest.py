"""End-to-end harness: the local stack (``python -m revisit_dev.stack``) as a session fixture.

One stack per test session (per xdist worker; every e2e test is in one xdist group, so with
``--dist loadgroup`` they share one), on free ports with a temporary data directory and
``CREDENTIAL_CACHE_SECONDS=0`` so that revocation is immediate.

    def test_something(stack):
        creds = stack.bootstrap("1042", "downtown-coffee")
        r = stack.request("GET", "/api/keys", headers=stack.owner_headers(creds))
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from revisit_dev.processes import terminate
from revisit_dev.template import load_template

REPO = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli_command() -> list[str]:
    script = Path(sys.executable).parent / "revisit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "revisit_dev"]


class LocalStack:
    """A running local stack: its URL, its CLI, and restart()."""

    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "stack.log"
        # The template's values, not whatever this process exported (the unit tests' conftest sets some).
        declared = {key for fn in load_template().functions for key in fn.env}
        self.env = {k: v for k, v in os.environ.items() if k not in declared and not k.startswith("AWS_")}
        self.env |= {
            "REVISIT_PORT": str(self.port),
            "REVISIT_MOTO_PORT": str(free_port()),
            "REVISIT_DATA_DIR": str(data_dir),
            "CREDENTIAL_CACHE_SECONDS": "0",
            "STORE_CACHE_SECONDS": "0",  # a store PATCH shows on the next page, email and SMS
            "REVISIT_SCHEDULE_SECONDS": "1",  # the scheduler ticks every second, not every 5 minutes
            "REVISIT_MAX_CONTAINERS": "2",  # two processes per function: isolation shows, 2 cores suffice
            "PYTHONUNBUFFERED": "1",
        } | (extra_env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.session = requests.Session()
        self.session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=64))

    # ---- lifecycle

    def start(self, timeout: float = START_TIMEOUT) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "revisit_dev.stack"],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        try:
            self._wait_for_health(timeout)
        except BaseException:
            self.stop()  # never leave a stack running behind a failed start
            raise

    def _wait_for_health(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the local stack exited with {self.process.returncode}:\n{self.log()}", pytrace=False)
            try:
                health = requests.get(f"{self.base_url}/health", timeout=2)
                # Ready = healthy and every function's first container through INIT (one INIT per
                # core at a time): a test's first request then never queues behind 20 INITs.
                if health.status_code == 200 and self._all_warm(len(health.json()["functions"])):
                    return
            except requests.RequestException:
                pass  # not listening yet, or listening but still starting
            time.sleep(0.1)
        pytest.fail(f"the local stack was not ready within {timeout:.0f} s:\n{self.log()}", pytrace=False)

    def _all_warm(self, functions: int) -> bool:
        stats = requests.get(f"{self.base_url}/_local/stats", timeout=2).json()
        return sum(n > 0 for n in stats["containers"].values()) >= functions

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM (as Ctrl-C would) and wait; returns the exit code."""
        process, self.process = self.process, None
        return terminate(process, timeout)

    def restart(self) -> int | None:
        """Stop (cleanly) and start again on the same port and data; returns the stop's exit code."""
        code = self.stop()
        self.start()
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no output)"

    @property
    def info(self) -> dict[str, Any]:
        """The running stack's stack.json: baseUrl, awsEndpointUrl, tableName, region."""
        return json.loads((self.data_dir / "stack.json").read_text())

    # ---- HTTP and CLI

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.url(path), **kwargs)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*_cli_command(), *args], check=False, env=self.env, cwd=REPO, capture_output=True, text=True, timeout=60
        )
        if check and result.returncode != 0:
            pytest.fail(f"revisit {' '.join(args)} failed ({result.returncode}):\n{result.stderr}", pytrace=False)
        return result

    @staticmethod
    def owner_headers(creds: dict[str, Any]) -> dict[str, str]:
        """The headers of a workspace owner, from a bootstrap result."""
        return {"Authorization": f"Bearer {creds['ownerToken']}", "x-workspace-id": creds["workspaceId"]}

    def bootstrap(self, workspace_id: str = "1042", store: str = "downtown-coffee") -> dict[str, Any]:
        out = self.cli("bootstrap", "--workspace-id", workspace_id, "--store", store, "--json")
        return json.loads(out.stdout)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("revisit-local"))
    local.start()
    yield local
    local.stop()


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is marked e2e and, under xdist, runs on the worker of the one stack."""
    grouped = config.pluginmanager.hasplugin("xdist")
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)
            if grouped:
                item.add_marker(pytest.mark.xdist_group("e2e"))
