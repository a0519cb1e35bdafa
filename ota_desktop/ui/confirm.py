"""Destructive actions: the rows they apply to (only those the filter shows) and a question
that states the impact and defaults to No."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel
from PySide6.QtWidgets import QMessageBox, QTableView, QWidget

from .models.base import ROW_ROLE


def visible_selected_rows(view: QTableView) -> list[Any]:
    """The row objects of the selected rows that the view's filter shows now, in view order.

    The selection is mapped through the proxy to the source rows and each is checked against
    the proxy's filter again: a row hidden by the filter is never acted on, even when it was
    selected before the filter changed."""
    sel = view.selectionModel()
    if sel is None:
        return []
    proxy = view.model()
    out = []
    for ix in sorted(sel.selectedRows(), key=lambda i: i.row()):
        if not ix.isValid():
            continue
        if isinstance(proxy, QSortFilterProxyModel):
            src = proxy.mapToSource(ix)
            if not src.isValid() or not proxy.mapFromSource(src).isValid() \
                    or not proxy.filterAcceptsRow(src.row(), QModelIndex()):
                continue
        out.append(ix.data(ROW_ROLE))
    return [r for r in out if r is not None]


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    """Ask Yes / No about a destructive action; No is the default (Enter and Esc say No)."""
    answer = QMessageBox.question(parent, title, text,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
