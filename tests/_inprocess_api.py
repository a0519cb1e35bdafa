"""The backend's routes in-process: FastAPI's test client over the real engine of a test world
(tests/_engine_world.py) and its SQLite database; no server, broker or store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from backend.api.capsules import check_task
from backend.app import create_app
from backend.capsule.keys import Identity
from backend.capsule.service import Capsules
from backend.config import Settings

from ._engine_world import World

TOKEN = "inprocess-test-token-0123456789abcdef"
T = "/api/v1/things/ota/task/"


@contextmanager
def api_client(world: World, identity: Identity | None = None) -> Iterator[TestClient]:
    """A client sending the token; ``client.world`` and ``client.engine`` are what it talks to.
    ``client.capsules`` works without an object store (trust, evidence, drafts, key)."""
    ident = identity or Identity(Ed25519PrivateKey.generate(), "session")
    runtime = SimpleNamespace(settings=Settings(admin_token=TOKEN), admin_token=TOKEN, link=None, dispatcher=None,
                              events=None, db=world.db, engine=world.engine())
    runtime.capsules = Capsules(world.db, None, None, ident, check_task, now=lambda: world.clock.now / 1000)  # type: ignore[arg-type]
    with TestClient(create_app(runtime), headers={"iThings-token": TOKEN}) as c:
        c.world = world  # type: ignore[attr-defined]
        c.engine = runtime.engine  # type: ignore[attr-defined]
        c.capsules = runtime.capsules  # type: ignore[attr-defined]
        yield c


def ok(resp) -> dict:
    """The ``data`` of a 200 envelope (fails with the answer otherwise)."""
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["code"] == 200, body
    return body.get("data")
