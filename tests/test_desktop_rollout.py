"""Rollout safety in the desktop (protocol 13.13), against the stub backend: the task form's
rollout section (preset, request body, preview, field errors) and the live view's waves, abort
rules, pause / resume / advance, the aborted state and the exports."""
from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox

from ota_desktop.app_events import AppEvents
from ota_desktop.core import dto
from ota_desktop.core.api_client import CODE_PARAMETER, ApiError
from ota_desktop.ui.live_view import LiveTaskView
from ota_desktop.ui.models.records_model import RecordsModel
from ota_desktop.ui.rollout_widgets import MARK_STYLE
from ota_protocol import rollout as ro

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE, new_task_dialog, wait_task_dialog_loaded

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE)]

UID = "uid-roll"
ROLLOUT = ro.SAFE_PRESET.to_wire()
REASON = ("aborted: 3 of 25 finished devices failed or timed out (12% ≥ 10%, after at least 20 finished)")


# -- the task form ------------------------------------------------------------------------------

@pytest.fixture
def dialog(qtbot, stub_client, fake_backend):
    dlg = new_task_dialog(stub_client, fake_backend)
    qtbot.addWidget(dlg)
    dlg.show()
    wait_task_dialog_loaded(qtbot, dlg)
    return dlg


def test_rollout_is_off_by_default_and_a_plain_task_sends_none(qtbot, dialog, fake_backend):
    assert not dialog.rollout_editor.is_on() and dialog.rollout_editor.wire() is None
    assert not dialog.rollout_editor.body.isVisibleTo(dialog)
    with qtbot.waitSignal(dialog.created, timeout=5000):
        dialog.create_button.click()
    assert "rollout" not in fake_backend.last_task_body


def test_safe_preset_fills_the_form_and_the_request_carries_it(qtbot, dialog, fake_backend):
    editor = dialog.rollout_editor
    editor.preset_button.click()
    assert editor.is_on() and editor.body.isVisibleTo(dialog)
    assert editor.rollout() == ro.SAFE_PRESET
    assert [r.size_spin.value() for r in editor._wave_rows] == [1, 10, 100]
    assert [r.unit_combo.currentData() for r in editor._wave_rows] == ["percent"] * 3
    rule = editor._rule_rows[0]
    assert (rule.type_combo.currentData(), rule.threshold_spin.value(), rule.min_spin.value()) == ("ANY", 10, 20)
    # edits follow: a fourth wave, a count, a maintenance window
    editor.add_wave_button.click()
    editor._wave_rows[3].unit_combo.setCurrentIndex(1)
    editor._wave_rows[3].size_spin.setValue(500)
    editor.window_check.setChecked(True)
    editor.window_zone.setCurrentText("Asia/Shanghai")
    editor.manual_check.setChecked(True)
    with qtbot.waitSignal(dialog.created, timeout=5000):
        dialog.create_button.click()
    sent = fake_backend.last_task_body["rollout"]
    assert sent["waves"] == [{"percent": 1}, {"percent": 10}, {"percent": 100}, {"count": 500}]
    assert sent["abort"] == [{"failureType": "ANY", "thresholdPercent": 10, "minFinished": 20}]
    assert sent["manualAdvance"] is True
    assert sent["maintenanceWindow"] == {"start": "22:00", "durationMinutes": 240, "timeZone": "Asia/Shanghai"}
    assert ro.parse(sent).waves[3] == ro.Wave(count=500)


def test_limits_come_from_ota_protocol(dialog):
    editor = dialog.rollout_editor
    editor.set_on(True)
    while editor.add_wave_button.isEnabled():
        editor.add_wave_button.click()
    assert editor.wave_count() == ro.MAX_WAVES
    while editor.add_rule_button.isEnabled():
        editor.add_rule_button.click()
    assert len(editor._rule_rows) == ro.MAX_ABORT_RULES
    assert editor.soak_spin.maximum() == ro.MAX_SOAK_MINUTES
    assert editor._wave_rows[0].size_spin.maximum() == 100
    editor._wave_rows[0].remove_button.click()
    assert editor.wave_count() == ro.MAX_WAVES - 1 and editor.add_wave_button.isEnabled()


def test_preview_shows_waves_and_exclusions(qtbot, dialog, stub_client):
    dialog.versions_list.item(1).setCheckState(Qt.CheckState.Checked)  # 0.9.0 only: the two 0.8.0 are left out
    dialog.rollout_editor.preset_button.click()
    # the form changed: the preview follows by itself (debounced), the same body as create
    qtbot.waitUntil(lambda: dialog.preview_data is not None, timeout=5000)
    previews = [body for path, body in stub_client.calls if path.endswith("/task/preview")]
    assert previews and previews[-1]["rollout"] == ROLLOUT and previews[-1]["versionList"] == ["0.9.0"]
    assert dialog.preview_data.waves == [1, 3, 26]
    text = dialog.preview_label.text()
    assert "30 device(s)</b> would be upgraded" in text
    assert "Waves: 1 → 3 → 26" in text and "2 on a source version not chosen" in text
    assert [r.count_label.text() for r in dialog.rollout_editor._wave_rows] == [
        "→ 1 device(s)", "→ 3 device(s)", "→ 26 device(s)"]
    n = len(stub_client.calls)
    dialog.preview_button.click()  # by hand, at once
    qtbot.waitUntil(lambda: len(stub_client.calls) > n)
    assert stub_client.calls[n][0].endswith("/task/preview")


def test_backend_errors_are_shown_at_the_rollout_field(qtbot, dialog, fake_backend):
    dialog.rollout_editor.preset_button.click()
    message = "rollout.waves[1].percent: must be 1..100, not 0"
    fake_backend.fail_next["things/ota/task/preview"] = ApiError(CODE_PARAMETER, message, 400)
    dialog.preview()
    qtbot.waitUntil(lambda: "rollout.waves" in dialog.errors.errors(), timeout=5000)
    assert dialog.errors.errors()["rollout.waves"] == message
    assert dialog.rollout_editor._wave_rows[1].size_spin.styleSheet() == MARK_STYLE
    assert "marked in red" in dialog.preview_label.text()
    # the same from create
    fake_backend.fail_next["things/ota/task/create"] = ApiError(CODE_PARAMETER, "rollout.abort[0].thresholdPercent: "
                                                                "must be 1..100, not 0", 400)
    dialog.create_button.click()
    qtbot.waitUntil(lambda: "rollout.abort" in dialog.errors.errors(), timeout=5000)
    assert dialog.rollout_editor._rule_rows[0].threshold_spin.styleSheet() == MARK_STYLE


def test_a_bad_time_zone_is_caught_before_asking(qtbot, dialog, stub_client):
    editor = dialog.rollout_editor
    editor.set_on(True)
    editor.window_check.setChecked(True)
    editor.window_zone.setCurrentText("Mars/Olympus")
    n = len(stub_client.calls)
    dialog.create_button.click()
    assert "unknown time zone 'Mars/Olympus'" in dialog.errors.errors()["rollout.maintenanceWindow"]
    assert editor.window_zone.styleSheet() == MARK_STYLE
    qtbot.wait(50)
    assert not any(p.endswith("/task/create") for p in stub_client.paths()[n:])
    editor.window_zone.setCurrentText("UTC")  # corrected: the error goes
    assert "rollout.maintenanceWindow" not in dialog.errors.errors()


# -- the live view --------------------------------------------------------------------------------

def _records(now: int) -> list[dto.DeviceRecord]:
    out = []
    for i in range(1, 31):
        wave = 1 if i == 1 else 2 if i <= 4 else 3
        status = 501 if i <= 2 else 601 if i == 3 else 401 if i == 4 else 202
        out.append(dto.DeviceRecord(id=i, taskUid=UID, deviceName=f"dev-{i:03d}", version="0.9.0",
                                    targetVersion="1.0.0", status=status, desc="download failed" if i == 3 else "",
                                    updatedTime=now - 1000, wave=wave))
    return out


@pytest.fixture
def live(qtbot, stub_client, fake_backend):
    fw = next(iter(fake_backend.firmwares.values()))
    now = int(time.time() * 1000)
    fake_backend.tasks[9] = {"taskID": 9, "taskUid": UID, "type": 1, "upgradeType": 1, "status": 2, "createdTime": now,
                             "firmwareID": fw.firmwareID, "rollout": ROLLOUT, "paused": False, "currentWave": 2,
                             "waveCount": 3, "statusReason": ""}
    fake_backend.records[UID] = _records(now)
    view = LiveTaskView(stub_client, AppEvents(), dto.Task(9, UID, version="1.0.0", productID="prodA"))
    qtbot.addWidget(view)
    view.show()
    view.reload()
    qtbot.waitUntil(lambda: view.model.rowCount() == 30 and view.waves_data is not None, timeout=5000)
    return view


def test_live_view_shows_waves_abort_rule_and_wave_column(live):
    assert live.rollout_box.isVisible()
    assert [(w.wave, w.total, w.succeeded, w.failed, w.active) for w in live.timeline.waves] == [
        (1, 1, 1, 0, 0), (2, 3, 1, 1, 1), (3, 26, 0, 0, 26)]
    assert live.timeline.current == 2 and live.wave_label.text() == "Wave 2 of 3"
    assert [w.released for w in live.timeline.waves] == [True, True, False]
    assert live.abort_label.text() == "Abort at ≥ 10% failed or timed out after 20 finished — now 1 of 3 (33%)"
    assert live.model.headerData(RecordsModel.WAVE, Qt.Orientation.Horizontal) == "Wave"
    assert [live.model.index(r, RecordsModel.WAVE).data() for r in range(4)] == ["1", "2", "2", "2"]
    segments = live.timeline.segments()
    assert len(segments) == 3 and segments[2].width() > segments[1].width() >= live.timeline.MIN_SEGMENT
    assert "1 succeeded, 1 failed, 0 timed out, 0 cancelled, 1 active" in live.timeline.tooltip(live.timeline.waves[1])


def test_pause_resume_and_advance_call_their_routes_and_buttons_follow(qtbot, live, stub_client, fake_backend):
    assert live.pause_button.isEnabled() and not live.resume_button.isEnabled() and live.advance_button.isEnabled()
    live.pause_button.click()
    qtbot.waitUntil(lambda: live.resume_button.isEnabled(), timeout=5000)
    assert stub_client.calls[-2][0].endswith("/task/pause") or any(
        p.endswith("/task/pause") for p in stub_client.paths())
    assert not live.pause_button.isEnabled() and "paused" in live.title_label.text()
    assert fake_backend.tasks[9]["paused"] is True
    live.resume_button.click()
    qtbot.waitUntil(lambda: live.pause_button.isEnabled(), timeout=5000)
    assert any(p.endswith("/task/resume") for p in stub_client.paths()) and "paused" not in live.title_label.text()

    live.advance_button.click()  # asks first, stating the next wave's size
    box = live.advance_box
    assert box is not None and box.isVisible() and "It holds 26 device(s)" in box.text()
    assert "wave 3" in box.text()
    box.button(QMessageBox.StandardButton.No).click()
    qtbot.wait(50)
    assert not any(p.endswith("/task/advance") for p in stub_client.paths())
    live.advance_button.click()
    live.advance_box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: live.timeline.current == 3, timeout=5000)
    assert any(p.endswith("/task/advance") for p in stub_client.paths())
    assert fake_backend.tasks[9]["currentWave"] == 3
    assert not live.advance_button.isEnabled()  # the last wave: nothing to advance to
    assert live.wave_label.text() == "Wave 3 of 3"


def test_an_aborted_task_shows_its_reason_and_allows_nothing(qtbot, live, fake_backend):
    assert live.reason_label.isHidden()
    fake_backend.tasks[9].update(status=5, statusReason=REASON)
    live.events.dispatch([{"type": "task", "taskID": 9, "taskUid": UID, "status": 5, "paused": False,
                           "currentWave": 2, "statusReason": REASON}])
    assert live.reason_label.isVisible()
    assert live.reason_label.text() == ("Stopped automatically: 3 of 25 finished devices failed or timed out "
                                        "(12% ≥ 10%, after at least 20 finished)")
    assert "Aborted" in live.title_label.text()
    assert not (live.pause_button.isEnabled() or live.resume_button.isEnabled() or live.advance_button.isEnabled())
    # the same when the view opens on it
    view = LiveTaskView(live.client, AppEvents(), dto.Task(9, UID, version="1.0.0", productID="prodA"))
    qtbot.addWidget(view)
    view.reload()
    qtbot.waitUntil(lambda: view.reason_label.text().startswith("Stopped automatically: 3 of 25"), timeout=5000)


def test_timeline_follows_record_events_coalesced(qtbot, live, stub_client, fake_backend):
    waves_calls = lambda: sum(1 for p in stub_client.paths() if p.endswith("/task/waves"))  # noqa: E731
    before = waves_calls()
    now = int(time.time() * 1000)
    for rec in fake_backend.records[UID][3:4]:
        rec.status = 501
    for n in range(10):  # a burst: one or two refreshes, not ten
        live.events.dispatch([{"type": "record", "taskUid": UID, "id": 4, "status": 501, "step": 100, "wave": 2,
                               "updatedTime": now + n}])
    qtbot.waitUntil(lambda: live.timeline.waves[1].succeeded == 2, timeout=5000)
    assert live.timeline.waves[1].active == 0
    qtbot.wait(600)
    assert 1 <= waves_calls() - before <= 2
    # another task's events do not refresh
    before = waves_calls()
    live.events.dispatch([{"type": "record", "taskUid": "other", "id": 99, "status": 501}])
    qtbot.wait(600)
    assert waves_calls() == before


def test_record_events_update_the_wave_column(qtbot, live):
    live.events.dispatch([{"type": "record", "taskUid": UID, "id": 31, "deviceName": "dev-031", "status": 202,
                           "wave": 3, "updatedTime": int(time.time() * 1000)}])
    qtbot.waitUntil(lambda: live.model.rowCount() == 31, timeout=5000)
    assert live.model.record_by_id(31).wave == 3


def test_export_writes_the_csv_and_the_summary_opens(qtbot, live, tmp_path, monkeypatch):
    path = tmp_path / "results.csv"
    with qtbot.waitSignal(live.exported, timeout=5000) as sig:
        live.export_to(str(path), "csv")
    assert sig.args == [str(path)]
    text = path.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "deviceName,wave,status" and "dev-003,2,601" in text
    assert "Saved" in live.action_label.text() and live.export_button.isEnabled()
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True))
    with qtbot.waitSignal(live.exported, timeout=5000) as sig:
        live.summary_button.click()
    html = sig.args[0]
    assert html.endswith("task-9-1.0.0-summary.html") and opened and opened[0].toLocalFile() == html
    assert "<h1>Task 9</h1>" in open(html, encoding="utf-8").read()


def test_export_failure_is_reported(qtbot, live, tmp_path, fake_backend):
    fake_backend.fail_next["things/ota/task/export"] = ApiError(100009, "task 9 not found", 404)
    with qtbot.waitSignal(live.exported, timeout=5000) as sig:
        live.export_to(str(tmp_path / "x.csv"), "csv")
    assert sig.args == [""] and "Export failed" in live.action_label.text()
    assert not (tmp_path / "x.csv").exists()


def test_a_plain_task_shows_no_rollout(qtbot, stub_client, fake_backend):
    fw = next(iter(fake_backend.firmwares.values()))
    fake_backend.tasks[10] = {"taskID": 10, "taskUid": "uid-plain", "type": 1, "upgradeType": 1, "status": 2,
                              "createdTime": 0, "firmwareID": fw.firmwareID}
    fake_backend.records["uid-plain"] = _records(0)[:2]
    view = LiveTaskView(stub_client, AppEvents(), dto.Task(10, "uid-plain", version="1.0.0", productID="prodA"))
    qtbot.addWidget(view)
    view.show()
    view.reload()
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=5000)
    qtbot.wait(50)
    assert not view.rollout_box.isVisible() and not view.advance_button.isVisible()
    assert view.pause_button.isEnabled()
    assert not any(p.endswith("/task/waves") for p in stub_client.paths())
