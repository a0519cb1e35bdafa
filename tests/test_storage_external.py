"""The external-store path: nanio as a separate server process on 127.0.0.1.

The backend is started with `--storage-endpoint/--storage-access-key` and the secret in
OTA_STORAGE_SECRET_KEY, exactly as a user would point it at MinIO or Ceph; it must then not
start its embedded store, and every byte must land in (and come from) the external server.
`backend.storage.s3.S3Store` is also exercised directly against that server.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from backend.procs import free_port, wait_for_port
from backend.storage.base import PRIVATE_BUCKET, TEMPORARY_BUCKET, ObjectMissing
from backend.storage.s3 import S3Store
from tests.test_api_routes import FIRMWARE, UPLOAD, make_product, private_keys, settled, upload

pytestmark = [pytest.mark.timeout(120)]


class ExternalNanio:
    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        self.access_key = "ext-" + secrets.token_hex(4)
        self.secret_key = secrets.token_urlsafe(24)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> ExternalNanio:
        env = dict(os.environ, NANIO_ACCESS_KEY=self.access_key, NANIO_SECRET_KEY=self.secret_key)
        self.log = open(self.root / "nanio.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nanio", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", str(self.root / "data"), "--no-access-log", "--log-level", "warning"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not wait_for_port("127.0.0.1", self.port, 30, self.proc):
            self.stop()
            raise RuntimeError("nanio did not start:\n" + (self.root / "nanio.log").read_text(errors="replace"))
        return self

    def store(self) -> S3Store:
        return S3Store(self.endpoint, self.access_key, self.secret_key)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def nanio_server(tmp_path_factory):
    server = ExternalNanio(tmp_path_factory.mktemp("external-nanio")).start()
    yield server
    server.stop()


@pytest.fixture
def store(nanio_server) -> S3Store:
    s = nanio_server.store()
    s.ensure_buckets()
    return s


def _backend_on(start_backend, server: ExternalNanio, secret: str | None = None, name: str = "backend"):
    return start_backend(name, extra_args=["--storage-endpoint", server.endpoint,
                                           "--storage-access-key", server.access_key],
                         env={"OTA_STORAGE_SECRET_KEY": secret or server.secret_key})


# ---- the backend on an external store -------------------------------------------------------------

def test_backend_with_external_store(start_backend, nanio_server):
    bp = _backend_on(start_backend, nanio_server)
    assert not (bp.data_dir / "objects").exists() and not (bp.data_dir / "objects.json").exists(), \
        "the embedded store was started although an external one is configured"
    ext = nanio_server.store()
    api = bp.api()
    try:
        pid = make_product(api)
        got = api.ok(UPLOAD, {"business": "productManage", "scene": "ota", "filePath": f"{pid}/fw.zip",
                              "rename": True})
        assert got["uploadUri"].startswith("/api/v1/oss/ithings-temporary/" + got["filePath"] + "?")
        assert f"X-Amz-Credential={nanio_server.access_key}%2F" in got["uploadUri"]

        blob = secrets.token_bytes(2 * 1024 * 1024 + 3)
        assert api.http.put(got["uploadUri"], content=blob).status_code == 200
        assert ext.digest(TEMPORARY_BUCKET, got["filePath"]).md5 == hashlib.md5(blob).hexdigest()

        second = secrets.token_bytes(777)
        fw_id = api.ok(FIRMWARE + "create", {
            "name": "ext", "productID": pid, "version": "1.0.0", "signMethod": "sha256",
            "files": [{"filePath": got["filePath"], "name": "fw.zip"},
                      {"filePath": upload(api, second), "name": "extra.zip"}]})["firmwareID"]
        fw = api.ok(FIRMWARE + "read", {"firmwareID": fw_id})
        files = {f["name"]: f for f in fw["files"]}
        assert files["fw.zip"]["size"] == len(blob)
        assert files["fw.zip"]["signature"] == hashlib.sha256(blob).hexdigest()
        assert files["extra.zip"]["signature"] == hashlib.sha256(second).hexdigest()
        assert sorted(private_keys(ext, pid)) == [f"productManage/ota/{pid}/1.0.0/extra.zip",
                                                  f"productManage/ota/{pid}/1.0.0/fw.zip"]

        uri = files["fw.zip"]["uri"]
        r = api.http.get(uri)
        assert r.status_code == 200 and r.content == blob
        r = api.http.get(uri, headers={"Range": "bytes=1048576-1048675"})
        assert r.status_code == 206 and r.content == blob[1048576:1048676]

        sig_at = uri.index("X-Amz-Signature=") + len("X-Amz-Signature=")
        tampered = uri[:sig_at] + ("0" if uri[sig_at] != "0" else "1") + uri[sig_at + 1:]
        r = api.http.get(tampered)
        assert r.status_code == 403 and blob[:64] not in r.content
        up = api.ok(UPLOAD, {"business": "productManage", "scene": "ota", "filePath": "x/t.zip", "rename": True})
        sig_at = up["uploadUri"].index("X-Amz-Signature=") + len("X-Amz-Signature=")
        bad_put = up["uploadUri"][:sig_at] + ("0" if up["uploadUri"][sig_at] != "0" else "1") + up["uploadUri"][sig_at + 1:]
        assert api.http.put(bad_put, content=b"intruder").status_code == 403
        assert not ext.exists(TEMPORARY_BUCKET, up["filePath"])

        api.ok(FIRMWARE + "delete", {"firmwareID": fw_id})
        settled(lambda: api.call(FIRMWARE + "read", {"firmwareID": fw_id})[0] == 404)
        assert private_keys(ext, pid) == []
        assert api.http.get(uri).status_code in (403, 404)
    finally:
        api.close()


def test_backend_refuses_to_start_with_a_wrong_store_secret(start_backend, nanio_server):
    with pytest.raises(RuntimeError) as info:
        _backend_on(start_backend, nanio_server, secret="not-the-secret", name="wrong-secret")
    assert "object store" in str(info.value) and nanio_server.endpoint in str(info.value)


# ---- S3Store against the external server -----------------------------------------------------------

def _direct(store: S3Store, relative: str) -> str:
    url, host = store.upstream(relative)
    assert host == store.host
    return url


def test_s3store_presign(store: S3Store):
    key = f"unit/{secrets.token_hex(4)}/a b+c.bin"
    put = store.presign("PUT", TEMPORARY_BUCKET, key)
    assert put.startswith(f"/api/v1/oss/{TEMPORARY_BUCKET}/unit/") and "X-Amz-Expires=86400" in put
    with httpx.Client(timeout=30) as http:
        assert http.put(_direct(store, put), content=b"payload").status_code == 200
        get = store.presign("GET", TEMPORARY_BUCKET, key)
        assert http.get(_direct(store, get)).content == b"payload"
        assert http.get(_direct(store, put)).status_code == 403  # signed for PUT only
        assert http.put(_direct(store, get), content=b"x").status_code == 403  # signed for GET only
        other = store.presign("GET", TEMPORARY_BUCKET, key + ".other")
        assert http.get(_direct(store, other.replace(".other?", "?"))).status_code == 403
        short = store.presign("GET", TEMPORARY_BUCKET, key, seconds=1)
        assert http.get(_direct(store, short)).status_code == 200
        time.sleep(2.2)
        assert http.get(_direct(store, short)).status_code == 403  # expired
    assert store.exists(TEMPORARY_BUCKET, key)


def test_s3store_copy_digest_remove(store: S3Store):
    base = f"unit/{secrets.token_hex(4)}/"
    blob = secrets.token_bytes(6 * 1024 * 1024 + 7)  # several chunks; multipart upload through the SDK
    store.client.put_object(TEMPORARY_BUCKET, base + "big.bin", io.BytesIO(blob), len(blob), part_size=5 * 1024 * 1024)
    d = store.digest(TEMPORARY_BUCKET, base + "big.bin")
    assert (d.size, d.md5, d.sha256) == (len(blob), hashlib.md5(blob).hexdigest(), hashlib.sha256(blob).hexdigest())

    store.copy(TEMPORARY_BUCKET, base + "big.bin", PRIVATE_BUCKET, base + "copy.bin")
    assert store.digest(PRIVATE_BUCKET, base + "copy.bin") == d
    assert store.exists(TEMPORARY_BUCKET, base + "big.bin")  # a copy, not a move

    assert not store.exists(TEMPORARY_BUCKET, base + "missing.bin")
    with pytest.raises(ObjectMissing):
        store.copy(TEMPORARY_BUCKET, base + "missing.bin", PRIVATE_BUCKET, base + "x.bin")
    assert not store.exists(PRIVATE_BUCKET, base + "x.bin")
    with pytest.raises(ObjectMissing):
        store.digest(PRIVATE_BUCKET, base + "missing.bin")

    for name in ("p/1", "p/2", "p/sub/3", "q/1"):
        store.client.put_object(PRIVATE_BUCKET, base + name, io.BytesIO(b"x"), 1)
    assert store.remove_prefix(PRIVATE_BUCKET, base + "p/") == 3
    left = sorted(o.object_name for o in store.client.list_objects(PRIVATE_BUCKET, prefix=base, recursive=True))
    assert left == [base + "copy.bin", base + "q/1"]
    store.remove(PRIVATE_BUCKET, base + "copy.bin")
    assert not store.exists(PRIVATE_BUCKET, base + "copy.bin")


def test_s3store_remove_older_than(store: S3Store):
    base = f"unit/{secrets.token_hex(4)}/"
    for key in ("old-1.zip", "old-2.zip"):
        store.client.put_object(TEMPORARY_BUCKET, base + key, io.BytesIO(b"old"), 3)
    store.client.put_object(PRIVATE_BUCKET, base + "firmware.zip", io.BytesIO(b"kept"), 4)
    time.sleep(2.2)
    store.client.put_object(TEMPORARY_BUCKET, base + "new.zip", io.BytesIO(b"new"), 3)

    store.remove_older_than(TEMPORARY_BUCKET, 3600)  # nothing of ours is an hour old
    assert all(store.exists(TEMPORARY_BUCKET, base + k) for k in ("old-1.zip", "old-2.zip", "new.zip"))

    removed = store.remove_older_than(TEMPORARY_BUCKET, 1.0)
    assert removed >= 2
    assert not store.exists(TEMPORARY_BUCKET, base + "old-1.zip")
    assert not store.exists(TEMPORARY_BUCKET, base + "old-2.zip")
    assert store.exists(TEMPORARY_BUCKET, base + "new.zip")
    assert store.exists(PRIVATE_BUCKET, base + "firmware.zip")  # only the bucket asked for
