"""Release capsules in-process: the archive reader against hostile tar streams, keys and
fingerprints, the trust store, task templates and drafts, evidence packs (signed, verified,
replaced by newer ones, counted per release). No server, broker or store; milliseconds each.
The end-to-end flow with two backends is tests/test_capsules.py."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import keyring
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.capsule import archive, keys
from backend.capsule import manifest as mf
from backend.capsule.keys import Identity
from backend.db.models import DeviceRecord, TaskDraft
from ota_protocol.codes import RecordStatus

from . import _engine_world
from ._engine_world import PID, new_world
from ._inprocess_api import api_client, ok
from ._keyring import InMemoryKeyring

C = "/api/v1/things/ota/capsule/"
world = _engine_world.world


def reader(data: bytes) -> archive.Reader:
    stream = io.BytesIO(data)
    return archive.Reader(stream.read)


def tar_of(*members: tuple[str, bytes]) -> bytes:
    return b"".join(archive.member(n, d, 0) for n, d in members) + archive.END


# ---- the archive ---------------------------------------------------------------------------------

def test_members_come_back_in_order_with_long_and_chinese_names() -> None:
    long_name = "files/" + "x" * 200 + ".bin"
    data = tar_of(("manifest.json", b"{}"), (long_name, b"a" * 1000), ("files/固件.bin", b""))
    r = reader(data)
    assert r.next() == ("manifest.json", 2) and r.read_data(2) == b"{}"
    r.skip_padding(2)
    assert r.next() == (long_name, 1000) and b"".join(r.chunks(1000, chunk=300)) == b"a" * 1000
    r.skip_padding(1000)
    assert r.next() == ("files/固件.bin", 0)
    assert r.next() is None and r.at_end()
    # and tar itself reads what we write
    assert tarfile.open(fileobj=io.BytesIO(data)).getnames() == ["manifest.json", long_name, "files/固件.bin"]


def test_member_length_is_what_member_writes() -> None:
    for name, size in (("a", 0), ("files/b.bin", 511), ("files/" + "é" * 120, 513)):
        assert archive.member_length(name, size, 5) == len(archive.member(name, b"z" * size, 5))


def _tar_with(info: tarfile.TarInfo, data: bytes = b"") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
        t.addfile(info, io.BytesIO(data) if data else None)
    return out.getvalue()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.CHRTYPE])
def test_links_directories_and_devices_are_refused_by_name(kind) -> None:
    info = tarfile.TarInfo("files/evil")
    info.type, info.linkname = kind, "/etc/passwd"
    with pytest.raises(archive.ArchiveError, match="'files/evil' is not a regular file"):
        reader(_tar_with(info)).next()


def test_an_oversized_extended_header_is_refused_before_it_is_read() -> None:
    info = tarfile.TarInfo("x")
    info.pax_headers = {"comment": "y" * (archive.MAX_PAX + 10)}
    with pytest.raises(archive.ArchiveError, match=r"extended header of .* bytes"):
        reader(_tar_with(info)).next()


def test_truncation_and_garbage_are_named() -> None:
    data = tar_of(("manifest.json", b"{}" * 300))
    with pytest.raises(archive.ArchiveError, match="truncated at byte 100"):
        reader(data[:100]).next()
    r = reader(data[:700])
    r.next()
    with pytest.raises(archive.ArchiveError, match="truncated"):
        r.read_data(600)
    with pytest.raises(archive.ArchiveError, match="damaged header"):
        reader(b"\x01" * 512).next()
    r = reader(tar_of() + b"\0" * 512 + b"junk")
    assert r.next() is None and not r.at_end()


# ---- keys --------------------------------------------------------------------------------------

def test_fingerprint_is_sha256_of_the_raw_key_as_openssl_derives_it() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    # docs/capsule.md: `openssl pkey -pubin -outform DER | tail -c 32 | sha256sum`
    assert keys.fingerprint(key) == "SHA256:" + hashlib.sha256(der[-32:]).hexdigest()
    assert keys.fingerprint(keys.load_public(keys.public_pem(key))) == keys.fingerprint(key)


def test_keys_that_are_not_ed25519_public_keys_are_refused_saying_what_they_are() -> None:
    rsa_pem = rsa.generate_private_key(65537, 2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(keys.BadKey, match="RSAPublicKey key; capsules are signed with Ed25519"):
        keys.load_public(rsa_pem)
    with pytest.raises(keys.BadKey, match="not a PEM public key"):
        keys.load_public("hello")
    with pytest.raises(keys.BadKey, match="longer than 4096"):
        keys.load_public("x" * 5000)


def test_where_the_signing_key_comes_from(tmp_path, monkeypatch) -> None:
    pem = keys.private_pem(Ed25519PrivateKey.generate())
    given = keys.load_identity(env_pem=pem)
    assert given.kept_in == "environment" and given.public_pem == keys.load_identity(env_pem=pem).public_pem
    path = tmp_path / "key.pem"
    path.write_text(pem)
    path.chmod(0o600)
    assert keys.load_identity(key_file=str(path)).fingerprint == given.fingerprint
    with pytest.raises(keys.BadKey, match="OTA_SIGNING_KEY: not an unencrypted PEM private key"):
        keys.load_identity(env_pem="garbage")
    with pytest.raises(keys.BadKey, match="signing_key_file: cannot read"):
        keys.load_identity(key_file=str(tmp_path / "missing.pem"))
    # no keyring (the suite's default): a key for this session, a new one next time
    first, second = keys.load_identity(), keys.load_identity()
    assert first.kept_in == "session" and first.fingerprint != second.fingerprint
    # a keyring: generated once, then the same key on every start
    kr = InMemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(kr)
    try:
        a, b = keys.load_identity(), keys.load_identity()
    finally:
        keyring.set_keyring(previous)
    assert a.kept_in == "keyring" and a.fingerprint == b.fingerprint
    assert ("ota-desktop", keys.KEYRING_NAME) in kr.store


# ---- trust store -------------------------------------------------------------------------------

def test_trust_store_add_list_remove(world) -> None:
    pub = keys.public_pem(Ed25519PrivateKey.generate().public_key())
    with api_client(world) as c:
        me = ok(c.post(C + "key", json={}))
        assert me["fingerprint"].startswith("SHA256:") and me["keptIn"] == "session"
        assert "BEGIN PUBLIC KEY" in me["publicKey"] and "PRIVATE" not in json.dumps(me)
        fp = ok(c.post(C + "trust", json={"publicKey": pub, "name": "Engineering"}))["fingerprint"]
        assert fp == keys.fingerprint(keys.load_public(pub))
        again = c.post(C + "trust", json={"publicKey": pub, "name": "Other"})
        assert again.status_code == 409 and "already trusted as 'Engineering'" in again.json()["msg"]
        bad = c.post(C + "trust", json={"publicKey": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
                                        "name": "x"})
        assert bad.status_code == 400 and bad.json()["msg"].startswith("publicKey: not a PEM public key")
        listed = ok(c.post(C + "trust/index", json={}))
        assert [(p["name"], p["fingerprint"]) for p in listed["list"]] == [("Engineering", fp)]
        ok(c.post(C + "trust/delete", json={"fingerprint": fp}))
        assert ok(c.post(C + "trust/index", json={}))["total"] == 0
        gone = c.post(C + "trust/delete", json={"fingerprint": fp})
        assert gone.status_code == 404 and fp in gone.json()["msg"]


# ---- task templates and drafts -----------------------------------------------------------------

def test_task_templates_obey_task_create_rules(world) -> None:
    fw = world.firmware()
    with api_client(world) as c:
        for template, field in (({"retryCount": 101}, "task.retryCount"), ({"firmwareID": 3}, "task.firmwareID"),
                                ({"type": 7}, "task.type"), ({"deviceList": "not json"}, "task.deviceList"),
                                ({"rollout": {"waves": [{"percent": 0}]}}, "task.rollout.waves[0].percent"),
                                ({"bogus": 1}, "task.bogus")):
            r = c.post(C + "export", json={"firmwareID": fw, "task": template})
            assert r.status_code == 400, (template, r.text)
            assert r.json()["msg"].startswith(field), (template, r.json())
        r = c.post(C + "export", json={"firmwareID": fw, "expiresInDays": 0})
        assert r.status_code == 400 and "expiresInDays" in r.json()["msg"]
        assert c.post(C + "export", json={"firmwareID": 999}).status_code == 404


def test_a_draft_becomes_the_templates_task_only_when_started(world) -> None:
    fw = world.firmware("2.0.0")
    world.devices(4, version="1.0.0")
    template = {"type": 2, "deviceList": ["dev00001", "dev00003"], "retryCount": 2,
                "rollout": {"waves": [{"percent": 50}, {"percent": 100}]}}
    with world.db.session() as s:
        s.add(TaskDraft(firmware_id=fw, capsule_id="c0ffee00-0000-4000-8000-000000000001", publisher_name="Eng",
                        body=json.dumps(template)))
    with api_client(world) as c:
        drafts = ok(c.post("/api/v1/things/ota/task/draft/index", json={}))
        assert drafts["total"] == 1 and drafts["list"][0]["task"] == template
        assert drafts["list"][0]["version"] == "2.0.0" and drafts["list"][0]["publisherName"] == "Eng"
        assert ok(c.post("/api/v1/things/ota/task/index", json={}))["total"] == 0  # nothing runs yet
        started = ok(c.post("/api/v1/things/ota/task/draft/start", json={"draftID": drafts["list"][0]["draftID"]}))
        task = world.task(started["taskID"])
        assert task.retry_count == 2 and json.loads(task.src_device) == ["dev00001", "dev00003"]
        assert sorted(world.statuses(task.id)) == ["dev00001", "dev00003"]
        assert ok(c.post("/api/v1/things/ota/task/draft/index", json={}))["total"] == 0
        r = c.post("/api/v1/things/ota/task/draft/start", json={"draftID": drafts["list"][0]["draftID"]})
        assert r.status_code == 404


# ---- evidence ----------------------------------------------------------------------------------

def _finished_task(w, versions=("2.0.0", "2.0.0", "1.0.0")) -> int:
    fw = w.firmware("2.0.0")
    w.devices(len(versions), version="1.0.0")
    task = w.engine().create_task(w.spec(fw))
    with w.db.session() as s:
        for rec, v in zip(s.query(DeviceRecord).filter_by(task_id=task.id).order_by(DeviceRecord.id), versions,
                          strict=True):
            rec.status = RecordStatus.SUCCEEDED if v == "2.0.0" else RecordStatus.FAILED
            rec.version, rec.step = v, 100 if v == "2.0.0" else -2
            rec.desc = "" if v == "2.0.0" else "download failed: HTTP 404"
    return task.id


def test_evidence_is_signed_by_the_station_and_counted_per_release_at_the_origin(world, tmp_path) -> None:
    station_key = Identity(Ed25519PrivateKey.generate(), "keyring")
    task_id = _finished_task(world)
    origin = new_world(str(tmp_path / "origin.db"))
    origin_fw = origin.firmware("2.0.0")
    with api_client(world, station_key) as station, api_client(origin) as eng:
        pack = station.post(C + "evidence", json={"taskID": task_id})
        assert pack.status_code == 200 and int(pack.headers["content-length"]) == len(pack.content)
        assert pack.headers["content-disposition"].startswith(f'attachment; filename="evidence-{PID}-2.0.0-')
        untrusted = eng.post(C + "evidence/import", content=pack.content)
        assert untrusted.status_code == 403 and station_key.fingerprint in untrusted.json()["msg"]
        ok(eng.post(C + "trust", json={"publicKey": station_key.public_pem, "name": "Line 3"}))
        altered = pack.content.replace(b'"download failed: HTTP 404"', b'"download failed: HTTP 200"')
        r = eng.post(C + "evidence/import", content=altered)
        assert r.status_code == 400 and "manifest.json was altered after it was signed" in r.json()["msg"]
        got = ok(eng.post(C + "evidence/import", content=pack.content))
        assert got["station"] == {"fingerprint": station_key.fingerprint, "name": "Line 3"} and got["devices"] == 3
        index = ok(eng.post(C + "evidence/index", json={}))["list"]
        assert len(index) == 1 and index[0]["firmwareID"] == origin_fw and index[0]["version"] == "2.0.0"
        [st] = index[0]["stations"]
        assert st["name"] == "Line 3" and st["devices"] == {"total": 3, "succeeded": 2, "failed": 1, "other": 0}
        rows = ok(eng.post(C + "evidence/devices", json={"evidenceID": st["evidenceID"]}))["list"]
        assert [(d["deviceName"], d["versionBefore"], d["versionAfter"], d["status"]) for d in rows] == [
            ("dev00001", "1.0.0", "2.0.0", 501), ("dev00002", "1.0.0", "2.0.0", 501), ("dev00003", "1.0.0", "1.0.0", 601)]
        assert rows[2]["step"] == -2 and rows[2]["desc"] == "download failed: HTTP 404"
        # a newer pack of the same task replaces the older; an older one is refused
        world.advance(60)
        newer = station.post(C + "evidence", json={"taskID": task_id}).content
        ok(eng.post(C + "evidence/import", content=newer))
        assert len(ok(eng.post(C + "evidence/index", json={}))["list"][0]["stations"]) == 1
        stale = eng.post(C + "evidence/import", content=pack.content)
        assert stale.status_code == 409 and "is newer than this one" in stale.json()["msg"]
        # a signed file leaving the station is in its audit log; imports (refused ones too) in the origin's
        station_log = [(a["action"], a["status"]) for a in ok(station.post("/api/v1/system/audit/index", json={}))["list"]]
        assert station_log.count((C + "evidence", 200)) == 2
        origin_log = [(a["action"], a["status"]) for a in ok(eng.post("/api/v1/system/audit/index", json={}))["list"]]
        assert (C + "evidence/import", 403) in origin_log and (C + "evidence/import", 409) in origin_log
    origin.db.dispose()


def test_a_manifest_of_another_format_or_kind_is_refused(world) -> None:
    key = Identity(Ed25519PrivateKey.generate(), "file")
    with api_client(world) as c:
        ok(c.post(C + "trust", json={"publicKey": key.public_pem, "name": "Eng"}))
        for doc, why in (({"format": 2}, "format version 2 is not supported (this installation reads 1)"),
                         ({"format": 1, "kind": "ota-release-capsule"}, "manifest.json field kind")):
            raw = mf.encode(doc)
            pack = tar_of((mf.MANIFEST, raw), (mf.SIGNATURE, key.sign(raw)), (mf.PUBLISHER, key.public_pem.encode()))
            r = c.post(C + "evidence/import", content=pack)
            assert r.status_code == 400 and why in r.json()["msg"], r.json()
        r = c.post(C + "evidence/import", content=b"not a tar at all" * 64)
        assert r.status_code == 400 and r.json()["msg"].startswith("evidence: not a readable evidence pack")
