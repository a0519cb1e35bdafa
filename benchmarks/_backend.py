"""The real backend as a benchmark's subject: started in a temporary directory, its ready line read,
stopped with the warnings (and the first traceback) of its log shown.

    backend = BenchBackend(tmp, token, database_url="")   # starts it
    try:
        ... backend.base, backend.mqtt_port, backend.proc ...
    finally:
        backend.stop()
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def line_reader(stream: Any) -> queue.Queue[str]:
    """Lines of a text stream on a daemon thread ('' once it ends), so waits can have deadlines."""
    q: queue.Queue[str] = queue.Queue()

    def run() -> None:
        for line in stream:
            q.put(line)
        q.put("")
    threading.Thread(target=run, daemon=True).start()
    return q


def next_line(q: queue.Queue[str], timeout: float, what: str) -> str:
    try:
        line = q.get(timeout=timeout)
    except queue.Empty:
        raise SystemExit(f"no {what} within {timeout:.0f} s") from None
    if not line:
        raise SystemExit(f"{what}: the process ended")
    return line


class BenchBackend:
    """``python -m backend`` on free ports with a data directory under ``tmp``; the constructor
    returns once it printed its ready line (``base``: its HTTP URL, ``mqtt_port``)."""

    def __init__(self, tmp: Path, token: str, database_url: str = "", deadline: float = 60.0) -> None:
        data = tmp / "data"
        data.mkdir()
        self.stderr_path = tmp / "backend.stderr"
        cmd = [sys.executable, "-m", "backend", "--data-dir", str(data), "--http-port", "0", "--mqtt-port", "0",
               "--log-level", "warning"] + (["--database-url", database_url] if database_url else [])
        with self.stderr_path.open("w") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT,
                                         env=dict(os.environ, OTA_ADMIN_TOKEN=token))
        assert self.proc.stdout is not None  # stdout=PIPE
        try:
            parts = next_line(line_reader(self.proc.stdout), deadline, "backend ready line").split()
        except BaseException:
            self.stop()
            raise
        self.base = next(p for p in parts if p.startswith("http://"))
        self.mqtt_port = int(next(p for p in parts if p.startswith("mqtt://")).rsplit(":", 1)[1])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        err_lines = self.stderr_path.read_text(errors="replace").splitlines() if self.stderr_path.exists() else []
        warnings = [ln.rstrip() for ln in err_lines if "WARNING" in ln or "ERROR" in ln]
        if any("Traceback" in ln for ln in err_lines):
            first = next(i for i, ln in enumerate(err_lines) if "Traceback" in ln)
            print("backend stderr, the first traceback:\n    " + "\n    ".join(err_lines[first:first + 300][-25:]))
        if warnings:
            print(f"backend stderr: {len(warnings)} warning/error lines, the last:")
            for ln in warnings[-5:]:
                print("   ", ln[:300])
