"""Desktop core without widgets: SSE parsing, API errors, DTOs, secrets, settings, launcher."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from ota_desktop import backend_process, i18n
from ota_desktop.connection import with_password
from ota_desktop.core import dto
from ota_desktop.core.api_client import ApiError
from ota_desktop.core.events_stream import SseParser
from ota_desktop.core.workers import Cancelled, hash_file
from ota_desktop.secrets import ADMIN_TOKEN, SecretStore, SecretsUnavailable
from ota_desktop.settings import EMBEDDED, Settings
from ota_protocol import codes
from ota_protocol.task_options import OPTIONS, TaskSpec
from tests._examples import example

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name

pytestmark = pytest.mark.qt_log_level_fail("WARNING")



def test_sse_parser_handles_split_chunks_comments_and_ids():
    p = SseParser()
    stream = (b": ping\n\nid: 7\ndata: {\"type\":\"record\",\"id\":1}\n\n"
              b"id: 8\r\ndata: {\"type\":\"task\",\r\ndata: \"status\":3}\r\n\r\nretry: 1500\n\n")
    out = []
    for i in range(0, len(stream), 5):  # arbitrary chunk boundaries
        out += p.feed(stream[i:i + 5])
    assert [m.id for m in out] == ["7", "8"]
    assert json.loads(out[0].data) == {"type": "record", "id": 1}
    assert json.loads(out[1].data) == {"type": "task", "status": 3}
    assert p.last_id == "8" and p.retry_ms == 1500


def test_sse_parser_keeps_partial_event_until_blank_line():
    p = SseParser()
    assert p.feed(b"id: 1\ndata: {}") == []
    assert p.feed(b"\n") == []
    assert [m.data for m in p.feed(b"\n")] == ["{}"]


@pytest.mark.parametrize("msg,field,detail", [
    ("version: must be a non-empty string", "version", "must be a non-empty string"),
    ("files[1].name: duplicate", "files", "duplicate"),
    ("files.0.filePath: not an uploaded object", "files", "not an uploaded object"),
    ("something went wrong", None, "something went wrong"),
    ("unknown devices: a, b", None, "unknown devices: a, b"),
])
def test_api_error_names_the_field(msg, field, detail):
    err = ApiError(100006, msg, 400)
    assert err.field == field
    assert err.detail == detail


def test_new_task_and_firmware_bodies_follow_the_seed_examples():
    seed = example("task-create.request.json")
    body = dto.NewTask(firmwareID=1).to_json()
    assert {k: body[k] for k in ("firmwareID", "type", "upgradeType")} == \
        {k: seed[k] for k in ("firmwareID", "type", "upgradeType")}
    assert body["retryCount"] == 0 and body["grayPercent"] == 100 and body["overwrite"] is False
    seed_fw = example("firmware-create.request.json")
    fw = dto.NewFirmware(productID=seed_fw["productID"], name=seed_fw["name"], version=seed_fw["version"],
                         desc=seed_fw["desc"])
    assert fw.to_json(seed_fw["files"]) == seed_fw


def test_new_task_is_the_protocols_task_spec():
    """NewTask carries every task parameter under its wire name, with OPTIONS' defaults."""
    body = dto.NewTask(firmwareID=1).to_json()
    assert list(body) == [o.wire for o in OPTIONS.values()]
    assert {o.wire: body[o.wire] for o in OPTIONS.values() if o.name != "firmware_id"} == \
        {o.wire: o.default for o in OPTIONS.values() if o.name != "firmware_id"}
    assert body == {**TaskSpec(firmware_id=1).to_wire()}
    detail = dto.TaskDetail.from_json({"taskID": 1})
    assert (detail.retryIntervalMinutes, detail.timeoutMinutes, detail.grayPercent) == (
        OPTIONS["retry_interval_minutes"].default, OPTIONS["timeout_minutes"].default, OPTIONS["gray_percent"].default)


def test_dto_codes_are_the_protocols():
    assert dto.RecordStatus is codes.RecordStatus and dto.TaskType is codes.TaskType
    assert dto.coerce(dto.RecordStatus, "601") is codes.RecordStatus.FAILED
    assert dto.coerce(dto.RecordStatus, 999) == 999 and type(dto.coerce(dto.RecordStatus, 999)) is int
    assert dto.FINAL_RECORD_STATUSES == {501, 601, 701}


@pytest.mark.parametrize("result,counts,rate", [
    ('{"501": 3, "601": 1, "successRate": 0.75}', {501: 3, 601: 1}, 0.75),
    ({"counts": {"501": 2}, "successRate": 50}, {501: 2}, 0.5),
    ('{"statusCount": [{"status": 401, "count": 4}]}', {401: 4}, None),
    ("not json", {}, None),
])
def test_parse_analysis(result, counts, rate):
    assert dto.parse_analysis(result) == (counts, rate)


def test_dto_ignores_unknown_fields():
    d = dto.DeviceRecord.from_json({"id": 1, "deviceName": "a", "status": 401, "brandNew": True})
    assert (d.id, d.deviceName, d.status) == (1, "a", 401)


def test_backend_command_source_and_frozen(monkeypatch):
    prog, args = backend_process.backend_command(["--data-dir", "/x"])
    assert prog == sys.executable and args == ["-m", "backend", "--data-dir", "/x"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    prog, args = backend_process.backend_command(["--data-dir", "/x"])
    assert prog == sys.executable and args == ["backend", "--data-dir", "/x"]


def test_backend_options_keep_secrets_out_of_the_command_line():
    opts = backend_process.BackendOptions(data_dir="/d", admin_token="sekrit", storage_url="http://s3:9000",
                                          storage_access_key="ak", storage_secret_key="sk2")
    assert "sekrit" not in " ".join(opts.arguments()) and "sk2" not in " ".join(opts.arguments())
    env = opts.environment()
    assert env["OTA_ADMIN_TOKEN"] == "sekrit" and env["OTA_STORAGE_SECRET_KEY"] == "sk2"
    assert env["OTA_LAN"] == "0" and "OTA_MQTT_URL" not in env


@pytest.mark.parametrize("stderr,expect", [
    ("error: mosquitto not found; install it with apt-get install mosquitto", "apt-get install mosquitto"),
    ("OSError: [Errno 98] Address already in use", "already taken"),
    ("PermissionError: [Errno 13] Permission denied: '/data'", "data directory"),
    ("Traceback...\nValueError: boom", "boom"),
])
def test_explain_failure_is_actionable(stderr, expect):
    assert expect in backend_process.explain_failure(stderr, 1, None)


def test_with_password_only_fills_a_named_user():
    assert with_password("mqtt://ota@broker:1883", "p w/") == "mqtt://ota:p%20w%2F@broker:1883"
    assert with_password("mqtt://broker:1883", "x") == "mqtt://broker:1883"
    assert with_password("mqtt://a:b@broker:1883", "x") == "mqtt://a:b@broker:1883"
    assert with_password("", "x") == ""


def test_settings_are_typed_with_defaults(settings: Settings, tmp_path):
    assert settings.backend_mode == EMBEDDED
    assert settings.http_port == 0 and settings.lan_exposure is False
    assert settings.data_dir.startswith(str(tmp_path))
    settings.http_port = 7788
    settings.lan_exposure = True
    settings.sync()
    again = Settings(type(settings._qs)(settings.file_name, settings._qs.format()))
    assert again.http_port == 7788 and again.lan_exposure is True
    assert {s.key for s in Settings.declared()} >= {"backend/mode", "ui/language", "ui/geometry"}
    text = open(settings.file_name, encoding="utf-8").read()
    assert "token" not in text.lower() and "secret" not in text.lower()


def test_secret_store_uses_the_keyring(desktop_env, secret_store: SecretStore):
    secret_store.set(ADMIN_TOKEN, "t1")
    assert desktop_env.store[("ota-desktop", ADMIN_TOKEN)] == "t1"
    assert secret_store.get(ADMIN_TOKEN) == "t1"
    assert "InMemoryKeyring" in secret_store.backend_name
    secret_store.delete(ADMIN_TOKEN)
    assert secret_store.get(ADMIN_TOKEN) is None
    assert secret_store.get_or_create(ADMIN_TOKEN, lambda: "made") == "made"
    assert secret_store.get_or_create(ADMIN_TOKEN, lambda: "other") == "made"


def test_secret_store_without_keyring_refuses_until_session_only_is_chosen(tmp_path):
    keyring.set_keyring(fail.Keyring())
    store = SecretStore()
    assert not store.keyring_available and not store.usable
    assert "fail" in store.backend_name
    with pytest.raises(SecretsUnavailable):
        store.set(ADMIN_TOKEN, "x")
    with pytest.raises(SecretsUnavailable):
        store.get(ADMIN_TOKEN)
    store.use_session_only()
    store.set(ADMIN_TOKEN, "x")
    assert store.get(ADMIN_TOKEN) == "x"
    # nothing was written to disk anywhere under the sandbox
    assert not any("x" == p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file())


class _Ctx:
    def __init__(self, cancel_after: int | None = None):
        self.reports, self.cancel_after = [], cancel_after

    def check(self):
        if self.cancel_after is not None and len(self.reports) >= self.cancel_after:
            raise Cancelled()

    def report(self, done, total):
        self.reports.append((done, total))


@pytest.mark.parametrize("method", ["md5", "sha256"])
def test_hash_file_streams_in_chunks(tmp_path, method):
    data = bytes(range(256)) * 10_000  # 2.5 MB: three chunks
    path = tmp_path / "fw.bin"
    path.write_bytes(data)
    ctx = _Ctx()
    assert hash_file(ctx, str(path), method) == hashlib.new(method, data).hexdigest()
    assert len(ctx.reports) == 3 and ctx.reports[-1] == (len(data), len(data))
    with pytest.raises(Cancelled):
        hash_file(_Ctx(cancel_after=1), str(path), method)


@pytest.mark.parametrize("setting,system,expect", [
    ("system", "zh_CN", "zh_CN"), ("system", "zh_TW", "zh_CN"), ("system", "de_DE", "en"),
    ("en", "zh_CN", "en"), ("zh_CN", "en_US", "zh_CN"),
])
def test_language_follows_system_with_override(setting, system, expect):
    from PySide6.QtCore import QLocale

    assert i18n.resolve_language(setting, QLocale(system)) == expect


def test_binding_singleton_references_survive_many_calls():
    """PySide6 6.12.0 drops a reference to True (emit) and None (void methods) per call;
    ota_desktop's qtcompat keeps the process alive regardless."""
    from PySide6.QtCore import QObject, Signal

    from ota_desktop.core import qtcompat

    class Emitter(QObject):
        s = Signal()

    o = Emitter()
    for _ in range(200_000):  # far more than the references these singletons start with
        o.s.emit()
        o.setObjectName("x")
    assert qtcompat.apply() == []  # already applied at import, never twice


def test_app_and_headless_backend_share_one_default_data_dir(desktop_env, settings, tmp_path):
    from backend.config import default_data_dir as backend_default

    assert settings.data_dir == str(backend_default())
    assert " " not in settings.data_dir and settings.data_dir.endswith("ota-desktop")


def test_an_installation_with_the_old_data_dir_keeps_it(desktop_env, settings):
    from PySide6.QtCore import QStandardPaths

    from ota_desktop.settings import default_data_dir

    old = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)) / "backend"
    old.mkdir(parents=True)
    (old / "ota.db").write_bytes(b"")
    assert default_data_dir() == str(old)


class _DyingStreamServer:
    """Answers the events request with headers and one event, then drops the connection."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"1a\r\nid: 1\ndata: {\"type\":\"x\"}\n\n\r\n")
            conn.close()  # mid-stream, no final chunk: the client sees RemoteHostClosedError

    def close(self) -> None:
        self.sock.close()


@pytest.mark.serial  # a dying connection's timing: CPU contention from other workers delays it
def test_stopping_a_stream_whose_connection_just_died_is_quiet(qtbot):
    """The app stops the stream when the backend dies; that moment can fall between the
    reply's error and its finished signal. Stopping then must not make Qt report a second
    error (Qt's warning fails this test through qt_log_level_fail)."""
    from ota_desktop.core.api_client import ApiClient
    from ota_desktop.core.events_stream import EventStream

    server = _DyingStreamServer()
    client = ApiClient()
    client.set_endpoint(f"http://127.0.0.1:{server.port}", "t")
    stream = EventStream(client)
    got: list = []
    stream.events.connect(got.extend)
    stopped_in_error: list[bool] = []

    def on_error(_code) -> None:
        stopped_in_error.append(True)
        stream.stop()  # what BackendConnection does when the backend is lost

    try:
        stream.start()
        stream._reply.errorOccurred.connect(on_error)
        qtbot.waitUntil(lambda: bool(stopped_in_error), timeout=5_000)
        qtbot.wait(200)  # let Qt deliver what it still had queued for that reply
        assert got == [{"type": "x"}]
        assert stream.state == "stopped" and stream._reply is None
    finally:
        stream.stop()
        server.close()
