"""Products, devices (plain and checkable for the device picker) and firmware tables."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, QDateTime, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer, Signal

from ...core import dto
from ...i18n import QT_TRANSLATE_NOOP
from .base import CHECK_STATE, NUMERIC, Column, RowTableModel, format_size, format_time


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
