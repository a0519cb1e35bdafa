"""Field conditions of the object store (issue "Field conditions", finding 6), on a real backend.

- a hung store (SIGSTOP): health names objectStore within seconds, the proxy answers a 504
  envelope after its read timeout, both recover after SIGCONT;
- a killed store: the proxy answers a 502 envelope, health is unhealthy, the supervisor restarts
  the store on its old port and health recovers;
- a full disk (a tiny tmpfs as the data dir): uploads and firmware create answer JSON naming the
  disk, health's disk check fails, the cleanup route frees unclaimed uploads;
- orphan temporary files of the embedded store are removed at start and by the periodic pass.

The figures (time to detect, time to recover) are printed; run with ``-s`` to see them.
SQLite only: these faults are the store's and the disk's, not the database kind's.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests._ota_helpers import make_product, seed_firmware, upload
from tests._wait import wait_for

pytestmark = [pytest.mark.timeout(180)]

FIRMWARE = "/api/v1/things/ota/firmware/"
CLEANUP = "/api/v1/system/common/upload-url/cleanup"


@pytest.fixture
def database_url() -> str:
    return ""  # SQLite in the data dir


def _store(bp) -> psutil.Process:
    procs = [p for p in psutil.Process(bp.proc.pid).children(recursive=True) if "nanio" in " ".join(p.cmdline())]
    assert len(procs) == 1, procs
    return procs[0]


def _health(api) -> tuple[dict, float]:
    start = time.monotonic()
    r = api.http.get("/api/v1/health", timeout=10)
    took = time.monotonic() - start
    assert r.status_code == 200, r.text  # never anything else: the desktop reads it as "backend lost"
    return r.json()["data"], took


def _wait_health(api, healthy: bool, within: float, part: str = "objectStore") -> tuple[dict, float]:
    """Poll until ``checks[part].ok`` is ``healthy`` (and the whole too when healthy); the seconds it took."""
    start = time.monotonic()

    def settled() -> dict | None:
        data, took = _health(api)
        assert took < 4.5, f"health took {took:.1f} s"
        return data if data["checks"][part]["ok"] == healthy and (not healthy or data["healthy"]) else None

    data = wait_for(settled, within, 0.25, f"{part} ok={healthy}")
    return data, time.monotonic() - start


def _envelope(r, status: int, *words: str) -> dict:
    assert r.status_code == status, (r.status_code, r.headers.get("content-type"), r.text[:300])
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"code", "msg"} and isinstance(body["code"], int), body
    for w in words:
        assert w in body["msg"], body
    return body


def _file_uri(api, pid: str) -> tuple[str, bytes]:
    fw_id, contents = seed_firmware(api, pid)
    f = api.ok(FIRMWARE + "read", {"firmwareID": fw_id})["files"][0]
    return f["uri"], contents[f["name"]]


def test_health_reports_each_part_in_order(start_backend):
    bp = start_backend()
    api = bp.api()
    try:
        data, took = _health(api)
        assert {"version", "mqttConnected", "dispatcherAlive"} <= set(data)
        assert list(data["checks"]) == ["database", "objectStore", "broker", "dispatcher", "disk"]
        assert data["healthy"] is True, data
        for name, check in data["checks"].items():
            assert check["ok"] is True and isinstance(check["detail"], str), (name, check)
        assert data["checks"]["objectStore"]["latencyMs"] >= 0 and data["checks"]["database"]["latencyMs"] >= 0
        assert data["checks"]["disk"]["freeBytes"] > 0
        print(f"\nhealth: {took * 1000:.0f} ms, store round trip {data['checks']['objectStore']['latencyMs']} ms")
    finally:
        api.close()


def test_hung_store_is_noticed_and_the_proxy_times_out(start_backend):
    bp = start_backend(env={"OTA_PROXY_READ_TIMEOUT_S": "3"})
    api = bp.api()
    store = _store(bp)
    try:
        uri, blob = _file_uri(api, make_product(api))
        assert _health(api)[0]["healthy"] is True
        stopped = time.monotonic()
        store.send_signal(signal.SIGSTOP)
        try:
            data, detect = _wait_health(api, False, within=8)
            assert data["healthy"] is False and "objectStore" in [k for k, c in data["checks"].items() if not c["ok"]]
            assert data["checks"]["database"]["ok"] and data["checks"]["disk"]["ok"]
            start = time.monotonic()
            r = api.http.get(uri, timeout=30)
            took = time.monotonic() - start
            _envelope(r, 504, "object store", "no answer")
            assert took < 3 + 2, took
            time.sleep(max(0.0, 20 - (time.monotonic() - stopped)))
        finally:
            store.send_signal(signal.SIGCONT)
        _, recover = _wait_health(api, True, within=15)
        r = api.http.get(uri)
        assert r.status_code == 200 and r.content == blob
        print(f"\nSIGSTOP: unhealthy after {detect:.1f} s, proxy 504 after {took:.1f} s; "
              f"healthy {recover:.1f} s after SIGCONT")
        assert detect < 6
    finally:
        api.close()


def test_killed_store_is_a_502_and_restarted(start_backend):
    bp = start_backend()
    api = bp.api()
    try:
        uri, blob = _file_uri(api, make_product(api))
        old = _store(bp)
        assert _health(api)[0]["healthy"] is True
        time.sleep(2.2)  # the cached report has expired: the next one looks again
        killed = time.monotonic()
        old.kill()
        r = api.http.get(uri)
        _envelope(r, 502, "object store unreachable")
        data, _ = _health(api)
        assert data["healthy"] is False and not data["checks"]["objectStore"]["ok"], data
        assert "unreachable" in data["checks"]["objectStore"]["detail"], data
        _, _ = _wait_health(api, True, within=20)
        recover = time.monotonic() - killed
        assert _store(bp).pid != old.pid
        assert "embedded object store exited" in bp.log
        r = api.http.get(uri)  # the same URL: the store came back on its port
        assert r.status_code == 200 and r.content == blob
        print(f"\nkilled store: healthy again {recover:.1f} s after the kill (supervisor restart)")
    finally:
        api.close()


@pytest.fixture
def tiny_data_dir(tmp_path) -> Path:
    """An 8 MiB tmpfs as the data dir; request it before start_backend (unmounted after the backend)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path = tmp_path / "full"
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_full_disk_is_named_and_cleanup_frees_it(tiny_data_dir, start_backend):
    bp = start_backend("full")
    assert bp.data_dir == tiny_data_dir
    api = bp.api()
    try:
        data, _ = _health(api)
        assert data["healthy"] is False and data["checks"]["disk"]["ok"] is False, data
        assert "disk full" in data["checks"]["disk"]["detail"] and data["checks"]["disk"]["freeBytes"] < 8 << 20
        assert data["checks"]["objectStore"]["ok"] is True  # it still works, with little room

        pid = make_product(api)
        # an upload bigger than the disk: JSON naming the disk, not S3 XML or a dropped connection
        d = api.ok("/api/v1/system/common/upload-url/create",
                   {"business": "productManage", "scene": "ota", "filePath": "big/huge.bin"})
        r = api.http.put(d["uploadUri"], content=secrets.token_bytes(9 << 20))
        _envelope(r, 507, "object store: disk full")

        # an upload that fits, but not twice: the firmware's copy of it fills the disk
        path = upload(api, secrets.token_bytes(int(4.5 * (1 << 20))), "half.bin")
        code, body = api.call(FIRMWARE + "create", {"name": "n", "productID": pid, "version": "1.0.0",
                                                     "files": [{"filePath": path, "name": "half.bin"}]})
        assert code == 507 and "disk full" in body["msg"] and set(body) == {"code", "msg"}, (code, body)
        assert api.ok(FIRMWARE + "index", {"productID": pid})["total"] == 0  # nothing half made

        freed = api.ok(CLEANUP, {"olderThanSeconds": 0})
        assert freed["removedObjects"] == 1 and freed["freedBytes"] == int(4.5 * (1 << 20)), freed
        code, body = api.call(FIRMWARE + "create", {"name": "n", "productID": pid, "version": "1.0.0",
                                                     "files": [{"filePath": path, "name": "half.bin"}]})
        assert code == 400 and "no uploaded object" in body["msg"], body
        small = upload(api, b"fits again", "small.bin")  # there is room again
        api.ok(FIRMWARE + "create", {"name": "n", "productID": pid, "version": "1.0.1",
                                     "files": [{"filePath": small, "name": "small.bin"}]})
    finally:
        api.close()


def test_cleanup_route_frees_only_unclaimed_uploads(start_backend):
    bp = start_backend()
    api = bp.api()
    try:
        pid = make_product(api)
        fw_id, contents = seed_firmware(api, pid)  # claimed: its uploads are gone already
        orphan = upload(api, b"x" * 1000, "orphan.zip")
        assert api.ok(CLEANUP, {"olderThanSeconds": 3600})["removedObjects"] == 0  # too young
        code, _ = api.call(CLEANUP, {"olderThanSeconds": -1})
        assert code == 400
        freed = api.ok(CLEANUP, {})
        assert freed["removedObjects"] == 1 and freed["freedBytes"] == 1000, freed
        code, body = api.call(FIRMWARE + "create", {"name": "n", "productID": pid, "version": "2.0.0",
                                                     "files": [{"filePath": orphan, "name": "o.zip"}]})
        assert code == 400 and "no uploaded object" in body["msg"], body
        files = api.ok(FIRMWARE + "read", {"firmwareID": fw_id})["files"]
        assert {f["name"]: api.http.get(f["uri"]).content for f in files} == contents
        assert api.call(CLEANUP, {}, token=None)[0] == 401
    finally:
        api.close()


def _orphan(path: Path, size: int, age_s: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_orphan_temp_files_are_removed_at_start_and_periodically(start_backend):
    bp = start_backend("tmp", env={"OTA_STORE_TMP_MAX_AGE_S": "4"})
    api = bp.api()
    pid = make_product(api)
    kept = upload(api, b"an object whose name ends in .tmp", "kept.tmp")
    api.close()
    bp.stop()

    objects = bp.data_dir / "objects"
    at_start = [
        _orphan(objects / "ithings-private" / "productManage" / "ota" / f".tmp.{secrets.token_hex(16)}", 83_000, 3600),
        _orphan(objects / "ithings-temporary" / f".tmp.{secrets.token_hex(16)}", 1000, 5),
        _orphan(objects / "ithings-private" / ".nanio-meta" / "productManage" / "x.bin.json.tmp", 10, 3600),
        _orphan(objects / ".nanio" / "multipart" / "abc" / f"assembled.{secrets.token_hex(16)}.tmp", 10, 3600),
    ]
    bp2 = start_backend("tmp", env={"OTA_STORE_TMP_MAX_AGE_S": "4"})
    api = bp2.api()
    try:
        assert not [p for p in at_start if p.exists()], "orphans left after start"
        api.ok(FIRMWARE + "create", {"name": "n", "productID": pid, "version": "1.0.0",  # a real object stays
                                     "files": [{"filePath": kept, "name": "kept.tmp"}]})

        old = _orphan(objects / "ithings-temporary" / f".tmp.{secrets.token_hex(16)}", 1000, 3600)
        young = _orphan(objects / "ithings-temporary" / f".tmp.{secrets.token_hex(16)}", 1000, 0)
        deadline = time.monotonic() + 6
        while old.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not old.exists(), "the periodic pass did not remove an old orphan"
        assert young.exists(), "a temp file younger than the limit may be a write in progress"
    finally:
        api.close()


# ---- in-process: the outage log the engine reads ---------------------------------------------

class _FakeStore:
    def __init__(self) -> None:
        self.hang, self.fail = 0.0, None

    def probe(self, timeout: float) -> float:
        if self.fail:
            raise self.fail
        time.sleep(self.hang)
        return 1.0

    def upstream(self, raw: str) -> tuple[str, str]:
        from backend.procs import free_port
        port = free_port("127.0.0.1")  # nobody listens there
        return f"http://127.0.0.1:{port}" + raw[len("/api/v1/oss"):], f"127.0.0.1:{port}"

    def disk_full(self, need: int = 0) -> None:
        return None


def _runtime(tmp_path: Path, **settings):
    from types import SimpleNamespace

    from backend.config import Settings
    from backend.ota.outages import OutageLog
    return SimpleNamespace(settings=Settings(data_dir=tmp_path, **settings), store=_FakeStore(), db=None,
                           link=SimpleNamespace(connected=True), dispatcher=SimpleNamespace(alive=True),
                           outages=OutageLog(), admin_token="t", events=None)


def test_health_checks_are_bounded_and_report_outages(tmp_path) -> None:
    from backend.ota.outages import DISK, STORE
    from backend.storage.base import StoreError
    from backend.storage.health import HealthChecks

    rt = _runtime(tmp_path, min_free_disk_bytes=0)
    checks = HealthChecks(rt, timeout=0.5, cache_s=0.2)
    rt.store.hang = 5
    start = time.monotonic()
    report = checks.report()
    assert time.monotonic() - start < 1.0
    assert report["checks"]["objectStore"] == {"ok": False, "detail": "no answer within 0.5 s"}
    assert not report["checks"]["database"]["ok"]  # no database in this runtime
    assert [o.kind for o in rt.outages.ongoing()] == [STORE]
    assert checks.report() is report  # cached
    time.sleep(0.3)
    start = time.monotonic()
    again = checks.report()  # the hung probe is not started twice, and not waited for again
    assert time.monotonic() - start < 0.6 and not again["checks"]["objectStore"]["ok"]

    rt.store.hang, rt.store.fail = 0, StoreError("object store unreachable: ConnectError")
    time.sleep(5)  # the hung probe ends
    report = checks.report()
    assert report["checks"]["objectStore"] == {"ok": False, "detail": "object store unreachable: ConnectError"}
    rt.store.fail = None
    time.sleep(0.3)
    assert checks.report()["checks"]["objectStore"]["ok"] is True
    assert STORE not in [o.kind for o in rt.outages.ongoing()]

    rt.settings.min_free_disk_bytes = 1 << 60
    time.sleep(0.3)
    disk = checks.report()["checks"]["disk"]
    assert not disk["ok"] and "disk full" in disk["detail"] and disk["minFreeBytes"] == 1 << 60
    assert [o.kind for o in rt.outages.ongoing()] == [DISK]


def test_proxy_notes_an_unreachable_store(tmp_path) -> None:
    from fastapi.testclient import TestClient

    from backend.app import create_app
    from backend.ota.outages import PROXY_5XX

    rt = _runtime(tmp_path)
    with TestClient(create_app(rt)) as c:
        r = c.get("/api/v1/oss/ithings-private/a/b.bin?X-Amz-Signature=x")
    _envelope(r, 502, "object store unreachable")
    assert rt.outages.covers(time.time()).kind == PROXY_5XX
