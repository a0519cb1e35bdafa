"""Tables: rows sorted as the header says (natural order), content-sized columns whose user
widths persist, right-click menus with the page's actions, Ctrl+C as TSV, Delete confirms."""
from __future__ import annotations

import random

import pytest
from PySide6.QtCore import QEvent, QItemSelectionModel, QPoint, QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from ota_desktop.app_events import AppEvents
from ota_desktop.core import dto
from ota_desktop.ui.firmware_page import FirmwarePage
from ota_desktop.ui.live_view import LiveTaskView
from ota_desktop.ui.models.base import SORT_ROLE
from ota_desktop.ui.models.catalog_models import DevicesModel
from ota_desktop.ui.models.records_model import RecordsFilterProxy, RecordsModel
from ota_desktop.ui.products_page import ProductsPage
from ota_desktop.ui.tasks_page import TasksPage
from ota_desktop.ui.widgets import table_view, text_filter_proxy

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE)]

NAMES = ["mtr00002", "mtr00303", "mtr00003", "dev10", "dev2", "Dev1", "mtr00010"]
NATURAL = ["Dev1", "dev2", "dev10", "mtr00002", "mtr00003", "mtr00010", "mtr00303"]


def shown(view, column: int = 0) -> list[str]:
    model = view.model() if hasattr(view, "model") and callable(view.model) else view
    return [model.index(r, column).data() for r in range(model.rowCount())]


def records(names: list[str], uid: str = "uid-s") -> list[dto.DeviceRecord]:
    return [dto.DeviceRecord(id=i + 1, taskUid=uid, deviceName=n, status=202) for i, n in enumerate(names)]


@pytest.fixture
def live_table(qtbot, stub_client, fake_backend):
    uid = "uid-s"
    rows = records(NAMES, uid)
    random.Random(7).shuffle(rows)
    fake_backend.records[uid] = rows
    view = LiveTaskView(stub_client, AppEvents(), dto.Task(9, uid, version="1.0.0", productID="prodA"))
    qtbot.addWidget(view)
    view.resize(1300, 600)
    view.show()
    view.reload()
    qtbot.waitUntil(lambda: view.model.rowCount() == len(NAMES))
    return view


# -- item 5: sorted as indicated, natural order, dataChanged not resets ------------------------
def test_live_table_rows_follow_the_sort_arrow_in_natural_order(qtbot, live_table):
    header = live_table.view.horizontalHeader()
    assert header.isSortIndicatorShown() and header.sortIndicatorSection() == RecordsModel.DEVICE
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    assert shown(live_table.view) == NATURAL  # loaded rows come sorted, not in the server's order
    live_table.view.sortByColumn(RecordsModel.DEVICE, Qt.SortOrder.DescendingOrder)
    assert shown(live_table.view) == NATURAL[::-1]
    live_table.reload()  # a reload keeps the shown order
    qtbot.wait(50)
    assert shown(live_table.view) == NATURAL[::-1]


def test_records_model_updates_with_data_changed_never_a_reset(qtbot):
    model = RecordsModel("T", batch_interval_ms=5)
    proxy = RecordsFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(RecordsModel.DEVICE, Qt.SortOrder.AscendingOrder)
    model.set_rows(records(NAMES, "T"))
    assert [proxy.index(r, 0).data() for r in range(proxy.rowCount())] == NATURAL
    resets, changed = [], []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda a, b, _r=(): changed.append((a.row(), b.row())))
    model.queue_record_events([{"taskUid": "T", "id": 2, "status": 401, "step": 30, "updatedTime": 5}])
    qtbot.waitUntil(lambda: bool(changed), timeout=2000)
    assert resets == [] and len(changed) == 1


def test_text_proxies_sort_names_naturally():
    model = DevicesModel()
    model.set_rows([dto.Device("p", n, "1.0", True, 0) for n in NAMES])
    proxy = text_filter_proxy(model, None)
    proxy.sort(DevicesModel.NAME, Qt.SortOrder.AscendingOrder)
    assert shown(proxy) == NATURAL
    assert model.index(0, DevicesModel.LAST_SEEN).data(SORT_ROLE) == 0  # numbers stay numbers


# -- item 5: columns fit their content; the user's widths persist per table ---------------------
def test_columns_fit_content_at_the_default_size(qtbot, live_table):
    view = live_table.view
    header = view.horizontalHeader()
    for column in (RecordsModel.STATUS, RecordsModel.UPDATED):
        assert header.sectionSize(column) >= view.sizeHintForColumn(column), column
    # the device column is not a stretched giant
    assert header.sectionSize(RecordsModel.DEVICE) < 250


def drag_divider(header, column: int, dx: int) -> None:
    x = header.sectionViewportPosition(column) + header.sectionSize(column) - 1
    y = header.height() // 2
    vp = header.viewport()

    def send(kind, pos, buttons):
        ev = QMouseEvent(kind, QPointF(pos), QPointF(vp.mapToGlobal(pos)), Qt.MouseButton.LeftButton, buttons,
                         Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(vp, ev)

    send(QEvent.Type.MouseButtonPress, QPoint(x, y), Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseMove, QPoint(x + dx // 2, y), Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseMove, QPoint(x + dx, y), Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseButtonRelease, QPoint(x + dx, y), Qt.MouseButton.NoButton)


def test_user_column_widths_and_sort_persist_per_table(qtbot, stub_client, fake_backend, live_table):
    header = live_table.view.horizontalHeader()
    before = header.sectionSize(RecordsModel.CURRENT)
    drag_divider(header, RecordsModel.CURRENT, 90)
    width = header.sectionSize(RecordsModel.CURRENT)
    assert width >= before + 80
    live_table.view.sortByColumn(RecordsModel.STATUS, Qt.SortOrder.DescendingOrder)
    assert QSettings().contains("tables/live_records/header")
    # another live table (a new window) opens with the user's width and sort, also after loading
    other = LiveTaskView(stub_client, AppEvents(), dto.Task(9, "uid-s", version="1.0.0", productID="prodA"))
    qtbot.addWidget(other)
    other.resize(1300, 600)
    other.show()
    other.reload()
    qtbot.waitUntil(lambda: other.model.rowCount() == len(NAMES))
    qtbot.wait(20)
    h2 = other.view.horizontalHeader()
    assert h2.sectionSize(RecordsModel.CURRENT) == width
    assert (h2.sortIndicatorSection(), h2.sortIndicatorOrder()) == (RecordsModel.STATUS,
                                                                   Qt.SortOrder.DescendingOrder)
    # the devices table keeps its own (content-sized) layout
    assert not QSettings().contains("tables/devices/header")


# -- item 14: context menus, Ctrl+C, Delete ----------------------------------------------------
def menu_texts(actions) -> list[tuple[str, bool]]:
    return [(a.text(), a.isEnabled()) for a in actions.build_menu().actions() if not a.isSeparator()]


def select_rows(view, rows) -> None:
    sel, model = view.selectionModel(), view.model()
    for r in rows:
        sel.select(model.index(r, 0), QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)


def test_live_table_menu_and_ctrl_c_copies_rows_with_headers(qtbot, live_table):
    assert menu_texts(live_table.table_actions) == [("&Retry selected", False), ("Cancel selected", False),
                                                    ("Reload", True), ("&Copy rows", False)]
    select_rows(live_table.view, [0, 2])
    assert [e for t, e in menu_texts(live_table.table_actions)] == [True, True, True, True]
    QGuiApplication.clipboard().clear()
    live_table.activateWindow()
    qtbot.waitUntil(lambda: live_table.isActiveWindow())
    live_table.view.setFocus()
    QTest.keyClick(live_table.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    lines = QGuiApplication.clipboard().text().splitlines()
    assert lines[0].split("\t")[:5] == ["Device", "Wave", "Current version", "Target version", "Status"]
    assert [ln.split("\t")[0] for ln in lines[1:]] == ["Dev1", "dev10"]
    assert all(len(ln.split("\t")) == 9 for ln in lines)


def test_products_page_menus_copy_and_delete_key_confirms(qtbot, stub_client, fake_backend, monkeypatch):
    page = ProductsPage(stub_client, AppEvents())
    qtbot.addWidget(page)
    page.show()
    page.reload()
    qtbot.waitUntil(lambda: page.devices_model.rowCount() == 32)
    assert [t for t, _e in menu_texts(page.products_actions)] == [
        "New product…", "Delete product", "Export provisioning…", "&Copy rows"]
    assert [t for t, _e in menu_texts(page.devices_actions)] == [
        "History…", "New device…", "Import CSV…", "Show secret…", "Delete devices", "&Copy rows"]
    select_rows(page.devices_view, [0, 1])
    page.activateWindow()
    qtbot.waitUntil(lambda: page.isActiveWindow())
    page.devices_view.setFocus()
    asked = []

    def no(*args):
        asked.append(args[2])
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", staticmethod(no))
    QTest.keyClick(page.devices_view, Qt.Key.Key_Delete)
    assert asked == ["Delete 2 device(s)? Their unfinished upgrades are cancelled and they can no longer connect."]
    assert len(fake_backend.devices["prodA"]) == 32  # declined: nothing deleted
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a: QMessageBox.StandardButton.Yes))
    QTest.keyClick(page.devices_view, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: len(fake_backend.devices["prodA"]) == 30)
    page.products_view.setFocus()
    QTest.keyClick(page.products_view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text().splitlines()[0] == "Product ID\tName\tDescription"


def test_firmware_and_tasks_pages_have_menus(qtbot, stub_client, fake_backend, monkeypatch):
    fw_page = FirmwarePage(stub_client, AppEvents())
    tasks = TasksPage(stub_client, AppEvents())
    for w in (fw_page, tasks):
        qtbot.addWidget(w)
        w.show()
        w.reload()
    qtbot.waitUntil(lambda: fw_page.model.rowCount() == 1)
    assert [t for t, _e in menu_texts(fw_page.table_actions)] == [
        "Details…", "New task…", "New firmware…", "Delete", "&Copy rows"]
    assert [t for t, _e in menu_texts(tasks.table_actions)] == [
        "Open live view", "Cancel selected", "New task…", "&Copy rows"]
    assert tasks.table_actions.delete_action is None  # tasks are cancelled, not deleted
    fw_page.view.selectRow(0)
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a: asked.append(a[1]) or QMessageBox.StandardButton.No))
    fw_page.activateWindow()
    qtbot.waitUntil(lambda: fw_page.isActiveWindow())
    fw_page.view.setFocus()
    QTest.keyClick(fw_page.view, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: asked == ["Delete firmware"])  # asked once the backend counted its tasks


@pytest.mark.qt_log_ignore(*QT_LOG_IGNORE, "This plugin does not support grabbing the keyboard")
def test_right_click_opens_the_menu(qtbot, live_table):
    view = live_table.view
    QTimer.singleShot(0, lambda: live_table.table_actions.menu and live_table.table_actions.menu.close())
    view.customContextMenuRequested.emit(QPoint(10, 10))
    assert live_table.table_actions.menu is not None
    assert view.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu


def test_plain_table_view_helper_is_untouched():
    # table_view (widgets.py) still works for tables without these extras
    view = table_view(text_filter_proxy(DevicesModel(), None))
    assert view.contextMenuPolicy() == Qt.ContextMenuPolicy.DefaultContextMenu
