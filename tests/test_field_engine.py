"""Field conditions: failures during our own outages, pacing across a restart, idempotent task/create.

The engine is built in-process (tests/_engine_world.py: temporary SQLite database, fake clock
shared with the OutageLog, recording outbound port); only the HTTP part of the idempotent create runs against the real
backend (``api``), and the migration is checked on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from backend.db.models import Base, DeviceRecord, Firmware, Task
from backend.db.session import Database
from backend.ota.engine import OtaEngine
from backend.ota.errors import Conflict
from backend.ota.outages import BACKEND_START, PROXY_5XX, STORE
from backend.ota.recovery import MAX_OUTAGE_REPUSHES
from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import TaskStatus as TS
from ota_protocol.task_options import TaskSpec

from ._engine_world import World, new_world, progress, report
from ._ota_helpers import make_devices, make_product, seed_firmware


@pytest.fixture
def world(tmp_path) -> World:
    w = new_world(str(tmp_path / "ota.db"))
    w.devices(12)
    w.firmware("1.0.0")
    yield w
    w.db.dispose()


def fw_id(w: World) -> int:
    with w.db.session() as s:
        return s.scalar(select(Firmware.id))


def one_device_task(w: World, e: OtaEngine, **kw) -> Task:
    return e.create_task(TaskSpec(firmware_id=fw_id(w), type=2, device_list=["dev00001"], **kw))


# ---- 4. failures during our own outages -----------------------------------------------------

def test_download_failure_during_a_store_outage_is_re_pushed_after_recovery(world: World) -> None:
    e = world.engine()
    task = one_device_task(world, e)  # retryCount 0: no retry budget at all
    assert len(world.sent.pushes()) == 1
    rec = world.record("dev00001")
    assert rec.status == RS.PUSHED

    world.outages.begin(STORE, "connection refused")
    world.advance(3)
    e.handle_messages([progress(rec, -2, "download failed: 502 object store unreachable")])
    rec = world.record("dev00001")
    assert (rec.status, rec.step) == (RS.QUEUED_RETRY, -2)
    assert rec.desc == "re-pushed: download failed during our object-store outage"
    assert (rec.retry_count, rec.auto_retries, rec.outage_retries, rec.due_time) == (0, 0, 1, 0)
    e.handle_messages([progress(rec, -2, "download failed")])  # a duplicate (QoS 1) changes nothing
    assert world.record("dev00001").outage_retries == 1

    for _ in range(3):  # not while the store is still down
        world.advance(1)
        e.tick()
    assert len(world.sent.pushes()) == 1 and world.record("dev00001").status == RS.QUEUED_RETRY
    assert world.task(task.id).status == TS.UPGRADING  # the waiting record keeps the task open

    world.outages.end(STORE)
    world.advance(1)
    e.tick()
    pushes = world.sent.pushes("dev00001")
    assert len(pushes) == 2 and pushes[1].record_id == rec.id  # the same record, no duplicate
    assert pushes[1].files[0].url != pushes[0].files[0].url  # fresh URL
    rec = world.record("dev00001")
    assert rec.status == RS.PUSHED and rec.desc.startswith("re-pushed: download failed")
    with world.db.session() as s:
        assert s.scalar(select(DeviceRecord.id).where(DeviceRecord.task_id == task.id,
                                                      DeviceRecord.id != rec.id)) is None

    world.advance(1)
    e.handle_messages([progress(rec, 50, "downloading")])
    e.handle_messages([report("dev00001", "1.0.0")])
    rec = world.record("dev00001")
    assert (rec.status, rec.retry_count, rec.auto_retries) == (RS.SUCCEEDED, 0, 0)
    assert world.task(task.id).status == TS.DONE
    world.advance(5)
    e.tick()
    assert len(world.sent.pushes()) == 2  # never pushed again after success


def test_late_failure_reports_about_the_push_before_the_outage_do_not_fail_the_re_push(world: World) -> None:
    """A device that failed while we were down sends one failure per file, queued in its client
    until the broker is back: the second arrives after the record was re-queued, or after the
    re-push. Neither may fail the new attempt (seen with kill -9 mid-rollout)."""
    import dataclasses

    e = world.engine()
    one_device_task(world, e)
    rec = world.record("dev00001")
    world.outages.note(BACKEND_START)
    world.advance(1)
    first = dataclasses.replace(progress(rec, -2, "download failed: xx.zip"), timestamp=world.clock.now - 500)
    second = dataclasses.replace(progress(rec, -2, "download failed: xx2.zip"), timestamp=world.clock.now - 400)
    e.handle_messages([first, second])  # both in one batch: re-queued once, the second ignored
    rec = world.record("dev00001")
    assert rec.status == RS.QUEUED_RETRY and rec.outage_retries == 1
    world.advance(1)
    e.tick()
    assert world.record("dev00001").status == RS.PUSHED
    e.handle_messages([second])  # arriving even after the re-push: stamped before it, ignored
    rec = world.record("dev00001")
    assert rec.status == RS.PUSHED and rec.retry_count == 0
    e.handle_messages([report("dev00001", "1.0.0")])
    assert world.record("dev00001").status == RS.SUCCEEDED


def test_failure_outside_any_outage_takes_the_normal_failed_path(world: World) -> None:
    e = world.engine()
    task = one_device_task(world, e, retry_count=1, retry_interval_minutes=10)
    rec = world.record("dev00001")
    world.advance(2)
    e.handle_messages([progress(rec, -2, "download failed: 404")])
    rec = world.record("dev00001")
    assert (rec.status, rec.step, rec.desc, rec.outage_retries) == (RS.FAILED, -2, "download failed: 404", 0)
    assert rec.due_time == world.clock.now + 10 * 60_000  # the task's own retry, as before
    world.advance(1)
    e.tick()
    assert len(world.sent.pushes()) == 1 and world.task(task.id).status == TS.UPGRADING


def test_an_outage_over_before_the_push_did_not_cause_its_failure(world: World) -> None:
    world.outages.begin(STORE)
    world.advance(1)
    world.outages.end(STORE)
    world.advance(5)  # well within the grace period, but the push comes after the outage
    e = world.engine()
    one_device_task(world, e)
    world.advance(2)
    e.handle_messages([progress(world.record("dev00001"), -2)])
    rec = world.record("dev00001")
    assert (rec.status, rec.desc, rec.outage_retries) == (RS.FAILED, "download failed", 0)


def test_flash_failure_is_never_ours_verify_failure_through_a_failing_proxy_is(world: World) -> None:
    e = world.engine()
    task = e.create_task(TaskSpec(firmware_id=fw_id(world), type=2, device_list=["dev00001", "dev00002"]))
    a, b = world.record("dev00001"), world.record("dev00002")
    world.advance(1)
    world.outages.note(PROXY_5XX, "502 object store unreachable")  # momentary: we are healthy again
    world.advance(1)
    e.handle_messages([progress(a, -4, "flash failed"), progress(b, -3, "md5 mismatch")])
    a, b = world.record("dev00001"), world.record("dev00002")
    assert (a.status, a.desc) == (RS.FAILED, "flash failed")
    assert (b.status, b.desc) == (RS.QUEUED_RETRY, "re-pushed: verification failed during our object-proxy outage")
    world.advance(1)
    e.tick()  # healthy: re-pushed at the next tick
    assert [p.record_id for p in world.sent.pushes("dev00002")] == [b.id, b.id]
    assert world.task(task.id).status == TS.UPGRADING


def test_outage_re_pushes_are_bounded(world: World) -> None:
    e = world.engine()
    one_device_task(world, e)
    world.outages.begin(STORE)
    for _ in range(MAX_OUTAGE_REPUSHES):
        world.advance(1)
        e.handle_messages([progress(world.record("dev00001"), -2)])
        assert world.record("dev00001").status == RS.QUEUED_RETRY
        world.outages.end(STORE)
        world.advance(1)
        e.tick()
        world.outages.begin(STORE)
    assert len(world.sent.pushes()) == 1 + MAX_OUTAGE_REPUSHES
    world.advance(1)
    e.handle_messages([progress(world.record("dev00001"), -2)])
    rec = world.record("dev00001")
    assert (rec.status, rec.outage_retries, rec.retry_count) == (RS.FAILED, MAX_OUTAGE_REPUSHES, 0)


def test_a_device_that_succeeded_meanwhile_is_not_re_pushed(world: World) -> None:
    e = world.engine()
    task = e.create_task(TaskSpec(firmware_id=fw_id(world), type=2, device_list=["dev00001", "dev00002"]))
    world.outages.begin(STORE)
    world.advance(1)
    e.handle_messages([progress(world.record("dev00001"), -2), progress(world.record("dev00002"), -2)])
    e.handle_messages([report("dev00001", "1.0.0")])  # it retried by itself and made it
    with world.db.session() as s:  # dev00002's success known only from its device row
        s.execute(text("UPDATE device SET version = '1.0.0' WHERE device_name = 'dev00002'"))
    world.outages.end(STORE)
    world.advance(1)
    e.tick()
    assert len(world.sent.pushes()) == 2  # only the two first pushes
    assert {world.record(d).status for d in ("dev00001", "dev00002")} == {RS.SUCCEEDED}
    assert world.task(task.id).status == TS.DONE


def test_a_waiting_device_that_reports_during_the_outage_is_not_pushed_into_it(world: World) -> None:
    e = world.engine()
    one_device_task(world, e)
    world.outages.begin(STORE)
    world.advance(1)
    e.handle_messages([progress(world.record("dev00001"), -2)])
    e.handle_messages([report("dev00001", "0.9.0")])
    assert len(world.sent.pushes()) == 1 and world.record("dev00001").status == RS.QUEUED_RETRY
    world.outages.end(STORE)
    e.handle_messages([report("dev00001", "0.9.0")])
    assert len(world.sent.pushes()) == 2 and world.record("dev00001").status == RS.PUSHED


# ---- 5. pacing across a restart ------------------------------------------------------------

def _max_in_any_minute(times: list[int], minute_ms: int = 60_000) -> int:
    times = sorted(times)
    return max((sum(1 for u in times if t - minute_ms < u <= t) for t in times), default=0)


def test_pacing_after_a_restart_stays_within_the_rate(world: World) -> None:
    first = world.engine()
    first.create_task(TaskSpec(firmware_id=fw_id(world), max_per_minute=5))  # 12 devices
    assert len(world.sent.pushes()) == 5
    world.advance(20)
    second = world.engine()  # a restarted backend: nothing in memory
    for _ in range(39):
        world.advance(1)
        second.tick()
        second.handle_messages([report("dev00012", "0.9.0")])  # a report pushes only within the rate too
    assert len(world.sent.pushes()) == 5  # t0 + 59 s: the pushes before the restart still count
    world.advance(1.5)
    second.tick()
    assert len(world.sent.pushes()) == 10
    world.advance(30)
    third = world.engine()  # restarted again, in the middle of the second minute
    third.tick()
    assert len(world.sent.pushes()) == 10
    for _ in range(40):
        world.advance(1)
        third.tick()
    times = [p.timestamp for p in world.sent.pushes()]
    assert len(times) == 12 and _max_in_any_minute(times) <= 5


# ---- 7. idempotent task/create ---------------------------------------------------------------

def test_create_task_once_in_process(world: World) -> None:
    e = world.engine()
    spec = TaskSpec(firmware_id=fw_id(world), type=2, device_list=["dev00001"])
    task, created = e.create_task_once(spec, "key-1")
    again, created2 = e.create_task_once(TaskSpec(firmware_id=fw_id(world), type=2, device_list=["dev00001"]), "key-1")
    assert (created, created2) == (True, False) and (again.id, again.task_uid) == (task.id, task.task_uid)
    with pytest.raises(Conflict) as exc:
        e.create_task_once(TaskSpec(firmware_id=fw_id(world), type=2, device_list=["dev00002"]), "key-1")
    assert exc.value.code == 100010 and exc.value.msg.startswith("clientToken:")
    with world.db.session() as s:
        assert s.scalar(select(text("count(*)")).select_from(Task)) == 1
    assert len(world.sent.pushes()) == 1


CREATE = "/api/v1/things/ota/task/create"


def test_task_create_is_idempotent_over_http(api) -> None:
    pid = make_product(api)
    make_devices(api, pid, 2)
    fw, _ = seed_firmware(api, pid)
    body = {"firmwareID": fw, "type": 2, "deviceList": ["dev00001"], "clientToken": "order-4711 retry"}
    r1 = api.raw(CREATE, body)
    r2 = api.raw(CREATE, body)  # the caller lost the first answer and sends it again
    assert r1.status_code == r2.status_code == 200
    assert r1.json()["data"] == r2.json()["data"] and r2.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in r1.headers
    listed = api.ok("/api/v1/things/ota/task/index", {"firmwareID": fw})
    assert listed["total"] == 1
    assert listed["list"][0]["statusCount"] == {"202": 1}  # one record (the device is offline)

    code, doc = api.call(CREATE, dict(body, deviceList=["dev00002"]))
    assert (code, doc["code"]) == (409, 100010) and doc["msg"].startswith("clientToken:"), doc
    assert api.ok("/api/v1/things/ota/task/index", {"firmwareID": fw})["total"] == 1

    # the header works the same way, and names the same key space
    hdr = {"Idempotency-Key": "order-4711 retry"}
    r3 = api.raw(CREATE, {"firmwareID": fw, "type": 2, "deviceList": ["dev00001"]}, headers=hdr)
    assert r3.status_code == 200 and r3.json()["data"] == r1.json()["data"]
    r4 = api.raw(CREATE, {"firmwareID": fw, "type": 2, "deviceList": ["dev00002"]}, headers={"Idempotency-Key": "k2"})
    r5 = api.raw(CREATE, {"firmwareID": fw, "type": 2, "deviceList": ["dev00002"]}, headers={"Idempotency-Key": "k2"})
    assert r4.status_code == r5.status_code == 200 and r4.json()["data"] == r5.json()["data"]
    assert api.ok("/api/v1/things/ota/task/index", {"firmwareID": fw})["total"] == 2

    for bad, field_name in (({"clientToken": "x" * 65}, "clientToken"), ({"clientToken": "tab\there"}, "clientToken"),
                            ({"clientToken": 7}, "clientToken")):
        code, doc = api.call(CREATE, dict(body, **bad))
        assert (code, doc["code"]) == (400, 100006) and doc["msg"].startswith(field_name), doc
    code, doc = api.call(CREATE, body, headers={"Idempotency-Key": "other"})
    assert code == 400 and doc["msg"] == "clientToken: differs from the Idempotency-Key header"
    assert api.ok("/api/v1/things/ota/task/index", {"firmwareID": fw})["total"] == 2


# ---- the migration (0002) ---------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    return request.getfixturevalue("postgres").new_database()


def test_migration_0002_upgrades_existing_data_and_matches_the_models(fresh_url: str) -> None:
    from importlib import resources

    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext

    db = Database(fresh_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("backend.db.migrations")))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO product (product_id, product_name, \"desc\", created_time) VALUES ('P', 'p', '', 0)"))
        conn.execute(text("INSERT INTO firmware (product_id, name, version, is_diff, sign_method, \"desc\", ext_data, "
                          "total_size, created_time) VALUES ('P', 'f', '1', 1, 'md5', '', '', 0, 0)"))
        fid = conn.execute(text("SELECT id FROM firmware")).scalar()
        conn.execute(text("INSERT INTO task (task_uid, firmware_id, product_id, type, upgrade_type, status, version, "
                          "src_version, src_device, retry_count, retry_interval_minutes, timeout_minutes, "
                          "max_per_minute, gray_percent, schedule_time, overwrite, created_time, updated_time) "
                          f"VALUES ('u1', {fid}, 'P', 1, 1, 2, '1', '[]', '[]', 0, 10, 60, 0, 100, 0, false, 0, 0)"))
        tid = conn.execute(text("SELECT id FROM task")).scalar()
        conn.execute(text("INSERT INTO device_record (task_id, task_uid, product_id, device_name, version, "
                          "target_version, status, step, \"desc\", retry_count, auto_retries, due_time, pushed_time, "
                          f"created_time, updated_time) VALUES ({tid}, 'u1', 'P', 'd', '0', '1', 301, 0, 'pushed', "
                          "0, 0, 0, 0, 0, 0)"))
    db.migrate()  # 0001 -> head, with data in place
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT outage_retries FROM device_record")).scalar() == 0
        assert conn.execute(text("SELECT client_token FROM task")).scalar() is None
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        # only column, index and constraint differences count: PostgreSQL's id columns are
        # INTEGER in 0001 while the models bind BIGINT there (modify_type, older than 0002)
        diff = [d for d in diff if not (isinstance(d, list) and all(x[0] == "modify_type" for x in d))]
        assert diff == [], diff
    names = {ix["name"]: ix["unique"] for ix in inspect(db.engine).get_indexes("task")}
    assert names.get("uq_task_client_token") in (True, 1)
    with db.session() as s:  # many NULL keys, one task per key
        t = s.scalar(select(Task))
        for uid in ("u2", "u3"):
            s.add(Task(**{c: getattr(t, c) for c in ("firmware_id", "product_id", "type", "upgrade_type", "status",
                                                     "version", "src_version", "src_device")}, task_uid=uid))
        t.client_token = "k"
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(Task(**{c: getattr(t, c) for c in ("firmware_id", "product_id", "type", "upgrade_type", "status",
                                                 "version", "src_version", "src_device")}, task_uid="u4",
                   client_token="k"))
    db.dispose()


def alembic_runner(db: Database):
    """run(command.upgrade | command.downgrade, revision) on ``db``, in a transaction of its own."""
    from importlib import resources

    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("backend.db.migrations")))

    def run(step, target: str) -> None:
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            step(cfg, target)
    return run


# ---- the migration (0003): indexes for the index pages -----------------------------------------

def test_migration_0003_adds_the_page_indexes_and_downgrades(fresh_url: str) -> None:
    from alembic import command

    db = Database(fresh_url)
    run = alembic_runner(db)

    def indexes(table: str) -> dict[str, list[str]]:
        return {ix["name"]: list(ix["column_names"]) for ix in inspect(db.engine).get_indexes(table)}

    run(command.upgrade, "0002")
    with db.engine.begin() as conn:  # data in place before the indexes are built
        conn.execute(text("INSERT INTO product (product_id, product_name, \"desc\", created_time) VALUES ('P', 'p', '', 0)"))
        for i in range(30):
            conn.execute(text("INSERT INTO device (product_id, device_name, version, online, last_seen, device_secret, "
                              f"created_time) VALUES ('P', 'd{i:02d}', '{i % 3}.0', false, 0, 's', 0)"))
    assert "ix_device_product" not in indexes("device")
    assert indexes("device_record")["ix_device_record_task_uid"] == ["task_uid"]

    db.migrate()  # 0002 -> head
    assert indexes("device")["ix_device_product"] == ["product_id", "id"]
    assert indexes("device")["ix_device_product_version"] == ["product_id", "version", "id"]
    records = indexes("device_record")
    assert records["ix_record_task_uid"] == ["task_uid", "id"]
    assert records["ix_record_task_status"] == ["task_id", "status", "id"]
    assert "ix_device_record_task_uid" not in records
    if fresh_url.startswith("sqlite"):  # the page's ids and its total come from the index
        with db.engine.connect() as conn:
            plan = " ".join(str(r[3]) for r in conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT id FROM device WHERE product_id = 'P' AND version = '1.0' "
                "ORDER BY id DESC LIMIT 5")))
        assert "COVERING INDEX ix_device_product_version" in plan and "TEMP B-TREE" not in plan, plan

    run(command.downgrade, "0002")  # and back: the old indexes, the data untouched
    assert "ix_device_product" not in indexes("device") and "ix_device_product_version" not in indexes("device")
    assert indexes("device_record")["ix_device_record_task_uid"] == ["task_uid"]
    assert indexes("device_record")["ix_record_task_status"] == ["task_id", "status"]
    db.migrate()
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM device WHERE product_id = 'P' AND version = '1.0'")).scalar() == 10
    db.dispose()


# ---- the migration (0004): rollout safety ------------------------------------------------------

def test_migration_0004_keeps_existing_tasks_as_they_were_and_downgrades(fresh_url: str) -> None:
    from alembic import command

    db = Database(fresh_url)
    run = alembic_runner(db)

    run(command.upgrade, "0003")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO product (product_id, product_name, \"desc\", created_time) VALUES ('P', 'p', '', 0)"))
        conn.execute(text("INSERT INTO firmware (product_id, name, version, is_diff, sign_method, \"desc\", ext_data, "
                          "total_size, created_time) VALUES ('P', 'f', '1', 1, 'md5', '', '', 0, 0)"))
        fid = conn.execute(text("SELECT id FROM firmware")).scalar()
        conn.execute(text("INSERT INTO task (task_uid, firmware_id, product_id, type, upgrade_type, status, version, "
                          "src_version, src_device, retry_count, retry_interval_minutes, timeout_minutes, "
                          "max_per_minute, gray_percent, schedule_time, overwrite, created_time, updated_time) "
                          f"VALUES ('u1', {fid}, 'P', 1, 1, 2, '1', '[]', '[]', 0, 10, 60, 0, 100, 0, false, 0, 0)"))
        tid = conn.execute(text("SELECT id FROM task")).scalar()
        conn.execute(text("INSERT INTO device_record (task_id, task_uid, product_id, device_name, version, "
                          "target_version, status, step, \"desc\", retry_count, auto_retries, due_time, pushed_time, "
                          f"created_time, updated_time, outage_retries) VALUES ({tid}, 'u1', 'P', 'd', '0', '1', 301, "
                          "0, 'pushed', 0, 0, 0, 0, 0, 0, 0)"))
    db.migrate()  # 0003 -> head: the task has no rollout options, is not paused, its record in wave 0
    with db.session() as s:
        task = s.scalar(select(Task))
        assert (task.rollout, task.paused, task.current_wave, task.wave_done_time, task.status_reason) == \
            ("", False, 0, 0, "")
        assert s.scalar(select(DeviceRecord.wave)) == 0
    assert {"record_history", "audit_log"} <= set(inspect(db.engine).get_table_names())
    run(command.downgrade, "0003")
    assert not {"record_history", "audit_log"} & set(inspect(db.engine).get_table_names())
    assert "rollout" not in {c["name"] for c in inspect(db.engine).get_columns("task")}
    db.migrate()
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM device_record")).scalar() == 1
    db.dispose()


def test_a_database_at_the_newest_revision_is_recognised_and_every_revision_is_named_by_its_file(
        fresh_url: str) -> None:
    """Start-up skips Alembic when the database is at head: the head is read from the file names,
    so each migration's revision must be its file's number."""
    import re
    from importlib import resources

    from backend.db.session import _head_revision, at_head

    versions = resources.files("backend.db.migrations").joinpath("versions")
    for path in versions.iterdir():
        if path.name[:4].isdigit() and path.name.endswith(".py"):
            assert re.search(rf"^revision = '{path.name[:4]}'$", path.read_text(), re.M), path.name
    db = Database(fresh_url)
    assert not at_head(db.engine)  # empty
    db.migrate()
    assert at_head(db.engine)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    assert not at_head(db.engine)
    assert _head_revision() == "0005"
    db.dispose()
