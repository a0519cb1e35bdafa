"""Choose devices: search, check boxes (multi-select), and paste a list of names."""
from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..core import dto
from .models.base import FilterProxy
from .models.catalog_models import DevicePickerModel

SPLIT_RE = re.compile(r"[\s,;]+")


def parse_names(text: str) -> list[str]:
    """Device names from pasted text: one per line, or separated by commas, semicolons, spaces."""
    seen, out = set(), []
    for name in SPLIT_RE.split(text):
        if name and name not in seen:
            seen.add(name)
            out.append(name)
    return out


class DevicePicker(QWidget):
    selection_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = DevicePickerModel(self)
        self.proxy = FilterProxy(self)  # the model sorts itself; no Python per row unless filtering
        self.proxy.setSourceModel(self.model)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText(self.tr("Search devices…"))
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(DevicePickerModel.NAME, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.verticalHeader().hide()
        # the name takes what is left; the other columns are sized to their texts (a full "Last
        # seen" time) once per load, not at every check-box change
        self.view.horizontalHeader().setSectionResizeMode(DevicePickerModel.NAME, QHeaderView.ResizeMode.Stretch)
        self.model.loaded.connect(self._fit_columns)
        self.view.setMinimumHeight(150)
        self.view.setWordWrap(False)
        self.view.verticalHeader().setDefaultSectionSize(24)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.check_shown_button = QPushButton(self.tr("Check shown"))
        self.check_shown_button.clicked.connect(self.check_shown)
        self.check_selected_button = QPushButton(self.tr("Check selected"))
        self.check_selected_button.clicked.connect(self.check_selected)
        self.clear_button = QPushButton(self.tr("Uncheck all"))
        self.clear_button.clicked.connect(self.model.clear_checked)
        self.count_label = QLabel()
        self.paste_edit = QPlainTextEdit()
        self.paste_edit.setPlaceholderText(self.tr("Paste device names (one per line or comma separated)"))
        self.paste_edit.setFixedHeight(54)
        self.paste_edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.paste_button = QPushButton(self.tr("Check listed"))
        self.paste_button.clicked.connect(self.check_pasted)
        self.paste_result = QLabel()
        self.paste_result.setWordWrap(True)
        self.model.checked_changed.connect(self._count)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.search_edit)
        lay.addWidget(self.view, 1)
        row = QHBoxLayout()
        for w in (self.check_shown_button, self.check_selected_button, self.clear_button):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.count_label)
        lay.addLayout(row)
        paste_row = QHBoxLayout()
        paste_row.addWidget(self.paste_edit, 1)
        paste_row.addWidget(self.paste_button, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(paste_row)
        lay.addWidget(self.paste_result)
        self._count(0)

    def set_devices(self, devices: list[dto.Device]) -> None:
        self.model.load_rows(devices)  # a big product loads in slices, the dialog stays responsive

    def _fit_columns(self) -> None:
        for column in range(self.model.columnCount()):
            if column != DevicePickerModel.NAME:
                self.view.resizeColumnToContents(column)

    def checked_names(self) -> list[str]:
        return self.model.checked_names()

    def check_shown(self) -> None:
        names = [self.proxy.index(r, 0).data() for r in range(self.proxy.rowCount())]
        self.model.set_checked(names)

    def check_selected(self) -> None:
        rows = {ix.row() for ix in self.view.selectionModel().selectedRows()}
        self.model.set_checked([self.proxy.index(r, 0).data() for r in rows])

    def check_pasted(self) -> None:
        names = parse_names(self.paste_edit.toPlainText())
        unknown = self.model.set_checked(names)
        found = len(names) - len(unknown)
        text = self.tr("%n device(s) checked from the list.", "", found)
        if unknown:
            text += " " + self.tr("Not in this product: %1").replace("%1", ", ".join(unknown[:20]))
            if len(unknown) > 20:
                text += " …"
        self.paste_result.setText(text)

    def _count(self, n: int) -> None:
        self.count_label.setText(self.tr("%n device(s) checked", "", n))
        self.selection_changed.emit(n)
