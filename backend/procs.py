"""How the backend starts its helper programs, in a source tree and in the frozen bundle alike."""

from __future__ import annotations

import socket
import sys


def module_command(module: str, *args: str) -> list[str]:
    """Command line that runs `python -m module args...`.

    The frozen bundle has no interpreter to call with -m: its executable accepts
    `_module NAME ARGS...` and runs the module itself (see packaging/).
    """
    if getattr(sys, "frozen", False):
        return [sys.executable, "_module", module, *args]
    return [sys.executable, "-m", module, *args]


def die_with_parent() -> None:
    """preexec_fn for helper programs: the kernel ends them if the backend dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_port(host: str, port: int, timeout: float, proc=None) -> bool:  # noqa: ANN001
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
