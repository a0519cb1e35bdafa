"""A table model over a list of row objects: named columns, sort and row roles, set_rows()."""
from __future__ import annotations

import gc
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QCoreApplication,
    QDateTime,
    QLocale,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)

T = TypeVar("T")

DISPLAY = int(Qt.ItemDataRole.DisplayRole)
ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
DECORATION = int(Qt.ItemDataRole.DecorationRole)
FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
CHECK_STATE = int(Qt.ItemDataRole.CheckStateRole)
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


#: the model-only role a filter proxy matches: every column's text, one line each
FILTER_ROLE = Qt.ItemDataRole.UserRole + 4
#: the longest a slice of a background load (keys, sort, indexes) keeps the GUI thread
LOAD_BUDGET_S = 0.012
#: changed rows at most this far apart are signalled as one range (emit_changes)
SPAN_GAP = 32
#: live re-sorts of at least this many rows are made in slices (resort)
RESORT_SLICED_ROWS = 20_000
#: loads of at least this many rows are moved out of the garbage collector's way (gc.freeze)
FREEZE_ROWS = 10_000
#: rows per step of a background load: keys, indexes and sorted runs are made this many at a time
LOAD_CHUNK = 2048


class RowTableModel(QAbstractTableModel, Generic[T]):
    """Subclasses set ``CONTEXT`` (translation context) and ``COLUMNS``.

    The model sorts its own rows (``sort``), keeping one sort key per row (``_keys``, parallel to
    the rows) so that a live update re-keys only the rows it changed and a re-sort of nearly
    sorted rows is one C-speed pass. ``load_rows`` installs a big list of rows without freezing
    the GUI: keys, sorted runs and indexes are made in slices of ``LOAD_BUDGET_S`` between turns
    of the event loop, then one model reset shows them (``loaded`` fires).
    """

    CONTEXT = "RowTableModel"
    COLUMNS: Sequence[Column] = ()

    #: rows were installed (set_rows, or the end of a load_rows)
    loaded = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[T] = []
        self._keys: list[Any] | None = None  # sort keys of the rows, for _keys_column
        self._keys_column = -1
        self._pos: dict[int, int] = {}  # id(row) -> its row number
        self.sort_spec: tuple[int, Qt.SortOrder] | None = None
        #: set by a filtering proxy: signal changes per run of adjacent rows (emit_changes)
        self.signal_spans = False
        self._load: Iterator[None] | None = None
        self._resorting = False  # the sliced job in _load is a live re-sort, not a load
        self._load_timer = QTimer(self, singleShot=True, interval=0)
        self._load_timer.timeout.connect(self._load_step)

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
        # the hot path (a view asks ~10 roles per visible cell at every repaint): roles are
        # compared as plain ints, an enum member lookup costs more than the rest of the call
        r = index.row()
        if not (0 <= r < len(self._rows)):
            return None
        row = self._rows[r]
        column = self.COLUMNS[index.column()]
        if role == DISPLAY:
            value = column.display(row)
            return value if isinstance(value, str) else str(value)
        if role == SORT_ROLE:
            value = (column.sort or column.display)(row)
            return natural_text(value) if isinstance(value, str) else value
        if role == ROW_ROLE:
            return row
        if role == ALIGNMENT and column.align is not None:
            return int(column.align)
        if role == FILTER_ROLE:
            return self.filter_text(row)
        return self.extra_data(row, index.column(), role)

    def extra_data(self, row: T, column: int, role: int) -> Any:
        """Other roles (colours, icons, tooltips) for subclasses."""
        return None

    def filter_text(self, row: T) -> str:
        """What a text filter searches: every column's text, one line each."""
        return "\n".join(str(c.display(row)) for c in self.COLUMNS)

    # -- rows --------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[T]) -> None:
        """Show these rows now (sorted by the model's sort)."""
        self._load, self._resorting = None, False  # replaces a load or re-sort in progress
        for _ in self._loading(list(rows)):
            pass

    def load_rows(self, rows: Sequence[T]) -> None:
        """Show these rows soon: keys, sort and indexes are made in slices between turns of the
        event loop (the old rows stay until then); ``loaded`` fires when they are shown."""
        self._load, self._resorting = self._loading(list(rows)), False
        self._load_step()

    @property
    def is_loading(self) -> bool:
        """Rows are being loaded or re-sorted in slices: live updates wait for the end."""
        return self._load is not None

    def _load_step(self) -> None:
        load = self._load
        if load is None:
            return
        deadline = time.perf_counter() + LOAD_BUDGET_S
        try:
            while time.perf_counter() < deadline:
                next(load)
        except StopIteration:
            if self._load is load:
                self._load, self._resorting = None, False
                self._idle()
            return
        if self._load is load:
            self._load_timer.start()

    def _loading(self, rows: list[T]) -> Iterator[None]:
        """The steps of installing ``rows``; each yield is a point where a load may pause."""
        spec = self.sort_spec
        keys: list[Any] | None = None
        if spec is not None:
            key = self._key_function(spec[0])
            keys = []
            for start in range(0, len(rows), LOAD_CHUNK):
                keys.extend([key(r) for r in rows[start:start + LOAD_CHUNK]])
                yield
            # sorted runs, merged pairwise (timsort merges two runs in one pass): stable, like one sort
            reverse = spec[1] == Qt.SortOrder.DescendingOrder
            runs: list[list[int]] = []
            for start in range(0, len(rows), LOAD_CHUNK):
                runs.append(sorted(range(start, min(start + LOAD_CHUNK, len(rows))), key=keys.__getitem__,
                                   reverse=reverse))
                yield
            while len(runs) > 1:
                merged = [sorted(runs[i] + runs[i + 1], key=keys.__getitem__, reverse=reverse)
                          if i + 1 < len(runs) else runs[i] for i in range(0, len(runs), 2)]
                runs = []
                for run in merged:
                    runs.append(run)
                    yield
            order = runs[0] if runs else []
            rows = list(map(rows.__getitem__, order))
            keys = list(map(keys.__getitem__, order))
            yield
        state = self._prepare_rows(rows)
        for start in range(0, len(rows), LOAD_CHUNK):
            self._index_rows(state, rows[start:start + LOAD_CHUNK])
            yield
        self._load = None  # done: sorting works on the shown rows again
        self.beginResetModel()
        self._rows, self._keys = rows, keys
        self._keys_column = spec[0] if spec is not None else -1
        self._pos = dict(zip(map(id, rows), range(len(rows))))
        self._install_index(state)
        self._rows_reset()
        self.endResetModel()
        if len(rows) >= FREEZE_ROWS:
            # the rows live long: later passes of the cyclic garbage collector skip them (a full
            # pass over 100,000 rows and their strings stops the GUI for 100-200 ms); rows hold
            # no reference cycles, reference counting still frees them when replaced
            gc.freeze()
        self.loaded.emit()
        if spec != self.sort_spec and self.sort_spec is not None:  # sorted again while loading
            self.sort(*self.sort_spec)

    def _prepare_rows(self, rows: list[T]) -> Any:
        """Hook: a fresh index for rows being loaded (filled by _index_rows, chunk by chunk)."""
        return None

    def _index_rows(self, state: Any, rows: list[T]) -> None:
        """Hook: add these rows to the index being built."""

    def _install_index(self, state: Any) -> None:
        """Hook: the loaded rows are now the model's; so is their index."""

    def _rows_reset(self) -> None:
        """Hook: after new rows were installed (set_rows or the end of load_rows)."""

    def _idle(self) -> None:
        """Hook: a sliced load or re-sort ended (live updates held meanwhile may go on)."""

    def _key_function(self, column: int) -> Callable[[T], tuple]:
        col = self.COLUMNS[column]
        key = col.sort or col.display
        return lambda r: _sort_key(key(r))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the rows themselves: one C-speed key sort instead of a proxy asking data() for
        every comparison. Persistent indexes (selection, current row) follow their rows.
        Keys are kept per row: sorting again by the same column (a live re-sort) only sorts."""
        if not 0 <= column < len(self.COLUMNS):
            return
        self.sort_spec = (column, order)
        if self._resorting:  # a live re-sort in progress gives way to this one
            self._load, self._resorting = None, False
            self._idle()
        if self._load is not None:
            return  # the load in progress sorts again when it ends
        keys = self._keys
        if keys is None or self._keys_column != column or len(keys) != len(self._rows):
            key = self._key_function(column)
            keys = [key(r) for r in self._rows]
        order_ = sorted(range(len(self._rows)), key=keys.__getitem__,
                        reverse=order == Qt.SortOrder.DescendingOrder)
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        held = [(self._rows[i.row()], i.column()) for i in old]
        # C-speed passes only (map over a C method): this runs every RESORT_MS during a rollout
        self._rows = list(map(self._rows.__getitem__, order_))
        self._keys, self._keys_column = list(map(keys.__getitem__, order_)), column
        self._pos = dict(zip(map(id, self._rows), range(len(self._rows))))
        self.changePersistentIndexList(old, [self.index(self._pos[id(r)], c) for r, c in held])
        self.layoutChanged.emit()

    def resort(self) -> None:
        """Apply the last sort again (after live updates changed the sorted column); a big
        table is re-sorted in slices (``RESORT_SLICED_ROWS``), shown at once when done."""
        if self.sort_spec is None or self._load is not None:
            return
        if len(self._rows) < RESORT_SLICED_ROWS or self._keys is None or self._keys_column != self.sort_spec[0]:
            self.sort(*self.sort_spec)
            return
        self._load, self._resorting = self._resorting_steps(*self.sort_spec), True
        self._load_step()

    def _resorting_steps(self, column: int, order: Qt.SortOrder) -> Iterator[None]:
        """A live re-sort by the kept keys: the new order, then the rows, keys and positions in
        that order a chunk at a time (live updates wait: the rows do not change meanwhile),
        then one layout change."""
        rows, keys = self._rows, self._keys
        assert keys is not None
        yield
        order_ = sorted(range(len(rows)), key=keys.__getitem__, reverse=order == Qt.SortOrder.DescendingOrder)
        yield
        new_rows: list[T] = []
        new_keys: list[Any] = []
        pos: dict[int, int] = {}
        step = LOAD_CHUNK * 2
        for start in range(0, len(order_), step):
            part = order_[start:start + step]
            chunk = list(map(rows.__getitem__, part))
            new_rows.extend(chunk)
            new_keys.extend(map(keys.__getitem__, part))
            pos.update(zip(map(id, chunk), range(start, start + len(chunk))))
            yield
        self._load, self._resorting = None, False
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        held = [(rows[i.row()], i.column()) for i in old]
        self._rows, self._keys, self._keys_column, self._pos = new_rows, new_keys, column, pos
        self.changePersistentIndexList(old, [self.index(pos[id(r)], c) for r, c in held])
        self.layoutChanged.emit()

    def rekey(self, i: int) -> None:
        """Row ``i`` changed in its sorted column: its kept sort key follows (resort() moves it)."""
        if self._keys is not None and 0 <= i < len(self._keys):
            self._keys[i] = self._key_function(self._keys_column)(self._rows[i])

    def position(self, row: T) -> int:
        """The row number of a row object (-1: not in the table)."""
        return self._pos.get(id(row), -1)

    def rows(self) -> list[T]:
        return list(self._rows)

    def row(self, i: int) -> T:
        return self._rows[i]

    def append_rows(self, rows: Sequence[T]) -> None:
        if not rows:
            return
        self._cancel_resort()
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows.extend(rows)
        self._appended(first)
        self.endInsertRows()

    def _appended(self, first: int) -> None:
        """Rows from ``first`` on were appended: positions and keys follow."""
        for i in range(first, len(self._rows)):
            self._pos[id(self._rows[i])] = i
        if self._keys is not None:
            key = self._key_function(self._keys_column)
            self._keys.extend(key(r) for r in self._rows[len(self._keys):])

    def _cancel_resort(self) -> None:
        """The rows change: a sliced re-sort in progress is dropped (the next one redoes it)."""
        if self._resorting:
            self._load, self._resorting = None, False
            self._idle()

    def remove_row(self, i: int) -> None:
        self._cancel_resort()
        self.beginRemoveRows(QModelIndex(), i, i)
        del self._rows[i]
        if self._keys is not None and i < len(self._keys):
            del self._keys[i]
        self._pos = dict(zip(map(id, self._rows), range(len(self._rows))))
        self.endRemoveRows()

    def emit_changes(self, changes: list[tuple[int, int, int]]) -> None:
        """Signal a batch of changed cells, given as (row, first column, last column).

        Rows less than ``SPAN_GAP`` apart share one ``dataChanged`` (the whole batch, when its
        changes are dense): a view repaints only what a range covers on screen, so one range
        over rows 3 to 99,990 would repaint every visible row at every batch, while a few
        hundred scattered changes mostly miss the screen. While ``signal_spans`` is set (a
        filter proxy that re-checks every row of a range, see ``FilterProxy``) only adjacent
        rows share a signal."""
        if not changes:
            return
        gap = 1 if self.signal_spans else SPAN_GAP
        changes.sort()
        top, left, right = changes[0]
        bottom = top
        for row, lo, hi in changes[1:]:
            if row - bottom <= gap:
                bottom, left, right = row, min(left, lo), max(right, hi)
                continue
            self.dataChanged.emit(self.index(top, left), self.index(bottom, right))
            top = bottom = row
            left, right = lo, hi
        self.dataChanged.emit(self.index(top, left), self.index(bottom, right))

    def row_changed(self, i: int) -> None:
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(self.COLUMNS) - 1))

    def find(self, predicate: Callable[[T], bool]) -> int:
        return next((i for i, r in enumerate(self._rows) if predicate(r)), -1)


class FilterProxy(QSortFilterProxyModel):
    """Filters a :class:`RowTableModel` without calling Python per row while no filter is set,
    and leaves sorting to the model (``sort`` is forwarded: one key sort of its rows, kept
    during live updates, instead of the proxy asking ``data()`` for every comparison).

    A text filter (``setFilterFixedString``) matches ``FILTER_ROLE`` (every column's text) case-
    insensitively. While one is set the model signals changes per run of adjacent rows, so a
    live update does not make the proxy re-check every row between two changed ones.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilterKeyColumn(0)
        self.setFilterRole(FILTER_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)  # changed rows are re-filtered; sorting is the model's own

    def setSourceModel(self, model: QAbstractItemModel) -> None:  # noqa: N802
        super().setSourceModel(model)
        self._filter_changed()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        model = self.sourceModel()
        if isinstance(model, RowTableModel):
            model.sort(column, order)
        else:
            super().sort(column, order)

    def setFilterFixedString(self, text: str) -> None:  # noqa: N802
        super().setFilterFixedString(text)
        self._filter_changed()

    def setFilterRegularExpression(self, pattern: Any) -> None:  # noqa: N802
        super().setFilterRegularExpression(pattern)
        self._filter_changed()

    def _filter_changed(self) -> None:
        model = self.sourceModel()
        if isinstance(model, RowTableModel):
            model.signal_spans = bool(self.filterRegularExpression().pattern())
