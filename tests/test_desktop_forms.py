"""Every form: valid input, each validation error (local and from the backend), cancel."""
from __future__ import annotations

import hashlib

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication
from PySide6.QtWidgets import QDialog

from ota_desktop import secrets as keys
from ota_desktop.core import dto
from ota_desktop.core.api_client import ApiError
from ota_desktop.settings import REMOTE
from ota_desktop.ui.catalog_dialogs import DeviceDialog, ImportDevicesDialog, ProductDialog, SecretDialog
from ota_desktop.ui.firmware_dialogs import FirmwareDetailDialog, NewFirmwareDialog
from ota_desktop.ui.settings_dialog import KeyringChoiceDialog, SettingsDialog
from ota_desktop.ui.task_dialog import NewTaskDialog
from ota_protocol.task_options import OPTIONS

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE, new_task_dialog, wait_task_dialog_loaded

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE)]

Accepted = QDialog.DialogCode.Accepted
Rejected = QDialog.DialogCode.Rejected


def errors_of(dlg) -> dict[str, str]:
    return dlg.errors.errors()


def wait_result(qtbot, dlg, code=Accepted):
    qtbot.waitUntil(lambda: dlg.result() == code and not dlg.isVisible(), timeout=5000)


# -- products & devices ------------------------------------------------------------------------

def test_product_form_valid(qtbot, stub_client, fake_backend):
    dlg = ProductDialog(stub_client)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.keyClicks(dlg.name_edit, "Smart plug")
    qtbot.keyClicks(dlg.id_edit, "plug01")
    dlg.ok_button.click()
    wait_result(qtbot, dlg)
    assert fake_backend.products["plug01"].productName == "Smart plug"


@pytest.mark.parametrize("name,pid,field", [("", "", "productName"), ("x", "bad id!", "productID"),
                                            ("x", "a" * 65, "productID")])
def test_product_form_local_errors(qtbot, stub_client, name, pid, field):
    dlg = ProductDialog(stub_client)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.name_edit.setText(name)
    dlg.id_edit.setText(pid)
    dlg.ok_button.click()
    assert set(errors_of(dlg)) == {field}
    assert dlg.isVisible() and stub_client.calls == []


def test_product_form_backend_error_lands_next_to_field(qtbot, stub_client):
    dlg = ProductDialog(stub_client)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.name_edit.setText("dup")
    dlg.id_edit.setText("prodA")
    dlg.ok_button.click()
    qtbot.waitUntil(lambda: "productID" in errors_of(dlg))
    assert errors_of(dlg)["productID"] == "prodA already exists"
    assert dlg.isVisible() and dlg.ok_button.isEnabled()


def test_product_form_cancel(qtbot, stub_client):
    dlg = ProductDialog(stub_client)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.name_edit.setText("never")
    dlg.buttons.rejected.emit()
    assert dlg.result() == Rejected and stub_client.calls == []


def test_device_form_valid_and_errors(qtbot, stub_client, fake_backend):
    dlg = DeviceDialog(stub_client, "prodA")
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.ok_button.click()
    assert set(errors_of(dlg)) == {"deviceName", "version"}
    dlg.name_edit.setText("has space")
    dlg.version_edit.setText("1.0")
    dlg.ok_button.click()
    assert set(errors_of(dlg)) == {"deviceName"}
    dlg.name_edit.setText("dev-001")  # exists: the backend says so
    dlg.ok_button.click()
    qtbot.waitUntil(lambda: "deviceName" in errors_of(dlg))
    assert "already exists" in errors_of(dlg)["deviceName"]
    dlg.name_edit.setText("dev-new")
    dlg.ok_button.click()
    wait_result(qtbot, dlg)
    assert isinstance(dlg.result_data, dto.Device) and dlg.result_data.deviceSecret
    assert fake_backend.devices["prodA"]["dev-new"].version == "1.0"


def test_device_form_cancel(qtbot, stub_client):
    dlg = DeviceDialog(stub_client, "prodA")
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.reject()
    assert dlg.result() == Rejected and stub_client.calls == []


def test_import_form_from_file_valid(qtbot, stub_client, fake_backend, tmp_path):
    path = tmp_path / "devices.csv"
    path.write_bytes("\ufeffdeviceName,version\nimp-1,0.9.0\nimp-2,0.9.0\n".encode())
    dlg = ImportDevicesDialog(stub_client, "prodB")
    qtbot.addWidget(dlg)
    dlg.show()
    with qtbot.waitSignal(dlg.load_file(str(path)).finished):
        pass
    assert dlg.text_edit.toPlainText().startswith("deviceName,version")
    dlg.ok_button.click()
    wait_result(qtbot, dlg)
    assert [d.deviceName for d in dlg.result_data] == ["imp-1", "imp-2"]
    assert set(fake_backend.devices["prodB"]) == {"imp-1", "imp-2"}


@pytest.mark.parametrize("text,expect", [("", "at least one"), ("deviceName,version\n", "at least one"),
                                         ("a,1\nb\n", "Line 2"), ("bad name,1.0\n", "Line 1")])
def test_import_form_errors(qtbot, stub_client, text, expect):
    dlg = ImportDevicesDialog(stub_client, "prodB")
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.text_edit.setPlainText(text)
    dlg.ok_button.click()
    assert expect in errors_of(dlg)["csv"]
    assert stub_client.calls == []


def test_import_form_backend_error_and_cancel(qtbot, stub_client, fake_backend):
    fake_backend.fail_next["things/device/info/import"] = ApiError(100006, "devices: line 1: bad version", 400)
    dlg = ImportDevicesDialog(stub_client, "prodB")
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.text_edit.setPlainText("a,1\n")
    dlg.ok_button.click()
    qtbot.waitUntil(lambda: "csv" in errors_of(dlg))
    assert errors_of(dlg)["csv"] == "line 1: bad version"
    dlg.reject()
    assert dlg.result() == Rejected


def test_import_form_unreadable_file(qtbot, stub_client, tmp_path):
    dlg = ImportDevicesDialog(stub_client, "prodB")
    qtbot.addWidget(dlg)
    with qtbot.waitSignal(dlg.load_file(str(tmp_path / "missing.csv")).failed):
        pass
    assert "missing.csv" in errors_of(dlg)["csv"]


def test_secret_dialog_hides_shows_and_copies(qtbot):
    dlg = SecretDialog(dto.Device("p", "d", deviceSecret="s3cr3t"))
    qtbot.addWidget(dlg)
    assert dlg.secret_edit.echoMode() == dlg.secret_edit.EchoMode.Password
    dlg.show_button.click()
    assert dlg.secret_edit.echoMode() == dlg.secret_edit.EchoMode.Normal
    dlg.copy_button.click()
    assert QGuiApplication.clipboard().text() == "s3cr3t"


# -- firmware ----------------------------------------------------------------------------------

def make_files(tmp_path, *specs):
    paths = []
    for i, (name, size) in enumerate(specs):
        d = tmp_path / f"src{i}"
        d.mkdir()
        p = d / name
        p.write_bytes(bytes([i % 256]) * size)
        paths.append(str(p))
    return paths


def firmware_dialog(qtbot, stub_client, fake_backend, tmp_path, files=(("app.bin", 300_000), ("cfg.zip", 1234))):
    dlg = NewFirmwareDialog(stub_client, list(fake_backend.products.values()), "prodA")
    qtbot.addWidget(dlg)
    dlg.show()
    if files:
        paths = make_files(tmp_path, *files)
        with qtbot.waitSignal(dlg.add_files(paths).finished):
            pass
    dlg.name_edit.setText("thermo")
    dlg.version_edit.setText("2.0.0")
    return dlg


def test_firmware_form_valid_uploads_with_progress(qtbot, stub_client, fake_backend, tmp_path):
    dlg = firmware_dialog(qtbot, stub_client, fake_backend, tmp_path)
    dlg.diff_combo.setCurrentIndex(1)
    dlg.desc_edit.setPlainText("fixes")
    dlg.ext_edit.setText('{"k":1}')
    overall, per_file = [], []
    dlg.uploader.overall_progress.connect(lambda s, t: overall.append((s, t)))
    dlg.uploader.file_changed.connect(lambda i: per_file.append((i, dlg.uploader.files[i].sent)))
    with qtbot.waitSignal(dlg.created, timeout=10_000) as created:
        dlg.create_button.click()
        assert not dlg.name_edit.isEnabled()  # inputs locked while uploading
    wait_result(qtbot, dlg)
    detail = created.args[0]
    assert isinstance(detail, dto.FirmwareDetail)
    assert [(f.name, f.size) for f in detail.files] == [("app.bin", 300_000), ("cfg.zip", 1234)]
    assert detail.files[0].signature == hashlib.md5(bytes([0]) * 300_000).hexdigest()
    assert [f.digest for f in dlg.uploader.files] == [f.signature for f in detail.files]
    total = 301_234
    assert overall[-1] == (total, total) and any(0 < s < total for s, _ in overall)
    assert any(i == 0 and 0 < sent < 300_000 for i, sent in per_file)
    assert dlg.overall_bar.value() == 1000
    body = next(b for p, b in stub_client.calls if p.endswith("firmware/create"))
    assert body["isDiff"] == 2 and body["desc"] == "fixes" and body["extData"] == '{"k":1}'
    assert [f["name"] for f in body["files"]] == ["app.bin", "cfg.zip"]
    puts = [p for p in stub_client.paths() if p.startswith("PUT ")]
    assert len(puts) == 2


def test_firmware_detail_shows_size_and_digest(qtbot):
    detail = dto.FirmwareDetail(3, "fw", "1.0.0", "p", "Prod", files=[dto.FirmwareFile("a.zip", "", 16600, "a1b2")])
    dlg = FirmwareDetailDialog(detail)
    qtbot.addWidget(dlg)
    m = dlg.files_model
    assert (m.index(0, m.NAME).data(), m.index(0, m.SIGNATURE).data()) == ("a.zip", "a1b2")
    assert "16" in m.index(0, m.SIZE).data()


@pytest.mark.parametrize("case,field", [
    ("no-name", "name"), ("no-version", "version"), ("bad-version", "version"), ("no-files", "files"),
    ("dup-names", "files"), ("too-many", "files"), ("no-extension", "files"), ("no-product", "productID"),
])
def test_firmware_form_local_errors(qtbot, stub_client, fake_backend, tmp_path, case, field):
    files = {"no-files": (), "dup-names": (("a.bin", 1), ("a.bin", 2)),
             "too-many": tuple((f"f{i}.bin", 1) for i in range(21)), "no-extension": (("README", 3),)}
    dlg = firmware_dialog(qtbot, stub_client, fake_backend, tmp_path, files.get(case, (("a.bin", 10),)))
    if case == "no-name":
        dlg.name_edit.clear()
    elif case == "no-version":
        dlg.version_edit.clear()
    elif case == "bad-version":
        dlg.version_edit.setText("1.0 beta")
    elif case == "no-product":
        dlg.product_combo.clear()
    dlg.create_button.click()
    assert set(errors_of(dlg)) == {field}
    assert not dlg.uploader.running and stub_client.calls == []


def test_firmware_form_backend_error_next_to_field(qtbot, stub_client, fake_backend, tmp_path):
    dlg = firmware_dialog(qtbot, stub_client, fake_backend, tmp_path, (("a.bin", 10),))
    dlg.version_edit.setText("1.0.0")  # exists for prodA in the fake backend
    dlg.create_button.click()
    qtbot.waitUntil(lambda: "version" in errors_of(dlg), timeout=5000)
    assert "already exists" in errors_of(dlg)["version"]
    assert dlg.isVisible() and dlg.name_edit.isEnabled() and dlg.create_button.isEnabled()


def test_firmware_form_cancel_mid_upload_then_close(qtbot, stub_client, fake_backend, tmp_path):
    stub_client.hold_uploads = True
    dlg = firmware_dialog(qtbot, stub_client, fake_backend, tmp_path)
    dlg.create_button.click()
    qtbot.waitUntil(lambda: bool(stub_client.pending_puts), timeout=5000)
    assert dlg.uploader.running and dlg.cancel_button.text() == "Cancel upload"
    put = stub_client.pending_puts[0]
    with qtbot.waitSignal(dlg.uploader.cancelled):
        dlg.cancel_button.click()
    assert put.done  # the transfer was aborted
    assert dlg.isVisible() and dlg.name_edit.isEnabled()
    assert [f.state for f in dlg.uploader.files] == ["cancelled", "cancelled"]
    assert not any(p.endswith("firmware/create") for p in stub_client.paths())
    dlg.cancel_button.click()
    assert dlg.result() == Rejected and not dlg.isVisible()


def test_firmware_form_accepts_dropped_files(qtbot, stub_client, fake_backend, tmp_path):
    dlg = firmware_dialog(qtbot, stub_client, fake_backend, tmp_path, ())
    paths = make_files(tmp_path, ("drop.bin", 5))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    dlg.dropEvent(event)
    qtbot.waitUntil(lambda: dlg.files_model.rowCount() == 1)
    assert dlg.files_model.row(0).name == "drop.bin"


# -- tasks -------------------------------------------------------------------------------------

def task_dialog(qtbot, stub_client, fake_backend):
    dlg = new_task_dialog(stub_client, fake_backend)
    qtbot.addWidget(dlg)
    dlg.show()
    wait_task_dialog_loaded(qtbot, dlg)
    return dlg


def test_task_form_valid_all_devices_with_rollout(qtbot, stub_client, fake_backend):
    dlg = task_dialog(qtbot, stub_client, fake_backend)
    assert [dlg.versions_list.item(i).text() for i in range(2)] == ["0.8.0", "0.9.0"]
    dlg.versions_list.item(1).setCheckState(Qt.CheckState.Checked)
    dlg.retry_spin.setValue(2)
    dlg.retry_interval_spin.setValue(5)
    dlg.timeout_spin.setValue(30)
    dlg.rate_spin.setValue(100)
    dlg.gray_spin.setValue(50)
    dlg.overwrite_check.setChecked(True)
    dlg.schedule_check.setChecked(True)
    with qtbot.waitSignal(dlg.created):
        dlg.create_button.click()
    wait_result(qtbot, dlg)
    body = fake_backend.last_task_body
    assert body["type"] == 1 and body["upgradeType"] == 1 and body["deviceList"] == []
    assert body["versionList"] == ["0.9.0"]
    assert (body["retryCount"], body["retryIntervalMinutes"], body["timeoutMinutes"], body["maxPerMinute"],
            body["grayPercent"], body["overwrite"]) == (2, 5, 30, 100, 50, True)
    assert body["scheduleTime"] > 0


def test_task_form_targeted_with_search_and_pasted_list(qtbot, stub_client, fake_backend):
    dlg = task_dialog(qtbot, stub_client, fake_backend)
    dlg.targeted_radio.setChecked(True)
    assert not dlg.dynamic_radio.isEnabled()
    dlg.picker.search_edit.setText("old")
    assert dlg.picker.proxy.rowCount() == 2
    dlg.picker.check_shown_button.click()
    dlg.picker.search_edit.clear()
    dlg.picker.paste_edit.setPlainText("dev-001\ndev-002, nosuch")
    dlg.picker.paste_button.click()
    assert "nosuch" in dlg.picker.paste_result.text()
    assert dlg.picker.count_label.text() == "4 device(s) checked"
    dlg.create_button.click()
    wait_result(qtbot, dlg)
    assert fake_backend.last_task_body["type"] == 2
    assert sorted(fake_backend.last_task_body["deviceList"]) == ["dev-001", "dev-002", "dev-old-1", "dev-old-2"]


def test_task_form_dynamic(qtbot, stub_client, fake_backend):
    dlg = task_dialog(qtbot, stub_client, fake_backend)
    dlg.dynamic_radio.setChecked(True)
    assert not dlg.targeted_radio.isEnabled()
    dlg.version_add_edit.setText("0.7.0")
    dlg.version_add_button.click()
    dlg.create_button.click()
    wait_result(qtbot, dlg)
    assert fake_backend.last_task_body["upgradeType"] == 2
    assert fake_backend.last_task_body["versionList"] == ["0.7.0"]


def test_task_form_offers_own_version_disabled(qtbot, stub_client, fake_backend):
    fake_backend.add_devices("prodA", ["dev-new"], "1.0.0")
    fw = next(iter(fake_backend.firmwares.values()))
    dlg = NewTaskDialog(stub_client, [dto.Firmware(fw.firmwareID, fw.name, fw.version, fw.productID)], fw.firmwareID)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.versions_list.count() == 3)
    own = dlg.versions_list.findItems("1.0.0", Qt.MatchFlag.MatchExactly)[0]
    assert not own.flags() & Qt.ItemFlag.ItemIsEnabled


@pytest.mark.parametrize("case,field", [("no-firmware", "firmwareID"), ("targeted-empty", "deviceList"),
                                        ("dynamic-no-versions", "versionList"),
                                        ("dynamic-targeted", "upgradeType"), ("past-schedule", "scheduleTime")])
def test_task_form_local_errors(qtbot, stub_client, fake_backend, case, field):
    dlg = task_dialog(qtbot, stub_client, fake_backend)
    if case == "no-firmware":
        dlg.firmware_combo.setCurrentIndex(0)
    elif case == "targeted-empty":
        dlg.targeted_radio.setChecked(True)
    elif case == "dynamic-no-versions":
        dlg.dynamic_radio.setChecked(True)
    elif case == "dynamic-targeted":
        dlg.targeted_radio.setChecked(True)
        dlg.picker.model.set_checked(["dev-001"])
        dlg.versions_list.item(0).setCheckState(Qt.CheckState.Checked)
        dlg.dynamic_radio.setChecked(True)  # the UI disables this; the check still holds
    elif case == "past-schedule":
        dlg.schedule_check.setChecked(True)
        dlg.schedule_edit.setDateTime(dlg.schedule_edit.dateTime().addDays(-2))
    calls = len(stub_client.calls)
    dlg.create_button.click()
    assert field in errors_of(dlg)
    assert len(stub_client.calls) == calls and dlg.isVisible()


@pytest.mark.parametrize("msg,field", [("deviceList: unknown devices: ghost", "deviceList"),
                                       ("grayPercent: must be 1..100", "grayPercent"),
                                       ("versionList: contains the firmware's own version", "versionList"),
                                       ("task limit reached", "")])
def test_task_form_backend_errors_next_to_fields(qtbot, stub_client, fake_backend, msg, field):
    fake_backend.fail_next["things/ota/task/create"] = ApiError(100006, msg, 400)
    dlg = task_dialog(qtbot, stub_client, fake_backend)
    dlg.create_button.click()
    qtbot.waitUntil(lambda: field in errors_of(dlg))
    assert set(errors_of(dlg)) == {field}
    assert dlg.isVisible() and dlg.create_button.isEnabled()


def test_task_form_cancel(qtbot, stub_client, fake_backend):
    dlg = task_dialog(qtbot, stub_client, fake_backend)
    dlg.buttons.rejected.emit()
    assert dlg.result() == Rejected
    assert not any(p.endswith("task/create") for p in stub_client.paths())


def test_task_form_limits_and_defaults_are_the_protocols(qtbot, stub_client, fake_backend):
    dlg = task_dialog(qtbot, stub_client, fake_backend)
    spins = {"retry_count": dlg.retry_spin, "retry_interval_minutes": dlg.retry_interval_spin,
             "timeout_minutes": dlg.timeout_spin, "max_per_minute": dlg.rate_spin, "gray_percent": dlg.gray_spin}
    for name, spin in spins.items():
        option = OPTIONS[name]
        assert (spin.minimum(), spin.maximum(), spin.value()) == (option.low, option.high, option.default), name


# -- settings ----------------------------------------------------------------------------------

def test_settings_form_valid_remote_keeps_token_in_keyring(qtbot, settings, secret_store, desktop_env):
    dlg = SettingsDialog(settings, secret_store)
    qtbot.addWidget(dlg)
    assert "InMemoryKeyring" in dlg.keyring_label.text()
    assert not dlg.lan_check.isChecked() and dlg.device_auth_check.isChecked()
    dlg.remote_radio.setChecked(True)
    dlg.remote_url_edit.setText("http://10.0.0.5:7777")
    dlg.remote_token_edit.setText("remote-secret")
    dlg.language_combo.setCurrentIndex(dlg.language_combo.findData("zh_CN"))
    dlg.submit()
    assert dlg.result() == Accepted and dlg.backend_changed and dlg.language_changed
    assert settings.backend_mode == REMOTE and settings.remote_url == "http://10.0.0.5:7777"
    assert desktop_env.store[("ota-desktop", keys.REMOTE_TOKEN)] == "remote-secret"
    assert "remote-secret" not in open(settings.file_name, encoding="utf-8").read()


def test_settings_form_embedded_external_services(qtbot, settings, secret_store, desktop_env, tmp_path):
    dlg = SettingsDialog(settings, secret_store)
    qtbot.addWidget(dlg)
    dlg.data_dir_edit.setText(str(tmp_path / "data"))
    dlg.http_port_spin.setValue(7777)
    dlg.lan_check.setChecked(True)
    dlg.mqtt_url_edit.setText("mqtt://ota@broker:1883")
    dlg.mqtt_password_edit.setText("brokerpw")
    dlg.storage_url_edit.setText("http://minio:9000")
    dlg.storage_key_edit.setText("AK")
    dlg.storage_secret_edit.setText("SK")
    dlg.database_url_edit.setText("postgresql://ota@db/ota")
    dlg.submit()
    assert dlg.result() == Accepted
    assert (settings.http_port, settings.lan_exposure, settings.storage_access_key) == (7777, True, "AK")
    assert desktop_env.store[("ota-desktop", keys.STORAGE_SECRET_KEY)] == "SK"
    assert desktop_env.store[("ota-desktop", keys.MQTT_PASSWORD)] == "brokerpw"
    ini = open(settings.file_name, encoding="utf-8").read()
    assert "SK" not in ini.replace("backend", "") and "brokerpw" not in ini


@pytest.mark.parametrize("case,field", [
    ("remote-no-url", "remote_url"), ("remote-no-token", "remote_token"), ("remote-bad-url", "remote_url"),
    ("no-data-dir", "data_dir"), ("low-port", "http_port"), ("same-ports", "mqtt_port"),
    ("bad-mqtt-url", "mqtt_url"), ("storage-no-keys", "storage_access_key"), ("bad-db-url", "database_url"),
])
def test_settings_form_errors(qtbot, settings, secret_store, case, field):
    dlg = SettingsDialog(settings, secret_store)
    qtbot.addWidget(dlg)
    if case.startswith("remote"):
        dlg.remote_radio.setChecked(True)
        dlg.remote_url_edit.setText("" if case == "remote-no-url" else
                                    "ftp://x" if case == "remote-bad-url" else "http://h:1")
        dlg.remote_token_edit.setText("" if case == "remote-no-token" else "t")
    elif case == "no-data-dir":
        dlg.data_dir_edit.clear()
    elif case == "low-port":
        dlg.http_port_spin.setValue(80)
    elif case == "same-ports":
        dlg.http_port_spin.setValue(7777)
        dlg.mqtt_port_spin.setValue(7777)
    elif case == "bad-mqtt-url":
        dlg.mqtt_url_edit.setText("http://broker")
    elif case == "storage-no-keys":
        dlg.storage_url_edit.setText("http://minio:9000")
    elif case == "bad-db-url":
        dlg.database_url_edit.setText("mysql://db")
    dlg.submit()
    assert set(errors_of(dlg)) == {field}
    assert dlg.result() != Accepted
    assert settings.backend_mode == "embedded" and settings.http_port == 0


def test_settings_form_cancel_changes_nothing(qtbot, settings, secret_store, desktop_env):
    dlg = SettingsDialog(settings, secret_store)
    qtbot.addWidget(dlg)
    dlg.remote_radio.setChecked(True)
    dlg.remote_token_edit.setText("x")
    dlg.reject()
    assert settings.backend_mode == "embedded" and desktop_env.store == {}


def test_settings_without_keyring_offers_session_only(qtbot, settings, tmp_path):
    keyring.set_keyring(fail.Keyring())
    from ota_desktop.secrets import SecretStore

    store = SecretStore()
    dlg = SettingsDialog(settings, store)
    qtbot.addWidget(dlg)
    dlg.show()
    assert "No keyring available" in dlg.keyring_label.text() and "fail" in dlg.keyring_label.text()
    assert dlg.session_button.isVisible() and not dlg.mqtt_password_edit.isEnabled()
    dlg.remote_radio.setChecked(True)
    dlg.remote_url_edit.setText("http://h:7777")
    dlg.submit()  # no token can be entered: refused
    assert "remote_token" in errors_of(dlg)
    dlg.session_button.click()
    assert store.session_only and "session only" in dlg.keyring_label.text()
    dlg.remote_token_edit.setText("tok")
    dlg.submit()
    assert dlg.result() == Accepted and store.get(keys.REMOTE_TOKEN) == "tok"
    assert not any("tok" in p.read_text(errors="ignore") for p in tmp_path.rglob("*.ini"))


@pytest.mark.parametrize("choice", ["session", "quit"])
def test_keyring_choice_at_startup(qtbot, choice):
    from ota_desktop.__main__ import ensure_secrets
    from ota_desktop.secrets import SecretStore

    keyring.set_keyring(fail.Keyring())
    store = SecretStore()

    def click():
        from PySide6.QtWidgets import QApplication

        dlg = next(w for w in QApplication.topLevelWidgets() if isinstance(w, KeyringChoiceDialog) and w.isVisible())
        (dlg.session_button if choice == "session" else dlg.quit_button).click()

    QTimer.singleShot(50, click)
    assert ensure_secrets(store) is (choice == "session")
    assert store.session_only is (choice == "session")


# -- layout and behaviour fixes: errors that fit and clear, remembered folders, secrets --------

def test_error_rule_wraps_and_the_dialog_grows(qtbot, stub_client):
    """The product-ID rule is longer than the field: it wraps, and no line is cut off."""
    dlg = ProductDialog(stub_client)
    qtbot.addWidget(dlg)
    dlg.show()
    height = dlg.height()
    dlg.name_edit.setText("x")
    dlg.id_edit.setText("bad id!")
    dlg.ok_button.click()
    label = dlg.errors.label("productID")
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()))
    assert label.wordWrap() and dlg.height() > height


def test_errors_clear_as_soon_as_the_field_is_valid(qtbot, stub_client):
    dlg = DeviceDialog(stub_client, "prodA")
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.ok_button.click()
    assert set(errors_of(dlg)) == {"deviceName", "version"}
    dlg.name_edit.setText("bad name")  # still wrong: the message follows the value
    assert errors_of(dlg)["deviceName"] == "A device name cannot contain spaces or / + # & $."
    dlg.name_edit.setText("dev-9")
    assert set(errors_of(dlg)) == {"version"}  # only the field that changed is checked again
    dlg.version_edit.setText("1.0")
    assert errors_of(dlg) == {}


def test_firmware_errors_clear_when_fixed(qtbot, stub_client, fake_backend, tmp_path):
    dlg = firmware_dialog(qtbot, stub_client, fake_backend, tmp_path, ())
    dlg.name_edit.clear()
    dlg.version_edit.setText("1.0 beta")
    dlg.create_button.click()
    assert set(errors_of(dlg)) == {"name", "version", "files"}
    dlg.name_edit.setText("thermo")
    dlg.version_edit.setText("1.0.1")
    assert set(errors_of(dlg)) == {"files"}
    with qtbot.waitSignal(dlg.add_files(make_files(tmp_path, ("a.bin", 1))).finished):
        pass
    assert errors_of(dlg) == {}


def test_task_errors_clear_when_fixed(qtbot, stub_client, fake_backend):
    dlg = task_dialog(qtbot, stub_client, fake_backend)
    dlg.firmware_combo.setCurrentIndex(0)
    dlg.create_button.click()
    assert set(errors_of(dlg)) == {"firmwareID"}
    dlg.firmware_combo.setCurrentIndex(1)
    assert errors_of(dlg) == {}
    qtbot.waitUntil(lambda: dlg.picker.model.rowCount() == 32)
    dlg.targeted_radio.setChecked(True)
    dlg.create_button.click()
    assert set(errors_of(dlg)) == {"deviceList"}
    dlg.picker.model.set_checked(["dev-001", "dev-002"])
    assert errors_of(dlg) == {}


def test_settings_port_error_clears_and_leaves_the_field_its_height(qtbot, settings, secret_store):
    dlg = SettingsDialog(settings, secret_store)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.http_port_spin.setValue(7777)
    dlg.mqtt_port_spin.setValue(7777)
    dlg.submit()
    assert errors_of(dlg) == {"mqtt_port": "The HTTP and MQTT ports must differ."}
    qtbot.wait(10)
    spin = dlg.mqtt_port_spin
    assert spin.height() >= spin.minimumSizeHint().height()
    spin.setValue(7778)
    assert errors_of(dlg) == {}


def test_settings_fits_a_laptop_screen(qtbot, settings, secret_store):
    dlg = SettingsDialog(settings, secret_store)
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.minimumSizeHint().height() <= 600 and dlg.minimumSizeHint().width() <= 1366


def test_upload_table_shows_names_and_zero_sizes(qtbot, stub_client, fake_backend, tmp_path):
    dlg = firmware_dialog(qtbot, stub_client, fake_backend, tmp_path,
                          (("thermo-full-image.bin", 3000), ("empty-config.json", 0)))
    view, model = dlg.files_view, dlg.files_model
    qtbot.wait(10)
    for row in range(2):
        name = model.index(row, model.NAME)
        assert view.columnWidth(model.NAME) >= view.fontMetrics().horizontalAdvance(name.data())
        assert name.data(Qt.ItemDataRole.ToolTipRole) == model.row(row).path
        size = model.index(row, model.SIZE).data()
        assert size and view.columnWidth(model.SIZE) >= view.fontMetrics().horizontalAdvance(size)
    assert model.index(1, model.SIZE).data().startswith("0 ")


def test_device_version_says_it_is_required(qtbot, stub_client):
    dlg = DeviceDialog(stub_client, "prodA")
    qtbot.addWidget(dlg)
    assert dlg.version_edit.placeholderText() != "1.0.0" and "required" in dlg.version_edit.placeholderText()


def test_task_dialog_fits_a_laptop_screen(qtbot, stub_client, fake_backend):
    dlg = task_dialog(qtbot, stub_client, fake_backend)
    assert dlg.height() <= 700 and dlg.minimumSizeHint().height() <= 700
    assert dlg.scroll_area.widget().isAncestorOf(dlg.picker)  # the fields scroll, the buttons stay


def test_file_dialogs_open_in_the_last_folder(qtbot, stub_client, fake_backend, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    paths = make_files(tmp_path, ("a.bin", 1))
    asked: list[str] = []

    def get_open_file_names(parent, caption="", folder="", *a):
        asked.append(folder)
        return paths, ""

    def get_open_file_name(parent, caption="", folder="", *a):
        asked.append(folder)
        return "", ""

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(get_open_file_names))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(get_open_file_name))
    dlg = firmware_dialog(qtbot, stub_client, fake_backend, tmp_path, ())
    dlg.choose_files()
    qtbot.waitUntil(lambda: dlg.files_model.rowCount() == 1)
    second = firmware_dialog(qtbot, stub_client, fake_backend, tmp_path, ())
    second.choose_files()
    ImportDevicesDialog(stub_client, "prodA").choose_file()
    folder = str(tmp_path / "src0")
    assert asked[0] != folder and asked[1:] == [folder, folder]


def test_secret_field_fits_a_24_character_secret(qtbot):
    secret = "WWWWWWWWWWWWWWWWWWWWWWWW"
    dlg = SecretDialog(dto.Device("p", "d", deviceSecret=secret))
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.show_button.click()
    edit = dlg.secret_edit
    assert edit.width() >= edit.fontMetrics().horizontalAdvance(secret) + 16


def test_imported_secrets_are_saved_owner_only(qtbot, tmp_path):
    import os
    import stat

    from ota_desktop.ui.catalog_dialogs import ImportedSecretsDialog

    devices = [dto.Device("prodB", "imp-1", deviceSecret="s1"), dto.Device("prodB", "imp-2", deviceSecret="s,2")]
    dlg = ImportedSecretsDialog(devices)
    qtbot.addWidget(dlg)
    path = tmp_path / "secrets.csv"
    with qtbot.waitSignal(dlg.save_to(str(path)).finished):
        pass
    assert path.read_text(encoding="utf-8") == 'productID,deviceName,deviceSecret\nprodB,imp-1,s1\nprodB,imp-2,"s,2"\n'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert str(path) in dlg.status_label.text()
    dlg.copy_button.click()
    assert QGuiApplication.clipboard().text().startswith("productID,deviceName,deviceSecret\nprodB,imp-1,s1")


def test_settings_says_a_language_change_applies_after_a_restart(qtbot, settings, secret_store, desktop_env):
    dlg = SettingsDialog(settings, secret_store)
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.language_note.isVisible()
    assert dlg.language_note.text() == "The new language is used after OTA Desktop restarts."
