"""Daily work against the stub backend: task progress from statusCount and live events, a
device's OTA history, destructive actions that state their impact (and never touch rows the
filter hides), the firmware form's checks before an upload, the device import's report."""
from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QMessageBox

from ota_desktop.app_events import AppEvents
from ota_desktop.core import dto
from ota_desktop.core.uploader import CODE_LOCAL_FILE, MISSING, FirmwareUploader, LocalFileError, UploadFile
from ota_desktop.ui.catalog_dialogs import DeleteProductDialog, DeviceHistoryDialog, ImportDevicesDialog, csv_problems
from ota_desktop.ui.firmware_dialogs import NewFirmwareDialog
from ota_desktop.ui.firmware_page import FirmwarePage
from ota_desktop.ui.live_view import LiveTaskView
from ota_desktop.ui.models.base import ROW_ROLE, VALUE_ROLE
from ota_desktop.ui.models.catalog_models import DeviceHistoryModel, TaskProgressModel
from ota_desktop.ui.products_page import ProductsPage
from ota_desktop.ui.tasks_page import TasksPage

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE)]

GIB = 1 << 30


def select_all(view) -> None:
    sel, model = view.selectionModel(), view.model()
    for r in range(model.rowCount()):
        sel.select(model.index(r, 0), QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)


def seed_tasks(fake_backend, statuses=(2, 2, 1, 3), counts=None) -> int:
    fw = next(iter(fake_backend.firmwares.values()))
    for tid, status in zip((21, 22, 23, 24), statuses):
        fake_backend.tasks[tid] = {"taskID": tid, "taskUid": f"uid-{tid}", "type": 1, "upgradeType": 1,
                                   "status": status, "createdTime": 1_700_000_000_000 + tid,
                                   "firmwareID": fw.firmwareID,
                                   "statusCount": (counts or {}).get(tid, {"501": 5, "601": 1, "401": 2, "202": 2})}
    return fw.firmwareID


@pytest.fixture
def tasks_page(qtbot, stub_client, fake_backend):
    seed_tasks(fake_backend, counts={21: {"501": 6, "601": 2, "401": 1, "202": 1}})
    page = TasksPage(stub_client, AppEvents())
    qtbot.addWidget(page)
    page.show()
    page.reload()
    qtbot.waitUntil(lambda: page.model.rowCount() == 4)
    return page


def progress_of(page: TasksPage, uid: str):
    row = page.model.find(lambda t: t.taskUid == uid)
    ix = page.model.index(row, TaskProgressModel.PROGRESS)
    return ix.data(VALUE_ROLE), ix.data()


# -- 8: progress of each task ---------------------------------------------------------------------------

def test_task_progress_follows_status_count_and_events(qtbot, tasks_page, fake_backend):
    page = tasks_page
    assert progress_of(page, "uid-21") == ((6, 2, 2, 10), "6 succeeded · 2 failed · 2 pending")
    assert progress_of(page, "uid-22")[0] == (5, 1, 4, 10)
    assert page.view.itemDelegateForColumn(TaskProgressModel.PROGRESS) is not None
    assert page.model.headerData(TaskProgressModel.PROGRESS, page.view.horizontalHeader().orientation()) == "Progress"
    asked = []

    def analysis(body):
        asked.append(body["taskUid"])
        return {"result": '{"501": 8, "601": 2, "701": 0}'}

    fake_backend.r_things_ota_task_analysis = analysis
    resets, changes = [], []
    page.model.modelReset.connect(lambda: resets.append(1))
    page.model.dataChanged.connect(lambda a, b, *_: changes.append((a.row(), a.column(), b.row(), b.column())))
    asked.clear()
    # a burst of record events: one read of the counts for the task, one changed cell
    page.events.record_events.emit([{"type": "record", "taskUid": "uid-21", "id": i, "status": 501}
                                    for i in range(50)])
    page.events.record_events.emit([{"type": "record", "taskUid": "uid-unknown", "id": 1, "status": 501}])
    qtbot.waitUntil(lambda: progress_of(page, "uid-21")[0] == (8, 2, 0, 10), timeout=3000)
    assert asked.count("uid-21") == 1 and "uid-unknown" not in asked
    row = page.model.find(lambda t: t.taskUid == "uid-21")
    assert (row, TaskProgressModel.PROGRESS, row, TaskProgressModel.PROGRESS) in changes
    assert resets == []
    # a task event (aborted) changes its status in place and reads its counts again
    fake_backend.r_things_ota_task_analysis = lambda body: {"result": '{"501": 8, "601": 1, "701": 1}'}
    page.events.task_events.emit([{"type": "task", "taskUid": "uid-21", "taskID": 21, "status": 5}])
    qtbot.waitUntil(lambda: progress_of(page, "uid-21")[0] == (8, 1, 0, 10), timeout=3000)
    assert page.model.row(row).status == 5 and resets == []


# -- 8: a device's history ----------------------------------------------------------------------------

def history_route(fake_backend, n=120):
    entries = [{"recordID": 1000 - i, "taskUid": f"3f1c2a9e-5b7d-4c1e-9a0f-{i:012d}", "targetVersion": "1.0.0",
                "time": 1_700_000_000_000 - i * 60_000, "status": (501, 601, 401, 301)[i % 4],
                "step": (100, -2, 45, 0)[i % 4], "desc": ("upgrade succeeded", "download failed", "upgrading",
                                                         "pushed")[i % 4],
                "retryCount": i % 3, "actor": ("device", "device", "device", "system")[i % 4]} for i in range(n)]
    asked = []

    def route(body):
        asked.append(body)
        page = body["page"]
        start = (page["page"] - 1) * page["size"]
        return {"list": entries[start:start + page["size"]], "total": len(entries)}

    fake_backend.r_things_ota_device_history = route
    return asked


def test_history_dialog_shows_the_devices_entries_a_page_at_a_time(qtbot, stub_client, fake_backend):
    asked = history_route(fake_backend)
    page = ProductsPage(stub_client, AppEvents())
    qtbot.addWidget(page)
    page.show()
    page.reload()
    qtbot.waitUntil(lambda: page.devices_model.rowCount() == 32)
    page.devices_view.selectRow(0)
    assert page.history_button.isEnabled()
    ix = page.devices_view.model().index(0, 0)
    page.devices_view.doubleClicked.emit(ix)
    dlg = page.history_dialog
    assert isinstance(dlg, DeviceHistoryDialog) and dlg.isVisible()
    name = ix.data()
    qtbot.waitUntil(lambda: dlg.model.rowCount() == 50)
    assert asked[-1]["deviceName"] == name and asked[-1]["productID"] == "prodA"
    m = dlg.proxy
    first = [m.index(0, c).data() for c in range(len(DeviceHistoryModel.COLUMNS))]
    assert first[1:] == ["3f1c2a9e…", "1.0.0", "Succeeded", "100%", "upgrade succeeded", "0", "device"]
    assert m.index(1, DeviceHistoryModel.STEP).data() == "Download failed"
    assert m.index(3, DeviceHistoryModel.ACTOR).data() == "system"
    assert "Page 1 of 3" in dlg.page_label.text() and "120" in dlg.page_label.text()
    assert not dlg.newer_button.isEnabled() and dlg.older_button.isEnabled()
    dlg.older_button.click()
    qtbot.waitUntil(lambda: dlg.page == 2 and dlg.older_button.isEnabled())
    dlg.older_button.click()
    qtbot.waitUntil(lambda: dlg.model.rowCount() == 20)
    assert dlg.page == 3 and not dlg.older_button.isEnabled() and dlg.newer_button.isEnabled()
    fake_backend.r_things_ota_device_history = lambda body: {"list": [], "total": 0}
    dlg.load(1)
    qtbot.waitUntil(lambda: dlg.model.rowCount() == 0)
    assert "No OTA upgrades" in dlg.status_label.text()


# -- 9: destructive actions ---------------------------------------------------------------------------

@pytest.fixture
def products_page(qtbot, stub_client, fake_backend):
    page = ProductsPage(stub_client, AppEvents())
    qtbot.addWidget(page)
    page.show()
    page.reload()
    qtbot.waitUntil(lambda: page.devices_model.rowCount() == 32)
    return page


def test_delete_product_states_its_impact_and_asks_for_the_id(qtbot, products_page, stub_client, fake_backend):
    page = products_page
    fake_backend.add_firmware("prodA", "1.1.0")
    page.delete_product_button.click()
    qtbot.waitUntil(lambda: isinstance(getattr(page, "delete_dialog", None), DeleteProductDialog), timeout=3000)
    dlg = page.delete_dialog
    assert dlg.impact_label.text() == "Delete product Thermostat (prodA) with its 32 device(s) and 2 firmware version(s)?"
    assert not dlg.delete_button.isEnabled() and dlg.cancel_button.isDefault()
    dlg.id_edit.setText("prodB")
    assert not dlg.delete_button.isEnabled()
    dlg.accept()  # Enter with the wrong ID: nothing
    assert dlg.isVisible()
    dlg.reject()  # No
    qtbot.wait(20)
    assert "prodA" in fake_backend.products
    assert not any(p.endswith("product/info/delete") for p in stub_client.paths())
    page.delete_product_button.click()
    qtbot.waitUntil(lambda: page.delete_dialog is not dlg, timeout=3000)
    dlg = page.delete_dialog
    dlg.id_edit.setText("prodA")
    assert dlg.delete_button.isEnabled()
    dlg.delete_button.click()
    qtbot.waitUntil(lambda: "prodA" not in fake_backend.products)


def test_delete_devices_never_touches_rows_the_search_hides(qtbot, products_page, fake_backend, monkeypatch):
    page = products_page
    select_all(page.devices_view)
    page.device_search.setText("dev-00")  # dev-001 .. dev-009 stay visible
    assert page.devices_proxy.rowCount() == 9
    asked = []

    def question(parent, title, text, buttons=None, default=None):
        asked.append((text, default))
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    page.delete_device_button.click()
    assert asked[0][1] == QMessageBox.StandardButton.No  # No is the default
    assert asked[0][0].startswith("Delete 9 device(s)?")
    assert len(fake_backend.devices["prodA"]) == 32
    select_all(page.devices_view)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a: QMessageBox.StandardButton.Yes))
    page.delete_device_button.click()
    qtbot.waitUntil(lambda: len(fake_backend.devices["prodA"]) == 23)
    assert not any(n.startswith("dev-00") for n in fake_backend.devices["prodA"])


def test_cancel_selected_tasks_confirms_the_count_and_skips_hidden_rows(qtbot, tasks_page, fake_backend,
                                                                        monkeypatch, stub_client):
    page = tasks_page
    cancelled = []

    def cancel(body):
        cancelled.append(body["taskID"])
        return {}

    fake_backend.r_things_ota_task_cancel = cancel
    select_all(page.view)
    asked = []

    def question(parent, title, text, buttons=None, default=None):
        asked.append((text, default))
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    page.cancel_button.click()  # 21, 22 (upgrading) and 23 (not started); 24 is done
    assert asked == [("Cancel 3 task(s) (21, 22, 23)? Their devices not yet upgraded are cancelled; this cannot "
                      "be undone.", QMessageBox.StandardButton.No)]
    assert cancelled == []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a: QMessageBox.StandardButton.Yes))
    select_all(page.view)
    page.search_edit.setText("uid-21")  # hides 22, 23 and 24, selected as they were
    assert page.proxy.rowCount() == 1
    page.cancel_button.click()
    qtbot.waitUntil(lambda: cancelled == [21])
    qtbot.wait(20)
    assert cancelled == [21]


def ask_no(monkeypatch, asked: list) -> None:
    """QMessageBox.question answers No, noting (title, text, default button)."""
    def question(parent, title, text, buttons=None, default=None):
        asked.append((title, text, default))
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))


def ask_yes(monkeypatch, asked: list) -> None:
    def question(parent, title, text, buttons=None, default=None):
        asked.append((title, text, default))
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))


@pytest.fixture
def live_records(qtbot, stub_client, fake_backend):
    uid = "uid-c"
    statuses = [401, 202, 501, 601, 202, 201, 301, 202]  # 501 and 601 cannot be cancelled
    fake_backend.records[uid] = [
        dto.DeviceRecord(id=i, taskUid=uid, deviceName=f"{'kitchen' if i % 2 else 'hall'}-{i}", status=s,
                         targetVersion="1.0.0")
        for i, s in enumerate(statuses, start=1)]
    view = LiveTaskView(stub_client, AppEvents(), dto.Task(5, uid, version="1.0.0", productID="prodA"))
    qtbot.addWidget(view)
    view.show()
    view.reload()
    qtbot.waitUntil(lambda: view.model.rowCount() == len(statuses))
    return view


def test_cancel_selected_records_states_the_impact_and_no_changes_nothing(qtbot, live_records, fake_backend,
                                                                          monkeypatch, stub_client):
    live = live_records
    select_all(live.view)
    asked: list = []
    ask_no(monkeypatch, asked)
    n = len(stub_client.paths())
    live.cancel_button.click()
    assert len(asked) == 1
    title, text, default = asked[0]
    assert default == QMessageBox.StandardButton.No and title == "Cancel upgrades"
    assert text.startswith("Cancel the upgrade of 6 device(s) (")
    assert "cannot be undone" in text and "2 selected device(s) already finished are left as they are." in text
    assert all(f"-{i}" in text for i in (1, 2, 5, 6, 7, 8))
    assert not any(p.endswith("/device-cancel") for p in stub_client.paths()[n:])
    assert getattr(fake_backend, "cancelled", []) == [] and live.action_label.text() == ""


def test_cancel_selected_records_never_touches_rows_the_filter_hides(qtbot, live_records, fake_backend,
                                                                     monkeypatch):
    live = live_records
    select_all(live.view)  # every row selected, then the filter hides the hall ones
    live.search_edit.setText("kitchen")
    assert live.proxy.rowCount() == 4
    asked: list = []
    ask_yes(monkeypatch, asked)
    live.cancel_button.click()
    qtbot.waitUntil(lambda: "Cancel: " in live.action_label.text())
    assert asked[0][1].startswith("Cancel the upgrade of 3 device(s) (kitchen-1, kitchen-5, kitchen-7)?")
    assert asked[0][1].endswith(" 1 selected device(s) already finished are left as they are.")
    assert sorted(fake_backend.cancelled) == [1, 5, 7]
    assert "3 done, 1 skipped" in live.action_label.text()
    # a status filter too: only the waiting ones it shows
    live.search_edit.clear()
    select_all(live.view)
    live.status_combo.setCurrentIndex(1)  # waiting (queued, device offline, retry due)
    assert live.proxy.rowCount() == 4
    fake_backend.cancelled = []
    live.cancel_button.click()
    qtbot.waitUntil(lambda: len(asked) == 2 and sorted(fake_backend.cancelled) == [2, 5, 6, 8])
    qtbot.wait(20)
    assert sorted(fake_backend.cancelled) == [2, 5, 6, 8]


def test_cancel_selected_records_all_finished_asks_nothing(qtbot, live_records, fake_backend, monkeypatch):
    live = live_records
    live.status_combo.setCurrentIndex(live.status_combo.findText("Succeeded"))
    select_all(live.view)
    asked: list = []
    ask_yes(monkeypatch, asked)
    live.cancel_button.click()
    assert asked == [] and "1 skipped" in live.action_label.text()
    assert getattr(fake_backend, "cancelled", []) == []


@pytest.fixture
def firmware_page(qtbot, stub_client, fake_backend):
    fake_backend.add_firmware("prodA", "1.1.0", "thermo-ui")
    page = FirmwarePage(stub_client, AppEvents())
    qtbot.addWidget(page)
    page.show()
    page.reload()
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    return page


def select_firmware(page: FirmwarePage, version: str) -> None:
    row = next(r for r in range(page.proxy.rowCount()) if page.proxy.index(r, 0).data(ROW_ROLE).version == version)
    page.view.selectRow(row)


def test_delete_firmware_says_how_many_tasks_use_it_and_no_changes_nothing(qtbot, firmware_page, fake_backend,
                                                                            monkeypatch, stub_client):
    page = firmware_page
    fid = seed_tasks(fake_backend, statuses=(3, 3, 4, 5))  # none running: the backend would delete
    asked: list = []
    ask_no(monkeypatch, asked)
    select_firmware(page, "1.0.0")
    assert page.delete_button.isEnabled()
    page.delete_button.click()
    qtbot.waitUntil(lambda: asked != [], timeout=3000)
    assert asked == [("Delete firmware", "Delete firmware thermo 1.0.0? 4 task(s) use it: they are deleted with it, "
                      "with every device's upgrade record, and so are its files. This cannot be undone.",
                      QMessageBox.StandardButton.No)]
    assert [p for p in stub_client.paths() if "task/index" in p] and fid in fake_backend.firmwares
    assert not any(p.endswith("/firmware/delete") for p in stub_client.paths())
    assert page.delete_button.isEnabled()  # asked again later, it can be
    # a firmware no task uses
    select_firmware(page, "1.1.0")
    page.delete_button.click()
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=3000)
    assert asked[1][1] == "Delete firmware thermo-ui 1.1.0 and its files? No task uses it."
    # Yes deletes it (and the list reloads without it)
    ask_yes(monkeypatch, asked)
    page.delete_button.click()
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=3000)
    assert fid in fake_backend.firmwares and len(fake_backend.firmwares) == 1


def test_delete_firmware_never_acts_on_a_row_the_search_hides(qtbot, firmware_page, fake_backend, monkeypatch,
                                                              stub_client):
    page = firmware_page
    asked: list = []
    ask_yes(monkeypatch, asked)
    select_firmware(page, "1.0.0")
    page.search_edit.setText("no such firmware")  # hides every row, 1.0.0 selected before
    assert page.proxy.rowCount() == 0 and not page.delete_button.isEnabled()
    page.delete_firmware()  # the Delete key's action too
    qtbot.wait(50)
    assert asked == [] and len(fake_backend.firmwares) == 2
    page.search_edit.clear()
    select_firmware(page, "1.0.0")
    page.search_edit.setText("thermo-ui")  # hides 1.0.0: what is shown selected (if anything) is what goes
    assert page.proxy.rowCount() == 1
    page.delete_firmware()
    qtbot.wait(50)
    assert all("1.0.0" not in text for _t, text, _d in asked)
    assert any(f.version == "1.0.0" for f in fake_backend.firmwares.values())


def test_delete_firmware_without_a_task_count_names_the_firmware(qtbot, firmware_page, fake_backend, monkeypatch):
    from ota_desktop.core.api_client import ApiError

    page = firmware_page
    fake_backend.fail_next["things/ota/task/index"] = ApiError(100001, "firmwareID: not supported", 400)
    asked: list = []
    ask_no(monkeypatch, asked)
    select_firmware(page, "1.0.0")
    page.delete_button.click()
    qtbot.waitUntil(lambda: asked != [], timeout=3000)
    assert asked[0][1] == "Delete firmware thermo 1.0.0 with its tasks, records and files?"
    assert asked[0][2] == QMessageBox.StandardButton.No and len(fake_backend.firmwares) == 2


# -- 10: the firmware form's checks before an upload ------------------------------------------------------

def firmware_form(qtbot, stub_client, fake_backend, tmp_path, files):
    dlg = NewFirmwareDialog(stub_client, list(fake_backend.products.values()), "prodA")
    qtbot.addWidget(dlg)
    dlg.show()
    paths = []
    for name, size in files:
        p = tmp_path / name
        p.write_bytes(b"x" * size)
        paths.append(str(p))
    with qtbot.waitSignal(dlg.add_files(paths).finished):
        pass
    dlg.name_edit.setText("thermo")
    dlg.version_edit.setText("2.0.0")
    return dlg, paths


def uploads(stub_client) -> list[str]:
    return [p for p in stub_client.paths() if "upload-url" in p or p.startswith("PUT ") or p.endswith("create")]


def test_firmware_form_refuses_empty_files_by_name(qtbot, stub_client, fake_backend, tmp_path):
    dlg, _ = firmware_form(qtbot, stub_client, fake_backend, tmp_path, [("app.bin", 10), ("empty-config.json", 0)])
    dlg.create_button.click()
    assert dlg.errors.errors() == {"files": "Empty files (0 bytes) cannot be firmware; remove them: empty-config.json"}
    assert stub_client.calls == []


def test_firmware_form_names_a_missing_file(qtbot, stub_client, fake_backend, tmp_path):
    dlg, paths = firmware_form(qtbot, stub_client, fake_backend, tmp_path, [("app.bin", 10), ("ui.zip", 5)])
    os.unlink(paths[1])  # gone since it was added
    dlg.create_button.click()
    qtbot.waitUntil(lambda: "files" in dlg.errors.errors(), timeout=3000)
    assert dlg.errors.errors() == {"files": f"file not found: {paths[1]}"}
    assert "backend" not in dlg.errors.errors()["files"]
    assert uploads(stub_client) == [] and dlg.create_button.isEnabled() and not dlg.uploader.running
    # the same file chosen while missing: named, not added
    with qtbot.waitSignal(dlg.add_files([paths[1]]).finished):
        pass
    assert dlg.errors.errors() == {"files": f"file not found: {paths[1]}"} and dlg.files_model.rowCount() == 2
    # an empty file found at Upload (emptied since it was added)
    open(paths[1], "wb").close()
    open(paths[0], "wb").close()
    dlg.create_button.click()
    qtbot.waitUntil(lambda: "Empty files" in dlg.errors.errors().get("files", ""), timeout=3000)
    assert "app.bin, ui.zip" in dlg.errors.errors()["files"] and uploads(stub_client) == []


def test_firmware_form_refuses_a_version_the_product_has(qtbot, stub_client, fake_backend, tmp_path):
    dlg, _ = firmware_form(qtbot, stub_client, fake_backend, tmp_path, [("app.bin", 10)])
    existing = next(iter(fake_backend.firmwares.values()))
    dlg.version_edit.setText(existing.version)
    dlg.create_button.click()
    qtbot.waitUntil(lambda: "version" in dlg.errors.errors(), timeout=3000)
    text = dlg.errors.errors()["version"]
    assert text.startswith(f"Version {existing.version} already exists for this product: firmware “thermo” "
                           f"(ID {existing.firmwareID}, created ")
    index = [b for p, b in stub_client.calls if p.endswith("firmware/index")]
    assert index[-1]["productID"] == "prodA" and index[-1]["name"] == existing.version
    assert uploads(stub_client) == [] and dlg.name_edit.isEnabled()
    dlg.version_edit.setText("2.0.0")  # free: the upload goes ahead
    with qtbot.waitSignal(dlg.created, timeout=10_000):
        dlg.create_button.click()


def test_uploader_says_file_not_found_not_cannot_reach_the_backend(qtbot, stub_client, tmp_path):
    from ota_desktop.core.api_client import CODE_NETWORK, ApiError

    uploader = FirmwareUploader(stub_client)
    failed = []
    uploader.failed.connect(failed.append)
    missing = str(tmp_path / "gone.bin")
    uploader.start(dto.NewFirmware("prodA", "x", "2.0.0"), [UploadFile(missing, "gone.bin", 10)])
    qtbot.waitUntil(lambda: bool(failed), timeout=3000)
    assert isinstance(failed[0], LocalFileError) and failed[0].kind == MISSING and failed[0].path == missing
    assert failed[0].code == CODE_LOCAL_FILE
    # put_file's own open failure is mapped too
    uploader._running, uploader.files, uploader._index = True, [UploadFile(missing, "gone.bin", 10)], 0
    uploader._on_put_failed(uploader.files[0], ApiError(CODE_NETWORK, f"{missing}: No such file or directory"))
    assert isinstance(failed[-1], LocalFileError) and failed[-1].kind == MISSING


def test_overall_progress_above_2_gib(qtbot, stub_client, fake_backend):
    dlg = NewFirmwareDialog(stub_client, list(fake_backend.products.values()), "prodA")
    qtbot.addWidget(dlg)
    dlg.uploader.overall_progress.emit(3 * GIB // 2, 3 * GIB)  # through the signal: no int32 on the way
    assert dlg.overall_bar.value() == 500
    assert dlg.overall_bar.text() == "50%  (1.50 GiB / 3.00 GiB)"
    dlg.uploader.overall_progress.emit(3 * GIB, 3 * GIB)
    assert dlg.overall_bar.text() == "100%  (3.00 GiB / 3.00 GiB)"
    dlg.uploader.overall_progress.emit(0, 5 * GIB)
    assert dlg.overall_bar.text() == "0%  (0 / 5.00 GiB)"


# -- 10: device import ------------------------------------------------------------------------------------

def test_import_lists_every_bad_line(qtbot, stub_client):
    dlg = ImportDevicesDialog(stub_client, "prodB")
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.text_edit.setPlainText("deviceName,version\nok-1,1.0.0\nbad name,1.0\nok-2,\n=cmd,1.0\nok-1,1.0.0\n")
    dlg.ok_button.click()
    text = dlg.errors.errors()["csv"]
    assert text.splitlines() == [
        "4 line(s) cannot be imported:",
        'Line 3: device name "bad name": use 1-64 letters, digits, _ . - only',
        "Line 4: no version (the version the device runs now)",
        "Line 5: starts with '=', which a spreadsheet would run as a formula",
        "Line 6: device name repeated (first on line 2)"]
    assert not dlg.problems_view.isVisible() and stub_client.calls == []
    dlg.text_edit.setPlainText("".join(f"bad name {i},1\n" for i in range(12)))
    dlg.ok_button.click()
    assert dlg.errors.errors()["csv"] == "12 line(s) cannot be imported; each is listed below:"
    listed = dlg.problems_view.toPlainText().splitlines()
    assert dlg.problems_view.isVisible() and len(listed) == 12
    assert listed[0] == 'Line 1: device name "bad name 0": use 1-64 letters, digits, _ . - only'
    dlg.text_edit.setPlainText("bad name,\n")  # two problems on one line: one line
    dlg.ok_button.click()
    assert dlg.errors.errors()["csv"].splitlines() == [
        "1 line(s) cannot be imported:",
        'Line 1: device name "bad name": use 1-64 letters, digits, _ . - only; '
        "no version (the version the device runs now)"]
    dlg.text_edit.setPlainText("a-1,1.0\n")  # fixed: the errors go as you type
    assert dlg.errors.errors() == {} and not dlg.problems_view.isVisible()


def test_csv_problems_reads_header_columns_in_any_order():
    assert csv_problems("version,deviceName\n1.0,dev-1\n") == (None, [])
    assert csv_problems("x,deviceName,version\n1,dev-1,\n")[1] == [(2, "no-version", "")]
    assert csv_problems("dev-1\n\n\ndev-2,1.0,bad secret\n")[1] == [(1, "no-version", ""), (4, "bad-secret", "")]
    assert csv_problems("deviceName,version\n") == ("empty", [])


def test_import_skips_devices_that_exist(qtbot, stub_client, fake_backend):
    dlg = ImportDevicesDialog(stub_client, "prodA")
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.text_edit.setPlainText("deviceName,version\ndev-001,1.0.0\nnew-1,1.0.0\ndev-002,1.0.0\nnew-2,1.0.0\n")
    dlg.skip_check.setChecked(True)
    dlg.ok_button.click()
    qtbot.waitUntil(lambda: dlg.result() == dlg.DialogCode.Accepted, timeout=5000)
    assert [d.deviceName for d in dlg.result_data] == ["new-1", "new-2"] and dlg.skipped == 2
    body = next(b for p, b in stub_client.calls if p.endswith("device/info/import"))
    assert body["csv"] == "deviceName,version\nnew-1,1.0.0\nnew-2,1.0.0\n"
    # every device exists: nothing is sent
    dlg = ImportDevicesDialog(stub_client, "prodA")
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.text_edit.setPlainText("dev-001,1.0.0\nnew-1,1.0.0\n")
    dlg.skip_check.setChecked(True)
    calls = len(stub_client.calls)
    dlg.ok_button.click()
    qtbot.waitUntil(lambda: "" in dlg.errors.errors(), timeout=5000)
    assert dlg.errors.errors()[""] == "All 2 device(s) already exist: nothing to import."
    assert not any(p.endswith("device/info/import") for p, _b in stub_client.calls[calls:])


def test_put_file_of_a_missing_file_fails_to_handlers_connected_after_the_call(qtbot, tmp_path):
    """The real client: a file it cannot open fails the call later, so the uploader's handlers
    (connected to the call put_file returns) hear it (before, the upload waited forever)."""
    from ota_desktop.core.api_client import ApiClient

    client = ApiClient()
    client.set_endpoint("http://127.0.0.1:9", "t")
    failed = []
    client.put_file("/api/v1/oss/ithings-temporary/x", str(tmp_path / "gone.bin")).then(None, failed.append)
    qtbot.waitUntil(lambda: bool(failed), timeout=2000)
    assert "gone.bin" in failed[0].msg
