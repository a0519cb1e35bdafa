"""``ota-desktop``: start the GUI, the managed backend (or a remote connection) and the live stream."""
from __future__ import annotations

import logging
import signal
import sys
from importlib.resources import as_file, files

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from . import i18n
from .app_events import AppEvents
from .connection import BackendConnection
from .core.api_client import ApiClient
from .core.workers import cancel_all
from .secrets import SecretStore
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


def ensure_secrets(secret_store: SecretStore) -> bool:
    """With no keyring backend, ask: session-only secrets or quit. Never write plaintext."""
    if secret_store.usable:
        return True
    from .ui.settings_dialog import KeyringChoiceDialog

    dlg = KeyringChoiceDialog(secret_store)
    dlg.exec()
    if dlg.clickedButton() is dlg.session_button:
        secret_store.use_session_only()
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
    app = QApplication.instance() or QApplication(argv)
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
