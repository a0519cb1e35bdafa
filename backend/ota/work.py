"""A unit of work: the session, what to send once committed, and the time it runs at."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ota_protocol.codes import TaskStatus as TS

from ..db.models import Task
from .ports import Effects
from .views import task_event


@dataclass
class Work:
    s: Session
    now: int
    fx: Effects = field(default_factory=Effects)

    def set_task(self, task: Task, status: TS) -> None:
        task.status, task.updated_time = status, self.now
        self.fx.events.append(task_event(task))
