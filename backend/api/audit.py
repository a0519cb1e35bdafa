"""The audit log: every state-changing API call (who, from where, what, on what, how it ended).

``Gate`` (app.py) hands each authorised POST here; reads (index, read, analysis, preview,
exports, history) are not recorded. The body is kept as a short summary with secrets masked.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert

from ..db.models import AuditEntry, now_ms
from ..db.session import Database

#: the last path segment of routes that only read
READS = frozenset({"index", "read", "analysis", "preview", "device-index", "device-info-read", "waves", "export",
                   "history", "device-history", "key", "verify", "evidence", "devices"})
#: the token is the admin token (one per backend): its name
ACTOR = "admin"
_SECRET_KEYS = ("secret", "password", "token")
MAX_TARGET = 500


#: reads that are recorded all the same: each signs and hands out a file that leaves this machine
SIGNED_EXPORTS = frozenset({"/api/v1/things/ota/capsule/export", "/api/v1/things/ota/capsule/evidence"})


def audited(path: str) -> bool:
    if path in SIGNED_EXPORTS:
        return True
    return path.startswith("/api/") and path.rstrip("/").rsplit("/", 1)[-1] not in READS


def summary(body: bytes) -> str:
    """The request body as short JSON, secrets masked (``deviceSecret`` -> "***")."""
    try:
        doc = json.loads(body) if body else {}
    except ValueError:
        return f"(not JSON, {len(body)} bytes)"

    def mask(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: "***" if any(s in str(k).lower() for s in _SECRET_KEYS) else mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(v) for v in value[:20]] + ([f"... {len(value) - 20} more"] if len(value) > 20 else [])
        return value
    text = json.dumps(mask(doc), ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= MAX_TARGET else text[:MAX_TARGET - 1] + "…"


def record(db: Database, client: str, path: str, body: bytes, status: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(insert(AuditEntry).values(time=now_ms(), actor=ACTOR, client=client[:64], action=path[:128],
                                               target=summary(body), status=status))
