"""The live device-status table of one task: summary, filters, retry/cancel, fed by events."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget

from ..app_events import AppEvents
from ..core import dto
from ..core.api_client import ApiClient, ApiError
from ..core.dto import NOT_CANCELLABLE, NOT_RETRYABLE, RecordStatus
from .delegates import ProgressDelegate
from .forms import api_error_text, backend_error_text
from .models.records_model import RecordsFilterProxy, RecordsModel
from .status import record_filter_groups, record_status_colour, record_status_text, task_status_text
from .table_actions import ColumnWidths, TableActions
from .widgets import selected_rows, table_view

SUMMARY_ORDER = (RecordStatus.SUCCEEDED, RecordStatus.UPGRADING, RecordStatus.PUSHED, RecordStatus.QUEUED,
                 RecordStatus.QUEUED_OFFLINE, RecordStatus.QUEUED_RETRY, RecordStatus.CONFIRM,
                 RecordStatus.FAILED, RecordStatus.CANCELLED)


class LiveTaskView(QWidget):
    def __init__(self, client: ApiClient, events: AppEvents, task: dto.Task, parent: QWidget | None = None,
                 batch_interval_ms: int | None = None) -> None:
        super().__init__(parent)
        self.client, self.events, self.task = client, events, task
        kwargs = {} if batch_interval_ms is None else {"batch_interval_ms": batch_interval_ms}
        self.model = RecordsModel(task.taskUid, task.productID, task.version, self, **kwargs)
        self.proxy = RecordsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = table_view(self.proxy, multi=True)
        self.view.setItemDelegateForColumn(RecordsModel.PROGRESS, ProgressDelegate(self.view))
        # the rows are the model's, sorted by it (natural order: dev2 before dev10); the header's
        # arrow and the rows agree from the first load on, live updates re-sort within RESORT_MS
        self.view.sortByColumn(RecordsModel.DEVICE, Qt.SortOrder.AscendingOrder)
        # content sizing (the progress bar gets room to show its percentage); the user's widths,
        # column order and sort persist for every live table alike
        self.columns = ColumnWidths(self.view, "live_records", defaults={RecordsModel.PROGRESS: 120})
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)

        self.title_label = QLabel()
        self.summary_label = QLabel()
        self.summary_label.setObjectName("live_summary")
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.rate_bar = QProgressBar()
        self.rate_bar.setRange(0, 1000)
        self.rate_bar.setFixedWidth(240)
        self.stream_label = QLabel()
        self.status_combo = QComboBox()
        self.status_combo.addItem(self.tr("All statuses"), None)
        for text, codes in record_filter_groups():
            self.status_combo.addItem(text, codes)
        self.status_combo.currentIndexChanged.connect(
            lambda _i: self.proxy.set_statuses(self.status_combo.currentData()))
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText(self.tr("Filter devices, versions, descriptions…"))
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self.proxy.set_text)
        self.retry_button = QPushButton(self.tr("&Retry selected"))
        self.retry_button.setShortcut(QKeySequence("Ctrl+R"))
        self.retry_button.clicked.connect(self.retry_selected)
        self.cancel_button = QPushButton(self.tr("Cancel selected"))
        self.cancel_button.setShortcut(QKeySequence("Ctrl+Shift+X"))
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.reload_button = QPushButton(self.tr("Reload"))
        self.reload_button.clicked.connect(self.reload)
        self.action_label = QLabel()
        self.action_label.setWordWrap(True)
        self.table_actions = TableActions(self.view, (self.retry_button, self.cancel_button, None,
                                                      self.reload_button))

        head = QHBoxLayout()
        head.addWidget(self.title_label)
        head.addStretch(1)
        head.addWidget(self.stream_label)
        summary = QHBoxLayout()
        summary.addWidget(self.summary_label, 1)
        summary.addWidget(self.rate_bar)
        filters = QHBoxLayout()
        filters.addWidget(self.status_combo)
        filters.addWidget(self.search_edit, 1)
        actions = QHBoxLayout()
        for b in (self.retry_button, self.cancel_button, self.reload_button):
            actions.addWidget(b)
        actions.addWidget(self.action_label, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(head)
        lay.addLayout(summary)
        lay.addLayout(filters)
        lay.addWidget(self.view, 1)
        lay.addLayout(actions)

        self.model.summary_changed.connect(self._update_summary)
        events.record_events.connect(self.model.queue_record_events)
        events.device_events.connect(self.model.queue_device_events)
        events.task_events.connect(self._task_events)
        events.resync.connect(self.reload)
        events.stream_state.connect(self._stream_state)
        events.backend_state.connect(self._backend_state)
        self._update_title()
        self._update_summary()
        self._update_buttons()
        self._stream_state("")

    # -- loading -------------------------------------------------------------------------------
    def reload(self) -> None:
        self.client.task_records(self.task.taskUid).then(self._loaded, self._error)
        if self.task.taskID:
            self.client.read_task(self.task.taskID).then(self._task_read, lambda _e: None)

    def _task_read(self, detail: dto.TaskDetail) -> None:
        self.task.version, self.task.productID, self.task.status = detail.version, detail.productID, detail.status
        self.model.target_version, self.model.product_id = detail.version, detail.productID
        self._update_title()

    def _loaded(self, rows: list[dto.DeviceRecord]) -> None:
        self.model.load_rows(rows)  # sorted and indexed in slices: the GUI keeps turning

    def _error(self, error: ApiError) -> None:
        if not error.cancelled:
            self.action_label.setText(api_error_text(error))

    def _backend_state(self, state: str, _detail: str) -> None:
        if state == "ready":
            self.reload()

    def _stream_state(self, state: str) -> None:
        texts = {"connected": self.tr("● live"), "connecting": self.tr("connecting…"),
                 "reconnecting": self.tr("reconnecting…"), "stopped": self.tr("not live")}
        colour = "#15803d" if state == "connected" else "#b45309"
        self.stream_label.setText(f'<span style="color:{colour}">{texts.get(state, "")}</span>')

    def _task_events(self, events: list[dict]) -> None:
        for ev in events:
            if ev.get("taskUid") == self.task.taskUid and "status" in ev:
                self.task.status = int(ev["status"])
                self._update_title()

    def _update_title(self) -> None:
        self.title_label.setText(self.tr("<b>Task %1</b> → version %2 · %3").replace(
            "%1", str(self.task.taskID)).replace("%2", self.task.version or "?").replace(
            "%3", task_status_text(self.task.status)))

    def _update_summary(self) -> None:
        counts = self.model.status_counts()
        total = self.model.rowCount()
        parts = [self.tr("%n device(s)", "", total)]
        for code in SUMMARY_ORDER:
            n = counts.get(code, 0)
            if n:
                parts.append(f'<span style="color:{record_status_colour(code).name()}">●</span> '
                             f'{record_status_text(code)} {n}')
        rate = self.model.success_rate()
        self.summary_label.setText("&nbsp;&nbsp;".join(parts))
        self.rate_bar.setValue(int((rate or 0) * 1000))
        self.rate_bar.setFormat(self.tr("success %1%").replace("%1", f"{(rate or 0) * 100:.1f}"))

    def _update_buttons(self) -> None:
        n = len(self.view.selectionModel().selectedRows())
        self.retry_button.setEnabled(n > 0)
        self.cancel_button.setEnabled(n > 0)

    # -- actions -------------------------------------------------------------------------------
    def retry_selected(self) -> None:
        self._for_selected(lambda r: r.status not in NOT_RETRYABLE, self.client.retry_record,
                           self.tr("Retry"))

    def cancel_selected(self) -> None:
        self._for_selected(lambda r: r.status not in NOT_CANCELLABLE, self.client.cancel_record,
                           self.tr("Cancel"))

    def _for_selected(self, eligible, call, verb: str) -> None:  # noqa: ANN001
        rows: list[dto.DeviceRecord] = selected_rows(self.view)
        ok_rows = [r for r in rows if eligible(r)]
        skipped = len(rows) - len(ok_rows)
        state = {"pending": len(ok_rows), "done": 0}
        failed: list[str] = []

        def finish() -> None:
            text = self.tr("%1: %2 done").replace("%1", verb).replace("%2", str(state["done"]))
            if skipped:
                text += ", " + self.tr("%n skipped (status does not allow it)", "", skipped)
            if failed:
                text += ", " + self.tr("failed: %1").replace("%1", "; ".join(failed[:5]))
            self.action_label.setText(text)

        def one(ok: bool, rec: dto.DeviceRecord, error: ApiError | None = None) -> None:
            state["pending"] -= 1
            if ok:
                state["done"] += 1
            else:
                failed.append(f"{rec.deviceName}: {backend_error_text(error) if error else ''}")
            if state["pending"] == 0:
                finish()

        if not ok_rows:
            finish()
            return
        for rec in ok_rows:
            call(rec.id).then(lambda _d, r=rec: one(True, r), lambda e, r=rec: one(False, r, e))
