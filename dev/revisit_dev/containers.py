"""Functions as Lambda runs them: one OS process per container, one invocation at a time.

A :class:`FunctionPool` holds one function's containers (revisit_dev.worker processes), grown
lazily up to a bound and reused warm. A container that crashes or runs past the function's
Timeout is killed and replaced by the next invocation that needs one; the caller gets a
:class:`FunctionError` (the gateway answers it as API Gateway does: 502, or 504 past the
integration's 29 s).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from revisit_dev.processes import rss_bytes
from revisit_dev.template import ACCOUNT_ID, Function
from revisit_dev.worker import write_frame

log = logging.getLogger(__name__)

# Lambda gives INIT 10 s; a loaded 2-core machine starting every function at once needs more.
INIT_TIMEOUT = float(os.environ.get("REVISIT_INIT_TIMEOUT", "60"))
# At most one INIT per core at a time: 17 imports of boto3, Powertools and pydantic side by side
# on 2 cores took 22-32 s each; in turn, the first ones are ready in about a second.
_INITS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))


class FunctionError(RuntimeError):
    """The function failed: an unhandled error, a crash of its runtime, or a timeout."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


class FunctionTimeout(FunctionError):
    pass


class FunctionCrashed(FunctionError):
    pass


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    chunks, left = [], size
    while left:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([fd], [], [], wait)[0]:
            raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class Container:
    """One worker process of one function. It ends when its request pipe closes, so also when the
    stack's process dies (no PR_SET_PDEATHSIG here: that fires when the *thread* that started the
    child ends, and containers are started from request threads)."""

    def __init__(self, fn: Function, env: Mapping[str, str], label: str) -> None:
        self.fn = fn
        self.label = label
        _INITS.acquire()  # released when its INIT ends (wait_ready) or it is closed
        self._init_slot = True
        request_r, self._to_worker = os.pipe()
        self._from_worker, response_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "revisit_dev.worker",
                    str(request_r),
                    str(response_w),
                    str(fn.handler_file),
                    fn.handler_name,
                ],
                env=dict(env),
                cwd=fn.code_dir,
                pass_fds=(request_r, response_w),
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            self._release_init_slot()
            raise
        finally:
            os.close(request_r)
            os.close(response_w)
        self.ready = False
        self._init_deadline = time.monotonic() + INIT_TIMEOUT

    def _release_init_slot(self) -> None:
        if self._init_slot:
            self._init_slot = False
            _INITS.release()

    def _frame(self, deadline: float) -> dict[str, Any]:
        header = _read_exactly(self._from_worker, 8, deadline)
        return json.loads(_read_exactly(self._from_worker, int.from_bytes(header, "big"), deadline + 5))

    def wait_ready(self) -> None:
        """Wait for the worker's INIT to end (its first frame)."""
        if self.ready:
            return
        try:
            self._frame(self._init_deadline)
        except TimeoutError:
            raise FunctionTimeout("Runtime.InitTimeout", f"{self.label}: INIT took over {INIT_TIMEOUT:.0f} s") from None
        except (EOFError, OSError, ValueError):  # OSError/ValueError: closed while the stack stops
            code = self.process.poll()
            message = f"{self.label}: the runtime exited during INIT ({code})"
            raise FunctionCrashed("Runtime.ExitError", message) from None
        finally:
            self._release_init_slot()
        self.ready = True

    def invoke(self, event: Any, timeout: float) -> Any:
        self.wait_ready()
        request_id = str(uuid.uuid4())
        frame = json.dumps({"requestId": request_id, "event": event, "timeout": timeout}).encode()
        try:
            write_frame(self._to_worker, frame)
        except OSError:
            raise FunctionCrashed("Runtime.ExitError", f"{self.label}: the runtime exited") from None
        try:
            answer = self._frame(time.monotonic() + timeout)
        except TimeoutError:  # (an OSError: first)
            raise FunctionTimeout("Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds") from None
        except (OSError, ValueError):  # its pipes were closed: the stack is stopping
            raise FunctionCrashed("Runtime.ExitError", f"{self.label}: the runtime exited") from None
        except EOFError:
            code = self.process.poll()
            raise FunctionCrashed("Runtime.ExitError", f"{self.label}: the runtime exited ({code})") from None
        if answer.get("ok"):
            return answer.get("result")
        raise FunctionError(str(answer.get("errorType")), str(answer.get("errorMessage")))

    def rss_bytes(self) -> int:
        return rss_bytes(self.process.pid)

    def close(self, kill: bool = False) -> None:
        """End the worker: a closed request pipe ends its loop (``kill``: at once)."""
        self._release_init_slot()
        for fd in (self._to_worker, self._from_worker):
            with contextlib.suppress(OSError):
                os.close(fd)
        if kill:
            self.process.kill()

    def wait(self, timeout: float = 5) -> None:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class FunctionPool:
    """Up to ``size`` warm containers of one function; an invocation takes an idle one, starts a
    new one if none is idle and fewer than ``size`` exist, or else waits for one."""

    def __init__(self, fn: Function, env: Mapping[str, str], stack_name: str, region: str, size: int) -> None:
        self.fn = fn
        self.size = max(1, size)
        self.name = f"{stack_name}-{fn.logical_id}"
        self.arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{self.name}"
        self.env = dict(env) | {
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python_local",
            "REVISIT_FUNCTION_ARN": self.arn,
            "REVISIT_LOG_LABEL": fn.logical_id,
        }
        self._idle: list[Container] = []
        self._all: set[Container] = set()
        self._starting = 0
        self._cond = threading.Condition()
        self._closed = False

    def _acquire(self) -> Container:
        with self._cond:
            self._cond.wait_for(lambda: self._idle or len(self._all) + self._starting < self.size or self._closed)
            if self._closed:
                raise FunctionCrashed("Runtime.Shutdown", "the local stack is stopping")
            if self._idle:
                return self._idle.pop()
            self._starting += 1
        try:
            container = Container(self.fn, self.env, self.fn.logical_id)
        except BaseException:
            with self._cond:
                self._starting -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._starting -= 1
            self._all.add(container)
        return container

    def _release(self, container: Container) -> None:
        with self._cond:
            if self._closed:
                container.close()
                container.wait()
                return
            self._idle.append(container)
            self._cond.notify()

    def _discard(self, container: Container) -> None:
        container.close(kill=True)
        container.wait()
        with self._cond:
            self._all.discard(container)
            self._cond.notify()

    def invoke(self, event: Any, timeout: float | None = None) -> Any:
        """Run one invocation; ``timeout`` (seconds) defaults to the function's Timeout."""
        container = self._acquire()
        try:
            result = container.invoke(event, self.fn.timeout_seconds if timeout is None else timeout)
        except (FunctionTimeout, FunctionCrashed) as exc:
            log.error("%s: %s; its container is replaced", self.fn.logical_id, exc.message)
            self._discard(container)
            raise
        except BaseException:
            self._release(container)
            raise
        self._release(container)
        return result

    def warm(self) -> None:
        """Start one container, wait for its INIT, and make it the next one an invocation takes."""
        try:
            container = self._acquire()
        except FunctionError:
            return  # the stack is stopping
        try:
            container.wait_ready()
        except FunctionError as exc:
            if not self._closed:
                log.error("%s: %s", self.fn.logical_id, exc.message)
            self._discard(container)
            return
        self._release(container)

    @property
    def containers(self) -> int:
        return len(self._all)

    def rss_bytes(self) -> int:
        with self._cond:
            members = list(self._all)
        return sum(c.rss_bytes() for c in members)

    def close(self) -> list[Container]:
        """Stop taking invocations and close every container; returns them, to wait for."""
        with self._cond:
            self._closed = True
            members = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._cond.notify_all()
        for container in members:
            container.close()
        return members


class Functions:
    """Every function of the template, invoked by logical id."""

    def __init__(
        self,
        functions: list[Function],
        env_of: Mapping[str, Mapping[str, str]],
        stack_name: str,
        region: str,
        size: int,
    ) -> None:
        self.pools = {
            fn.logical_id: FunctionPool(fn, env_of[fn.logical_id], stack_name, region, size) for fn in functions
        }

    def invoke(self, logical_id: str, event: Any, timeout: float | None = None) -> Any:
        return self.pools[logical_id].invoke(event, timeout)

    def warm(self) -> None:
        """One container of each function, started now (an import error shows in the log)."""
        ready = []
        for pool in self.pools.values():
            if not Path(pool.fn.handler_file).is_file():
                log.warning("%s: %s does not exist; its routes answer 502", pool.fn.logical_id, pool.fn.handler_file)
                continue
            ready.append(pool)
        with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as executor:
            list(executor.map(FunctionPool.warm, ready))

    def rss_bytes(self) -> int:
        return sum(p.rss_bytes() for p in self.pools.values())

    def close(self, timeout: float = 5) -> None:
        """Close every container at once, then wait for them (a straggler is killed)."""
        closing = [c for pool in self.pools.values() for c in pool.close()]
        deadline = time.monotonic() + timeout
        for container in closing:
            container.wait(max(0.1, deadline - time.monotonic()))
