"""Child processes of the local stack (DynamoDB Local, the containers) and of its tests."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from pathlib import Path


def terminate(process: subprocess.Popen | None, timeout: float = 15) -> int | None:
    """SIGTERM, as Ctrl-C would, then SIGKILL after ``timeout`` s; returns the exit code."""
    if process is None:
        return None
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def rss_bytes(pid: int) -> int:
    """A process's resident memory (0 when it is gone or this is not Linux)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def die_with_parent() -> None:
    """In a child before exec (Linux): SIGTERM when the thread that started it ends — for the
    stack, its main thread, so also when the stack is killed with -9."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not Linux: the stack's stop() still ends it
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
