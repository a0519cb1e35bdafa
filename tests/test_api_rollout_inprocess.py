"""The rollout-safety routes in-process (FastAPI test client over the real engine and SQLite):
rollout options on create (errors name the field), preview, pause/resume/advance/update, waves,
CSV and HTML export, device history and the audit log."""

from __future__ import annotations

import csv
import io

import pytest

from ota_protocol.codes import ErrorCode
from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import TaskStatus as TS

from . import _engine_world
from ._engine_world import World, progress, report
from ._inprocess_api import T, api_client, ok

world = _engine_world.world
SAFE = {"waves": [{"percent": 10}, {"percent": 100}],
        "abort": [{"failureType": "ANY", "thresholdPercent": 50, "minFinished": 2}]}


@pytest.fixture
def client(world: World):
    world.devices(20)
    with api_client(world) as c:
        yield c


def test_bad_rollout_options_are_refused_naming_the_field_and_nothing_is_created(client) -> None:
    fw = client.world.firmware()
    for rollout, field in [({"waves": [{"percent": 0}]}, "rollout.waves[0].percent"),
                           ({"abort": [{"failureType": "SOME", "thresholdPercent": 5}]}, "rollout.abort[0].failureType"),
                           ({"maintenanceWindow": {"start": "25:00", "durationMinutes": 5}},
                            "rollout.maintenanceWindow.start"),
                           ("fast", "rollout")]:
        r = client.post(T + "create", json={"firmwareID": fw, "rollout": rollout})
        assert r.status_code == 400 and r.json()["code"] == ErrorCode.PARAMETER, r.text
        assert r.json()["msg"].startswith(field + ": "), r.json()
    assert ok(client.post(T + "index", json={}))["total"] == 0


def test_preview_then_create_then_control_and_read_the_waves(client) -> None:
    fw = client.world.firmware()
    body = {"firmwareID": fw, "rollout": SAFE}
    preview = ok(client.post(T + "preview", json=body))
    assert preview["willPush"] == 20 and [w["devices"] for w in preview["waves"]] == [2, 18]
    created = ok(client.post(T + "create", json=body))
    task = ok(client.post(T + "read", json={"taskID": created["taskID"]}))
    assert task["rollout"]["waves"] == SAFE["waves"] and (task["currentWave"], task["waveCount"]) == (1, 2)
    waves = ok(client.post(T + "waves", json={"taskID": created["taskID"]}))
    assert [(w["wave"], w["total"], w["released"]) for w in waves["list"]] == [(1, 2, True), (2, 18, False)]
    assert ok(client.post(T + "pause", json={"taskID": created["taskID"]}))["paused"] is True
    assert ok(client.post(T + "resume", json={"taskID": created["taskID"]}))["paused"] is False
    assert ok(client.post(T + "advance", json={"taskID": created["taskID"]}))["currentWave"] == 2
    r = client.post(T + "advance", json={"taskID": created["taskID"]})
    assert r.status_code == 400 and "no further wave" in r.json()["msg"]
    updated = ok(client.post(T + "update", json={"taskID": created["taskID"], "maxPerMinute": 30}))
    assert updated["taskID"] == created["taskID"]
    r = client.post(T + "update", json={"taskID": created["taskID"], "grayPercent": 0})
    assert r.status_code == 400 and r.json()["msg"].startswith("grayPercent"), r.text
    records = ok(client.post(T + "device-index", json={"taskUid": created["taskUid"], "page": {"size": 100}}))
    assert sorted(r["wave"] for r in records["list"]).count(1) == 2


def test_an_aborted_task_says_why_and_the_export_has_one_row_per_device(client) -> None:
    w, e = client.world, client.engine
    fw = w.firmware()
    created = ok(client.post(T + "create", json={"firmwareID": fw, "rollout": SAFE}))
    first = [r for r in w.records(created["taskID"]) if r.wave == 0]
    e.handle_messages([progress(first[0], -3, "md5 mismatch"), progress(first[1], -2, "=HYPERLINK(evil)")])
    e.tick()
    task = ok(client.post(T + "read", json={"taskID": created["taskID"]}))
    assert task["status"] == TS.ABORTED and "2 of 2 finished devices failed" in task["statusReason"]
    r = client.post(T + "export", json={"taskID": created["taskID"]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 20 and len({row["deviceName"] for row in rows}) == 20
    failed = {row["deviceName"]: row for row in rows if row["status"] == str(RS.FAILED)}
    assert failed[first[0].device_name]["failedStep"] == "-3" and failed[first[0].device_name]["reason"] == "md5 mismatch"
    assert failed[first[1].device_name]["reason"] == "'=HYPERLINK(evil)"  # never a formula in a spreadsheet
    assert {row["wave"] for row in rows} == {"1", "2"}
    assert all(row["versionBefore"] == "0.9.0" for row in rows)
    assert sum(row["status"] == str(RS.CANCELLED) for row in rows) == 18
    page = client.post(T + "export", json={"taskID": created["taskID"], "format": "html"})
    assert page.status_code == 200 and "<svg" in page.text and "Aborted" in page.text
    assert "2 of 2 finished devices failed" in page.text


def test_device_history_across_tasks_and_the_audit_log(client) -> None:
    w, e = client.world, client.engine
    first = ok(client.post(T + "create", json={"firmwareID": w.firmware("1.0.0"), "type": 2,
                                                "deviceList": ["dev00001"]}))
    e.handle_messages([report("dev00001", "1.0.0")])
    ok(client.post(T + "create", json={"firmwareID": w.firmware("1.1.0"), "type": 2, "deviceList": ["dev00001"]}))
    hist = ok(client.post("/api/v1/things/ota/device/history", json={"productID": _engine_world.PID,
                                                                     "deviceName": "dev00001"}))
    assert [(h["targetVersion"], h["status"], h["actor"]) for h in reversed(hist["list"])] == [
        ("1.0.0", RS.QUEUED, "admin"), ("1.0.0", RS.PUSHED, "system"), ("1.0.0", RS.SUCCEEDED, "device"),
        ("1.1.0", RS.QUEUED, "admin"), ("1.1.0", RS.PUSHED, "system")]
    client.post(T + "cancel", json={"taskID": first["taskID"]})  # refused: already done (still audited)
    audit = ok(client.post("/api/v1/system/audit/index", json={}))
    actions = [(a["action"], a["status"]) for a in audit["list"]]
    assert actions[0] == (T + "cancel", 409) and (T + "create", 200) in actions
    assert all(not a["action"].endswith(("/index", "/read", "/history")) for a in audit["list"])
    r = client.post("/api/v1/system/audit/export", json={})
    assert r.status_code == 200 and r.content.decode("utf-8-sig").splitlines()[0] == \
        "time,actor,client,action,target,status"
    ok(client.post(T + "update", json={"taskID": first["taskID"] + 1, "maxPerMinute": 5}))
    assert ok(client.post("/api/v1/system/audit/index", json={"action": "task/update"}))["total"] == 1


def test_audit_summaries_mask_secrets_and_stay_short() -> None:
    from backend.api.audit import audited, summary

    text = summary(b'{"productID":"P","devices":[{"deviceName":"d","deviceSecret":"s3cret"}],"token":"t0k"}')
    assert "s3cret" not in text and "t0k" not in text and '"deviceName":"d"' in text
    assert len(summary(b'{"deviceList":' + b'["' + b'x' * 50 + b'"' + b',"y"' * 2000 + b']}')) <= 500
    assert summary(b"not json") == "(not JSON, 8 bytes)"
    assert audited(T + "create") and audited(T + "pause") and not audited(T + "index")
    assert not audited(T + "preview") and not audited("/api/v1/things/ota/device/history")
