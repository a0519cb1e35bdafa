"""Firmware list with search; New firmware, details, delete."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ..app_events import AppEvents
from ..core import dto
from ..core.api_client import ApiClient, ApiError
from .confirm import confirm, visible_selected_rows
from .firmware_dialogs import FirmwareDetailDialog, NewFirmwareDialog
from .forms import error_reporter
from .models.catalog_models import FirmwareModel
from .table_actions import ColumnWidths, TableActions
from .widgets import current_row, table_view, text_filter_proxy


class FirmwarePage(QWidget):
    new_task_requested = Signal(int)  # firmwareID

    def __init__(self, client: ApiClient, events: AppEvents, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.events = client, events
        self._counting = False  # asking how many tasks use the firmware to delete
        self._error = error_reporter(events, self.tr("Firmware"))
        self.model = FirmwareModel(self)
        self.proxy = text_filter_proxy(self.model, self)
        self.view = table_view(self.proxy, stretch=FirmwareModel.NAME)
        self.view.doubleClicked.connect(self.show_details)
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText(self.tr("Search name, version, product…"))
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.search_edit.textChanged.connect(self._update_buttons)
        self.new_button = QPushButton(self.tr("New firmware…"))
        self.new_button.clicked.connect(self.new_firmware)
        self.details_button = QPushButton(self.tr("Details…"))
        self.details_button.clicked.connect(self.show_details)
        self.task_button = QPushButton(self.tr("New task…"))
        self.task_button.clicked.connect(self._new_task)
        self.delete_button = QPushButton(self.tr("Delete"))
        self.delete_button.clicked.connect(self.delete_firmware)
        self.table_actions = TableActions(self.view, (
            self.details_button, self.task_button, None, self.new_button, None, self.delete_button),
            delete=self.delete_button)
        self.columns = ColumnWidths(self.view, "firmware")
        top = QHBoxLayout()
        top.addWidget(self.search_edit, 1)
        bottom = QHBoxLayout()
        for b in (self.new_button, self.details_button, self.task_button, self.delete_button):
            bottom.addWidget(b)
        bottom.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.view, 1)
        lay.addLayout(bottom)
        events.firmware_changed.connect(self.reload)
        self._update_buttons()

    def reload(self) -> None:
        self.client.firmwares().then(self._loaded, self._error)

    def _loaded(self, rows: list[dto.Firmware]) -> None:
        self.model.set_rows(rows)
        self._update_buttons()

    def current(self) -> dto.Firmware | None:
        return current_row(self.view)

    def _update_buttons(self) -> None:
        has = self.current() is not None
        for b in (self.details_button, self.task_button):
            b.setEnabled(has)
        self.delete_button.setEnabled(len(visible_selected_rows(self.view)) == 1 and not self._counting)

    def new_firmware(self) -> None:
        self.client.products().then(self._open_new_firmware, self._error)

    def _open_new_firmware(self, products: list[dto.Product]) -> None:
        dlg = NewFirmwareDialog(self.client, products, parent=self)
        dlg.created.connect(lambda _r: self.events.firmware_changed.emit())
        dlg.open()
        self.dialog = dlg

    def show_details(self) -> None:
        fw = self.current()
        if fw is not None:
            self.client.read_firmware(fw.firmwareID).then(lambda d: FirmwareDetailDialog(d, self).exec(),
                                                          self._error)

    def _new_task(self) -> None:
        fw = self.current()
        if fw is not None:
            self.new_task_requested.emit(fw.firmwareID)

    def delete_firmware(self) -> None:
        """Ask the backend how many tasks use the selected firmware (if the search shows it), then
        ask the user, saying so (No is the default)."""
        rows = visible_selected_rows(self.view)  # never a firmware the search hides
        if len(rows) != 1 or self._counting:
            return
        fw: dto.Firmware = rows[0]
        self._counting = True
        self._update_buttons()

        def ask(tasks: int | None) -> None:
            self._counting = False
            self._update_buttons()
            if confirm(self, self.tr("Delete firmware"), self.delete_question(fw, tasks)):
                self.client.delete_firmware(fw.firmwareID).then(lambda _d: self.events.firmware_changed.emit(),
                                                                self._error)

        def not_counted(error: ApiError) -> None:  # not known: the question names the firmware only
            if error.cancelled:
                self._counting = False
                self._update_buttons()
            else:
                ask(None)

        self.client.firmware_task_count(fw.firmwareID).then(ask, not_counted)

    def delete_question(self, fw: dto.Firmware, tasks: int | None) -> str:
        """What Delete asks: the firmware, and how many tasks go with it (None: not known)."""
        if tasks is None:
            return self.tr("Delete firmware %1 %2 with its tasks, records and files?").replace(
                "%1", fw.name).replace("%2", fw.version)
        if tasks == 0:
            text = self.tr("Delete firmware %1 %2 and its files? No task uses it.")
        else:
            text = self.tr("Delete firmware %1 %2? %n task(s) use it: they are deleted with it, with every "
                           "device's upgrade record, and so are its files. This cannot be undone.", "", tasks)
        return text.replace("%1", fw.name).replace("%2", fw.version)
