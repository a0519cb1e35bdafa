"""The task routes in-process: FastAPI's test client over the real engine and a SQLite database
(tests/_engine_world.py), no server, broker or store. Validation of every task option comes from
its one declaration (ota_protocol.task_options); domain refusals map to HTTP statuses here.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from ota_protocol.codes import ErrorCode
from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import TaskStatus as TS
from ota_protocol.task_options import OPTIONS

from . import _engine_world
from ._engine_world import World, progress
from ._inprocess_api import T, api_client, ok

world = _engine_world.world


@pytest.fixture
def client(world: World):
    world.devices(3)
    with api_client(world) as c:
        yield c


def refused(resp, status: int, code: int, field: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == code and body["msg"].startswith(field), body
    return body["msg"]


def test_create_read_index_and_analysis(client: TestClient) -> None:
    fw = client.world.firmware("1.0.0")
    created = ok(client.post(T + "create", json={"firmwareID": fw, "retryCount": 2, "grayPercent": 100}))
    task = ok(client.post(T + "read", json={"taskID": created["taskID"]}))
    assert (task["taskUid"], task["status"], task["retryCount"], task["version"]) == \
        (created["taskUid"], TS.UPGRADING, 2, "1.0.0")
    records = ok(client.post(T + "device-index", json={"taskUid": created["taskUid"]}))
    assert records["total"] == 3 and {r["status"] for r in records["list"]} == {RS.PUSHED}
    assert set(records["list"][0]) == {"id", "taskUid", "productID", "deviceName", "version", "targetVersion",
                                       "status", "step", "desc", "retryCount", "updatedTime", "wave"}
    rec = client.world.record("dev00001")
    client.engine.handle_messages([progress(rec, -2, "download failed")])
    result = json.loads(ok(client.post(T + "analysis", json={"taskUid": created["taskUid"]}))["result"])
    assert result["total"] == 3 and result["failed"] == 1 and result["statusCount"]["301"] == 2
    assert set(result["statusCount"]) == {str(int(s)) for s in RS}
    listed = ok(client.post(T + "index", json={"firmwareID": fw}))
    assert listed["total"] == 1 and listed["list"][0]["statusCount"] == {"301": 2, "601": 1}


@pytest.mark.parametrize("name", [n for n, o in OPTIONS.items() if o.low is not None and n != "firmware_id"])
def test_every_bounded_option_is_checked_at_its_declared_bounds(client: TestClient, name: str) -> None:
    o = OPTIONS[name]
    fw = client.world.firmware("1.0.0")
    for bad in (o.low - 1, o.high + 1):
        refused(client.post(T + "create", json={"firmwareID": fw, o.wire: bad}), 400, ErrorCode.PARAMETER, o.wire)
    for good in (o.low, o.high) if name != "schedule_time" else (o.low,):
        ok(client.post(T + "create", json={"firmwareID": fw, o.wire: good, "overwrite": True}))


@pytest.mark.parametrize("name", [n for n, o in OPTIONS.items() if o.choices])
def test_every_coded_option_accepts_only_its_codes(client: TestClient, name: str) -> None:
    o = OPTIONS[name]
    fw = client.world.firmware("1.0.0")
    for bad in (0, max(o.choices) + 1, True, "1"):
        refused(client.post(T + "create", json={"firmwareID": fw, o.wire: bad}), 400, ErrorCode.PARAMETER, o.wire)


def test_domain_refusals_map_to_http(client: TestClient) -> None:
    fw = client.world.firmware("1.0.0")
    refused(client.post(T + "create", json={"firmwareID": 999}), 404, ErrorCode.NOT_FOUND, "firmware 999")
    refused(client.post(T + "create", json={"firmwareID": fw, "type": 2, "deviceList": ["nope"]}),
            404, ErrorCode.NOT_FOUND, "deviceList")
    refused(client.post(T + "create", json={"firmwareID": fw, "upgradeType": 2}), 400, ErrorCode.PARAMETER,
            "versionList")
    refused(client.post(T + "create", json={"firmwareID": fw, "deviceList": "[1]"}), 400, ErrorCode.PARAMETER,
            "deviceList")
    created = ok(client.post(T + "create", json={"firmwareID": fw}))
    ok(client.post(T + "cancel", json={"taskID": created["taskID"]}))
    refused(client.post(T + "cancel", json={"taskID": created["taskID"]}), 409, ErrorCode.ALREADY_FINISHED, "taskID")
    rec = client.world.record("dev00001")
    refused(client.post(T + "device-retry", json={"id": rec.id}), 409, ErrorCode.RETRY_NOT_ALLOWED, "id")
    refused(client.post(T + "device-cancel", json={"id": 10**12}), 404, ErrorCode.NOT_FOUND, "device record")


def test_the_idempotency_key_answers_the_first_task_again(client: TestClient) -> None:
    fw = client.world.firmware("1.0.0")
    body = {"firmwareID": fw, "clientToken": "k-1"}
    first, again = client.post(T + "create", json=body), client.post(T + "create", json=body)
    assert ok(first) == ok(again) and again.headers["Idempotent-Replayed"] == "true"
    refused(client.post(T + "create", json=dict(body, retryCount=3)), 409, ErrorCode.DUPLICATE, "clientToken")
