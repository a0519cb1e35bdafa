"""End to end: the desktop app's managed backend + Mosquitto + 20 simulated devices (ota-devsim).

Firmware from two files through the New-firmware form, a task through the New-task form,
then the live table reaches 100 % succeeded from the events stream alone (no reload).
"""
from __future__ import annotations

import hashlib
import os
import shutil

import pytest
import pytestqt.exceptions

from ota_desktop import backend_process
from ota_desktop.app_events import AppEvents
from ota_desktop.connection import BackendConnection
from ota_desktop.core.api_client import ApiClient
from ota_desktop.core.dto import FirmwareDetail, RecordStatus
from ota_desktop.ui.live_view import LiveTaskView
from ota_desktop.ui.main_window import MainWindow

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE

HAVE_MOSQUITTO = bool(shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto"))

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE), pytest.mark.mqtt,
    pytest.mark.skipif(not (backend_process.backend_available() and HAVE_MOSQUITTO),
                       reason="needs the backend package and Mosquitto"),
]

DEVICES = 20


class CountingClient(ApiClient):
    """The real client, remembering which routes were called."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def request(self, path, body=None, parse=None, timeout_ms=None):
        self.paths.append(path)
        return super().request(path, body, parse, timeout_ms)


def call(qtbot, api_call, timeout=30_000):
    with qtbot.waitCallback(timeout=timeout) as cb:
        api_call.then(cb, cb)
    return cb.args[0]


def test_firmware_and_task_through_forms_then_live_table_reaches_100_percent(qtbot, settings, secret_store,
                                                                             tmp_path):
    from devsim import Credential, Fleet, SimOptions

    settings.data_dir = str(tmp_path / "backend")
    events, client = AppEvents(), CountingClient()
    conn = BackendConnection(settings, secret_store, client, events)
    window = MainWindow(client, events, settings, secret_store, conn)
    qtbot.addWidget(window)
    window.show()
    fleet = None
    try:
        conn.start()
        qtbot.waitUntil(lambda: conn.state == "ready", timeout=60_000)
        assert "ready" in window.backend_label.text()
        qtbot.waitUntil(lambda: conn.stream.state == "connected", timeout=10_000)

        # a product with 20 devices on 0.9.0, and the simulated fleet for them
        product_id = call(qtbot, client.create_product("E2E thermostat", "e2eThermo01"))["productID"]
        csv = "deviceName,version\n" + "".join(f"sim{i:03d},0.9.0\n" for i in range(1, DEVICES + 1))
        devices = call(qtbot, client.import_devices_csv(product_id, csv))
        assert len(devices) == DEVICES and all(d.deviceSecret for d in devices)
        fleet = Fleet([Credential(d.productID, d.deviceName, d.deviceSecret) for d in devices], version="0.9.0",
                      mqtt_url=conn.process.mqtt_url, base_url=client.base_url,
                      options=SimOptions(flash_seconds=0.05, reconnect_delay=0.5))
        fleet.start()
        qtbot.waitUntil(lambda: fleet.all_connected_at is not None, timeout=60_000)

        # -- firmware from two files through the form
        contents = {"app.bin": os.urandom(300_000), "res.zip": os.urandom(70_000)}
        paths = []
        for name, data in contents.items():
            p = tmp_path / name
            p.write_bytes(data)
            paths.append(str(p))
        window.firmware_page.new_firmware()
        qtbot.waitUntil(lambda: getattr(window.firmware_page, "dialog", None) is not None, timeout=10_000)
        fdlg = window.firmware_page.dialog
        fdlg.product_combo.setCurrentIndex(fdlg.product_combo.findData(product_id))
        with qtbot.waitSignal(fdlg.add_files(paths).finished):
            pass
        fdlg.name_edit.setText("thermostat")
        fdlg.version_edit.setText("1.0.0")
        with qtbot.waitSignal(fdlg.created, timeout=60_000) as created:
            fdlg.create_button.click()
        detail: FirmwareDetail = created.args[0]
        assert isinstance(detail, FirmwareDetail)
        assert {f.name: (f.size, f.signature) for f in detail.files} == {
            n: (len(d), hashlib.md5(d).hexdigest()) for n, d in contents.items()}
        assert fdlg.overall_bar.value() == 1000

        # -- a task through the form: all devices, static
        window.tasks_page.new_task(detail.firmwareID)
        qtbot.waitUntil(lambda: getattr(window.tasks_page, "dialog", None) is not None, timeout=10_000)
        tdlg = window.tasks_page.dialog
        qtbot.waitUntil(lambda: tdlg.versions_list.count() == 1 and tdlg.picker.model.rowCount() == DEVICES,
                        timeout=10_000)
        assert tdlg.versions_list.item(0).text() == "0.9.0"
        tdlg.retry_spin.setValue(1)
        with qtbot.waitSignal(tdlg.created, timeout=30_000) as made:
            tdlg.create_button.click()
        task_uid = made.args[0]["taskUid"]

        # -- the live table opens by itself and reaches 100 % from events alone
        qtbot.waitUntil(lambda: task_uid in window.live_views, timeout=10_000)
        live: LiveTaskView = window.live_views[task_uid]
        assert window.tabs.currentWidget() is live

        def all_succeeded() -> bool:  # the rows asked for when the table opened included
            return (not live.model.awaiting_rows and live.model.rowCount() == DEVICES
                    and live.model.status_counts() == {RecordStatus.SUCCEEDED: DEVICES})

        try:
            qtbot.waitUntil(all_succeeded, timeout=120_000)
        except pytestqt.exceptions.TimeoutError:
            # did the devices not upgrade, or did the table miss what the backend knows?
            backend: dict[int, int] = {}
            for r in call(qtbot, client.task_records(task_uid)):
                backend[r.status] = backend.get(r.status, 0) + 1
            raise AssertionError(
                f"the live table did not reach 100 %: it shows {live.model.rowCount()} rows {live.model.status_counts()}"
                f" ({live.model.pending} events pending, rows awaited: {live.model.awaiting_rows}, events stream: "
                f"{conn.stream.state}); the backend's records: {backend}") from None
        assert live.model.success_rate() == 1.0
        assert "success 100.0%" in live.rate_bar.text()
        loads = [p for p in client.paths if p.endswith("/task/device-index")]
        assert len(loads) <= 1, f"the live table was reloaded: {loads}"
        qtbot.waitUntil(lambda: all(r.version == "1.0.0" for r in live.model.rows()), timeout=10_000)
        assert all(fleet.device(d.deviceName).version == "1.0.0" for d in devices)
    finally:
        if fleet is not None:
            fleet.stop()
        conn.stop()
