"""Benchmark: cold start of the backend and of the desktop app, each under 3 s.

1. backend: ``python -m backend`` with a fresh temporary data directory (embedded Mosquitto and
   nanio object store, SQLite: migrations, buckets and broker credentials made from nothing),
   from spawn to its "ready" line (printed once the HTTP server accepts connections, after
   ``Runtime.serving()``), checked with ``GET /api/v1/health``; then the same again on the data
   directory of the first start (a restart).
2. desktop: ``python -m ota_desktop`` offscreen with temporary HOME/XDG directories and settings
   choosing a remote backend (an unused 127.0.0.1 port), so it does NOT start a backend of its
   own: from spawn to the window shown (``OTA_DESKTOP_READY_MARKER`` makes it print a line from
   the first turn of its event loop after ``window.show()``).

Baselines, same run: ``python -c pass`` (the interpreter) and a bare PySide6 window (import
QtWidgets, show an empty QWidget, print from the first loop turn).

    .venv/bin/python benchmarks/cold_start.py [--runs 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Figure, add_common_args, emit  # noqa: E402

GOAL_S = 3.0
BARE_WINDOW = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication(sys.argv)
w = QWidget()
w.resize(1280, 800)
w.show()
QTimer.singleShot(0, lambda: (print("OTA_DESKTOP_READY", flush=True), app.quit()))
app.exec()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTA_", "XDG_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"), XDG_RUNTIME_DIR=str(home / "run"),
               QT_QPA_PLATFORM="offscreen")
    for d in ("config", "data", "cache", "run"):
        (home / d).mkdir(parents=True, exist_ok=True)
    (home / "run").chmod(0o700)
    return env


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def time_to_line(cmd: list[str], env: dict[str, str], marker: str, timeout: float = 60.0,
                 log: Path | None = None) -> tuple[float, subprocess.Popen, str]:
    """Spawn ``cmd``; seconds until a stdout line containing ``marker`` (the process keeps running)."""
    err = open(log, "wb") if log is not None else None  # the child keeps its own copy
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=err if err is not None else subprocess.DEVNULL, text=True)
    finally:
        if err is not None:
            err.close()
    found: list[tuple[float, str]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if marker in line and not found:
                found.append((time.perf_counter() - t0, line.strip()))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    end = t0 + timeout
    while not found and time.perf_counter() < end and proc.poll() is None:
        time.sleep(0.002)
    if not found:
        time.sleep(0.05)
    if not found:
        stop(proc)
        detail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
        raise RuntimeError(f"{cmd[2:4]}: no {marker!r} line within {timeout:.0f} s (exit {proc.returncode})\n{detail}")
    return found[0][0], proc, found[0][1]


def python_pass(env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - t0


def bare_window(env: dict[str, str]) -> float:
    seconds, proc, _ = time_to_line([sys.executable, "-c", BARE_WINDOW], env, "OTA_DESKTOP_READY")
    proc.wait(20)
    return seconds


VERBOSE = False


def phases(log: Path, spawned: float, seconds: float) -> str:
    """The backend's log lines up to "ready", as seconds after the spawn (--verbose)."""
    out = []
    for text in log.read_text(errors="replace").splitlines():
        try:
            at = datetime.strptime(text[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp() - spawned
        except ValueError:
            continue
        if at <= seconds + 0.05:
            out.append(f"      {at:5.2f} s {text[24:130]}")
    return "\n".join([*out, f"      {seconds:5.2f} s ready"])


def backend_start(env: dict[str, str], data_dir: Path, log: Path) -> float:
    cmd = [sys.executable, "-m", "backend", "--data-dir", str(data_dir), "--http-port", "0", "--mqtt-port", "0"]
    spawned = time.time()
    seconds, proc, line = time_to_line(cmd, env, " ready ", log=log)
    if VERBOSE:
        print(phases(log, spawned, seconds), flush=True)
    try:
        url = line.split(" ready ", 1)[1].split()[0]
        with urllib.request.urlopen(url + "/api/v1/health", timeout=10) as r:  # 127.0.0.1 only
            if r.status != 200:
                raise RuntimeError(f"health answered HTTP {r.status}")
    finally:
        stop(proc)
    return seconds


def desktop_start(env: dict[str, str], home: Path, log: Path) -> float:
    conf = home / "config" / "ota-desktop" / "OTA Desktop.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    # a remote backend on a port nobody listens on: the app starts no backend of its own; no
    # keyring in the temporary HOME: the remembered "session-only secrets" answer skips the question
    conf.write_text(f"[backend]\nmode=remote\nremote_url=http://127.0.0.1:{free_port()}\n\n"
                    "[secrets]\nsession_only_remembered=true\n", encoding="utf-8")
    env = env | {"OTA_DESKTOP_READY_MARKER": "1"}
    seconds, proc, _ = time_to_line([sys.executable, "-m", "ota_desktop"], env, "OTA_DESKTOP_READY", log=log)
    stop(proc)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap, runs=3)
    ap.add_argument("--keep-logs", action="store_true", help="print where the processes' logs are kept")
    ap.add_argument("--verbose", action="store_true", help="the backend's start-up log, as seconds after spawn")
    args = ap.parse_args()
    global VERBOSE
    VERBOSE = args.verbose
    runs = 1 if args.quick else args.runs
    tmp = Path(tempfile.mkdtemp(prefix="ota-bench-cold-"))
    try:
        env = clean_env(tmp / "home")
        python_pass(env)  # warm the OS file cache: "cold" is a fresh process, not a cold disk
        py_s, bare_s, fresh_s, restart_s, desk_s = [], [], [], [], []
        for n in range(runs):
            py_s.append(python_pass(env))
            bare_s.append(bare_window(env))
            data = tmp / f"data-{n}"
            fresh_s.append(backend_start(env, data, tmp / f"backend-{n}.log"))
            restart_s.append(backend_start(env, data, tmp / f"backend-{n}-restart.log"))
            home = tmp / f"desk-{n}"
            desk_s.append(desktop_start(clean_env(home), home, tmp / f"desktop-{n}.log"))
            print(f"run {n + 1}: python -c pass {py_s[-1]:.2f} s, bare PySide6 window {bare_s[-1]:.2f} s, "
                  f"backend fresh {fresh_s[-1]:.2f} s, restart {restart_s[-1]:.2f} s, desktop {desk_s[-1]:.2f} s",
                  flush=True)
        figures = [
            Figure("cold start: backend spawn → ready (HTTP answering)", "fresh data dir, embedded broker + store",
                   fresh_s, "s", goal=f"< {GOAL_S:g} s", met=sorted(fresh_s)[len(fresh_s) // 2] < GOAL_S,
                   baseline="python -c pass", baseline_runs=py_s),
            Figure("cold start: backend restart → ready", "existing data dir, embedded broker + store",
                   restart_s, "s", goal=f"< {GOAL_S:g} s", met=sorted(restart_s)[len(restart_s) // 2] < GOAL_S,
                   baseline="python -c pass", baseline_runs=py_s),
            Figure("cold start: desktop spawn → main window shown", "offscreen, remote backend (none started)",
                   desk_s, "s", goal=f"< {GOAL_S:g} s", met=sorted(desk_s)[len(desk_s) // 2] < GOAL_S,
                   baseline="bare PySide6 window", baseline_runs=bare_s),
        ]
        emit(figures, args.json)
        if args.keep_logs:
            print(f"logs kept in {tmp}")
    finally:
        if not args.keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
