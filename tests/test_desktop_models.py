"""Every table model through qtmodeltester, plus the live records model's batching."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt

from ota_desktop.core import dto
from ota_desktop.core.uploader import UploadFile
from ota_desktop.ui.models.base import ROW_ROLE, SORT_ROLE, VALUE_ROLE
from ota_desktop.ui.models.catalog_models import (
    DevicePickerModel,
    DevicesModel,
    FirmwareFilesModel,
    FirmwareModel,
    ProductsModel,
)
from ota_desktop.ui.models.records_model import RecordsFilterProxy, RecordsModel
from ota_desktop.ui.models.task_models import TasksModel, UploadFilesModel

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE)]


def records(n: int, status: int = 201) -> list[dto.DeviceRecord]:
    return [dto.DeviceRecord(id=i, taskUid="T", deviceName=f"dev-{i:04d}", version="0.9.0", targetVersion="1.0.0",
                             status=status, updatedTime=1000 + i) for i in range(1, n + 1)]


MODELS = {
    "products": (ProductsModel, [dto.Product("p1", "Thermostat", "desc"), dto.Product("p2", "Gateway")]),
    "devices": (DevicesModel, [dto.Device("p1", "d1", "0.9.0", True, 1700000000000),
                               dto.Device("p1", "d2", "0.8.0", False, 0)]),
    "picker": (DevicePickerModel, [dto.Device("p1", "d1", "0.9.0"), dto.Device("p1", "d2", "0.9.0")]),
    "firmware": (FirmwareModel, [dto.Firmware(1, "fw", "1.0.0", "p1", "Thermostat", 1, "md5", 1234, 1700000000000),
                                 dto.Firmware(2, "fw", "1.1.0", "p1", "", 2, "sha256", 0, 0)]),
    "firmware-files": (FirmwareFilesModel, [dto.FirmwareFile("a.zip", "", 10, "abc")]),
    "tasks": (TasksModel, [dto.Task(1, "u1", 1, 1, 2, 1700000000000, 1, "1.0.0"), dto.Task(2, "u2", 2, 2, 4)]),
    "uploads": (UploadFilesModel, [UploadFile("/tmp/a.bin", "a.bin", 100, 50, "", "uploading"),
                                   UploadFile("/tmp/b.bin", "b.bin", 0, 0, "ff", "uploaded")]),
    "records": (RecordsModel, records(5)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_passes_qtmodeltester(qtmodeltester, name):
    cls, rows = MODELS[name]
    model = cls()
    model.set_rows(rows)
    qtmodeltester.check(model, force_py=True)
    for col in range(model.columnCount()):
        assert model.headerData(col, Qt.Orientation.Horizontal)
        for r in range(model.rowCount()):
            model.data(model.index(r, col), SORT_ROLE)
    assert model.data(model.index(0, 0), ROW_ROLE) is rows[0]
    model.set_rows([])
    qtmodeltester.check(model, force_py=True)


def test_records_proxy_passes_qtmodeltester(qtmodeltester):
    model = RecordsModel("T")
    model.set_rows(records(20))
    proxy = RecordsFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_statuses(frozenset({201}))
    proxy.set_text("dev-001")
    qtmodeltester.check(proxy, force_py=True)


def test_records_model_batches_and_signals_only_changed_rows(qtbot):
    model = RecordsModel("T", "p1", "1.0.0", batch_interval_ms=50)
    model.set_rows(records(100))
    changes: list[tuple[int, int]] = []
    columns: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda tl, br, roles=(): (changes.append((tl.row(), br.row())),
                                                        columns.append((tl.column(), br.column()))))
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    events = [{"type": "record", "taskUid": "T", "id": i, "status": 401, "step": 10, "updatedTime": 5000}
              for i in (3, 4, 5, 9, 50)]
    events.append({"type": "record", "taskUid": "OTHER", "id": 7, "status": 501})  # another task: ignored
    model.queue_record_events(events)
    assert changes == [] and model.pending == 5  # nothing applied before the batch timer fires
    qtbot.waitUntil(lambda: model.pending == 0, timeout=2000)
    # one signal per batch for rows close together (3..5 and 9), scattered rows alone: a range
    # repaints what it covers on screen (emit_changes)
    assert changes == [(2, 8), (49, 49)]
    assert set(columns) == {(RecordsModel.STATUS, RecordsModel.UPDATED)}  # only the columns that changed
    assert resets == []
    assert model.status_counts() == {201: 95, 401: 5}
    # while a filter proxy re-checks every row of a changed range: one signal per run of rows
    proxy = RecordsFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_text("dev")
    changes.clear()
    model.queue_record_events([{"type": "record", "taskUid": "T", "id": i, "status": 501, "step": 100,
                                "updatedTime": 6000} for i in (3, 4, 5, 9, 50)])
    qtbot.waitUntil(lambda: model.pending == 0, timeout=2000)
    assert changes == [(2, 4), (8, 8), (49, 49)]  # rows 3..5 as one span; rows 9 and 50 alone
    proxy.set_text("")
    assert not model.signal_spans


def test_records_model_slices_big_bursts_and_keeps_order(qtbot, monkeypatch):
    """A burst bigger than one slice is shown over several turns of the event loop; a proxy
    sorted by a changing column stays sorted because each span changes just before its signal."""
    from ota_desktop.ui.models import records_model

    monkeypatch.setattr(records_model, "FLUSH_BUDGET_S", 0.0)  # one span per slice
    model = RecordsModel("T", batch_interval_ms=10)
    model.set_rows(records(300))
    proxy = RecordsFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(RecordsModel.PROGRESS, Qt.SortOrder.AscendingOrder)
    import random

    rng = random.Random(1)
    steps = {i: rng.randint(1, 99) for i in range(1, 301, 2)}  # every other row: 150 spans
    model.queue_record_events([{"taskUid": "T", "id": i, "status": 401, "step": s, "updatedTime": 9}
                               for i, s in steps.items()])
    flushes = []
    model.summary_changed.connect(lambda: flushes.append(model.pending))
    qtbot.waitUntil(lambda: model.pending == 0, timeout=5000)
    assert len(flushes) > 100 and flushes[0] > 0  # shown over many slices
    shown = [proxy.index(r, RecordsModel.PROGRESS).data(VALUE_ROLE) for r in range(proxy.rowCount())]
    assert shown == sorted(shown) and model.applied_events == 150


def test_records_model_event_details():
    model = RecordsModel("T", "p1", "1.0.0")
    model.set_rows(records(3))
    model.queue_record_events([
        {"taskUid": "T", "id": 1, "status": 601, "step": -2, "desc": "download failed", "updatedTime": 2000},
        {"taskUid": "T", "id": 1, "status": 203, "updatedTime": 3000},  # automatic retry: count + 1
        {"taskUid": "T", "id": 2, "status": 501, "step": 100, "updatedTime": 500},  # older than the row: skipped
        {"taskUid": "T", "id": 9, "deviceName": "dev-new", "status": 201, "updatedTime": 4000},  # dynamic task
    ])
    model.queue_device_events([{"type": "device", "productID": "p1", "deviceName": "dev-0003", "version": "1.0.0"},
                               {"type": "device", "productID": "p2", "deviceName": "dev-0003", "version": "9"}])
    model.flush()
    r1, r2, r3 = (model.record_by_id(i) for i in (1, 2, 3))
    assert (r1.status, r1.step, r1.desc, r1.retryCount) == (203, -2, "download failed", 1)
    assert r2.status == 201
    assert r3.version == "1.0.0"
    new = model.record_by_id(9)
    assert model.rowCount() == 4 and new.targetVersion == "1.0.0" and new.status == 201
    assert model.success_rate() == 0.0
    model.queue_record_events([{"taskUid": "T", "id": i, "status": 501, "updatedTime": 9000} for i in (1, 2, 3, 9)])
    model.flush()
    assert model.success_rate() == 1.0 and model.status_counts() == {501: 4}
    assert model.data(model.index(0, RecordsModel.PROGRESS), VALUE_ROLE) == 100


def test_records_proxy_filters_by_status_and_text_and_sorts_numerically():
    model = RecordsModel("T")
    rows = records(12)
    rows[0].status, rows[0].desc = 601, "Flash error"
    rows[1].status = 501
    rows[2].step, rows[2].status = 9, 401
    rows[3].step, rows[3].status = 45, 401
    model.set_rows(rows)
    proxy = RecordsFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_statuses(frozenset({601}))
    assert proxy.rowCount() == 1
    proxy.set_statuses(None)
    proxy.set_text("flash")
    assert proxy.rowCount() == 1 and proxy.index(0, 0).data() == "dev-0001"
    proxy.set_text("")
    proxy.sort(RecordsModel.PROGRESS, Qt.SortOrder.DescendingOrder)
    assert [proxy.index(i, 0).data() for i in range(3)] == ["dev-0002", "dev-0004", "dev-0003"]
    # live updates re-sort and re-filter through the proxy, the model is not touched
    proxy.set_statuses(frozenset({501}))
    model.queue_record_events([{"taskUid": "T", "id": 5, "status": 501, "updatedTime": 99999}])
    model.flush()
    assert proxy.rowCount() == 2


def test_device_picker_checks_by_name():
    model = DevicePickerModel()
    model.set_rows([dto.Device("p", f"d{i}") for i in range(5)])
    counts = []
    model.checked_changed.connect(counts.append)
    assert model.set_checked(["d1", "d3", "nope"]) == ["nope"]
    assert model.checked_names() == ["d1", "d3"]
    ix = model.index(0, DevicePickerModel.NAME)
    assert model.flags(ix) & Qt.ItemFlag.ItemIsUserCheckable
    assert model.setData(ix, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert model.checked_names() == ["d0", "d1", "d3"]
    assert not model.setData(model.index(0, 1), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    model.clear_checked()
    assert model.checked_names() == [] and counts[-1] == 0
    assert model.rowCount(model.index(0, 0)) == 0 and model.columnCount(QModelIndex()) == 4


def test_tasks_model_counts_and_live_status():
    model = TasksModel()
    model.set_rows([dto.Task(1, "u1", status=2), dto.Task(2, "u2", status=2), dto.Task(3, "u3", status=3)])
    assert model.status_counts() == {2: 2, 3: 1}
    model.apply_task_events([{"type": "task", "taskUid": "u1", "status": 3}, {"taskUid": "zz", "status": 4}])
    assert model.status_counts() == {2: 1, 3: 2}


def test_devices_model_applies_device_events():
    model = DevicesModel()
    model.set_rows([dto.Device("p", "a", "0.9.0", False)])
    model.apply_device_events([{"productID": "p", "deviceName": "a", "version": "1.0.0", "online": True}])
    assert model.row(0).version == "1.0.0" and model.row(0).online


def test_records_model_sorts_itself_and_resorts_live_updates_within_half_a_second(qtbot, qtmodeltester):
    model = RecordsModel("T", batch_interval_ms=10)
    model.set_rows(records(30))
    proxy = RecordsFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(RecordsModel.PROGRESS, Qt.SortOrder.DescendingOrder)
    qtmodeltester.check(model, force_py=True)
    held = proxy.index(5, 0)  # a selected row must stay on its record through re-sorts
    from PySide6.QtCore import QPersistentModelIndex
    keep = QPersistentModelIndex(held)
    name = held.data()
    model.queue_record_events([{"taskUid": "T", "id": 17, "status": 401, "step": 80, "updatedTime": 99999}])
    qtbot.waitUntil(lambda: proxy.index(0, 0).data() == "dev-0017", timeout=2000)
    assert keep.data() == name


def test_records_model_keeps_events_that_arrive_while_its_rows_are_being_fetched(qtbot):
    """A live table asks for its rows (task/device-index) and events keep coming meanwhile. The
    answer is a snapshot from when the backend read it: events flushed onto the table before the
    answer came (into rows made from events, or into the old rows of a reload) may be newer. They
    are applied again on top of the snapshot (older ones are skipped by updatedTime), so the table
    never goes back to what the snapshot says; before, a device that finished in that window stayed
    "upgrading" for good (tests/test_desktop_e2e.py stuck below 100 % on a loaded machine)."""
    model = RecordsModel("T", "p1", "1.0.0", batch_interval_ms=10)
    model.expect_rows()  # the view sent task/device-index
    # events while the answer is on its way: device 1 finishes, device 2 is pushed
    model.queue_record_events([
        {"taskUid": "T", "id": 1, "deviceName": "dev-0001", "status": 401, "step": 50, "updatedTime": 2000},
        {"taskUid": "T", "id": 1, "deviceName": "dev-0001", "status": 501, "step": 100, "updatedTime": 3000},
        {"taskUid": "T", "id": 2, "deviceName": "dev-0002", "status": 301, "updatedTime": 2500},
    ])
    qtbot.waitUntil(lambda: model.pending == 0, timeout=2000)  # flushed: rows made from the events
    assert model.status_counts() == {501: 1, 301: 1}
    # the snapshot, read before those events: device 1 upgrading, device 2 queued, device 3 newer than its event
    snapshot = records(3, status=201)
    snapshot[0].status, snapshot[0].updatedTime = 401, 1500
    snapshot[2].status, snapshot[2].updatedTime = 501, 4000
    model.queue_record_events([{"taskUid": "T", "id": 3, "status": 401, "updatedTime": 3500}])  # older: skipped
    model.load_rows(snapshot)
    qtbot.waitUntil(lambda: not model.is_loading and model.pending == 0, timeout=2000)
    assert {r.id: r.status for r in model.rows()} == {1: 501, 2: 301, 3: 501}
    assert model.status_counts() == {501: 2, 301: 1} and model.rowCount() == 3
    # a reload (resync): events applied to the old rows while the answer comes are kept the same way
    model.expect_rows()
    model.queue_record_events([{"taskUid": "T", "id": 2, "status": 501, "updatedTime": 5000}])
    qtbot.waitUntil(lambda: model.pending == 0, timeout=2000)
    assert model.status_counts() == {501: 3}
    # read before that event: device 2 still pushed
    model.load_rows([dto.DeviceRecord(id=i, taskUid="T", deviceName=f"dev-{i:04d}", status=status, updatedTime=t)
                     for i, status, t in ((1, 501, 3000), (2, 301, 2500), (3, 501, 4000))])
    qtbot.waitUntil(lambda: not model.is_loading and model.pending == 0, timeout=2000)
    assert model.status_counts() == {501: 3}
    # nothing more is awaited: events are applied once and not kept
    model.queue_record_events([{"taskUid": "T", "id": 2, "status": 501, "updatedTime": 6000}])
    qtbot.waitUntil(lambda: model.pending == 0, timeout=2000)
    assert model._replay is None
