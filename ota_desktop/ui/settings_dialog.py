"""Settings: embedded or remote backend, data directory, ports, LAN exposure, external
services, language; every secret into the keyring (and the dialog says which one)."""
from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .. import secrets as keys
from ..secrets import SecretStore, SecretsUnavailable
from ..settings import EMBEDDED, REMOTE, Settings
from .forms import FieldErrors, fit_on_show, last_folder, remember_folder

URL_SCHEMES = {
    "remote_url": ("http", "https"),
    "mqtt_url": ("mqtt", "mqtts", "tcp", "ssl"),
    "storage_url": ("http", "https"),
    "database_url": ("postgresql", "postgresql+psycopg", "postgres", "sqlite"),
}
#: changing these restarts the connection to the backend
BACKEND_KEYS = ("backend_mode", "remote_url", "data_dir", "http_port", "mqtt_port", "lan_exposure", "mqtt_url",
                "storage_url", "storage_access_key", "database_url")


def _password_edit() -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


class KeyringChoiceDialog(QMessageBox):
    """Shown when the keyring has no backend: the user chooses, nothing is written silently."""

    def __init__(self, secret_store: SecretStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle(self.tr("No keyring available"))
        self.setText(self.tr("This system has no keyring to keep secrets safely (keyring backend: %1).")
                     .replace("%1", secret_store.backend_name))
        self.setInformativeText(self.tr(
            "OTA Desktop keeps tokens and passwords only in the system keyring, never in its settings file. "
            "Start a keyring service (for example GNOME Keyring or KWallet) and restart the app, or keep "
            "secrets in memory for this session only: they are forgotten when the app quits, and a new "
            "admin token is made for the embedded backend at every start."))
        self.session_button = self.addButton(self.tr("Keep secrets for this session only"),
                                             QMessageBox.ButtonRole.AcceptRole)
        self.quit_button = self.addButton(self.tr("Quit"), QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.session_button)


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, secret_store: SecretStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings, self.secrets = settings, secret_store
        self.setWindowTitle(self.tr("Settings"))
        self.backend_changed = False
        self.language_changed = False
        s = settings

        # -- backend --
        self.embedded_radio = QRadioButton(self.tr("&Embedded backend on this computer"))
        self.remote_radio = QRadioButton(self.tr("&Remote backend"))
        group = QButtonGroup(self)
        group.addButton(self.embedded_radio)
        group.addButton(self.remote_radio)
        (self.remote_radio if s.backend_mode == REMOTE else self.embedded_radio).setChecked(True)
        self.remote_url_edit = QLineEdit(s.remote_url)
        self.remote_url_edit.setPlaceholderText("http://192.168.1.10:7777")
        self.remote_token_edit = _password_edit()
        self.data_dir_edit = QLineEdit(s.data_dir)
        browse = QPushButton(self.tr("Browse…"))
        browse.clicked.connect(self._browse)
        data_row = QWidget()
        dl = QHBoxLayout(data_row)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(self.data_dir_edit, 1)
        dl.addWidget(browse)
        self.http_port_spin = QSpinBox(minimum=0, maximum=65535, value=s.http_port)
        self.http_port_spin.setSpecialValueText(self.tr("automatic"))
        self.mqtt_port_spin = QSpinBox(minimum=0, maximum=65535, value=s.mqtt_port)
        self.mqtt_port_spin.setSpecialValueText(self.tr("automatic"))
        self.lan_check = QCheckBox(self.tr("Broker and file server listen on the &LAN"))
        self.lan_check.setChecked(s.lan_exposure)
        self.device_auth_check = QCheckBox(self.tr("Devices must authenticate (device secret)"))
        self.device_auth_check.setChecked(True)
        self.device_auth_check.setEnabled(False)
        self.device_auth_check.setToolTip(self.tr("Required whenever the services are reachable from the LAN; "
                                                  "anonymous devices are refused."))

        self.general_error = QLabel()
        self.errors = FieldErrors(self.general_error)
        backend_box = QGroupBox(self.tr("Backend"))
        form = QFormLayout(backend_box)
        mode_row = QWidget()
        ml = QHBoxLayout(mode_row)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.addWidget(self.embedded_radio)
        ml.addWidget(self.remote_radio)
        ml.addStretch(1)
        form.addRow(mode_row)
        self.errors.add_row(form, self.tr("Remote &URL:"), self.remote_url_edit, "remote_url")
        self.errors.add_row(form, self.tr("Remote &token:"), self.remote_token_edit, "remote_token")
        self.errors.add_row(form, self.tr("&Data directory:"), data_row, "data_dir")
        self.errors.add_row(form, self.tr("&HTTP port:"), self.http_port_spin, "http_port")
        self.errors.add_row(form, self.tr("&MQTT port:"), self.mqtt_port_spin, "mqtt_port")
        form.addRow(self.lan_check)
        form.addRow(self.device_auth_check)

        # -- external services (embedded backend) --
        self.mqtt_url_edit = QLineEdit(s.mqtt_url)
        self.mqtt_url_edit.setPlaceholderText(self.tr("empty: embedded Mosquitto; e.g. mqtt://user@host:1883"))
        self.mqtt_password_edit = _password_edit()
        self.storage_url_edit = QLineEdit(s.storage_url)
        self.storage_url_edit.setPlaceholderText(self.tr("empty: embedded object store; e.g. http://minio:9000"))
        self.storage_key_edit = QLineEdit(s.storage_access_key)
        self.storage_secret_edit = _password_edit()
        self.database_url_edit = QLineEdit(s.database_url)
        self.database_url_edit.setPlaceholderText(self.tr("empty: SQLite in the data directory; "
                                                          "e.g. postgresql://ota@db/ota"))
        self.database_password_edit = _password_edit()
        for edit in (self.mqtt_url_edit, self.storage_url_edit, self.database_url_edit):
            # the placeholder explains the empty field: show it whole
            edit.setMinimumWidth(min(440, edit.fontMetrics().horizontalAdvance(edit.placeholderText()) + 24))
        ext_box = QGroupBox(self.tr("External services"))
        ef = QFormLayout(ext_box)
        self.errors.add_row(ef, self.tr("MQTT broker URL:"), self.mqtt_url_edit, "mqtt_url")
        self.errors.add_row(ef, self.tr("Broker password:"), self.mqtt_password_edit, "mqtt_password")
        self.errors.add_row(ef, self.tr("Object store URL:"), self.storage_url_edit, "storage_url")
        self.errors.add_row(ef, self.tr("Access key:"), self.storage_key_edit, "storage_access_key")
        self.errors.add_row(ef, self.tr("Secret key:"), self.storage_secret_edit, "storage_secret_key")
        self.errors.add_row(ef, self.tr("Database URL:"), self.database_url_edit, "database_url")
        self.errors.add_row(ef, self.tr("Database password:"), self.database_password_edit, "database_password")

        # -- secrets and language --
        self.keyring_label = QLabel()
        self.keyring_label.setWordWrap(True)
        self.session_button = QPushButton(self.tr("Keep secrets for this session only"))
        self.session_button.clicked.connect(self._choose_session_only)
        self.language_combo = QComboBox()
        self.language_combo.addItem(self.tr("System language"), "system")
        self.language_combo.addItem("English", "en")
        self.language_combo.addItem("简体中文", "zh_CN")
        self.language_combo.setCurrentIndex(max(0, self.language_combo.findData(s.language)))
        misc = QGroupBox(self.tr("Secrets and language"))
        mf = QFormLayout(misc)
        krow = QWidget()
        kl = QHBoxLayout(krow)
        kl.setContentsMargins(0, 0, 0, 0)
        kl.addWidget(self.keyring_label, 1)
        kl.addWidget(self.session_button)
        mf.addRow(self.tr("Secrets:"), krow)
        mf.addRow(self.tr("&Language:"), self.language_combo)
        self.language_note = QLabel(self.tr("The new language is used after OTA Desktop restarts."))
        self.language_note.setWordWrap(True)
        self.language_note.setStyleSheet("color: palette(placeholder-text);")
        mf.addRow("", self.language_note)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        # two columns: one column is taller than a laptop's screen (1366x768) leaves
        left = QVBoxLayout()
        left.addWidget(backend_box)
        left.addWidget(misc)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(ext_box)
        right.addStretch(1)
        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(columns)
        lay.addWidget(self.general_error)
        lay.addWidget(buttons)
        fit_on_show(self)

        watch, v = self.errors.watch, self.validate
        remote_fields = ("remote_url", "remote_token", "data_dir", "http_port", "mqtt_port", "storage_access_key",
                         "storage_secret_key")
        watch(v, [self.remote_radio.toggled], *remote_fields)
        watch(v, [self.remote_url_edit.textChanged], "remote_url")
        watch(v, [self.remote_token_edit.textChanged], "remote_token")
        watch(v, [self.data_dir_edit.textChanged], "data_dir")
        watch(v, [self.http_port_spin.valueChanged, self.mqtt_port_spin.valueChanged], "http_port", "mqtt_port")
        watch(v, [self.mqtt_url_edit.textChanged], "mqtt_url")
        watch(v, [self.storage_url_edit.textChanged, self.storage_key_edit.textChanged,
                  self.storage_secret_edit.textChanged], "storage_url", "storage_access_key", "storage_secret_key")
        watch(v, [self.database_url_edit.textChanged], "database_url")
        self.remote_radio.toggled.connect(self._update_enabled)
        self._load_secrets()
        self._update_keyring_label()
        self._update_enabled()

    # -- secrets --------------------------------------------------------------------------------
    def _secret_edits(self) -> dict[str, QLineEdit]:
        return {keys.REMOTE_TOKEN: self.remote_token_edit, keys.MQTT_PASSWORD: self.mqtt_password_edit,
                keys.STORAGE_SECRET_KEY: self.storage_secret_edit,
                keys.DATABASE_PASSWORD: self.database_password_edit}

    def _load_secrets(self) -> None:
        self._loaded: dict[str, str] = {}
        for name, edit in self._secret_edits().items():
            try:
                value = self.secrets.get(name) or ""
            except SecretsUnavailable:
                value = ""
            self._loaded[name] = value
            edit.setText(value)

    def _update_keyring_label(self) -> None:
        if self.secrets.session_only:
            text = self.tr("kept in memory for this session only (no keyring available: %1)")
        elif self.secrets.keyring_available:
            text = self.tr("stored in the system keyring: %1")
        else:
            text = self.tr("<b>No keyring available</b> (%1): secrets cannot be saved. "
                           "Keep them for this session only, or start a keyring service.")
        self.keyring_label.setText(text.replace("%1", self.secrets.backend_name))
        self.session_button.setVisible(not self.secrets.usable)
        for edit in self._secret_edits().values():
            edit.setEnabled(self.secrets.usable)

    def _choose_session_only(self) -> None:
        self.secrets.use_session_only()
        self._update_keyring_label()
        self._update_enabled()

    # -- form -----------------------------------------------------------------------------------
    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self.tr("Data directory"),
                                                self.data_dir_edit.text().strip() or last_folder())
        if path:
            remember_folder(path)
            self.data_dir_edit.setText(path)

    def _update_enabled(self) -> None:
        remote = self.remote_radio.isChecked()
        self.remote_url_edit.setEnabled(remote)
        self.remote_token_edit.setEnabled(remote and self.secrets.usable)
        for w in (self.data_dir_edit, self.http_port_spin, self.mqtt_port_spin, self.lan_check,
                  self.mqtt_url_edit, self.storage_url_edit, self.storage_key_edit, self.database_url_edit):
            w.setEnabled(not remote)
        for w in (self.mqtt_password_edit, self.storage_secret_edit, self.database_password_edit):
            w.setEnabled(not remote and self.secrets.usable)

    def values(self) -> dict[str, object]:
        return {
            "backend_mode": REMOTE if self.remote_radio.isChecked() else EMBEDDED,
            "remote_url": self.remote_url_edit.text().strip(),
            "data_dir": self.data_dir_edit.text().strip(),
            "http_port": self.http_port_spin.value(),
            "mqtt_port": self.mqtt_port_spin.value(),
            "lan_exposure": self.lan_check.isChecked(),
            "mqtt_url": self.mqtt_url_edit.text().strip(),
            "storage_url": self.storage_url_edit.text().strip(),
            "storage_access_key": self.storage_key_edit.text().strip(),
            "database_url": self.database_url_edit.text().strip(),
            "language": self.language_combo.currentData(),
        }

    def validate(self) -> dict[str, str]:
        v = self.values()
        problems: dict[str, str] = {}
        for field, schemes in URL_SCHEMES.items():
            url = str(v[field])
            if not url:
                continue
            parts = urlsplit(url)
            if parts.scheme not in schemes or (parts.scheme != "sqlite" and not parts.hostname):
                problems[field] = self.tr("Enter a URL like %1://host:port").replace("%1", schemes[0])
        if v["backend_mode"] == REMOTE:
            if not v["remote_url"]:
                problems["remote_url"] = self.tr("Enter the backend's URL.")
            if not self.remote_token_edit.text():
                problems["remote_token"] = self.tr("Enter the backend's admin token.")
        else:
            if not v["data_dir"]:
                problems["data_dir"] = self.tr("Choose a data directory.")
            for field in ("http_port", "mqtt_port"):
                port = int(v[field])  # type: ignore[call-overload]
                if 0 < port < 1024:
                    problems[field] = self.tr("Use 0 (automatic) or a port from 1024 to 65535.")
            if v["http_port"] and v["http_port"] == v["mqtt_port"]:
                problems["mqtt_port"] = self.tr("The HTTP and MQTT ports must differ.")
            if v["storage_url"] and not (v["storage_access_key"] and self.storage_secret_edit.text()):
                problems["storage_access_key" if not v["storage_access_key"] else "storage_secret_key"] = self.tr(
                    "An external object store needs an access key and a secret key.")
        needs_secret = any(e.text() != self._loaded.get(n, "") for n, e in self._secret_edits().items())
        if needs_secret and not self.secrets.usable:
            problems[""] = self.tr("No keyring is available: choose \"Keep secrets for this session only\" "
                                   "to use the secrets you entered.")
        return problems

    def submit(self) -> None:
        if not self.errors.check(self.validate()):
            return
        try:
            for name, edit in self._secret_edits().items():
                if edit.text() != self._loaded.get(name, ""):
                    self.secrets.set(name, edit.text())
        except SecretsUnavailable:
            self.errors.show(None, self.tr("The keyring refused to store the secrets."))
            return
        secrets_changed = any(e.text() != self._loaded.get(n, "") for n, e in self._secret_edits().items())
        values = self.values()
        self.backend_changed = secrets_changed or any(
            getattr(self.settings, k) != values[k] for k in BACKEND_KEYS)
        self.language_changed = self.settings.language != values["language"]
        for key, value in values.items():
            setattr(self.settings, key, value)
        self.settings.sync()
        self.accept()
