"""Upgrade tasks: list with status and per-status counts, New task, cancel, open live view."""
from __future__ import annotations

from functools import partial

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from ..app_events import AppEvents
from ..core import dto
from ..core.api_client import ApiClient, ApiError
from .forms import error_reporter
from .models.task_models import TasksModel
from .status import record_status_text, task_status_colour, task_status_text
from .table_actions import ColumnWidths, TableActions
from .task_dialog import NewTaskDialog
from .widgets import current_row, table_view, text_filter_proxy


class TasksPage(QWidget):
    open_live = Signal(object)  # dto.Task

    def __init__(self, client: ApiClient, events: AppEvents, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.events = client, events
        self._error = error_reporter(events, self.tr("Tasks"))
        self.firmwares: list[dto.Firmware] = []
        self.model = TasksModel(self)
        self.proxy = text_filter_proxy(self.model, self)
        self.view = table_view(self.proxy, stretch=TasksModel.UID)
        self.view.doubleClicked.connect(self._open_current)
        self.view.selectionModel().selectionChanged.connect(self._selected)
        self.firmware_combo = QComboBox()
        self.firmware_combo.currentIndexChanged.connect(self._load_tasks)
        self.counts_label = QLabel()
        self.counts_label.setObjectName("task_counts")
        self.analysis_label = QLabel()
        self.analysis_label.setWordWrap(True)
        self.new_button = QPushButton(self.tr("New task…"))
        self.new_button.clicked.connect(lambda: self.new_task())
        self.live_button = QPushButton(self.tr("Open live view"))
        self.live_button.clicked.connect(self._open_current)
        self.cancel_button = QPushButton(self.tr("Cancel task"))
        self.cancel_button.clicked.connect(self.cancel_task)
        self.table_actions = TableActions(self.view, (self.live_button, self.cancel_button, None,
                                                      self.new_button))
        self.columns = ColumnWidths(self.view, "tasks")
        top = QHBoxLayout()
        top.addWidget(QLabel(self.tr("Firmware:")))
        top.addWidget(self.firmware_combo, 1)
        top.addWidget(self.counts_label)
        bottom = QHBoxLayout()
        for b in (self.new_button, self.live_button, self.cancel_button):
            bottom.addWidget(b)
        bottom.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.analysis_label)
        lay.addLayout(bottom)
        events.task_events.connect(self._task_events)
        events.tasks_changed.connect(self._load_tasks)
        events.firmware_changed.connect(self.reload)
        self._update_counts()
        self._selected()

    # -- loading -------------------------------------------------------------------------------
    def reload(self) -> None:
        self.client.firmwares().then(self._firmwares_loaded, self._error)

    def _firmwares_loaded(self, firmwares: list[dto.Firmware]) -> None:
        keep = self.firmware_combo.currentData()
        self.firmwares = firmwares
        self.firmware_combo.blockSignals(True)
        self.firmware_combo.clear()
        self.firmware_combo.addItem(self.tr("All firmware"), 0)
        for f in firmwares:
            self.firmware_combo.addItem(f"{f.name} {f.version} (#{f.firmwareID})", f.firmwareID)
        self.firmware_combo.setCurrentIndex(max(0, self.firmware_combo.findData(keep)))
        self.firmware_combo.blockSignals(False)
        self._load_tasks()

    def _load_tasks(self) -> None:
        fid = self.firmware_combo.currentData() or 0
        chosen = [f for f in self.firmwares if not fid or f.firmwareID == fid]
        self._generation = getattr(self, "_generation", 0) + 1
        generation, collected, pending = self._generation, [], {"n": len(chosen)}
        if not chosen:
            self._tasks_loaded([])
            return

        def got(rows: list[dto.Task]) -> None:
            collected.extend(rows)
            done()

        def done(_e: object = None) -> None:
            pending["n"] -= 1
            if pending["n"] == 0 and generation == self._generation:
                self._tasks_loaded(sorted(collected, key=lambda t: -t.taskID))

        def failed(error: ApiError) -> None:
            self._error(error)
            done()

        for f in chosen:
            self.client.tasks(f).then(got, failed)

    def _tasks_loaded(self, rows: list[dto.Task]) -> None:
        self.model.set_rows(rows)
        self._update_counts()
        self._selected()

    def _update_counts(self) -> None:
        counts = self.model.status_counts()
        parts = [f'<span style="color:{task_status_colour(s).name()}">●</span> {task_status_text(s)}: {counts.get(s, 0)}'
                 for s in dto.TaskStatus]
        self.counts_label.setText("&nbsp;&nbsp;".join(parts))

    def _task_events(self, events: list[dict]) -> None:
        self.model.apply_task_events(events)
        self._update_counts()
        self._selected()

    def current(self) -> dto.Task | None:
        return current_row(self.view)

    def _selected(self) -> None:
        task = self.current()
        self.live_button.setEnabled(task is not None)
        self.cancel_button.setEnabled(task is not None and task.status <= dto.TaskStatus.UPGRADING)
        self.analysis_label.clear()
        if task is not None:
            self.client.task_analysis(task.taskUid).then(
                partial(self._analysis, task.taskUid), lambda _e: None)

    def _analysis(self, task_uid: str, result: tuple[dict[int, int], float | None]) -> None:
        task = self.current()
        if task is None or task.taskUid != task_uid:
            return
        counts, rate = result
        parts = [f"{record_status_text(code)}: {n}" for code, n in sorted(counts.items()) if n]
        text = self.tr("Task %1 devices — %2").replace("%1", str(task.taskID)).replace(
            "%2", ", ".join(parts) or self.tr("none yet"))
        if rate is not None:
            text += "  ·  " + self.tr("success rate %1%").replace("%1", f"{rate * 100:.1f}")
        self.analysis_label.setText(text)

    # -- actions -------------------------------------------------------------------------------
    def _open_current(self) -> None:
        task = self.current()
        if task is not None:
            self.open_live.emit(task)

    def new_task(self, firmware_id: int = 0) -> None:
        self.client.firmwares().then(lambda fws: self._open_new_task(fws, firmware_id), self._error)

    def _open_new_task(self, firmwares: list[dto.Firmware], firmware_id: int) -> None:
        self.firmwares = firmwares
        fid = firmware_id or self.firmware_combo.currentData() or 0
        dlg = NewTaskDialog(self.client, firmwares, fid, self)
        dlg.created.connect(lambda data: self._task_created(data, dlg))
        dlg.open()
        self.dialog = dlg

    def _task_created(self, data: dict, dlg: NewTaskDialog) -> None:
        fw = dlg.firmware()
        self.events.tasks_changed.emit()
        if fw is not None and data.get("taskUid"):
            self.open_live.emit(dto.Task(taskID=int(data.get("taskID") or 0), taskUid=str(data["taskUid"]),
                                         type=int(dlg.task().type), upgradeType=int(dlg.task().upgradeType),
                                         firmwareID=fw.firmwareID, version=fw.version, productID=fw.productID))

    def cancel_task(self) -> None:
        task = self.current()
        if task is None or QMessageBox.question(
                self, self.tr("Cancel task"),
                self.tr("Cancel task %1? Devices not yet upgraded are cancelled.").replace("%1", str(task.taskID))) \
                != QMessageBox.StandardButton.Yes:
            return
        self.client.cancel_task(task.taskID).then(lambda _d: self._load_tasks(), self._error)
