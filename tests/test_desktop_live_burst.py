"""Big tables under a burst of live events (issue 12): rows loaded in slices, events applied in
batches with dataChanged (never a reset), found by key, the visible rows showing the latest
state. Behaviour only: the timings are benchmarks/desktop_events.py's."""
from __future__ import annotations

import random

import pytest
from PySide6.QtCore import Qt

from ota_desktop.app_events import AppEvents
from ota_desktop.core import dto
from ota_desktop.ui.live_view import LiveTaskView
from ota_desktop.ui.models.base import VALUE_ROLE
from ota_desktop.ui.models.catalog_models import DevicesModel
from ota_desktop.ui.models.records_model import RecordsModel
from ota_desktop.ui.status import record_status_text
from ota_desktop.ui.widgets import table_view, text_filter_proxy

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE)]

ROWS = 20_000
UID = "T-burst"


class Signals:
    def __init__(self, model) -> None:
        self.resets = self.changed = self.layouts = 0
        model.modelReset.connect(self._reset)
        model.dataChanged.connect(self._changed)
        model.layoutChanged.connect(self._layout)

    def _reset(self) -> None:
        self.resets += 1

    def _changed(self, *_args: object) -> None:
        self.changed += 1

    def _layout(self, *_args: object) -> None:
        self.layouts += 1


def records(n: int) -> list[dto.DeviceRecord]:
    rows = [dto.DeviceRecord(id=i, taskUid=UID, deviceName=f"dev-{i:06d}", version="0.9.0", targetVersion="1.0.0",
                             status=201, updatedTime=1) for i in range(1, n + 1)]
    random.Random(5).shuffle(rows)  # the server's order is not the table's
    return rows


def test_live_table_loads_in_slices_and_shows_the_latest_status_after_a_burst(qtbot, stub_client):
    events = AppEvents()
    view = LiveTaskView(stub_client, events, dto.Task(1, UID, version="1.0.0", productID="prodA"))
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    model = view.model
    loads = []
    model.loaded.connect(lambda: loads.append(model.rowCount()))
    model.load_rows(records(ROWS))
    assert model.is_loading and model.rowCount() == 0  # sliced: the event loop turns meanwhile
    # events arriving while the rows load wait for them
    events.dispatch([{"type": "record", "taskUid": UID, "id": 1, "status": 401, "step": 5, "updatedTime": 10}])
    qtbot.waitUntil(lambda: loads == [ROWS] and model.pending == 0, timeout=20_000)
    assert view.proxy.index(0, 0).data() == "dev-000001"  # sorted by device, natural order
    assert model.record_by_id(1).step == 5

    seen = Signals(model)
    rng = random.Random(9)
    latest: dict[int, int] = {}
    for burst in range(20):  # 20 deliveries of 200 events, as the events stream batches them
        batch = []
        for k in range(200):
            rid = rng.randint(1, 40) if k % 4 == 0 else rng.randint(1, ROWS)  # some on screen
            status = rng.choice((401, 501, 601, 203))
            latest[rid] = status
            batch.append({"type": "record", "taskUid": UID, "id": rid, "deviceName": f"dev-{rid:06d}",
                          "status": status, "step": 50, "updatedTime": 100 + burst * 200 + k})
        events.dispatch(batch)
    qtbot.waitUntil(lambda: model.pending == 0, timeout=10_000)
    assert seen.resets == 0 and seen.changed > 0
    for r in range(40):  # the visible rows show the latest status of their record
        rec = view.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole + 1)
        if rec.id in latest:
            shown = view.proxy.index(r, RecordsModel.STATUS).data()
            assert shown == record_status_text(latest[rec.id]), rec.id
    assert model.applied_events == 4001


def test_live_table_sorted_by_a_changing_column_resorts_in_batches_not_per_event(qtbot, stub_client):
    events = AppEvents()
    view = LiveTaskView(stub_client, events, dto.Task(1, UID, version="1.0.0", productID="prodA"))
    qtbot.addWidget(view)
    view.show()
    view.model.set_rows(records(ROWS))
    view.view.sortByColumn(RecordsModel.PROGRESS, Qt.SortOrder.DescendingOrder)
    seen = Signals(view.model)
    events.dispatch([{"type": "record", "taskUid": UID, "id": i, "status": 401, "step": i % 97 + 1,
                      "updatedTime": 50} for i in range(1, 3001)])
    qtbot.waitUntil(lambda: view.model.pending == 0, timeout=10_000)
    qtbot.waitUntil(lambda: view.proxy.index(0, RecordsModel.PROGRESS).data(VALUE_ROLE) == 97, timeout=5000)
    shown = [view.proxy.index(r, RecordsModel.PROGRESS).data(VALUE_ROLE) for r in range(200)]
    assert shown == sorted(shown, reverse=True)
    assert seen.resets == 0 and 1 <= seen.layouts <= 5  # 3,000 changes, a handful of re-sorts


def test_device_table_applies_device_events_in_batches_by_key(qtbot):
    model = DevicesModel(batch_interval_ms=20)
    proxy = text_filter_proxy(model, None)
    view = table_view(proxy)
    qtbot.addWidget(view)
    view.show()
    rows = [dto.Device("p", f"dev-{i:06d}", "0.9.0", False, 0) for i in range(ROWS, 0, -1)]
    model.load_rows(rows)
    qtbot.waitUntil(lambda: not model.is_loading, timeout=20_000)
    assert proxy.index(0, 0).data() == "dev-000001"
    seen = Signals(model)
    for i in range(1, 31):
        model.queue_device_events([{"type": "device", "productID": "p", "deviceName": f"dev-{i:06d}",
                                    "version": "1.0.0", "online": True, "lastSeen": 1_700_000_000_000 + i},
                                   {"type": "device", "productID": "other", "deviceName": f"dev-{i:06d}",
                                    "version": "9.9.9"}])  # another product's device: not this row
    assert model.pending == 60 and proxy.index(0, DevicesModel.VERSION).data() == "0.9.0"  # batched
    qtbot.waitUntil(lambda: model.pending == 0, timeout=5000)
    assert [proxy.index(r, DevicesModel.VERSION).data() for r in range(30)] == ["1.0.0"] * 30
    assert proxy.index(30, DevicesModel.VERSION).data() == "0.9.0"
    assert seen.resets == 0 and seen.changed == 1  # 30 adjacent rows: one dataChanged
    proxy.setFilterFixedString("DEV-00002")  # the search still matches every column, any case
    assert proxy.rowCount() == 10  # dev-000020 .. dev-000029
