"""One Lambda "container": a process that imports one function's handler once (its INIT) and then
serves one invocation at a time, as Lambda's runtime does.

    python -m revisit_dev.worker <request-fd> <response-fd> <handler-file> <handler-name>

The parent (revisit_dev.containers) sends frames on <request-fd> and reads answers on
<response-fd>: an 8-byte big-endian length and that many bytes of JSON. A request is
``{"requestId", "event", "timeout"}``; an answer ``{"ok": true, "result"}`` or
``{"ok": false, "errorType", "errorMessage"}``. The handler's output (stdout, stderr) is the
function's log: each line is prefixed with the function's name, and START / END / REPORT lines
with durations are written like Lambda's. The function's environment is this process's.
Standard library only before the handler is imported, so INIT is the handler's own cost.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from revisit_dev.lambda_context import LambdaContext


class _Prefixed(io.TextIOBase):
    """A text stream that writes whole lines, each starting with ``prefix``."""

    def __init__(self, raw: Any, prefix: str) -> None:
        self._raw = raw
        self._prefix = prefix
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        data = self._partial + text
        *lines, self._partial = data.split("\n")
        if lines:
            self._raw.write("".join(f"{self._prefix}{line}\n" for line in lines))
            self._raw.flush()
        return len(text)

    def flush(self) -> None:
        self._raw.flush()

    def fileno(self) -> int:
        return self._raw.fileno()


def read_frame(fd: int) -> bytes | None:
    header = _read_exactly(fd, 8)
    if header is None:
        return None
    body = _read_exactly(fd, int.from_bytes(header, "big"))
    if body is None:
        raise EOFError("the stream ended inside a frame")
    return body


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            if left == size:
                return None
            raise EOFError("the stream ended inside a frame")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, payload: bytes) -> None:
    view = memoryview(len(payload).to_bytes(8, "big") + payload)
    while view:
        view = view[os.write(fd, view) :]


def _load(handler_file: Path, handler_name: str) -> Any:
    sys.path.insert(0, str(handler_file.parent))  # Lambda's task root comes first
    spec = importlib.util.spec_from_file_location(handler_file.stem, handler_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[handler_file.stem] = module
    spec.loader.exec_module(module)
    return getattr(module, handler_name)


def _max_memory_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main(argv: list[str]) -> int:
    request_fd, response_fd = int(argv[0]), int(argv[1])
    handler_file, handler_name = Path(argv[2]), argv[3]
    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", handler_file.parent.name)
    label = os.environ.get("REVISIT_LOG_LABEL", name)
    memory = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
    log = _Prefixed(sys.__stderr__, f"[{label}] ")
    sys.stdout = _Prefixed(sys.__stdout__, f"[{label}] ")
    sys.stderr = log
    log.write(f"INIT_START Runtime Version: python:{sys.version_info[0]}.{sys.version_info[1]} Function: {name}\n")
    started = time.perf_counter()
    try:
        handler = _load(handler_file, handler_name)
    except BaseException:  # an INIT failure: Lambda reports it on every invocation
        log.write(traceback.format_exc())
        init_error = traceback.format_exc(limit=0).strip().splitlines()[-1]
        handler = None
    else:
        init_error = None
    init_ms: float | None = (time.perf_counter() - started) * 1000
    write_frame(response_fd, json.dumps({"ready": True, "initMs": init_ms}).encode())
    arn = os.environ.get("REVISIT_FUNCTION_ARN")
    while (frame := read_frame(request_fd)) is not None:
        request = json.loads(frame)
        request_id = request["requestId"]
        log.write(f"START RequestId: {request_id} Version: $LATEST\n")
        began = time.perf_counter()
        if handler is None:
            answer: dict[str, Any] = {"ok": False, "errorType": "Runtime.ImportModuleError", "errorMessage": init_error}
        else:
            context = LambdaContext(name, memory, float(request["timeout"]), arn, request_id)
            try:
                answer = {"ok": True, "result": handler(request["event"], context)}
            except Exception as exc:  # what Lambda reports as a function error
                log.write(traceback.format_exc())
                answer = {"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc)}
        try:
            payload = json.dumps(answer, default=str).encode()
        except (TypeError, ValueError) as exc:
            payload = json.dumps({"ok": False, "errorType": "Runtime.MarshalError", "errorMessage": str(exc)}).encode()
        duration = (time.perf_counter() - began) * 1000
        init = f"\tInit Duration: {init_ms:.2f} ms" if init_ms is not None else ""
        log.write(f"END RequestId: {request_id}\n")
        log.write(
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {int(duration) + 1} ms"
            f"\tMemory Size: {memory} MB\tMax Memory Used: {_max_memory_mb()} MB{init}\n"
        )
        init_ms = None
        write_frame(response_fd, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
