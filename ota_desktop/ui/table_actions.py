"""What every table offers: a right-click menu with the page's own actions, Ctrl+C copies the
selected rows (tab-separated, with headers), Delete where the page can delete (its button asks
for confirmation), and columns sized by their content whose user-set widths persist per table."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QByteArray, QEvent, QObject, QPoint, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractButton, QHeaderView, QMenu, QTableView

#: a column sized by its content is never made wider than this (the user may widen it)
MAX_AUTO_WIDTH = 360
SETTINGS_GROUP = "tables"


def _cell_text(value: object) -> str:
    return "" if value is None else " ".join(str(value).split("\n")).replace("\t", " ")


def rows_as_tsv(view: QTableView) -> str:
    """The selected rows (view order) of the shown columns (visual order), headers first."""
    model, header = view.model(), view.horizontalHeader()
    sel = view.selectionModel()
    if model is None or sel is None:
        return ""
    rows = sorted({ix.row() for ix in sel.selectedIndexes()} | {ix.row() for ix in sel.selectedRows()})
    if not rows:
        return ""
    columns = [header.logicalIndex(v) for v in range(header.count())]
    columns = [c for c in columns if not header.isSectionHidden(c)]
    lines = ["\t".join(_cell_text(model.headerData(c, Qt.Orientation.Horizontal)) for c in columns)]
    for r in rows:
        lines.append("\t".join(_cell_text(model.index(r, c).data()) for c in columns))
    return "\n".join(lines) + "\n"


class TableActions(QObject):
    """Context menu, copy and delete for one table view.

    ``buttons`` are the page's buttons for this table, in menu order (None: a separator):
    the menu offers each with its text and enabled state and clicks it, so the menu and the
    buttons never disagree. ``delete`` is the button the Delete key clicks (it confirms).
    """

    def __init__(self, view: QTableView, buttons: Sequence[QAbstractButton | None] = (),
                 delete: QAbstractButton | None = None) -> None:
        super().__init__(view)
        self.view, self.buttons, self.delete_button = view, list(buttons), delete
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._show_menu)
        self.copy_action = QAction(self.tr("&Copy rows"), view)
        self.copy_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.copy_action.triggered.connect(self.copy)
        view.addAction(self.copy_action)
        self.delete_action: QAction | None = None
        if delete is not None:
            self.delete_action = QAction(self.tr("Delete…"), view)
            self.delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
            self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.delete_action.triggered.connect(self.delete)
            view.addAction(self.delete_action)
        self.menu: QMenu | None = None

    def copy(self) -> str:
        text = rows_as_tsv(self.view)
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def delete(self) -> None:
        if self.delete_button is not None and self.delete_button.isEnabled():
            self.delete_button.click()

    def build_menu(self) -> QMenu:
        """The right-click menu as it is now (enabled states follow the buttons)."""
        menu = QMenu(self.view)
        for button in self.buttons:
            if button is None:
                menu.addSeparator()
                continue
            action = menu.addAction(button.text())
            action.setEnabled(button.isEnabled())
            if button is self.delete_button:
                action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
            action.triggered.connect(button.click)
        if self.buttons:
            menu.addSeparator()
        copy = menu.addAction(self.copy_action.text())
        copy.setShortcut(self.copy_action.shortcut())
        copy.setEnabled(self.view.selectionModel() is not None and self.view.selectionModel().hasSelection())
        copy.triggered.connect(self.copy)
        return menu

    def _show_menu(self, pos: QPoint) -> None:
        if self.menu is not None:
            self.menu.deleteLater()
        self.menu = self.build_menu()
        self.menu.popup(self.view.viewport().mapToGlobal(pos))


#: rows content sizing looks at (the visible ones first)
FIT_ROWS = 100


class ColumnWidths(QObject):
    """Columns sized to their content (headers included, at most MAX_AUTO_WIDTH) whenever new
    rows are loaded, the last one filling what is left, until the user sizes or moves a column:
    from then on the user's layout is kept, per table, in QSettings (``tables/<name>/…``); so
    is the sort column and order."""

    def __init__(self, view: QTableView, name: str, qsettings: Callable[[], QSettings] = QSettings,
                 defaults: dict[int, int] | None = None) -> None:
        super().__init__(view)
        self.view, self.name, self._qsettings = view, name, qsettings
        self.defaults = defaults or {}
        self.user_sized = False
        self._pressed = False
        self._changed_by_user = False
        self._fitting = False
        header = self.header
        # content sizing reads the visible rows and a few more, not a thousand of 100,000
        header.setResizeContentsPrecision(FIT_ROWS)
        view.verticalHeader().setResizeContentsPrecision(FIT_ROWS)
        for c in range(header.count()):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        for column, width in self.defaults.items():
            header.resizeSection(column, width)
        self._restore()
        header.sectionResized.connect(self._section_resized)
        header.sectionMoved.connect(self._section_moved)
        header.sortIndicatorChanged.connect(self._sort_changed)
        header.viewport().installEventFilter(self)
        model = view.model()
        self._fit_timer = QTimer(self, singleShot=True, interval=0)
        self._fit_timer.timeout.connect(self.fit)
        model.modelReset.connect(self._fit_timer.start)
        model.rowsInserted.connect(self._rows_inserted)
        # live updates fill cells in (a record's description): columns grow to show them, never shrink
        self._grow_timer = QTimer(self, singleShot=True, interval=250)
        self._grow_timer.timeout.connect(self.grow)
        model.dataChanged.connect(self._data_changed)

    @property
    def header(self) -> QHeaderView:
        return self.view.horizontalHeader()

    def _key(self, what: str) -> str:
        return f"{SETTINGS_GROUP}/{self.name}/{what}"

    # -- fitting -------------------------------------------------------------------------------
    def fit(self) -> None:
        """Size every column by its content (not after the user sized columns)."""
        self._size(grow_only=False)

    def grow(self) -> None:
        """Widen the columns whose content grew (not after the user sized columns)."""
        self._size(grow_only=True)

    def _size(self, grow_only: bool) -> None:
        if self.user_sized or self.view.model() is None:
            return
        header = self.header
        self._fitting = True
        try:
            last = header.logicalIndex(header.count() - 1)  # the last column takes what is left
            for c in range(header.count()):
                if header.isSectionHidden(c) or c == last:
                    continue
                if grow_only:
                    width = min(self.view.sizeHintForColumn(c), MAX_AUTO_WIDTH)
                    if width > header.sectionSize(c):
                        header.resizeSection(c, width)
                else:
                    width = max(self.view.sizeHintForColumn(c), header.sectionSizeHint(c), self.defaults.get(c, 0))
                    header.resizeSection(c, min(width, MAX_AUTO_WIDTH))
        finally:
            self._fitting = False

    def _data_changed(self) -> None:
        if not self.user_sized and self.view.model().rowCount() <= 200 and not self._grow_timer.isActive():
            self._grow_timer.start()

    def _rows_inserted(self) -> None:
        if self.view.model().rowCount() <= 200:  # the first rows of a live table, not every burst
            self._fit_timer.start()

    # -- the user's layout ---------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress:
            self._pressed, self._changed_by_user = True, False
        elif kind == QEvent.Type.MouseButtonRelease:
            self._pressed = False
            if self._changed_by_user:
                self.user_sized = True
                self.save()
        elif kind == QEvent.Type.MouseButtonDblClick:  # a double click on a divider fits that column
            self._changed_by_user = True
        return False

    def _section_resized(self, _column: int, _old: int, _new: int) -> None:
        if self._pressed and not self._fitting:
            self._changed_by_user = True

    def _section_moved(self, *_args: int) -> None:
        if self._pressed:
            self._changed_by_user = True

    def _sort_changed(self, column: int, order: Qt.SortOrder) -> None:
        qs = self._qsettings()
        qs.setValue(self._key("sort_column"), int(column))
        qs.setValue(self._key("sort_order"), int(order.value))

    def save(self) -> None:
        qs = self._qsettings()
        qs.setValue(self._key("columns"), self.header.count())
        qs.setValue(self._key("header"), self.header.saveState())

    def reset(self) -> None:
        """Forget the user's layout: content sizing again."""
        qs = self._qsettings()
        for what in ("columns", "header"):
            qs.remove(self._key(what))
        self.user_sized = False
        self.fit()

    def _restore(self) -> None:
        qs = self._qsettings()
        header = self.header
        state = qs.value(self._key("header"))
        if isinstance(state, QByteArray) and not state.isEmpty() and \
                int(str(qs.value(self._key("columns"), -1))) == header.count():
            sort = header.sortIndicatorSection(), header.sortIndicatorOrder()
            if header.restoreState(state):
                self.user_sized = True
                header.setStretchLastSection(True)
                header.setSortIndicator(*sort)
        column = qs.value(self._key("sort_column"))
        if column is not None and 0 <= int(str(column)) < header.count():
            order = Qt.SortOrder(int(str(qs.value(self._key("sort_order"), 0))))
            self.view.sortByColumn(int(str(column)), order)
