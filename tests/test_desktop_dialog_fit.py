"""Every dialog of the forms fits a 1366x768 laptop screen (taskbar included: at most 700 px
tall), in English and 简体中文, empty and with its validation errors showing: no label is
clipped, no input is squashed below its minimum size.

The screenshots go to /tmp/shots/<dialog>-<state>-<lang>.png (outside the repository) for a
person to look at.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from ota_desktop.core import dto
from ota_desktop.ui.catalog_dialogs import (
    DeleteProductDialog,
    DeviceDialog,
    DeviceHistoryDialog,
    ImportDevicesDialog,
    ImportedSecretsDialog,
    ProductDialog,
    SecretDialog,
)
from ota_desktop.ui.connection_dialog import ConnectionDialog
from ota_desktop.ui.firmware_dialogs import NewFirmwareDialog
from ota_desktop.ui.settings_dialog import SettingsDialog

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE, new_task_dialog, wait_task_dialog_loaded

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE)]

SCREEN = QSize(1366, 768)
MAX_HEIGHT = 700  # and the window's title bar
SHOTS = Path(os.environ.get("OTA_SHOTS", "/tmp/shots"))
SECRET = "Qm9vdHN0cmFwU2VjcmV0MjQ"[:23] + "W"  # 24 characters, wide ones included
INPUTS = (QLineEdit, QAbstractSpinBox, QComboBox, QPlainTextEdit, QAbstractButton, QAbstractItemView)


def place(qapp, dlg: QDialog) -> None:
    """Show ``dlg`` as Qt would on a 1366x768 screen: a dialog not sized by its code gets its
    size hint, at most 2/3 of the screen (QWidget::adjustSize), at least its minimum size."""
    if not dlg.testAttribute(Qt.WidgetAttribute.WA_Resized):
        dlg.layout().activate()
        hint = dlg.sizeHint()
        if dlg.layout().hasHeightForWidth():
            hint.setHeight(dlg.heightForWidth(hint.width()))
        dlg.resize(hint.boundedTo(SCREEN * 2 / 3).expandedTo(dlg.minimumSize()))
    dlg.show()
    settle(qapp, dlg)


def settle(qapp, dlg: QDialog) -> None:
    for _ in range(3):
        qapp.processEvents()
        dlg.layout().activate()


def _inside_compound(w: QWidget, top: QWidget) -> bool:
    """Part of another input (a spin box's line edit, a line edit's clear button, a combo's view)."""
    p = w.parentWidget()
    while p is not None and p is not top:
        if isinstance(p, (QAbstractSpinBox, QComboBox, QAbstractItemView, QLineEdit)):
            return True
        p = p.parentWidget()
    return False


def clipped(dlg: QDialog) -> list[str]:
    out = []
    if dlg.width() > SCREEN.width() or dlg.height() > MAX_HEIGHT:
        out.append(f"dialog is {dlg.width()}x{dlg.height()}")
    for lab in dlg.findChildren(QLabel):
        if not lab.isVisibleTo(dlg) or not lab.text() or _inside_compound(lab, dlg):
            continue
        if lab.wordWrap():
            need = QSize(lab.minimumSizeHint().width(), lab.heightForWidth(lab.width()))
        else:
            need = lab.sizeHint()
        if lab.width() < need.width() or lab.height() < need.height():
            out.append(f"label {lab.text()[:50]!r}: {lab.width()}x{lab.height()} < {need.width()}x{need.height()}")
    for w in dlg.findChildren(QWidget):
        if not isinstance(w, INPUTS) or not w.isVisibleTo(dlg) or _inside_compound(w, dlg):
            continue
        # as a layout sees it (qSmartMinSize): a size fixed by the code wins over the hint
        need = w.minimumSizeHint().boundedTo(w.maximumSize()).expandedTo(w.minimumSize())
        if w.width() < need.width() or w.height() < need.height():
            name = w.objectName() or getattr(w, "text", lambda: "")() or type(w).__name__
            out.append(f"{type(w).__name__} {name!r}: {w.width()}x{w.height()} < {need.width()}x{need.height()}")
    return out


def check(qapp, dlg: QDialog, name: str, state: str, lang: str, doc: str = "") -> None:
    """Screenshot ``dlg`` (also as /tmp/shots/docs/<lang>/<doc>.png: the README's name) and
    check that nothing in it is clipped or squashed."""
    settle(qapp, dlg)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert dlg.grab().save(str(SHOTS / f"{name}-{state}-{lang}.png"))
    if doc:
        (SHOTS / "docs" / lang).mkdir(parents=True, exist_ok=True)
        assert dlg.grab().save(str(SHOTS / "docs" / lang / f"{doc}.png"))
    problems = clipped(dlg)
    assert problems == [], f"{name} ({state}, {lang}): " + "; ".join(problems)


# -- the dialogs, empty and with their errors ------------------------------------------------------

def test_new_product_fits(qtbot, qapp, lang, stub_client):
    dlg = ProductDialog(stub_client)
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    check(qapp, dlg, "new-product", "empty", lang)
    dlg.id_edit.setText("bad id!")
    dlg.ok_button.click()
    assert set(dlg.errors.errors()) == {"productName", "productID"}
    check(qapp, dlg, "new-product", "errors", lang)


def test_new_device_fits(qtbot, qapp, lang, stub_client):
    dlg = DeviceDialog(stub_client, "prodA")
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    check(qapp, dlg, "new-device", "empty", lang)
    dlg.name_edit.setText("has space")
    dlg.ok_button.click()
    assert set(dlg.errors.errors()) == {"deviceName", "version"}
    check(qapp, dlg, "new-device", "errors", lang)


def test_import_devices_fits(qtbot, qapp, lang, stub_client):
    dlg = ImportDevicesDialog(stub_client, "prodA")
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    check(qapp, dlg, "import-devices", "empty", lang)
    dlg.text_edit.setPlainText("bad name,1.0\n")
    dlg.ok_button.click()
    assert set(dlg.errors.errors()) == {"csv"}
    check(qapp, dlg, "import-devices", "errors", lang)
    # many bad lines: the first ones in the error, every one in the list below it
    dlg.text_edit.setPlainText("deviceName,version\n" + "".join(
        f"thermostat living room {i},{'1.0.0' if i % 2 else ''}\n" for i in range(14)) + "=SUM(A1),1.0\n")
    dlg.skip_check.setChecked(True)
    dlg.ok_button.click()
    assert dlg.problems_view.isVisible()
    check(qapp, dlg, "import-devices", "bad-lines", lang)


def test_new_firmware_fits(qtbot, qapp, lang, stub_client, fake_backend, tmp_path):
    dlg = NewFirmwareDialog(stub_client, list(fake_backend.products.values()), "prodA")
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    check(qapp, dlg, "new-firmware", "empty", lang)
    dlg.version_edit.setText("1.0 beta")
    dlg.create_button.click()
    assert set(dlg.errors.errors()) == {"name", "version", "files"}
    check(qapp, dlg, "new-firmware", "errors", lang)
    (tmp_path / "thermo-full-image.bin").write_bytes(b"x" * 180_000)
    (tmp_path / "empty-config.json").write_bytes(b"")
    with qtbot.waitSignal(dlg.add_files([str(tmp_path / "thermo-full-image.bin"),
                                         str(tmp_path / "empty-config.json")]).finished):
        pass
    dlg.name_edit.setText("thermostat")
    dlg.version_edit.setText("1.1.0")
    assert dlg.errors.errors() == {}
    check(qapp, dlg, "new-firmware", "files", lang)
    dlg.create_button.click()  # the empty file is refused, by name
    assert set(dlg.errors.errors()) == {"files"}
    check(qapp, dlg, "new-firmware", "empty-file", lang)
    dlg.files_model.remove_row(1)
    (tmp_path / "thermo-full-image.bin").unlink()  # gone since it was added
    dlg.create_button.click()
    qtbot.waitUntil(lambda: "files" in dlg.errors.errors(), timeout=5000)
    check(qapp, dlg, "new-firmware", "missing-file", lang)
    (tmp_path / "thermo-full-image.bin").write_bytes(b"x" * 180_000)
    dlg.version_edit.setText("1.0.0")  # the product has it
    dlg.create_button.click()
    qtbot.waitUntil(lambda: "version" in dlg.errors.errors(), timeout=5000)
    assert set(dlg.errors.errors()) == {"version"}
    check(qapp, dlg, "new-firmware", "duplicate-version", lang)
    dlg.version_edit.setText("1.1.0")
    assert dlg.errors.errors() == {}
    stub_client.hold_uploads = True  # caught mid-upload, as in the README
    dlg.desc_edit.setPlainText("Full image with the new UI" if lang == "en" else "含新界面的完整镜像")
    dlg.create_button.click()
    qtbot.waitUntil(lambda: bool(stub_client.pending_puts), timeout=5000)
    stub_client.pending_puts[0].progress.emit(120_000, 180_000)
    check(qapp, dlg, "new-firmware", "uploading", lang, doc="new-firmware-uploading")
    with qtbot.waitSignal(dlg.uploader.cancelled):
        dlg.cancel_button.click()


def test_new_firmware_big_upload_fits(qtbot, qapp, lang, stub_client, fake_backend, tmp_path):
    """A 3 GiB upload half-way: the overall progress says so (not "0% (0 / -2.00 GiB)")."""
    dlg = NewFirmwareDialog(stub_client, list(fake_backend.products.values()), "prodA")
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    dlg.uploader.overall_progress.emit(3 << 29, 3 << 30)
    assert dlg.overall_bar.text().endswith("(1.50 GiB / 3.00 GiB)")
    check(qapp, dlg, "new-firmware", "3gib", lang)


def test_delete_product_fits(qtbot, qapp, lang):
    dlg = DeleteProductDialog(dto.Product("thermo01", "Smart thermostat for the living room"), 300, 4)
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    check(qapp, dlg, "delete-product", "empty", lang)
    dlg.id_edit.setText("thermo01")
    assert dlg.delete_button.isEnabled()
    check(qapp, dlg, "delete-product", "typed", lang)


def test_device_history_fits(qtbot, qapp, lang, stub_client, fake_backend):
    from .test_desktop_daily import history_route

    history_route(fake_backend, 57)
    dlg = DeviceHistoryDialog(stub_client, dto.Device("prodA", "thermostat-living-room-001", "0.9.0", True))
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    dlg.load(1)
    qtbot.waitUntil(lambda: dlg.model.rowCount() == 50, timeout=5000)
    check(qapp, dlg, "device-history", "entries", lang)


def test_new_task_fits(qtbot, qapp, lang, stub_client, fake_backend):
    dlg = new_task_dialog(stub_client, fake_backend)
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    wait_task_dialog_loaded(qtbot, dlg)
    check(qapp, dlg, "new-task", "empty", lang)
    for i in range(dlg.versions_list.count()):  # filled in as in the README
        dlg.versions_list.item(i).setCheckState(Qt.CheckState.Checked)
    dlg.retry_spin.setValue(2)
    dlg.retry_interval_spin.setValue(5)
    dlg.timeout_spin.setValue(30)
    dlg.rate_spin.setValue(40)
    dlg.targeted_radio.setChecked(True)
    dlg.picker.paste_edit.setPlainText("dev-001\ndev-002, dev-004\ndev-007")
    dlg.picker.paste_button.click()
    dlg.picker.search_edit.setText("dev-00")
    check(qapp, dlg, "new-task", "filled", lang, doc="new-task")
    dlg.picker.search_edit.clear()
    dlg.picker.paste_edit.clear()
    dlg.picker.paste_result.clear()
    dlg.picker.model.clear_checked()
    dlg.all_radio.setChecked(True)
    for i in range(dlg.versions_list.count()):
        dlg.versions_list.item(i).setCheckState(Qt.CheckState.Unchecked)
    dlg.targeted_radio.setChecked(True)
    dlg.schedule_check.setChecked(True)
    dlg.schedule_edit.setDateTime(dlg.schedule_edit.dateTime().addDays(-2))
    dlg.create_button.click()
    dlg.firmware_combo.setCurrentIndex(0)
    dlg.create_button.click()
    assert set(dlg.errors.errors()) == {"firmwareID", "deviceList", "scheduleTime"}
    check(qapp, dlg, "new-task", "errors", lang)
    dlg.scroll_area.verticalScrollBar().setValue(dlg.scroll_area.verticalScrollBar().maximum())
    check(qapp, dlg, "new-task", "errors-scrolled", lang)


def test_new_task_rollout_fits(qtbot, qapp, lang, stub_client, fake_backend):
    """The rollout section (waves, abort rule, maintenance window) filled by the safe preset, its
    preview shown, then a backend error next to the field it names."""
    from ota_desktop.__main__ import resource_text
    from ota_desktop.core.api_client import CODE_PARAMETER, ApiError

    dlg = new_task_dialog(stub_client, fake_backend)
    dlg.setStyleSheet(resource_text("styles/app.qss"))  # the app's (bold group titles: wider)
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    wait_task_dialog_loaded(qtbot, dlg)
    dlg.versions_list.item(1).setCheckState(Qt.CheckState.Checked)
    editor = dlg.rollout_editor
    editor.preset_button.click()
    editor.window_check.setChecked(True)
    editor.window_zone.setCurrentText("Asia/Shanghai")
    dlg.preview()
    qtbot.waitUntil(lambda: dlg.preview_data is not None, timeout=5000)
    assert all(r.count_label.text() for r in editor._wave_rows)
    settle(qapp, dlg)
    # the fields never scroll sideways (no horizontal scroll bar): the content fits the viewport
    assert dlg.scroll_area.widget().width() <= dlg.scroll_area.viewport().width()
    dlg.scroll_area.verticalScrollBar().setValue(dlg.scroll_area.verticalScrollBar().maximum())
    check(qapp, dlg, "new-task", "rollout-preview", lang, doc="new-task-rollout")
    message = "rollout.waves[1].percent: must be 1..100, not 0"
    fake_backend.fail_next["things/ota/task/create"] = ApiError(CODE_PARAMETER, message, 400)
    dlg.create_button.click()
    qtbot.waitUntil(lambda: "rollout.waves" in dlg.errors.errors(), timeout=5000)
    assert dlg.errors.errors() == {"rollout.waves": message}
    settle(qapp, dlg)
    dlg.scroll_area.ensureWidgetVisible(editor.error_labels["rollout.waves"])
    check(qapp, dlg, "new-task", "rollout-errors", lang, doc="new-task-rollout-error")
    editor.window_zone.setCurrentText("Mars/Olympus")  # caught before asking the backend
    dlg.preview()
    assert set(dlg.errors.errors()) == {"rollout.maintenanceWindow"}
    check(qapp, dlg, "new-task", "rollout-zone-error", lang)


def test_settings_fits(qtbot, qapp, lang, settings, secret_store):
    dlg = SettingsDialog(settings, secret_store)
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    check(qapp, dlg, "settings", "empty", lang)
    dlg.http_port_spin.setValue(80)
    dlg.mqtt_port_spin.setValue(80)
    dlg.storage_url_edit.setText("http://minio:9000")
    dlg.database_url_edit.setText("mysql://db")
    dlg.submit()
    assert set(dlg.errors.errors()) == {"http_port", "mqtt_port", "storage_access_key", "database_url"}
    check(qapp, dlg, "settings", "errors", lang)


@pytest.mark.parametrize("lan", [False, True])
def test_connection_fits(qtbot, qapp, lang, settings, lan):
    settings.lan_exposure = lan
    settings.mqtt_port = 1883
    dlg = ConnectionDialog(settings, addresses=["192.168.1.20", "10.8.0.3"])
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    check(qapp, dlg, "connection", "lan" if lan else "local", lang)


def test_secret_fits(qtbot, qapp, lang):
    dlg = SecretDialog(dto.Device("prodA", "thermo-001", deviceSecret=SECRET))
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    check(qapp, dlg, "secret", "hidden", lang)
    dlg.show_button.click()
    check(qapp, dlg, "secret", "shown", lang)
    edit = dlg.secret_edit
    assert edit.width() >= edit.fontMetrics().horizontalAdvance(SECRET) + 24  # the whole secret, with margin


def test_imported_secrets_fits(qtbot, qapp, lang, tmp_path):
    devices = [dto.Device("prodA", f"thermo-{i:03d}", deviceSecret=SECRET) for i in range(1, 4)]
    dlg = ImportedSecretsDialog(devices)
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    check(qapp, dlg, "imported-secrets", "empty", lang)
    with qtbot.waitSignal(dlg.save_to(str(tmp_path / "missing" / "x.csv")).failed):
        pass
    check(qapp, dlg, "imported-secrets", "errors", lang)


# -- release capsules (issue 15) --------------------------------------------------------------------
# the capsule dialogs over the fake capsule routes of test_desktop_capsules; each state a person
# sees is checked, and the README's shots are saved as docs/<lang>/capsule_*.png

@pytest.fixture
def capsules(fake_backend, qapp):
    """(the stub client with streamed transfers, the fake capsule routes) of test_desktop_capsules."""
    from .test_desktop_capsules import CapsuleRoutes, CapsuleStub

    routes = CapsuleRoutes(fake_backend)
    client = CapsuleStub(fake_backend)
    yield client, routes
    client.deleteLater()


def test_export_capsule_fits(qtbot, qapp, lang, capsules, fake_backend, tmp_path, settings):
    from ota_desktop.ui.capsule_dialogs import ExportCapsuleDialog

    client, _routes = capsules
    settings.last_folder = str(tmp_path)
    settings.sync()
    fw = fake_backend.add_firmware("prodA", "1.2.0", "thermostat")
    dlg = ExportCapsuleDialog(client, fw.firmwareID)
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    qtbot.waitUntil(lambda: dlg.current_firmware() is not None, timeout=5000)
    check(qapp, dlg, "capsule-export", "empty", lang)
    dlg.task_box.setChecked(True)
    dlg.named_radio.setChecked(True)
    dlg.file_row.edit.clear()
    dlg.export_button.click()
    assert set(dlg.errors.errors()) == {"deviceList", "path"}
    check(qapp, dlg, "capsule-export", "errors", lang)
    dlg.devices_edit.setPlainText("thermostat-living-room-001\nthermostat-kitchen-002")
    dlg.retry_spin.setValue(2)
    dlg.safe_check.setChecked(True)
    dlg.file_row.edit.setText(str(tmp_path / "prodA-1.2.0.otacap"))
    client.hold = True  # caught mid-download
    dlg.export_button.click()
    client.held[0].progress.emit(310 << 20, 1 << 30)
    assert dlg.progress.text().endswith("(310.00 MiB / 1.00 GiB)")
    check(qapp, dlg, "capsule-export", "exporting", lang, doc="capsule_export")
    dlg.cancel_button.click()
    assert dlg.result_label.isVisible()
    check(qapp, dlg, "capsule-export", "cancelled", lang)


def test_import_capsule_fits(qtbot, qapp, lang, capsules, tmp_path):
    from ota_desktop.ui.capsule_dialogs import ImportCapsuleDialog

    client, _routes = capsules
    good, bad = tmp_path / "prodA-1.2.0.otacap", tmp_path / "from-elsewhere.otacap"
    good.write_bytes(b"GOOD" + b"\0" * 220_000)
    bad.write_bytes(b"UNKNOWN" + b"\0" * 1000)
    dlg = ImportCapsuleDialog(client)
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    check(qapp, dlg, "capsule-import", "empty", lang)
    dlg.file_row.edit.setText(str(bad))
    dlg.verify(str(bad))
    qtbot.waitUntil(lambda: dlg.refusal_label.isVisible(), timeout=5000)
    check(qapp, dlg, "capsule-import", "refused", lang, doc="capsule_import_refused")
    dlg.file_row.edit.setText(str(good))
    dlg.verify(str(good))
    qtbot.waitUntil(lambda: dlg.info is not None, timeout=5000)
    check(qapp, dlg, "capsule-import", "verified", lang, doc="capsule_import")
    client.hold = True
    dlg.import_button.click()
    check(qapp, dlg, "capsule-import", "importing", lang)
    client.hold = False
    dlg.call.abort()
    dlg.import_button.setEnabled(True)
    dlg.import_button.click()
    qtbot.waitUntil(lambda: dlg.start_button.isVisible(), timeout=5000)
    check(qapp, dlg, "capsule-import", "imported", lang, doc="capsule_imported")


def test_task_drafts_fit(qtbot, qapp, lang, capsules):
    from ota_desktop.ui.capsule_dialogs import TaskDraftsDialog
    from ota_protocol.rollout import SAFE_PRESET

    client, routes = capsules
    routes.drafts.append(dto.TaskDraft(4, 2, "prodA", "1.2.0", "c-9", "Engineering, Berlin",
                                       {"type": 1, "retryCount": 2, "rollout": SAFE_PRESET.to_wire()},
                                       1_780_000_000_000))
    dlg = TaskDraftsDialog(client)
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    qtbot.waitUntil(lambda: dlg.model.rowCount() == 2, timeout=5000)
    dlg.view.selectRow(0)
    check(qapp, dlg, "capsule-drafts", "listed", lang, doc="capsule_drafts")


def test_evidence_dialogs_fit(qtbot, qapp, lang, capsules, fake_backend, tmp_path, settings):
    from ota_desktop.ui.capsule_dialogs import ExportEvidenceDialog, ImportEvidenceDialog, ReleaseEvidenceDialog

    client, _routes = capsules
    settings.last_folder = str(tmp_path)
    settings.sync()
    fw = next(iter(fake_backend.firmwares.values()))
    created = fake_backend.r_things_ota_task_create({"type": 1, "upgradeType": 1, "firmwareID": fw.firmwareID})
    task = dto.Task(created["taskID"], created["taskUid"], version=fw.version, productID=fw.productID,
                    firmwareID=fw.firmwareID)
    export = ExportEvidenceDialog(client, task)
    qtbot.addWidget(export)
    place(qapp, export)
    qtbot.waitUntil(lambda: export.current_task() is not None, timeout=5000)
    check(qapp, export, "capsule-evidence-export", "chosen", lang, doc="capsule_evidence_export")

    path = tmp_path / "evidence-prodA-1.0.0-uid-remote-7.otaevidence"
    path.write_bytes(b"GOOD" * 100)
    imp = ImportEvidenceDialog(client)
    qtbot.addWidget(imp)
    place(qapp, imp)
    check(qapp, imp, "capsule-evidence-import", "empty", lang)
    imp.file_row.edit.setText(str(path))
    imp.import_file(str(path))
    qtbot.waitUntil(lambda: imp.outcome is not None, timeout=5000)
    check(qapp, imp, "capsule-evidence-import", "imported", lang, doc="capsule_evidence_import")

    ev = ReleaseEvidenceDialog(client)
    qtbot.addWidget(ev)
    place(qapp, ev)
    qtbot.waitUntil(lambda: ev.stations_model.rowCount() == 1, timeout=5000)
    ev.stations_view.selectRow(0)
    qtbot.waitUntil(lambda: ev.devices_model.rowCount() == 3, timeout=5000)
    check(qapp, ev, "capsule-release-evidence", "selected", lang, doc="capsule_release_evidence")


def test_trusted_publishers_fit(qtbot, qapp, lang, capsules):
    from ota_desktop.__main__ import resource_text
    from ota_desktop.secrets import SecretStore
    from ota_desktop.ui.capsule_dialogs import TrustedPublishersDialog

    from .test_desktop_capsules import new_key, public_pem

    client, _routes = capsules
    store = SecretStore()
    store.use_session_only()
    dlg = TrustedPublishersDialog(client, store)
    dlg.setStyleSheet(resource_text("styles/app.qss"))  # the app's (bold group titles)
    qtbot.addWidget(dlg)
    place(qapp, dlg)
    qtbot.waitUntil(lambda: dlg.key is not None and dlg.model.rowCount() == 1, timeout=5000)
    dlg.view.selectRow(0)
    check(qapp, dlg, "capsule-trusted-publishers", "listed", lang, doc="capsule_trusted_publishers")
    add = dlg.add_publisher()
    place(qapp, add)
    check(qapp, add, "capsule-add-publisher", "empty", lang)
    add.name_edit.setText("Line 3 station" if lang == "en" else "三号线站点")
    add.pem_edit.setPlainText(public_pem(new_key()))
    check(qapp, add, "capsule-add-publisher", "key", lang, doc="capsule_add_publisher")
    add.pem_edit.setPlainText("-----BEGIN PUBLIC KEY-----\nnot really\n-----END PUBLIC KEY-----")
    check(qapp, add, "capsule-add-publisher", "bad-key", lang)
    add.reject()
