"""The OTA upgrade rules a user notices (docs/protocol.md sections 4, 9, 11.3-11.4, 12, 13), in-process.

Every test builds the engine over a throw-away SQLite database with a fake clock
(tests/_engine_world.py) and asserts what is observable: record status / step / desc, the
orders sent (to which device, which record id, which URLs), the progress acknowledgements,
the events and the task status. Failures caused by our own outages are covered by
tests/test_field_engine.py.
"""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select

from backend.db.models import Device, DeviceRecord, Task
from backend.ota.engine import OtaEngine
from backend.ota.errors import Conflict, IllegalTransition, Invalid, NotFound
from backend.ota.planning import BUSY_DESC, NEWER_DESC, gray_rank, gray_seed, in_gray, is_newer
from backend.ota.ports import Effects
from backend.ota.records import TRANSITIONS, can_move, move
from ota_protocol import messages as wire
from ota_protocol.codes import OK, ErrorCode, TaskType, UpgradeType
from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import TaskStatus as TS

from . import _engine_world
from ._engine_world import World, presence, progress, report

world = _engine_world.world  # the fixture

MIN = 60.0  # seconds in a (task) minute of the harness
TARGET = "1.0.0"
OLD = "0.9.0"


# ---- helpers -----------------------------------------------------------------------------------

def rollout(w: World, n: int = 3, *, online: bool = True, version: str = OLD, files: int = 1,
            **spec) -> tuple[OtaEngine, Task, list[str]]:
    """n devices, firmware 1.0.0, an engine and a task created with ``spec``."""
    names = w.devices(n, version=version, online=online)
    fw = w.firmware(TARGET, files=files)
    e = w.engine()
    return e, e.create_task(w.spec(fw, **spec)), names


def order_ids(w: World, device: str | None = None) -> list[int]:
    return [o.record_id for o in w.sent.pushes(device)]


def task_events(w: World) -> list[int]:
    return [ev["status"] for ev in w.sent.events if ev["type"] == "task"]


def record_events(w: World, device: str) -> list[tuple[int, str]]:
    return [(ev["status"], ev["desc"]) for ev in w.sent.events if ev["type"] == "record" and ev["deviceName"] == device]


def task_count(w: World) -> int:
    with w.db.session() as s:
        return len(list(s.scalars(select(Task.id))))


def snapshot(rec: DeviceRecord) -> tuple:
    return (rec.status, rec.step, rec.desc, rec.due_time, rec.retry_count, rec.updated_time)


# ---- 13.1 planning -----------------------------------------------------------------------------

def test_all_devices_task_gets_every_device_not_on_the_target(world: World) -> None:
    old = world.devices(3, version=OLD)
    world.devices(2, version=TARGET, prefix="cur")
    fw = world.firmware(TARGET)
    e = world.engine()
    task = e.create_task(world.spec(fw))
    assert world.statuses(task.id) == dict.fromkeys(old, RS.PUSHED)  # no record at all for those on target
    assert sorted(world.sent.pushed_devices()) == old
    assert world.task(task.id).status == TS.UPGRADING
    # events: every new record (queued), the task, then the pushes
    assert [(ev["status"], ev["desc"]) for ev in world.sent.events if ev["type"] == "record"] == \
        [(RS.QUEUED, "")] * 3 + [(RS.PUSHED, "pushed")] * 3
    assert task_events(world) == [TS.UPGRADING]


def test_targeted_task_gets_only_the_listed_devices(world: World) -> None:
    _e, task, _names = rollout(world, 5, type=TaskType.TARGETED, device_list=["dev00002", "dev00004"])
    assert world.statuses(task.id) == {"dev00002": RS.PUSHED, "dev00004": RS.PUSHED}
    assert sorted(world.sent.pushed_devices()) == ["dev00002", "dev00004"]


def test_unknown_device_in_device_list_is_not_found_naming_it(world: World) -> None:
    world.devices(2)
    fw = world.firmware(TARGET)
    e = world.engine()
    with pytest.raises(NotFound) as exc:
        e.create_task(world.spec(fw, type=TaskType.TARGETED, device_list=["dev00001", "ghost-7"]))
    assert exc.value.code == ErrorCode.NOT_FOUND
    assert exc.value.msg.startswith("deviceList:") and "ghost-7" in exc.value.msg and "dev00001" not in exc.value.msg
    ghosts = [f"ghost{i:02d}" for i in range(25)]
    with pytest.raises(NotFound) as exc:
        e.create_task(world.spec(fw, type=TaskType.TARGETED, device_list=ghosts))
    assert "ghost19" in exc.value.msg and "ghost20" not in exc.value.msg and "(+5 more)" in exc.value.msg
    assert task_count(world) == 0 and world.sent.orders == [] and world.sent.events == []


def test_version_list_keeps_only_devices_on_those_versions(world: World) -> None:
    a = world.devices(2, version="0.8.0", prefix="a")
    world.devices(2, version="0.7.0", prefix="b")
    c = world.devices(1, version="0.6.0", prefix="c")
    fw = world.firmware(TARGET)
    task = world.engine().create_task(world.spec(fw, version_list=["0.8.0", "0.6.0"]))
    assert sorted(world.statuses(task.id)) == sorted(a + c)


def test_device_newer_than_the_package_fails_and_is_never_pushed(world: World) -> None:
    world.devices(1, version="1.2.0", prefix="new")
    world.devices(1, version="1.0.0-beta", prefix="beta")  # not comparable: never "newer", pushed
    fw = world.firmware(TARGET)
    e = world.engine()
    e.create_task(world.spec(fw, retry_count=3, retry_interval_minutes=1))
    rec = world.record("new00001")
    assert (rec.status, rec.desc, rec.due_time) == (RS.FAILED, NEWER_DESC, 0)
    assert world.sent.pushed_devices() == ["beta00001"]
    world.advance(5 * MIN)
    e.tick()
    assert world.record("new00001").status == RS.FAILED and "new00001" not in world.sent.pushed_devices()


def test_a_task_with_only_newer_devices_is_done_at_once(world: World) -> None:
    _e, task, _ = rollout(world, 2, version="2.0.0")
    assert set(world.statuses(task.id).values()) == {RS.FAILED}
    assert world.task(task.id).status == TS.DONE and world.sent.orders == []


@pytest.mark.parametrize("version, than, newer", [
    ("1.2.10", "1.2.9", True), ("1.0.0", "1.0", True), ("v2-0-1", "2.0.0", True), ("2_1", "2.0.9", True),
    ("1.0.0", "1.0.0", False), ("0.9.9", "1.0.0", False), ("1.2.0-beta", "1.0.0", False),
    ("1.2.0+5", "1.0.0", False), ("2.0.0", "1.0.0-rc1", False),
])
def test_version_comparison(version: str, than: str, newer: bool) -> None:
    assert is_newer(version, than) is newer


@pytest.mark.parametrize("n, percent", [(10, 25), (7, 30), (5, 1), (40, 50), (4, 100)])
def test_gray_percent_takes_exactly_the_ceiling_share_of_a_static_task(world: World, n: int, percent: int) -> None:
    _e, task, names = rollout(world, n, gray_percent=percent)
    chosen = sorted(world.statuses(task.id))
    assert len(chosen) == math.ceil(n * percent / 100)
    # chosen by a stable hash of taskUid/deviceName: the same devices whenever it is computed
    assert chosen == sorted(sorted(names, key=lambda d: gray_rank(gray_seed(task), d))[:len(chosen)])
    assert sorted(world.sent.pushed_devices()) == chosen
    world.engine().tick()  # a restarted backend plans nothing new
    assert sorted(world.statuses(task.id)) == chosen


@pytest.mark.parametrize("spec, field_name", [
    ({"type": TaskType.TARGETED}, "deviceList"),
    ({"upgrade_type": UpgradeType.DYNAMIC, "type": TaskType.TARGETED, "device_list": ["dev00001"],
      "version_list": [OLD]}, "upgradeType"),
    ({"upgrade_type": UpgradeType.DYNAMIC}, "versionList"),
    ({"upgrade_type": UpgradeType.DYNAMIC, "version_list": [OLD, TARGET]}, "versionList"),
    ({"version_list": [TARGET]}, "versionList"),
])
def test_task_fields_that_do_not_go_together_are_invalid(world: World, spec: dict, field_name: str) -> None:
    world.devices(2)
    fw = world.firmware(TARGET)
    with pytest.raises(Invalid) as exc:
        world.engine().create_task(world.spec(fw, **spec))
    assert exc.value.code == ErrorCode.PARAMETER and exc.value.msg.startswith(f"{field_name}:"), exc.value.msg
    assert task_count(world) == 0 and world.sent.orders == []


def test_unknown_firmware_is_not_found(world: World) -> None:
    with pytest.raises(NotFound) as exc:
        world.engine().create_task(world.spec(999))
    assert exc.value.code == ErrorCode.NOT_FOUND and "999" in exc.value.msg


def test_a_device_held_by_another_task_fails_in_the_new_one(world: World) -> None:
    e, first, _ = rollout(world, 2, type=TaskType.TARGETED, device_list=["dev00001"])
    fw2 = world.firmware("1.1.0")
    world.sent.clear()
    second = e.create_task(world.spec(fw2))
    rec = world.record("dev00001", second.id)
    assert (rec.status, rec.desc, rec.due_time) == (RS.FAILED, BUSY_DESC, 0)
    assert world.record("dev00001", first.id).status == RS.PUSHED  # untouched
    assert world.sent.pushed_devices() == ["dev00002"]


def test_overwrite_cancels_the_other_tasks_record_and_takes_the_device(world: World) -> None:
    e, first, _ = rollout(world, 2, type=TaskType.TARGETED, device_list=["dev00001"])
    fw2 = world.firmware("1.1.0")
    world.sent.clear()
    second = e.create_task(world.spec(fw2, overwrite=True))
    old = world.record("dev00001", first.id)
    assert (old.status, old.desc) == (RS.CANCELLED, f"overwritten by task {second.task_uid}")
    new = world.record("dev00001", second.id)
    assert new.status == RS.PUSHED
    assert [(o.device_name, o.record_id, o.version) for o in world.sent.orders] == \
        [("dev00001", new.id, "1.1.0"), ("dev00002", world.record("dev00002", second.id).id, "1.1.0")]
    assert world.task(first.id).status == TS.DONE  # nothing holds a device in the first task any more


# ---- the record state machine ------------------------------------------------------------------

def test_every_status_has_a_transition_entry_and_succeeded_is_final() -> None:
    assert set(TRANSITIONS) == set(RS)
    assert TRANSITIONS[RS.SUCCEEDED] == frozenset()
    assert all(targets <= set(RS) for targets in TRANSITIONS.values())
    assert all(TRANSITIONS[s] for s in RS if s != RS.SUCCEEDED)  # every other status can still move


@pytest.mark.parametrize("src, dst, allowed", [
    (RS.QUEUED, RS.PUSHED, True), (RS.QUEUED_OFFLINE, RS.QUEUED, True), (RS.QUEUED, RS.QUEUED_OFFLINE, True),
    (RS.PUSHED, RS.PUSHED, True), (RS.PUSHED, RS.UPGRADING, True), (RS.UPGRADING, RS.UPGRADING, True),
    (RS.UPGRADING, RS.SUCCEEDED, True), (RS.FAILED, RS.SUCCEEDED, True), (RS.FAILED, RS.QUEUED_RETRY, True),
    (RS.CANCELLED, RS.PUSHED, True),
    (RS.SUCCEEDED, RS.FAILED, False), (RS.SUCCEEDED, RS.PUSHED, False), (RS.CANCELLED, RS.SUCCEEDED, False),
    (RS.CANCELLED, RS.QUEUED, False), (RS.FAILED, RS.UPGRADING, False), (RS.UPGRADING, RS.PUSHED, False),
    (RS.UPGRADING, RS.QUEUED, False), (RS.QUEUED, RS.QUEUED, False),
])
def test_transitions(src: RS, dst: RS, allowed: bool) -> None:
    assert can_move(src, dst) is allowed


def _loose_record(status: RS) -> DeviceRecord:
    return DeviceRecord(id=7, task_id=1, task_uid="u", product_id="P", device_name="d", version=OLD,
                        target_version=TARGET, status=status, step=100, desc="upgrade succeeded", retry_count=0,
                        auto_retries=0, due_time=0, pushed_time=5, created_time=1, updated_time=1)


def test_an_illegal_move_raises_and_changes_nothing() -> None:
    rec, fx = _loose_record(RS.SUCCEEDED), Effects()
    before = snapshot(rec)
    with pytest.raises(IllegalTransition):
        move(fx, rec, 99, RS.PUSHED, step=0, desc="pushed", due=1234)
    assert snapshot(rec) == before and fx.events == []


def test_a_legal_move_sets_the_fields_and_announces_them() -> None:
    rec, fx = _loose_record(RS.CANCELLED), Effects()
    move(fx, rec, 99, RS.PUSHED, step=0, desc="pushed", due=1234)
    assert (rec.status, rec.step, rec.desc, rec.due_time, rec.updated_time) == (RS.PUSHED, 0, "pushed", 1234, 99)
    assert [(ev["type"], ev["id"], ev["status"]) for ev in fx.events] == [("record", 7, RS.PUSHED)]


# ---- 13.2 pushing, 12 presence, 13.4 reports -----------------------------------------------------

def test_a_push_carries_the_record_id_the_version_and_the_files_urls(world: World) -> None:
    _e, _task, names = rollout(world, 2, files=2, timeout_minutes=30)
    for name in names:
        rec = world.record(name)
        (order,) = world.sent.pushes(name)
        assert (order.product_id, order.record_id, order.version, order.is_diff, order.sign_method) == \
            (rec.product_id, rec.id, TARGET, 1, "md5")
        assert [(f.name, f.size, f.signature) for f in order.files] == [("f0.bin", 10, f"{0:032x}"),
                                                                        ("f1.bin", 11, f"{1:032x}")]
        assert all(f"/{TARGET}/{f.name}?" in f.url for f in order.files)
        assert (rec.status, rec.step, rec.desc) == (RS.PUSHED, 0, "pushed")
        assert rec.pushed_time == order.timestamp == world.clock.now
        assert rec.due_time == world.clock.now + 30 * 60_000
    urls = [f.url for o in world.sent.orders for f in o.files]
    # one batch signs each file once (the store's signature of one object at one moment is the
    # same for every device anyway); a later push signs again (test_field_engine: fresh URL)
    assert len(set(urls)) == 2


def test_offline_devices_wait_in_202_and_are_pushed_when_they_report(world: World) -> None:
    e, task, names = rollout(world, 2, online=False)
    assert world.statuses(task.id) == dict.fromkeys(names, RS.QUEUED_OFFLINE) and world.sent.orders == []
    world.advance(5)
    e.tick()
    assert world.sent.orders == []  # coming online is not enough: the report pushes
    e.handle_messages([report("dev00001", OLD)])
    assert order_ids(world) == [world.record("dev00001").id]
    assert world.statuses(task.id) == {"dev00001": RS.PUSHED, "dev00002": RS.QUEUED_OFFLINE}
    assert world.device("dev00001").online is True


def test_going_offline_moves_queued_201_and_203_records_to_202(world: World) -> None:
    e, _task, _ = rollout(world, 2, max_per_minute=1, retry_count=1, retry_interval_minutes=1)
    r1, r2 = world.record("dev00001"), world.record("dev00002")
    assert (r1.status, r2.status) == (RS.PUSHED, RS.QUEUED)
    world.advance(30)
    e.handle_messages([progress(r1, -2)])  # retry due at +90 s
    world.advance(30)
    e.tick()  # +60 s: the rate lets dev00002 go
    assert world.record("dev00002").status == RS.PUSHED
    world.advance(30)
    e.tick()  # +90 s: dev00001's retry is queued, but the minute's push is used up
    assert world.record("dev00001").status == RS.QUEUED_RETRY
    e.handle_messages([presence("dev00001", False)])
    assert world.record("dev00001").status == RS.QUEUED_OFFLINE
    world.advance(2 * MIN)
    e.tick()
    assert world.record("dev00001").status == RS.QUEUED_OFFLINE and len(world.sent.pushes("dev00001")) == 1
    e.handle_messages([presence("dev00001", True)])
    assert world.record("dev00001").status == RS.QUEUED_OFFLINE  # online alone pushes nothing
    e.handle_messages([report("dev00001", OLD)])
    assert world.record("dev00001").status == RS.PUSHED and len(world.sent.pushes("dev00001")) == 2


def test_a_queued_201_record_goes_to_202_when_its_device_goes_offline(world: World) -> None:
    e, task, _ = rollout(world, 2, max_per_minute=1)
    e.handle_messages([presence("dev00002", False)])
    assert world.statuses(task.id) == {"dev00001": RS.PUSHED, "dev00002": RS.QUEUED_OFFLINE}
    assert world.device("dev00002").online is False
    world.advance(MIN)
    e.tick()
    assert world.sent.pushed_devices() == ["dev00001"]


def test_a_duplicate_report_while_pushed_does_not_push_again_without_a_reconnect(world: World) -> None:
    names = world.devices(1)
    fw = world.firmware(TARGET)
    e = world.engine()
    e.handle_messages([presence(names[0], True)])  # the embedded broker saw it connect
    e.create_task(world.spec(fw))
    world.advance(5)
    e.handle_messages([report(names[0], OLD)])  # sent before the push arrived
    assert len(world.sent.pushes()) == 1 and world.record(names[0]).status == RS.PUSHED
    e.handle_messages([presence(names[0], False)])
    world.advance(5)
    e.handle_messages([presence(names[0], True), report(names[0], OLD)])  # reconnected: push again
    first, second = world.sent.pushes()
    assert first.record_id == second.record_id and first.files[0].url != second.files[0].url


def test_with_an_external_broker_every_old_version_report_re_pushes(world: World) -> None:
    e, _task, names = rollout(world, 1)  # no presence feed: reconnects are unknown
    world.advance(5)
    e.handle_messages([report(names[0], OLD, token="rep-1")])
    assert len(world.sent.pushes()) == 2 and world.sent.orders[1].client_token == "rep-1"


def test_a_report_while_upgrading_changes_nothing(world: World) -> None:
    e, _task, names = rollout(world, 1)
    e.handle_messages([progress(world.record(names[0]), 40, "downloading")])
    before = snapshot(world.record(names[0]))
    e.handle_messages([report(names[0], OLD)])
    assert snapshot(world.record(names[0])) == before and len(world.sent.pushes()) == 1


def test_reporting_a_newer_version_fails_the_record_without_retry(world: World) -> None:
    e, task, names = rollout(world, 1, retry_count=2, retry_interval_minutes=1)
    e.handle_messages([report(names[0], "1.5.0")])
    rec = world.record(names[0])
    assert (rec.status, rec.desc, rec.due_time, rec.version) == (RS.FAILED, NEWER_DESC, 0, "1.5.0")
    assert world.task(task.id).status == TS.DONE
    world.advance(5 * MIN)
    e.tick()
    assert len(world.sent.pushes()) == 1


def test_a_report_in_a_task_not_started_yet_makes_202_a_201_without_pushing(world: World) -> None:
    e, _task, names = rollout(world, 1, online=False, schedule_time=world.clock.now + 600_000)
    e.handle_messages([report(names[0], OLD)])
    assert world.record(names[0]).status == RS.QUEUED and world.sent.orders == []


def test_a_report_over_the_rate_makes_202_a_201_and_the_timer_pushes_it(world: World) -> None:
    online = world.devices(1, prefix="on")
    off = world.devices(1, online=False, prefix="off")
    fw = world.firmware(TARGET)
    e = world.engine()
    e.create_task(world.spec(fw, max_per_minute=1))
    assert world.sent.pushed_devices() == online
    e.handle_messages([report(off[0], OLD)])
    assert world.record(off[0]).status == RS.QUEUED and len(world.sent.orders) == 1
    world.advance(MIN)
    e.tick()
    assert world.sent.pushed_devices() == online + off


def test_mark_all_offline_at_start_queues_pushable_records_as_202(world: World) -> None:
    e, task, names = rollout(world, 3, max_per_minute=1)
    e.mark_all_offline()
    assert world.statuses(task.id) == {"dev00001": RS.PUSHED, "dev00002": RS.QUEUED_OFFLINE,
                                       "dev00003": RS.QUEUED_OFFLINE}
    assert not any(world.device(n).online for n in names)


# ---- 11.3 / 11.4 progress -------------------------------------------------------------------------

def test_progress_moves_the_record_to_401_with_its_step_and_acks(world: World) -> None:
    e, _task, names = rollout(world, 1, timeout_minutes=10)
    rec = world.record(names[0])
    world.advance(7)
    e.handle_messages([progress(rec, 45, "downloading", token="p-1")])
    rec = world.record(names[0])
    assert (rec.status, rec.step, rec.desc) == (RS.UPGRADING, 45, "downloading")
    assert rec.due_time == world.clock.now + 10 * 60_000  # the timeout clock restarts
    assert [(a.device_name, a.client_token, a.code) for a in world.sent.acks] == [(names[0], "p-1", OK)]
    e.handle_messages([progress(rec, 100)])  # 100 alone is not success
    rec = world.record(names[0])
    assert (rec.status, rec.step, rec.desc) == (RS.UPGRADING, 100, "upgrading")


@pytest.mark.parametrize("step, desc, expected_desc", [
    (-1, "", "upgrade failed"), (-2, "", "download failed"), (-3, "md5 mismatch on xx.zip", "md5 mismatch on xx.zip"),
    (-4, "", "flashing failed"),
])
def test_failure_steps_fail_the_record_with_that_step_and_desc(world: World, step: int, desc: str,
                                                               expected_desc: str) -> None:
    e, task, names = rollout(world, 1)
    e.handle_messages([progress(world.record(names[0]), step, desc)])
    rec = world.record(names[0])
    assert (rec.status, rec.step, rec.desc, rec.due_time) == (RS.FAILED, step, expected_desc, 0)
    assert [a.code for a in world.sent.acks] == [OK]
    assert world.task(task.id).status == TS.DONE


def test_progress_for_another_devices_record_is_not_found_and_changes_nothing(world: World) -> None:
    e, _task, _names = rollout(world, 2)
    mine = world.record("dev00002")
    before = snapshot(mine)
    forged = wire.Progress(product_id=mine.product_id, device_name="dev00001", client_token="f", timestamp=0,
                           record_id=mine.id, step=-2, desc="", module="default")
    missing = wire.Progress(product_id=mine.product_id, device_name="dev00001", client_token="m", timestamp=0,
                            record_id=99999, step=50, desc="", module="default")
    e.handle_messages([forged, missing])
    assert [(a.device_name, a.client_token, a.code) for a in world.sent.acks] == \
        [("dev00001", "f", ErrorCode.NOT_FOUND), ("dev00001", "m", ErrorCode.NOT_FOUND)]
    assert snapshot(world.record("dev00002")) == before
    assert world.record("dev00001").status == RS.PUSHED


def test_progress_step_0_is_a_parameter_error(world: World) -> None:
    e, _task, names = rollout(world, 1)
    before = snapshot(world.record(names[0]))
    e.handle_messages([progress(world.record(names[0]), 0)])
    assert [a.code for a in world.sent.acks] == [ErrorCode.PARAMETER]
    assert snapshot(world.record(names[0])) == before


def test_progress_after_success_is_already_finished(world: World) -> None:
    e, _task, names = rollout(world, 1)
    rec = world.record(names[0])
    e.handle_messages([report(names[0], TARGET)])
    rec_done = world.record(names[0])
    assert (rec_done.status, rec_done.step, rec_done.desc) == (RS.SUCCEEDED, 100, "upgrade succeeded")
    e.handle_messages([progress(rec, 50), progress(rec, -2)])
    assert [a.code for a in world.sent.acks] == [ErrorCode.ALREADY_FINISHED] * 2
    assert snapshot(world.record(names[0])) == snapshot(rec_done)


def test_progress_from_an_unknown_device_is_ignored_without_ack(world: World) -> None:
    e, _task, names = rollout(world, 1)
    rec = world.record(names[0])
    stranger = wire.Progress(product_id=rec.product_id, device_name="nobody", client_token="x", timestamp=0,
                             record_id=rec.id, step=50, desc="", module="default")
    e.handle_messages([stranger])
    assert world.sent.acks == [] and world.record(names[0]).status == RS.PUSHED


def test_progress_from_an_offline_device_marks_it_online(world: World) -> None:
    e, _task, names = rollout(world, 1)
    e.handle_messages([presence(names[0], False)])
    e.handle_messages([progress(world.record(names[0]), 10)])
    assert world.device(names[0]).online is True and world.record(names[0]).status == RS.UPGRADING


# ---- 13.6 / 13.7 timers: timeouts, automatic retries, late success, scheduled tasks ----------------

def test_a_pushed_record_times_out_after_timeout_minutes(world: World) -> None:
    e, task, names = rollout(world, 1, timeout_minutes=5)
    world.advance(5 * MIN - 1)
    e.tick()
    assert world.record(names[0]).status == RS.PUSHED
    world.advance(1)
    e.tick()
    rec = world.record(names[0])
    assert (rec.status, rec.step, rec.desc) == (RS.FAILED, -1, "timeout")
    assert world.task(task.id).status == TS.DONE


def test_progress_restarts_the_timeout_clock(world: World) -> None:
    e, _task, names = rollout(world, 1, timeout_minutes=5)
    world.advance(4 * MIN)
    e.handle_messages([progress(world.record(names[0]), 30)])
    world.advance(4 * MIN)
    e.tick()
    assert world.record(names[0]).status == RS.UPGRADING
    world.advance(1 * MIN)
    e.tick()
    rec = world.record(names[0])
    assert (rec.status, rec.step, rec.desc) == (RS.FAILED, -1, "timeout")


def test_automatic_retries_re_queue_and_push_again_until_the_budget_is_spent(world: World) -> None:
    e, task, names = rollout(world, 1, timeout_minutes=5, retry_count=2, retry_interval_minutes=2)
    dev = names[0]
    rid = world.record(dev).id
    for attempt in (1, 2):
        world.advance(5 * MIN)
        e.tick()
        rec = world.record(dev)
        assert (rec.status, rec.desc, rec.retry_count) == (RS.FAILED, "timeout", attempt - 1)
        assert rec.due_time == world.clock.now + 2 * 60_000
        assert world.task(task.id).status == TS.UPGRADING  # the pending retry keeps the task open
        world.advance(2 * MIN - 1)
        e.tick()
        assert len(world.sent.pushes()) == attempt
        world.sent.events.clear()
        world.advance(1)
        e.tick()
        rec = world.record(dev)
        assert (rec.status, rec.retry_count, rec.auto_retries) == (RS.PUSHED, attempt, attempt)
        assert record_events(world, dev) == [(RS.QUEUED_RETRY, "waiting for automatic retry"),
                                             (RS.PUSHED, "pushed")]
        assert order_ids(world) == [rid] * (attempt + 1)
    world.advance(5 * MIN)
    e.tick()
    rec = world.record(dev)
    assert (rec.status, rec.due_time, rec.retry_count) == (RS.FAILED, 0, 2)  # the budget is spent
    assert world.task(task.id).status == TS.DONE
    world.advance(60 * MIN)
    e.tick()
    assert len(world.sent.pushes()) == 3
    assert len({o.files[0].url for o in world.sent.orders}) == 3


def test_an_automatic_retry_of_an_offline_device_waits_in_202(world: World) -> None:
    e, _task, names = rollout(world, 1, retry_count=1, retry_interval_minutes=1)
    e.handle_messages([progress(world.record(names[0]), -4, "flash failed")])
    e.handle_messages([presence(names[0], False)])
    world.advance(MIN)
    e.tick()
    rec = world.record(names[0])
    assert (rec.status, rec.desc, rec.retry_count) == (RS.QUEUED_OFFLINE, "waiting for automatic retry", 1)
    assert len(world.sent.pushes()) == 1
    e.handle_messages([report(names[0], OLD)])
    assert world.record(names[0]).status == RS.PUSHED and len(world.sent.pushes()) == 2


def test_a_late_success_after_a_timeout_counts_and_the_done_task_is_re_evaluated(world: World) -> None:
    e, task, _names = rollout(world, 2, timeout_minutes=5)
    e.handle_messages([report("dev00002", TARGET)])
    world.advance(5 * MIN)
    e.tick()
    assert world.record("dev00001").desc == "timeout" and world.task(task.id).status == TS.DONE
    world.sent.clear()
    world.advance(MIN)
    e.handle_messages([report("dev00001", TARGET)])
    rec = world.record("dev00001")
    assert (rec.status, rec.step, rec.desc, rec.version) == (RS.SUCCEEDED, 100, "upgrade succeeded", TARGET)
    assert world.task(task.id).status == TS.DONE
    assert task_events(world) == [TS.UPGRADING, TS.DONE]  # reopened, then done again
    assert world.sent.orders == []


def test_a_scheduled_task_waits_for_its_time(world: World) -> None:
    start = world.clock.now + 10 * 60_000
    e, task, names = rollout(world, 2, schedule_time=start)
    assert world.task(task.id).status == TS.NOT_STARTED
    assert world.statuses(task.id) == dict.fromkeys(names, RS.QUEUED) and world.sent.orders == []
    world.advance(10 * MIN - 1)
    e.tick()
    assert world.task(task.id).status == TS.NOT_STARTED and world.sent.orders == []
    world.advance(1)
    e.tick()
    assert world.task(task.id).status == TS.UPGRADING
    assert sorted(world.sent.pushed_devices()) == names
    assert world.record(names[0]).due_time == start + 60 * 60_000


# ---- 13.5 pacing -------------------------------------------------------------------------------

def test_max_per_minute_pushes_that_many_each_minute_oldest_first(world: World) -> None:
    e, task, names = rollout(world, 10, max_per_minute=3)
    assert world.sent.pushed_devices() == names[:3]
    seen = [3]
    for _ in range(4):
        world.advance(MIN - 1)
        e.tick()
        assert len(world.sent.orders) == seen[-1]  # not before the minute is over
        world.advance(1)
        e.tick()
        seen.append(len(world.sent.orders))
    assert seen == [3, 6, 9, 10, 10]
    assert world.sent.pushed_devices() == names  # record order
    assert world.task(task.id).status == TS.UPGRADING


def test_a_restarted_engine_keeps_the_pacing_window(world: World) -> None:
    _e, _task, _names = rollout(world, 10, max_per_minute=3)
    world.advance(30)
    again = world.engine()
    again.tick()
    again.handle_messages([report("dev00009", OLD)])
    assert len(world.sent.orders) == 3
    world.advance(30)
    again.tick()
    assert len(world.sent.orders) == 6


def test_a_manual_retry_is_pushed_regardless_of_the_rate(world: World) -> None:
    e, _task, _names = rollout(world, 3, max_per_minute=1)
    e.retry_record(world.record("dev00003").id)
    assert world.sent.pushed_devices() == ["dev00001", "dev00003"]
    world.advance(MIN - 1)
    e.tick()  # the manual push counts in the window
    assert len(world.sent.orders) == 2
    world.advance(1)
    e.tick()
    assert world.sent.pushed_devices() == ["dev00001", "dev00003", "dev00002"]


# ---- 13.11 cancelling, 13.8 manual retry, device deletion ---------------------------------------

def test_cancel_task(world: World) -> None:
    online = world.devices(3)
    off = world.devices(1, online=False, prefix="off")
    fw = world.firmware(TARGET)
    e = world.engine()
    task = e.create_task(world.spec(fw, retry_count=1, retry_interval_minutes=10))
    e.handle_messages([report(online[0], TARGET), progress(world.record(online[1]), -2)])
    assert world.record(online[1]).due_time > 0
    world.sent.clear()
    e.cancel_task(task.id)
    got = {r.device_name: (r.status, r.desc, r.due_time) for r in world.records(task.id)}
    assert got[online[0]][0] == RS.SUCCEEDED
    assert got[online[1]] == (RS.FAILED, "download failed", 0)  # failed: keeps 601, loses its retry
    assert got[online[2]] == got[off[0]] == (RS.CANCELLED, "task cancelled", 0)
    assert world.task(task.id).status == TS.CANCELLED and task_events(world) == [TS.CANCELLED]
    assert world.sent.orders == []  # devices are not told
    with pytest.raises(Conflict) as exc:
        e.cancel_task(task.id)
    assert exc.value.code == ErrorCode.ALREADY_FINISHED and exc.value.msg.startswith("taskID:")
    with pytest.raises(NotFound):
        e.cancel_task(4242)
    world.advance(20 * MIN)
    e.tick()
    e.handle_messages([progress(world.record(online[2]), 50), report(off[0], OLD), report(online[1], TARGET)])
    assert world.sent.orders == [] and [a.code for a in world.sent.acks] == [ErrorCode.ALREADY_FINISHED]
    assert world.record(online[1]).status == RS.FAILED  # no late success in a cancelled task
    assert world.task(task.id).status == TS.CANCELLED


def test_cancel_a_scheduled_task(world: World) -> None:
    e, task, _names = rollout(world, 2, schedule_time=world.clock.now + 60_000)
    e.cancel_task(task.id)
    world.advance(2 * MIN)
    e.tick()
    assert world.task(task.id).status == TS.CANCELLED and world.sent.orders == []
    assert set(world.statuses(task.id).values()) == {RS.CANCELLED}


def test_cancel_record_rules(world: World) -> None:
    e, task, names = rollout(world, 3)
    ok, failed, pushed = (world.record(n) for n in names)
    e.handle_messages([report(ok.device_name, TARGET), progress(failed, -1)])
    for rec in (ok, failed):
        with pytest.raises(Conflict) as exc:
            e.cancel_record(rec.id)
        assert exc.value.code == ErrorCode.ALREADY_FINISHED and exc.value.msg.startswith("id:")
    world.sent.clear()
    e.cancel_record(pushed.id)
    rec = world.record(pushed.device_name)
    assert (rec.status, rec.desc) == (RS.CANCELLED, "cancelled")
    assert world.task(task.id).status == TS.DONE  # nothing left holding a device
    world.sent.clear()
    e.cancel_record(pushed.id)  # already cancelled: no change
    assert snapshot(world.record(pushed.device_name)) == snapshot(rec) and world.sent.events == []
    with pytest.raises(NotFound):
        e.cancel_record(99999)


def test_retry_is_refused_while_upgrading_and_after_success(world: World) -> None:
    e, _task, names = rollout(world, 2)
    e.handle_messages([progress(world.record(names[0]), 30), report(names[1], TARGET)])
    for name in names:
        before = snapshot(world.record(name))
        with pytest.raises(Conflict) as exc:
            e.retry_record(world.record(name).id)
        assert exc.value.code == ErrorCode.RETRY_NOT_ALLOWED
        assert snapshot(world.record(name)) == before
    assert len(world.sent.orders) == 2
    with pytest.raises(NotFound):
        e.retry_record(99999)


def test_retry_is_refused_in_a_cancelled_or_scheduled_task(world: World) -> None:
    e, task, names = rollout(world, 1)
    e.cancel_task(task.id)
    with pytest.raises(Conflict) as exc:
        e.retry_record(world.record(names[0]).id)
    assert exc.value.code == ErrorCode.RETRY_NOT_ALLOWED
    fw2 = world.firmware("1.1.0")
    later = e.create_task(world.spec(fw2, schedule_time=world.clock.now + 60_000))
    with pytest.raises(Conflict) as exc:
        e.retry_record(world.record(names[0], later.id).id)
    assert exc.value.code == ErrorCode.RETRY_NOT_ALLOWED
    assert len(world.sent.orders) == 1


def test_retry_is_refused_while_another_task_holds_the_device(world: World) -> None:
    e, first, names = rollout(world, 1)
    e.handle_messages([progress(world.record(names[0]), -2)])
    assert world.task(first.id).status == TS.DONE
    second = e.create_task(world.spec(world.firmware("1.1.0")))
    assert world.record(names[0], second.id).status == RS.PUSHED
    with pytest.raises(Conflict) as exc:
        e.retry_record(world.record(names[0], first.id).id)
    assert exc.value.code == ErrorCode.RETRY_NOT_ALLOWED and second.task_uid in exc.value.msg
    assert world.task(first.id).status == TS.DONE and len(world.sent.orders) == 2


def test_a_manual_retry_pushes_again_with_a_new_url_and_reopens_a_done_task(world: World) -> None:
    e, task, names = rollout(world, 1, retry_count=3)
    rec = world.record(names[0])
    e.handle_messages([progress(rec, -2)])
    e.handle_messages([progress(world.record(names[0]), -2)])  # a duplicate: 601 is finished
    world.advance(20 * MIN)  # let the automatic retries run out
    for _ in range(3):
        e.tick()
        world.advance(60 * MIN)
        e.tick()
        world.advance(10 * MIN)
    e.tick()
    assert world.task(task.id).status == TS.DONE
    rec = world.record(names[0])
    assert (rec.status, rec.retry_count, rec.auto_retries) == (RS.FAILED, 3, 3)
    previous = world.sent.orders[-1]
    world.sent.clear()
    e.retry_record(rec.id)
    (order,) = world.sent.orders
    assert order.record_id == rec.id and order.files[0].url != previous.files[0].url
    rec = world.record(names[0])
    assert (rec.status, rec.step, rec.desc, rec.retry_count, rec.auto_retries) == (RS.PUSHED, 0, "pushed", 4, 3)
    assert world.task(task.id).status == TS.UPGRADING and task_events(world) == [TS.UPGRADING]
    e.handle_messages([report(names[0], TARGET)])
    assert world.record(names[0]).status == RS.SUCCEEDED and world.task(task.id).status == TS.DONE


def test_a_manual_retry_brings_back_a_cancelled_record_and_pushes_an_offline_device(world: World) -> None:
    e, task, names = rollout(world, 2, online=False)
    e.cancel_record(world.record(names[0]).id)
    e.retry_record(world.record(names[0]).id)
    e.retry_record(world.record(names[1]).id)
    assert world.sent.pushed_devices() == names
    assert world.statuses(task.id) == dict.fromkeys(names, RS.PUSHED)
    assert [world.record(n).retry_count for n in names] == [1, 1]


def test_deleting_a_device_cancels_its_records_and_may_finish_the_task(world: World) -> None:
    e, task, names = rollout(world, 2, retry_count=1)
    e.handle_messages([report(names[1], TARGET)])
    world.sent.clear()
    e.delete_device(world.record(names[0]).product_id, names[0])
    rec = world.record(names[0])
    assert (rec.status, rec.desc) == (RS.CANCELLED, "device deleted")
    assert world.task(task.id).status == TS.DONE and task_events(world) == [TS.DONE]
    with world.db.session() as s:
        assert s.scalar(select(Device).where(Device.device_name == names[0])) is None
    e.handle_messages([report(names[0], OLD)])  # a deleted device is unknown
    assert world.sent.orders == []
    with pytest.raises(NotFound):
        e.delete_device(rec.product_id, names[0])


def test_deleting_a_device_cancels_a_failed_record_waiting_for_its_retry(world: World) -> None:
    e, task, names = rollout(world, 1, retry_count=1, retry_interval_minutes=5)
    e.handle_messages([progress(world.record(names[0]), -2)])
    assert world.task(task.id).status == TS.UPGRADING
    e.delete_device(world.record(names[0]).product_id, names[0])
    assert world.record(names[0]).status == RS.CANCELLED and world.task(task.id).status == TS.DONE
    world.advance(10 * MIN)
    e.tick()
    assert len(world.sent.orders) == 1


# ---- 13.10 completion, static vs dynamic --------------------------------------------------------

def test_a_static_task_is_done_once_no_record_holds_a_device(world: World) -> None:
    e, task, names = rollout(world, 2)
    e.handle_messages([report(names[0], TARGET)])
    assert world.task(task.id).status == TS.UPGRADING
    e.handle_messages([progress(world.record(names[1]), 60), report(names[1], TARGET)])
    assert world.task(task.id).status == TS.DONE
    assert task_events(world) == [TS.UPGRADING, TS.DONE]


def test_a_static_task_with_nothing_to_do_is_done_at_once(world: World) -> None:
    _e, task, _names = rollout(world, 2, version=TARGET)
    assert world.records(task.id) == [] and world.task(task.id).status == TS.DONE


def test_a_dynamic_task_stays_upgrading(world: World) -> None:
    e, task, names = rollout(world, 1, upgrade_type=UpgradeType.DYNAMIC, version_list=[OLD])
    e.handle_messages([report(names[0], TARGET)])
    assert world.record(names[0]).status == RS.SUCCEEDED
    world.advance(MIN)
    e.tick()
    assert world.task(task.id).status == TS.UPGRADING
    e.cancel_task(task.id)
    assert world.task(task.id).status == TS.CANCELLED


def test_dynamic_task_joiners(world: World) -> None:
    e, task, first = rollout(world, 1, upgrade_type=UpgradeType.DYNAMIC, version_list=[OLD, "0.8.0"])
    late = world.devices(4, version="0.1.0", prefix="late")
    held_task = e.create_task(world.spec(world.firmware("0.9.5"), type=TaskType.TARGETED, device_list=[late[3]]))
    world.sent.clear()
    e.handle_messages([report(late[0], "0.8.0"), report(late[1], "0.7.0"), report(late[2], TARGET),
                       report(late[3], OLD)])
    assert sorted(world.statuses(task.id)) == sorted([*first, late[0]])
    rec = world.record(late[0], task.id)
    assert (rec.status, rec.version) == (RS.PUSHED, "0.8.0")
    assert [(o.device_name, o.record_id) for o in world.sent.orders if o.version == TARGET] == [(late[0], rec.id)]
    assert world.record(late[3], held_task.id).status == RS.PUSHED  # held elsewhere: does not join
    e.handle_messages([report(late[0], TARGET), report(late[0], "0.8.0")])  # no second record in the task
    assert [r.device_name for r in world.records(task.id)].count(late[0]) == 1
    assert world.task(task.id).status == TS.UPGRADING


def test_a_device_joins_the_oldest_dynamic_task_only(world: World) -> None:
    world.devices(1, version="0.1.0")
    e = world.engine()
    older = e.create_task(world.spec(world.firmware(TARGET), upgrade_type=UpgradeType.DYNAMIC, version_list=[OLD]))
    newer = e.create_task(world.spec(world.firmware("1.1.0"), upgrade_type=UpgradeType.DYNAMIC, version_list=[OLD]))
    e.handle_messages([report("dev00001", OLD)])
    e.handle_messages([report("dev00001", OLD)])
    assert world.statuses(older.id) == {"dev00001": RS.PUSHED} and world.statuses(newer.id) == {}


def test_a_joiner_held_by_a_pending_retry_elsewhere_gets_a_failed_record(world: World) -> None:
    world.devices(1, version="0.5.0")
    e = world.engine()
    held = e.create_task(world.spec(world.firmware("0.6.0"), retry_count=1, retry_interval_minutes=10))
    e.handle_messages([progress(world.record("dev00001", held.id), -2)])
    dyn = e.create_task(world.spec(world.firmware(TARGET), upgrade_type=UpgradeType.DYNAMIC, version_list=[OLD]))
    world.sent.clear()
    e.handle_messages([report("dev00001", OLD)])
    rec = world.record("dev00001", dyn.id)
    assert (rec.status, rec.desc) == (RS.FAILED, BUSY_DESC) and world.sent.orders == []


def test_gray_percent_applies_to_dynamic_tasks_and_their_joiners(world: World) -> None:
    start = world.devices(20, version=OLD, prefix="s")
    late = world.devices(40, version="0.1.0", prefix="j")
    e = world.engine()
    task = e.create_task(world.spec(world.firmware(TARGET), upgrade_type=UpgradeType.DYNAMIC, version_list=[OLD],
                                    gray_percent=50))
    t = world.task(task.id)
    assert sorted(world.statuses(task.id)) == [d for d in start if in_gray(t, d)]
    e.handle_messages([report(d, OLD) for d in late])
    joined = sorted(set(world.statuses(task.id)) - set(start))
    assert joined == [d for d in late if in_gray(t, d)] and 0 < len(joined) < len(late)


# ---- batches and counts -----------------------------------------------------------------------

def test_one_bad_message_in_a_batch_does_not_stop_the_others(world: World) -> None:
    """A failure step the rules cannot name (-5; the MQTT parser refuses it, so it can only come
    from a bug) raises inside the batch: that message changes nothing, the others still count."""
    e, _task, names = rollout(world, 3)
    r1, r2, r3 = (world.record(n) for n in names)
    bad = wire.Progress(product_id=r2.product_id, device_name=r2.device_name, client_token="bad", timestamp=0,
                        record_id=r2.id, step=-5, desc="", module="default")
    before = snapshot(r2)
    world.sent.clear()
    e.handle_messages([progress(r1, 50, token="a"), bad, progress(r3, -2, token="c"), report(names[1], TARGET)])
    assert world.record(names[0]).status == RS.UPGRADING
    assert world.record(names[2]).status == RS.FAILED
    assert world.record(names[1]).status == RS.SUCCEEDED  # the report after the bad message counted
    assert [(a.client_token, a.code) for a in world.sent.acks] == [("a", OK), ("c", OK)]
    assert not any(ev["type"] == "record" and ev["deviceName"] == names[1] and ev["status"] == RS.FAILED
                   for ev in world.sent.events)
    assert before[0] == RS.PUSHED


def test_status_counts_name_every_status(world: World) -> None:
    e, task, names = rollout(world, 3)
    e.handle_messages([report(names[0], TARGET), progress(world.record(names[1]), 20)])
    with world.db.session() as s:
        counts = OtaEngine.status_counts(s, task.task_uid)
    assert set(counts) == set(RS)
    assert {k: v for k, v in counts.items() if v} == {RS.SUCCEEDED: 1, RS.UPGRADING: 1, RS.PUSHED: 1}


# ---- never a downgrade (13.3), also on retries --------------------------------------------------

def test_a_manual_retry_is_the_one_way_to_push_to_a_newer_device(world: World) -> None:
    """13.3/13.8: automatic pushes never downgrade; device-retry is the technician's explicit request."""
    e, task, names = rollout(world, 1, version="1.2.0")
    rec = world.record(names[0])
    assert (rec.status, rec.desc) == (RS.FAILED, NEWER_DESC) and world.sent.orders == []
    e.retry_record(rec.id)
    assert [(o.device_name, o.version) for o in world.sent.orders] == [(names[0], TARGET)]
    assert (world.record(names[0]).status, world.task(task.id).status) == (RS.PUSHED, TS.UPGRADING)


def test_an_automatic_retry_never_pushes_a_downgrade(world: World) -> None:
    e, _task, names = rollout(world, 1, retry_count=1, retry_interval_minutes=1)
    e.handle_messages([progress(world.record(names[0]), -4)])
    e.handle_messages([report(names[0], "1.5.0")])  # upgraded by other means meanwhile
    world.advance(MIN)
    e.tick()
    assert len(world.sent.orders) == 1  # only the first push, when it was on 0.9.0
    rec = world.record(names[0])
    assert (rec.status, rec.desc, rec.due_time, rec.version) == (RS.FAILED, NEWER_DESC, 0, "1.5.0")


def test_a_differential_sha256_package_is_pushed_as_such(world: World) -> None:
    world.devices(1)
    fw = world.firmware(TARGET, files=2, is_diff=2, sign_method="sha256")
    world.engine().create_task(world.spec(fw))
    (order,) = world.sent.orders
    assert (order.is_diff, order.sign_method) == (2, "sha256")
    assert [(f.name, f.signature, f.size) for f in order.files] == [("f0.bin", f"{0:064x}", 10),
                                                                     ("f1.bin", f"{1:064x}", 11)]


def test_planning_is_not_pushing_create_answers_first_dispatch_pushes(world: World) -> None:
    """task/create plans and commits; the backend's dispatcher pushes right after (dispatch())."""
    world.devices(7)
    world.devices(2, online=False, prefix="off")
    e = world.engine(dispatch_at_once=False)
    task = e.create_task(world.spec(world.firmware(TARGET)))
    assert world.sent.orders == []
    statuses = world.statuses(task.id)
    assert sorted(statuses.values()) == [RS.QUEUED] * 7 + [RS.QUEUED_OFFLINE] * 2
    assert e.dispatch() == 7
    assert sorted(world.sent.pushed_devices()) == [f"dev{i:05d}" for i in range(1, 8)]
    assert e.dispatch() == 0 and len(world.sent.orders) == 7  # nothing twice


def test_one_batch_of_many_messages_per_device_applies_in_order_and_keeps_every_check(world: World) -> None:
    """A dispatcher batch holds many messages of the same devices (10 progress + the version
    report each, interleaved): every one applies in order, each progress is acknowledged, the
    records end succeeded; a forged record id inside the same batch is still refused."""
    e, task, names = rollout(world, 3, timeout_minutes=10)
    recs = {n: world.record(n) for n in names}
    msgs: list = []
    for step in range(10, 101, 10):
        msgs += [progress(recs[n], step, "downloading", token=f"{n}-{step}") for n in names]
    forged = wire.Progress(product_id=recs[names[0]].product_id, device_name=names[0], client_token="forged", timestamp=0,
                           record_id=recs[names[1]].id, step=-2, desc="", module="default")
    msgs.append(forged)
    msgs += [report(n, "1.0.0") for n in names]
    msgs.append(progress(recs[names[2]], 50, token="late"))  # after its success, in the same batch
    e.handle_messages(msgs)
    for n in names:
        rec = world.record(n)
        assert (rec.status, rec.step, rec.version) == (RS.SUCCEEDED, 100, "1.0.0")
        assert world.device(n).version == "1.0.0"
        assert [a.client_token for a in world.sent.acks if a.device_name == n and a.code == OK] == \
            [f"{n}-{s}" for s in range(10, 101, 10)]
    assert [(a.client_token, a.code) for a in world.sent.acks if a.code != OK] == \
        [("forged", ErrorCode.NOT_FOUND), ("late", ErrorCode.ALREADY_FINISHED)]
    steps = [ev["step"] for ev in world.sent.events if ev.get("type") == "record" and ev["deviceName"] == names[0]
             and ev["status"] == RS.UPGRADING]
    assert steps[-10:] == list(range(10, 101, 10))  # every step announced, in order
    assert world.task(task.id).status == TS.DONE
