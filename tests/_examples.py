"""The protocol's example payloads, kept in the repository under ``docs/examples/``.

One loader for every test: the same files ``docs/protocol.md`` shows, so the documented
payloads and the tested ones cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "docs" / "examples"


def example_bytes(name: str) -> bytes:
    return (EXAMPLES_DIR / name).read_bytes()


def example(name: str) -> dict[str, Any]:
    return json.loads(example_bytes(name).decode("utf-8"))
