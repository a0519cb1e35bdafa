"""Upgrade tasks: list with status, each task's progress and per-status counts, New task,
cancel the selected tasks, open live view."""
from __future__ import annotations

from functools import partial

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from ..app_events import AppEvents
from ..core import dto
from ..core.api_client import ApiClient, ApiError
from .confirm import confirm, visible_selected_rows
from .forms import error_reporter
from .models.base import VALUE_ROLE
from .models.catalog_models import TaskProgressModel
from .models.task_models import TasksModel
from .status import record_status_text, task_status_colour, task_status_text
from .table_actions import ColumnWidths, TableActions
from .task_dialog import NewTaskDialog
from .widgets import current_row, table_view, text_filter_proxy

SUCCEEDED_COLOUR = QColor("#16a34a")
FAILED_COLOUR = QColor("#dc2626")
PENDING_COLOUR = QColor("#93c5fd")
#: record events refresh a task's counts (task/analysis) at most this often
COUNTS_REFRESH_MS = 500


class TaskProgressDelegate(QStyledItemDelegate):
    """A task's records as a bar of three parts, succeeded / failed / pending (cancelled
    records are the empty rest), followed by the counts in words (VALUE_ROLE: ok, failed,
    pending, total; the cell's text)."""

    BAR_WIDTH = 120
    GAP = 8

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:  # noqa: N802
        hint = super().sizeHint(option, index)
        return QSize(hint.width() + self.BAR_WIDTH + self.GAP, hint.height())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        value = index.data(VALUE_ROLE)
        if not value or not value[3]:
            super().paint(painter, option, index)
            return
        ok, failed, pending, total = value
        painter.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(option.rect, option.palette.highlight())
        bar = QRect(option.rect.left() + 4, option.rect.top() + 5, min(self.BAR_WIDTH, option.rect.width() // 3),
                    option.rect.height() - 10)
        painter.fillRect(bar, option.palette.base())
        x = bar.left()
        for n, colour in ((ok, SUCCEEDED_COLOUR), (failed, FAILED_COLOUR), (pending, PENDING_COLOUR)):
            w = max(1, round(bar.width() * n / total)) if n else 0
            w = min(w, bar.right() + 1 - x)
            if w > 0:
                painter.fillRect(QRect(x, bar.top(), w, bar.height()), colour)
                x += w
        painter.setPen(option.palette.mid().color())
        painter.drawRect(bar.adjusted(0, 0, -1, -1))
        painter.setPen(option.palette.highlightedText().color() if selected else option.palette.text().color())
        text_rect = option.rect.adjusted(bar.width() + 4 + self.GAP, 0, -4, 0)
        text = option.fontMetrics.elidedText(str(index.data()), Qt.TextElideMode.ElideRight, text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
        painter.restore()


class TasksPage(QWidget):
    open_live = Signal(object)  # dto.Task

    def __init__(self, client: ApiClient, events: AppEvents, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.events = client, events
        self._error = error_reporter(events, self.tr("Tasks"))
        self.firmwares: list[dto.Firmware] = []
        self.model = TaskProgressModel(self)
        self.proxy = text_filter_proxy(self.model, self)
        self.view = table_view(self.proxy, stretch=TasksModel.UID, multi=True)
        self.view.setItemDelegateForColumn(TaskProgressModel.PROGRESS, TaskProgressDelegate(self.view))
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText(self.tr("Search tasks…"))
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self._filter)
        self._stale_counts: set[str] = set()
        self._counts_timer = QTimer(self, singleShot=True, interval=COUNTS_REFRESH_MS)
        self._counts_timer.timeout.connect(self._refresh_counts)
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
        self.cancel_button = QPushButton(self.tr("Cancel selected"))
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.table_actions = TableActions(self.view, (self.live_button, self.cancel_button, None,
                                                      self.new_button))
        self.columns = ColumnWidths(self.view, "tasks")
        top = QHBoxLayout()
        top.addWidget(QLabel(self.tr("Firmware:")))
        top.addWidget(self.firmware_combo, 1)
        top.addWidget(self.search_edit)
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
        events.record_events.connect(self._record_events)
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

        def got(rows: list[tuple[dto.Task, dict[int, int]]]) -> None:
            collected.extend(rows)
            done()

        def done(_e: object = None) -> None:
            pending["n"] -= 1
            if pending["n"] == 0 and generation == self._generation:
                self._tasks_loaded(sorted(collected, key=lambda row: -row[0].taskID))

        def failed(error: ApiError) -> None:
            self._error(error)
            done()

        for f in chosen:
            self.client.tasks_with_counts(f).then(got, failed)

    def _tasks_loaded(self, rows: list[tuple[dto.Task, dict[int, int]]]) -> None:
        self.model.set_tasks(rows)
        self._update_counts()
        self._selected()

    def _update_counts(self) -> None:
        counts = self.model.status_counts()
        parts = [f'<span style="color:{task_status_colour(s).name()}">●</span> {task_status_text(s)}: {counts.get(s, 0)}'
                 for s in dto.TaskStatus]
        self.counts_label.setText("&nbsp;&nbsp;".join(parts))

    def _task_events(self, events: list[dict]) -> None:
        self.model.apply_task_events(events)
        # a task's status change moves records too (cancelled, aborted): its counts follow
        self._counts_changed({str(ev.get("taskUid")) for ev in events if ev.get("taskUid")})
        self._update_counts()
        self._selected()

    def _record_events(self, events: list[dict]) -> None:
        self._counts_changed({str(ev.get("taskUid")) for ev in events if ev.get("taskUid")})

    def _counts_changed(self, uids: set[str]) -> None:
        """These tasks' records changed: their counts are read again soon (one call per task and
        COUNTS_REFRESH_MS, whatever the number of events), and their progress cells change."""
        uids &= set(self.model.counts)
        if uids:
            self._stale_counts |= uids
            if not self._counts_timer.isActive():
                self._counts_timer.start()

    def _refresh_counts(self) -> None:
        stale, self._stale_counts = self._stale_counts, set()
        for uid in stale:
            self.client.task_analysis(uid).then(partial(self._counts_read, uid), lambda _e: None)

    def _counts_read(self, task_uid: str, result: tuple[dict[int, int], float | None]) -> None:
        self.model.set_counts(task_uid, result[0])

    def _filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text)
        self._selected()

    def current(self) -> dto.Task | None:
        return current_row(self.view)

    def cancellable(self) -> list[dto.Task]:
        """The selected tasks the filter shows that can still be cancelled."""
        return [t for t in visible_selected_rows(self.view) if t.status <= dto.TaskStatus.UPGRADING]

    def _selected(self) -> None:
        task = self.current()
        self.live_button.setEnabled(task is not None)
        self.cancel_button.setEnabled(bool(self.cancellable()))
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

    def cancel_selected(self) -> None:
        """Cancel the selected tasks that the filter shows and that can be cancelled, after
        saying how many (No is the default)."""
        tasks = self.cancellable()
        if not tasks:
            return
        ids = ", ".join(str(t.taskID) for t in tasks[:10]) + (" …" if len(tasks) > 10 else "")
        if not confirm(self, self.tr("Cancel tasks"), self.tr(
                "Cancel %n task(s) (%1)? Their devices not yet upgraded are cancelled; this cannot be undone.",
                "", len(tasks)).replace("%1", ids)):
            return
        pending = {"n": len(tasks)}

        def one_done(_d: object = None) -> None:
            pending["n"] -= 1
            if pending["n"] == 0:
                self._load_tasks()

        def one_failed(error: ApiError) -> None:
            self._error(error)
            one_done()

        for t in tasks:
            self.client.cancel_task(t.taskID).then(one_done, one_failed)
