"""Rollout safety: waves, automatic abort, pause and the maintenance window.

A task's options (``ota_protocol.rollout``) are stored as their wire JSON in ``task.rollout``.
At creation its records are split into waves (stable: a record keeps its wave); only records of
the released waves (``wave <= task.current_wave``) are pushed. ``evaluate`` runs before a
running task pushes (every tick and dispatch): it aborts the task when an abort rule is met, and
releases the next wave when the released ones finished with enough successes (after the soak
time; never by itself with ``manualAdvance``). Pause and the maintenance window stop pushing,
not what is already under way.
"""

from __future__ import annotations

import functools

from sqlalchemy import case, func, select, update

from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import TaskStatus as TS
from ota_protocol.rollout import Rollout, abort_reason, in_window, parse, wave_sizes

from ..db.models import DeviceRecord, Task
from .errors import Conflict, Invalid
from .records import QUEUED, move
from .views import task_event
from .work import Work

TIMEOUT_DESC = "timeout"  # what timers.fail writes for a device that did not report in time


@functools.lru_cache(maxsize=256)
def _parsed(text: str) -> Rollout:
    import json
    return parse(json.loads(text)) if text else Rollout()


def rollout_of(task: Task) -> Rollout:
    return _parsed(task.rollout or "")


def may_push_now(task: Task, now: int) -> bool:
    """Not paused, and inside the maintenance window if the task has one."""
    if task.paused:
        return False
    return not task.rollout or in_window(rollout_of(task).window, now)


def assign_waves(w: Work, task: Task) -> list[int]:
    """Split the task's records into its waves, in record id order (the plan's order); the
    number of records in each wave."""
    waves = rollout_of(task).waves
    ids = list(w.s.scalars(select(DeviceRecord.id).where(DeviceRecord.task_id == task.id).order_by(DeviceRecord.id)))
    sizes = wave_sizes(len(ids), waves)
    start = 0
    for index, size in enumerate(sizes):
        if index and size:
            w.s.execute(update(DeviceRecord).where(DeviceRecord.task_id == task.id,
                                                   DeviceRecord.id.between(ids[start], ids[start + size - 1]))
                        .values(wave=index))
        start += size
    return sizes


def wave_counts(w: Work, task: Task) -> dict[int, dict[str, int]]:
    """Per wave: records, succeeded, failed (for good: no automatic retry due), timed out, active."""
    done_failed = (DeviceRecord.status == RS.FAILED) & (DeviceRecord.due_time == 0)
    rows = w.s.execute(select(
        DeviceRecord.wave, func.count(),
        func.sum(case((DeviceRecord.status == RS.SUCCEEDED, 1), else_=0)),
        func.sum(case((done_failed & (DeviceRecord.desc != TIMEOUT_DESC), 1), else_=0)),
        func.sum(case((done_failed & (DeviceRecord.desc == TIMEOUT_DESC), 1), else_=0)),
        func.sum(case((DeviceRecord.status == RS.CANCELLED, 1), else_=0)),
    ).where(DeviceRecord.task_id == task.id).group_by(DeviceRecord.wave)).all()
    out = {}
    for wave, total, ok, failed, timed_out, cancelled in rows:
        ok, failed, timed_out, cancelled = int(ok or 0), int(failed or 0), int(timed_out or 0), int(cancelled or 0)
        out[int(wave)] = {"total": int(total), "succeeded": ok, "failed": failed, "timedOut": timed_out,
                          "cancelled": cancelled, "active": int(total) - ok - failed - timed_out - cancelled}
    return out


def evaluate(w: Work, task: Task, minute_ms: int) -> None:
    """Abort the task if a rule is met; else release the next wave when it is due."""
    rollout = rollout_of(task)
    counts = wave_counts(w, task)
    if rollout.abort:
        ok = sum(c["succeeded"] for c in counts.values())
        failed = sum(c["failed"] for c in counts.values())
        timed_out = sum(c["timedOut"] for c in counts.values())
        reason = abort_reason(rollout.abort, ok + failed + timed_out, failed, timed_out)
        if reason is not None:
            abort(w, task, reason)
            return
    last = max(len(rollout.waves) - 1, 0)
    if task.current_wave >= last:
        return
    wave = counts.get(task.current_wave, {"total": 0, "succeeded": 0, "failed": 0, "timedOut": 0, "active": 0})
    if wave["active"]:
        task.wave_done_time = 0
        return
    finished = wave["succeeded"] + wave["failed"] + wave["timedOut"]
    if finished and wave["succeeded"] * 100 < rollout.advance_at_success_percent * finished:
        return  # below the bar: a technician decides (advance by hand, retry, or cancel)
    if not task.wave_done_time:
        task.wave_done_time = w.now
        w.fx.events.append(task_event(task))
    if rollout.manual_advance or w.now < task.wave_done_time + rollout.soak_minutes * minute_ms:
        return
    release_next(w, task)


def release_next(w: Work, task: Task) -> None:
    task.current_wave += 1
    task.wave_done_time = 0
    task.updated_time = w.now
    w.fx.events.append(task_event(task))


def advance(w: Work, task: Task) -> None:
    """Release the next wave by hand (whatever the advance rule says)."""
    if task.status not in (TS.UPGRADING, TS.NOT_STARTED):
        raise Conflict(f"taskID: task {task.id} is {TS(task.status).name.lower()}; only a running task advances")
    last = max(len(rollout_of(task).waves) - 1, 0)
    if task.current_wave >= last:
        raise Invalid(f"taskID: task {task.id} has no further wave (wave {task.current_wave + 1} of {last + 1})")
    release_next(w, task)


def abort(w: Work, task: Task, reason: str) -> None:
    """Stop the task: unpushed records are cancelled, no automatic retry any more; devices
    already pushed finish what they do (their reports still count)."""
    for rec in list(w.s.scalars(select(DeviceRecord).where(DeviceRecord.task_id == task.id,
                                                           DeviceRecord.status.in_(QUEUED)))):
        move(w.fx, rec, w.now, RS.CANCELLED, desc=f"task {reason}", due=0)
    w.s.execute(update(DeviceRecord).where(DeviceRecord.task_id == task.id, DeviceRecord.status == RS.FAILED,
                                           DeviceRecord.due_time > 0).values(due_time=0))
    task.status_reason = reason
    w.set_task(task, TS.ABORTED)


def set_paused(w: Work, task: Task, paused: bool) -> None:
    if not TS(task.status).is_running:
        raise Conflict(f"taskID: task {task.id} is {TS(task.status).name.lower()} and cannot be "
                       f"{'paused' if paused else 'resumed'}")
    if bool(task.paused) != paused:
        task.paused = paused
        task.updated_time = w.now
        w.fx.events.append(task_event(task))
