"""Help → Connection: how devices (and scripts) reach this backend, each value with a copy button."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..ports import LOOPBACK, lan_addresses
from ..settings import REMOTE, Settings
from .forms import fit_on_show


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"{parts.username}@{host}", parts.path, parts.query, parts.fragment))


class ConnectionDialog(QDialog):
    """HTTP URL, broker URLs (this machine, LAN), the admin token (hidden until shown)."""

    def __init__(self, settings: Settings, connection=None, parent: QWidget | None = None,  # noqa: ANN001
                 addresses: list[str] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Connection"))
        self.setMinimumWidth(620)
        self.values: dict[str, str] = {}
        self.copy_buttons: dict[str, QPushButton] = {}
        remote = (getattr(connection, "mode", "") or settings.backend_mode) == REMOTE
        client = getattr(connection, "_client", None)
        process = getattr(connection, "process", None)
        http_url = (getattr(client, "base_url", "") or getattr(process, "url", "")
                    or (settings.remote_url if remote else ""))
        token = getattr(connection, "token", "") or ""

        intro = QLabel(self.tr(
            "Devices log in to the MQTT broker with the user name <i>productID&amp;deviceName</i> and their "
            "device secret as password, and download firmware over HTTP. Products &amp; devices → "
            "<i>Export provisioning…</i> writes all of this for every device of a product."))
        intro.setWordWrap(True)

        backend = QGroupBox(self.tr("Backend"))
        bf = QFormLayout(backend)
        bf.addRow(self.tr("HTTP URL:"), self._value_row("http", http_url or self.tr("not running")))
        self.token_edit = QLineEdit(token)
        self.token_edit.setReadOnly(True)
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_token_button = QPushButton(self.tr("&Show"))
        self.show_token_button.setCheckable(True)
        self.show_token_button.toggled.connect(self._toggle_token)
        row = QHBoxLayout()
        row.addWidget(self.token_edit, 1)
        row.addWidget(self.show_token_button)
        row.addWidget(self._copy_button("token", token))
        bf.addRow(self.tr("Admin token:"), row)
        token_note = QLabel(self.tr("Scripts send it as the iThings-token header. Keep it secret."))
        token_note.setWordWrap(True)
        bf.addRow("", token_note)

        devices = QGroupBox(self.tr("Devices"))
        df = QFormLayout(devices)
        self.lan_note = QLabel()
        self.lan_note.setWordWrap(True)
        if remote:
            df.addRow(QLabel(self.tr("The broker of a remote backend is set up by its operator: ask them for "
                                     "its address.")))
        elif settings.mqtt_url:
            df.addRow(self.tr("External broker:"), self._value_row("broker", _without_password(settings.mqtt_url)))
        else:
            mqtt_url = getattr(process, "mqtt_url", "") or ""
            port = urlsplit(mqtt_url).port if mqtt_url else None
            port = port or settings.mqtt_port
            df.addRow(self.tr("On this machine:"), self._value_row("broker", f"mqtt://{LOOPBACK}:{port}"))
            http_port = urlsplit(http_url).port if http_url else None
            if settings.lan_exposure:
                found = lan_addresses() if addresses is None else addresses
                for i, ip in enumerate(found):
                    df.addRow(self.tr("On the LAN:") if i == 0 else "", self._value_row(f"lan{i}", f"mqtt://{ip}:{port}"))
                    if http_port:
                        df.addRow("", self._value_row(f"lanhttp{i}", f"http://{ip}:{http_port}"))
                self.lan_note.setText(self.tr("Devices on other machines use one of these addresses.") if found else
                                      self.tr("LAN exposure is on, but this machine has no LAN address right now."))
            else:
                self.lan_note.setText(self.tr(
                    "LAN exposure is off: the broker and the HTTP server accept connections from this machine "
                    "only. To let devices on the network connect, turn on \"Broker and file server listen on "
                    "the LAN\" in Settings."))
            df.addRow(self.lan_note)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(backend)
        lay.addWidget(devices)
        lay.addStretch(1)
        lay.addWidget(buttons)
        fit_on_show(self)

    def _copy_button(self, key: str, value: str) -> QPushButton:
        button = QPushButton(self.tr("Copy"))
        button.setEnabled(bool(value))
        button.clicked.connect(lambda: QGuiApplication.clipboard().setText(value))
        self.copy_buttons[key] = button
        self.values[key] = value
        return button

    def _value_row(self, key: str, value: str) -> QHBoxLayout:
        edit = QLineEdit(value)
        edit.setReadOnly(True)
        edit.setCursorPosition(0)
        edit.setObjectName(f"value_{key}")
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(self._copy_button(key, value if "://" in value else ""))
        return row

    def _toggle_token(self, shown: bool) -> None:
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.show_token_button.setText(self.tr("&Hide") if shown else self.tr("&Show"))
