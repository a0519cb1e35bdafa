"""Record state machine corners: presence, downgrades, late success, held devices, diff packages."""

from __future__ import annotations

import json
import time

from .test_e2e_mqtt import _device_client
from ._ota_helpers import (Capture, SseClient, fleet_for, make_devices, make_product, records, seed_firmware,
                           task_create, upload, wait_for, wait_records)


def _device(api, pid, name):  # noqa: ANN001, ANN202
    return api.ok("/api/v1/things/device/info/read", {"productID": pid, "deviceName": name})


def test_device_that_went_offline_waits_in_202_until_it_is_back(start_backend):
    backend = start_backend()
    api = backend.api()
    pid = make_product(api)
    creds = make_devices(api, pid, 2)
    fw_id, _ = seed_firmware(api, pid)
    with fleet_for(backend, creds) as fleet:
        fleet.wait_connected(30)
        wait_for(lambda: all(_device(api, pid, c.device_name)["online"] for c in creds), 10, what="online")
    wait_for(lambda: not any(_device(api, pid, c.device_name)["online"] for c in creds), 10, what="offline")
    with Capture(backend) as cap:
        task_id, uid = task_create(api, fw_id)
        assert {r["status"] for r in records(api, uid).values()} == {202}
        time.sleep(1.5)
        assert cap.pushes() == []  # nothing pushed into the void
    with fleet_for(backend, creds):
        wait_records(api, uid, lambda rs: all(r["status"] == 501 for r in rs.values()), 60)
    api.close()


def test_differential_package_is_pushed_as_differential(start_backend):
    backend = start_backend()
    api = backend.api()
    pid = make_product(api)
    creds = make_devices(api, pid, 1)
    path = upload(api, b"diff bytes", "d.bin")
    fw_id = api.ok("/api/v1/things/ota/firmware/create", {
        "name": "diff", "productID": pid, "version": "1.0.0", "isDiff": 2,
        "files": [{"filePath": path, "name": "d.bin"}]})["firmwareID"]
    with Capture(backend) as cap, fleet_for(backend, creds) as fleet:
        fleet.wait_connected(30)
        task_create(api, fw_id)
        wait_for(lambda: cap.pushes(), 10, what="a push")
    assert cap.pushes()[0]["data"]["isDiff"] == 2
    api.close()


def test_no_downgrade_is_pushed_to_a_newer_device(api):
    pid = make_product(api)
    make_devices(api, pid, 1, version="2.0.0")
    fw_id, _ = seed_firmware(api, pid)
    _, uid = task_create(api, fw_id)
    rec = records(api, uid)["dev00001"]
    assert rec["status"] == 601 and rec["desc"] == "device version is newer than the package"


def test_reaching_the_target_after_a_timeout_counts_even_without_id(start_backend):
    backend = start_backend(minute_seconds=1.0)
    api = backend.api()
    pid = make_product(api)
    (cred,) = make_devices(api, pid, 1)
    fw_id, _ = seed_firmware(api, pid)
    with fleet_for(backend, [cred], behaviours={cred.device_name: "silent"}) as fleet:
        fleet.wait_connected(30)
        task_id, uid = task_create(api, fw_id, timeoutMinutes=1)
        wait_records(api, uid, lambda rs: rs[cred.device_name]["desc"] == "timeout", 20)
    c = _device_client(backend, cred)
    c.publish(f"$ota/up/report/{pid}/{cred.device_name}",
              json.dumps({"method": "reportInfo", "clientToken": "late", "params": {"version": "1.0.0"}}),
              qos=1).wait_for_publish(5)
    rec = wait_records(api, uid, lambda rs: rs[cred.device_name]["status"] == 501, 10)[cred.device_name]
    assert rec["version"] == "1.0.0"
    wait_for(lambda: api.ok("/api/v1/things/ota/task/read", {"taskID": task_id})["status"] == 3, 10, what="done")
    c.loop_stop()
    c.disconnect()
    api.close()


def test_a_failed_record_waiting_for_its_retry_still_holds_the_device(start_backend):
    backend = start_backend(minute_seconds=1.0)
    api = backend.api()
    pid = make_product(api)
    (cred,) = make_devices(api, pid, 1)
    fw1, _ = seed_firmware(api, pid, version="1.0.0")
    fw2, _ = seed_firmware(api, pid, version="1.1.0")
    with fleet_for(backend, [cred], behaviours={cred.device_name: "fail-flash"}) as fleet:
        fleet.wait_connected(30)
        _, uid1 = task_create(api, fw1, retryCount=1, retryIntervalMinutes=30)
        wait_records(api, uid1, lambda rs: rs[cred.device_name]["status"] == 601, 30)
        _, uid2 = task_create(api, fw2)
        second = records(api, uid2)[cred.device_name]
        assert second["status"] == 601 and second["desc"] == "another task is upgrading this device"
        code, doc = api.call("/api/v1/things/ota/task/device-retry", {"id": second["id"]})
        assert (code, doc["code"]) == (409, 2100001) and uid1 in doc["msg"]
    api.close()


def test_event_ids_from_an_earlier_run_get_a_resync(start_backend):
    backend = start_backend()
    api = backend.api()
    sse = SseClient(backend.base_url).start()
    pid = make_product(api)
    make_devices(api, pid, 2)
    task_create(api, seed_firmware(api, pid)[0])
    wait_for(lambda: len(sse.events) >= 3, 10, what="events of the first run")
    old_id = sse.events[-1][0]
    sse.stop()
    api.close()
    backend.stop()
    again = start_backend()  # a later run: its ids must not overlap the first run's
    api = again.api()
    pid = make_product(api)
    make_devices(api, pid, 10)
    task_create(api, seed_firmware(api, pid)[0])  # more events than the first run had
    late = SseClient(again.base_url, last_event_id=old_id).start()
    wait_for(lambda: late.events, 10, what="an event")
    assert late.events[0][1]["type"] == "resync"
    late.stop()
    api.close()


def test_retry_waits_for_a_scheduled_task_to_start(api):
    pid = make_product(api)
    make_devices(api, pid, 1)
    fw_id, _ = seed_firmware(api, pid)
    task_id, uid = task_create(api, fw_id, scheduleTime=int(time.time() * 1000) + 3_600_000)
    rec = records(api, uid)["dev00001"]
    code, doc = api.call("/api/v1/things/ota/task/device-retry", {"id": rec["id"]})
    assert (code, doc["code"]) == (409, 2100001) and "not started" in doc["msg"]
    assert api.ok("/api/v1/things/ota/task/read", {"taskID": task_id})["status"] == 1
