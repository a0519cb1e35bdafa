"""Small shared widget helpers."""
from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from .models.base import ROW_ROLE, SORT_ROLE


def text_filter_proxy(model: QAbstractItemModel, parent: QWidget) -> QSortFilterProxyModel:
    """Case-insensitive search over every column, sorted by the models' SORT_ROLE."""
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setFilterKeyColumn(-1)
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    proxy.setSortRole(SORT_ROLE)
    return proxy


def table_view(model: QAbstractItemModel, stretch: int | None = None, multi: bool = False) -> QTableView:
    view = QTableView()
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
