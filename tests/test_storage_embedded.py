"""The embedded object store (nanio run by the backend) across a stop and a restart.

Presigned URLs are bound to the store's host:port, which the backend keeps in the data dir,
so a file URL handed out before a restart must keep working after it; and stopping the
backend (SIGTERM, as the desktop app and service managers do) must stop its store and broker.
"""

from __future__ import annotations

import hashlib
import secrets
import time

import psutil
import pytest

from tests.test_api_routes import FIRMWARE, UPLOAD, make_firmware, make_product

pytestmark = [pytest.mark.timeout(120)]

def _children(bp) -> list[psutil.Process]:
    return psutil.Process(bp.proc.pid).children(recursive=True)


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _reap(procs: list[psutil.Process]) -> None:
    """Stop the store/broker processes a failed shutdown left behind (only those, by pid)."""
    for p in _alive(procs):
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(_alive(procs), timeout=10)


@pytest.fixture
def leftovers():
    """Request it before start_backend: torn down after the backends have been stopped."""
    procs: list[psutil.Process] = []
    yield procs
    _reap(procs)


def test_sigterm_stops_store_and_broker(leftovers, start_backend):
    bp = start_backend()
    children = _children(bp)
    leftovers.extend(children)
    names = " ".join(" ".join(p.cmdline()) for p in children)
    assert "nanio" in names and "mosquitto" in names, names
    assert bp.stop() == 0  # a clean exit stops its children before it returns
    deadline = time.monotonic() + 3
    while _alive(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(children), [" ".join(p.cmdline()) for p in _alive(children)]


def test_objects_survive_a_restart(leftovers, start_backend):
    bp = start_backend("keep")
    leftovers.extend(_children(bp))
    api = bp.api()
    pid = make_product(api)
    blob = secrets.token_bytes(123_456)
    fw_id = make_firmware(api, pid, "1.0.0", {"fw.bin": blob})
    api.close()
    bp.stop()

    bp2 = start_backend("keep")
    leftovers.extend(_children(bp2))
    api = bp2.api()
    try:
        f = api.ok(FIRMWARE + "read", {"firmwareID": fw_id})["files"][0]
        assert f["size"] == len(blob) and f["signature"] == hashlib.md5(blob).hexdigest()
        r = api.http.get(f["uri"])
        assert r.status_code == 200 and r.content == blob
    finally:
        api.close()


def test_urls_handed_out_before_a_restart_still_work(leftovers, start_backend):
    bp = start_backend("urls")
    leftovers.extend(_children(bp))
    api = bp.api()
    pid = make_product(api)
    blob = secrets.token_bytes(54_321)
    fw_id = make_firmware(api, pid, "1.0.0", {"fw.bin": blob})
    uri = api.ok(FIRMWARE + "read", {"firmwareID": fw_id})["files"][0]["uri"]
    pending = api.ok(UPLOAD, {"business": "productManage", "scene": "ota", "filePath": "x/later.bin", "rename": True})
    api.close()
    bp.stop()

    bp2 = start_backend("urls")
    leftovers.extend(_children(bp2))
    api = bp2.api()
    try:
        r = api.http.get(uri)  # what a device got in its push before the restart
        assert r.status_code == 200 and r.content == blob
        assert api.http.put(pending["uploadUri"], content=b"uploaded after the restart").status_code == 200
        fw2 = api.ok(FIRMWARE + "create", {"name": "n", "productID": pid, "version": "1.0.1",
                                           "files": [{"filePath": pending["filePath"], "name": "later.bin"}]})
        assert api.ok(FIRMWARE + "read", {"firmwareID": fw2["firmwareID"]})["files"][0]["size"] == 26
    finally:
        api.close()


def test_unclaimed_uploads_are_removed_after_their_age(start_backend):
    """Uploads no firmware claims go after temp_object_max_age_s (a day by default; 2 s here)."""
    import time

    from tests._ota_helpers import make_product, seed_firmware, upload
    backend = start_backend(env={"OTA_TEMP_OBJECT_MAX_AGE_S": "2"})
    api = backend.api()
    pid = make_product(api)
    fw_id, contents = seed_firmware(api, pid)  # claimed: copied to the private bucket
    orphan = upload(api, b"nobody claims me", "orphan.zip")

    time.sleep(2 + 1.5)  # older than the limit, and one cleanup pass (every limit/2) later
    code, doc = api.call("/api/v1/things/ota/firmware/create", {
        "name": "late", "productID": pid, "version": "9.9.9", "files": [{"filePath": orphan, "name": "o.zip"}]})
    assert code == 400 and "no uploaded object" in doc["msg"], doc
    files = api.ok("/api/v1/things/ota/firmware/read", {"firmwareID": fw_id})["files"]
    assert {f["name"]: api.http.get(f["uri"]).content for f in files} == contents  # firmware files stay
    api.close()
