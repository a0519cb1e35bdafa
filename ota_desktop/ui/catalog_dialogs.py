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
    QCheckBox,
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

from ota_protocol.codes import ErrorCode

from ..core import dto
from ..core.api_client import CODE_BAD_RESPONSE, ApiCall, ApiClient, ApiError
from ..core.workers import Job, read_text, run_in_pool
from .forms import ERROR_STYLE, FieldErrors, api_error_text, fit_on_show, fit_window, last_folder, remember_folder
from .models.catalog_models import DeviceHistoryModel
from .table_actions import ColumnWidths, TableActions
from .widgets import table_view, text_filter_proxy

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


#: the protocol's identifier (deviceName, deviceSecret) and version rules (section 17)
IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}\Z")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: why a line of a device CSV cannot be imported (the dialog translates them)
NO_NAME, NO_VERSION, BAD_NAME, BAD_VERSION, BAD_SECRET, FORMULA, REPEATED, MALFORMED = (
    "no-name", "no-version", "bad-name", "bad-version", "bad-secret", "formula", "repeated", "malformed")


def _csv_rows(text: str) -> tuple[list[tuple[int, list[str]]], str | None]:
    """The non-blank records of a CSV with the physical line each ends on, or the reason the
    text is not CSV (("line", why))."""
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if any(c.strip() for c in row):
                rows.append((reader.line_num, row))
    except csv.Error as exc:
        return rows, f"{reader.line_num}:{exc}"
    return rows, None


def _columns(rows: list[tuple[int, list[str]]]) -> tuple[int, int, int, bool]:
    """(name, version, secret) column indexes (-1: none) and whether the first row is a header."""
    header = [c.strip() for c in rows[0][1]] if rows else []
    if "deviceName" in header:
        return (header.index("deviceName"), header.index("version") if "version" in header else -1,
                header.index("deviceSecret") if "deviceSecret" in header else -1, True)
    return 0, 1, 2, False


def csv_problems(text: str) -> tuple[str | None, list[tuple[int, str, str]]]:
    """Everything wrong with a device CSV (deviceName,version[,deviceSecret], or a header naming
    those columns): ("empty" | "too-many" | None, [(line, reason, detail)] for every bad line)."""
    rows, malformed = _csv_rows(text)
    problems: list[tuple[int, str, str]] = []
    if malformed is not None:
        at, _, why = malformed.partition(":")
        problems.append((int(at), MALFORMED, why))
    name_col, version_col, secret_col, has_header = _columns(rows)
    body = rows[1:] if has_header else rows
    if not body and not problems:
        return "empty", []
    if len(body) > MAX_IMPORT_ROWS:
        return "too-many", []
    seen: dict[str, int] = {}
    for line, row in body:
        def cell(i: int, row: list[str] = row) -> str:
            return row[i] if 0 <= i < len(row) else ""

        name, version, secret = cell(name_col), cell(version_col), cell(secret_col)
        formula = next((c for c in (name, version, secret) if c.lstrip(" ").startswith(FORMULA_START)), None)
        if formula is not None:
            problems.append((line, FORMULA, formula.lstrip(" ")[:1]))
            continue
        name, version, secret = name.strip(), version.strip(), secret.strip()
        if not name:
            problems.append((line, NO_NAME, ""))
        elif not IDENTIFIER_RE.match(name):
            problems.append((line, BAD_NAME, name))
        elif name in seen:
            problems.append((line, REPEATED, str(seen[name])))
        else:
            seen[name] = line
        if not version:
            problems.append((line, NO_VERSION, ""))
        elif not VERSION_RE.match(version):
            problems.append((line, BAD_VERSION, version))
        if secret and not IDENTIFIER_RE.match(secret):
            problems.append((line, BAD_SECRET, ""))
    return None, problems


def check_csv(text: str) -> str | None:
    """Why a device CSV is unusable ("empty", "too-many", "line:<n>" of the first bad line), or None."""
    problem, lines = csv_problems(text)
    if problem is not None:
        return problem
    return f"line:{lines[0][0]}" if lines else None


def drop_existing(ctx, text: str, existing: set[str]) -> tuple[str, int, int]:  # noqa: ANN001
    """Worker: the CSV without the devices in ``existing`` (header kept): (text, kept, skipped)."""
    rows, _ = _csv_rows(text)
    name_col, _v, _s, has_header = _columns(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if has_header:
        writer.writerow(rows[0][1])
    kept = skipped = 0
    for n, (_line, row) in enumerate(rows[1:] if has_header else rows):
        if n % 4096 == 0:
            ctx.check()
        if 0 <= name_col < len(row) and row[name_col].strip() in existing:
            skipped += 1
            continue
        writer.writerow(row)
        kept += 1
    return out.getvalue(), kept, skipped


#: at most this many bad lines are listed in the error under the text; all of them below it
LISTED_PROBLEMS = 8


class ImportDevicesDialog(_ApiForm):
    """Paste or load a CSV ``deviceName,version``; the backend creates the devices in one call.
    Every bad line is reported at once; devices that already exist may be skipped."""

    def __init__(self, client: ApiClient, product_id: str, parent: QWidget | None = None) -> None:
        super().__init__(client, parent)
        self.product_id = product_id
        self.skipped = 0
        self.setWindowTitle(self.tr("Import devices into %1").replace("%1", product_id))
        self.resize(560, 460)
        self.text_edit = QPlainTextEdit()
        self.text_edit.setPlaceholderText("deviceName,version\ndev-0001,1.0.0\ndev-0002,1.0.0")
        self.open_button = QPushButton(self.tr("Open CSV file…"))
        self.open_button.clicked.connect(self.choose_file)
        self.skip_check = QCheckBox(self.tr("S&kip devices that already exist"))
        self.skip_check.setToolTip(self.tr("Devices of this product with the same name are left as they are "
                                           "instead of failing the import."))
        self.problems_view = QPlainTextEdit()
        self.problems_view.setObjectName("import_problems")
        self.problems_view.setReadOnly(True)
        self.problems_view.setMaximumHeight(160)
        self.problems_view.hide()
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.text_edit)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.skip_check)
        row.addStretch(1)
        lay.addLayout(row)
        self.errors.add_row(self.form, self.tr("Devices (CSV):"), box, "csv", "devices")
        self.form.addRow("", self.problems_view)
        self.errors.watch(self.validate, [self.text_edit.textChanged], "csv")
        self.text_edit.textChanged.connect(self._problems_shown)
        self.job: Job | None = None

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

    def reason_text(self, reason: str, detail: str) -> str:
        texts = {
            NO_NAME: self.tr("no device name"),
            NO_VERSION: self.tr("no version (the version the device runs now)"),
            BAD_NAME: self.tr("device name \"%1\": use 1-64 letters, digits, _ . - only"),
            BAD_VERSION: self.tr("version \"%1\": use letters, digits and . _ + - only (at most 64)"),
            BAD_SECRET: self.tr("secret: use 1-64 letters, digits, _ . - only"),
            FORMULA: self.tr("starts with '%1', which a spreadsheet would run as a formula"),
            REPEATED: self.tr("device name repeated (first on line %1)"),
            MALFORMED: self.tr("not valid CSV: %1"),
        }
        return texts.get(reason, reason).replace("%1", detail)

    def problem_lines(self) -> list[str]:
        """Every bad line of the text, as the form lists them."""
        _problem, problems = csv_problems(self.text_edit.toPlainText())
        by_line: dict[int, list[str]] = {}
        for line, reason, detail in problems:
            by_line.setdefault(line, []).append(self.reason_text(reason, detail))
        return [self.tr("Line %1: %2").replace("%1", str(line)).replace("%2", "; ".join(reasons))
                for line, reasons in sorted(by_line.items())]

    def validate(self) -> dict[str, str]:
        problem, problems = csv_problems(self.text_edit.toPlainText())
        if problem == "empty":
            return {"csv": self.tr("Enter at least one line \"deviceName,version\".")}
        if problem == "too-many":
            return {"csv": self.tr("At most %1 devices per import.").replace("%1", str(MAX_IMPORT_ROWS))}
        if not problems:
            return {}
        lines = self.problem_lines()
        if len(lines) > LISTED_PROBLEMS:  # every one in the list under the error
            return {"csv": self.tr("%n line(s) cannot be imported; each is listed below:", "", len(lines))}
        return {"csv": self.tr("%n line(s) cannot be imported:", "", len(lines)) + "\n" + "\n".join(lines)}

    def _problems_shown(self) -> None:
        """The full list of bad lines under the error, while the error shows more than it lists."""
        label = self.errors.label("csv")
        lines = self.problem_lines() if not label.isHidden() else []
        if len(lines) > LISTED_PROBLEMS:
            self.problems_view.setPlainText("\n".join(lines))
            self.problems_view.show()
        else:
            self.problems_view.hide()

    def submit(self) -> None:
        ok = self.errors.check(self.validate())
        self._problems_shown()
        if not ok:
            return
        self.ok_button.setEnabled(False)
        self.skipped = 0
        if not self.skip_check.isChecked():
            self.call().then(self._succeeded, self._failed)
            return
        text = self.text_edit.toPlainText()

        def filtered(result: tuple[str, int, int]) -> None:
            new_text, kept, self.skipped = result
            if not kept:
                self.ok_button.setEnabled(True)
                self.errors.show(None, self.tr("All %n device(s) already exist: nothing to import.", "",
                                               self.skipped))
                return
            self.client.import_devices_csv(self.product_id, new_text).then(self._succeeded, self._failed)

        def existing(names: set[str]) -> None:
            self.job = run_in_pool(drop_existing, text, names)
            self.job.then(filtered, lambda msg: self._failed(ApiError(CODE_BAD_RESPONSE, msg)))

        self.client.device_names(self.product_id).then(existing, self._failed)

    def _failed(self, error: ApiError) -> None:
        super()._failed(error)
        if error.code == int(ErrorCode.DUPLICATE) and not self.skip_check.isChecked():
            label = self.errors.label("csv")
            label = label if not label.isHidden() else self.general_error
            label.setText(label.text() + "\n" + self.tr(
                "Tick \"Skip devices that already exist\" to import the others."))
            fit_window(label)

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


class DeleteProductDialog(QDialog):
    """Deleting a product: what goes with it (its devices and firmware versions, counted by the
    backend), and the product's ID typed in before Delete can be pressed; Cancel is the default."""

    def __init__(self, product: dto.Product, devices: int, firmware: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.product = product
        self.setWindowTitle(self.tr("Delete product"))
        name = f"{product.productName} ({product.productID})" if product.productName else product.productID
        self.impact_label = QLabel(self.tr("Delete product %1 with its %2 and %3?").replace("%1", name)
                                   .replace("%2", self.tr("%n device(s)", "", devices))
                                   .replace("%3", self.tr("%n firmware version(s)", "", firmware)))
        self.impact_label.setWordWrap(True)
        self.impact_label.setStyleSheet("font-weight: bold;")
        detail = QLabel(self.tr("Their upgrade tasks, records and firmware files are deleted too, and the devices "
                                "can no longer connect. This cannot be undone."))
        detail.setWordWrap(True)
        self.id_edit = QLineEdit()
        self.id_edit.setPlaceholderText(product.productID)
        self.id_edit.textChanged.connect(self._typed)
        self.buttons = QDialogButtonBox()
        self.delete_button = self.buttons.addButton(self.tr("&Delete product"),
                                                    QDialogButtonBox.ButtonRole.DestructiveRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.delete_button.setEnabled(False)
        self.delete_button.setAutoDefault(False)
        self.cancel_button.setDefault(True)
        self.delete_button.clicked.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.impact_label)
        lay.addWidget(detail)
        lay.addWidget(QLabel(self.tr("Type the product ID <b>%1</b> to confirm:").replace("%1", product.productID)))
        lay.addWidget(self.id_edit)
        lay.addWidget(self.buttons)
        self.setMinimumWidth(460)
        fit_on_show(self)

    def _typed(self, text: str) -> None:
        self.delete_button.setEnabled(text.strip() == self.product.productID)

    def accept(self) -> None:
        if self.id_edit.text().strip() == self.product.productID:  # Enter in the field asks too
            super().accept()


class DeviceHistoryDialog(QDialog):
    """A device's OTA history across tasks (device/history, newest first), a page at a time,
    loaded in the background."""

    PAGE_SIZE = 50

    def __init__(self, client: ApiClient, device: dto.Device, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.device = client, device
        self.page, self.total = 1, 0
        self.call: ApiCall | None = None
        self.setWindowTitle(self.tr("OTA history of %1").replace("%1", device.deviceName))
        self.resize(980, 520)
        state = self.tr("online") if device.online else self.tr("offline")
        about = QLabel(self.tr("Device <b>%1</b> of product %2 · version %3 · %4").replace("%1", device.deviceName)
                       .replace("%2", device.productID).replace("%3", device.version or "—").replace("%4", state))
        about.setWordWrap(True)
        self.model = DeviceHistoryModel(self)
        self.proxy = text_filter_proxy(self.model, self)
        self.view = table_view(self.proxy, stretch=DeviceHistoryModel.DESC)
        self.view.sortByColumn(DeviceHistoryModel.TIME, Qt.SortOrder.DescendingOrder)
        self.table_actions = TableActions(self.view)
        self.columns = ColumnWidths(self.view, "device-history")
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.newer_button = QPushButton(self.tr("‹ &Newer"))
        self.older_button = QPushButton(self.tr("&Older ›"))
        self.newer_button.clicked.connect(lambda: self.load(self.page - 1))
        self.older_button.clicked.connect(lambda: self.load(self.page + 1))
        self.page_label = QLabel()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.newer_button)
        row.addWidget(self.older_button)
        row.addWidget(self.page_label)
        row.addStretch(1)
        row.addWidget(buttons)
        lay = QVBoxLayout(self)
        lay.addWidget(about)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.status_label)
        lay.addLayout(row)
        self._update_paging()

    def pages(self) -> int:
        return max(1, -(-self.total // self.PAGE_SIZE))

    def load(self, page: int = 1) -> ApiCall:
        """Ask for one page (the call: tests wait on it); the table keeps the last page until then."""
        if self.call is not None and not self.call.done:
            self.call.abort()
        self.page = max(1, page)
        self.status_label.setStyleSheet("")
        self.status_label.setText(self.tr("Loading…"))
        self.call = call = self.client.device_history(self.device.productID, self.device.deviceName, self.page,
                                                      self.PAGE_SIZE)
        call.then(self._loaded, self._failed)
        self._update_paging()
        return call

    def _loaded(self, result: tuple[list[dict], int]) -> None:
        entries, self.total = result
        self.model.set_rows(entries)
        self.status_label.setText("" if entries else self.tr("No OTA upgrades recorded for this device yet."))
        self._update_paging()

    def _failed(self, error: ApiError) -> None:
        if error.cancelled:
            return
        self.status_label.setStyleSheet(ERROR_STYLE)
        self.status_label.setText(api_error_text(error))
        self._update_paging()

    def _update_paging(self) -> None:
        busy = self.call is not None and not self.call.done
        self.newer_button.setEnabled(not busy and self.page > 1)
        self.older_button.setEnabled(not busy and self.page < self.pages())
        self.page_label.setText(self.tr("Page %1 of %2 · %n change(s)", "", self.total)
                                .replace("%1", str(self.page)).replace("%2", str(self.pages())))
