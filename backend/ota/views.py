"""The one JSON shape of a record, a device and a task, for the API's answers and the events."""

from __future__ import annotations

from typing import Any, Protocol

from ..db.models import Device, Task


class RecordFields(Protocol):
    """What a record's view reads (a DeviceRecord, or a row with the same names)."""

    id: int
    task_uid: str
    product_id: str
    device_name: str
    version: str
    target_version: str
    status: int
    step: int
    desc: str
    retry_count: int
    updated_time: int
    wave: int


def record_view(r: RecordFields) -> dict[str, Any]:
    return {"id": r.id, "taskUid": r.task_uid, "productID": r.product_id, "deviceName": r.device_name,
            "version": r.version, "targetVersion": r.target_version, "status": r.status, "step": r.step,
            "desc": r.desc, "retryCount": r.retry_count, "updatedTime": r.updated_time, "wave": (r.wave or 0) + 1}


def record_event(r: RecordFields) -> dict[str, Any]:
    return {"type": "record", **record_view(r)}


def device_event(d: Device) -> dict[str, Any]:
    return {"type": "device", "productID": d.product_id, "deviceName": d.device_name,
            "version": d.version, "online": d.online}


def task_event(t: Task) -> dict[str, Any]:
    return {"type": "task", "taskID": t.id, "taskUid": t.task_uid, "status": t.status, "paused": bool(t.paused),
            "currentWave": t.current_wave + 1, "statusReason": t.status_reason}
