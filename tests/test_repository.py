"""The repository is the whole product: nothing in it reaches for files beside the checkout.

Users, packagers and forks have only a clone. A path that climbs out of it (to a sibling
folder holding the upstream spec, say) works on one machine and breaks on every other.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Spelled in pieces so this file does not match its own patterns.
_SIBLING = "sha" + "red"
OUTSIDE = re.compile(
    r"\.\./" + _SIBLING + r"\b"                         # ../<sibling>/...
    r"|parents?\s*(\[\s*\d+\s*\])?\s*/\s*[\"']" + _SIBLING + r"[\"']"  # parent / "<sibling>"
    r"|[\"']" + _SIBLING + r"[\"']\s*/\s*[\"']spec[\"']"  # "<sibling>" / "spec"
)


def tracked_text_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout (e.g. an unpacked source archive)")
    files = [ROOT / name for name in out.decode().split("\0") if name]
    return [f for f in files if f.is_file() and f.suffix not in {".png", ".ico", ".qm", ".gz"}]


def test_nothing_reads_or_names_a_path_outside_the_repository() -> None:
    offenders = []
    for path in tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert not offenders, "paths outside the repository:\n" + "\n".join(offenders)


def test_the_pattern_catches_what_it_is_meant_to() -> None:
    for bad in ("see ../" + _SIBLING + "/spec/ota-protocol.md",
                "ROOT.parent / \"" + _SIBLING + "\" / \"spec\"",
                "Path(__file__).parents[2] / '" + _SIBLING + "' / 'spec'"):
        assert OUTSIDE.search(bad), bad
    assert not OUTSIDE.search("shared_backend, shared_connections=3, a shared library")


def test_example_payloads_live_in_the_repository() -> None:
    from tests._examples import EXAMPLES_DIR, example

    names = sorted(p.name for p in EXAMPLES_DIR.glob("*.json"))
    assert "mqtt-up-report.json" in names and "task-create.request.json" in names
    for name in names:
        assert isinstance(example(name), dict), name
    protocol = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    missing = [n for n in names if f"examples/{n}" not in protocol]
    assert not missing, f"docs/protocol.md does not show {missing}"
