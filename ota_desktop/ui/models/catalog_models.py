"""Products, devices (plain and checkable for the device picker) and firmware tables."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, QDateTime, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer, Signal

from ...core import dto
from ...i18n import QT_TRANSLATE_NOOP
from ..status import dot_icon, record_status_colour, record_status_text, step_text
from .base import (
    CHECK_STATE,
    DECORATION,
    NUMERIC,
    TOOLTIP,
    VALUE_ROLE,
    Column,
    RowTableModel,
    format_size,
    format_time,
)
from .task_models import TasksModel


class ProductsModel(RowTableModel[dto.Product]):
    CONTEXT = "ProductsModel"
    ID, NAME, DESC = range(3)
    COLUMNS = (
        Column(QT_TRANSLATE_NOOP("ProductsModel", "Product ID"), lambda p: p.productID),
        Column(QT_TRANSLATE_NOOP("ProductsModel", "Name"), lambda p: p.productName),
        Column(QT_TRANSLATE_NOOP("ProductsModel", "Description"), lambda p: p.desc),
    )


def _online_text(d: dto.Device) -> str:
    return QCoreApplication.translate("DevicesModel", "online") if d.online else QCoreApplication.translate("DevicesModel", "offline")


class DevicesModel(RowTableModel[dto.Device]):
    CONTEXT = "DevicesModel"
    NAME, VERSION, ONLINE, LAST_SEEN = range(4)
    COLUMNS = (
        Column(QT_TRANSLATE_NOOP("DevicesModel", "Device"), lambda d: d.deviceName),
        Column(QT_TRANSLATE_NOOP("DevicesModel", "Version"), lambda d: d.version),
        Column(QT_TRANSLATE_NOOP("DevicesModel", "Connection"), _online_text, lambda d: int(bool(d.online))),
        Column(QT_TRANSLATE_NOOP("DevicesModel", "Last seen"), lambda d: format_time(d.lastSeen),
               lambda d: int(d.lastSeen or 0)),
    )

    #: device events are applied at most this often, all of one batch at once
    BATCH_INTERVAL_MS = 100
    #: live updates to the sorted column re-sort the rows at most this often
    RESORT_MS = 500

    def __init__(self, parent: QObject | None = None, batch_interval_ms: int | None = None) -> None:
        super().__init__(parent)
        self._by_key: dict[tuple[str, str], dto.Device] = {}
        self._pending: list[dict[str, Any]] = []
        interval = self.BATCH_INTERVAL_MS if batch_interval_ms is None else batch_interval_ms
        self._timer = QTimer(self, singleShot=True, interval=interval)
        self._timer.timeout.connect(self.flush)
        self._resort_timer = QTimer(self, singleShot=True, interval=self.RESORT_MS)
        self._resort_timer.timeout.connect(self.resort)
        self.loaded.connect(self._schedule)

    def _prepare_rows(self, rows: list[dto.Device]) -> Any:
        return {}

    def _index_rows(self, state: Any, rows: list[dto.Device]) -> None:
        state.update(zip([(d.productID, d.deviceName) for d in rows], rows))

    def _install_index(self, state: Any) -> None:
        self._by_key = state

    @property
    def pending(self) -> int:
        return len(self._pending)

    def queue_device_events(self, events: list[dict[str, Any]]) -> None:
        """Live version/online changes (events of type "device"), shown at the next batch."""
        self._pending.extend(events)
        self._schedule()

    def apply_device_events(self, events: list[dict[str, Any]]) -> None:
        """Live version/online changes (events of type "device"), shown now."""
        self._pending.extend(events)
        self.flush()

    def _schedule(self) -> None:
        if self._pending and not self.is_loading and not self._timer.isActive():
            self._timer.start()

    def _idle(self) -> None:
        self._schedule()  # events held during a sliced re-sort

    def flush(self) -> None:
        """Apply the queued events to the devices in the table (found by key); one dataChanged."""
        self._timer.stop()
        if self.is_loading:
            return  # the loaded rows get them
        events, self._pending = self._pending, []
        changed: dict[int, dto.Device] = {}
        now = 0
        for ev in events:
            d = self._by_key.get((ev.get("productID"), ev.get("deviceName")))  # type: ignore[arg-type]
            if d is None:
                continue
            if "version" in ev and ev["version"] is not None:
                d.version = str(ev["version"])
            if "online" in ev:
                d.online = bool(ev["online"])
            if ev.get("lastSeen"):
                d.lastSeen = int(ev["lastSeen"])
            elif d.online:  # an event from it: seen just now
                now = now or QDateTime.currentMSecsSinceEpoch()
                d.lastSeen = now
            changed[id(d)] = d
        sort_column = self._keys_column if self._keys is not None else -1
        changes = []
        for d in changed.values():
            i = self.position(d)
            if i < 0:
                continue
            changes.append((i, self.VERSION, self.LAST_SEEN))
            if sort_column >= self.VERSION:
                self.rekey(i)
                if not self._resort_timer.isActive():
                    self._resort_timer.start()
        self.emit_changes(changes)


class DevicePickerModel(DevicesModel):
    """Devices with a check box each: the device picker of the New-task form."""

    checked_changed = Signal(int)  # number of checked devices

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._checked: set[str] = set()

    def _rows_reset(self) -> None:
        names = {d.deviceName for d in self._rows}
        self._checked &= names
        self.checked_changed.emit(len(self._checked))

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and index.column() == self.NAME:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def extra_data(self, row: dto.Device, column: int, role: int) -> Any:
        if role == CHECK_STATE and column == self.NAME:
            return Qt.CheckState.Checked if row.deviceName in self._checked else Qt.CheckState.Unchecked
        return None

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if not index.isValid() or role != Qt.ItemDataRole.CheckStateRole or index.column() != self.NAME:
            return False
        name = self._rows[index.row()].deviceName
        state = Qt.CheckState(value) if not isinstance(value, Qt.CheckState) else value
        if state == Qt.CheckState.Checked:
            self._checked.add(name)
        else:
            self._checked.discard(name)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        self.checked_changed.emit(len(self._checked))
        return True

    def checked_names(self) -> list[str]:
        """Checked devices in table order."""
        return [d.deviceName for d in self._rows if d.deviceName in self._checked]

    def set_checked(self, names: set[str] | list[str], checked: bool = True) -> list[str]:
        """Check (or uncheck) devices by name; returns the names not in the table."""
        known = {d.deviceName: i for i, d in enumerate(self._rows)}
        unknown = [n for n in names if n not in known]
        rows = sorted(known[n] for n in names if n in known)
        if checked:
            self._checked.update(n for n in names if n in known)
        else:
            self._checked.difference_update(names)
        if rows:
            self.dataChanged.emit(self.index(rows[0], self.NAME), self.index(rows[-1], self.NAME),
                                  [Qt.ItemDataRole.CheckStateRole])
        self.checked_changed.emit(len(self._checked))
        return unknown

    def clear_checked(self) -> None:
        self.set_checked(list(self._checked), False)


def _firmware_type(f: dto.Firmware) -> str:
    return QCoreApplication.translate("FirmwareModel", "differential") if f.isDiff == 2 else QCoreApplication.translate("FirmwareModel", "whole")


class FirmwareModel(RowTableModel[dto.Firmware]):
    CONTEXT = "FirmwareModel"
    ID, NAME, VERSION, PRODUCT, TYPE, SIGN, SIZE, CREATED = range(8)
    COLUMNS = (
        Column(QT_TRANSLATE_NOOP("FirmwareModel", "ID"), lambda f: f.firmwareID, align=NUMERIC),
        Column(QT_TRANSLATE_NOOP("FirmwareModel", "Name"), lambda f: f.name),
        Column(QT_TRANSLATE_NOOP("FirmwareModel", "Version"), lambda f: f.version),
        Column(QT_TRANSLATE_NOOP("FirmwareModel", "Product"), lambda f: f.productName or f.productID),
        Column(QT_TRANSLATE_NOOP("FirmwareModel", "Package"), _firmware_type),
        Column(QT_TRANSLATE_NOOP("FirmwareModel", "Digest"), lambda f: f.signMethod),
        Column(QT_TRANSLATE_NOOP("FirmwareModel", "Size"), lambda f: format_size(f.totalSize),
               lambda f: int(f.totalSize or 0), NUMERIC),
        Column(QT_TRANSLATE_NOOP("FirmwareModel", "Created"), lambda f: format_time(f.createdTime),
               lambda f: int(f.createdTime or 0)),
    )


class FirmwareFilesModel(RowTableModel[dto.FirmwareFile]):
    """The files of one firmware (detail view): name, size and stored digest."""

    CONTEXT = "FirmwareFilesModel"
    NAME, SIZE, SIGNATURE = range(3)
    COLUMNS = (
        Column(QT_TRANSLATE_NOOP("FirmwareFilesModel", "File"), lambda f: f.name),
        Column(QT_TRANSLATE_NOOP("FirmwareFilesModel", "Size"), lambda f: format_size(f.size),
               lambda f: int(f.size or 0), NUMERIC),
        Column(QT_TRANSLATE_NOOP("FirmwareFilesModel", "Digest"), lambda f: f.signature),
    )


# -- the tasks list with each task's progress, and a device's OTA history -------------------------

#: a task's records in the three parts of its progress bar (cancelled records count in the total)
SUCCEEDED_STATUSES = frozenset({int(dto.RecordStatus.SUCCEEDED)})
FAILED_STATUSES = frozenset({int(dto.RecordStatus.FAILED)})
PENDING_STATUSES = frozenset(int(s) for s in dto.RecordStatus if s < dto.RecordStatus.SUCCEEDED)


def split_counts(counts: dict[int, int]) -> tuple[int, int, int, int]:
    """(succeeded, failed, pending, total) of a task's records from its statusCount."""
    ok = sum(n for s, n in counts.items() if s in SUCCEEDED_STATUSES)
    failed = sum(n for s, n in counts.items() if s in FAILED_STATUSES)
    pending = sum(n for s, n in counts.items() if s in PENDING_STATUSES)
    return ok, failed, pending, sum(counts.values())


def progress_text(counts: dict[int, int]) -> str:
    ok, failed, pending, total = split_counts(counts)
    if not total:
        return QCoreApplication.translate("TaskProgressModel", "no devices")
    return QCoreApplication.translate("TaskProgressModel", "%1 succeeded · %2 failed · %3 pending").replace(
        "%1", str(ok)).replace("%2", str(failed)).replace("%3", str(pending))


class TaskProgressModel(TasksModel):
    """The tasks list with a progress column: each task's records succeeded / failed / pending
    (task/index ``statusCount``), kept apart from the rows (``counts``) and changed with
    dataChanged of that one cell (``set_counts``)."""

    CONTEXT = "TasksModel"
    PROGRESS = len(TasksModel.COLUMNS)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.counts: dict[str, dict[int, int]] = {}
        # the column reads the counts: bound here (COLUMNS is per class, the counts per model)
        self.COLUMNS = (*TasksModel.COLUMNS, Column(  # type: ignore[assignment]  # one column more
            QT_TRANSLATE_NOOP("TasksModel", "Progress"), lambda t: progress_text(self.counts.get(t.taskUid, {})),
            lambda t: self._done_share(t)))

    def _done_share(self, task: dto.Task) -> float:
        ok, failed, _pending, total = split_counts(self.counts.get(task.taskUid, {}))
        return (ok + failed) / total if total else -1.0

    def set_tasks(self, rows: list[tuple[dto.Task, dict[int, int]]]) -> None:
        self.counts = {t.taskUid: dict(c) for t, c in rows}
        self.set_rows([t for t, _c in rows])

    def set_counts(self, task_uid: str, counts: dict[int, int]) -> bool:
        """New counts of one task; True when they changed (its progress cell is signalled)."""
        counts = {int(s): int(n) for s, n in counts.items() if n}
        if self.counts.get(task_uid) == counts:
            return False
        self.counts[task_uid] = counts
        i = self.find(lambda t: t.taskUid == task_uid)
        if i >= 0:
            self.emit_changes([(i, self.PROGRESS, self.PROGRESS)])
        return True

    def extra_data(self, row: dto.Task, column: int, role: int) -> Any:
        if column == self.PROGRESS:
            counts = self.counts.get(row.taskUid, {})
            if role == VALUE_ROLE:
                return split_counts(counts)
            if role == TOOLTIP:
                return "\n".join(f"{record_status_text(s)}: {n}" for s, n in sorted(counts.items()) if n) or None
            return None
        return super().extra_data(row, column, role)


def _step_text(entry: dict[str, Any]) -> str:
    step = int(entry.get("step") or 0)
    return f"{step}%" if step > 0 else (step_text(step) or str(step)) if step < 0 else ""


_ACTORS = {"admin": QT_TRANSLATE_NOOP("DeviceHistoryModel", "operator"),
           "device": QT_TRANSLATE_NOOP("DeviceHistoryModel", "device"),
           "timer": QT_TRANSLATE_NOOP("DeviceHistoryModel", "timer"),
           "system": QT_TRANSLATE_NOOP("DeviceHistoryModel", "system")}


def _actor_text(entry: dict[str, Any]) -> str:
    actor = str(entry.get("actor") or "")
    return QCoreApplication.translate("DeviceHistoryModel", _ACTORS[actor]) if actor in _ACTORS else actor


def short_uid(uid: str) -> str:
    return uid if len(uid) <= 13 else uid[:8] + "…"


class DeviceHistoryModel(RowTableModel[dict]):
    """One page of a device's OTA history (device/history entries, newest first)."""

    CONTEXT = "DeviceHistoryModel"
    TIME, TASK, TARGET, STATUS, STEP, DESC, RETRIES, ACTOR = range(8)
    COLUMNS = (
        Column(QT_TRANSLATE_NOOP("DeviceHistoryModel", "Time"), lambda e: format_time(e["time"]),
               lambda e: int(e["time"] or 0)),
        Column(QT_TRANSLATE_NOOP("DeviceHistoryModel", "Task"), lambda e: short_uid(e["taskUid"])),
        Column(QT_TRANSLATE_NOOP("DeviceHistoryModel", "Target version"), lambda e: e["targetVersion"]),
        Column(QT_TRANSLATE_NOOP("DeviceHistoryModel", "Status"), lambda e: record_status_text(int(e["status"])),
               lambda e: int(e["status"])),
        Column(QT_TRANSLATE_NOOP("DeviceHistoryModel", "Step"), _step_text, lambda e: int(e["step"] or 0)),
        Column(QT_TRANSLATE_NOOP("DeviceHistoryModel", "Description"), lambda e: e["desc"]),
        Column(QT_TRANSLATE_NOOP("DeviceHistoryModel", "Retries"), lambda e: int(e["retryCount"] or 0),
               align=NUMERIC),
        Column(QT_TRANSLATE_NOOP("DeviceHistoryModel", "Actor"), _actor_text),
    )

    def extra_data(self, row: dict, column: int, role: int) -> Any:
        if column == self.STATUS and role == DECORATION:
            return dot_icon(record_status_colour(int(row["status"])))
        if column == self.TASK and role == TOOLTIP:
            return row["taskUid"]
        if column == self.DESC and role == TOOLTIP and row["desc"]:
            return row["desc"]
        return None
