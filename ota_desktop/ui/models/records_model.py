"""The live device-status table of one task, fed by the events stream.

Events are queued and applied at most every ``BATCH_INTERVAL_MS``; each flush emits
``dataChanged`` only for the rows that changed (one signal per run of adjacent rows), so
thousands of events per second cost a few signals per flush, never a model reset.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QSortFilterProxyModel, Qt, QTimer, QT_TRANSLATE_NOOP, Signal

from ...core import dto
from ...core.dto import RecordStatus
from ..status import dot_icon, record_status_colour, record_status_text, step_text
from .base import NUMERIC, ROW_ROLE, SORT_ROLE, VALUE_ROLE, Column, RowTableModel, format_time

BATCH_INTERVAL_MS = 100
_RETRY_FROM = frozenset({RecordStatus.FAILED, RecordStatus.CANCELLED})
_RETRY_TO = frozenset({RecordStatus.QUEUED, RecordStatus.QUEUED_OFFLINE, RecordStatus.QUEUED_RETRY,
                       RecordStatus.PUSHED})


def _progress_value(r: dto.DeviceRecord) -> int:
    return 100 if r.status == RecordStatus.SUCCEEDED else int(r.step or 0)


def _progress_text(r: dto.DeviceRecord) -> str:
    value = _progress_value(r)
    return step_text(value) if value < 0 else f"{value}%"


class RecordsModel(RowTableModel[dto.DeviceRecord]):
    CONTEXT = "RecordsModel"
    DEVICE, CURRENT, TARGET, STATUS, PROGRESS, DESC, RETRIES, UPDATED = range(8)
    COLUMNS = (
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Device"), lambda r: r.deviceName),
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Current version"), lambda r: r.version),
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Target version"), lambda r: r.targetVersion),
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Status"), lambda r: record_status_text(r.status),
               lambda r: r.status),
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Progress"), _progress_text, _progress_value),
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Description"), lambda r: r.desc),
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Retries"), lambda r: r.retryCount, align=NUMERIC),
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Last update"), lambda r: format_time(r.updatedTime),
               lambda r: int(r.updatedTime or 0)),
    )

    #: counts per status changed (after set_rows or a flush)
    summary_changed = Signal()

    def __init__(self, task_uid: str = "", product_id: str = "", target_version: str = "",
                 parent: QObject | None = None, batch_interval_ms: int = BATCH_INTERVAL_MS) -> None:
        super().__init__(parent)
        self.task_uid, self.product_id, self.target_version = task_uid, product_id, target_version
        self._by_id: dict[int, int] = {}
        self._by_device: dict[str, list[int]] = {}
        self._counts: dict[int, int] = {}
        self._pending: list[dict[str, Any]] = []
        self._pending_devices: dict[str, str] = {}
        self._timer = QTimer(self, singleShot=True, interval=batch_interval_ms)
        self._timer.timeout.connect(self.flush)
        self.applied_events = 0  # for diagnostics and tests

    # -- extra roles ---------------------------------------------------------------------------
    def extra_data(self, row: dto.DeviceRecord, column: int, role: int) -> Any:
        if column == self.STATUS:
            if role == Qt.ItemDataRole.DecorationRole:
                return dot_icon(record_status_colour(row.status))
            if role == Qt.ItemDataRole.ForegroundRole:
                return record_status_colour(row.status)
            if role == Qt.ItemDataRole.ToolTipRole:
                return str(row.status)
        elif column == self.PROGRESS and role == VALUE_ROLE:
            return _progress_value(row)
        elif column == self.DESC and role == Qt.ItemDataRole.ToolTipRole:
            return row.desc or None
        return None

    # -- loading -------------------------------------------------------------------------------
    def _rows_reset(self) -> None:
        self._by_id = {r.id: i for i, r in enumerate(self._rows)}
        self._by_device = {}
        self._counts = {}
        for i, r in enumerate(self._rows):
            self._by_device.setdefault(r.deviceName, []).append(i)
            self._counts[r.status] = self._counts.get(r.status, 0) + 1

    def set_rows(self, rows: list[dto.DeviceRecord]) -> None:  # type: ignore[override]
        # queued events stay queued: those older than the loaded rows are skipped by _apply
        super().set_rows(rows)
        self.summary_changed.emit()

    # -- live updates --------------------------------------------------------------------------
    def queue_record_events(self, events: list[dict[str, Any]]) -> None:
        uid = self.task_uid
        self._pending.extend(ev for ev in events if ev.get("taskUid") == uid and "id" in ev)
        if self._pending and not self._timer.isActive():
            self._timer.start()

    def queue_device_events(self, events: list[dict[str, Any]]) -> None:
        for ev in events:
            name = ev.get("deviceName")
            if name in self._by_device and ev.get("version") is not None and (
                    not self.product_id or ev.get("productID") == self.product_id):
                self._pending_devices[name] = str(ev["version"])
        if self._pending_devices and not self._timer.isActive():
            self._timer.start()

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self._pending_devices)

    def flush(self) -> None:
        """Apply every queued event; signal only the rows that changed."""
        self._timer.stop()
        events, self._pending = self._pending, []
        devices, self._pending_devices = self._pending_devices, {}
        changed: dict[int, tuple[int, int]] = {}  # row -> (first, last) changed column
        new_rows: dict[int, dto.DeviceRecord] = {}
        counts = self._counts
        for ev in events:
            rid = int(ev["id"])
            i = self._by_id.get(rid)
            if i is None:
                rec = new_rows.get(rid)
                if rec is None:
                    rec = new_rows[rid] = dto.DeviceRecord(
                        id=rid, taskUid=self.task_uid, deviceName=str(ev.get("deviceName", "")),
                        targetVersion=self.target_version)
                    rec.status = 0
                self._apply(rec, ev, None)
            else:
                lo, hi = self._apply(self._rows[i], ev, counts)
                if hi >= 0:
                    old = changed.get(i)
                    changed[i] = (min(lo, old[0]), max(hi, old[1])) if old else (lo, hi)
        self.applied_events += len(events)
        for name, version in devices.items():
            for i in self._by_device.get(name, ()):
                if self._rows[i].version != version:
                    self._rows[i].version = version
                    old = changed.get(i)
                    changed[i] = (min(self.CURRENT, old[0]), max(self.CURRENT, old[1])) if old \
                        else (self.CURRENT, self.CURRENT)
        for rec in new_rows.values():
            rec.version = rec.version or self._device_version(rec.deviceName)
        if new_rows:
            self._insert(list(new_rows.values()))
        self._emit_runs(changed)
        if events or new_rows or devices:
            self.summary_changed.emit()

    def _device_version(self, name: str) -> str:
        rows = self._by_device.get(name)
        return self._rows[rows[0]].version if rows else ""

    @classmethod
    def _apply(cls, rec: dto.DeviceRecord, ev: dict[str, Any], counts: dict[int, int] | None) -> tuple[int, int]:
        """Apply one event; returns the (first, last) changed column, or (-1, -1)."""
        updated = ev.get("updatedTime") or 0
        if updated and rec.updatedTime and updated < rec.updatedTime:
            return -1, -1  # older than what the row shows (e.g. from before a reload)
        lo, hi = 99, -1

        def mark(col: int) -> None:
            nonlocal lo, hi
            lo, hi = min(lo, col), max(hi, col)

        status = int(ev.get("status", rec.status))
        retries = rec.retryCount
        if ev.get("retryCount") is not None:
            retries = int(ev["retryCount"])
        elif rec.status in _RETRY_FROM and status in _RETRY_TO:
            retries += 1  # a retry: the event carries no count, the record gained one
        if retries != rec.retryCount:
            rec.retryCount = retries
            mark(cls.RETRIES)
        if status != rec.status:
            if counts is not None:
                counts[rec.status] = counts.get(rec.status, 0) - 1
                counts[status] = counts.get(status, 0) + 1
            rec.status = status
            mark(cls.STATUS)
            mark(cls.PROGRESS)  # 501 shows as 100 %
        if ev.get("step") is not None and int(ev["step"]) != rec.step:
            rec.step = int(ev["step"])
            mark(cls.PROGRESS)
        if ev.get("desc") is not None and str(ev["desc"]) != rec.desc:
            rec.desc = str(ev["desc"])
            mark(cls.DESC)
        if updated and updated != rec.updatedTime:
            rec.updatedTime = int(updated)
            mark(cls.UPDATED)
        if ev.get("version") and str(ev["version"]) != rec.version:
            rec.version = str(ev["version"])
            mark(cls.CURRENT)
        if ev.get("targetVersion") and str(ev["targetVersion"]) != rec.targetVersion:
            rec.targetVersion = str(ev["targetVersion"])
            mark(cls.TARGET)
        return (lo, hi) if hi >= 0 else (-1, -1)

    def _insert(self, records: list[dto.DeviceRecord]) -> None:
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(records) - 1)
        for offset, rec in enumerate(records):
            i = first + offset
            self._rows.append(rec)
            self._by_id[rec.id] = i
            self._by_device.setdefault(rec.deviceName, []).append(i)
            self._counts[rec.status] = self._counts.get(rec.status, 0) + 1
        self.endInsertRows()

    def _emit_runs(self, changed: dict[int, tuple[int, int]]) -> None:
        """One dataChanged per run of adjacent changed rows, over the columns that changed
        (so a proxy sorted by an untouched column has nothing to re-sort)."""
        start = prev = -2
        lo, hi = 99, -1
        for i in sorted(changed):
            first, last = changed[i]
            if i != prev + 1 and prev >= 0:
                self.dataChanged.emit(self.index(start, lo), self.index(prev, hi))
                lo, hi = 99, -1
            if i != prev + 1:
                start = i
            prev = i
            lo, hi = min(lo, first), max(hi, last)
        if prev >= 0:
            self.dataChanged.emit(self.index(start, lo), self.index(prev, hi))

    # -- summary -------------------------------------------------------------------------------
    def status_counts(self) -> dict[int, int]:
        return {k: v for k, v in self._counts.items() if v}

    def success_rate(self) -> float | None:
        total = len(self._rows)
        return self._counts.get(RecordStatus.SUCCEEDED, 0) / total if total else None

    def record_by_id(self, record_id: int) -> dto.DeviceRecord | None:
        i = self._by_id.get(record_id)
        return self._rows[i] if i is not None else None


class RecordsFilterProxy(QSortFilterProxyModel):
    """Filter by a set of status codes and a case-insensitive text; sort by SORT_ROLE."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._statuses: frozenset[int] | None = None
        self._text = ""
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_statuses(self, statuses: frozenset[int] | None) -> None:
        self.beginFilterChange()
        self._statuses = statuses
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._text = text.strip().casefold()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        model = self.sourceModel()
        rec = model.data(model.index(source_row, 0, source_parent), ROW_ROLE)
        if rec is None:
            return False
        if self._statuses is not None and rec.status not in self._statuses:
            return False
        if self._text:
            hay = f"{rec.deviceName}\n{rec.version}\n{rec.targetVersion}\n{rec.desc}".casefold()
            return self._text in hay
        return True
