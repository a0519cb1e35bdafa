"""Forms for products and devices: add product, add device, import devices, device secret."""
from __future__ import annotations

import csv
import io
import os
import re
import tempfile

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core import dto
from ..core.api_client import ApiCall, ApiClient, ApiError
from ..core.workers import Job, read_text, run_in_pool
from .forms import ERROR_STYLE, FieldErrors, fit_on_show, fit_window, last_folder, remember_folder

PRODUCT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
#: MQTT topic levels and the username "{productID}&{deviceName}" forbid these
DEVICE_NAME_RE = re.compile(r"^[^\s/+#&$]{1,128}\Z")
MAX_IMPORT_ROWS = 100_000


class _ApiForm(QDialog):
    """A dialog that submits one API call; errors stay in the form, success accepts it."""

    def __init__(self, client: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.result_data: object = None
        self.form = QFormLayout()
        self.general_error = QLabel()
        self.errors = FieldErrors(self.general_error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addWidget(self.general_error)
        lay.addWidget(self.buttons)
        self.setMinimumWidth(440)  # room for the rules in the error messages on two lines at most
        fit_on_show(self)

    def validate(self) -> dict[str, str]:
        return {}

    def call(self) -> ApiCall:
        raise NotImplementedError

    def submit(self) -> None:
        if not self.errors.check(self.validate()):
            return
        self.ok_button.setEnabled(False)
        self.call().then(self._succeeded, self._failed)

    def _succeeded(self, data: object) -> None:
        self.result_data = data
        self.ok_button.setEnabled(True)
        self.accept()

    def _failed(self, error: ApiError) -> None:
        self.ok_button.setEnabled(True)
        self.errors.show_api_error(error)


class ProductDialog(_ApiForm):
    def __init__(self, client: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(client, parent)
        self.setWindowTitle(self.tr("New product"))
        self.name_edit = QLineEdit()
        self.id_edit = QLineEdit()
        self.id_edit.setPlaceholderText(self.tr("generated when empty"))
        self.desc_edit = QLineEdit()
        self.errors.add_row(self.form, self.tr("&Name:"), self.name_edit, "productName")
        self.errors.add_row(self.form, self.tr("Product &ID:"), self.id_edit, "productID")
        self.errors.add_row(self.form, self.tr("&Description:"), self.desc_edit, "desc")
        self.errors.watch(self.validate, [self.name_edit.textChanged], "productName")
        self.errors.watch(self.validate, [self.id_edit.textChanged], "productID")

    def validate(self) -> dict[str, str]:
        problems = {}
        if not self.name_edit.text().strip():
            problems["productName"] = self.tr("Enter a name.")
        pid = self.id_edit.text().strip()
        if pid and not PRODUCT_ID_RE.match(pid):
            problems["productID"] = self.tr("Use letters, digits, '-' and '_' only (at most 64).")
        return problems

    def call(self) -> ApiCall:
        return self.client.create_product(self.name_edit.text().strip(), self.id_edit.text().strip(),
                                          self.desc_edit.text().strip())


class DeviceDialog(_ApiForm):
    def __init__(self, client: ApiClient, product_id: str, parent: QWidget | None = None) -> None:
        super().__init__(client, parent)
        self.product_id = product_id
        self.setWindowTitle(self.tr("New device of %1").replace("%1", product_id))
        self.name_edit = QLineEdit()
        self.version_edit = QLineEdit()
        self.version_edit.setPlaceholderText(self.tr("required, e.g. 1.0.0"))
        self.version_edit.setToolTip(self.tr("The firmware version the device runs now (required)."))
        self.secret_edit = QLineEdit()
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret_edit.setPlaceholderText(self.tr("generated when empty"))
        self.errors.add_row(self.form, self.tr("Device &name:"), self.name_edit, "deviceName")
        self.errors.add_row(self.form, self.tr("Current &version:"), self.version_edit, "version")
        self.errors.add_row(self.form, self.tr("&Secret:"), self.secret_edit, "deviceSecret")
        self.errors.watch(self.validate, [self.name_edit.textChanged], "deviceName")
        self.errors.watch(self.validate, [self.version_edit.textChanged], "version")

    def validate(self) -> dict[str, str]:
        problems = {}
        name = self.name_edit.text().strip()
        if not name:
            problems["deviceName"] = self.tr("Enter a device name.")
        elif not DEVICE_NAME_RE.match(name):
            problems["deviceName"] = self.tr("A device name cannot contain spaces or / + # & $.")
        if not self.version_edit.text().strip():
            problems["version"] = self.tr("Enter the version the device runs now.")
        return problems

    def call(self) -> ApiCall:
        return self.client.create_device(self.product_id, self.name_edit.text().strip(),
                                         self.version_edit.text().strip(), self.secret_edit.text())


def check_csv(text: str) -> str | None:
    """Why a device CSV (deviceName,version[,...]) is unusable, or None when it looks right."""
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows:
        return "empty"
    header = [c.strip() for c in rows[0]]
    body = rows[1:] if header[:2] == ["deviceName", "version"] else rows
    if not body:
        return "empty"
    if len(body) > MAX_IMPORT_ROWS:
        return "too-many"
    for n, row in enumerate(body, start=1):
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            return f"line:{n + (len(rows) - len(body))}"
        if not DEVICE_NAME_RE.match(row[0].strip()):
            return f"line:{n + (len(rows) - len(body))}"
    return None


class ImportDevicesDialog(_ApiForm):
    """Paste or load a CSV ``deviceName,version``; the backend creates the devices in one call."""

    def __init__(self, client: ApiClient, product_id: str, parent: QWidget | None = None) -> None:
        super().__init__(client, parent)
        self.product_id = product_id
        self.setWindowTitle(self.tr("Import devices into %1").replace("%1", product_id))
        self.resize(520, 420)
        self.text_edit = QPlainTextEdit()
        self.text_edit.setPlaceholderText("deviceName,version\ndev-0001,1.0.0\ndev-0002,1.0.0")
        self.open_button = QPushButton(self.tr("Open CSV file…"))
        self.open_button.clicked.connect(self.choose_file)
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.text_edit)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addStretch(1)
        lay.addLayout(row)
        self.errors.add_row(self.form, self.tr("Devices (CSV):"), box, "csv", "devices")
        self.errors.watch(self.validate, [self.text_edit.textChanged], "csv")

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Open device list"), last_folder(),
                                              self.tr("CSV files (*.csv *.txt);;All files (*)"))
        if path:
            remember_folder(path)
            self.load_file(path)

    def load_file(self, path: str):  # noqa: ANN201 - returns the Job (tests wait on it)
        self.open_button.setEnabled(False)
        job = run_in_pool(read_text, path)
        job.then(self._loaded, self._load_failed)
        return job

    def _loaded(self, text: str) -> None:
        self.open_button.setEnabled(True)
        self.text_edit.setPlainText(text)

    def _load_failed(self, message: str) -> None:
        self.open_button.setEnabled(True)
        self.errors.show("csv", message)

    def validate(self) -> dict[str, str]:
        problem = check_csv(self.text_edit.toPlainText())
        if problem is None:
            return {}
        if problem == "empty":
            return {"csv": self.tr("Enter at least one line \"deviceName,version\".")}
        if problem == "too-many":
            return {"csv": self.tr("At most %1 devices per import.").replace("%1", str(MAX_IMPORT_ROWS))}
        return {"csv": self.tr("Line %1 needs a device name (no spaces or / + # & $) and a version.").replace(
            "%1", problem.split(":")[1])}

    def call(self) -> ApiCall:
        return self.client.import_devices_csv(self.product_id, self.text_edit.toPlainText())


class SecretDialog(QDialog):
    """A device's MQTT password, hidden until asked for, with a copy button."""

    def __init__(self, device: dto.Device, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Secret of %1").replace("%1", device.deviceName))
        self.secret_edit = QLineEdit(device.deviceSecret)
        self.secret_edit.setReadOnly(True)
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        fit_text(self.secret_edit, device.deviceSecret)
        self.show_button = QPushButton(self.tr("&Show"))
        self.show_button.setCheckable(True)
        self.show_button.toggled.connect(self._toggle)
        self.copy_button = QPushButton(self.tr("&Copy"))
        self.copy_button.clicked.connect(self.copy)
        form = QFormLayout()
        form.addRow(self.tr("MQTT username:"), QLabel(f"{device.productID}&{device.deviceName}",
                                                       textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse))
        row = QHBoxLayout()
        row.addWidget(self.secret_edit, 1)
        row.addWidget(self.show_button)
        row.addWidget(self.copy_button)
        form.addRow(self.tr("Secret:"), row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(buttons)
        fit_on_show(self)

    def _toggle(self, shown: bool) -> None:
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.show_button.setText(self.tr("&Hide") if shown else self.tr("&Show"))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.secret_edit.text())


def fit_text(edit: QLineEdit, text: str, minimum_chars: int = 24) -> None:
    """Make ``edit`` wide enough for ``text`` (at least ``minimum_chars``), shown or masked, with margin."""
    fm = edit.fontMetrics()
    n = max(len(text), minimum_chars)
    bullet = chr(edit.style().styleHint(edit.style().StyleHint.SH_LineEdit_PasswordCharacter, None, edit) or 0x25CF)
    wide = max(fm.horizontalAdvance(text), fm.horizontalAdvance("0" * n), fm.horizontalAdvance(bullet * n))
    edit.setMinimumWidth(wide + 2 * fm.averageCharWidth() + 16)  # frame, text margins, cursor, margin


SECRETS_FIELDS = ("productID", "deviceName", "deviceSecret")


def secrets_csv(devices: list[dto.Device]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SECRETS_FIELDS)
    writer.writerows((d.productID, d.deviceName, d.deviceSecret) for d in devices)
    return out.getvalue()


def write_private_text(ctx, path: str, text: str) -> str:  # noqa: ANN001
    """Worker: write ``text`` atomically (a temporary file, then rename), owner-only (0600): it
    holds secrets. Returns ``path``."""
    ctx.check()
    fd, tmp = tempfile.mkstemp(prefix=".secrets-", dir=os.path.dirname(os.path.abspath(path)))
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


class ImportedSecretsDialog(QDialog):
    """After an import: the new devices' secrets as CSV (productID, deviceName, deviceSecret), to
    save to an owner-only file or copy to the clipboard."""

    def __init__(self, devices: list[dto.Device], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.devices = list(devices)
        self.job: Job | None = None
        self.saved_path = ""
        self.setWindowTitle(self.tr("Devices imported"))
        intro = QLabel(self.tr("%n device(s) created. Save their secrets to a file (CSV: productID, deviceName, "
                               "deviceSecret; readable by you only) or copy them: devices log in with them.", "",
                               len(self.devices)))
        intro.setWordWrap(True)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.save_button = self.buttons.addButton(self.tr("&Save as CSV…"), QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button = self.buttons.addButton(self.tr("&Copy CSV"), QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button.clicked.connect(self.choose_file)
        self.copy_button.clicked.connect(self.copy)
        self.buttons.rejected.connect(self.reject)
        for b in (self.save_button, self.copy_button):
            b.setEnabled(bool(self.devices))
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.status_label)
        lay.addStretch(1)
        lay.addWidget(self.buttons)
        self.setMinimumWidth(480)
        fit_on_show(self)

    def text(self) -> str:
        return secrets_csv(self.devices)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
        self._status(self.tr("Copied to the clipboard."))

    def choose_file(self) -> None:
        product = self.devices[0].productID if self.devices else "devices"
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Save device secrets"),
                                              os.path.join(last_folder(), f"{product}-secrets.csv"),
                                              self.tr("CSV files (*.csv)"))
        if path:
            if not path.lower().endswith(".csv"):
                path += ".csv"
            remember_folder(path)
            self.save_to(path)

    def save_to(self, path: str) -> Job:
        """Write the CSV on a worker thread (the Job: tests wait on it)."""
        self.save_button.setEnabled(False)
        self.job = job = run_in_pool(write_private_text, path, self.text())
        job.then(self._saved, self._save_failed)
        return job

    def _saved(self, path: str) -> None:
        self.save_button.setEnabled(True)
        self.saved_path = path
        self._status(self.tr("Saved to %1").replace("%1", path))

    def _save_failed(self, message: str) -> None:
        self.save_button.setEnabled(True)
        self._status(message, error=True)

    def _status(self, text: str, error: bool = False) -> None:
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")
        self.status_label.setText(text)
        self.status_label.show()
        fit_window(self.status_label)
