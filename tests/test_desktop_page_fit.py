"""The main window fits a 1366x768 laptop screen, in English and 简体中文, on every page: the
products with their devices, firmware, tasks, a live task view with a record of every status,
and the boxes it opens (connection, About, backend failure, language restart, keyring choice,
the questions before cancelling records and deleting firmware).
No label is clipped, no input is squashed below its minimum size (the checks of
test_desktop_dialog_fit), and the tables show their headers and their common values in full.

The screenshots go to $OTA_SHOTS (default /tmp/shots)/<page>-<lang>.png for a person to look at.
"""
from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QDialog, QMessageBox, QTableView, QWidget

from ota_desktop.app_events import AppEvents
from ota_desktop.core import dto
from ota_desktop.core.dto import RecordStatus, TaskStatus
from ota_desktop.secrets import SecretStore
from ota_desktop.ui.main_window import MainWindow
from ota_desktop.ui.settings_dialog import KeyringChoiceDialog
from ota_desktop.ui.table_actions import MAX_AUTO_WIDTH

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE
from .test_desktop_dialog_fit import MAX_HEIGHT, SCREEN, SHOTS, clipped

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE)]

WINDOW = QSize(SCREEN.width(), MAX_HEIGHT)  # maximized on the laptop screen
UID = "uid-live"
FAILED_DESC = "Download failed: HTTP 503 from the object store after 3 attempts"


class FakeConnection:
    device_endpoints = None
    restarts = 0

    def restart(self) -> None:
        self.restarts += 1


def settle(qapp, widget: QWidget) -> None:
    for _ in range(3):
        qapp.processEvents()
        if widget.layout() is not None:
            widget.layout().activate()


def shoot(qapp, widget: QWidget, name: str, lang: str) -> None:
    settle(qapp, widget)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"{name}-{lang}.png"))


def elided_columns(view: QTableView, exempt: tuple[int, ...] = ()) -> list[str]:
    """Columns whose header text, or whose longest value, does not fit the column (the
    stretched last column excepted, and columns whose content is wider than automatic
    sizing gives any column: descriptions)."""
    header, model, out = view.horizontalHeader(), view.model(), []
    last = header.logicalIndex(header.count() - 1)
    for c in range(header.count()):
        if header.isSectionHidden(c) or c == last or c in exempt:
            continue
        title = model.headerData(c, header.orientation())
        width = header.sectionSize(c)
        if width < header.sectionSizeHint(c):
            out.append(f"header {title!r}: {width} < {header.sectionSizeHint(c)}")
        need = view.sizeHintForColumn(c)
        if need <= MAX_AUTO_WIDTH and width < need:
            out.append(f"column {title!r}: {width} < {need} (its longest value)")
    return out


def check_page(qapp, win: MainWindow, name: str, lang: str, tables: list[QTableView],
               exempt: tuple[int, ...] = ()) -> None:
    shoot(qapp, win, name, lang)
    problems = clipped(win)
    for table in tables:
        assert table.isVisible() and table.model().rowCount() > 0, name
        problems += elided_columns(table, exempt)
    assert problems == [], f"{name} ({lang}): " + "; ".join(problems)


def check_box(qapp, box: QDialog, name: str, lang: str) -> None:
    shoot(qapp, box, name, lang)
    problems = clipped(box)
    assert problems == [], f"{name} ({lang}): " + "; ".join(problems)


@pytest.fixture
def window(qtbot, qapp, lang, stub_client, fake_backend, settings, secret_store):
    now = int(time.time() * 1000)
    fw = next(iter(fake_backend.firmwares.values()))
    fake_backend.add_firmware("prodA", "1.1.0-rc.2", "thermostat-full-image")
    for tid, status in zip((11, 12, 13, 14), TaskStatus):
        fake_backend.tasks[tid] = {"taskID": tid, "taskUid": f"uid-{tid:04d}-7f3c9a2e", "type": 1 + tid % 2,
                                   "upgradeType": 1 + tid % 2, "status": int(status), "createdTime": now - tid * 60_000,
                                   "firmwareID": fw.firmwareID,
                                   "statusCount": {"501": 1200 * tid, "601": 37 * tid, "401": 250, "202": 9000}}
    descs = {RecordStatus.FAILED: FAILED_DESC, RecordStatus.QUEUED_OFFLINE: "Waiting for the device to connect",
             RecordStatus.CANCELLED: "Cancelled by the operator"}
    fake_backend.records[UID] = [
        dto.DeviceRecord(id=i, taskUid=UID, deviceName=f"thermostat-living-room-{i:03d}", version="0.9.0",
                         targetVersion="1.0.0", status=int(s), step=50 if s == RecordStatus.UPGRADING else 0,
                         desc=descs.get(s, ""), retryCount=i % 3, updatedTime=now - i * 1000)
        for i, s in enumerate(RecordStatus, start=1)]
    win = MainWindow(stub_client, AppEvents(), settings, secret_store, FakeConnection())
    qtbot.addWidget(win)
    win.resize(WINDOW)
    win.show()
    win.events.backend_state.emit("ready", "http://127.0.0.1:7777")
    win.events.stream_state.emit("connected")
    qtbot.waitUntil(lambda: win.products_page.devices_model.rowCount() == 32 and
                    win.firmware_page.model.rowCount() == 2, timeout=5000)
    return win


def test_default_size_fits_the_screen(qtbot, lang, stub_client, settings, secret_store):
    win = MainWindow(stub_client, AppEvents(), settings, secret_store, FakeConnection())
    qtbot.addWidget(win)
    assert win.width() <= SCREEN.width() and win.height() <= MAX_HEIGHT, win.size()


def test_products_page_fits(qapp, qtbot, window, lang):
    window.tabs.setCurrentIndex(0)
    page = window.products_page
    check_page(qapp, window, "page-products", lang, [page.products_view, page.devices_view])


def test_firmware_page_fits(qapp, qtbot, window, lang):
    window.tabs.setCurrentIndex(1)
    check_page(qapp, window, "page-firmware", lang, [window.firmware_page.view])


def test_tasks_page_fits(qapp, qtbot, window, lang):
    window.tabs.setCurrentIndex(2)
    page = window.tasks_page
    qtbot.waitUntil(lambda: page.model.rowCount() == 4, timeout=5000)
    page.view.selectRow(0)
    check_page(qapp, window, "page-tasks", lang, [page.view])
    # the progress column shows each task's counts in full, over its bar
    from ota_desktop.ui.models.catalog_models import TaskProgressModel

    header = page.view.horizontalHeader()
    longest = max(page.view.fontMetrics().horizontalAdvance(str(page.proxy.index(r, TaskProgressModel.PROGRESS).data()))
                  for r in range(page.proxy.rowCount()))
    from ota_desktop.ui.tasks_page import TaskProgressDelegate

    need = longest + TaskProgressDelegate.BAR_WIDTH + TaskProgressDelegate.GAP + 8
    assert header.sectionSize(TaskProgressModel.PROGRESS) >= need


def test_device_history_from_the_devices_table_fits(qapp, qtbot, window, lang, fake_backend):
    from .test_desktop_daily import history_route

    history_route(fake_backend, 57)
    window.tabs.setCurrentIndex(0)
    page = window.products_page
    page.devices_view.selectRow(0)
    page.history_button.click()
    dlg = page.history_dialog
    qtbot.waitUntil(lambda: dlg.model.rowCount() == 50, timeout=5000)
    check_box(qapp, dlg, "box-device-history", lang)
    assert elided_columns(dlg.view, exempt=(dlg.model.DESC,)) == []
    dlg.close()


def test_delete_product_box_fits(qapp, qtbot, window, lang, fake_backend):
    window.tabs.setCurrentIndex(0)
    page = window.products_page
    page.delete_product_button.click()
    qtbot.waitUntil(lambda: getattr(page, "delete_dialog", None) is not None, timeout=5000)
    check_box(qapp, page.delete_dialog, "box-delete-product", lang)
    page.delete_dialog.reject()
    assert "prodA" in fake_backend.products


def test_live_view_fits(qapp, qtbot, window, lang):
    task = dto.Task(7, UID, version="1.0.0", productID="prodA")
    view = window.open_live_view(task)
    qtbot.waitUntil(lambda: view.model.rowCount() == len(RecordStatus), timeout=5000)
    view.view.selectRow(0)
    # every status shows in full, "Queued (device offline)" the longest; so does the time of the last update
    from ota_desktop.ui.models.records_model import RecordsModel

    check_page(qapp, window, "page-live", lang, [view.view], exempt=(RecordsModel.DESC,))
    header = view.view.horizontalHeader()
    fm = view.view.fontMetrics()
    for column in (RecordsModel.STATUS, RecordsModel.UPDATED):
        longest = max(fm.horizontalAdvance(str(view.model.index(r, column).data()))
                      for r in range(view.model.rowCount()))
        assert header.sectionSize(column) >= longest, (column, header.sectionSize(column), longest)


def test_live_view_rollout_fits(qapp, qtbot, window, lang, fake_backend):
    """A task mid-rollout: its waves as a timeline, the abort rule with its value, pause / resume /
    advance, the Wave column; then the same task aborted by its rule, with the reason."""
    from ota_desktop.ui.models.records_model import RecordsModel
    from ota_protocol.rollout import SAFE_PRESET

    fw = next(iter(fake_backend.firmwares.values()))
    fake_backend.tasks[7] = {"taskID": 7, "taskUid": UID, "type": 1, "upgradeType": 1, "status": 2, "createdTime": 0,
                             "firmwareID": fw.firmwareID, "rollout": SAFE_PRESET.to_wire(), "paused": False,
                             "currentWave": 2, "waveCount": 3, "statusReason": ""}
    for r in fake_backend.records[UID]:
        r.wave = 1 if r.id == 1 else 2 if r.id <= 6 else 3
    view = window.open_live_view(dto.Task(7, UID, version="1.0.0", productID="prodA"))
    qtbot.waitUntil(lambda: view.model.rowCount() == len(RecordStatus) and view.waves_data is not None,
                    timeout=5000)
    assert view.rollout_box.isVisible() and view.advance_button.isEnabled()
    check_page(qapp, window, "page-live-rollout", lang, [view.view], exempt=(RecordsModel.DESC,))
    reason = "aborted: 3 of 25 finished devices failed or timed out (12% ≥ 10%, after at least 20 finished)"
    fake_backend.tasks[7].update(status=5, statusReason=reason)
    window.events.dispatch([{"type": "task", "taskID": 7, "taskUid": UID, "status": 5, "paused": False,
                             "currentWave": 2, "statusReason": reason}])
    qtbot.waitUntil(lambda: view.reason_label.isVisible(), timeout=5000)
    assert not view.pause_button.isEnabled()
    check_page(qapp, window, "page-live-aborted", lang, [view.view], exempt=(RecordsModel.DESC,))


def question_box(qtbot, qapp, lang: str, name: str, seen: list):
    """A QMessageBox.question stand-in: builds the very box (not modal), checks it fits, answers No."""
    def question(parent, title, text, buttons, default):
        box = QMessageBox(QMessageBox.Icon.Question, title, text, buttons, parent)
        box.setDefaultButton(default)
        qtbot.addWidget(box)
        box.show()
        shoot(qapp, box, name, lang)
        seen.append((text, box.defaultButton() is box.button(QMessageBox.StandardButton.No), clipped(box)))
        box.close()
        return QMessageBox.StandardButton.No

    return staticmethod(question)


def test_cancel_records_box_fits(qapp, qtbot, window, lang, monkeypatch):
    view = window.open_live_view(dto.Task(7, UID, version="1.0.0", productID="prodA"))
    qtbot.waitUntil(lambda: view.model.rowCount() == len(RecordStatus), timeout=5000)
    view.view.selectAll()
    seen: list = []
    monkeypatch.setattr(QMessageBox, "question", question_box(qtbot, qapp, lang, "box-cancel-records", seen))
    view.cancel_button.click()
    assert len(seen) == 1 and seen[0][1], seen  # No is the default
    assert seen[0][2] == [], f"box-cancel-records ({lang}): " + "; ".join(seen[0][2])


def test_delete_firmware_box_fits(qapp, qtbot, window, lang, monkeypatch, fake_backend):
    window.tabs.setCurrentIndex(1)
    page = window.firmware_page
    from ota_desktop.ui.models.base import ROW_ROLE

    page.view.selectRow(next(r for r in range(page.proxy.rowCount())  # the one with 4 tasks: the longer text
                             if page.proxy.index(r, 0).data(ROW_ROLE).version == "1.0.0"))
    seen: list = []
    monkeypatch.setattr(QMessageBox, "question", question_box(qtbot, qapp, lang, "box-delete-firmware", seen))
    page.delete_button.click()
    qtbot.waitUntil(lambda: seen != [], timeout=5000)
    assert seen[0][1] and seen[0][2] == [], f"box-delete-firmware ({lang}): " + "; ".join(seen[0][2])
    assert "4" in seen[0][0]
    assert len(fake_backend.firmwares) == 2


def test_connection_box_fits(qapp, qtbot, window, lang):
    dlg = window.open_connection()
    qtbot.waitExposed(dlg)
    check_box(qapp, dlg, "box-connection", lang)
    dlg.close()


def test_about_box_fits(qapp, qtbot, window, lang):
    box = QMessageBox(QMessageBox.Icon.NoIcon, window.tr("About OTA Desktop"), window.about_text(),
                      QMessageBox.StandardButton.Ok, window)  # what QMessageBox.about shows, not modal
    qtbot.addWidget(box)
    box.show()
    check_box(qapp, box, "box-about", lang)


def test_backend_failure_box_fits(qapp, qtbot, window, lang):
    from ota_desktop.backend_process import explain_failure

    from .test_desktop_main_window import SA_LOG

    detail = explain_failure(SA_LOG, 1, None)  # the backend crashed: a sentence, the last error, the log
    window.events.backend_state.emit("lost", detail)
    box = window.backend_box
    qtbot.waitExposed(box)
    check_box(qapp, box, "box-backend-failed", lang)
    box.close()
    shoot(qapp, window, "page-backend-failed", lang)
    assert clipped(window) == []


def test_language_box_fits(qapp, qtbot, window, lang):
    box = window.ask_restart_for_language()
    qtbot.waitExposed(box)
    check_box(qapp, box, "box-language", lang)
    box.close()


def test_keyring_box_fits(qapp, qtbot, lang):
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QCheckBox

    from ota_desktop.__main__ import KEYRING_HELP

    dlg = KeyringChoiceDialog(SecretStore())
    qtbot.addWidget(dlg)
    remember_box = QCheckBox(QCoreApplication.translate(  # as ensure_secrets shows it
        "main", "Remember my choice: keep secrets for the session only at every start without asking"))
    dlg.setCheckBox(remember_box)
    dlg.setDetailedText(QCoreApplication.translate("main", KEYRING_HELP))
    dlg.show()
    check_box(qapp, dlg, "box-keyring", lang)


def test_live_columns_grow_with_live_descriptions(qapp, qtbot, window, lang, fake_backend):
    from ota_desktop.ui.models.records_model import RecordsModel

    for r in fake_backend.records[UID]:
        r.desc = ""
    view = window.open_live_view(dto.Task(7, UID, version="1.0.0", productID="prodA"))
    qtbot.waitUntil(lambda: view.model.rowCount() == len(RecordStatus), timeout=5000)
    qapp.processEvents()
    header = view.view.horizontalHeader()
    before = header.sectionSize(RecordsModel.DESC)
    window.events.dispatch([{"type": "record", "taskUid": UID, "id": 1, "status": 601, "step": -2,
                             "desc": FAILED_DESC, "updatedTime": int(time.time() * 1000) + 10_000}])
    qtbot.wait(600)
    assert header.sectionSize(RecordsModel.DESC) > before
    assert header.sectionSize(RecordsModel.DESC) >= min(view.view.sizeHintForColumn(RecordsModel.DESC), 360)


def test_capsule_dialogs_from_the_file_menu_fit(qapp, qtbot, window, lang, fake_backend):
    """Every release-capsule item of the File menu opens its dialog, which fits; the menu too."""
    from .test_desktop_capsules import CapsuleRoutes

    CapsuleRoutes(fake_backend)
    file_menu = window.menuBar().actions()[0].menu()
    assert file_menu.sizeHint().width() < SCREEN.width() // 2
    assert len(window.capsule_actions) == 7 and all(a.isEnabled() for a in window.capsule_actions)
    loaded = {"ExportCapsuleDialog": lambda d: d.current_firmware() is not None,
              "ExportEvidenceDialog": lambda d: d.firmware_combo.count() > 0,
              "TaskDraftsDialog": lambda d: d.model.rowCount() == 1,
              "ReleaseEvidenceDialog": lambda d: d.stations_model.rowCount() == 1,
              "TrustedPublishersDialog": lambda d: d.key is not None and d.model.rowCount() == 1}
    for action in window.capsule_actions:
        action.trigger()
        dlg = window.capsule_dialog
        qtbot.waitExposed(dlg)
        ready = loaded.get(type(dlg).__name__)
        if ready is not None:
            qtbot.waitUntil(lambda dlg=dlg, ready=ready: ready(dlg), timeout=5000)
        check_box(qapp, dlg, "box-" + type(dlg).__name__, lang)
        dlg.close()


def test_capsule_questions_fit_and_default_to_no(qapp, qtbot, window, lang, fake_backend, monkeypatch):
    """Starting a draft and removing a trusted publisher ask first; No is the default."""
    from .test_desktop_capsules import CapsuleRoutes

    routes = CapsuleRoutes(fake_backend)
    seen: list = []
    monkeypatch.setattr(QMessageBox, "question", question_box(qtbot, qapp, lang, "box-start-draft", seen))
    drafts = window.open_task_drafts()
    qtbot.waitUntil(lambda: drafts.model.rowCount() == 1, timeout=5000)
    drafts.view.selectRow(0)
    drafts.start_button.click()
    drafts.close()
    monkeypatch.setattr(QMessageBox, "question", question_box(qtbot, qapp, lang, "box-remove-publisher", seen))
    trusted = window.open_trusted_publishers()
    qtbot.waitUntil(lambda: trusted.model.rowCount() == 1, timeout=5000)
    trusted.view.selectRow(0)
    trusted.remove_button.click()
    trusted.close()
    assert len(seen) == 2
    for text, default_no, problems in seen:
        assert default_no and problems == [], f"{text} ({lang}): " + "; ".join(problems)
    assert routes.started == [] and routes.removed == []
