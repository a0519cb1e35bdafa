"""A table model over a list of row objects: named columns, sort and row roles, set_rows()."""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QDateTime,
    QLocale,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

T = TypeVar("T")

ROW_ROLE = Qt.ItemDataRole.UserRole + 1   # the row object itself
SORT_ROLE = Qt.ItemDataRole.UserRole + 2  # a value that sorts correctly (numbers as numbers)
VALUE_ROLE = Qt.ItemDataRole.UserRole + 3  # raw value for delegates (e.g. the step of a record)


@dataclass(frozen=True, slots=True)
class Column:
    title: str  # source text, translated in headerData (mark with QT_TRANSLATE_NOOP)
    display: Callable[[Any], Any]
    sort: Callable[[Any], Any] | None = None
    align: Qt.AlignmentFlag | None = None


_DIGITS = re.compile(r"\d+")


@lru_cache(maxsize=65536)
def natural_text(text: str) -> str:
    """A text whose plain string order is natural order: case-folded, every run of digits
    zero-padded (``dev2`` < ``dev10``, ``mtr00003`` < ``mtr00303``)."""
    return _DIGITS.sub(lambda m: m.group().lstrip("0").rjust(24, "0"), text.casefold())


def _sort_key(value: Any) -> tuple:
    """Numbers before text before empty, each in natural order; never compares across types."""
    if value is None or value == "":
        return (2, "")
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, natural_text(str(value)))


def format_time(ms: int) -> str:
    if not ms:
        return ""
    return QDateTime.fromMSecsSinceEpoch(int(ms)).toString("yyyy-MM-dd HH:mm:ss")


def format_size(n: int) -> str:
    return QLocale().formattedDataSize(int(n)) if n else ""


NUMERIC = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class RowTableModel(QAbstractTableModel, Generic[T]):
    """Subclasses set ``CONTEXT`` (translation context) and ``COLUMNS``."""

    CONTEXT = "RowTableModel"
    COLUMNS: Sequence[Column] = ()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[T] = []
        self.sort_spec: tuple[int, Qt.SortOrder] | None = None

    # -- Qt API ------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(self.COLUMNS):
            return QCoreApplication.translate(self.CONTEXT, self.COLUMNS[section].title)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        r = index.row()
        if not (0 <= r < len(self._rows)) or not index.isValid():
            return None
        row = self._rows[r]
        column = self.COLUMNS[index.column()]
        if role == SORT_ROLE:  # the hot path: a sorting proxy asks this for every comparison
            value = (column.sort or column.display)(row)
            return natural_text(value) if isinstance(value, str) else value
        if role == Qt.ItemDataRole.DisplayRole:
            value = column.display(row)
            return value if isinstance(value, str) else str(value)
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.TextAlignmentRole and column.align is not None:
            return int(column.align)
        return self.extra_data(row, index.column(), role)

    def extra_data(self, row: T, column: int, role: int) -> Any:
        """Other roles (colours, icons, tooltips) for subclasses."""
        return None

    # -- rows --------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[T]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        if self.sort_spec is not None:  # the model sorts itself: new rows come in the shown order
            self._sort_list(*self.sort_spec)
        self._rows_reset()
        self.endResetModel()

    def _rows_reset(self) -> None:
        """Hook: rebuild indexes after set_rows (and after sort)."""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the rows themselves: one C-speed key sort instead of a proxy asking data() for
        every comparison. Persistent indexes (selection, current row) follow their rows."""
        if not 0 <= column < len(self.COLUMNS):
            return
        self.sort_spec = (column, order)
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        held = [(self._rows[i.row()], i.column()) for i in old]
        self._sort_list(column, order)
        self._rows_reset()
        where = {id(r): n for n, r in enumerate(self._rows)}
        self.changePersistentIndexList(old, [self.index(where[id(r)], c) for r, c in held])
        self.layoutChanged.emit()

    def _sort_list(self, column: int, order: Qt.SortOrder) -> None:
        col = self.COLUMNS[column]
        key = col.sort or col.display
        self._rows.sort(key=lambda r: _sort_key(key(r)), reverse=order == Qt.SortOrder.DescendingOrder)

    def resort(self) -> None:
        """Apply the last sort again (after live updates changed the sorted column)."""
        if self.sort_spec is not None:
            self.sort(*self.sort_spec)

    def rows(self) -> list[T]:
        return list(self._rows)

    def row(self, i: int) -> T:
        return self._rows[i]

    def append_rows(self, rows: Sequence[T]) -> None:
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    def remove_row(self, i: int) -> None:
        self.beginRemoveRows(QModelIndex(), i, i)
        del self._rows[i]
        self.endRemoveRows()

    def row_changed(self, i: int) -> None:
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(self.COLUMNS) - 1))

    def find(self, predicate: Callable[[T], bool]) -> int:
        return next((i for i, r in enumerate(self._rows) if predicate(r)), -1)
