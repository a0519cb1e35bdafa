"""Fixtures for the desktop tests: isolated dirs + in-memory keyring, and a stub API client
over an in-memory fake backend (for forms and pages that need no real server)."""
from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from typing import Any

import keyring
import pytest
from PySide6.QtCore import QLocale, QSettings, QSize, QStandardPaths, QTimer, QTranslator

from ota_desktop import i18n
from ota_desktop.core import dto
from ota_desktop.core.api_client import CODE_NETWORK, CODE_PARAMETER, ApiCall, ApiClient, ApiError
from ota_desktop.secrets import SecretStore
from ota_desktop.settings import Settings
from ota_desktop.ui import forms, task_dialog

from ._keyring import InMemoryKeyring

#: the fixtures, for the test modules' `from ._desktop_fixtures import *`
__all__ = ["desktop_env", "fake_backend", "lang", "secret_store", "settings", "stub_client"]

# Qt messages that the offscreen platform prints for any top-level window
QT_LOG_IGNORE = [r"This plugin does not support propagateSizeHints\(\)",
                 r"This plugin does not support raise\(\)",
                 r"QFont::setPointSize: Point size <= 0"]


@pytest.fixture(autouse=True)
def desktop_env(tmp_path, monkeypatch):
    """Every standard directory under tmp_path; an in-memory keyring; settings in tmp_path."""
    for var, sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                     ("XDG_CACHE_HOME", "cache"), ("XDG_RUNTIME_DIR", "runtime"), ("TMPDIR", "tmp")):
        path = tmp_path / "env" / sub
        path.mkdir(parents=True, mode=0o700, exist_ok=True)
        monkeypatch.setenv(var, str(path))
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "env" / "config"))
    previous = keyring.get_keyring()
    kr = InMemoryKeyring()
    keyring.set_keyring(kr)
    assert QStandardPaths.writableLocation(QStandardPaths.StandardLocation.HomeLocation).startswith(str(tmp_path))
    yield kr
    keyring.set_keyring(previous)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def secret_store(desktop_env) -> SecretStore:
    return SecretStore()


class _Fail(Exception):
    """Raised by FakeBackend routes; carries the ApiError the call fails with."""

    def __init__(self, code: int, msg: str = "", status: int = 400, error: ApiError | None = None) -> None:
        super().__init__(msg)
        self.error = error or ApiError(code, msg, status)


def _later(fn: Callable[[], None], ms: int = 0) -> None:
    QTimer.singleShot(ms, fn)


class FakeBackend:
    """Just enough of the HTTP API, in memory, for forms and pages."""

    def __init__(self) -> None:
        self.products: dict[str, dto.Product] = {}
        self.devices: dict[str, dict[str, dto.Device]] = {}
        self.firmwares: dict[int, dto.FirmwareDetail] = {}
        self.tasks: dict[int, dict[str, Any]] = {}
        self.records: dict[str, list[dto.DeviceRecord]] = {}
        self.uploads: dict[str, str] = {}
        self._ids = itertools.count(1)
        #: path -> ApiError to fail the next call with (tests set these)
        self.fail_next: dict[str, ApiError] = {}

    # -- seeding helpers -----------------------------------------------------------------------
    def add_product(self, pid: str, name: str = "") -> None:
        self.products[pid] = dto.Product(pid, name or pid)
        self.devices.setdefault(pid, {})

    def add_devices(self, pid: str, names: list[str], version: str = "0.9.0") -> None:
        for n in names:
            self.devices[pid][n] = dto.Device(pid, n, version, True, int(time.time() * 1000), f"secret-{n}")

    def add_firmware(self, pid: str, version: str, name: str = "fw") -> dto.FirmwareDetail:
        fid = next(self._ids)
        fw = dto.FirmwareDetail(fid, name, version, pid, self.products[pid].productName, 1, "md5", 0,
                                int(time.time() * 1000))
        self.firmwares[fid] = fw
        return fw

    # -- routes --------------------------------------------------------------------------------
    def handle(self, path: str, body: dict) -> Any:
        route = path.rsplit("/api/v1/", 1)[-1]
        if route in self.fail_next:
            raise _Fail(0, error=self.fail_next.pop(route))
        handler = getattr(self, "r_" + route.replace("/", "_").replace("-", "_"))
        return handler(body)

    @staticmethod
    def _page(items: list, body: dict) -> dict:
        page = body.get("page") or {"page": 1, "size": 20}
        start = (page["page"] - 1) * page["size"]
        return {"list": [i if isinstance(i, dict) else _slots(i) for i in items[start:start + page["size"]]],
                "total": len(items)}

    def r_things_product_info_index(self, body: dict) -> dict:
        return self._page([{"productID": p.productID, "productName": p.productName, "desc": p.desc}
                           for p in self.products.values()], body)

    def r_things_product_info_create(self, body: dict) -> dict:
        if not body.get("productName"):
            raise _Fail(CODE_PARAMETER, "productName: must be a non-empty string", 400)
        pid = body.get("productID") or f"P{next(self._ids):010d}"
        if pid in self.products:
            raise _Fail(100010, f"productID: {pid} already exists", 409)
        self.add_product(pid, body["productName"])
        return {"productID": pid}

    def r_things_product_info_delete(self, body: dict) -> dict:
        self.products.pop(body["productID"], None)
        return {}

    def r_things_device_info_index(self, body: dict) -> dict:
        devs = self.devices.get(body["productID"], {})
        secret = bool(body.get("withSecret"))
        return self._page([dict(productID=d.productID, deviceName=d.deviceName, version=d.version, online=d.online,
                                lastSeen=d.lastSeen, **({"deviceSecret": d.deviceSecret} if secret else {}))
                           for d in devs.values()], body)

    def r_things_device_info_create(self, body: dict) -> dict:
        pid, name = body["productID"], body["deviceName"]
        if name in self.devices[pid]:
            raise _Fail(100010, f"deviceName: {name} already exists", 409)
        self.add_devices(pid, [name], body["version"])
        d = self.devices[pid][name]
        if body.get("deviceSecret"):
            d.deviceSecret = body["deviceSecret"]
        return _slots(d)

    def r_things_device_info_read(self, body: dict) -> dict:
        return _slots(self.devices[body["productID"]][body["deviceName"]])

    def r_things_device_info_delete(self, body: dict) -> dict:
        self.devices[body["productID"]].pop(body["deviceName"], None)
        return {}

    def r_things_device_info_import(self, body: dict) -> dict:
        pid = body["productID"]
        rows = [ln.split(",") for ln in body["csv"].splitlines() if ln.strip()]
        if rows and rows[0][0] == "deviceName":
            rows = rows[1:]
        self.add_devices(pid, [r[0] for r in rows])
        return {"list": [_slots(self.devices[pid][r[0]]) for r in rows]}

    def r_system_common_upload_url_create(self, body: dict) -> dict:
        key = f"productManage/ota/{next(self._ids):08d}.{body['filePath'].rsplit('.', 1)[-1]}"
        return {"filePath": key, "uploadUri": f"/api/v1/oss/ithings-temporary/{key}?X-Amz-Signature=abc"}

    def r_things_ota_firmware_index(self, body: dict) -> dict:
        pid = body.get("productID")
        rows = [dto.Firmware(**{k: getattr(f, k) for k in dto.Firmware.__dataclass_fields__})
                for f in self.firmwares.values() if not pid or f.productID == pid]
        return self._page(rows, body)

    def r_things_ota_firmware_create(self, body: dict) -> dict:
        for f in ("name", "version"):
            if not body.get(f):
                raise _Fail(CODE_PARAMETER, f"{f}: must be a non-empty string", 400)
        if any(f.version == body["version"] and f.productID == body["productID"] for f in self.firmwares.values()):
            raise _Fail(100010, f"version: {body['version']} already exists for this product", 409)
        fw = self.add_firmware(body["productID"], body["version"], body["name"])
        fw.signMethod, fw.desc, fw.extData, fw.isDiff = body["signMethod"], body["desc"], body["extData"], body["isDiff"]
        fw.files = [dto.FirmwareFile(f["name"], "", *self.uploads.get(f["filePath"], (0, ""))) for f in body["files"]]
        fw.totalSize = sum(f.size for f in fw.files)
        return {"firmwareID": fw.firmwareID}

    def r_things_ota_firmware_read(self, body: dict) -> dict:
        fw = self.firmwares[body["firmwareID"]]
        out = _slots(fw)
        out["files"] = [_slots(f) for f in fw.files]
        return out

    def r_things_ota_firmware_delete(self, body: dict) -> dict:
        fid = body["firmwareID"]
        if any(t["firmwareID"] == fid and t["status"] in (1, 2) for t in self.tasks.values()):
            raise _Fail(2100002, "a task of this firmware is not finished", 409)
        self.firmwares.pop(fid)
        self.tasks = {tid: t for tid, t in self.tasks.items() if t["firmwareID"] != fid}
        return {}

    def r_things_ota_firmware_device_info_read(self, body: dict) -> dict:
        fw = self.firmwares[body["firmwareID"]]
        versions = sorted({d.version for d in self.devices.get(fw.productID, {}).values()})
        return {"versions": ",".join(versions)}

    def r_things_ota_task_create(self, body: dict) -> dict:
        self.last_task_body = body
        tid = next(self._ids)
        uid = f"uid-{tid}"
        self.tasks[tid] = {"taskID": tid, "taskUid": uid, "type": body["type"], "upgradeType": body["upgradeType"],
                          "status": 1, "createdTime": int(time.time() * 1000), "firmwareID": body["firmwareID"]}
        if body.get("rollout"):
            self.tasks[tid].update(rollout=body["rollout"], waveCount=max(len(body["rollout"].get("waves") or []), 1))
        return {"taskID": tid, "taskUid": uid}

    def r_things_ota_task_index(self, body: dict) -> dict:
        rows = [{k: v for k, v in t.items() if k != "firmwareID"} for t in self.tasks.values()
                if t["firmwareID"] == body["firmwareID"]]
        return self._page(rows, body)

    def r_things_ota_task_read(self, body: dict) -> dict:
        task = self.tasks.get(body["taskID"])
        if task is None:
            raise _Fail(100009, "taskID: not found", 404)
        fw = self.firmwares[task["firmwareID"]]
        return dict(task, version=fw.version, productID=fw.productID, productName=fw.productName)

    def r_things_ota_task_device_index(self, body: dict) -> dict:
        return self._page(self.records.get(body["taskUid"], []), body)

    def _record(self, rid: int) -> dto.DeviceRecord:
        for recs in self.records.values():
            for r in recs:
                if r.id == rid:
                    return r
        raise _Fail(100009, "id: not found", 404)

    def r_things_ota_task_device_retry(self, body: dict) -> dict:
        rec = self._record(body["id"])
        if rec.status in (401, 501):
            raise _Fail(2100001, "record status does not allow a retry", 409)
        self.retried = [*getattr(self, "retried", []), rec.id]
        return {}

    def r_things_ota_task_device_cancel(self, body: dict) -> dict:
        rec = self._record(body["id"])
        if rec.status in (501, 601):
            raise _Fail(2100002, "upgrade already finished", 409)
        self.cancelled = [*getattr(self, "cancelled", []), rec.id]
        return {}

    def r_things_ota_task_analysis(self, body: dict) -> dict:
        return {"result": "{}"}

    # -- rollout safety (protocol 13.13) -------------------------------------------------------
    def r_things_ota_task_preview(self, body: dict) -> dict:
        from ota_protocol import rollout as ro

        try:
            options = ro.parse(body.get("rollout"))
        except ro.RolloutError as exc:
            raise _Fail(CODE_PARAMETER, str(exc), 400) from None
        fw = self.firmwares[body["firmwareID"]]
        devices = list(self.devices.get(fw.productID, {}).values())
        if body.get("type") == 2:
            devices = [d for d in devices if d.deviceName in body["deviceList"]]
        on_target = [d for d in devices if d.version == fw.version]
        other = [d for d in devices if body.get("versionList") and d.version not in body["versionList"]
                 and d.version != fw.version]
        planned = [d for d in devices if d not in on_target and d not in other]
        return {"devices": len(devices), "planned": len(planned), "willPush": len(planned),
                "waves": [{"wave": i + 1, "devices": n}
                          for i, n in enumerate(ro.wave_sizes(len(planned), options.waves))],
                "offline": sum(1 for d in planned if not d.online),
                "excluded": {"onTargetVersion": len(on_target), "versionFilter": len(other), "grayShare": 0,
                             "busy": 0, "newerVersion": 0}, "overwrites": 0}

    def _running(self, body: dict) -> dict:
        task = self.tasks.get(body["taskID"])
        if task is None:
            raise _Fail(100009, "taskID: not found", 404)
        if task["status"] not in (1, 2):
            raise _Fail(2100002, "task is not running", 409)
        return task

    def r_things_ota_task_pause(self, body: dict) -> dict:
        task = self._running(body)
        task["paused"] = True
        return task

    def r_things_ota_task_resume(self, body: dict) -> dict:
        task = self._running(body)
        task["paused"] = False
        return task

    def r_things_ota_task_advance(self, body: dict) -> dict:
        task = self._running(body)
        if task.get("currentWave", 1) >= task.get("waveCount", 1):
            raise _Fail(CODE_PARAMETER, "taskID: the task has no further wave", 400)
        task["currentWave"] = task.get("currentWave", 1) + 1
        return task

    def r_things_ota_task_waves(self, body: dict) -> dict:
        task = self.tasks[body["taskID"]]
        waves = [{"wave": i + 1, "released": i + 1 <= task.get("currentWave", 1), "total": 0, "succeeded": 0,
                  "failed": 0, "timedOut": 0, "cancelled": 0, "active": 0}
                 for i in range(task.get("waveCount", 1))]
        for r in self.records.get(task["taskUid"], []):
            w = waves[min(max(r.wave, 1), len(waves)) - 1]
            w["total"] += 1
            key = {501: "succeeded", 701: "cancelled"}.get(r.status, "active")
            if r.status == 601:
                key = "timedOut" if r.desc == "timeout" else "failed"
            w[key] += 1
        return {"list": waves, "currentWave": task.get("currentWave", 1), "paused": task.get("paused", False),
                "abort": (task.get("rollout") or {}).get("abort") or [], "statusReason": task.get("statusReason", ""),
                "waveDoneTime": 0}

    def r_things_ota_task_export(self, body: dict) -> bytes:
        task = self.tasks[body["taskID"]]
        recs = self.records.get(task["taskUid"], [])
        if body.get("format") == "html":
            return f"<html><body><h1>Task {task['taskID']}</h1><p>{len(recs)} devices</p></body></html>".encode()
        return ("\ufeffdeviceName,wave,status\r\n" + "".join(f"{r.deviceName},{r.wave},{r.status}\r\n"
                                                            for r in recs)).encode()


def _slots(obj: Any) -> dict:
    return {k: getattr(obj, k) for k in obj.__slots__}


class StubClient(ApiClient):
    """An ApiClient whose requests are answered by a FakeBackend on the next loop turn."""

    def __init__(self, backend: FakeBackend | None = None, upload_steps: int = 4, upload_step_ms: int = 5) -> None:
        super().__init__()
        self.backend = backend or FakeBackend()
        self.calls: list[tuple[str, dict]] = []
        self.upload_steps, self.upload_step_ms = upload_steps, upload_step_ms
        self.hold_uploads = False  # True: PUTs stay pending until released (screenshots, cancel tests)
        self.pending_puts: list[ApiCall] = []
        self.set_endpoint("http://127.0.0.1:1", "stub-token")

    def request(self, path: str, body: dict | None = None, parse=None, timeout_ms=None) -> ApiCall:
        body = body or {}
        self.calls.append((path, body))
        call = ApiCall(self)

        def answer() -> None:
            if call.done:
                return
            try:
                data = self.backend.handle(path, body)
            except _Fail as failure:
                call.reject(failure.error)
                return
            call.resolve(parse(data) if parse else data)

        _later(answer)
        return call

    def health(self) -> ApiCall:
        call = ApiCall(self)
        _later(lambda: call.resolve({"version": "stub"}))
        return call

    def put_file(self, upload_uri: str, path: str) -> ApiCall:
        import hashlib

        self.calls.append(("PUT " + upload_uri, {"path": path}))
        call = ApiCall(self)
        if not os.path.isfile(path):  # as the real client: the call fails, later, naming the file
            _later(lambda: call.reject(ApiError(CODE_NETWORK, f"{path}: No such file or directory")))
            return call
        size = os.path.getsize(path)
        key = upload_uri.split("/ithings-temporary/", 1)[1].split("?", 1)[0]
        with open(path, "rb") as fh:
            self.backend.uploads[key] = (size, hashlib.md5(fh.read()).hexdigest())
        if self.hold_uploads:
            call.progress.emit(size // 2, size)
            self.pending_puts.append(call)
            return call
        for step in range(1, self.upload_steps + 1):
            _later(lambda step=step: None if call.done else call.progress.emit(size * step // self.upload_steps, size),
                   step * self.upload_step_ms)
        _later(lambda: call.resolve({}), (self.upload_steps + 1) * self.upload_step_ms)
        return call

    def request_bytes(self, path: str, body: dict, timeout_ms=None) -> ApiCall:
        return self.request(path, body)

    def paths(self) -> list[str]:
        return [p for p, _ in self.calls]


@pytest.fixture
def fake_backend() -> FakeBackend:
    fb = FakeBackend()
    fb.add_product("prodA", "Thermostat")
    fb.add_product("prodB", "Gateway")
    fb.add_devices("prodA", [f"dev-{i:03d}" for i in range(1, 31)], "0.9.0")
    fb.add_devices("prodA", ["dev-old-1", "dev-old-2"], "0.8.0")
    fb.add_firmware("prodA", "1.0.0", "thermo")
    return fb


@pytest.fixture
def stub_client(fake_backend, qapp) -> StubClient:
    client = StubClient(fake_backend)
    yield client
    client.deleteLater()


#: a 1366x768 laptop screen less a 40 px taskbar (the fit tests)
AVAILABLE = QSize(1366, 728)


@pytest.fixture(params=["en", "zh_CN"])
def lang(request, qapp, monkeypatch):
    """The app in English, then in 简体中文, on a 1366x768 screen (the fit tests)."""
    monkeypatch.setattr(forms, "available_size", lambda widget: QSize(AVAILABLE))
    monkeypatch.setattr(task_dialog, "available_size", lambda widget: QSize(AVAILABLE))
    assert i18n.install(qapp, request.param) == request.param
    yield request.param
    for t in qapp.findChildren(QTranslator):
        qapp.removeTranslator(t)
        t.deleteLater()
    QLocale.setDefault(QLocale("en_US"))


def new_task_dialog(stub_client: StubClient, fake_backend: FakeBackend) -> task_dialog.NewTaskDialog:
    """The New task dialog for the fake backend's first firmware (not shown yet)."""
    fw = next(iter(fake_backend.firmwares.values()))
    firmwares = [dto.Firmware(fw.firmwareID, fw.name, fw.version, fw.productID, fw.productName)]
    return task_dialog.NewTaskDialog(stub_client, firmwares, fw.firmwareID)


def wait_task_dialog_loaded(qtbot: Any, dlg: task_dialog.NewTaskDialog) -> None:
    """Until its versions and the device picker came from the fake backend."""
    qtbot.waitUntil(lambda: dlg.versions_list.count() == 2 and dlg.picker.model.rowCount() == 32, timeout=5000)
