"""Pages against the stub backend: live-view multi-select retry/cancel, products & devices actions."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from ota_desktop.app_events import AppEvents
from ota_desktop.core import dto
from ota_desktop.ui.catalog_dialogs import SecretDialog
from ota_desktop.ui.live_view import LiveTaskView
from ota_desktop.ui.models.records_model import RecordsModel
from ota_desktop.ui.products_page import ProductsPage

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE)]


def select_all(view) -> None:
    sel = view.selectionModel()
    model = view.model()
    for r in range(model.rowCount()):
        sel.select(model.index(r, 0), QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)


@pytest.fixture
def live(qtbot, stub_client, fake_backend):
    uid = "uid-r"
    fake_backend.records[uid] = [
        dto.DeviceRecord(id=1, taskUid=uid, deviceName="a", status=601, step=-2, desc="download failed"),
        dto.DeviceRecord(id=2, taskUid=uid, deviceName="b", status=401, step=50),
        dto.DeviceRecord(id=3, taskUid=uid, deviceName="c", status=501, step=100),
        dto.DeviceRecord(id=4, taskUid=uid, deviceName="d", status=202),
    ]
    view = LiveTaskView(stub_client, AppEvents(), dto.Task(5, uid, version="1.0.0", productID="prodA"))
    qtbot.addWidget(view)
    view.show()
    view.reload()
    qtbot.waitUntil(lambda: view.model.rowCount() == 4)
    return view


def test_live_view_retries_and_cancels_the_selection(qtbot, live, fake_backend, monkeypatch):
    assert not live.retry_button.isEnabled()
    select_all(live.view)
    assert live.retry_button.isEnabled()
    live.retry_button.click()  # 401 and 501 cannot be retried: skipped without asking the backend
    qtbot.waitUntil(lambda: "done" in live.action_label.text())
    assert sorted(fake_backend.retried) == [1, 4]
    assert "2 done" in live.action_label.text() and "2 skipped" in live.action_label.text()
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a: QMessageBox.StandardButton.Yes))
    live.cancel_button.click()  # 501 and 601 cannot be cancelled (asked first: test_desktop_daily)
    qtbot.waitUntil(lambda: "Cancel: " in live.action_label.text())
    assert sorted(fake_backend.cancelled) == [2, 4]


def test_live_view_backend_refusal_is_reported(qtbot, live, fake_backend):
    live.proxy.set_text("a")
    select_all(live.view)
    fake_backend.records["uid-r"][0].status = 401  # changed on the server meanwhile
    live.retry_button.click()
    qtbot.waitUntil(lambda: "failed" in live.action_label.text())
    # the error code's text with the backend's message as the detail
    assert "a: Retry is not allowed: record status does not allow a retry" in live.action_label.text()


def test_live_view_filters_and_summary(live):
    live.status_combo.setCurrentIndex(live.status_combo.findText("Failed"))
    assert live.proxy.rowCount() == 1
    live.status_combo.setCurrentIndex(0)
    live.search_edit.setText("download")
    assert live.proxy.rowCount() == 1
    text = live.summary_label.text()
    assert "4 device(s)" in text and "Succeeded 1" in text and "Failed 1" in text
    assert live.rate_bar.text() == "success 25.0%"
    assert live.view.itemDelegateForColumn(RecordsModel.PROGRESS) is not None


def test_products_page_secret_and_delete(qtbot, stub_client, fake_backend):
    events = AppEvents()
    page = ProductsPage(stub_client, events)
    qtbot.addWidget(page)
    page.show()
    page.reload()
    qtbot.waitUntil(lambda: page.devices_model.rowCount() == 32)
    assert page.current_product().productID == "prodA"
    page.devices_view.selectRow(0)
    assert page.secret_button.isEnabled()

    def close_secret():
        dlg = next(w for w in QApplication.topLevelWidgets() if isinstance(w, SecretDialog) and w.isVisible())
        dlg.copy_button.click()
        dlg.reject()

    QTimer.singleShot(100, close_secret)
    page.secret_button.click()
    qtbot.waitUntil(lambda: QGuiApplication.clipboard().text().startswith("secret-"))

    def confirm():
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
        box.button(QMessageBox.StandardButton.Yes).click()

    QTimer.singleShot(100, confirm)
    page.delete_device_button.click()
    qtbot.waitUntil(lambda: page.devices_model.rowCount() == 31)
    # live device events update the list (applied in batches, see DevicesModel.BATCH_INTERVAL_MS)
    name = page.devices_model.row(0).deviceName
    events.device_events.emit([{"type": "device", "productID": "prodA", "deviceName": name, "version": "2.0.0",
                                "online": False}])
    qtbot.waitUntil(lambda: page.devices_model.row(0).version == "2.0.0", timeout=2000)
    assert not page.devices_model.row(0).online
    page.device_search.setText(name)
    assert page.devices_proxy.rowCount() == 1
    assert page.devices_view.horizontalHeader().sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
