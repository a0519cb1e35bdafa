"""The New-firmware form (files by dialog or drag-and-drop, uploads with progress) and the
firmware detail view."""
from __future__ import annotations

import os
import re

from PySide6.QtCore import QLocale, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..core import dto
from ..core.api_client import ApiCall, ApiClient, ApiError
from ..core.uploader import EMPTY, MISSING, FirmwareUploader, LocalFileError, UploadFile, check_files
from ..core.workers import Job, run_in_pool
from .delegates import ProgressDelegate
from .forms import FieldErrors, fit_on_show, last_folder, remember_folder
from .models.base import format_size, format_time
from .models.catalog_models import FirmwareFilesModel
from .models.task_models import UploadFilesModel

MAX_FILES = 20
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}\Z")
FILE_NAME_BAD = re.compile(r"[,?*|{}\\$'\"`\x00-\x1f/]")


class NewFirmwareDialog(QDialog):
    created = Signal(object)  # FirmwareDetail, or the firmwareID when it could not be read back

    def __init__(self, client: ApiClient, products: list[dto.Product], product_id: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.setWindowTitle(self.tr("New firmware"))
        self.setAcceptDrops(True)
        self.resize(760, 620)
        self.uploader = FirmwareUploader(client, self)
        self.uploader.file_changed.connect(self._file_changed)
        self.uploader.overall_progress.connect(self._overall)
        self.uploader.stage_changed.connect(self._stage)
        self.uploader.finished.connect(self._finished)
        self.uploader.failed.connect(self._failed)
        self.uploader.cancelled.connect(self._cancelled)
        self.detail: dto.FirmwareDetail | None = None
        #: the checks before an upload (files on the pool, then the version at the backend)
        self.checking: Job | ApiCall | None = None

        self.product_combo = QComboBox()
        for p in products:
            self.product_combo.addItem(f"{p.productName} ({p.productID})" if p.productName else p.productID,
                                       p.productID)
        if product_id:
            self.product_combo.setCurrentIndex(max(0, self.product_combo.findData(product_id)))
        self.name_edit = QLineEdit()
        self.version_edit = QLineEdit()
        self.version_edit.setPlaceholderText(self.tr("required, e.g. 1.0.0"))
        self.diff_combo = QComboBox()
        self.diff_combo.addItem(self.tr("Whole package"), 1)
        self.diff_combo.addItem(self.tr("Differential package"), 2)
        self.sign_combo = QComboBox()
        self.sign_combo.addItem("MD5", "md5")
        self.sign_combo.addItem("SHA-256", "sha256")
        self.desc_edit = QPlainTextEdit()
        self.desc_edit.setFixedHeight(60)
        self.desc_edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.ext_edit = QLineEdit()
        self.ext_edit.setPlaceholderText(self.tr("free text handed to devices, e.g. JSON"))

        self.files_model = UploadFilesModel(self)
        self.files_view = QTableView()
        self.files_view.setModel(self.files_model)
        self.files_view.setItemDelegateForColumn(UploadFilesModel.PROGRESS, ProgressDelegate(self.files_view))
        self.files_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.files_view.verticalHeader().hide()
        header = self.files_view.horizontalHeader()
        # the name gets the room (the digest is empty until the upload); both stay resizable
        header.setSectionResizeMode(UploadFilesModel.NAME, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(40)
        self.files_view.setColumnWidth(UploadFilesModel.PROGRESS, 120)
        self.files_view.setColumnWidth(UploadFilesModel.DIGEST, 140)
        # ResizeToContents sections are not resized when rows arrive: fit size and state by hand
        for sig in (self.files_model.rowsInserted, self.files_model.rowsRemoved, self.files_model.dataChanged,
                    self.files_model.modelReset):
            sig.connect(self._fit_columns)
        self._fit_columns()
        self.files_view.setWordWrap(False)
        self.files_view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.files_view.setMinimumHeight(140)
        self.add_button = QPushButton(self.tr("&Add files…"))
        self.add_button.clicked.connect(self.choose_files)
        self.remove_button = QPushButton(self.tr("&Remove"))
        self.remove_button.clicked.connect(self.remove_selected)
        self.remove_button.setShortcut(QKeySequence.StandardKey.Delete)
        self.drop_hint = QLabel(self.tr("or drop files here"))
        self.drop_hint.setEnabled(False)
        files_box = QWidget()
        files_box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        fl = QVBoxLayout(files_box)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addWidget(self.files_view)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addWidget(self.drop_hint)
        row.addStretch(1)
        fl.addLayout(row)

        self.overall_bar = QProgressBar()
        self.overall_bar.setRange(0, 1000)
        self.overall_bar.setValue(0)
        self.overall_bar.setFormat("%p%")
        self.stage_label = QLabel()

        self.general_error = QLabel()
        self.errors = FieldErrors(self.general_error)
        form = QFormLayout()
        self.errors.add_row(form, self.tr("&Product:"), self.product_combo, "productID")
        self.errors.add_row(form, self.tr("&Name:"), self.name_edit, "name")
        self.errors.add_row(form, self.tr("&Version:"), self.version_edit, "version")
        self.errors.add_row(form, self.tr("Package &type:"), self.diff_combo, "isDiff")
        self.errors.add_row(form, self.tr("&Digest:"), self.sign_combo, "signMethod")
        self.errors.add_row(form, self.tr("D&escription:"), self.desc_edit, "desc")
        self.errors.add_row(form, self.tr("E&xtra data:"), self.ext_edit, "extData")
        self.errors.add_row(form, self.tr("&Files:"), files_box, "files", "filePath")
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.overall_bar, 1)
        progress_row.addWidget(self.stage_label)
        form.addRow(self.tr("Overall:"), progress_row)

        self.buttons = QDialogButtonBox()
        self.create_button = self.buttons.addButton(self.tr("&Upload and create"),
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.create_button.clicked.connect(self.submit)
        self.cancel_button.clicked.connect(self.cancel_or_close)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.general_error)
        lay.addWidget(self.buttons)
        fit_on_show(self)
        self.errors.watch(self.validate, [self.product_combo.currentIndexChanged], "productID")
        self.errors.watch(self.validate, [self.name_edit.textChanged], "name")
        self.errors.watch(self.validate, [self.version_edit.textChanged], "version")
        self.errors.watch(self.validate, [self.files_model.rowsInserted, self.files_model.rowsRemoved,
                                          self.files_model.modelReset], "files")
        self._inputs = [self.product_combo, self.name_edit, self.version_edit, self.diff_combo, self.sign_combo,
                        self.desc_edit, self.ext_edit, self.add_button, self.remove_button]

    # -- files ---------------------------------------------------------------------------------
    def _fit_columns(self, *_args: object) -> None:
        for column in (UploadFilesModel.SIZE, UploadFilesModel.STATE):
            self.files_view.resizeColumnToContents(column)
        if any(f.digest for f in self.files_model.rows()):  # an MD5 whole; a SHA-256 elided in the middle
            self.files_view.setColumnWidth(UploadFilesModel.DIGEST,
                                           min(260, self.files_view.sizeHintForColumn(UploadFilesModel.DIGEST)))

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, self.tr("Add firmware files"), last_folder())
        if paths:
            remember_folder(paths[0])
            self.add_files(paths)

    def add_files(self, paths: list[str]):  # noqa: ANN201 - returns the Job (tests wait on it)
        """Add files after checking them on a worker thread (network drives can be slow)."""
        job = run_in_pool(check_files, list(paths))
        job.then(self._files_checked, lambda msg: self.errors.show("files", msg))
        return job

    def _files_checked(self, found: list[tuple[str, str, int]]) -> None:
        """Add the files that can be read (empty ones too: the form names them at Upload);
        name those that cannot."""
        if self.uploader.running or self.checking is not None:
            return
        known = {f.path for f in self.files_model.rows()}
        new = [UploadFile(path=p, name=os.path.basename(p), size=size) for p, kind, size in found
               if p not in known and kind in ("", EMPTY)]
        self.files_model.append_rows(new)
        problems = [self.file_problem_text(kind, p) for p, kind, _size in found if kind not in ("", EMPTY)]
        if problems:
            self.errors.show("files", "\n".join(problems))
        elif new:
            self.errors.label("files").hide()

    def remove_selected(self) -> None:
        if self.uploader.running:
            return
        for i in sorted({ix.row() for ix in self.files_view.selectionModel().selectedRows()}, reverse=True):
            self.files_model.remove_row(i)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and not self.uploader.running:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.add_files(paths)
            event.acceptProposedAction()

    # -- validation and submission ----------------------------------------------------------------
    def firmware(self) -> dto.NewFirmware:
        return dto.NewFirmware(
            productID=self.product_combo.currentData() or "", name=self.name_edit.text().strip(),
            version=self.version_edit.text().strip(), isDiff=int(self.diff_combo.currentData()),
            signMethod=self.sign_combo.currentData(), desc=self.desc_edit.toPlainText().strip(),
            extData=self.ext_edit.text())

    def validate(self) -> dict[str, str]:
        fw = self.firmware()
        problems = {}
        if not fw.productID:
            problems["productID"] = self.tr("Choose a product (create one on the Products page first).")
        if not fw.name:
            problems["name"] = self.tr("Enter a name.")
        if not fw.version:
            problems["version"] = self.tr("Enter a version.")
        elif not VERSION_RE.match(fw.version):
            problems["version"] = self.tr("Use letters, digits and . _ + - only (at most 64).")
        files = self.files_model.rows()
        names = [f.name for f in files]
        if not files:
            problems["files"] = self.tr("Add at least one file.")
        elif len(files) > MAX_FILES:
            problems["files"] = self.tr("At most %1 files per firmware.").replace("%1", str(MAX_FILES))
        elif len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            problems["files"] = self.tr("File names must be unique: %1").replace("%1", ", ".join(dup))
        elif any(FILE_NAME_BAD.search(n) or "." not in n.strip(".") for n in names):
            bad = [n for n in names if FILE_NAME_BAD.search(n) or "." not in n.strip(".")]
            problems["files"] = self.tr("Rename these files (they need an extension and no , ? * | { } $ ' \" `): "
                                        "%1").replace("%1", ", ".join(bad))
        elif any(f.size == 0 for f in files):
            problems["files"] = self.empty_files_text([f.name for f in files if f.size == 0])
        return problems

    def empty_files_text(self, names: list[str]) -> str:
        return self.tr("Empty files (0 bytes) cannot be firmware; remove them: %1").replace("%1", ", ".join(names))

    def file_problem_text(self, kind: str, path: str) -> str:
        if kind == MISSING:
            return self.tr("file not found: %1").replace("%1", path)
        if kind == EMPTY:
            return self.empty_files_text([os.path.basename(path)])
        return self.tr("cannot read the file: %1").replace("%1", path)

    def submit(self) -> None:
        """Check the form, then (off the GUI thread) the files as they are now, then that the
        version is free at the backend; only then upload."""
        if self.checking is not None or not self.errors.check(self.validate()):
            return
        self._set_busy(True)
        self.stage_label.setText(self.tr("Checking files…"))
        files = self.files_model.rows()
        self.checking = job = run_in_pool(check_files, [f.path for f in files])
        job.then(lambda found: self._files_rechecked(job, files, found), lambda msg: self._check_failed(job, msg))

    def _files_rechecked(self, job: Job, files: list[UploadFile], found: list[tuple[str, str, int]]) -> None:
        if self.checking is not job:
            return
        problems = [self.file_problem_text(kind, path) for path, kind, _size in found if kind and kind != EMPTY]
        empty = [os.path.basename(path) for path, kind, _size in found if kind == EMPTY]
        if empty:
            problems.append(self.empty_files_text(empty))
        if problems:
            self._check_failed(job, "\n".join(problems))
            return
        for f, (_path, _kind, size) in zip(files, found):
            if f.size != size:  # changed since it was added
                f.size = size
                self.files_model.row_changed(self.files_model.position(f))
        fw = self.firmware()
        self.stage_label.setText(self.tr("Checking the version…"))
        self.checking = call = self.client.firmware_with_version(fw.productID, fw.version)
        call.then(lambda existing: self._version_checked(call, existing), lambda e: self._version_check_failed(call, e))

    def _check_failed(self, job: Job, message: str) -> None:
        if self.checking is not job:
            return
        self.checking = None
        self._set_busy(False)
        self.stage_label.clear()
        self.errors.show("files", message)

    def _version_checked(self, call: ApiCall, existing: dto.Firmware | None) -> None:
        if self.checking is not call:
            return
        self.checking = None
        if existing is not None:
            self._set_busy(False)
            self.stage_label.clear()
            self.errors.show("version", self.tr("Version %1 already exists for this product: firmware “%2” "
                                                "(ID %3, created %4).").replace("%1", existing.version)
                             .replace("%2", existing.name).replace("%3", str(existing.firmwareID))
                             .replace("%4", format_time(existing.createdTime) or "—"))
            return
        self.uploader.start(self.firmware(), self.files_model.rows())

    def _version_check_failed(self, call: ApiCall, error: ApiError) -> None:
        if self.checking is not call:
            return
        self.checking = None
        self._set_busy(False)
        self.stage_label.clear()
        if not error.cancelled:
            self.errors.show_api_error(error)

    def _stop_checks(self) -> None:
        checking, self.checking = self.checking, None
        if isinstance(checking, Job):
            checking.cancel()
        elif checking is not None:
            checking.abort()
        if checking is not None:
            self._set_busy(False)
            self.stage_label.setText(self.tr("Cancelled"))

    def cancel_or_close(self) -> None:
        if self.checking is not None:
            self._stop_checks()
        elif self.uploader.running:
            self.uploader.cancel()
        else:
            self.reject()

    def reject(self) -> None:
        self._stop_checks()
        if self.uploader.running:
            self.uploader.cancel()
        super().reject()

    def _set_busy(self, busy: bool) -> None:
        for w in self._inputs:
            w.setEnabled(not busy)
        self.create_button.setEnabled(not busy)
        self.cancel_button.setText(self.tr("Cancel upload") if busy else self.tr("Cancel"))
        self.setAcceptDrops(not busy)

    # -- uploader feedback --------------------------------------------------------------------------
    def _file_changed(self, index: int) -> None:
        self.files_model.row_changed(index)

    def _overall(self, sent: int, total: int) -> None:
        """Bytes as Python ints (totals above 2 GiB); the bar counts per mille (QProgressBar is int32)."""
        sent, total = int(sent), int(total)
        self.overall_bar.setValue(min(1000, sent * 1000 // total) if total > 0 else 0)
        self.overall_bar.setFormat(f"%p%  ({format_size(sent) or '0'} / {format_size(total) or '0'})")

    def _stage(self, stage: str) -> None:
        texts = {"uploading": self.tr("Uploading…"), "creating": self.tr("Creating firmware…"),
                 "verifying": self.tr("Checking digests…")}
        self.stage_label.setText(texts.get(stage, ""))

    def _finished(self, result: object) -> None:
        self._set_busy(False)
        self.stage_label.setText(self.tr("Done"))
        if isinstance(result, dto.FirmwareDetail):
            self.detail = result
            bad = self.uploader.mismatched_digests(result)
            if bad:
                QMessageBox.warning(self, self.tr("Digest mismatch"), self.tr(
                    "The backend stored different digests than computed here for: %1. "
                    "Check the files and upload them again.").replace("%1", ", ".join(bad)))
        self.created.emit(result)
        self.accept()

    def _failed(self, error: ApiError) -> None:
        self._set_busy(False)
        self.stage_label.setText(self.tr("Failed"))
        if isinstance(error, LocalFileError):  # the disk's fault, not the backend's
            self.errors.show("files", self.file_problem_text(error.kind, error.path))
        else:
            self.errors.show_api_error(error)

    def _cancelled(self) -> None:
        self._set_busy(False)
        self.stage_label.setText(self.tr("Cancelled"))
        self.overall_bar.setValue(0)


class FirmwareDetailDialog(QDialog):
    """A firmware's fields and each file's size and digest (firmware/read)."""

    def __init__(self, detail: dto.FirmwareDetail, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Firmware %1 %2").replace("%1", detail.name).replace("%2", detail.version))
        self.resize(720, 420)
        form = QFormLayout()
        package = self.tr("differential") if detail.isDiff == 2 else self.tr("whole")
        for label, value in (
                (self.tr("ID:"), str(detail.firmwareID)), (self.tr("Name:"), detail.name),
                (self.tr("Version:"), detail.version),
                (self.tr("Product:"), f"{detail.productName} ({detail.productID})" if detail.productName
                 else detail.productID),
                (self.tr("Package:"), package), (self.tr("Digest:"), detail.signMethod),
                (self.tr("Total size:"), QLocale().formattedDataSize(detail.totalSize)),
                (self.tr("Created:"), format_time(detail.createdTime)),
                (self.tr("Description:"), detail.desc), (self.tr("Extra data:"), detail.extData)):
            value_label = QLabel(value)
            value_label.setWordWrap(True)
            value_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(label, value_label)
        self.files_model = FirmwareFilesModel(self)
        self.files_model.set_rows(detail.files)
        view = QTableView()
        view.setModel(self.files_model)
        view.verticalHeader().hide()
        view.horizontalHeader().setSectionResizeMode(FirmwareFilesModel.SIGNATURE,
                                                     QHeaderView.ResizeMode.Stretch)
        view.resizeColumnsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(view, 1)
        lay.addWidget(buttons)
