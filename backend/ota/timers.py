"""Timers: scheduled tasks start, pushed or upgrading records time out, automatic retries fall
due, and running tasks push what their pace allows. Run by ``OtaEngine.tick``."""

from __future__ import annotations

from sqlalchemy import select

from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import Step
from ota_protocol.codes import TaskStatus as TS

from ..db.models import Device, DeviceRecord, Task
from .lifecycle import fail
from .planning import NEWER_DESC, is_newer
from .pushing import Pusher
from .records import move
from .work import Work


def tick(w: Work, pusher: Pusher, minute_ms: int) -> None:
    s = w.s
    for task in list(s.scalars(select(Task).where(Task.status == TS.NOT_STARTED, Task.schedule_time <= w.now))):
        w.set_task(task, TS.UPGRADING)
    tasks: dict[int, Task] = {}

    def task_of(rec: DeviceRecord) -> Task:
        if rec.task_id not in tasks:
            tasks[rec.task_id] = s.get(Task, rec.task_id)  # type: ignore[assignment]
        return tasks[rec.task_id]

    for rec in list(s.scalars(select(DeviceRecord).where(DeviceRecord.status.in_((RS.PUSHED, RS.UPGRADING)),
                                                         DeviceRecord.due_time > 0, DeviceRecord.due_time <= w.now))):
        fail(w, rec, task_of(rec), rec.step if rec.step < 0 else Step.FAILED, "timeout", minute_ms)
    for rec in list(s.scalars(select(DeviceRecord).where(DeviceRecord.status == RS.FAILED,
                                                         DeviceRecord.due_time > 0, DeviceRecord.due_time <= w.now))):
        dev = s.execute(select(Device.online, Device.version).where(
            Device.product_id == rec.product_id, Device.device_name == rec.device_name)).first()
        if dev is not None and is_newer(dev.version, rec.target_version):
            rec.version = dev.version  # upgraded past the target meanwhile: never a downgrade
            move(w.fx, rec, w.now, RS.FAILED, desc=NEWER_DESC, due=0)
            continue
        rec.auto_retries += 1
        rec.retry_count += 1
        move(w.fx, rec, w.now, RS.QUEUED_RETRY if dev is not None and dev.online else RS.QUEUED_OFFLINE,
             desc="waiting for automatic retry", due=0)
    s.flush()
    pusher.push_running(w)
