"""``ota-desktop``: start the GUI, the managed backend (or a remote connection) and the live stream."""
from __future__ import annotations

import logging
import os
import signal
import sys
from importlib.resources import as_file, files

from PySide6.QtCore import QCoreApplication, QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QCheckBox, QMessageBox

from . import i18n
from .app_events import AppEvents
from .connection import BackendConnection
from .core.api_client import ApiClient
from .core.workers import cancel_all
from .i18n import QT_TRANSLATE_NOOP
from .secrets import SecretStore, remember_session_only, remembered_session_only
from .settings import Settings

ORGANIZATION = "ota-desktop"
APPLICATION = "OTA Desktop"


def resource_text(name: str) -> str:
    return (files("ota_desktop.resources") / name).read_text(encoding="utf-8")


def app_icon() -> QIcon:
    icon = QIcon()
    for name in ("icons/ota-desktop.svg", "icons/ota-desktop-256.png"):
        res = files("ota_desktop.resources") / name
        if res.is_file():
            with as_file(res) as path:
                icon.addFile(str(path))
    return icon


def configure_app(app: QApplication, settings: Settings) -> str:
    """Names, icon, style sheet and translations; returns the UI language in use."""
    app.setWindowIcon(app_icon())
    try:
        app.setStyleSheet(resource_text("styles/app.qss"))
    except OSError:
        pass
    return i18n.install(app, settings.language)


KEYRING_HELP = QT_TRANSLATE_NOOP("main", """To keep secrets between starts, give this computer a keyring, then restart OTA Desktop:

- Desktop: install and start GNOME Keyring (package gnome-keyring) or KWallet (package kwalletmanager), then log in again.

- Station without a desktop keyring: install a file-backed keyring into the Python environment of OTA Desktop:
    pip install keyrings.alt
  and choose it in ~/.config/python_keyring/keyringrc.cfg:
    [backend]
    default-keyring=keyrings.alt.file.EncryptedKeyring
  EncryptedKeyring asks for its master password in the terminal OTA Desktop was started from. PlaintextKeyring stores secrets unencrypted in a file: choose it only knowingly.

"python -m keyring diagnose" shows which keyring is in use.""")


def ensure_secrets(secret_store: SecretStore, qsettings: QSettings | None = None) -> bool:
    """With no keyring backend, ask: session-only secrets or quit. Never write plaintext.

    The user may tick "remember": the answer (never a secret) is kept in QSettings and the
    next starts keep secrets for the session without asking, until a keyring is available
    (then it is used) or the choice is forgotten (Help menu)."""
    if secret_store.usable:
        return True
    if remembered_session_only(qsettings):
        logging.getLogger(__name__).info("no keyring: secrets kept for this session only (remembered choice)")
        secret_store.use_session_only()
        return True
    from .ui.settings_dialog import KeyringChoiceDialog

    dlg = KeyringChoiceDialog(secret_store)
    remember_box = QCheckBox(QCoreApplication.translate(
        "main", "Remember my choice: keep secrets for the session only at every start without asking"))
    dlg.setCheckBox(remember_box)
    dlg.setDetailedText(QCoreApplication.translate("main", KEYRING_HELP))
    dlg.exec()
    if dlg.clickedButton() is dlg.session_button:
        secret_store.use_session_only()
        if remember_box.isChecked():
            remember_session_only(True, qsettings)
        return True
    return False


USAGE = """\
usage: ota-desktop [--help] [--version] [Qt options]

OTA Desktop: release management for over-the-air firmware upgrades. Starts the desktop
window and, unless Settings choose a remote backend, the embedded backend (object store
and MQTT broker included) on this machine. Needs a display; without one, run the headless
backend instead: ota-backend --help (or ./ota backend --help from a checkout).

options:
  -h, --help   show this help and exit (no display needed)
  --version    print the version and exit (no display needed)
"""


def early_exit(argv: list[str]) -> int | None:
    """``--help`` / ``--version`` answered before Qt needs a display; None: start the app."""
    args = argv[1:]
    if "-h" in args or "--help" in args:
        print(USAGE, end="")
        return 0
    if "--version" in args:
        from . import __version__

        print(f"ota-desktop {__version__}")
        return 0
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    done = early_exit(argv)
    if done is not None:
        return done
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv)
    app.setDesktopFileName("ota-desktop")
    settings = Settings()
    configure_app(app, settings)

    secret_store = SecretStore()
    if not ensure_secrets(secret_store):
        return 1

    from .ui.main_window import MainWindow

    events = AppEvents()
    client = ApiClient()
    connection = BackendConnection(settings, secret_store, client, events)
    window = MainWindow(client, events, settings, secret_store, connection)
    window.show()
    if os.environ.get("OTA_DESKTOP_READY_MARKER"):  # benchmarks/cold_start.py: the window is up
        QTimer.singleShot(0, lambda: print("OTA_DESKTOP_READY", flush=True))
    QTimer.singleShot(0, connection.start)
    app.aboutToQuit.connect(connection.stop)
    app.aboutToQuit.connect(cancel_all)
    # Ctrl+C / SIGTERM in a terminal: quit cleanly (stops the backend child too)
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    wake = QTimer(interval=250)
    wake.timeout.connect(lambda: None)  # lets Python run signal handlers during the Qt loop
    wake.start()
    try:
        return app.exec()
    except Exception:  # pragma: no cover
        QMessageBox.critical(None, APPLICATION, QCoreApplication.translate("main", "Unexpected error"))
        raise


if __name__ == "__main__":
    sys.exit(main())
