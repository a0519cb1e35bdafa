"""The live device-status table of one task: summary, filters, retry/cancel, fed by events;
its rollout (protocol 13.13): the waves as a timeline, the abort rules with their current values,
pause / resume / advance, and the results exported (CSV) or summarised (HTML)."""
from __future__ import annotations

import os
import re

from PySide6.QtCore import QStandardPaths, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..app_events import AppEvents
from ..core import dto
from ..core.api_client import ApiCall, ApiClient, ApiError
from ..core.dto import NOT_CANCELLABLE, NOT_RETRYABLE, RecordStatus, TaskStatus
from ..core.workers import Job, JobContext, run_in_pool
from .confirm import confirm, visible_selected_rows
from .delegates import ProgressDelegate
from .forms import api_error_text, backend_error_text, last_folder, remember_folder
from .models.records_model import RecordsFilterProxy, RecordsModel
from .rollout_widgets import WaveTimeline
from .status import record_filter_groups, record_status_colour, record_status_text, task_status_text
from .table_actions import ColumnWidths, TableActions
from .widgets import table_view

SUMMARY_ORDER = (RecordStatus.SUCCEEDED, RecordStatus.UPGRADING, RecordStatus.PUSHED, RecordStatus.QUEUED,
                 RecordStatus.QUEUED_OFFLINE, RecordStatus.QUEUED_RETRY, RecordStatus.CONFIRM,
                 RecordStatus.FAILED, RecordStatus.CANCELLED)
#: ota_protocol.rollout.abort_reason's sentence, shown translated
_REASON = re.compile(r"^(?:aborted: )?(\d+) of (\d+) finished devices (failed or timed out|failed|timed out) "
                     r"\((\d+)% ≥ (\d+)%, after at least (\d+) finished\)$")
#: the waves are fetched again at most this often while record events come in
WAVES_REFRESH_MS = 500
#: a task pushes (and can be paused, resumed, advanced) in these statuses
RUNNING = frozenset({TaskStatus.NOT_STARTED, TaskStatus.UPGRADING})


def write_bytes(ctx: JobContext, path: str, data: bytes) -> str:
    """Write ``data`` to ``path`` (a pool thread): to a temporary file first, then renamed."""
    tmp = f"{path}.part"
    with open(tmp, "wb") as fh:
        fh.write(data)
    ctx.check()
    os.replace(tmp, path)
    return path


class LiveTaskView(QWidget):
    #: a file was written by export_to (its path; "" when it failed)
    exported = Signal(str)

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

        # -- the rollout: state, pause / resume / advance, waves, abort rules
        self.waves_data: dto.TaskWaves | None = None
        self._waves_call: ApiCall | None = None
        self._waves_again = False
        self._waves_timer = QTimer(self, singleShot=True, interval=WAVES_REFRESH_MS)
        self._waves_timer.timeout.connect(self.reload_waves)
        self.pause_button = QPushButton(self.tr("&Pause"))
        self.pause_button.setToolTip(self.tr("Stop pushing; devices already pushed carry on"))
        self.pause_button.clicked.connect(self.pause)
        self.resume_button = QPushButton(self.tr("Resu&me"))
        self.resume_button.clicked.connect(self.resume)
        self.advance_button = QPushButton(self.tr("&Advance to next wave…"))
        self.advance_button.setToolTip(self.tr("Release the next wave now, whatever the advance rule says"))
        self.advance_button.clicked.connect(self.ask_advance)
        self.advance_box: QMessageBox | None = None
        self.reason_label = QLabel()
        self.reason_label.setObjectName("status_reason")
        self.reason_label.setWordWrap(True)
        self.reason_label.setStyleSheet("color: #b91c1c;")
        self.reason_label.hide()
        self.timeline = WaveTimeline()
        self.wave_label = QLabel()
        self.abort_label = QLabel()
        self.abort_label.setObjectName("abort_rules")
        self.abort_label.setTextFormat(Qt.TextFormat.RichText)
        self.abort_label.setWordWrap(True)
        self.export_button = QPushButton(self.tr("&Export results…"))
        self.export_button.setToolTip(self.tr("Every device's result as CSV (for a spreadsheet)"))
        self.export_button.clicked.connect(self.ask_export)
        self.summary_button = QPushButton(self.tr("S&ummary…"))
        self.summary_button.setToolTip(self.tr("A one-page summary of the task, opened in the browser"))
        self.summary_button.clicked.connect(self.open_summary)
        self.rollout_box = QWidget()
        rl = QVBoxLayout(self.rollout_box)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(2)
        waves_row = QHBoxLayout()
        waves_row.addWidget(self.wave_label)
        waves_row.addWidget(self.timeline, 1)
        rl.addLayout(waves_row)
        rl.addWidget(self.abort_label)
        self.rollout_box.hide()

        head = QHBoxLayout()
        head.addWidget(self.title_label)
        head.addStretch(1)
        for b in (self.pause_button, self.resume_button, self.advance_button):
            head.addWidget(b)
        head.addSpacing(12)
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
        actions.addWidget(self.export_button)
        actions.addWidget(self.summary_button)
        lay = QVBoxLayout(self)
        lay.addLayout(head)
        lay.addWidget(self.reason_label)
        lay.addWidget(self.rollout_box)
        lay.addLayout(summary)
        lay.addLayout(filters)
        lay.addWidget(self.view, 1)
        lay.addLayout(actions)

        self.model.summary_changed.connect(self._update_summary)
        events.record_events.connect(self.model.queue_record_events)
        events.record_events.connect(self._record_events)
        events.device_events.connect(self.model.queue_device_events)
        events.task_events.connect(self._task_events)
        events.resync.connect(self.reload)
        events.stream_state.connect(self._stream_state)
        events.backend_state.connect(self._backend_state)
        self._update_title()
        self._update_summary()
        self._update_buttons()
        self._update_rollout()
        self._stream_state("")

    # -- loading -------------------------------------------------------------------------------
    def reload(self) -> None:
        self.model.expect_rows()  # events until the answer are kept for it (a snapshot read meanwhile)
        self.client.task_records(self.task.taskUid).then(self._loaded, self._rows_failed)
        if self.task.taskID:
            self.client.read_task(self.task.taskID).then(self._task_read, lambda _e: None)

    def _task_read(self, detail: dto.TaskDetail) -> None:
        self.task.version, self.task.productID, self.task.status = detail.version, detail.productID, detail.status
        self.task.rollout, self.task.paused, self.task.statusReason = detail.rollout, detail.paused, detail.statusReason
        self.task.currentWave, self.task.waveCount = detail.currentWave, detail.waveCount
        self.model.target_version, self.model.product_id = detail.version, detail.productID
        self._update_title()
        self._update_rollout()
        if self.has_rollout:
            self.reload_waves()

    @property
    def has_rollout(self) -> bool:
        return bool(self.task.rollout) or self.task.waveCount > 1

    def reload_waves(self) -> None:
        """Fetch task/waves (one request at a time: asked again meanwhile, it runs once more after)."""
        self._waves_timer.stop()
        if not self.task.taskID:
            return
        if self._waves_call is not None:
            self._waves_again = True
            return
        call = self._waves_call = self.client.task_waves(self.task.taskID)
        call.then(self._waves_loaded, self._waves_failed)

    def _waves_done(self) -> None:
        self._waves_call = None
        if self._waves_again:
            self._waves_again = False
            self._waves_timer.start()

    def _waves_loaded(self, data: dto.TaskWaves) -> None:
        self._waves_done()
        self.waves_data = data
        self.task.paused, self.task.currentWave = data.paused, data.currentWave
        self.task.waveCount = max(len(data.waves), 1)
        if data.statusReason:
            self.task.statusReason = data.statusReason
        self._update_title()
        self._update_rollout()

    def _waves_failed(self, error: ApiError) -> None:
        self._waves_done()
        self._error(error)

    def _record_events(self, events: list[dict]) -> None:
        """Record events of this task: the waves follow, fetched at most every WAVES_REFRESH_MS."""
        if not self.has_rollout or self._waves_timer.isActive():
            return
        uid = self.task.taskUid
        if any(ev.get("taskUid") == uid for ev in events):
            self._waves_timer.start()

    def _loaded(self, rows: list[dto.DeviceRecord]) -> None:
        self.model.load_rows(rows)  # sorted and indexed in slices: the GUI keeps turning

    def _rows_failed(self, error: ApiError) -> None:
        self.model.rows_failed()
        self._error(error)

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
                if "paused" in ev:
                    self.task.paused = bool(ev["paused"])
                if ev.get("currentWave"):
                    self.task.currentWave = int(ev["currentWave"])
                if "statusReason" in ev:
                    self.task.statusReason = str(ev["statusReason"] or "")
                self._update_title()
                self._update_rollout()
                if self.has_rollout and not self._waves_timer.isActive():
                    self._waves_timer.start()

    def _update_title(self) -> None:
        state = task_status_text(self.task.status)
        if self.task.paused and self.task.status in RUNNING:
            state += " · " + self.tr("paused")
        self.title_label.setText(self.tr("<b>Task %1</b> → version %2 · %3").replace(
            "%1", str(self.task.taskID)).replace("%2", self.task.version or "?").replace("%3", state))

    # -- the rollout -------------------------------------------------------------------------------
    def _update_rollout(self) -> None:
        task = self.task
        running = task.status in RUNNING
        self.pause_button.setEnabled(running and not task.paused)
        self.resume_button.setEnabled(running and task.paused)
        self.advance_button.setEnabled(running and task.currentWave < task.waveCount)
        self.advance_button.setVisible(task.waveCount > 1)
        aborted = task.status == TaskStatus.ABORTED
        reason = self.reason_text(task.statusReason)
        self.reason_label.setText(self.tr("Stopped automatically: %1").replace("%1", reason or "?") if aborted else "")
        self.reason_label.setVisible(aborted)
        data = self.waves_data
        self.rollout_box.setVisible(self.has_rollout and data is not None)
        if data is None:
            return
        self.timeline.set_waves(data.waves, data.currentWave)
        self.wave_label.setText(self.tr("Wave %1 of %2").replace("%1", str(data.currentWave)).replace(
            "%2", str(max(len(data.waves), 1))))
        self.abort_label.setText(self.abort_text(data))

    def reason_text(self, reason: str) -> str:
        """Why the task was aborted, in the user's language when it is the backend's usual sentence."""
        m = _REASON.match(reason or "")
        if m is None:
            return (reason or "").removeprefix("aborted: ")
        what = {"failed": self.tr("failed"), "timed out": self.tr("timed out")}.get(
            m.group(3), self.tr("failed or timed out"))
        text = self.tr("%1 of %2 finished devices %3 (%4% ≥ %5%, after at least %6 finished)")
        for n, value in enumerate((m.group(1), m.group(2), what, m.group(4), m.group(5), m.group(6)), start=1):
            text = text.replace(f"%{n}", value)
        return text

    def abort_text(self, data: dto.TaskWaves) -> str:
        """Each abort rule with the value it looks at now, a rule met in red."""
        if not data.abort:
            return self.tr("No automatic abort.")
        finished, failed, timed_out = data.finished()
        lines = []
        for rule in data.abort:
            kind = str(rule.get("failureType", "ANY"))
            threshold, least = int(rule.get("thresholdPercent", 0)), int(rule.get("minFinished", 1))
            count = {"FAILED": failed, "TIMED_OUT": timed_out}.get(kind, failed + timed_out)
            what = {"FAILED": self.tr("failed"), "TIMED_OUT": self.tr("timed out")}.get(
                kind, self.tr("failed or timed out"))
            share = count * 100 / finished if finished else 0.0
            text = self.tr("Abort at ≥ %1% %2 after %3 finished — now %4 of %5 (%6%)").replace(
                "%1", str(threshold)).replace("%2", what).replace("%3", str(least)).replace(
                "%4", str(count)).replace("%5", str(finished)).replace("%6", f"{share:.0f}")
            if finished >= max(least, 1) and count * 100 >= threshold * finished:
                text = f'<span style="color:#b91c1c"><b>{text}</b></span>'
            lines.append(text)
        return "<br>".join(lines)

    def pause(self) -> None:
        self._task_call(self.client.pause_task, self.tr("Pause"))

    def resume(self) -> None:
        self._task_call(self.client.resume_task, self.tr("Resume"))

    def advance(self) -> None:
        self._task_call(self.client.advance_task, self.tr("Advance"))

    def next_wave_size(self) -> int | None:
        """Devices of the wave after the current one (None: not known)."""
        data = self.waves_data
        if data is None or data.currentWave >= len(data.waves):
            return None
        return data.waves[data.currentWave].total

    def ask_advance(self) -> None:
        """Confirm (how many devices the next wave holds), then advance; the box is not modal
        to the event loop (open, not exec)."""
        n = self.next_wave_size()
        text = self.tr("Release wave %1 now, whatever the advance rule says?").replace(
            "%1", str(self.task.currentWave + 1))
        if n is not None:
            text += " " + self.tr("It holds %n device(s).", "", n)
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Advance to the next wave"), text,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.accepted.connect(self.advance)
        box.finished.connect(lambda _r: setattr(self, "advance_box", None))
        self.advance_box = box
        box.open()

    def _task_call(self, call, verb: str) -> None:  # noqa: ANN001
        for b in (self.pause_button, self.resume_button, self.advance_button):
            b.setEnabled(False)

        def done(task: dto.Task) -> None:
            self.task.status, self.task.paused = task.status, task.paused
            self.task.currentWave, self.task.waveCount = task.currentWave, task.waveCount
            self.task.statusReason = task.statusReason
            self.action_label.setText(self.tr("%1: done").replace("%1", verb))
            self._update_title()
            self._update_rollout()
            if self.has_rollout:
                self.reload_waves()

        def failed(error: ApiError) -> None:
            self.action_label.setText(f"{verb}: {backend_error_text(error)}")
            self._update_rollout()

        call(self.task.taskID).then(done, failed)

    # -- export ------------------------------------------------------------------------------------
    def _file_stem(self) -> str:
        return f"task-{self.task.taskID}-{self.task.version or 'results'}"

    def ask_export(self) -> None:
        csv_filter = self.tr("CSV (*.csv)")
        path, _chosen = QFileDialog.getSaveFileName(self, self.tr("Export results"),
                                                    os.path.join(last_folder(), self._file_stem() + ".csv"),
                                                    csv_filter)
        if not path:
            return
        if not path.lower().endswith(".csv"):
            path += ".csv"
        remember_folder(path)
        self.export_to(path, "csv")

    def open_summary(self) -> None:
        """The HTML summary, saved in the cache folder and opened in the browser."""
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation)
        os.makedirs(folder, exist_ok=True)
        self.export_to(os.path.join(folder, self._file_stem() + "-summary.html"), "html", open_after=True)

    def export_to(self, path: str, fmt: str, open_after: bool = False) -> None:
        """task/export (``csv`` or ``html``), written to ``path`` on the thread pool."""
        self.export_button.setEnabled(False)
        self.summary_button.setEnabled(False)
        self.action_label.setText(self.tr("Exporting…"))

        def finish(text: str, written: str) -> None:
            self.export_button.setEnabled(True)
            self.summary_button.setEnabled(True)
            self.action_label.setText(text)
            self.exported.emit(written)

        def written(where: str) -> None:
            finish(self.tr("Saved %1").replace("%1", where), where)
            if open_after:
                QDesktopServices.openUrl(QUrl.fromLocalFile(where))

        def fetched(data: bytes) -> None:
            job: Job = run_in_pool(write_bytes, path, data)
            job.then(written, lambda message: finish(self.tr("Export failed: %1").replace("%1", message), ""))

        self.client.task_export(self.task.taskID, fmt).then(
            fetched, lambda e: finish(self.tr("Export failed: %1").replace("%1", api_error_text(e)), ""))

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
        """Retry the selected records that the filter shows (those whose status allows it)."""
        rows: list[dto.DeviceRecord] = visible_selected_rows(self.view)
        self._for_rows(rows, [r for r in rows if r.status not in NOT_RETRYABLE], self.client.retry_record,
                       self.tr("Retry"))

    def cancel_selected(self) -> None:
        """Cancel the selected records that the filter shows and that are not finished, after
        saying how many and which (No is the default)."""
        rows: list[dto.DeviceRecord] = visible_selected_rows(self.view)  # never a row the filter hides
        ok_rows = [r for r in rows if r.status not in NOT_CANCELLABLE]
        if ok_rows and not confirm(self, self.tr("Cancel upgrades"), self.cancel_question(len(rows), ok_rows)):
            return
        self._for_rows(rows, ok_rows, self.client.cancel_record, self.tr("Cancel"))

    def cancel_question(self, selected: int, rows: list[dto.DeviceRecord]) -> str:
        """What Cancel selected asks: how many devices (the first ones named) and what it does."""
        names = ", ".join(r.deviceName for r in rows[:10]) + (" …" if len(rows) > 10 else "")
        text = self.tr("Cancel the upgrade of %n device(s) (%1)? This task stops pushing to them; "
                       "a device already upgrading is not told to stop. This cannot be undone.",
                       "", len(rows)).replace("%1", names)
        if selected > len(rows):
            text += " " + self.tr("%n selected device(s) already finished are left as they are.", "",
                                  selected - len(rows))
        return text

    def _for_rows(self, rows: list[dto.DeviceRecord], ok_rows: list[dto.DeviceRecord], call,  # noqa: ANN001
                  verb: str) -> None:
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
