"""Products and their devices: list, add, import, delete, secret on request."""
from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..app_events import AppEvents
from ..core import dto
from ..core.api_client import ApiClient, ApiError
from ..core.provisioning import provisioning_rows, write_provisioning
from ..core.workers import run_in_pool
from ..ports import Endpoints
from .catalog_dialogs import (
    DeleteProductDialog,
    DeviceDialog,
    DeviceHistoryDialog,
    ImportDevicesDialog,
    ImportedSecretsDialog,
    ProductDialog,
    SecretDialog,
)
from .confirm import confirm, visible_selected_rows
from .forms import api_error_text, error_reporter
from .models.catalog_models import DevicesModel, ProductsModel
from .table_actions import ColumnWidths, TableActions
from .widgets import current_row, table_view, text_filter_proxy


class ProductsPage(QWidget):
    #: a provisioning export finished: (path, number of devices) or failed: ("", -1)
    exported = Signal(str, int)

    def __init__(self, client: ApiClient, events: AppEvents, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.events = client, events
        #: where devices reach the backend (the main window sets the connection's)
        self.endpoints = lambda: Endpoints(self.client.base_url, "", 0)
        self._error = error_reporter(events, self.tr("Products"))
        self.products_model = ProductsModel(self)
        self.products_proxy = text_filter_proxy(self.products_model, self)
        self.products_view = table_view(self.products_proxy, stretch=ProductsModel.DESC)
        self.products_view.selectionModel().selectionChanged.connect(self._product_selected)
        self.devices_model = DevicesModel(self)
        self.devices_proxy = text_filter_proxy(self.devices_model, self)
        self.devices_view = table_view(self.devices_proxy, stretch=DevicesModel.NAME, multi=True)
        self.devices_view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.devices_view.doubleClicked.connect(self.show_history)

        self.add_product_button = QPushButton(self.tr("New product…"))
        self.add_product_button.clicked.connect(self.add_product)
        self.delete_product_button = QPushButton(self.tr("Delete product"))
        self.delete_product_button.clicked.connect(self.delete_product)
        self.add_device_button = QPushButton(self.tr("New device…"))
        self.add_device_button.clicked.connect(self.add_device)
        self.import_button = QPushButton(self.tr("Import CSV…"))
        self.import_button.clicked.connect(self.import_devices)
        self.export_button = QPushButton(self.tr("Export provisioning…"))
        self.export_button.setToolTip(self.tr("Write every device of the product with its secret, broker "
                                              "host:port and HTTP URL to a CSV or JSON file"))
        self.export_button.clicked.connect(self.export_provisioning)
        self.secret_button = QPushButton(self.tr("Show secret…"))
        self.secret_button.clicked.connect(self.show_secret)
        self.history_button = QPushButton(self.tr("History…"))
        self.history_button.setToolTip(self.tr("The device's upgrades across every task (double-click a device)"))
        self.history_button.clicked.connect(self.show_history)
        self.delete_device_button = QPushButton(self.tr("Delete devices"))
        self.delete_device_button.clicked.connect(self.delete_devices)
        self.products_actions = TableActions(self.products_view, (
            self.add_product_button, self.delete_product_button, None, self.export_button),
            delete=self.delete_product_button)
        self.devices_actions = TableActions(self.devices_view, (
            self.history_button, self.add_device_button, self.import_button, self.secret_button, None,
            self.delete_device_button),
            delete=self.delete_device_button)
        self.products_columns = ColumnWidths(self.products_view, "products")
        self.devices_columns = ColumnWidths(self.devices_view, "devices")
        self.device_search = QLineEdit()
        self.device_search.setPlaceholderText(self.tr("Search devices…"))
        self.device_search.setClearButtonEnabled(True)
        self.device_search.textChanged.connect(self.devices_proxy.setFilterFixedString)
        self.device_search.textChanged.connect(self._update_buttons)
        self.devices_title = QLabel()

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel(self.tr("<b>Products</b>")))
        ll.addWidget(self.products_view, 1)
        row = QHBoxLayout()
        row.addWidget(self.add_product_button)
        row.addWidget(self.delete_product_button)
        row.addStretch(1)
        ll.addLayout(row)
        row = QHBoxLayout()  # a row of its own: the page stays as narrow as before
        row.addWidget(self.export_button)
        row.addStretch(1)
        ll.addLayout(row)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.devices_title)
        top.addStretch(1)
        top.addWidget(self.device_search)
        rl.addLayout(top)
        rl.addWidget(self.devices_view, 1)
        row = QHBoxLayout()
        for b in (self.add_device_button, self.import_button, self.history_button, self.secret_button,
                  self.delete_device_button):
            row.addWidget(b)
        row.addStretch(1)
        rl.addLayout(row)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 2)
        split.setSizes([380, 800])
        lay = QVBoxLayout(self)
        lay.addWidget(split)
        events.device_events.connect(self.devices_model.queue_device_events)
        events.products_changed.connect(self.reload)
        self._update_buttons()

    # -- loading -------------------------------------------------------------------------------
    def reload(self) -> None:
        keep = self.current_product()
        self.client.products().then(lambda rows: self._products_loaded(rows, keep), self._error)

    def _products_loaded(self, rows: list[dto.Product], keep: dto.Product | None) -> None:
        self.products_model.set_rows(rows)  # columns fit their content (ColumnWidths)
        if not self.select_product(keep.productID if keep else ""):
            if self.products_proxy.rowCount():
                self.products_view.selectRow(0)
            else:
                self._product_selected()

    def select_product(self, product_id: str) -> bool:
        for r in range(self.products_proxy.rowCount()):
            if self.products_proxy.index(r, ProductsModel.ID).data() == product_id:
                self.products_view.selectRow(r)
                return True
        return False

    def current_product(self) -> dto.Product | None:
        return current_row(self.products_view)

    def _product_selected(self) -> None:
        product = self.current_product()
        self.devices_model.set_rows([])
        self.devices_title.setText(self.tr("<b>Devices of %1</b>").replace(
            "%1", product.productName or product.productID) if product else self.tr("<b>Devices</b>"))
        if product is not None:
            self.client.devices(product.productID).then(
                partial(self._devices_loaded, product.productID), self._error)
        self._update_buttons()

    def _devices_loaded(self, product_id: str, rows: list[dto.Device]) -> None:
        product = self.current_product()
        if product is not None and product.productID == product_id:
            self.devices_model.load_rows(rows)  # sorted and indexed in slices: the GUI keeps turning
            self.devices_title.setText(self.tr("<b>Devices of %1</b> (%2)").replace(
                "%1", product.productName or product_id).replace("%2", str(len(rows))))
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_product = self.current_product() is not None
        n = len(visible_selected_rows(self.devices_view))
        self.delete_product_button.setEnabled(has_product and not getattr(self, "_counting", False))
        self.add_device_button.setEnabled(has_product)
        self.import_button.setEnabled(has_product)
        self.export_button.setEnabled(has_product and not getattr(self, "_exporting", False))
        self.secret_button.setEnabled(n == 1)
        self.history_button.setEnabled(n == 1)
        self.delete_device_button.setEnabled(n > 0)

    # -- actions -------------------------------------------------------------------------------
    def add_product(self) -> None:
        dlg = ProductDialog(self.client, self)
        if dlg.exec():
            self.events.products_changed.emit()

    def delete_product(self) -> None:
        """Ask the backend what the product takes with it, then ask the user (who types its ID)."""
        product = self.current_product()
        if product is None:
            return
        self._counting = True
        self._update_buttons()

        def counted(counts: dict[str, int]) -> None:
            self._counting = False
            self._update_buttons()
            self._confirm_delete(product, counts)

        def failed(error: ApiError) -> None:
            self._counting = False
            self._update_buttons()
            self._error(error)

        self.client.product_counts(product.productID).then(counted, failed)

    def _confirm_delete(self, product: dto.Product, counts: dict[str, int]) -> None:
        dlg = DeleteProductDialog(product, counts.get("devices", 0), counts.get("firmware", 0), self)
        dlg.accepted.connect(lambda: self.client.delete_product(product.productID).then(
            lambda _d: self.events.products_changed.emit(), self._error))
        self.delete_dialog = dlg
        dlg.open()

    def add_device(self) -> None:
        product = self.current_product()
        if product is None:
            return
        dlg = DeviceDialog(self.client, product.productID, self)
        if dlg.exec():
            self._product_selected()
            if isinstance(dlg.result_data, dto.Device) and dlg.result_data.deviceSecret:
                SecretDialog(dlg.result_data, self).exec()

    def import_devices(self) -> None:
        product = self.current_product()
        if product is None:
            return
        dlg = ImportDevicesDialog(self.client, product.productID, self)
        if dlg.exec():
            created = dlg.result_data if isinstance(dlg.result_data, list) else []
            self._product_selected()
            if dlg.skipped:
                self.events.notice.emit(self.tr("%n device(s) imported; %1 already existed and were left as they are.",
                                                "", len(created)).replace("%1", str(dlg.skipped)))
            if created:
                ImportedSecretsDialog(created, self).exec()

    def export_provisioning(self) -> None:
        """Ask where (the filter chooses CSV or JSON), then export the current product's devices."""
        product = self.current_product()
        if product is None:
            return
        csv_filter, json_filter = self.tr("CSV (*.csv)"), self.tr("JSON (*.json)")
        path, chosen = QFileDialog.getSaveFileName(self, self.tr("Export provisioning"),
                                                   f"{product.productID}-provisioning.csv",
                                                   f"{csv_filter};;{json_filter}")
        if not path:
            return
        fmt = "json" if chosen == json_filter or (chosen != csv_filter and path.lower().endswith(".json")) else "csv"
        if not path.lower().endswith("." + fmt):
            path += "." + fmt
        self.export_to(product.productID, path, fmt)

    def export_to(self, product_id: str, path: str, fmt: str) -> None:
        """Fetch every device with its secret (async, all pages), write the file on the pool."""
        self._exporting = True
        self._update_buttons()
        ends = self.endpoints()

        def failed(message: str) -> None:
            self._exporting = False
            self._update_buttons()
            self.events.error.emit(self.tr("Export provisioning"), message)
            self.exported.emit("", -1)

        def written(count: int) -> None:
            self._exporting = False
            self._update_buttons()
            self.events.notice.emit(self.tr("%n device(s) exported to %1", "", count).replace("%1", path))
            self.exported.emit(path, count)

        def fetched(devices: list[dto.Device]) -> None:
            rows = provisioning_rows(devices, ends.mqtt_host, ends.mqtt_port, ends.base_url)
            run_in_pool(write_provisioning, path, fmt, rows, product_id).then(written, failed)

        self.client.devices_with_secrets(product_id).then(fetched, lambda e: failed(api_error_text(e)))

    def show_history(self) -> None:
        """The selected device's OTA history across tasks (loaded in the background)."""
        rows = visible_selected_rows(self.devices_view)
        if len(rows) != 1:
            return
        dlg = DeviceHistoryDialog(self.client, rows[0], self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.history_dialog = dlg
        dlg.show()
        dlg.load(1)

    def show_secret(self) -> None:
        rows = visible_selected_rows(self.devices_view)
        if len(rows) != 1:
            return
        device: dto.Device = rows[0]
        self.client.read_device(device.productID, device.deviceName).then(
            lambda d: SecretDialog(d, self).exec(), self._error)

    def delete_devices(self) -> None:
        rows = visible_selected_rows(self.devices_view)  # never a device the search hides
        if not rows or not confirm(self, self.tr("Delete devices"), self.tr(
                "Delete %n device(s)? Their unfinished upgrades are cancelled and they can no longer connect.",
                "", len(rows))):
            return
        pending = {"n": len(rows)}

        def one_done(_d: object = None) -> None:
            pending["n"] -= 1
            if pending["n"] == 0:
                self._product_selected()

        def one_failed(error: ApiError) -> None:
            self._error(error)
            one_done()

        for d in rows:
            self.client.delete_device(d.productID, d.deviceName).then(one_done, one_failed)
