"""``ota-desktop`` as a user starts it: main() brings up the window and the embedded backend,
and quitting stops the backend (and its broker)."""
from __future__ import annotations

import os
import shutil

import psutil
import pytest
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from ota_desktop import __main__ as app_main
from ota_desktop import backend_process

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE), pytest.mark.mqtt,
    pytest.mark.skipif(not (backend_process.backend_available() and (
        shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto"))),
        reason="needs the backend package and Mosquitto"),
]


def test_main_starts_backend_shows_window_and_stops_cleanly(qapp, monkeypatch, tmp_path):
    seen: dict = {}
    loop = QEventLoop()  # not the application's own loop: quitting that would end every later test's loops
    monkeypatch.setattr("signal.signal", lambda *a: None)  # leave pytest's handlers alone

    def run_app() -> int:
        def poll() -> None:
            win = next((w for w in QApplication.topLevelWidgets() if w.objectName() == "" and
                        w.__class__.__name__ == "MainWindow" and w.isVisible()), None)
            if win is not None and "ready" in win.backend_label.text() and win.tabs.isEnabled():
                seen["title"] = win.windowTitle()
                seen["icon"] = not QApplication.windowIcon().isNull()
                seen["pid"] = win.connection.process._proc.processId()
                seen["data_dir"] = win.settings.data_dir
                timer.stop()
                win.close()
                loop.quit()

        timer = QTimer(interval=50)
        timer.timeout.connect(poll)
        timer.start()
        QTimer.singleShot(60_000, loop.quit)
        rc = loop.exec()
        qapp.aboutToQuit.emit()  # what a real quit emits: stops the backend
        return rc

    monkeypatch.setattr(app_main.QApplication, "exec", staticmethod(run_app))
    try:
        assert app_main.main(["ota-desktop"]) == 0
    finally:
        qapp.setStyleSheet("")  # the application object outlives this test
    assert seen.get("title") == "OTA Desktop" and seen["icon"]
    assert seen["data_dir"].startswith(str(tmp_path))  # standard dirs were redirected
    _gone, alive = psutil.wait_procs([psutil.Process(seen["pid"])] if psutil.pid_exists(seen["pid"]) else [],
                                    timeout=10)
    assert alive == []
    brokers = [p for p in psutil.process_iter(["cmdline"]) if seen["data_dir"] in " ".join(p.info["cmdline"] or [])]
    assert psutil.wait_procs(brokers, timeout=5)[1] == []


def test_keyring_choice_can_be_remembered_and_explains_how_to_get_a_keyring(qapp, qtbot):
    import keyring
    from keyring.backends import fail
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from ota_desktop.secrets import SecretStore
    from ota_desktop.ui.settings_dialog import KeyringChoiceDialog

    keyring.set_keyring(fail.Keyring())
    seen = {}

    def answer():
        dlg = next(w for w in QApplication.topLevelWidgets() if isinstance(w, KeyringChoiceDialog) and w.isVisible())
        seen["details"] = dlg.detailedText()
        dlg.checkBox().setChecked(True)
        dlg.session_button.click()

    QTimer.singleShot(50, answer)
    store = SecretStore()
    assert app_main.ensure_secrets(store) and store.session_only
    assert "pip install keyrings.alt" in seen["details"] and "gnome-keyring" in seen["details"]
    assert QSettings().value("secrets/session_only_remembered", False, bool)
    # the next start asks nothing: no dialog, secrets for the session
    opened = []
    QTimer.singleShot(200, lambda: opened.extend(w for w in QApplication.topLevelWidgets()
                                                 if isinstance(w, QMessageBox) and w.isVisible()))
    again = SecretStore()
    assert app_main.ensure_secrets(again) and again.session_only
    qtbot.wait(250)
    assert opened == []
    # nothing secret was written to the settings
    text = open(QSettings().fileName(), encoding="utf-8", errors="ignore").read()
    assert "token" not in text.lower() and "password" not in text.lower()
