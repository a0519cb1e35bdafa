"""schemathesis against the served OpenAPI document, with the token: a bounded run.

The full run (100 cases per route, every phase) is ``scripts/fuzz_api.py``; this one keeps
the suite honest in a minute or two: no 5xx, no undocumented status or content type, every
body valid against its documented schema.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(600)
def test_schemathesis_finds_no_server_error_and_no_schema_violation() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "fuzz_api.py"), "--examples", "8",
                          "--phases", "coverage,fuzzing", "--seed", "7"],
                         capture_output=True, text=True, timeout=580, cwd=ROOT)
    summary = [line for line in out.stdout.splitlines() if line.startswith("fuzz: ")]
    assert summary, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.returncode == 0, out.stdout[-6000:]
    assert " 0 failures" in summary[-1]
