"""Signed offline release capsules, end to end: real backends on their own data directories.

Engineering exports a release (firmware of two files and a task template) as a capsule; a station
whose network namespace has no route out (``unshare --net``) trusts engineering's key, imports
the capsule from a file (the USB stick), upgrades its devices by starting the capsule's task
draft, and exports signed evidence that engineering imports and shows per release.

A capsule that is not what it claims (unknown publisher, an altered file or manifest, expired,
truncated, a format this installation does not read, a version the station already has) is
refused with the reason named, and leaves nothing behind: no product, firmware, object, task or
draft. The standard-tool checks docs/capsule.md documents (tar, openssl, sha256sum) hold on an
exported capsule and fail on an altered one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.capsule import archive, keys
from backend.capsule import manifest as mf
from ota_protocol.rollout import SAFE_PRESET

from .conftest import ROOT, Api, BackendProcess

pytestmark = [pytest.mark.mqtt]

C = "/api/v1/things/ota/capsule/"
T = "/api/v1/things/ota/task/"
PRODUCT = "meter42"
PRODUCT_NAME = "Smart meter M42"
VERSION = "2.0.0"
OLD_VERSION = "1.0.0"
DEVICES = 20
#: the release's files: small, distinct sizes (one of them not a multiple of the tar block)
FILES: dict[str, bytes] = {"app.bin": os.urandom(24 * 1024 + 77), "boot.img": os.urandom(3 * 1024 + 5)}
TEMPLATE: dict[str, Any] = {"type": 1, "retryCount": 1, "rollout": SAFE_PRESET.to_wire()}
STATION_SCRIPT = ROOT / "tests" / "_capsule_station.py"


@dataclass
class Release:
    capsule: bytes
    firmware_id: int
    capsule_id: str
    key: dict  # engineering's capsule/key answer
    files: list[dict]  # engineering's firmware/read files
    headers: dict[str, str]


# ---- fixtures: one engineering backend, one (networked) station for the refusals --------------

@pytest.fixture(scope="module")
def engineering(tmp_path_factory):
    bp = BackendProcess(tmp_path_factory.mktemp("engineering")).start()
    yield bp
    bp.stop()


@pytest.fixture(scope="module")
def eng_api(engineering):
    client = engineering.api()
    yield client
    client.close()


def _upload(api: Api, name: str, data: bytes) -> str:
    d = api.ok("/api/v1/system/common/upload-url/create", {"business": "productManage", "scene": "ota",
                                                           "filePath": f"{PRODUCT}/{name}", "rename": True})
    r = api.http.put(d["uploadUri"], content=data)
    assert r.status_code == 200, r.text
    return d["filePath"]


@pytest.fixture(scope="module")
def release(eng_api) -> Release:
    """Engineering's product, its firmware of two files, and the capsule of both with a task template."""
    eng_api.ok("/api/v1/things/product/info/create", {"productID": PRODUCT, "productName": PRODUCT_NAME})
    files = [{"filePath": _upload(eng_api, name, data), "name": name} for name, data in FILES.items()]
    fw_id = eng_api.ok("/api/v1/things/ota/firmware/create", {
        "name": "M42 firmware", "productID": PRODUCT, "version": VERSION, "signMethod": "sha256",
        "desc": "fixes the tariff clock", "files": files})["firmwareID"]
    fw = eng_api.ok("/api/v1/things/ota/firmware/read", {"firmwareID": fw_id})
    r = eng_api.raw(C + "export", {"firmwareID": fw_id, "task": TEMPLATE})
    assert r.status_code == 200, r.text
    return Release(r.content, fw_id, r.headers["x-capsule-id"], eng_api.ok(C + "key"), fw["files"], dict(r.headers))


@pytest.fixture(scope="module")
def station(tmp_path_factory, release):
    """A station (normal namespace: the refusals need no isolation) that trusts engineering."""
    bp = BackendProcess(tmp_path_factory.mktemp("station")).start()
    api = bp.api()
    api.ok(C + "trust", {"publicKey": release.key["publicKey"], "name": "Engineering"})
    yield bp, api
    api.close()
    bp.stop()


@pytest.fixture(scope="module")
def test_signer(station) -> Ed25519PrivateKey:
    """A key the station trusts, to sign capsules engineering would never export."""
    _, api = station
    key = Ed25519PrivateKey.generate()
    api.ok(C + "trust", {"publicKey": keys.public_pem(key.public_key()), "name": "Test signer"})
    return key


# ---- helpers --------------------------------------------------------------------------------

def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def members(capsule: bytes) -> dict[str, tuple[int, int]]:
    """name -> (offset of its data, size), as tarfile reads the capsule."""
    with tarfile.open(fileobj=io.BytesIO(capsule)) as tar:
        return {m.name: (m.offset_data, m.size) for m in tar.getmembers()}


def flipped(capsule: bytes, at: int) -> bytes:
    bad = bytearray(capsule)
    bad[at] ^= 0x01
    return bytes(bad)


def craft(key: Ed25519PrivateKey, *, fmt: int = mf.FORMAT, expires_ms: int | None = None,
          product: str = "crafted1", version: str = "3.0.0", files: dict[str, bytes] | None = None) -> bytes:
    """A capsule as engineering would write it, signed with ``key``: its format and expiry chosen here."""
    now = int(time.time() * 1000)
    expires = expires_ms if expires_ms is not None else now + 30 * 86_400_000
    created = min(now, expires - 86_400_000)
    files = FILES if files is None else files
    listed: list[dict[str, Any]] = [{"name": n, "size": len(d), "sha256": sha256(d), "md5": hashlib.md5(d).hexdigest()}
              for n, d in files.items()]
    doc = {"format": fmt, "kind": mf.CAPSULE_KIND, "capsuleID": str(uuid.uuid4()),
           "publisher": {"fingerprint": keys.fingerprint(key.public_key())},
           "createdTime": created, "created": mf.iso(created), "expiresTime": expires, "expires": mf.iso(expires),
           "product": {"productID": product, "productName": "Crafted", "desc": ""},
           "firmware": {"name": "crafted", "version": version, "isDiff": 1, "signMethod": "md5", "desc": "",
                        "extData": "", "totalSize": sum(f["size"] for f in listed)},
           "files": listed, "task": {"type": 1}}
    manifest, sums = mf.encode(doc), mf.sums(listed)
    mtime = created // 1000
    head = [(mf.MANIFEST, manifest), (mf.SIGNATURE, key.sign(manifest)),
            (mf.PUBLISHER, keys.public_pem(key.public_key()).encode()), (mf.SUMS, sums),
            (mf.SUMS_SIGNATURE, key.sign(sums))]
    body = [archive.member(name, data, mtime) for name, data in head]
    body += [archive.member(mf.FILES_DIR + n, d, mtime) for n, d in files.items()]
    return b"".join(body) + archive.END


def object_files(bp: BackendProcess) -> list[str]:
    """Every stored object's file (nanio keeps empty ``.nanio-meta`` directories: not files)."""
    found = []
    for bucket in ("ithings-temporary", "ithings-private"):
        root = bp.data_dir / "objects" / bucket
        found += [str(p.relative_to(root.parent)) for p in root.rglob("*") if p.is_file()] if root.exists() else []
    return sorted(found)


def assert_nothing_created(bp: BackendProcess, api: Api, product: str) -> None:
    status, doc = api.call("/api/v1/things/product/info/read", {"productID": product})
    assert status == 404, (status, doc)
    assert api.ok("/api/v1/things/product/info/index")["total"] == 0
    assert api.ok("/api/v1/things/ota/firmware/index", {"productID": product})["total"] == 0
    assert api.ok("/api/v1/things/ota/firmware/index")["total"] == 0
    assert api.ok(T + "index")["total"] == 0
    assert api.ok(T + "draft/index")["total"] == 0
    assert object_files(bp) == []


def refused(api: Api, capsule: bytes, status: int, *phrases: str) -> str:
    """Import the capsule, expect a refusal with ``status`` whose message has every phrase; verify
    refuses it the same way."""
    msgs = []
    for route in ("import", "verify"):
        code, doc = api.call(C + route, capsule)
        assert code == status and doc["code"] != 200, (route, code, doc)
        for phrase in phrases:
            assert phrase in doc["msg"], (route, phrase, doc["msg"])
        msgs.append(doc["msg"])
    return msgs[0]


# ---- export -------------------------------------------------------------------------------

def test_export_is_a_signed_tar_named_after_the_release(release):
    h = release.headers
    assert h["content-disposition"].startswith(f'attachment; filename="{PRODUCT}-{VERSION}.otacap"')
    assert int(h["content-length"]) == len(release.capsule)
    with tarfile.open(fileobj=io.BytesIO(release.capsule)) as tar:
        names = tar.getnames()
        manifest = tar.extractfile("manifest.json").read()  # type: ignore[union-attr]
        signature = tar.extractfile("manifest.sig").read()  # type: ignore[union-attr]
        for name, data in FILES.items():
            assert tar.extractfile(f"files/{name}").read() == data  # type: ignore[union-attr]
    assert names == ["manifest.json", "manifest.sig", "publisher.pem", "SHA256SUMS", "SHA256SUMS.sig",
                     "files/app.bin", "files/boot.img"]
    keys.load_public(release.key["publicKey"]).verify(signature, manifest)  # raises if it does not verify
    doc = json.loads(manifest)
    assert doc["capsuleID"] == release.capsule_id and doc["task"] == TEMPLATE
    assert doc["publisher"]["fingerprint"] == release.key["fingerprint"]
    assert doc["expiresTime"] - doc["createdTime"] == 30 * 86_400_000


# ---- the round trip: a station without network --------------------------------------------

def _unshare_ok() -> str:
    if shutil.which("unshare") is None:
        return "the unshare tool is not installed (util-linux)"
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare --net is not permitted here ({probe.stderr.strip() or probe.returncode})"
    return ""


def test_round_trip_through_a_station_without_network(engineering, eng_api, release, tmp_path):
    why = _unshare_ok()
    if why:
        pytest.skip(why)
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "engineering.pem").write_text(release.key["publicKey"])
    (usb / "release.otacap").write_bytes(release.capsule)
    proc = subprocess.run(["unshare", "--net", sys.executable, str(STATION_SCRIPT), str(usb),
                           "--devices", str(DEVICES), "--old-version", OLD_VERSION,
                           "--engineering-port", str(engineering.http_port)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    summary_file = usb / "summary.json"
    assert summary_file.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    s = json.loads(summary_file.read_text())
    assert proc.returncode == 0 and s["ok"], s.get("error", "") + "".join(s.get("stationLogTail", []))

    # no way out: only lo, no route, every outside address unreachable, engineering's port unreachable
    iso = s["isolation"]
    assert iso["interfaces"] == ["lo"] and iso["ipv4Routes"] == []
    assert set(iso["probes"].values()) == {"ENETUNREACH"}, iso["probes"]
    assert iso["engineeringPort"] == "ECONNREFUSED"
    assert s["stationUrl"].startswith("http://127.0.0.1:")

    # the station verified and imported engineering's capsule
    assert s["verify"]["publisher"] == {"fingerprint": release.key["fingerprint"], "name": "Engineering"}
    assert s["beforeImport"] == {"products": 0, "firmware": 0, "drafts": 0, "tasks": 0}
    imp = s["import"]
    assert imp["productID"] == PRODUCT and imp["productCreated"] is True and imp["draftID"]
    assert imp["capsuleID"] == release.capsule_id
    after = s["afterImport"]
    assert after["product"]["productName"] == PRODUCT_NAME
    fw = after["firmware"]
    assert (fw["version"], fw["name"]) == (VERSION, "M42 firmware")
    # identical digests (signMethod sha256: the signature is the sha256) and sizes as engineering's
    assert [(f["name"], f["size"], f["signature"]) for f in fw["files"]] == \
        [(f["name"], f["size"], f["signature"]) for f in release.files]
    assert [f["signature"] for f in fw["files"]] == [sha256(d) for d in FILES.values()]
    assert s["downloaded"] == {n: sha256(d) for n, d in FILES.items()}
    # a draft, no task until it is started
    [draft] = after["drafts"]
    assert (draft["productID"], draft["version"], draft["publisherName"]) == (PRODUCT, VERSION, "Engineering")
    assert draft["task"] == TEMPLATE and draft["draftID"] == imp["draftID"]
    assert after["tasks"] == 0
    assert s["afterStart"] == {"drafts": 0, "tasks": 1}

    # every device upgraded, in the template's waves
    task = s["task"]
    assert task["status"] == 3 and task["waveCount"] == 3 and task["rollout"]["waves"] == TEMPLATE["rollout"]["waves"]
    assert len(s["records"]) == DEVICES and {r["status"] for r in s["records"].values()} == {501}
    assert sorted(r["wave"] for r in s["records"].values()) == [1] + [2] * 2 + [3] * (DEVICES - 3)
    assert s["fleetVersions"] == [VERSION]
    assert not s["stationErrors"], s["stationErrors"]

    # back at engineering: the evidence, signed by the station
    ev = (usb / "evidence.otaevidence").read_bytes()
    assert s["evidence"]["contentLength"] == len(ev)
    assert s["evidence"]["contentDisposition"].startswith(
        f'attachment; filename="evidence-{PRODUCT}-{VERSION}-{s["draftStart"]["taskUid"]}.otaevidence"')
    with tarfile.open(fileobj=io.BytesIO(ev)) as tar:
        assert tar.getnames() == ["manifest.json", "manifest.sig", "publisher.pem"]
    station_pem = (usb / "station.pem").read_text()
    station_fp = s["key"]["fingerprint"]
    assert station_fp != release.key["fingerprint"]
    code, doc = eng_api.call(C + "evidence/import", ev)
    assert code == 403 and station_fp in doc["msg"], doc  # not trusted yet
    assert eng_api.ok(C + "trust", {"publicKey": station_pem, "name": "Line 3"})["fingerprint"] == station_fp
    got = eng_api.ok(C + "evidence/import", ev)
    assert got["station"] == {"fingerprint": station_fp, "name": "Line 3"}
    assert (got["productID"], got["version"], got["devices"]) == (PRODUCT, VERSION, DEVICES)
    assert got["taskUid"] == s["draftStart"]["taskUid"]

    [rel] = eng_api.ok(C + "evidence/index", {"productID": PRODUCT})["list"]
    assert (rel["productID"], rel["version"], rel["firmwareID"]) == (PRODUCT, VERSION, release.firmware_id)
    [st] = rel["stations"]
    assert (st["name"], st["fingerprint"], st["taskUid"]) == ("Line 3", station_fp, s["draftStart"]["taskUid"])
    assert st["devices"] == {"total": DEVICES, "succeeded": DEVICES, "failed": 0, "other": 0}
    devices = eng_api.ok(C + "evidence/devices", {"evidenceID": st["evidenceID"], "page": {"page": 1, "size": 100}})
    assert devices["total"] == DEVICES
    assert sorted(d["deviceName"] for d in devices["list"]) == [f"meter{i:05d}" for i in range(1, DEVICES + 1)]
    for d in devices["list"]:
        assert (d["versionBefore"], d["versionAfter"], d["status"]) == (OLD_VERSION, VERSION, 501), d


# ---- verify and the refusals, on a station that trusts engineering ----------------------------

def test_verify_answers_the_summary_and_creates_nothing(station, release):
    bp, api = station
    v = api.ok(C + "verify", release.capsule)
    assert v["capsuleID"] == release.capsule_id and v["format"] == 1
    assert v["publisher"] == {"fingerprint": release.key["fingerprint"], "name": "Engineering"}
    assert v["product"] == {"productID": PRODUCT, "productName": PRODUCT_NAME, "exists": False}
    f = v["firmware"]
    assert (f["name"], f["version"], f["isDiff"], f["signMethod"], f["desc"]) == \
        ("M42 firmware", VERSION, 1, "sha256", "fixes the tariff clock")
    assert f["totalSize"] == sum(len(d) for d in FILES.values())
    assert f["files"] == [{"name": n, "size": len(d), "sha256": sha256(d), "md5": hashlib.md5(d).hexdigest()}
                          for n, d in FILES.items()]
    assert v["task"] == TEMPLATE
    assert v["expiresTime"] - v["createdTime"] == 30 * 86_400_000
    assert_nothing_created(bp, api, PRODUCT)


def test_an_untrusted_publisher_is_refused_with_its_fingerprint(station, release):
    bp, api = station
    fp = release.key["fingerprint"]
    api.ok(C + "trust/delete", {"fingerprint": fp})
    try:
        msg = refused(api, release.capsule, 403, fp, "unknown publisher")
    finally:
        api.ok(C + "trust", {"publicKey": release.key["publicKey"], "name": "Engineering"})
    assert msg.startswith("capsule: ")
    assert_nothing_created(bp, api, PRODUCT)


@pytest.mark.parametrize("name", list(FILES))
def test_a_flipped_byte_in_a_file_is_refused_naming_the_file(station, release, name):
    bp, api = station
    offset, size = members(release.capsule)[f"files/{name}"]
    bad = flipped(release.capsule, offset + size // 2)
    refused(api, bad, 400, f"file '{name}' was altered", f"the signed manifest says {sha256(FILES[name])}")
    assert_nothing_created(bp, api, PRODUCT)


def test_a_flipped_byte_in_the_manifest_is_refused(station, release):
    bp, api = station
    offset, size = members(release.capsule)["manifest.json"]
    at = release.capsule.index(PRODUCT_NAME.encode(), offset, offset + size)  # "Smart meter" -> "Rmart meter"
    refused(api, flipped(release.capsule, at), 400,
            "manifest.json was altered after it was signed (its signature does not verify)")
    assert_nothing_created(bp, api, PRODUCT)


def test_an_expired_capsule_is_refused_with_its_date(station, test_signer):
    bp, api = station
    expired = int(datetime(2025, 3, 1, 10, 0, tzinfo=UTC).timestamp() * 1000)
    refused(api, craft(test_signer, expires_ms=expired), 400, "capsule: expired on 2025-03-01 10:00 UTC")
    assert_nothing_created(bp, api, "crafted1")


def test_a_crafted_capsule_that_is_valid_imports(start_backend):
    """The crafting helper writes what the backend accepts: the refusals below fail for their reason only."""
    bp = start_backend("crafted")
    api = bp.api()
    key = Ed25519PrivateKey.generate()
    api.ok(C + "trust", {"publicKey": keys.public_pem(key.public_key()), "name": "Test signer"})
    got = api.ok(C + "import", craft(key))
    assert got["productID"] == "crafted1" and got["productCreated"] and got["draftID"]
    api.close()


def test_an_import_killed_midway_leaves_nothing_after_the_restart(start_backend):
    """kill -9 while a capsule streams in (its file half stored, in parts): the next start removes
    the staged parts, and the capsule then imports."""
    import threading

    import httpx

    from .conftest import TOKEN

    bp = start_backend("killed")
    api = bp.api()
    key = Ed25519PrivateKey.generate()
    api.ok(C + "trust", {"publicKey": keys.public_pem(key.public_key()), "name": "Test signer"})
    capsule = craft(key, product="killed1", files={"big.bin": os.urandom(12 << 20)})
    half = len(capsule) // 2
    sent = threading.Event()

    def body():
        yield capsule[:half]
        sent.set()
        time.sleep(30)  # the backend dies meanwhile
        yield capsule[half:]

    def post() -> None:
        try:
            httpx.post(bp.base_url + "/api/v1/things/ota/capsule/import", content=body(),
                       headers={"iThings-token": TOKEN}, timeout=60)
        except httpx.HTTPError:
            pass  # the connection dies with the backend
    threading.Thread(target=post, daemon=True).start()
    assert sent.wait(30)
    multipart = bp.data_dir / "objects" / ".nanio" / "multipart"

    def staged() -> list[Path]:
        return [p for p in multipart.rglob("*") if p.is_file()] if multipart.exists() else []
    deadline = time.monotonic() + 20
    while not staged() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert staged(), "the import never stored a part"
    bp.stop("kill")
    api.close()
    again = BackendProcess(bp.data_dir).start()
    try:
        api = again.api()
        assert staged() == [] and object_files(again) == []
        assert api.ok("/api/v1/things/ota/firmware/index")["total"] == 0
        got = api.ok(C + "import", capsule)
        assert got["productID"] == "killed1" and got["firmwareID"]
        api.close()
    finally:
        again.stop()


def test_a_truncated_capsule_is_refused_naming_the_file(station, release):
    bp, api = station
    offset, size = members(release.capsule)["files/app.bin"]
    half = size // 2
    refused(api, release.capsule[:offset + half], 400,
            f"truncated (file 'app.bin' has {half} of {size} bytes)")
    assert_nothing_created(bp, api, PRODUCT)


def test_format_version_2_is_not_supported(station, test_signer):
    bp, api = station
    refused(api, craft(test_signer, fmt=2), 400, "format version 2 is not supported (this installation reads 1)")
    assert_nothing_created(bp, api, "crafted1")


def test_a_version_the_station_has_is_refused_naming_the_firmware(start_backend, release):
    bp = start_backend("dup-station")
    api = bp.api()
    api.ok(C + "trust", {"publicKey": release.key["publicKey"], "name": "Engineering"})
    first = api.ok(C + "import", release.capsule)
    objects = object_files(bp)
    assert len(objects) == 2 * len(FILES)  # each file and its nanio metadata, in the private bucket
    code, doc = api.call(C + "import", release.capsule)
    assert code == 409, doc
    assert doc["msg"] == f"firmware {first['firmwareID']} (version {VERSION} of product {PRODUCT}) already exists"
    code, doc = api.call(C + "verify", release.capsule)
    assert code == 409 and f"firmware {first['firmwareID']}" in doc["msg"], doc
    assert api.ok("/api/v1/things/ota/firmware/index", {"productID": PRODUCT})["total"] == 1
    assert api.ok(T + "draft/index")["total"] == 1 and api.ok(T + "index")["total"] == 0
    assert object_files(bp) == objects  # nothing staged stays behind
    api.close()


# ---- the standard-tool checks docs/capsule.md documents -------------------------------------

def _sh(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, shell=True, cwd=cwd, capture_output=True, text=True)


def test_the_documented_standard_tool_checks(release, tmp_path):
    missing = [t for t in ("tar", "openssl", "sha256sum", "tail") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    cap = tmp_path / f"{PRODUCT}-{VERSION}.otacap"
    cap.write_bytes(release.capsule)
    good = tmp_path / "good"
    good.mkdir()
    assert _sh(f"tar -xf {cap} -C {good}", tmp_path).returncode == 0
    for signed, sig in (("manifest.json", "manifest.sig"), ("SHA256SUMS", "SHA256SUMS.sig")):
        p = _sh(f"openssl pkeyutl -verify -pubin -inkey publisher.pem -rawin -in {signed} -sigfile {sig}", good)
        assert p.returncode == 0 and "Signature Verified Successfully" in p.stdout, (signed, p.stdout, p.stderr)
    p = _sh("sha256sum -c SHA256SUMS", good)
    assert p.returncode == 0 and p.stdout.splitlines() == [f"files/{n}: OK" for n in FILES], p.stdout
    p = _sh("openssl pkey -pubin -in publisher.pem -outform DER | tail -c 32 | sha256sum", good)
    assert p.returncode == 0 and p.stdout.split()[0] == release.key["fingerprint"].removeprefix("SHA256:")

    # an altered file: sha256sum names it
    bad = tmp_path / "bad-file"
    shutil.copytree(good, bad)
    data = bytearray((bad / "files" / "app.bin").read_bytes())
    data[len(data) // 2] ^= 1
    (bad / "files" / "app.bin").write_bytes(data)
    p = _sh("sha256sum -c SHA256SUMS", bad)
    assert p.returncode != 0 and "files/app.bin: FAILED" in p.stdout and "files/boot.img: OK" in p.stdout, p.stdout

    # an altered manifest: openssl does not verify it
    bad = tmp_path / "bad-manifest"
    shutil.copytree(good, bad)
    text = (bad / "manifest.json").read_bytes()
    (bad / "manifest.json").write_bytes(text.replace(PRODUCT_NAME.encode(), b"R" + PRODUCT_NAME[1:].encode(), 1))
    p = _sh("openssl pkeyutl -verify -pubin -inkey publisher.pem -rawin -in manifest.json -sigfile manifest.sig", bad)
    assert p.returncode != 0 and "Signature Verified Successfully" not in p.stdout, (p.stdout, p.stderr)
