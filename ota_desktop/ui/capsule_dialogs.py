"""Release capsules (issue 15): a firmware (and a task template) signed by this workstation,
carried to a station without a network, checked there and imported; the station's results come
back as signed evidence. The dialogs: export / import a capsule, task drafts, export / import
evidence, the evidence per release, and the trusted publishers with this workstation's key.

Big files never pass through memory: the API client streams them (uploads from the file,
downloads into a temporary file renamed at the end); small files (a .pem) are read and written
on the thread pool.
"""
from __future__ import annotations

import hashlib
import html
import os
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
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
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ota_protocol import rollout as ro
from ota_protocol.codes import TaskType
from ota_protocol.task_options import OPTIONS

from ..core import dto
from ..core.api_client import CODE_LOCAL_FILE, ApiCall, ApiClient, ApiError
from ..core.workers import JobContext, read_text, run_in_pool
from ..i18n import QT_TRANSLATE_NOOP
from ..secrets import SecretStore
from .confirm import confirm
from .forms import (
    ERROR_STYLE,
    FieldErrors,
    api_error_text,
    backend_error_text,
    fit_on_show,
    fit_window,
    last_folder,
    remember_folder,
)
from .models.base import NUMERIC, Column, RowTableModel, format_size, format_time
from .status import record_status_text, step_text
from .widgets import current_row, table_view, text_filter_proxy

CAPSULE_SUFFIX = ".otacap"
EVIDENCE_SUFFIX = ".otaevidence"
PEM_LIMIT = 64 << 10  # a public key file is a few hundred bytes
EXPIRY_DAYS = (1, 3650, 30)  # min, max, default
RESULT_STYLE = "color: #15803d;"


# -- fingerprints -----------------------------------------------------------------------------------

def group_fingerprint(fingerprint: str, per_line: int = 0) -> str:
    """``SHA256:1a2b3c4d...`` as ``SHA256: 1a2b 3c4d ...``: blocks of 4 hex digits to read aloud;
    ``per_line`` blocks per line (0: one line)."""
    prefix, sep, digits = fingerprint.partition(":")
    if not sep:
        prefix, digits = "", fingerprint
    blocks = [digits[i:i + 4] for i in range(0, len(digits), 4)]
    if per_line > 0:  # the lines after the first under the first block (a fixed-width font)
        indent = "\n" + " " * (len(prefix) + 2 if prefix else 0)
        body = indent.join(" ".join(blocks[i:i + per_line]) for i in range(0, len(blocks), per_line))
    else:
        body = " ".join(blocks)
    return f"{prefix}: {body}" if prefix else body


def pem_fingerprint(pem: str) -> str:
    """The fingerprint of an Ed25519 public key in PEM, as the backend computes it: ``SHA256:``
    and the hex SHA-256 of the raw 32-byte key. ValueError (in words) for anything else."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError, UnicodeEncodeError):
        raise ValueError(QCoreApplication.translate(
            "CapsuleTexts", "This is not a public key in PEM form (-----BEGIN PUBLIC KEY----- …).")) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(QCoreApplication.translate(
            "CapsuleTexts", "This is not an Ed25519 key: capsules are signed with Ed25519 keys."))
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def short_fingerprint(fingerprint: str, blocks: int = 4) -> str:
    """The first blocks of a fingerprint, for a table column (``SHA256: 1a2b 3c4d 5e6f 7a8b …``)."""
    words = group_fingerprint(fingerprint).split(" ")
    return " ".join(words[:blocks + 1]) + (" …" if len(words) > blocks + 1 else "")


def fingerprint_html(fingerprint: str) -> str:
    """A fingerprint in HTML: fixed-width, 8 blocks a line, never wrapped elsewhere."""
    lines = html.escape(group_fingerprint(fingerprint, per_line=8)).replace(" ", "&nbsp;").split("\n")
    return "<code>" + "<br>".join(lines) + "</code>"


def fingerprint_label(text: str = "") -> QLabel:
    """A fingerprint in a fixed-width font, selectable (blocks line up when read aloud)."""
    label = QLabel(text)
    label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


# -- texts -------------------------------------------------------------------------------------------

def task_template_text(task: dict[str, Any] | None) -> str:
    """A task template (task/create's fields) in words, one line."""
    if not task:
        return QCoreApplication.translate("CapsuleTexts", "no task template")
    parts = []
    if int(task.get("type") or TaskType.ALL) == TaskType.TARGETED:
        names = [str(n) for n in task.get("deviceList") or []]
        shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
        parts.append(QCoreApplication.translate("CapsuleTexts", "named devices: %1").replace("%1", str(len(names)))
                     + (f" ({shown})" if shown else ""))
    else:
        parts.append(QCoreApplication.translate("CapsuleTexts", "all devices of the product"))
    retries = int(task.get("retryCount") or 0)
    parts.append(QCoreApplication.translate("CapsuleTexts", "retries: %1").replace("%1", str(retries)))
    rollout = task.get("rollout") or {}
    waves = rollout.get("waves") or []
    if waves:
        steps = [f"{w['percent']} %" if w.get("percent") else str(w.get("count", "")) for w in waves]
        parts.append(QCoreApplication.translate("CapsuleTexts", "waves %1").replace("%1", " → ".join(steps)))
    for rule in rollout.get("abort") or []:
        parts.append(QCoreApplication.translate("CapsuleTexts", "stop at %1 % failures after %2 finished").replace(
            "%1", str(rule.get("thresholdPercent", ""))).replace("%2", str(rule.get("minFinished", ""))))
    return QCoreApplication.translate("CapsuleTexts", "; ").join(parts)


def kept_in_text(kept_in: str, store: SecretStore | None) -> str:
    """Where the workstation's signing key is kept, in words. ``store``: the app's secret store
    when the app runs the backend (it passes the key: the backend says "environment")."""
    if kept_in == "environment" and store is not None:
        if store.session_only:
            return QCoreApplication.translate(
                "CapsuleTexts", "Kept for this session only (no OS keyring): the fingerprint changes when OTA Desktop "
                "restarts, and stations must then trust the new one.")
        return QCoreApplication.translate(
            "CapsuleTexts", "Kept in the OS keyring (%1): the fingerprint stays the same when OTA Desktop "
            "restarts.").replace("%1", store.friendly_name)
    texts = {
        "environment": QCoreApplication.translate(
            "CapsuleTexts", "Given to the backend by whoever started it (OTA_SIGNING_KEY)."),
        "keyring": QCoreApplication.translate(
            "CapsuleTexts", "Kept in the backend's OS keyring: the fingerprint stays the same across restarts."),
        "file": QCoreApplication.translate("CapsuleTexts", "Kept in the key file named in the backend's settings."),
        "session": QCoreApplication.translate(
            "CapsuleTexts", "Session only: the fingerprint changes when the backend restarts, and stations must then "
            "trust the new one."),
    }
    return texts.get(kept_in, kept_in)


def refusal_text(error: ApiError) -> str:
    """Why a capsule or evidence file was refused: the backend's reason without its "capsule:"
    prefix; local and network problems as elsewhere."""
    if error.code == CODE_LOCAL_FILE:
        return QCoreApplication.translate("CapsuleTexts", "Cannot use the file: %1").replace("%1", error.msg)
    if error.field in ("capsule", "evidence"):
        return error.detail
    if error.http_status:
        return backend_error_text(error)
    return api_error_text(error)


def unknown_signer(error: ApiError) -> bool:
    return error.http_status == 403 or "unknown publisher" in error.msg or "unknown station" in error.msg


FINGERPRINT_RE = re.compile(r"SHA256:[0-9a-f]{64}")


def named_fingerprint(error: ApiError) -> str:
    """The full fingerprint a refusal names (an unknown publisher's), or ""."""
    found = FINGERPRINT_RE.search(error.msg)
    return found.group(0) if found else ""


class TransferBar(QProgressBar):
    """Bytes moved of a big file: per mille (QProgressBar is int32), with the sizes as text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, 1000)
        self.setValue(0)
        self.hide()

    def show_progress(self, done: int, total: int) -> None:
        """(0, 0): started, the size not known yet (a busy bar)."""
        done, total = int(done), int(total)
        if total <= 0 and not done:
            self.setRange(0, 0)
        else:
            self.setRange(0, 1000)
            self.setValue(min(1000, done * 1000 // total) if total > 0 else 0)
            self.setFormat(f"%p%  ({format_size(done) or '0'} / {format_size(total) or '0'})" if total > 0
                           else format_size(done) or "0")
        self.show()


class FileRow(QWidget):
    """A path and a Browse… button: an Open or Save dialog with a filter, in the last folder."""

    chosen = Signal(str)

    def __init__(self, title: str, name_filter: str, suffix: str, save: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title, self.filter, self.suffix, self.save = title, name_filter, suffix, save
        self.edit = QLineEdit()
        self.edit.setMinimumWidth(320)
        self.button = QPushButton(QCoreApplication.translate("CapsuleTexts", "&Browse…"))
        self.button.clicked.connect(self.browse)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit, 1)
        lay.addWidget(self.button)

    @property
    def path(self) -> str:
        path = self.edit.text().strip()
        if path and self.save and not path.lower().endswith(self.suffix):
            path += self.suffix
        return path

    def browse(self) -> None:
        start = self.path or last_folder()
        if self.save:
            path, _chosen = QFileDialog.getSaveFileName(self, self.title, start, self.filter)
        else:
            path, _chosen = QFileDialog.getOpenFileName(self, self.title, start if os.path.isdir(start)
                                                        else os.path.dirname(start), self.filter)
        if path:
            remember_folder(path)
            self.edit.setText(path)
            self.chosen.emit(self.path)


def _wrapping(text: str = "", style: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if style:
        label.setStyleSheet(style)
    return label


class _TransferDialog(QDialog):
    """A dialog running one transfer (``call``) at a time: Close stops it first, as does Escape."""

    call: ApiCall | None = None

    def _cancel_or_close(self) -> None:
        if self.call is not None:
            self.call.abort()
        else:
            self.reject()

    def reject(self) -> None:
        if self.call is not None:
            self.call.abort()
        super().reject()


# -- downloads: a capsule, evidence ------------------------------------------------------------------

class _SaveDialog(_TransferDialog):
    """What both exports share: a Save as row, a progress bar, the result in words, Export and
    Cancel (which stops a running export: the partial file is removed)."""

    exported = Signal(str)  # the saved file

    def __init__(self, title: str, name_filter: str, suffix: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(620)
        self.call: ApiCall | None = None
        self._auto_path = ""
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.general_error = _wrapping()
        self.errors = FieldErrors(self.general_error)
        self.file_row = FileRow(title, name_filter, suffix, save=True)
        self.file_row.chosen.connect(lambda _p: self.errors.clear())
        self.progress = TransferBar()
        self.result_label = _wrapping()
        self.result_label.hide()
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton(self.tr("&Export"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.export)
        self.cancel_button.clicked.connect(self._cancel_or_close)
        self.export_button.setDefault(True)

    def finish_layout(self) -> None:
        self.errors.add_row(self.form, self.tr("&Output file:"), self.file_row, "path")
        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addWidget(self.progress)
        lay.addWidget(self.result_label)
        lay.addWidget(self.general_error)
        lay.addStretch(1)
        lay.addWidget(self.buttons)
        fit_on_show(self)

    def suggest_name(self, name: str) -> None:
        """Propose ``name`` in the last folder unless the user typed or chose a path."""
        if self.file_row.edit.text() in ("", self._auto_path):
            self._auto_path = os.path.join(last_folder(), name)
            self.file_row.edit.setText(self._auto_path)

    # -- for subclasses ---------------------------------------------------------------------------
    def problems(self) -> dict[str, str]:
        return {}

    def start(self, dest: str) -> ApiCall:
        raise NotImplementedError

    def inputs(self) -> list[QWidget]:
        return []

    # -- running ---------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.call is not None

    def export(self) -> None:
        if self.busy:
            return
        problems = self.problems()
        dest = self.file_row.path
        if not dest:
            problems["path"] = self.tr("Choose where to save the file.")
        elif not os.path.isdir(os.path.dirname(os.path.abspath(dest))):
            problems["path"] = self.tr("The folder %1 does not exist.").replace("%1", os.path.dirname(dest))
        if not self.errors.check(problems):
            return
        self.result_label.hide()
        self.progress.show_progress(0, 0)
        self._set_busy(True)
        call = self.call = self.start(dest)
        call.progress.connect(self.progress.show_progress)
        call.then(self._done, self._failed)

    def _set_busy(self, busy: bool) -> None:
        for w in [*self.inputs(), self.file_row]:
            w.setEnabled(not busy)
        self.export_button.setEnabled(not busy)
        self.cancel_button.setText(self.tr("&Cancel export") if busy else self.tr("&Close"))

    def _done(self, path: str) -> None:
        self.call = None
        self._set_busy(False)
        size = os.path.getsize(path) if os.path.exists(path) else 0
        self.progress.show_progress(size, size)
        self._result(self.tr("Saved %1 (%2).").replace("%1", path).replace("%2", format_size(size) or "0"), True)
        self.exported.emit(path)

    def _failed(self, error: ApiError) -> None:
        self.call = None
        self._set_busy(False)
        self.progress.hide()
        if error.cancelled:
            self._result(self.tr("Export cancelled: nothing was saved."), False)
        elif error.code == CODE_LOCAL_FILE:
            self.errors.show("path", self.tr("Cannot write the file: %1").replace("%1", error.msg))
        else:
            self._result(self.tr("Export failed: %1").replace("%1", refusal_text(error)), False)

    def _result(self, text: str, ok: bool) -> None:
        self.result_label.setStyleSheet(RESULT_STYLE if ok else ERROR_STYLE)
        self.result_label.setText(text)
        self.result_label.show()
        fit_window(self)



class ExportCapsuleDialog(_SaveDialog):
    """A firmware (and optionally a task template) as a signed release capsule (.otacap)."""

    def __init__(self, client: ApiClient, firmware_id: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Export release capsule"), self.tr("Release capsules (*.otacap)"), CAPSULE_SUFFIX,
                         parent)
        self.client = client
        self.firmwares: list[dto.Firmware] = []
        self._wanted = firmware_id
        self.product_combo = QComboBox()
        self.product_combo.currentIndexChanged.connect(self._product_changed)
        self.firmware_combo = QComboBox()
        self.firmware_combo.currentIndexChanged.connect(self._firmware_changed)
        self.expiry_spin = QSpinBox()
        self.expiry_spin.setRange(*EXPIRY_DAYS[:2])
        self.expiry_spin.setValue(EXPIRY_DAYS[2])
        self.expiry_spin.setSuffix(self.tr(" days"))
        self.expiry_hint = _wrapping(self.tr("Stations refuse the capsule after that."))

        self.task_box = QGroupBox(self.tr("Include a task &template"))
        self.task_box.setCheckable(True)
        self.task_box.setChecked(False)
        self.all_radio = QRadioButton(self.tr("&All devices of the product"))
        self.named_radio = QRadioButton(self.tr("&Named devices:"))
        self.all_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.all_radio)
        group.addButton(self.named_radio)
        self.devices_edit = QPlainTextEdit()
        self.devices_edit.setPlaceholderText(self.tr("device names, one per line or separated by commas"))
        self.devices_edit.setFixedHeight(self.devices_edit.fontMetrics().lineSpacing() * 4 + 12)
        self.devices_edit.setEnabled(False)
        self.named_radio.toggled.connect(self.devices_edit.setEnabled)
        option = OPTIONS["retry_count"]
        self.retry_spin = QSpinBox()
        self.retry_spin.setRange(option.low or 0, option.high or 100)
        self.retry_spin.setValue(int(option.default))
        self.safe_check = QCheckBox(self.tr("&Safe rollout"))
        self.safe_hint = _wrapping(self.tr("Waves of 1 %, 10 %, then the rest; stop when 10 % of at least 20 "
                                           "finished devices failed."))
        task_form = QFormLayout(self.task_box)
        task_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        task_form.addRow(self.tr("Devices:"), self.all_radio)
        self.errors.add_row(task_form, "", self._named_box(), "deviceList")
        task_form.addRow(self.tr("Retries:"), self.retry_spin)
        task_form.addRow(self.safe_check, self.safe_hint)
        self.task_hint = _wrapping(self.tr("The station gets the template as a task draft: a technician there "
                                           "starts it by hand."))
        task_form.addRow(self.task_hint)

        self.errors.add_row(self.form, self.tr("&Product:"), self.product_combo, "productID")
        self.errors.add_row(self.form, self.tr("&Firmware:"), self.firmware_combo, "firmwareID")
        expiry = QWidget()
        row = QHBoxLayout(expiry)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.expiry_spin)
        row.addWidget(self.expiry_hint, 1)
        self.errors.add_row(self.form, self.tr("&Valid for:"), expiry, "expiresInDays")
        self.form.addRow(self.task_box)
        self.finish_layout()
        self.client.firmwares().then(self._loaded, self._load_failed)

    def _named_box(self) -> QWidget:
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.named_radio)
        lay.addWidget(self.devices_edit)
        return box

    def inputs(self) -> list[QWidget]:
        return [self.product_combo, self.firmware_combo, self.expiry_spin, self.task_box]

    # -- loading --------------------------------------------------------------------------------
    def _loaded(self, firmwares: list[dto.Firmware]) -> None:
        self.firmwares = firmwares
        wanted = next((f for f in firmwares if f.firmwareID == self._wanted), None)
        products: dict[str, str] = {}
        for f in firmwares:
            products.setdefault(f.productID, f.productName)
        self.product_combo.blockSignals(True)
        self.product_combo.clear()
        for pid, name in sorted(products.items(), key=lambda p: (p[1] or p[0]).casefold()):
            self.product_combo.addItem(f"{name} ({pid})" if name and name != pid else pid, pid)
        self.product_combo.blockSignals(False)
        if wanted is not None:
            self.product_combo.setCurrentIndex(self.product_combo.findData(wanted.productID))
        self._product_changed()
        if wanted is not None:
            self.firmware_combo.setCurrentIndex(self.firmware_combo.findData(wanted.firmwareID))
        if not firmwares:
            self.errors.show("firmwareID", self.tr("There is no firmware to export yet."))

    def _load_failed(self, error: ApiError) -> None:
        if not error.cancelled:
            self.errors.show(None, api_error_text(error))

    def _product_changed(self, *_args: object) -> None:
        pid = self.product_combo.currentData()
        self.firmware_combo.blockSignals(True)
        self.firmware_combo.clear()
        for f in sorted((f for f in self.firmwares if f.productID == pid), key=lambda f: -f.createdTime):
            size = format_size(f.totalSize)
            self.firmware_combo.addItem(f"{f.name} {f.version}" + (f" ({size})" if size else ""), f.firmwareID)
        self.firmware_combo.blockSignals(False)
        self._firmware_changed()

    def current_firmware(self) -> dto.Firmware | None:
        fid = self.firmware_combo.currentData()
        return next((f for f in self.firmwares if f.firmwareID == fid), None)

    def _firmware_changed(self, *_args: object) -> None:
        fw = self.current_firmware()
        if fw is not None:
            self.suggest_name(f"{fw.productID}-{fw.version}{CAPSULE_SUFFIX}")

    # -- the export -------------------------------------------------------------------------------
    def device_names(self) -> list[str]:
        text = self.devices_edit.toPlainText().replace(",", "\n").replace(";", "\n")
        return list(dict.fromkeys(n.strip() for n in text.splitlines() if n.strip()))

    def template(self) -> dict[str, Any] | None:
        """The task template (task/create's fields without firmwareID), or None."""
        if not self.task_box.isChecked():
            return None
        named = self.named_radio.isChecked()
        task = dto.NewTask(0, type=TaskType.TARGETED if named else TaskType.ALL,
                           deviceList=self.device_names() if named else [], retryCount=self.retry_spin.value(),
                           rollout=ro.SAFE_PRESET.to_wire() if self.safe_check.isChecked() else None).to_json()
        del task["firmwareID"]
        return task

    def problems(self) -> dict[str, str]:
        problems = {}
        if self.current_firmware() is None:
            problems["firmwareID"] = self.tr("Choose the firmware to export.")
        if self.task_box.isChecked() and self.named_radio.isChecked() and not self.device_names():
            problems["deviceList"] = self.tr("Name at least one device (or choose all devices).")
        return problems

    def start(self, dest: str) -> ApiCall:
        fw = self.current_firmware()
        assert fw is not None  # checked by problems()
        return self.client.export_capsule(fw.firmwareID, dest, self.template(), self.expiry_spin.value())


class ExportEvidenceDialog(_SaveDialog):
    """A task's results on this station, signed, for the origin of the release (.otaevidence)."""

    def __init__(self, client: ApiClient, task: dto.Task | None = None, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Export evidence"), self.tr("Evidence (*.otaevidence)"), EVIDENCE_SUFFIX, parent)
        self.client = client
        self.firmwares: list[dto.Firmware] = []
        self.tasks: list[dto.Task] = []
        self._wanted = task
        self._tasks_call: ApiCall | None = None
        self.firmware_combo = QComboBox()
        self.firmware_combo.currentIndexChanged.connect(self._firmware_changed)
        self.task_combo = QComboBox()
        self.task_combo.currentIndexChanged.connect(self._task_changed)
        self.hint = _wrapping(self.tr("The file holds every device's result of the task, signed by this "
                                      "workstation. Import it where the release came from."))
        self.errors.add_row(self.form, self.tr("&Firmware:"), self.firmware_combo, "firmwareID")
        self.errors.add_row(self.form, self.tr("&Task:"), self.task_combo, "taskID")
        self.form.addRow(self.hint)
        self.finish_layout()
        self.client.firmwares().then(self._loaded, self._load_failed)

    def inputs(self) -> list[QWidget]:
        return [self.firmware_combo, self.task_combo]

    def _loaded(self, firmwares: list[dto.Firmware]) -> None:
        self.firmwares = sorted(firmwares, key=lambda f: (f.productID, -f.createdTime))
        self.firmware_combo.blockSignals(True)
        self.firmware_combo.clear()
        for f in self.firmwares:
            self.firmware_combo.addItem(f"{f.productName or f.productID}: {f.name} {f.version}", f.firmwareID)
        self.firmware_combo.blockSignals(False)
        if self._wanted is not None and self._wanted.firmwareID:
            self.firmware_combo.setCurrentIndex(max(0, self.firmware_combo.findData(self._wanted.firmwareID)))
        self._firmware_changed()
        if not firmwares:
            self.errors.show("taskID", self.tr("There is no task to export yet."))

    def _load_failed(self, error: ApiError) -> None:
        if not error.cancelled:
            self.errors.show(None, api_error_text(error))

    def _firmware_changed(self, *_args: object) -> None:
        fid = self.firmware_combo.currentData()
        fw = next((f for f in self.firmwares if f.firmwareID == fid), None)
        self.task_combo.clear()
        self.tasks = []
        if self._tasks_call is not None:
            self._tasks_call.abort()
        if fw is None:
            return
        self._tasks_call = self.client.tasks(fw).then(self._tasks_loaded, self._load_failed)

    def _tasks_loaded(self, tasks: list[dto.Task]) -> None:
        self._tasks_call = None
        self.tasks = sorted(tasks, key=lambda t: -t.taskID)
        self.task_combo.blockSignals(True)
        for t in self.tasks:
            self.task_combo.addItem(self.tr("Task %1 (%2)").replace("%1", str(t.taskID)).replace(
                "%2", format_time(t.createdTime) or t.taskUid), t.taskID)
        self.task_combo.blockSignals(False)
        if self._wanted is not None:
            self.task_combo.setCurrentIndex(max(0, self.task_combo.findData(self._wanted.taskID)))
        self._task_changed()

    def current_task(self) -> dto.Task | None:
        tid = self.task_combo.currentData()
        return next((t for t in self.tasks if t.taskID == tid), None)

    def _task_changed(self, *_args: object) -> None:
        t = self.current_task()
        if t is not None:
            self.suggest_name(f"evidence-{t.productID}-{t.version}-{t.taskUid}{EVIDENCE_SUFFIX}")

    def problems(self) -> dict[str, str]:
        if self.current_task() is not None:
            return {}
        return {"taskID": self.tr("Choose the task whose results to export.")}

    def start(self, dest: str) -> ApiCall:
        task = self.current_task()
        assert task is not None  # checked by problems()
        return self.client.export_evidence(task.taskID, dest)


# -- uploads: a capsule, evidence ----------------------------------------------------------------------

class _OpenDialog(_TransferDialog):
    """What both imports share: a file to open, a progress bar with its stage, the outcome."""

    def __init__(self, title: str, name_filter: str, suffix: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(660)
        self.call: ApiCall | None = None
        self.file_row = FileRow(title, name_filter, suffix, save=False)
        self.stage_label = QLabel()
        self.progress = TransferBar()
        self.refusal_label = _wrapping(style=ERROR_STYLE)
        self.refusal_label.setObjectName("refusal")
        self.refusal_label.hide()
        self.buttons = QDialogButtonBox()
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.clicked.connect(self._cancel_or_close)

    def run(self, call: ApiCall, stage: str, on_ok: Callable[[Any], None]) -> None:
        self.refusal_label.hide()
        self.stage_label.setText(stage)
        self.progress.show_progress(0, 0)
        self.call = call
        self._set_busy(True)
        call.progress.connect(self.progress.show_progress)
        call.then(lambda result: self._ended(on_ok, result), self._refused)

    def _ended(self, on_ok: Callable[[Any], None], result: Any) -> None:
        self.call = None
        self._set_busy(False)
        on_ok(result)

    def _refused(self, error: ApiError) -> None:
        self.call = None
        self._set_busy(False)
        self.progress.hide()
        self.stage_label.setText("")
        self.refused(error)

    def refused(self, error: ApiError) -> None:
        if error.cancelled:
            self.show_refusal(self.tr("Stopped: nothing was imported."))
        else:
            self.show_refusal(self.tr("Refused: %1").replace("%1", refusal_text(error)))

    def show_refusal(self, text: str) -> None:
        self.refusal_label.setText(text)
        self.refusal_label.show()
        fit_window(self)

    def _set_busy(self, busy: bool) -> None:
        self.file_row.setEnabled(not busy)
        self.close_button.setText(self.tr("&Stop") if busy else self.tr("&Close"))



class ImportCapsuleDialog(_OpenDialog):
    """Open a capsule, check it (capsule/verify: nothing is created) and say what it holds in
    words; Import creates the firmware (and the product, and the task template as a draft);
    the draft can be started at once, after a question."""

    imported = Signal(object)  # dto.CapsuleImported
    task_started = Signal(dict)  # {"taskID", "taskUid"}
    trust_requested = Signal()

    def __init__(self, client: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Import release capsule"), self.tr("Release capsules (*.otacap)"), CAPSULE_SUFFIX,
                         parent)
        self.client = client
        self.info: dto.CapsuleInfo | None = None
        self.outcome: dto.CapsuleImported | None = None
        self.file_row.chosen.connect(self.verify)
        self.file_row.edit.returnPressed.connect(lambda: self.verify(self.file_row.path))
        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        self.details.setMinimumHeight(200)
        self.details.setPlaceholderText(self.tr("Choose a capsule: what it holds and who signed it is shown here "
                                                "before anything is imported."))
        self.trust_button = QPushButton(self.tr("&Trusted publishers…"))
        self.trust_button.clicked.connect(self.trust_requested)
        self.trust_button.hide()
        self.result_label = _wrapping(style=RESULT_STYLE)
        self.result_label.setObjectName("result")
        self.result_label.hide()
        self.start_button = QPushButton(self.tr("&Start the task now…"))
        self.start_button.clicked.connect(self.start_task)
        self.start_button.hide()
        self.import_button = self.buttons.addButton(self.tr("&Import"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setEnabled(False)
        self.import_button.clicked.connect(self.do_import)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(self.tr("Capsule &file:"), self.file_row)
        refusal = QHBoxLayout()
        refusal.addWidget(self.refusal_label, 1)
        refusal.addWidget(self.trust_button, 0, Qt.AlignmentFlag.AlignTop)
        outcome = QHBoxLayout()
        outcome.addWidget(self.result_label, 1)
        outcome.addWidget(self.start_button, 0, Qt.AlignmentFlag.AlignTop)
        progress = QHBoxLayout()
        progress.addWidget(self.stage_label)
        progress.addWidget(self.progress, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(progress)
        lay.addWidget(self.details, 1)
        lay.addLayout(refusal)
        lay.addLayout(outcome)
        lay.addWidget(self.buttons)
        self.resize(760, 560)

    # -- verify -----------------------------------------------------------------------------------
    def verify(self, path: str) -> None:
        if self.call is not None or not path:
            return
        self.info = self.outcome = None
        self.details.clear()
        self.trust_button.hide()
        self.result_label.hide()
        self.start_button.hide()
        self.import_button.setEnabled(False)
        self.run(self.client.verify_capsule(path), self.tr("Checking…"), self._verified)

    def _verified(self, info: dto.CapsuleInfo) -> None:
        self.info = info
        self.stage_label.setText(self.tr("Checked: the signature and every file are intact."))
        self.details.setHtml(self.describe(info))
        self.import_button.setEnabled(True)
        self.import_button.setDefault(True)

    def refused(self, error: ApiError) -> None:
        super().refused(error)
        self.trust_button.setVisible(unknown_signer(error) and not error.cancelled)
        fingerprint = named_fingerprint(error) if unknown_signer(error) else ""
        if fingerprint:
            self.details.setHtml("<p>" + html.escape(self.tr(
                "The capsule is signed by a publisher this installation does not trust. Its fingerprint:")) +
                "</p><p>" + fingerprint_html(fingerprint) + "</p><p>" + html.escape(self.tr(
                    "Compare it with the fingerprint the publisher reads out; if they match, add the publisher's "
                    "public key in Trusted publishers and choose the capsule again.")) + "</p>")

    def describe(self, info: dto.CapsuleInfo) -> str:
        """What the capsule holds, in words (HTML)."""
        e = html.escape
        product = e(f"{info.productName} ({info.productID})" if info.productName else info.productID)
        product += " — " + e(self.tr("already on this installation") if info.productExists else
                              self.tr("new: it is created by the import"))
        kind = self.tr("differential update") if info.isDiff == dto.IsDiff.DIFF else self.tr("whole image")
        grey = "<span style='color:#6b7280'>%s</span>"
        firmware = e(f"{info.name} {info.version}") + " " + grey % e(
            f"({kind}, {info.signMethod}, {format_size(info.totalSize) or '0'})")
        template = e(task_template_text(info.task))
        if info.task:
            template += "<br>" + grey % e(self.tr("Imported as a task draft: nothing is pushed to devices until it "
                                                  "is started."))
        rows = [
            (self.tr("Signed by"), f"<b>{e(info.publisherName)}</b><br>" + fingerprint_html(info.publisherFingerprint)),
            (self.tr("Product"), product),
            (self.tr("Firmware"), firmware + (f"<br>{e(info.desc)}" if info.desc else "")),
            (self.tr("Files"), "<br>".join(f"{e(f.name)} — {e(format_size(f.size) or '0')}" for f in info.files)),
            (self.tr("Task template"), template),
            (self.tr("Created"), e(format_time(info.createdTime))),
            (self.tr("Valid until"), e(format_time(info.expiresTime))),
        ]
        cells = "".join(f"<tr><td style='padding:2px 12px 6px 0; color:#374151' valign='top'><b>{e(k)}</b></td>"
                        f"<td style='padding:2px 0 6px 0'>{v}</td></tr>" for k, v in rows)
        return f"<table cellspacing='0'>{cells}</table>"

    # -- import -----------------------------------------------------------------------------------
    def do_import(self) -> None:
        path = self.file_row.path
        if self.call is not None or self.info is None or not path:
            return
        self.import_button.setEnabled(False)
        self.run(self.client.import_capsule(path), self.tr("Importing…"), self._imported)

    def _imported(self, result: dto.CapsuleImported) -> None:
        self.outcome = result
        self.stage_label.setText(self.tr("Imported."))
        info = self.info
        version = f"{info.name} {info.version}" if info is not None else ""
        text = self.tr("Firmware %1 was created (firmware #%2) for product %3.").replace("%1", version).replace(
            "%2", str(result.firmwareID)).replace("%3", result.productID)
        if result.productCreated:
            text += " " + self.tr("The product was new and was created.")
        if result.draftID is not None:
            text += " " + self.tr("The task template is waiting as task draft #%1: start it now, or later from "
                                  "File › Task drafts…").replace("%1", str(result.draftID))
        self.result_label.setStyleSheet(RESULT_STYLE)
        self.result_label.setText(text)
        self.result_label.show()
        self.start_button.setVisible(result.draftID is not None)
        self.imported.emit(result)

    def start_task(self) -> None:
        result, info = self.outcome, self.info
        if result is None or result.draftID is None:
            return
        summary = task_template_text(info.task if info is not None else None)
        if not confirm(self, self.tr("Start the task"), self.tr(
                "Start the task of draft #%1 now? Devices begin to receive firmware %2 (%3).").replace(
                "%1", str(result.draftID)).replace("%2", info.version if info is not None else "").replace(
                "%3", summary)):
            return
        self.start_button.setEnabled(False)
        self.client.start_draft(result.draftID).then(self._started, self._start_failed)

    def _started(self, data: dict) -> None:
        self.start_button.hide()
        self.result_label.setText(self.result_label.text() + "\n" + self.tr("Task %1 started.").replace(
            "%1", str(data.get("taskID", ""))))
        self.task_started.emit(dict(data))

    def _start_failed(self, error: ApiError) -> None:
        self.start_button.setEnabled(True)
        self.show_refusal(self.tr("The task did not start: %1").replace("%1", api_error_text(error)))


class ImportEvidenceDialog(_OpenDialog):
    """Open a station's evidence file, upload it (checked against the trusted publishers), say
    whose results for which release it holds."""

    imported = Signal(object)  # dto.EvidenceImported
    trust_requested = Signal()
    evidence_requested = Signal()

    def __init__(self, client: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Import evidence"), self.tr("Evidence (*.otaevidence)"), EVIDENCE_SUFFIX, parent)
        self.client = client
        self.outcome: dto.EvidenceImported | None = None
        self.file_row.chosen.connect(self.import_file)
        self.file_row.edit.returnPressed.connect(lambda: self.import_file(self.file_row.path))
        self.hint = _wrapping(self.tr("Evidence is a station's results of a task, signed by that station. It is "
                                      "accepted from trusted publishers only."))
        self.result_label = _wrapping(style=RESULT_STYLE)
        self.result_label.setObjectName("result")
        self.result_label.hide()
        self.station_fingerprint = fingerprint_label()
        self.station_fingerprint.hide()
        self.trust_button = QPushButton(self.tr("&Trusted publishers…"))
        self.trust_button.clicked.connect(self.trust_requested)
        self.trust_button.hide()
        self.evidence_button = self.buttons.addButton(self.tr("Release e&vidence…"),
                                                      QDialogButtonBox.ButtonRole.ActionRole)
        self.evidence_button.clicked.connect(self.evidence_requested)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(self.tr("Evidence &file:"), self.file_row)
        progress = QHBoxLayout()
        progress.addWidget(self.stage_label)
        progress.addWidget(self.progress, 1)
        refusal = QHBoxLayout()
        refusal.addWidget(self.refusal_label, 1)
        refusal.addWidget(self.trust_button, 0, Qt.AlignmentFlag.AlignTop)
        lay = QVBoxLayout(self)
        lay.addWidget(self.hint)
        lay.addLayout(form)
        lay.addLayout(progress)
        lay.addWidget(self.result_label)
        lay.addWidget(self.station_fingerprint)
        lay.addLayout(refusal)
        lay.addStretch(1)
        lay.addWidget(self.buttons)
        fit_on_show(self)

    def import_file(self, path: str) -> None:
        if self.call is not None or not path:
            return
        self.outcome = None
        self.result_label.hide()
        self.station_fingerprint.hide()
        self.trust_button.hide()
        self.run(self.client.import_evidence(path), self.tr("Importing…"), self._imported)

    def refused(self, error: ApiError) -> None:
        super().refused(error)
        self.trust_button.setVisible(unknown_signer(error) and not error.cancelled)
        fingerprint = named_fingerprint(error) if unknown_signer(error) else ""
        if fingerprint:  # grouped, to compare with what the station reads out
            self.station_fingerprint.setText(group_fingerprint(fingerprint, per_line=8))
            self.station_fingerprint.show()
            fit_window(self)

    def _imported(self, result: dto.EvidenceImported) -> None:
        self.outcome = result
        self.stage_label.setText(self.tr("Imported."))
        self.result_label.setText(self.tr(
            "Evidence from station %1: task %3 of %4 version %5, %n device(s). The station's key:", "",
            result.devices).replace("%1", result.stationName).replace("%3", result.taskUid).replace(
            "%4", result.productID).replace("%5", result.version))
        self.result_label.show()
        self.station_fingerprint.setText(group_fingerprint(result.stationFingerprint, per_line=8))
        self.station_fingerprint.show()
        fit_window(self)
        self.imported.emit(result)


# -- task drafts ---------------------------------------------------------------------------------------

class DraftsModel(RowTableModel[dto.TaskDraft]):
    CONTEXT = "DraftsModel"
    ID, PRODUCT, VERSION, PUBLISHER, CREATED, TEMPLATE = range(6)
    COLUMNS = (
        Column(QT_TRANSLATE_NOOP("DraftsModel", "Draft"), lambda d: d.draftID, align=NUMERIC),
        Column(QT_TRANSLATE_NOOP("DraftsModel", "Product"), lambda d: d.productID),
        Column(QT_TRANSLATE_NOOP("DraftsModel", "Version"), lambda d: d.version),
        Column(QT_TRANSLATE_NOOP("DraftsModel", "Publisher"), lambda d: d.publisherName),
        Column(QT_TRANSLATE_NOOP("DraftsModel", "Imported"), lambda d: format_time(d.createdTime),
               lambda d: int(d.createdTime or 0)),
        Column(QT_TRANSLATE_NOOP("DraftsModel", "Task template"), lambda d: task_template_text(d.task)),
    )

    def extra_data(self, row: dto.TaskDraft, column: int, role: int) -> Any:
        if role == int(Qt.ItemDataRole.ToolTipRole) and column == self.TEMPLATE:
            return task_template_text(row.task)
        return None


class TaskDraftsDialog(QDialog):
    """The task templates of imported capsules, waiting: start one (after a question) or delete it."""

    task_started = Signal(dict)

    def __init__(self, client: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.setWindowTitle(self.tr("Task drafts"))
        self.model = DraftsModel(self)
        self.view = table_view(self.model, stretch=DraftsModel.TEMPLATE)
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.hint = _wrapping(self.tr("An imported capsule's task template waits here until a technician starts it: "
                                      "nothing is pushed to devices before that."))
        self.status_label = _wrapping()
        self.start_button = QPushButton(self.tr("&Start…"))
        self.start_button.clicked.connect(self.start_selected)
        self.delete_button = QPushButton(self.tr("&Delete…"))
        self.delete_button.clicked.connect(self.delete_selected)
        self.refresh_button = QPushButton(self.tr("&Refresh"))
        self.refresh_button.clicked.connect(self.reload)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        for b in (self.start_button, self.delete_button, self.refresh_button):
            row.addWidget(b)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.hint)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.status_label)
        lay.addLayout(row)
        lay.addWidget(buttons)
        self.resize(900, 420)
        self._update_buttons()
        self.reload()

    def reload(self) -> None:
        self.client.task_drafts().then(self._loaded, self._failed)

    def _loaded(self, drafts: list[dto.TaskDraft]) -> None:
        self.model.set_rows(drafts)
        for column in range(DraftsModel.TEMPLATE):
            self.view.resizeColumnToContents(column)
        if not drafts:
            self.status_label.setText(self.tr("No task drafts: import a release capsule that carries a task template."))
        self._update_buttons()

    def _failed(self, error: ApiError) -> None:
        if not error.cancelled:
            self.status_label.setStyleSheet(ERROR_STYLE)
            self.status_label.setText(api_error_text(error))

    def current(self) -> dto.TaskDraft | None:
        return current_row(self.view)

    def _update_buttons(self, *_args: object) -> None:
        has = self.current() is not None
        self.start_button.setEnabled(has)
        self.delete_button.setEnabled(has)

    def _say(self, text: str, ok: bool = True) -> None:
        self.status_label.setStyleSheet(RESULT_STYLE if ok else ERROR_STYLE)
        self.status_label.setText(text)

    def start_selected(self) -> None:
        draft = self.current()
        if draft is None or not confirm(self, self.tr("Start the task"), self.tr(
                "Start the task of draft #%1 now? Devices of %2 begin to receive version %3 (%4).").replace(
                "%1", str(draft.draftID)).replace("%2", draft.productID).replace("%3", draft.version).replace(
                "%4", task_template_text(draft.task))):
            return

        def started(data: dict) -> None:
            self._say(self.tr("Task %1 started from draft #%2.").replace("%1", str(data.get("taskID", ""))).replace(
                "%2", str(draft.draftID)))
            self.task_started.emit(dict(data))
            self.reload()

        self.client.start_draft(draft.draftID).then(
            started, lambda e: self._say(self.tr("The task did not start: %1").replace("%1", api_error_text(e)), False))

    def delete_selected(self) -> None:
        draft = self.current()
        if draft is None or not confirm(self, self.tr("Delete the draft"), self.tr(
                "Delete task draft #%1 (%2 version %3)? The firmware stays; a task can still be created by hand.")
                .replace("%1", str(draft.draftID)).replace("%2", draft.productID).replace("%3", draft.version)):
            return

        def deleted(_data: object) -> None:
            self._say(self.tr("Draft #%1 deleted.").replace("%1", str(draft.draftID)))
            self.reload()

        self.client.delete_draft(draft.draftID).then(
            deleted, lambda e: self._say(self.tr("Not deleted: %1").replace("%1", api_error_text(e)), False))


# -- evidence per release -------------------------------------------------------------------------------

class StationsModel(RowTableModel[dto.EvidenceStation]):
    CONTEXT = "StationsModel"
    PRODUCT, VERSION, STATION, FINGERPRINT, TASK, IMPORTED, DEVICES, SUCCEEDED, FAILED, OTHER = range(10)
    COLUMNS = (
        Column(QT_TRANSLATE_NOOP("StationsModel", "Product"), lambda s: s.productID),
        Column(QT_TRANSLATE_NOOP("StationsModel", "Version"), lambda s: s.version),
        Column(QT_TRANSLATE_NOOP("StationsModel", "Station"), lambda s: s.name),
        Column(QT_TRANSLATE_NOOP("StationsModel", "Fingerprint"),
               lambda s: short_fingerprint(s.fingerprint)),  # in full: the tooltip
        Column(QT_TRANSLATE_NOOP("StationsModel", "Task"), lambda s: s.taskUid),
        Column(QT_TRANSLATE_NOOP("StationsModel", "Imported"), lambda s: format_time(s.importedTime),
               lambda s: int(s.importedTime or 0)),
        Column(QT_TRANSLATE_NOOP("StationsModel", "Devices"), lambda s: s.total, align=NUMERIC),
        Column(QT_TRANSLATE_NOOP("StationsModel", "Succeeded"), lambda s: s.succeeded, align=NUMERIC),
        Column(QT_TRANSLATE_NOOP("StationsModel", "Failed"), lambda s: s.failed, align=NUMERIC),
        Column(QT_TRANSLATE_NOOP("StationsModel", "Other"), lambda s: s.other, align=NUMERIC),
    )

    def extra_data(self, row: dto.EvidenceStation, column: int, role: int) -> Any:
        if role == int(Qt.ItemDataRole.ToolTipRole) and column == self.FINGERPRINT:
            return group_fingerprint(row.fingerprint)
        return None


class EvidenceDevicesModel(RowTableModel[dto.EvidenceDevice]):
    CONTEXT = "EvidenceDevicesModel"
    DEVICE, STATUS, BEFORE, AFTER, STEP, RETRIES, UPDATED, DESC = range(8)
    COLUMNS = (
        Column(QT_TRANSLATE_NOOP("EvidenceDevicesModel", "Device"), lambda d: d.deviceName),
        Column(QT_TRANSLATE_NOOP("EvidenceDevicesModel", "Status"), lambda d: record_status_text(d.status),
               lambda d: int(d.status)),
        Column(QT_TRANSLATE_NOOP("EvidenceDevicesModel", "Version before"), lambda d: d.versionBefore),
        Column(QT_TRANSLATE_NOOP("EvidenceDevicesModel", "Version after"), lambda d: d.versionAfter),
        Column(QT_TRANSLATE_NOOP("EvidenceDevicesModel", "Step"), lambda d: step_text(d.step), lambda d: int(d.step)),
        Column(QT_TRANSLATE_NOOP("EvidenceDevicesModel", "Retries"), lambda d: d.retries, align=NUMERIC),
        Column(QT_TRANSLATE_NOOP("EvidenceDevicesModel", "Updated"), lambda d: format_time(d.updatedTime),
               lambda d: int(d.updatedTime or 0)),
        Column(QT_TRANSLATE_NOOP("EvidenceDevicesModel", "Description"), lambda d: d.desc),
    )


class ReleaseEvidenceDialog(QDialog):
    """Per release (product, version), the stations whose evidence came back; the device rows of
    the selected one."""

    import_requested = Signal()

    def __init__(self, client: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self._devices_call: ApiCall | None = None
        self.setWindowTitle(self.tr("Release evidence"))
        self.stations_model = StationsModel(self)
        self.stations_proxy = text_filter_proxy(self.stations_model, self)
        self.stations_view = table_view(self.stations_proxy, stretch=StationsModel.TASK)
        self.stations_view.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a task uid keeps both ends
        self.stations_view.selectionModel().selectionChanged.connect(self._station_selected)
        self.devices_model = EvidenceDevicesModel(self)
        self.devices_proxy = text_filter_proxy(self.devices_model, self)
        self.devices_view = table_view(self.devices_proxy, stretch=EvidenceDevicesModel.DESC)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText(self.tr("Search product, version, station…"))
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self.stations_proxy.setFilterFixedString)
        self.devices_label = QLabel(self.tr("Select a station to see its devices."))
        self.status_label = _wrapping()
        self.import_button = QPushButton(self.tr("&Import evidence…"))
        self.import_button.clicked.connect(self.import_requested)
        self.refresh_button = QPushButton(self.tr("&Refresh"))
        self.refresh_button.clicked.connect(self.reload)
        top = QHBoxLayout()
        top.addWidget(self.search_edit, 1)
        top.addWidget(self.import_button)
        top.addWidget(self.refresh_button)
        lower = QWidget()
        lower_lay = QVBoxLayout(lower)
        lower_lay.setContentsMargins(0, 0, 0, 0)
        lower_lay.addWidget(self.devices_label)
        lower_lay.addWidget(self.devices_view, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.stations_view)
        split.addWidget(lower)
        split.setChildrenCollapsible(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(split, 1)
        lay.addWidget(self.status_label)
        lay.addWidget(buttons)
        self.resize(1100, 620)
        self.reload()

    def reload(self) -> None:
        self.client.release_evidence().then(self._loaded, self._failed)

    def _loaded(self, releases: list[dto.ReleaseEvidence]) -> None:
        rows = [s for r in releases for s in r.stations]
        self.stations_model.set_rows(rows)
        self.status_label.setStyleSheet("")
        self.status_label.setText(self.tr("%n release(s), ", "", len(releases)) +
                                  self.tr("%n station report(s)", "", len(rows)) if rows else
                                  self.tr("No evidence yet: import the evidence files that stations send back."))
        self.stations_view.resizeColumnsToContents()

    def _failed(self, error: ApiError) -> None:
        if not error.cancelled:
            self.status_label.setStyleSheet(ERROR_STYLE)
            self.status_label.setText(api_error_text(error))

    def current(self) -> dto.EvidenceStation | None:
        return current_row(self.stations_view)

    def _station_selected(self, *_args: object) -> None:
        station = self.current()
        if self._devices_call is not None:
            self._devices_call.abort()
            self._devices_call = None
        self.devices_model.set_rows([])
        if station is None:
            self.devices_label.setText(self.tr("Select a station to see its devices."))
            return
        self.devices_label.setText(self.tr("Devices of %1, task %2: loading…").replace("%1", station.name).replace(
            "%2", station.taskUid))

        def loaded(rows: list[dto.EvidenceDevice]) -> None:
            self._devices_call = None
            self.devices_model.set_rows(rows)
            self.devices_view.resizeColumnsToContents()
            self.devices_label.setText(self.tr("Devices of %1, task %2:").replace("%1", station.name).replace(
                "%2", station.taskUid))

        def failed(error: ApiError) -> None:
            self._devices_call = None
            if not error.cancelled:
                self.devices_label.setText(api_error_text(error))

        self._devices_call = self.client.evidence_devices(station.evidenceID).then(loaded, failed)


# -- trusted publishers and this workstation's key ------------------------------------------------------

class PublishersModel(RowTableModel[dto.Publisher]):
    CONTEXT = "PublishersModel"
    NAME, FINGERPRINT, ADDED = range(3)
    COLUMNS = (
        Column(QT_TRANSLATE_NOOP("PublishersModel", "Name"), lambda p: p.name),
        Column(QT_TRANSLATE_NOOP("PublishersModel", "Fingerprint"), lambda p: group_fingerprint(p.fingerprint)),
        Column(QT_TRANSLATE_NOOP("PublishersModel", "Added"), lambda p: format_time(p.createdTime),
               lambda p: int(p.createdTime or 0)),
    )

    def extra_data(self, row: dto.Publisher, column: int, role: int) -> Any:
        if role == int(Qt.ItemDataRole.ToolTipRole) and column == self.FINGERPRINT:
            return group_fingerprint(row.fingerprint)
        return None


def write_text(ctx: JobContext, path: str, text: str) -> str:
    """A small text file (a public key), on the thread pool: written aside, then renamed."""
    tmp = f"{path}.part"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    ctx.check()
    os.replace(tmp, path)
    return path


class AddPublisherDialog(QDialog):
    """A publisher's public key (a .pem file or pasted) and a name; its fingerprint is computed
    here and shown before anything is added, to compare with what the publisher reads out."""

    added = Signal(str)  # fingerprint

    def __init__(self, client: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.fingerprint = ""
        self.setWindowTitle(self.tr("Add a trusted publisher"))
        self.setMinimumWidth(620)
        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(128)
        self.name_edit.setPlaceholderText(self.tr("e.g. Engineering, Berlin"))
        self.pem_edit = QPlainTextEdit()
        self.pem_edit.setPlaceholderText("-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----")
        self.pem_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.pem_edit.setFixedHeight(self.pem_edit.fontMetrics().lineSpacing() * 5 + 14)
        self.pem_edit.textChanged.connect(self._key_changed)
        self.open_button = QPushButton(self.tr("&Open .pem file…"))
        self.open_button.clicked.connect(self.open_pem)
        self.fingerprint_label = fingerprint_label()
        self.fingerprint_label.setObjectName("fingerprint")
        self.compare_label = _wrapping(self.tr("Compare this fingerprint with the one the publisher reads out from "
                                               "their Trusted publishers window before adding it."))
        self.general_error = _wrapping()
        self.errors = FieldErrors(self.general_error)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.errors.add_row(form, self.tr("&Name:"), self.name_edit, "name")
        key = QWidget()
        key_lay = QVBoxLayout(key)
        key_lay.setContentsMargins(0, 0, 0, 0)
        key_lay.addWidget(self.pem_edit)
        key_lay.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.errors.add_row(form, self.tr("&Public key:"), key, "publicKey")
        form.addRow(self.tr("Fingerprint:"), self.fingerprint_label)
        form.addRow(self.compare_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.add_button = self.buttons.addButton(self.tr("&Add"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.add_button.setEnabled(False)
        self.add_button.clicked.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.name_edit.textChanged.connect(self._update_button)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.general_error)
        lay.addStretch(1)
        lay.addWidget(self.buttons)
        self._key_changed()
        fit_on_show(self)

    def open_pem(self) -> None:
        path, _chosen = QFileDialog.getOpenFileName(self, self.tr("Open a public key"), last_folder(),
                                                    self.tr("Public keys (*.pem);;All files (*)"))
        if not path:
            return
        remember_folder(path)
        run_in_pool(read_text, path, PEM_LIMIT).then(
            self.pem_edit.setPlainText, lambda message: self.errors.show("publicKey", message))

    def _key_changed(self) -> None:
        pem = self.pem_edit.toPlainText()
        self.fingerprint = ""
        if not pem.strip():
            self.fingerprint_label.setText(self.tr("(paste the key or open its file)"))
        else:
            try:
                self.fingerprint = pem_fingerprint(pem)
            except ValueError as exc:
                self.fingerprint_label.setText(str(exc))
            else:
                self.fingerprint_label.setText(group_fingerprint(self.fingerprint, per_line=8))
        self._update_button()

    def _update_button(self, *_args: object) -> None:
        self.add_button.setEnabled(bool(self.fingerprint and self.name_edit.text().strip()))

    def submit(self) -> None:
        if not self.fingerprint or not self.name_edit.text().strip():
            return
        self.add_button.setEnabled(False)
        self.client.trust_publisher(self.pem_edit.toPlainText().strip() + "\n", self.name_edit.text().strip()).then(
            self._added, self._failed)

    def _added(self, fingerprint: str) -> None:
        self.added.emit(fingerprint)
        self.accept()

    def _failed(self, error: ApiError) -> None:
        self._update_button()
        self.errors.show_api_error(error)


class TrustedPublishersDialog(QDialog):
    """This workstation's fingerprint (to read aloud, copy, or give as a .pem) and where its key
    is kept; the publishers whose capsules and evidence this installation accepts."""

    def __init__(self, client: ApiClient, secret_store: SecretStore | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.secret_store = client, secret_store
        self.key: dto.CapsuleKey | None = None
        self.setWindowTitle(self.tr("Trusted publishers"))
        self.own_fingerprint = fingerprint_label(self.tr("loading…"))
        self.own_fingerprint.setObjectName("own_fingerprint")
        font = self.own_fingerprint.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)  # read aloud over the phone: easy to read
        self.own_fingerprint.setFont(font)
        self.kept_label = _wrapping()
        self.copy_button = QPushButton(self.tr("&Copy"))
        self.copy_button.clicked.connect(self.copy_fingerprint)
        self.save_button = QPushButton(self.tr("&Save public key…"))
        self.save_button.clicked.connect(self.save_public_key)
        for b in (self.copy_button, self.save_button):
            b.setEnabled(False)
        own = QGroupBox(self.tr("This workstation"))
        own_lay = QVBoxLayout(own)
        own_lay.addWidget(_wrapping(self.tr("Capsules and evidence exported here are signed with this key. Stations "
                                            "add it to their trusted publishers after comparing its fingerprint:")))
        row = QHBoxLayout()
        row.addWidget(self.own_fingerprint, 1)
        row.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignTop)
        own_lay.addLayout(row)
        own_lay.addWidget(self.kept_label)

        self.model = PublishersModel(self)
        self.view = table_view(self.model, stretch=PublishersModel.FINGERPRINT)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a cut fingerprint keeps both ends
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.add_button = QPushButton(self.tr("&Add…"))
        self.add_button.clicked.connect(self.add_publisher)
        self.remove_button = QPushButton(self.tr("&Remove…"))
        self.remove_button.clicked.connect(self.remove_selected)
        self.status_label = _wrapping()
        trusted = QGroupBox(self.tr("Trusted publishers"))
        trusted_lay = QVBoxLayout(trusted)
        trusted_lay.addWidget(_wrapping(self.tr("This installation imports capsules and evidence signed by these "
                                                "keys only.")))
        trusted_lay.addWidget(self.view, 1)
        buttons_row = QHBoxLayout()
        buttons_row.addWidget(self.add_button)
        buttons_row.addWidget(self.remove_button)
        buttons_row.addStretch(1)
        trusted_lay.addLayout(buttons_row)
        trusted_lay.addWidget(self.status_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(own)
        lay.addWidget(trusted, 1)
        lay.addWidget(buttons)
        self.resize(940, 560)
        self._update_buttons()
        self.client.capsule_key().then(self._key_loaded, self._key_failed)
        self.reload()

    # -- this workstation -------------------------------------------------------------------------
    def _key_loaded(self, key: dto.CapsuleKey) -> None:
        self.key = key
        self.own_fingerprint.setText(group_fingerprint(key.fingerprint, per_line=8))
        # both lines, always: the layout may not squeeze it (word-wrapped neighbours in the group)
        self.own_fingerprint.setMinimumHeight(self.own_fingerprint.sizeHint().height())
        self.kept_label.setText(kept_in_text(key.keptIn, self.secret_store))
        for b in (self.copy_button, self.save_button):
            b.setEnabled(True)

    def _key_failed(self, error: ApiError) -> None:
        if not error.cancelled:
            self.own_fingerprint.setText(api_error_text(error))

    def copy_fingerprint(self) -> None:
        if self.key is not None:
            QGuiApplication.clipboard().setText(self.key.fingerprint)
            self._say(self.tr("Fingerprint copied."))

    def save_public_key(self) -> None:
        if self.key is None:
            return
        name = "workstation-" + self.key.fingerprint.partition(":")[2][:8] + ".pem"
        path, _chosen = QFileDialog.getSaveFileName(self, self.tr("Save public key"),
                                                    os.path.join(last_folder(), name), self.tr("Public keys (*.pem)"))
        if not path:
            return
        if not path.lower().endswith(".pem"):
            path += ".pem"
        remember_folder(path)
        self.save_public_key_to(path)

    def save_public_key_to(self, path: str) -> None:
        if self.key is None:
            return
        run_in_pool(write_text, path, self.key.publicKey).then(
            lambda where: self._say(self.tr("Public key saved to %1.").replace("%1", where)),
            lambda message: self._say(self.tr("Not saved: %1").replace("%1", message), False))

    # -- the trusted ones -------------------------------------------------------------------------
    def reload(self) -> None:
        self.client.trusted_publishers().then(self._loaded, lambda e: self._say(api_error_text(e), False))

    def _loaded(self, publishers: list[dto.Publisher]) -> None:
        self.model.set_rows(publishers)
        for column in (PublishersModel.NAME, PublishersModel.ADDED):
            self.view.resizeColumnToContents(column)
        if not publishers:
            self._say(self.tr("No trusted publishers yet: add the public key of each workstation whose capsules or "
                              "evidence this installation imports."))
        self._update_buttons()

    def current(self) -> dto.Publisher | None:
        return current_row(self.view)

    def _update_buttons(self, *_args: object) -> None:
        self.remove_button.setEnabled(self.current() is not None)

    def _say(self, text: str, ok: bool = True) -> None:
        self.status_label.setStyleSheet(RESULT_STYLE if ok else ERROR_STYLE)
        self.status_label.setText(text)

    def add_publisher(self) -> AddPublisherDialog:
        dlg = AddPublisherDialog(self.client, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.added.connect(self._added)
        dlg.open()
        self.add_dialog = dlg
        return dlg

    def _added(self, fingerprint: str) -> None:
        self._say(self.tr("Added %1.").replace("%1", group_fingerprint(fingerprint)))
        self.reload()

    def remove_selected(self) -> None:
        publisher = self.current()
        if publisher is None or not confirm(self, self.tr("Remove the publisher"), self.tr(
                "Remove %1 (%2) from the trusted publishers? Capsules and evidence signed by this key are then "
                "refused.").replace("%1", publisher.name).replace("%2", group_fingerprint(publisher.fingerprint))):
            return

        def removed(_data: object) -> None:
            self._say(self.tr("Removed %1.").replace("%1", publisher.name))
            self.reload()

        self.client.distrust_publisher(publisher.fingerprint).then(
            removed, lambda e: self._say(self.tr("Not removed: %1").replace("%1", api_error_text(e)), False))
