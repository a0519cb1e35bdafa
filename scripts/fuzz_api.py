"""Fuzz the backend's HTTP API with schemathesis against its own OpenAPI document.

    .venv/bin/python scripts/fuzz_api.py                 # full run: a fresh backend, 100 cases per route
    .venv/bin/python scripts/fuzz_api.py --examples 10   # quick (what the test suite runs)
    .venv/bin/python scripts/fuzz_api.py --base-url http://127.0.0.1:7777 --token T   # a running backend

Checks: no server error (5xx), every status code and content type documented, every response
body valid against the documented schema. Exit status 0 when schemathesis found nothing.
Prints schemathesis' own summary; the last line is ``fuzz: N cases, F failures, S s``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
ROOT = Path(__file__).resolve().parents[1]


def st_command() -> list[str]:
    exe = Path(sys.executable).parent / "st"
    return [str(exe)] if exe.exists() else [shutil.which("st") or "st"]


def wait_healthy(base_url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base_url + "/api/v1/health", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"fuzz: the backend at {base_url} did not become healthy")


def run(base_url: str, token: str, examples: int, seed: int, phases: str, workers: int) -> int:
    cmd = [*st_command(), "run", base_url + "/openapi.json", "-H", f"iThings-token: {token}",
           "--checks", CHECKS, "-n", str(examples), "--seed", str(seed), "--phases", phases,
           "--generation-database", "none", "--no-shrink", "-w", str(workers)]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ota-fuzz-st-") as scratch:  # schemathesis' own files go there
        out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, NO_COLOR="1"), cwd=scratch)
    print(out.stdout[-20000:], end="")
    print(out.stderr[-5000:], end="", file=sys.stderr)
    cases = re.search(r"(\d+) generated", out.stdout)
    failures = re.search(r"(\d+) (?:unique )?failures?", out.stdout.splitlines()[-1] if out.stdout else "")
    print(f"fuzz: {cases.group(1) if cases else '?'} cases, {failures.group(1) if failures else 0} failures, "
          f"{time.monotonic() - started:.0f} s")
    return out.returncode


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-url", help="a running backend (default: start a fresh one on free ports)")
    p.add_argument("--token", default=os.environ.get("OTA_ADMIN_TOKEN", ""))
    p.add_argument("--examples", type=int, default=100, help="cases per route (default %(default)s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--phases", default="examples,coverage,fuzzing")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    if args.base_url:
        return run(args.base_url.rstrip("/"), args.token, args.examples, args.seed, args.phases, args.workers)

    sys.path.insert(0, str(ROOT))
    from backend.procs import free_port

    token = "fuzz-" + os.urandom(12).hex()
    port, mqtt_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="ota-fuzz-") as data:
        backend = subprocess.Popen(
            [sys.executable, "-m", "backend", "--data-dir", data, "--http-port", str(port),
             "--mqtt-port", str(mqtt_port), "--log-level", "warning"],
            env=dict(os.environ, OTA_ADMIN_TOKEN=token), cwd=ROOT)
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_healthy(base_url)
            return run(base_url, token, args.examples, args.seed, args.phases, args.workers)
        finally:
            backend.terminate()
            try:
                backend.wait(20)
            except subprocess.TimeoutExpired:
                backend.kill()


if __name__ == "__main__":
    sys.exit(main())
