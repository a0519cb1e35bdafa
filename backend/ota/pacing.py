"""Pacing: how many pushes a task may send now (``maxPerMinute``), across restarts.

Each task's pushes of the last minute are kept in memory; the first time a task is looked at
in a process, they are seeded from the records' ``pushed_time``, so a restart does not start
from an empty window (a record pushed twice within that minute counts once).
"""

from __future__ import annotations

from collections import deque

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import DeviceRecord, Task

UNLIMITED = 1 << 30


class Pacer:
    def __init__(self, minute_ms: int) -> None:
        self.minute_ms = minute_ms
        self._times: dict[int, deque[int]] = {}

    def _window(self, s: Session, task: Task, now: int) -> deque[int]:
        times = self._times.get(task.id)
        if times is None:
            recent = [] if task.max_per_minute <= 0 else list(s.scalars(
                select(DeviceRecord.pushed_time).where(DeviceRecord.task_id == task.id,
                                                       DeviceRecord.pushed_time > now - self.minute_ms)
                .order_by(DeviceRecord.pushed_time)))
            times = self._times[task.id] = deque(recent)
        while times and times[0] <= now - self.minute_ms:
            times.popleft()
        return times

    def budget(self, s: Session, task: Task, now: int) -> int:
        """Pushes the task may send now."""
        times = self._window(s, task, now)
        if task.max_per_minute <= 0:
            return UNLIMITED
        return max(0, task.max_per_minute - len(times))

    def pushed(self, s: Session, task: Task, now: int, count: int = 1) -> None:
        self._window(s, task, now).extend([now] * count)
