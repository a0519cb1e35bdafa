"""Rollout safety end to end: the real backend (embedded Mosquitto and store), ota-devsim devices,
and the API as any client sees it. 200 devices, waves 5 % / 25 % / 100 %."""

from __future__ import annotations

import csv
import io
import time

from ._ota_helpers import fleet_for, make_devices, make_product, records, seed_firmware, task_status
from ._wait import wait_for

T = "/api/v1/things/ota/task/"
WAVES = [{"percent": 5}, {"percent": 25}, {"percent": 100}]
N = 200


def _setup(start_backend, failing_every: int = 0):
    backend = start_backend()
    api = backend.api()
    pid = make_product(api)
    creds = make_devices(api, pid, N)
    fw_id, _ = seed_firmware(api, pid)
    behaviours = {c.device_name: "fail-flash" for i, c in enumerate(creds) if failing_every and i % failing_every == 0}
    return backend, api, creds, fw_id, behaviours


def _history_pushed(api, pid: str, device: str) -> bool:
    h = api.ok("/api/v1/things/ota/device/history", {"productID": pid, "deviceName": device, "page": {"size": 50}})
    return any(e["status"] == 301 for e in h["list"])


def test_30_percent_failing_aborts_in_an_early_wave_and_later_waves_are_never_pushed(start_backend):
    backend, api, creds, fw_id, behaviours = _setup(start_backend, failing_every=3)  # 67 of 200 fail
    pid = creds[0].product_id
    body = {"firmwareID": fw_id, "type": 1, "rollout": {
        "waves": WAVES, "abort": [{"failureType": "ANY", "thresholdPercent": 20, "minFinished": 5}]}}
    with fleet_for(backend, creds, behaviours=behaviours) as fleet:
        fleet.wait_connected(60)
        preview = api.ok(T + "preview", body)
        assert [w["devices"] for w in preview["waves"]] == [10, 50, 140]
        task = api.ok(T + "create", body)
        wait_for(lambda: task_status(api, task["taskID"]) == 5, 60, what="the task aborted")
        time.sleep(1.0)  # what was pushed reports in
    read = api.ok(T + "read", {"taskID": task["taskID"]})
    assert read["currentWave"] in (1, 2) and "finished devices failed or timed out" in read["statusReason"]
    recs = records(api, task["taskUid"])
    later = [r for r in recs.values() if r["wave"] > read["currentWave"]]
    assert later and all(r["status"] == 701 and r["desc"].startswith("task aborted") for r in later)
    for r in later[:20]:  # never pushed: no 301 in their history
        assert not _history_pushed(api, pid, r["deviceName"])
    waves = api.ok(T + "waves", {"taskID": task["taskID"]})
    assert waves["statusReason"] == read["statusReason"]
    export = api.raw(T + "export", {"taskID": task["taskID"]})
    assert export.status_code == 200, export.text
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert len(rows) == N and {row["deviceName"] for row in rows} == {c.device_name for c in creds}
    by_name = {row["deviceName"]: row for row in rows}
    for r in recs.values():
        row = by_name[r["deviceName"]]
        assert (int(row["status"]), int(row["wave"])) == (r["status"], r["wave"])
        if r["status"] == 601:
            assert row["failedStep"] == "-4" and row["reason"]
    api.close()


def test_a_healthy_fleet_advances_through_every_wave(start_backend):
    backend, api, creds, fw_id, _ = _setup(start_backend)
    body = {"firmwareID": fw_id, "type": 1, "rollout": {"waves": WAVES}}
    with fleet_for(backend, creds) as fleet:
        fleet.wait_connected(60)
        task = api.ok(T + "create", body)
        wait_for(lambda: task_status(api, task["taskID"]) == 3, 120, what="the task done")
    read = api.ok(T + "read", {"taskID": task["taskID"]})
    assert read["currentWave"] == 3
    recs = records(api, task["taskUid"])
    assert len(recs) == N and all(r["status"] == 501 for r in recs.values())
    assert sorted(r["wave"] for r in recs.values()) == [1] * 10 + [2] * 50 + [3] * 140
    audit = api.ok("/api/v1/system/audit/index", {"action": "task/create"})
    assert audit["total"] == 1 and audit["list"][0]["status"] == 200
    api.close()


def test_pause_holds_pushes_resume_continues_and_a_closed_window_defers(start_backend):
    backend, api, creds, fw_id, _ = _setup(start_backend)
    with fleet_for(backend, creds) as fleet:
        fleet.wait_connected(60)
        task = api.ok(T + "create", {"firmwareID": fw_id, "type": 1, "maxPerMinute": 60})
        api.ok(T + "pause", {"taskID": task["taskID"]})
        time.sleep(0.5)
        held = sum(r["status"] != 201 for r in records(api, task["taskUid"]).values())
        time.sleep(3)
        assert sum(r["status"] != 201 for r in records(api, task["taskUid"]).values()) == held  # nothing pushed
        api.ok(T + "update", {"taskID": task["taskID"], "maxPerMinute": 0})
        api.ok(T + "resume", {"taskID": task["taskID"]})
        wait_for(lambda: task_status(api, task["taskID"]) == 3, 120, what="the task done after resume")

        # a window that opens in twelve hours: nothing is pushed now
        now = time.gmtime()
        start = f"{(now.tm_hour + 12) % 24:02d}:00"
        fw2, _ = seed_firmware(api, creds[0].product_id, version="2.0.0")
        later = api.ok(T + "create", {"firmwareID": fw2, "type": 1, "rollout": {
            "maintenanceWindow": {"start": start, "durationMinutes": 60, "timeZone": "UTC"}}})
        time.sleep(3)
        assert {r["status"] for r in records(api, later["taskUid"]).values()} == {201}
    api.close()
