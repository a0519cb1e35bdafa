"""A new task's records, written in bulk (SQLite: one executemany; PostgreSQL: COPY), in-process on
both databases: every planned device gets exactly one record, with its initial status
(planning.first_status), ids ascending in the devices' order, one event and one history row each;
the same on SQLite and on PostgreSQL."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from backend.db.models import Base, Device, DeviceRecord, Product, RecordHistory
from backend.db.session import Database
from backend.ota.bulk import COPY_FROM
from backend.ota.outages import OutageLog
from backend.ota.planning import BUSY_DESC, NEWER_DESC
from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import TaskStatus as TS

from ._engine_world import PID, T0, Clock, World

pytestmark = pytest.mark.both_databases

N = 1200


@pytest.fixture
def any_world(database_url: str):  # "" = SQLite (conftest: both_databases)
    tmp = tempfile.mkdtemp(prefix="ota-create-")
    db = Database(database_url or f"sqlite:///{Path(tmp) / 'ota.db'}")
    Base.metadata.create_all(db.engine)
    clock = Clock()
    world = World(db, clock, OutageLog(clock=lambda: clock.now / 1000))
    with db.session() as s:
        s.add(Product(product_id=PID, product_name="rules", created_time=T0))
    yield world
    db.dispose()


def version(k: int) -> str:
    return "2.0.0" if k % 97 == 0 else ("0.8.0" if k % 10 == 0 else "0.9.0")  # 2.0.0: newer than the target


def add_devices(world: World) -> list[str]:
    # names not in id order: the records follow the devices' ids, not their names
    names = [f"d{(k * 7919) % 100_000:05d}-{k}" for k in range(1, N + 1)]
    with world.db.session() as s:
        s.execute(insert(Device), [{"product_id": PID, "device_name": n, "version": version(k), "online": k % 3 == 0,
                                    "device_secret": "x", "created_time": T0} for k, n in enumerate(names, 1)])
    return names


def expected(k: int, busy: bool, overwrite: bool) -> tuple[int, str]:
    if version(k) == "2.0.0":
        return RS.FAILED, NEWER_DESC
    if busy and not overwrite:
        return RS.FAILED, BUSY_DESC
    return (RS.QUEUED if k % 3 == 0 else RS.QUEUED_OFFLINE), ""


@pytest.mark.parametrize("overwrite", [False, True])
def test_all_devices_create_writes_one_record_per_device_in_order(any_world: World, overwrite: bool) -> None:
    world = any_world
    names = add_devices(world)
    e = world.engine(dispatch_at_once=False)
    fw_old = world.firmware("0.95.0")
    busy_names = names[5:N:4]  # a targeted task holds every 4th device
    first = e.create_task(world.spec(fw_old, type=2, device_list=busy_names))
    held = {n for n in busy_names if version(names.index(n) + 1) != "2.0.0"}  # those newer failed there
    world.sent.clear()

    fw = world.firmware("1.0.0")
    task = e.create_task(world.spec(fw, overwrite=overwrite))

    recs = world.records(task.id)
    assert [r.device_name for r in recs] == names  # one each, ids ascending in device order
    assert len({r.id for r in recs}) == N
    for k, r in enumerate(recs, 1):
        assert (r.status, r.desc) == expected(k, r.device_name in held, overwrite), r.device_name
        assert (r.task_uid, r.product_id, r.target_version) == (task.task_uid, PID, "1.0.0")
        assert (r.version, r.from_version) == (version(k), version(k))
        assert (r.step, r.retry_count, r.auto_retries, r.due_time, r.pushed_time, r.wave) == (0, 0, 0, 0, 0, 0)
        assert r.created_time == r.updated_time == world.clock.now

    # one event per record, with its id and initial status; then the task's
    events = [ev for ev in world.sent.events if ev["type"] == "record" and ev["taskUid"] == task.task_uid]
    assert [(ev["id"], ev["deviceName"], ev["status"], ev["desc"]) for ev in events] == \
        [(r.id, r.device_name, r.status, r.desc) for r in recs]
    # the history: each new record's initial status once
    with world.db.session() as s:
        hist = s.execute(select(RecordHistory.record_id, RecordHistory.status, RecordHistory.device_name)
                         .where(RecordHistory.task_uid == task.task_uid).order_by(RecordHistory.id)).all()
    assert [tuple(h) for h in hist] == [(r.id, r.status, r.device_name) for r in recs]

    # the other task: its devices cancelled when overwritten (and the task done), else untouched
    old = {r.device_name: r.status for r in world.records(first.id)}
    if overwrite:
        assert all(old[n] == RS.CANCELLED for n in held)
        assert world.task(first.id).status == TS.DONE
    else:
        assert all(old[n] != RS.CANCELLED for n in held)
        assert world.task(first.id).status == TS.UPGRADING


def test_a_second_task_gets_records_of_its_own(any_world: World) -> None:
    """Ids are read back per task: a second create (the first cancelled) gets new ids after the first's."""
    world = any_world
    names = add_devices(world)
    e = world.engine(dispatch_at_once=False)
    fw = world.firmware("1.0.0")
    a = e.create_task(world.spec(fw))
    e.cancel_task(a.id)
    b = e.create_task(world.spec(fw))
    ra, rb = world.records(a.id), world.records(b.id)
    assert [r.device_name for r in rb] == [r.device_name for r in ra] == names
    assert rb[0].id > ra[-1].id
    with world.db.session() as s:
        assert s.scalar(select(DeviceRecord.id).where(DeviceRecord.task_id == b.id).order_by(DeviceRecord.id)) == rb[0].id


def test_a_small_create_gets_the_same(any_world: World) -> None:
    """Below bulk.COPY_FROM rows PostgreSQL inserts with executemany: the same records."""
    world = any_world
    names = add_devices(world)
    e = world.engine(dispatch_at_once=False)
    fw = world.firmware("1.0.0")
    picked = [names[k - 1] for k in (3, 97, 10, 6, 1, 11)]  # online, newer, 0.8.0, online, offline, offline
    task = e.create_task(world.spec(fw, type=2, device_list=picked))
    recs = world.records(task.id)
    assert len(recs) == len(picked) < COPY_FROM
    assert sorted(r.device_name for r in recs) == sorted(picked)
    by_name = {r.device_name: r for r in recs}
    for k in (3, 97, 10, 6, 1, 11):
        r = by_name[names[k - 1]]
        assert (r.status, r.desc, r.from_version, r.step, r.wave) == (*expected(k, False, False), version(k), 0, 0)
    events = [ev for ev in world.sent.events if ev["type"] == "record"]
    assert [(ev["id"], ev["status"]) for ev in events] == [(r.id, r.status) for r in recs]
