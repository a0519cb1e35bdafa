"""Rollout settings of spec section 5: grayPercent, scheduleTime, overwrite, skip-on-target."""

from __future__ import annotations

import time

from ._ota_helpers import (Capture, fleet_for, make_devices, make_product, records, seed_firmware, task_create,
                           task_status, wait_records)


def test_gray_percent_takes_that_share_of_devices(api):
    pid = make_product(api)
    make_devices(api, pid, 40)
    fw_id, _ = seed_firmware(api, pid)
    _, uid = task_create(api, fw_id, grayPercent=25)
    assert len(records(api, uid)) == 10
    read = api.ok("/api/v1/things/ota/task/read", {"taskID": api.ok("/api/v1/things/ota/task/index",
                                                                    {"firmwareID": fw_id})["list"][0]["taskID"]})
    assert read["grayPercent"] == 25


def test_devices_already_on_target_are_skipped(api):
    pid = make_product(api)
    make_devices(api, pid, 3, version="0.9.0", prefix="old")
    make_devices(api, pid, 2, version="1.0.0", prefix="new")
    fw_id, _ = seed_firmware(api, pid)
    _, uid = task_create(api, fw_id)
    assert sorted(records(api, uid)) == ["old00001", "old00002", "old00003"]


def test_overwrite_false_fails_the_new_record_true_cancels_the_old(api):
    pid = make_product(api)
    make_devices(api, pid, 2)
    fw1, _ = seed_firmware(api, pid, version="1.0.0")
    fw2, _ = seed_firmware(api, pid, version="1.1.0")
    _, uid1 = task_create(api, fw1)
    _, uid2 = task_create(api, fw2)
    second = records(api, uid2)
    assert {r["status"] for r in second.values()} == {601}
    assert all(r["desc"] == "another task is upgrading this device" for r in second.values())
    assert {r["status"] for r in records(api, uid1).values()} == {202}
    fw3, _ = seed_firmware(api, pid, version="1.2.0")
    _, uid3 = task_create(api, fw3, overwrite=True)
    assert {r["status"] for r in records(api, uid3).values()} == {202}
    assert {r["status"] for r in records(api, uid1).values()} == {701}


def test_scheduled_task_waits_for_its_time(start_backend):
    backend = start_backend(minute_seconds=1.0)
    api = backend.api()
    pid = make_product(api)
    creds = make_devices(api, pid, 2)
    fw_id, _ = seed_firmware(api, pid)
    with Capture(backend) as cap, fleet_for(backend, creds) as fleet:
        fleet.wait_connected(30)
        start_at = int(time.time() * 1000) + 2500
        task_id, uid = task_create(api, fw_id, scheduleTime=start_at)
        assert task_status(api, task_id) == 1
        time.sleep(1.0)
        assert task_status(api, task_id) == 1
        assert all(r["status"] in (201, 202) for r in records(api, uid).values())
        wait_records(api, uid, lambda rs: all(r["status"] == 501 for r in rs.values()), 30)
        pushes = cap.pushes()
    assert len(pushes) == 2 and all(p["timestamp"] >= start_at for p in pushes)
    api.close()
