"""Small shared widget helpers."""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from .models.base import ROW_ROLE, FilterProxy


def text_filter_proxy(model: QAbstractItemModel, parent: QWidget | None) -> QSortFilterProxyModel:
    """Case-insensitive search over every column (``setFilterFixedString``); a RowTableModel
    sorts its rows itself (natural order by its SORT_ROLE values), see ``FilterProxy``."""
    proxy = FilterProxy(parent)
    proxy.setSourceModel(model)
    return proxy


class TableView(QTableView):
    """A table view that ignores changes to rows it does not show.

    QTableView repaints its whole viewport for a changed range of several rows even when none
    of them is on screen; live tables signal hundreds of such ranges per second, so a range
    outside the visible rows is dropped here (these tables have no editors to refresh)."""

    def dataChanged(self, top_left: QModelIndex | QPersistentModelIndex,  # noqa: N802
                    bottom_right: QModelIndex | QPersistentModelIndex, roles: Sequence[int] = ()) -> None:
        if top_left.row() != bottom_right.row() and top_left.isValid() and not top_left.parent().isValid():
            first = self.rowAt(0)
            last = self.rowAt(self.viewport().height() - 1)
            if first >= 0 and (bottom_right.row() < first or (last >= 0 and top_left.row() > last)):
                return
        super().dataChanged(top_left, bottom_right, list(roles))


def table_view(model: QAbstractItemModel, stretch: int | None = None, multi: bool = False) -> QTableView:
    view = TableView()
    view.setModel(model)
    view.setSortingEnabled(True)
    view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection if multi
                          else QAbstractItemView.SelectionMode.SingleSelection)
    view.setAlternatingRowColors(True)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(24)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setStretchLastSection(stretch is None)
    if stretch is not None:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return view


def selected_rows(view: QTableView) -> list:
    """The row objects of the selected rows, in view order."""
    sel = view.selectionModel()
    if sel is None:
        return []
    return [ix.data(ROW_ROLE) for ix in sorted(sel.selectedRows(), key=lambda i: i.row())]


def current_row(view: QTableView):  # noqa: ANN201
    rows = selected_rows(view)
    return rows[0] if rows else None
