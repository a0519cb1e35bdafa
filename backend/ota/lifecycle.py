"""A record's failure (with its automatic retry) and a task's completion."""

from __future__ import annotations

from sqlalchemy import select

from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import TaskStatus as TS
from ota_protocol.codes import UpgradeType

from ..db.models import DeviceRecord, Task
from .records import HOLDS_DEVICE, move
from .work import Work


def fail(w: Work, rec: DeviceRecord, task: Task, step: int, desc: str, minute_ms: int) -> None:
    """The record failed; an automatic retry is due later while the task has retries left."""
    retry_left = rec.auto_retries < task.retry_count and task.status == TS.UPGRADING
    due = w.now + task.retry_interval_minutes * minute_ms if retry_left else 0
    move(w.fx, rec, w.now, RS.FAILED, step=step, desc=desc, due=due)


def maybe_finish(w: Work, task: Task) -> None:
    """A static task is done once no record holds a device (dynamic tasks run until cancelled)."""
    if task.status != TS.UPGRADING or task.upgrade_type == UpgradeType.DYNAMIC:
        return
    pending = w.s.scalar(select(DeviceRecord.id).where(DeviceRecord.task_id == task.id, HOLDS_DEVICE).limit(1))
    if pending is None:
        w.set_task(task, TS.DONE)
