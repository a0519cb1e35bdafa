"""Rollout safety rules in-process (fake clock, recording outbound port): waves, automatic abort,
pause/resume, the maintenance window, changing pace and gray share, preview, history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from backend.db.models import RecordHistory
from backend.ota.engine import OtaEngine
from backend.ota.errors import Conflict, Invalid
from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import TaskStatus as TS
from ota_protocol.rollout import parse
from tests import _engine_world
from tests._engine_world import World, progress, report

world = _engine_world.world

WAVES = {"waves": [{"percent": 5}, {"percent": 25}, {"percent": 100}]}


def start(w: World, n: int, rollout: dict | None = None, **spec) -> tuple[OtaEngine, int, list[str]]:
    names = w.devices(n)
    fw = w.firmware()
    e = w.engine()
    task = e.create_task(w.spec(fw, **spec), parse(rollout) if rollout is not None else None)
    return e, task.id, names


def succeed(e: OtaEngine, w: World, names: list[str]) -> None:
    e.handle_messages([report(n, "1.0.0") for n in names])


def fail(e: OtaEngine, w: World, names: list[str]) -> None:
    e.handle_messages([progress(w.record(n), -2, "download failed") for n in names])


def by_wave(w: World, task_id: int) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for r in w.records(task_id):
        out.setdefault(r.wave, []).append(r.device_name)
    return out


def test_waves_are_stable_and_only_the_released_wave_is_pushed(world: World) -> None:
    e, tid, _names = start(world, 200, WAVES)
    waves = by_wave(world, tid)
    assert [len(waves[i]) for i in range(3)] == [10, 50, 140]
    assert sorted(world.sent.pushed_devices()) == sorted(waves[0])
    e.tick()
    assert len(world.sent.pushes()) == 10  # wave 2 waits for wave 1
    succeed(e, world, waves[0])
    e.tick()  # wave 1 all succeeded: wave 2 released and pushed
    assert world.task(tid).current_wave == 1
    assert sorted(world.sent.pushed_devices()) == sorted(waves[0] + waves[1])
    succeed(e, world, waves[1])
    e.tick()
    succeed(e, world, waves[2])
    e.tick()
    assert world.task(tid).status == TS.DONE
    assert by_wave(world, tid) == waves  # nobody changed wave
    assert all(r.status == RS.SUCCEEDED for r in world.records(tid))


def test_a_wave_below_its_success_bar_holds_the_next_until_advanced_by_hand(world: World) -> None:
    e, tid, _ = start(world, 40, {"waves": [{"count": 4}, {"percent": 100}], "advanceAtSuccessPercent": 100})
    first = by_wave(world, tid)[0]
    succeed(e, world, first[:3])
    fail(e, world, first[3:])
    for _ in range(3):
        e.tick()
    assert world.task(tid).current_wave == 0 and len(world.sent.pushes()) == 4
    e.advance_task(tid)
    assert world.task(tid).current_wave == 1 and len(world.sent.pushes()) == 40
    with pytest.raises(Invalid, match="no further wave"):
        e.advance_task(tid)


def test_soak_time_and_manual_advance(world: World) -> None:
    e, tid, _ = start(world, 20, {"waves": [{"count": 2}, {"percent": 100}], "soakMinutes": 30})
    succeed(e, world, by_wave(world, tid)[0])
    e.tick()
    assert world.task(tid).current_wave == 0  # soaking
    world.advance(29 * 60)
    e.tick()
    assert world.task(tid).current_wave == 0
    world.advance(61)
    e.tick()
    assert world.task(tid).current_wave == 1


def test_manual_advance_waits_however_well_the_wave_went(world: World) -> None:
    names = world.devices(10, prefix="m")
    fw = world.firmware()
    e = world.engine()
    task = e.create_task(world.spec(fw), parse({"waves": [{"count": 2}, {"percent": 100}], "manualAdvance": True}))
    succeed(e, world, by_wave(world, task.id)[0])
    world.advance(3600)
    e.tick()
    assert world.task(task.id).current_wave == 0 and world.task(task.id).wave_done_time > 0
    e.advance_task(task.id)
    assert len(world.sent.pushes()) == len(names)


def test_abort_stops_the_task_in_the_first_wave_with_its_reason(world: World) -> None:
    """200 devices, waves 5/25/100 %, 30 % failing: abort at 20 % failures after 5 finished."""
    e, tid, _ = start(world, 200, {**WAVES, "abort": [{"failureType": "FAILED", "thresholdPercent": 20,
                                                       "minFinished": 5}]})
    first = by_wave(world, tid)[0]
    fail(e, world, first[:3])
    succeed(e, world, first[3:5])
    e.tick()
    task = world.task(tid)
    assert task.status == TS.ABORTED
    assert "3 of 5 finished devices failed" in task.status_reason
    later = [r for r in world.records(tid) if r.wave > 0]
    assert all(r.status == RS.CANCELLED and r.desc.startswith("task aborted") for r in later)
    assert len(world.sent.pushes()) == 10  # nobody of a later wave was pushed
    # devices already pushed still report, and count
    succeed(e, world, first[5:])
    assert {world.record(n).status for n in first[5:]} == {RS.SUCCEEDED}
    assert world.task(tid).status == TS.ABORTED
    aborted = [ev for ev in world.sent.events if ev["type"] == "task" and ev["status"] == TS.ABORTED]
    assert aborted and aborted[-1]["statusReason"] == task.status_reason


def test_abort_counts_timeouts_by_their_type(world: World) -> None:
    e, tid, names = start(world, 10, {"abort": [{"failureType": "TIMED_OUT", "thresholdPercent": 50,
                                                 "minFinished": 2}]}, timeout_minutes=1)
    fail(e, world, names[:5])  # failures, not timeouts: not this rule
    e.tick()
    assert world.task(tid).status == TS.UPGRADING
    world.advance(61)
    e.tick()  # the other 5 time out: 5 of 10 finished timed out
    e.tick()
    assert world.task(tid).status == TS.ABORTED
    assert "timed out" in world.task(tid).status_reason


def test_pause_holds_every_push_and_resume_continues(world: World) -> None:
    e, tid, names = start(world, 30, max_per_minute=10)
    assert len(world.sent.pushes()) == 10
    e.pause_task(tid)
    world.advance(120)
    e.tick()
    e.handle_messages([report(n, "0.9.0") for n in names])  # devices reporting: still not pushed
    assert len(world.sent.pushes()) == 10
    assert world.task(tid).paused
    e.pause_task(tid, False)
    e.tick()
    assert len(world.sent.pushes()) == 20
    e.cancel_task(tid)
    with pytest.raises(Conflict, match="cannot be paused"):
        e.pause_task(tid)


def test_a_maintenance_window_defers_pushes_until_it_opens(world: World) -> None:
    now = datetime.fromtimestamp(world.clock.now / 1000, UTC)
    opens = (now.hour + 2) % 24
    e, _tid, _ = start(world, 5, {"maintenanceWindow": {"start": f"{opens:02d}:00", "durationMinutes": 60,
                                                       "timeZone": "UTC"}})
    assert world.sent.pushes() == []
    minutes_to_open = (60 - now.minute) + 60
    world.advance((minutes_to_open - 1) * 60)
    e.tick()
    assert world.sent.pushes() == []
    world.advance(120)
    e.tick()
    assert len(world.sent.pushes()) == 5


def test_rate_and_gray_share_change_while_running(world: World) -> None:
    e, tid, _names = start(world, 100, gray_percent=10, max_per_minute=5)
    assert len(world.records(tid)) == 10 and len(world.sent.pushes()) == 5
    e.update_task(tid, max_per_minute=1000)
    e.tick()
    assert len(world.sent.pushes()) == 10
    e.update_task(tid, gray_percent=30)
    assert len(world.records(tid)) == 30 and len(world.sent.pushes()) == 30
    assert world.task(tid).gray_percent == 30


def test_a_smaller_gray_share_cancels_only_unpushed_records_outside_it(world: World) -> None:
    e, tid, _ = start(world, 100, gray_percent=50, max_per_minute=1)
    pushed = world.sent.pushed_devices()
    assert len(world.records(tid)) == 50 and len(pushed) == 1
    e.update_task(tid, gray_percent=10)
    records = world.records(tid)
    kept = [r for r in records if r.status != RS.CANCELLED]
    assert 10 <= len(kept) <= 11 and pushed[0] in {r.device_name for r in kept}
    assert all(r.desc == "left out of the gray share (10%)" for r in records if r.status == RS.CANCELLED)
    targeted = e.create_task(world.spec(world.firmware("3.0.0"), type=2, device_list=["dev00001"]))
    with pytest.raises(Invalid, match="targeted"):
        e.update_task(targeted.id, gray_percent=50)


def test_preview_counts_what_create_then_plans_and_creates_nothing(world: World) -> None:
    names = world.devices(100)
    world.devices(20, version="1.0.0", prefix="done")
    world.devices(10, version="0.8.0", prefix="old")
    world.devices(5, version="2.0.0", prefix="newer")
    fw = world.firmware()
    e = world.engine()
    spec = world.spec(fw, version_list=["0.9.0", "2.0.0"], gray_percent=50)
    rollout = parse(WAVES)
    p = e.preview_task(spec, rollout)
    assert p["devices"] == 135
    assert p["excluded"]["onTargetVersion"] == 20 and p["excluded"]["versionFilter"] == 10
    with world.db.session() as s:
        from backend.db.models import Task
        assert s.scalar(select(Task.id)) is None  # nothing created
    task = e.create_task(spec, rollout)
    waves = by_wave(world, task.id)
    planned = [r for r in world.records(task.id) if r.status in (RS.QUEUED, RS.QUEUED_OFFLINE, RS.PUSHED)]
    assert p["willPush"] == len(planned)
    assert [x["devices"] for x in p["waves"]] == [len([n for n in waves.get(i, []) if world.record(n, task.id).status
                                                       != RS.FAILED]) for i in range(3)]
    assert p["excluded"]["newerVersion"] == len([r for r in world.records(task.id) if r.status == RS.FAILED])
    del names


def test_every_transition_is_kept_in_the_history_with_who_did_it(world: World) -> None:
    e, _tid, names = start(world, 2, retry_count=1, retry_interval_minutes=1)
    fail(e, world, names[:1])
    world.advance(61)
    e.tick()  # automatic retry: queued again, pushed
    succeed(e, world, names)
    with world.db.session() as s:
        rows = [(h.device_name, h.status, h.retry_count, h.actor) for h in
                s.scalars(select(RecordHistory).order_by(RecordHistory.id))]
    first = [r for r in rows if r[0] == names[0]]
    assert [r[1] for r in first] == [RS.QUEUED, RS.PUSHED, RS.FAILED, RS.QUEUED_RETRY, RS.PUSHED, RS.SUCCEEDED]
    assert [r[3] for r in first] == ["admin", "system", "device", "timer", "timer", "device"]
    assert first[-1][2] == 1  # the retry number
