"""Main window: backend state in the status bar, pages load when ready, live views, shortcuts, geometry."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QKeySequence

from ota_desktop.app_events import AppEvents
from ota_desktop.core import dto
from ota_desktop.ui.live_view import LiveTaskView
from ota_desktop.ui.main_window import MainWindow

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE)]


class FakeConnection:
    def __init__(self) -> None:
        self.restarts = 0

    def restart(self) -> None:
        self.restarts += 1


@pytest.fixture
def window(qtbot, stub_client, settings, secret_store):
    events = AppEvents()
    win = MainWindow(stub_client, events, settings, secret_store, FakeConnection())
    qtbot.addWidget(win)
    win.show()
    return win


def test_status_bar_follows_backend_state(qtbot, window):
    events = window.events
    assert "stopped" in window.backend_label.text() and not window.tabs.isEnabled()
    events.backend_state.emit("starting", "")
    assert "starting" in window.backend_label.text() and window.start_progress.isVisible()
    events.backend_state.emit("ready", "http://127.0.0.1:7777")
    assert "ready at http://127.0.0.1:7777" in window.backend_label.text()
    assert window.tabs.isEnabled() and not window.restart_button.isVisible()
    # ready loads every page from the backend
    qtbot.waitUntil(lambda: window.firmware_page.model.rowCount() == 1 and
                    window.products_page.products_model.rowCount() == 2)
    qtbot.waitUntil(lambda: window.products_page.devices_model.rowCount() == 32)
    events.backend_state.emit("lost", "The backend stopped (exit code 1).")
    assert "lost" in window.backend_label.text() and window.restart_button.isVisible()
    assert not window.tabs.isEnabled() and not window.new_firmware_action.isEnabled()
    assert window.backend_box.isVisible() and "exit code 1" in window.backend_box.informativeText()
    window.backend_box.close()
    window.restart_button.click()
    assert window.connection.restarts == 1
    events.stream_state.emit("reconnecting")
    assert "reconnecting" in window.stream_label.text()


def test_shortcuts_for_main_actions(window):
    shortcuts = {a.text(): a.shortcut() for a in (window.new_firmware_action, window.new_task_action,
                                                   window.refresh_action, window.settings_action,
                                                   window.quit_action, window.new_product_action)}
    assert shortcuts["New &firmware…"] == QKeySequence(QKeySequence.StandardKey.New)
    assert shortcuts["New &task…"] == QKeySequence("Ctrl+T")
    assert shortcuts["&Settings…"] == QKeySequence("Ctrl+,")
    assert all(not s.isEmpty() for s in shortcuts.values())
    assert window.windowTitle() == "OTA Desktop"


def test_live_view_opens_once_per_task_and_closes(qtbot, window, fake_backend):
    window.events.backend_state.emit("ready", "http://x")
    uid = "uid-live"
    fake_backend.records[uid] = [dto.DeviceRecord(id=1, taskUid=uid, deviceName="dev-001", status=401, step=40)]
    task = dto.Task(7, uid, version="1.0.0", productID="prodA")
    view = window.open_live_view(task)
    assert window.open_live_view(task) is view and window.tabs.count() == 4
    qtbot.waitUntil(lambda: view.model.rowCount() == 1)
    assert "1 device(s)" in view.summary_label.text()
    window.events.dispatch([{"type": "record", "taskUid": uid, "id": 1, "status": 501, "step": 100,
                             "updatedTime": 99}])
    qtbot.waitUntil(lambda: view.model.success_rate() == 1.0)
    assert "100.0%" in view.rate_bar.text()
    window._close_tab(window.tabs.indexOf(view))
    assert window.tabs.count() == 3 and uid not in window.live_views


def test_tasks_page_counts_and_opens_live_view(qtbot, window, fake_backend):
    fw = next(iter(fake_backend.firmwares.values()))
    fake_backend.r_things_ota_task_create({"firmwareID": fw.firmwareID, "type": 1, "upgradeType": 1})
    window.events.backend_state.emit("ready", "http://x")
    page = window.tasks_page
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    assert "Not started: 1" in page.counts_label.text()
    window.events.dispatch([{"type": "task", "taskUid": page.model.row(0).taskUid, "status": 2}])
    assert "Upgrading: 1" in page.counts_label.text()
    page.view.selectRow(0)
    page.live_button.click()
    assert isinstance(window.tabs.currentWidget(), LiveTaskView)


def test_geometry_is_remembered(qtbot, stub_client, settings, secret_store):
    win = MainWindow(stub_client, AppEvents(), settings, secret_store)
    qtbot.addWidget(win)
    win.show()
    win.setGeometry(QRect(40, 50, 760, 500))  # above the window's minimum (736), within the 800 px test screen
    win.close()
    assert not settings.geometry.isEmpty()
    again = MainWindow(stub_client, AppEvents(), settings, secret_store)
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (760, 500)


SA_LOG = """2026-12-03 13:09:00,978 INFO backend.runtime: admin token: from OTA_ADMIN_TOKEN
/work/main/backend/api/firmware.py:132: SAWarning: Column-expression-level unary distinct() should not be used
  versions = sorted(v for v in session.scalars(
Traceback (most recent call last):
  File "/work/main/backend/__main__.py", line 5, in <module>
    main()
sqlite3.OperationalError: database is locked
2026-12-03 13:09:04,235 INFO backend.mqtt.link: MQTT link ota-backend disconnected: Normal disconnection"""


def test_backend_crash_dialog_shows_a_sentence_the_last_error_and_details(window):
    from ota_desktop.backend_process import explain_failure

    window.events.backend_state.emit("lost", explain_failure(SA_LOG, 1, None))
    box = window.backend_box
    info = box.informativeText()
    assert "The backend stopped (exit code 1)." in info
    assert "sqlite3.OperationalError: database is locked" in info
    assert "SAWarning" not in info and "INFO" not in info  # log lines only under "Show Details…"
    assert "SAWarning" in box.detailedText() and "Traceback" in box.detailedText()
    box.close()
    # a message without a log (a taken port) has no details
    window.events.backend_state.emit("failed", "Another program uses the HTTP port 7777.")
    assert window.backend_box.detailedText() == ""
    window.backend_box.close()


def test_about_box_names_version_and_where_secrets_really_are(window):
    from ota_desktop import __version__

    text = window.about_text()
    assert __version__ in text and "InMemoryKeyring" in text and "keyring_backend" not in text
    window.secrets.use_session_only()
    text = window.about_text()
    assert "for this session only (no OS keyring)" in text and "Keyring" not in text


def test_language_change_offers_a_restart(qtbot, window, monkeypatch):
    restarts = []
    monkeypatch.setattr(window, "restart_app", lambda: restarts.append(1))
    box = window.ask_restart_for_language()
    assert "after OTA Desktop restarts" in box.text()
    window.restart_now_button.click()
    assert restarts == [1]


def test_restart_command_starts_the_same_app():
    import sys

    from ota_desktop.ui.main_window import restart_command

    program, args = restart_command()
    assert program == sys.executable and args[:2] == ["-m", "ota_desktop"]


def test_forget_the_remembered_session_only_choice(qtbot, stub_client, settings, secret_store):
    from PySide6.QtCore import QSettings

    from ota_desktop.secrets import remember_session_only, remembered_session_only

    remember_session_only(True)
    win = MainWindow(stub_client, AppEvents(), settings, secret_store, FakeConnection())
    qtbot.addWidget(win)
    assert win.forget_session_action.isVisible()
    win.forget_session_action.trigger()
    assert not remembered_session_only() and not QSettings().contains("secrets/session_only_remembered")
    assert not win.forget_session_action.isVisible()
