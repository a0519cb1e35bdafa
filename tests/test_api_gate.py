"""The gate every HTTP request passes: size limits, the token, LAN brute-force brake, open docs.

In-process (FastAPI's test client, no server, no broker): every case here is refused or
answered before a route touches the database.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from backend.app import FailedLogins, create_app
from backend.config import ConfigError, Settings, lan_token_problem, load_settings

TOKEN = "gate-test-token-0123456789abcdef"
INDEX = "/api/v1/things/product/info/index"


def client(**settings) -> TestClient:
    s = Settings(**settings)
    runtime = SimpleNamespace(settings=s, admin_token=TOKEN, link=None, dispatcher=None, events=None)
    return TestClient(create_app(runtime), client=("192.0.2.7", 5555))


def envelope(resp, status: int, code: int, *words: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == code and set(body) == {"code", "msg"}
    for w in words:
        assert w in body["msg"]


def test_body_over_the_limit_is_a_413_before_the_route_reads_it() -> None:
    c = client(max_body_bytes=4096)
    big = b'{"productName":"' + b"x" * 5000 + b'"}'
    envelope(c.post(INDEX, content=big, headers={"iThings-token": TOKEN}), 413, 100006, "body", "4096")
    # the same without Content-Length (chunked): counted while reading

    def chunks():
        for _ in range(10):
            yield b"x" * 1000
    envelope(c.post(INDEX, content=chunks(), headers={"iThings-token": TOKEN}), 413, 100006, "body")


def test_unauthenticated_big_body_is_a_401_not_read() -> None:
    c = client(max_body_bytes=4096)
    envelope(c.post(INDEX, content=b"x" * 10_000), 401, 100004, "token")


def test_header_block_over_the_limit_is_a_431() -> None:
    c = client(max_header_bytes=2048)
    envelope(c.post(INDEX, json={}, headers={"iThings-token": TOKEN, "X-Junk": "y" * 3000}), 431, 100006, "headers")


def test_openapi_and_docs_need_no_token_and_load_nothing_from_outside() -> None:
    c = client()
    doc = c.get("/openapi.json")
    assert doc.status_code == 200 and doc.json()["info"]["title"]
    page = c.get("/docs")
    assert page.status_code == 200
    assert "/docs/static/swagger-ui-bundle.js" in page.text and "cdn" not in page.text.lower()
    js = c.get("/docs/static/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000


def test_wrong_tokens_on_a_lan_backend_are_slowed_down() -> None:
    c = client(lan=True, admin_token=TOKEN)
    for _ in range(10):
        envelope(c.post(INDEX, json={}, headers={"iThings-token": "guess"}), 401, 100005)
    envelope(c.post(INDEX, json={}, headers={"iThings-token": "guess"}), 429, 100005, "too many")
    # even the right token waits out the window from that address
    envelope(c.post(INDEX, json={}, headers={"iThings-token": TOKEN}), 429, 100005)


def test_failed_logins_window_and_addresses() -> None:
    now = [0.0]
    fl = FailedLogins(limit=3, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        fl.failed("10.0.0.1")
    assert fl.blocked("10.0.0.1") and not fl.blocked("10.0.0.2")
    now[0] = 59.9
    assert fl.blocked("10.0.0.1")
    now[0] = 60.0
    assert not fl.blocked("10.0.0.1")


@pytest.mark.parametrize("token,ok", [
    ("", False), ("x", False), ("a" * 40, False), ("abcabcabcabcabcabcabcabc", False),
    ("0123456789abcdefghijklm", False),  # 23 characters
    ("Zq3-vX9_pL2mN8rT4yW6kJ1h", True),
])
def test_lan_token_rules(token: str, ok: bool) -> None:
    assert (lan_token_problem(token) == "") is ok
    env = {"OTA_LAN": "1", "OTA_ADMIN_TOKEN": token}
    if ok:
        assert load_settings(environ=env).lan
    else:
        with pytest.raises(ConfigError, match="admin_token"):
            load_settings(environ=env)


def test_loopback_backend_keeps_any_token() -> None:
    assert load_settings(environ={"OTA_ADMIN_TOKEN": "secret"}).admin_token == "secret"


def test_openapi_document_tells_the_truth() -> None:
    from backend.api.openapi import FILES, OPEN, REPLIES

    doc = client().get("/openapi.json").json()
    ops = {(m, path): op for path, item in doc["paths"].items() for m, op in item.items()}
    routes = {k for k in ops if k != ("get", "/api/v1/things/ota/events")}
    assert routes == set(REPLIES) | set(FILES), "every route needs its reply in backend/api/openapi.py (and only those)"
    for key, types in FILES.items():
        assert set(ops[key]["responses"]["200"]["content"]) == set(types), key
    assert {"iThingsToken", "bearer"} <= set(doc["components"]["securitySchemes"])
    for key, op in ops.items():
        assert "422" not in op["responses"], key
        assert op["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorReply")
        assert ("security" in op and op["security"] == []) == (key in OPEN), key
        if key in REPLIES:
            schema = op["responses"]["200"]["content"]["application/json"]["schema"]
            assert schema["$ref"].startswith("#/components/schemas/")
    for name in ("HTTPValidationError", "ValidationError"):
        assert name not in doc["components"]["schemas"]
    read = doc["components"]["schemas"]["OtaTaskReadReply"]
    assert read["required"] == ["code", "msg", "data"]


def test_database_failures_name_a_full_disk() -> None:
    from sqlalchemy.exc import OperationalError

    from backend.api.common import database_problem

    full = OperationalError("INSERT ...", {}, Exception("database or disk is full"))
    assert database_problem(full) == (507, "database: disk full")
    locked = OperationalError("INSERT ...", {}, Exception("database is locked"))
    assert database_problem(locked) == (500, "database error")
