"""Release capsules on the desktop (issue 15): the workstation key the app keeps and gives its
backend, the streamed uploads and downloads of the API client, the dialogs (export, import with
the verification shown in words before anything is created, task drafts, evidence, trusted
publishers), and one round trip through a real backend.
"""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import threading
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication

from ota_desktop import backend_process
from ota_desktop.app_events import AppEvents
from ota_desktop.backend_process import BackendOptions
from ota_desktop.core import dto
from ota_desktop.core.api_client import CODE_LOCAL_FILE, CODE_NETWORK, ApiCall, ApiClient, ApiError
from ota_desktop.secrets import CAPSULE_SIGNING_KEY, SecretStore, signing_key
from ota_desktop.ui import capsule_dialogs
from ota_desktop.ui.capsule_dialogs import (
    AddPublisherDialog,
    ExportCapsuleDialog,
    ExportEvidenceDialog,
    ImportCapsuleDialog,
    ImportEvidenceDialog,
    ReleaseEvidenceDialog,
    TaskDraftsDialog,
    TrustedPublishersDialog,
    group_fingerprint,
    pem_fingerprint,
)
from ota_desktop.ui.main_window import MainWindow

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE, FakeBackend, StubClient, _Fail

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE)]

NOW = 1_780_000_000_000
FOREIGN = "SHA256:" + "ab12cd34" * 8  # a publisher nobody trusts
DAY = 86_400_000


def new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def fingerprint(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


# -- a fake backend for the capsule routes ------------------------------------------------------------

class CapsuleRoutes:
    """The capsule routes of the contract, in memory, installed on a FakeBackend."""

    def __init__(self, fb: FakeBackend) -> None:
        self.fb = fb
        self.own = new_key()
        self.engineering = new_key()
        self.publishers = [dto.Publisher(fingerprint(self.engineering), "Engineering", public_pem(self.engineering),
                                         NOW - 3 * DAY)]
        self.drafts = [dto.TaskDraft(3, 1, "prodA", "1.0.0", "c-1", "Engineering",
                                     {"type": 2, "deviceList": ["dev-001", "dev-002"], "retryCount": 1}, NOW - DAY)]
        self.releases = [{"productID": "prodA", "version": "1.0.0", "firmwareID": 1, "stations": [
            {"evidenceID": 1, "fingerprint": fingerprint(self.engineering), "name": "Line 2 station",
             "taskUid": "uid-remote-7", "importedTime": NOW - 3600_000,
             "devices": {"total": 3, "succeeded": 2, "failed": 1, "other": 0}}]}]
        self.evidence_devices = [
            {"deviceName": f"dev-{i:03d}", "status": 601 if i == 3 else 501, "versionBefore": "0.9.0",
             "versionAfter": "0.9.0" if i == 3 else "1.0.0", "step": -2 if i == 3 else 100,
             "desc": "download failed" if i == 3 else "", "retries": 1 if i == 3 else 0,
             "createdTime": NOW - 7200_000, "updatedTime": NOW - 3600_000} for i in (1, 2, 3)]
        self.started: list[int] = []
        self.deleted: list[int] = []
        self.trusted: list[tuple[str, str]] = []
        self.removed: list[str] = []
        self.imported: list[str] = []
        for name in dir(self):
            if name.startswith("r_"):
                setattr(fb, name, getattr(self, name))

    def r_things_ota_capsule_key(self, body: dict) -> dict:
        return {"publicKey": public_pem(self.own), "fingerprint": fingerprint(self.own), "keptIn": "environment"}

    def r_things_ota_capsule_trust_index(self, body: dict) -> dict:
        return {"list": [{"fingerprint": p.fingerprint, "name": p.name, "publicKey": p.publicKey,
                          "createdTime": p.createdTime} for p in self.publishers], "total": len(self.publishers)}

    def r_things_ota_capsule_trust(self, body: dict) -> dict:
        fp = pem_fingerprint(body["publicKey"])
        if any(p.fingerprint == fp for p in self.publishers):
            raise _Fail(100010, f"publicKey: {fp} is already trusted", 409)
        self.trusted.append((body["name"], fp))
        self.publishers.append(dto.Publisher(fp, body["name"], body["publicKey"], NOW))
        return {"fingerprint": fp}

    def r_things_ota_capsule_trust_delete(self, body: dict) -> dict:
        self.removed.append(body["fingerprint"])
        self.publishers = [p for p in self.publishers if p.fingerprint != body["fingerprint"]]
        return {}

    def r_things_ota_task_draft_index(self, body: dict) -> dict:
        return {"list": [{"draftID": d.draftID, "firmwareID": d.firmwareID, "productID": d.productID,
                          "version": d.version, "capsuleID": d.capsuleID, "publisherName": d.publisherName,
                          "task": d.task, "createdTime": d.createdTime} for d in self.drafts],
                "total": len(self.drafts)}

    def r_things_ota_task_draft_start(self, body: dict) -> dict:
        self.started.append(body["draftID"])
        self.drafts = [d for d in self.drafts if d.draftID != body["draftID"]]
        return {"taskID": 41, "taskUid": "uid-41"}

    def r_things_ota_task_draft_delete(self, body: dict) -> dict:
        self.deleted.append(body["draftID"])
        self.drafts = [d for d in self.drafts if d.draftID != body["draftID"]]
        return {}

    def r_things_ota_capsule_export(self, body: dict) -> bytes:
        if body["firmwareID"] not in self.fb.firmwares:
            raise _Fail(100009, f"firmwareID: firmware {body['firmwareID']} not found", 404)
        self.export_body = body
        return b"CAPSULE" + json.dumps(body).encode() + b"\0" * 40_000

    def r_things_ota_capsule_evidence(self, body: dict) -> bytes:
        self.evidence_body = body
        return b"EVIDENCE" + b"\1" * 20_000

    def _capsule(self, body: dict) -> bytes:
        with open(body["path"], "rb") as fh:
            data = fh.read()
        if data.startswith(b"UNKNOWN"):
            raise _Fail(100403, f"capsule: unknown publisher {FOREIGN} (add it to the trusted publishers "
                                "after comparing its fingerprint)", 403)
        if data.startswith(b"ALTERED"):
            raise _Fail(100400, "capsule: file 'app.bin' was altered (sha256 00ff, the signed manifest says 11ee)",
                        400)
        return data

    def info(self) -> dict:
        return {"capsuleID": "c-9", "format": 1,
                "publisher": {"fingerprint": fingerprint(self.engineering), "name": "Engineering"},
                "product": {"productID": "prodA", "productName": "Thermostat", "exists": True},
                "firmware": {"name": "thermo", "version": "1.2.0", "isDiff": 1, "signMethod": "sha256",
                             "desc": "Scheduling fixes", "totalSize": 220_000,
                             "files": [{"name": "thermo-app.bin", "size": 180_000, "sha256": "aa", "md5": "bb"},
                                       {"name": "thermo-ui.zip", "size": 40_000, "sha256": "cc", "md5": "dd"}]},
                "task": {"type": 1, "retryCount": 2,
                         "rollout": {"waves": [{"percent": 1}, {"percent": 10}, {"percent": 100}],
                                     "abort": [{"failureType": "ANY", "thresholdPercent": 10, "minFinished": 20}]}},
                "createdTime": NOW - DAY, "expiresTime": NOW + 29 * DAY}

    def r_things_ota_capsule_verify(self, body: dict) -> dict:
        self._capsule(body)
        return self.info()

    def r_things_ota_capsule_import(self, body: dict) -> dict:
        self._capsule(body)
        self.imported.append(body["path"])
        return {"capsuleID": "c-9", "productID": "prodA", "productCreated": False, "firmwareID": 12, "draftID": 4,
                "publisher": {"fingerprint": fingerprint(self.engineering), "name": "Engineering"}}

    def r_things_ota_capsule_evidence_import(self, body: dict) -> dict:
        self._capsule(body)
        return {"evidenceID": 2, "station": {"fingerprint": fingerprint(self.engineering), "name": "Line 2 station"},
                "productID": "prodA", "version": "1.0.0", "taskUid": "uid-remote-7", "devices": 3}

    def r_things_ota_capsule_evidence_index(self, body: dict) -> dict:
        return {"list": self.releases}

    def r_things_ota_capsule_evidence_devices(self, body: dict) -> dict:
        return {"list": self.evidence_devices, "total": len(self.evidence_devices)}


class CapsuleStub(StubClient):
    """The stub client with streamed transfers: progress in steps, then the fake route's answer;
    a download is written to a temporary file and renamed, as the real client does."""

    def __init__(self, backend: FakeBackend, steps: int = 4) -> None:
        super().__init__(backend)
        self.steps = steps
        self.hold = False  # True: transfers stay half-way (screenshots, cancel tests)
        self.held: list[ApiCall] = []

    def _transfer(self, call: ApiCall, size: int, finish) -> None:
        if self.hold:
            call.progress.emit(size // 2, size)
            self.held.append(call)
            return
        for step in range(1, self.steps + 1):
            QTimer.singleShot(step * 5, lambda step=step: None if call.done else
                              call.progress.emit(size * step // self.steps, size))
        QTimer.singleShot((self.steps + 1) * 5, lambda: None if call.done else finish())

    def upload(self, path, file_path, parse=None, timeout_ms=0) -> ApiCall:
        self.calls.append((path, {"path": file_path}))
        call = ApiCall(self)
        if not os.path.isfile(file_path):
            QTimer.singleShot(0, lambda: call.reject(ApiError(CODE_LOCAL_FILE, f"{file_path}: No such file")))
            return call

        def finish() -> None:
            try:
                data = self.backend.handle(path, {"path": file_path})
            except _Fail as failure:
                call.reject(failure.error)
                return
            call.resolve(parse(data) if parse else data)

        self._transfer(call, os.path.getsize(file_path), finish)
        return call

    def download(self, path, body, dest, timeout_ms=0) -> ApiCall:
        self.calls.append((path, body))
        call = ApiCall(self)
        try:
            data = self.backend.handle(path, body)
        except _Fail as failure:
            error = failure.error
            QTimer.singleShot(0, lambda: call.reject(error))
            return call
        part = dest + ".part"
        with open(part, "wb") as fh:
            fh.write(data[: len(data) // 2])
        call._abort_hook = lambda: os.remove(part)

        def finish() -> None:
            with open(part, "ab") as fh:
                fh.write(data[len(data) // 2:])
            os.replace(part, dest)
            call.resolve(dest)

        self._transfer(call, len(data), finish)
        return call


@pytest.fixture
def routes(fake_backend) -> CapsuleRoutes:
    return CapsuleRoutes(fake_backend)


@pytest.fixture
def capsule_client(fake_backend, routes, qapp):
    client = CapsuleStub(fake_backend)
    yield client
    client.deleteLater()


def say_yes(monkeypatch, answer: bool = True) -> list[str]:
    """The confirmation question answered; returns the questions asked."""
    asked: list[str] = []

    def confirm(_parent, _title, text):
        asked.append(text)
        return answer

    monkeypatch.setattr(capsule_dialogs, "confirm", confirm)
    return asked


# -- the workstation key ---------------------------------------------------------------------------------

def test_signing_key_is_made_once_kept_in_the_keyring_and_given_to_the_backend_in_its_environment(
        secret_store, desktop_env):
    pem = signing_key(secret_store)
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
    assert signing_key(secret_store) == pem  # made once
    assert desktop_env.store[("ota-desktop", CAPSULE_SIGNING_KEY)] == pem  # in the (test's) OS keyring

    options = BackendOptions(data_dir="/d", admin_token="tok", signing_key=pem)
    env = options.environment()
    assert env["OTA_SIGNING_KEY"] == pem and env["OTA_ADMIN_TOKEN"] == "tok"
    assert "PRIVATE KEY" not in repr(options)  # never in a log line that prints the options
    assert "OTA_SIGNING_KEY" not in BackendOptions(data_dir="/d", admin_token="tok").environment()


def test_session_only_store_keeps_the_key_for_the_session_only(desktop_env):
    store = SecretStore()
    store.use_session_only()
    pem = signing_key(store)
    assert signing_key(store) == pem
    assert ("ota-desktop", CAPSULE_SIGNING_KEY) not in desktop_env.store  # nothing written anywhere
    again = SecretStore()  # the next start
    again.use_session_only()
    assert signing_key(again) != pem


def test_the_embedded_backend_is_started_with_the_key_the_app_keeps(qtbot, stub_client, settings, secret_store,
                                                                     tmp_path, monkeypatch):
    from ota_desktop import backend_process
    from ota_desktop.connection import BackendConnection

    started: list[BackendOptions] = []
    monkeypatch.setattr(backend_process.BackendProcess, "start", lambda self, o, *a: started.append(o))
    settings.data_dir = str(tmp_path / "data")
    conn = BackendConnection(settings, secret_store, stub_client, AppEvents())
    conn.start()
    qtbot.waitUntil(lambda: bool(started), timeout=10_000)
    assert started[0].environment()["OTA_SIGNING_KEY"] == secret_store.get(CAPSULE_SIGNING_KEY)
    conn.start()  # a restart (language switch, "Restart backend") keeps the same key
    qtbot.waitUntil(lambda: len(started) == 2, timeout=10_000)
    assert started[1].signing_key == started[0].signing_key


def test_the_file_menu_offers_every_capsule_action(qtbot, stub_client, settings, secret_store):
    win = MainWindow(stub_client, AppEvents(), settings, secret_store)
    qtbot.addWidget(win)
    texts = [a.text() for a in win.menuBar().actions()[0].menu().actions() if a.text()]
    for text in ("&Export release capsule…", "&Import release capsule…", "Task &drafts…", "Export e&vidence…",
                 "Import evi&dence…", "&Release evidence…", "&Trusted publishers…"):
        assert text in texts


def test_fingerprints_are_grouped_in_blocks_of_four_and_computed_like_the_backend():
    fp = "SHA256:" + "0123456789abcdef" * 4
    assert group_fingerprint(fp) == "SHA256: " + " ".join(["0123", "4567", "89ab", "cdef"] * 4)
    two_lines = group_fingerprint(fp, per_line=8).split("\n")
    assert two_lines == ["SHA256: 0123 4567 89ab cdef 0123 4567 89ab cdef",
                         "        0123 4567 89ab cdef 0123 4567 89ab cdef"]
    key = new_key()
    assert pem_fingerprint(public_pem(key)) == fingerprint(key)
    with pytest.raises(ValueError, match="PEM"):
        pem_fingerprint("not a key")
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(ValueError, match="Ed25519"):
        pem_fingerprint(other)


# -- the client's streamed transfers, against a local HTTP server -------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        received = 0
        digest = hashlib.sha256()
        while received < size:
            chunk = self.rfile.read(min(1 << 16, size - received))
            if not chunk:
                break
            digest.update(chunk)
            received += len(chunk)
        self.server.seen.append((self.path, received, digest.hexdigest(), self.headers.get("iThings-token")))
        mode = self.server.mode
        if mode == "json":
            body = json.dumps({"code": 200, "msg": "success", "data": {"received": received}}).encode()
            self._answer(body, "application/json", len(body))
        elif mode == "error":
            body = json.dumps({"code": 100009, "msg": "firmwareID: firmware 99 not found"}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif mode == "file":
            self._answer(self.server.payload, "application/octet-stream", len(self.server.payload))
        elif mode == "short":  # promises more than it sends, then hangs up
            self._answer(self.server.payload[:5000], "application/octet-stream", len(self.server.payload))
            self.close_connection = True
        elif mode == "big":  # a big file, made as it is sent
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(self.server.big))
            self.end_headers()
            chunk = b"\x5a" * (1 << 20)
            for _ in range(self.server.big >> 20):
                self.wfile.write(chunk)
        elif mode == "slow":  # a byte now and then: the test aborts it
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(self.server.payload)))
            self.end_headers()
            for i in range(0, len(self.server.payload), 8192):
                try:
                    self.wfile.write(self.server.payload[i:i + 8192])
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)

    def _answer(self, body: bytes, kind: str, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple] = []
        self.mode = "json"
        self.payload = os.urandom(300_000)
        self.big = 0


@pytest.fixture
def folder(tmp_path):
    """An empty folder for the files a test saves (tmp_path holds the test's home too)."""
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture
def http_server():
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def real_client(http_server, qapp):
    client = ApiClient()
    client.set_endpoint(f"http://127.0.0.1:{http_server.server_address[1]}", "tok")
    yield client
    client.deleteLater()


def wait_call(qtbot, call: ApiCall, timeout: int = 20_000):
    box: list = []
    call.then(box.append, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=timeout)
    return box[0]


def test_upload_streams_the_file_as_the_body_with_progress(qtbot, real_client, http_server, tmp_path):
    path = tmp_path / "release.otacap"
    data = os.urandom(2_500_000)
    path.write_bytes(data)
    call = real_client.upload("/api/v1/things/ota/capsule/verify", str(path))
    progress: list = []
    call.progress.connect(lambda done, total: progress.append((done, total)))
    assert wait_call(qtbot, call) == {"received": len(data)}
    assert http_server.seen == [("/api/v1/things/ota/capsule/verify", len(data), hashlib.sha256(data).hexdigest(),
                                 "tok")]
    assert progress and progress[-1] == (len(data), len(data))
    missing = wait_call(qtbot, real_client.upload("/x", str(tmp_path / "gone.otacap")))
    assert isinstance(missing, ApiError) and missing.code == CODE_LOCAL_FILE and "gone.otacap" in missing.msg


def test_a_1_gib_capsule_is_uploaded_from_the_file_not_from_memory(qtbot, real_client, http_server, tmp_path):
    import psutil

    path = tmp_path / "big.otacap"
    with open(path, "wb") as fh:  # sparse: costs no disk
        fh.truncate(1 << 30)
    process = psutil.Process()
    before = peak = process.memory_info().rss

    def sample() -> None:
        nonlocal peak
        peak = max(peak, process.memory_info().rss)

    timer = QTimer(interval=20)
    timer.timeout.connect(sample)
    timer.start()
    call = real_client.upload("/api/v1/things/ota/capsule/verify", str(path))
    result = wait_call(qtbot, call, timeout=120_000)
    timer.stop()
    assert result == {"received": 1 << 30}
    assert peak - before < 64 << 20, f"grew by {(peak - before) >> 20} MiB"


def test_download_is_written_aside_then_renamed_with_progress(qtbot, real_client, http_server, folder):
    http_server.mode = "file"
    dest = folder / "thermo01-1.2.0.otacap"
    call = real_client.export_capsule(7, str(dest), {"type": 1}, 30)
    progress: list = []
    call.progress.connect(lambda done, total: progress.append((done, total)))
    assert wait_call(qtbot, call) == str(dest)
    assert dest.read_bytes() == http_server.payload
    assert progress[-1] == (len(http_server.payload), len(http_server.payload))
    assert os.listdir(folder) == [dest.name]  # no temporary file left


@pytest.mark.parametrize("mode", ["short", "error", "abort"])
def test_download_leaves_no_partial_file(qtbot, real_client, http_server, folder, mode):
    http_server.mode = "slow" if mode == "abort" else mode
    dest = folder / "evidence.otaevidence"
    call = real_client.export_evidence(5, str(dest))
    ended: list = []
    call.then(ended.append, ended.append)
    if mode == "abort":
        received: list = []
        call.progress.connect(lambda done, _total: received.append(done))
        qtbot.waitUntil(lambda: any(received), timeout=10_000)
        assert [p for p in os.listdir(folder) if p.endswith(".part")]  # being written aside
        call.abort()
    qtbot.waitUntil(lambda: bool(ended), timeout=20_000)
    error = ended[0]
    assert isinstance(error, ApiError)
    if mode == "error":
        assert error.msg == "firmwareID: firmware 99 not found" and error.http_status == 404
    elif mode == "abort":
        assert error.cancelled
    else:  # Qt notices the early end ("Connection closed"), else the client counts the bytes
        assert error.code == CODE_NETWORK and ("closed" in error.msg or "5000 of 300000" in error.msg)
    assert os.listdir(folder) == []


def test_download_into_a_missing_folder_fails_naming_it(qtbot, real_client, tmp_path):
    error = wait_call(qtbot, real_client.export_capsule(1, str(tmp_path / "nowhere" / "x.otacap")))
    assert error.code == CODE_LOCAL_FILE and "x.otacap" in error.msg


# -- export ----------------------------------------------------------------------------------------------

def test_export_capsule_preselects_the_firmware_and_saves_the_file_with_progress(
        qtbot, capsule_client, routes, fake_backend, folder, settings):
    fw2 = fake_backend.add_firmware("prodA", "1.1.0", "thermo")
    settings.last_folder = str(folder)
    settings.sync()
    dlg = ExportCapsuleDialog(capsule_client, fw2.firmwareID)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: dlg.firmware_combo.count() == 2, timeout=5000)
    assert dlg.current_firmware().firmwareID == fw2.firmwareID
    assert dlg.expiry_spin.value() == 30 and dlg.expiry_spin.minimum() == 1 and dlg.expiry_spin.maximum() == 3650
    assert dlg.file_row.path.endswith("prodA-1.1.0.otacap")
    dlg.file_row.edit.setText(str(folder / "release"))  # the suffix is added
    dlg.task_box.setChecked(True)
    dlg.named_radio.setChecked(True)
    dlg.export_button.click()
    assert dlg.errors.errors() == {"deviceList": "Name at least one device (or choose all devices)."}
    dlg.devices_edit.setPlainText("dev-001, dev-002\ndev-003\n")
    dlg.retry_spin.setValue(2)
    dlg.safe_check.setChecked(True)
    dlg.expiry_spin.setValue(90)
    progress: list = []
    dlg.export_button.click()
    assert dlg.call is not None
    dlg.call.progress.connect(lambda done, total: progress.append(done))
    with qtbot.waitSignal(dlg.exported, timeout=5000) as saved:
        pass
    assert saved.args == [str(folder / "release.otacap")]
    assert progress and dlg.progress.value() == 1000
    body = routes.export_body
    assert body["firmwareID"] == fw2.firmwareID and body["expiresInDays"] == 90
    task = body["task"]
    assert task["type"] == 2 and task["deviceList"] == ["dev-001", "dev-002", "dev-003"]
    assert task["retryCount"] == 2 and task["rollout"]["waves"] == [{"percent": 1}, {"percent": 10}, {"percent": 100}]
    assert "firmwareID" not in task
    assert dlg.result_label.text().startswith("Saved " + str(folder / "release.otacap"))
    assert os.listdir(folder) == ["release.otacap"]


def test_export_capsule_error_is_said_and_no_file_is_left(qtbot, capsule_client, fake_backend, folder):
    dlg = ExportCapsuleDialog(capsule_client)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: dlg.firmware_combo.count() == 1, timeout=5000)
    dlg.file_row.edit.setText(str(folder / "x.otacap"))
    fake_backend.firmwares.clear()  # deleted meanwhile
    dlg.export_button.click()
    qtbot.waitUntil(lambda: dlg.result_label.isVisible(), timeout=5000)
    assert dlg.result_label.text().startswith("Export failed: ")
    assert "firmware 1 not found" in dlg.result_label.text()
    assert os.listdir(folder) == []
    assert dlg.export_button.isEnabled()


def test_cancelled_export_removes_the_partial_file(qtbot, capsule_client, folder):
    capsule_client.hold = True
    dlg = ExportCapsuleDialog(capsule_client)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: dlg.firmware_combo.count() == 1, timeout=5000)
    dlg.file_row.edit.setText(str(folder / "x.otacap"))
    dlg.export_button.click()
    assert dlg.cancel_button.text() == "&Cancel export"
    assert os.listdir(folder) == ["x.otacap.part"]
    dlg.cancel_button.click()
    assert dlg.result_label.text() == "Export cancelled: nothing was saved."
    assert os.listdir(folder) == []
    assert dlg.isVisible()  # the first Cancel stops the export, not the dialog


# -- import ----------------------------------------------------------------------------------------------

def test_import_capsule_shows_what_it_holds_before_importing_then_starts_the_draft_after_a_question(
        qtbot, capsule_client, routes, tmp_path, monkeypatch):
    path = tmp_path / "prodA-1.2.0.otacap"
    path.write_bytes(b"GOOD" + b"\0" * 100_000)
    dlg = ImportCapsuleDialog(capsule_client)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.file_row.edit.setText(str(path))
    progress: list = []
    dlg.verify(dlg.file_row.path)
    dlg.call.progress.connect(lambda done, total: progress.append((done, total)))
    qtbot.waitUntil(lambda: dlg.info is not None, timeout=5000)
    assert progress[-1] == (100_004, 100_004)
    text = dlg.details.toPlainText()
    for expected in ("Signed by", "Engineering", *group_fingerprint(fingerprint(routes.engineering), 8).split("\n"),
                     "Thermostat (prodA)", "already on this installation", "thermo 1.2.0", "Scheduling fixes",
                     "thermo-app.bin", "thermo-ui.zip", "all devices of the product", "retries: 2",
                     "waves 1 % → 10 % → 100 %", "stop at 10 % failures after 20 finished", "Valid until"):
        assert expected in text, expected
    assert dlg.import_button.isEnabled()
    assert routes.imported == []  # nothing created by the check
    dlg.import_button.click()
    with qtbot.waitSignal(dlg.imported, timeout=5000) as imported:
        pass
    assert imported.args[0].firmwareID == 12 and routes.imported == [str(path)]
    assert "firmware #12" in dlg.result_label.text() and "task draft #4" in dlg.result_label.text()
    assert dlg.start_button.isVisible()
    asked = say_yes(monkeypatch, False)
    dlg.start_button.click()
    assert asked and "draft #4" in asked[0] and routes.started == []
    say_yes(monkeypatch, True)
    with qtbot.waitSignal(dlg.task_started, timeout=5000) as started:
        dlg.start_button.click()
    assert started.args[0] == {"taskID": 41, "taskUid": "uid-41"} and routes.started == [4]
    assert "Task 41 started." in dlg.result_label.text()


@pytest.mark.parametrize(("content", "reason"), [
    (b"UNKNOWN", f"Refused: unknown publisher {FOREIGN} (add it to the trusted publishers after comparing "
                 "its fingerprint)"),
    (b"ALTERED", "Refused: file 'app.bin' was altered (sha256 00ff, the signed manifest says 11ee)"),
])
def test_refused_capsule_says_why_and_cannot_be_imported(qtbot, capsule_client, routes, tmp_path, content, reason):
    path = tmp_path / "bad.otacap"
    path.write_bytes(content + b"\0" * 1000)
    dlg = ImportCapsuleDialog(capsule_client)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.file_row.edit.setText(str(path))
    dlg.verify(str(path))
    qtbot.waitUntil(lambda: dlg.refusal_label.isVisible(), timeout=5000)
    assert dlg.refusal_label.text() == reason
    assert not dlg.import_button.isEnabled() and dlg.info is None
    assert dlg.trust_button.isVisible() == (content == b"UNKNOWN")
    if content == b"UNKNOWN":  # the unknown fingerprint in blocks, to compare with the publisher's
        text = dlg.details.toPlainText().replace("\xa0", " ")
        assert "does not trust" in text
        assert all(line.strip() in text for line in group_fingerprint(FOREIGN, per_line=8).split("\n"))
    assert routes.imported == []


# -- drafts ----------------------------------------------------------------------------------------------

def test_task_drafts_start_and_delete_only_after_a_question(qtbot, capsule_client, routes, monkeypatch):
    routes.drafts.append(dto.TaskDraft(5, 1, "prodA", "1.0.0", "c-2", "Engineering", {}, NOW))
    dlg = TaskDraftsDialog(capsule_client)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: dlg.model.rowCount() == 2, timeout=5000)
    assert dlg.model.index(0, dlg.model.TEMPLATE).data() == "named devices: 2 (dev-001, dev-002); retries: 1"
    assert not dlg.start_button.isEnabled()
    dlg.view.selectRow(0)
    asked = say_yes(monkeypatch, False)
    dlg.start_button.click()
    dlg.delete_button.click()
    assert len(asked) == 2 and routes.started == [] and routes.deleted == []
    say_yes(monkeypatch, True)
    with qtbot.waitSignal(dlg.task_started, timeout=5000):
        dlg.start_button.click()
    assert routes.started == [3]
    qtbot.waitUntil(lambda: dlg.model.rowCount() == 1, timeout=5000)
    assert "Task 41 started from draft #3." == dlg.status_label.text()
    dlg.view.selectRow(0)
    dlg.delete_button.click()
    qtbot.waitUntil(lambda: dlg.model.rowCount() == 0, timeout=5000)
    assert routes.deleted == [5]


# -- evidence --------------------------------------------------------------------------------------------

def test_export_evidence_of_the_selected_task(qtbot, capsule_client, routes, fake_backend, tmp_path):
    fw = next(iter(fake_backend.firmwares.values()))
    for _ in range(2):
        fake_backend.r_things_ota_task_create({"type": 1, "upgradeType": 1, "firmwareID": fw.firmwareID})
    tid = max(fake_backend.tasks)
    task = dto.Task(tid, f"uid-{tid}", version=fw.version, productID=fw.productID, firmwareID=fw.firmwareID)
    dlg = ExportEvidenceDialog(capsule_client, task)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: dlg.task_combo.count() == 2, timeout=5000)
    assert dlg.current_task().taskID == tid
    assert dlg.file_row.path.endswith(f"evidence-prodA-1.0.0-uid-{tid}.otaevidence")
    dlg.file_row.edit.setText(str(tmp_path / "ev.otaevidence"))
    with qtbot.waitSignal(dlg.exported, timeout=5000):
        dlg.export_button.click()
    assert routes.evidence_body == {"taskID": tid}
    assert (tmp_path / "ev.otaevidence").read_bytes().startswith(b"EVIDENCE")


def test_import_evidence_says_whose_results_and_release_evidence_shows_the_devices(
        qtbot, capsule_client, routes, tmp_path):
    path = tmp_path / "ev.otaevidence"
    path.write_bytes(b"GOOD" * 100)
    dlg = ImportEvidenceDialog(capsule_client)
    qtbot.addWidget(dlg)
    dlg.show()
    with qtbot.waitSignal(dlg.imported, timeout=5000):
        dlg.import_file(str(path))
    text = dlg.result_label.text()
    assert "Line 2 station" in text and "uid-remote-7" in text and "prodA version 1.0.0" in text
    assert dlg.station_fingerprint.text() == group_fingerprint(fingerprint(routes.engineering), per_line=8)

    ev = ReleaseEvidenceDialog(capsule_client)
    qtbot.addWidget(ev)
    ev.show()
    qtbot.waitUntil(lambda: ev.stations_model.rowCount() == 1, timeout=5000)
    m = ev.stations_model
    assert [m.index(0, c).data() for c in (m.PRODUCT, m.VERSION, m.STATION, m.TASK, m.DEVICES, m.SUCCEEDED,
                                           m.FAILED)] == ["prodA", "1.0.0", "Line 2 station", "uid-remote-7", "3",
                                                          "2", "1"]
    ev.stations_view.selectRow(0)
    qtbot.waitUntil(lambda: ev.devices_model.rowCount() == 3, timeout=5000)
    d = ev.devices_model
    failed = next(r for r in range(3) if d.index(r, d.DEVICE).data() == "dev-003")
    assert d.index(failed, d.STATUS).data() == "Failed" and d.index(failed, d.DESC).data() == "download failed"


# -- trusted publishers -----------------------------------------------------------------------------------

def test_trusted_publishers_show_this_workstation_and_add_and_remove(qtbot, capsule_client, routes, tmp_path,
                                                                    monkeypatch):
    store = SecretStore()
    store.use_session_only()
    dlg = TrustedPublishersDialog(capsule_client, store)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: dlg.key is not None and dlg.model.rowCount() == 1, timeout=5000)
    own = fingerprint(routes.own)
    assert dlg.own_fingerprint.text() == group_fingerprint(own, per_line=8)
    assert "session only" in dlg.kept_label.text() and "fingerprint changes" in dlg.kept_label.text()
    dlg.copy_button.click()
    assert QGuiApplication.clipboard().text() == own
    dlg.save_public_key_to(str(tmp_path / "me.pem"))
    qtbot.waitUntil(lambda: (tmp_path / "me.pem").exists(), timeout=5000)
    assert pem_fingerprint((tmp_path / "me.pem").read_text()) == own

    add = dlg.add_publisher()
    assert isinstance(add, AddPublisherDialog) and not add.add_button.isEnabled()
    station = new_key()
    add.pem_edit.setPlainText(public_pem(station))
    assert add.fingerprint_label.text() == group_fingerprint(fingerprint(station), per_line=8)  # before adding
    assert not add.add_button.isEnabled()  # no name yet
    add.name_edit.setText("Line 3 station")
    assert routes.trusted == []
    with qtbot.waitSignal(add.added, timeout=5000):
        add.add_button.click()
    assert routes.trusted == [("Line 3 station", fingerprint(station))]
    qtbot.waitUntil(lambda: dlg.model.rowCount() == 2, timeout=5000)

    again = dlg.add_publisher()  # the same key twice: the backend's reason, at the key
    again.pem_edit.setPlainText(public_pem(station))
    again.name_edit.setText("twice")
    again.add_button.click()
    qtbot.waitUntil(lambda: "publicKey" in again.errors.errors(), timeout=5000)
    assert "already trusted" in again.errors.errors()["publicKey"]
    again.pem_edit.setPlainText("garbage")
    assert "not a public key" in again.fingerprint_label.text() and not again.add_button.isEnabled()
    again.reject()

    row = next(r for r in range(2) if dlg.model.index(r, dlg.model.NAME).data() == "Engineering")
    dlg.view.selectRow(row)
    asked = say_yes(monkeypatch, False)
    dlg.remove_button.click()
    assert asked and "Engineering" in asked[0] and routes.removed == []
    say_yes(monkeypatch, True)
    dlg.remove_button.click()
    qtbot.waitUntil(lambda: dlg.model.rowCount() == 1, timeout=5000)
    assert routes.removed == [fingerprint(routes.engineering)]


# -- a real backend --------------------------------------------------------------------------------------

HAVE_MOSQUITTO = bool(shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto"))


def _has_capsule_routes() -> bool:
    try:
        from backend.api import capsules  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.mqtt
@pytest.mark.skipif(not (backend_process.backend_available() and HAVE_MOSQUITTO and _has_capsule_routes()),
                    reason="needs the backend with its capsule routes, and Mosquitto")
def test_real_backend_signs_with_the_desktops_key_and_a_capsule_round_trips(qtbot, settings, secret_store, tmp_path,
                                                                           monkeypatch):
    from ota_desktop.connection import BackendConnection

    settings.data_dir = str(tmp_path / "backend")
    events, client = AppEvents(), ApiClient()
    conn = BackendConnection(settings, secret_store, client, events)
    win = MainWindow(client, events, settings, secret_store, conn)
    qtbot.addWidget(win)
    try:
        conn.start()
        qtbot.waitUntil(lambda: conn.state in ("ready", "failed"), timeout=90_000)
        assert conn.state == "ready", conn.process.stderr_tail

        # the backend signs with the key the desktop keeps
        key = wait_call(qtbot, client.capsule_key())
        assert isinstance(key, dto.CapsuleKey), key
        pem = secret_store.get(CAPSULE_SIGNING_KEY)
        private = serialization.load_pem_private_key(pem.encode(), password=None)
        assert key.fingerprint == fingerprint(private) and key.keptIn == "environment"
        trust = TrustedPublishersDialog(client, secret_store)
        qtbot.addWidget(trust)
        qtbot.waitUntil(lambda: trust.key is not None, timeout=10_000)
        assert trust.own_fingerprint.text() == group_fingerprint(key.fingerprint, per_line=8)
        assert "OS keyring" in trust.kept_label.text()

        # a firmware of two files
        wait_call(qtbot, client.create_product("Thermostat", "thermo01"))
        files = []
        for name, size in (("app.bin", 300_000), ("ui.zip", 5_000)):
            (tmp_path / name).write_bytes(os.urandom(size))
            up = wait_call(qtbot, client.create_upload_url("thermo01", name))
            assert not isinstance(wait_call(qtbot, client.put_file(up["uploadUri"], str(tmp_path / name))), ApiError)
            files.append({"name": name, "filePath": up["filePath"],
                          "signature": hashlib.md5((tmp_path / name).read_bytes()).hexdigest()})
        fid = wait_call(qtbot, client.create_firmware(dto.NewFirmware("thermo01", "thermo", "1.2.0"), files))
        assert isinstance(fid, int), fid

        # exported through the dialog, with a task template
        settings.last_folder = str(tmp_path)
        settings.sync()
        out = tmp_path / "out"
        out.mkdir()
        export = ExportCapsuleDialog(client, fid)
        qtbot.addWidget(export)
        export.show()
        qtbot.waitUntil(lambda: export.current_firmware() is not None, timeout=10_000)
        export.file_row.edit.setText(str(out / "thermo01-1.2.0.otacap"))
        export.task_box.setChecked(True)
        export.safe_check.setChecked(True)
        with qtbot.waitSignal(export.exported, timeout=60_000):
            export.export_button.click()
        assert os.listdir(out) == ["thermo01-1.2.0.otacap"]
        capsule = str(out / "thermo01-1.2.0.otacap")

        # checked on this installation: the firmware is already here, said in words
        dlg = ImportCapsuleDialog(client)
        qtbot.addWidget(dlg)
        dlg.show()
        dlg.file_row.edit.setText(capsule)
        dlg.verify(capsule)
        qtbot.waitUntil(lambda: dlg.info is not None or dlg.refusal_label.isVisible(), timeout=60_000)
        if dlg.refusal_label.isVisible() and "unknown publisher" in dlg.refusal_label.text():
            assert not isinstance(wait_call(qtbot, client.trust_publisher(key.publicKey, "this workstation")),
                                  ApiError)
            dlg.verify(capsule)
            qtbot.waitUntil(lambda: dlg.info is not None or dlg.refusal_label.isVisible(), timeout=60_000)
        assert dlg.refusal_label.isVisible() and "already exists" in dlg.refusal_label.text(), \
            dlg.refusal_label.text()

        # once the firmware is gone, the same capsule verifies and imports with its draft
        assert not isinstance(wait_call(qtbot, client.delete_firmware(fid)), ApiError)
        dlg.verify(capsule)
        qtbot.waitUntil(lambda: dlg.info is not None or dlg.refusal_label.isVisible(), timeout=60_000)
        assert dlg.info is not None, dlg.refusal_label.text()
        text = dlg.details.toPlainText()
        assert "thermo 1.2.0" in text and "app.bin" in text and "ui.zip" in text and "waves 1 %" in text
        with qtbot.waitSignal(dlg.imported, timeout=60_000) as imported:
            dlg.import_button.click()
        result = imported.args[0]
        assert result.draftID is not None and not result.productCreated
        drafts = wait_call(qtbot, client.task_drafts())
        assert [d.draftID for d in drafts] == [result.draftID]
        say_yes(monkeypatch, True)
        with qtbot.waitSignal(dlg.task_started, timeout=30_000) as started:
            dlg.start_button.click()
        task_id = started.args[0]["taskID"]

        # the task's evidence, exported
        evidence = out / "task.otaevidence"
        saved = wait_call(qtbot, client.export_evidence(task_id, str(evidence)))
        assert saved == str(evidence) and evidence.stat().st_size > 0

        # ... imported back (this workstation is trusted by now), listed per release
        back = ImportEvidenceDialog(client)
        qtbot.addWidget(back)
        back.show()
        back.import_file(str(evidence))
        qtbot.waitUntil(lambda: back.outcome is not None or back.refusal_label.isVisible(), timeout=60_000)
        if back.outcome is None and "unknown" in back.refusal_label.text():
            assert not isinstance(wait_call(qtbot, client.trust_publisher(key.publicKey, "this workstation")),
                                  ApiError)
            back.import_file(str(evidence))
            qtbot.waitUntil(lambda: back.outcome is not None or back.refusal_label.isVisible(), timeout=60_000)
        assert back.outcome is not None, back.refusal_label.text()
        assert back.outcome.productID == "thermo01" and back.outcome.version == "1.2.0"
        releases = ReleaseEvidenceDialog(client)
        qtbot.addWidget(releases)
        releases.show()
        qtbot.waitUntil(lambda: releases.stations_model.rowCount() == 1, timeout=10_000)
        m = releases.stations_model
        assert m.index(0, m.PRODUCT).data() == "thermo01" and m.index(0, m.TASK).data() == started.args[0]["taskUid"]
        releases.stations_view.selectRow(0)
        qtbot.waitUntil(lambda: "loading" not in releases.devices_label.text(), timeout=10_000)
        assert releases.devices_label.text().startswith("Devices of ")
    finally:
        conn.stop()
