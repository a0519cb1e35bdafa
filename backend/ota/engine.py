"""The OTA rules' coordinator: units of work over the database, and the public operations.

The rules themselves live in small modules: ``planning`` (who gets a record), ``records`` (the
record state machine), ``pacing`` and ``pushing`` (what may be pushed now), ``timers``,
``recovery`` (failures caused by our own outages), ``lifecycle`` (failure, completion) and
``device_input`` (what device messages do). Every operation runs under one lock in one
transaction; orders, acknowledgements and events leave through the ``Outbound`` port and the
event sink only after that transaction committed. No MQTT or HTTP in here.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ota_protocol.codes import ErrorCode, TaskType
from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import TaskStatus as TS
from ota_protocol.rollout import Rollout
from ota_protocol.task_options import OPTIONS, TaskSpec

from ..db.models import Device, DeviceRecord, Firmware, RecordHistory, Task, now_ms
from ..db.session import Database
from . import rollouts
from .bulk import insert_rows
from .device_input import Batch, DeviceInput, Message, new_record, new_records
from .errors import Conflict, Invalid, NotFound
from .lifecycle import maybe_finish
from .outages import OutageLog
from .pacing import Pacer
from .planning import BUSY_DESC, NEWER_DESC, DeviceRow, check_spec, gray_share, targets
from .ports import Effects, EventSink, Outbound, UrlSigner
from .pushing import BATCH, Pusher
from .records import HOLDS_DEVICE, PUSHABLE, QUEUED, move, transition
from .timers import tick
from .views import record_event, task_event
from .work import Work

log = logging.getLogger(__name__)
T = TypeVar("T")

#: TaskSpec fields stored as JSON text in the task's columns
_LIST_COLUMNS = {"device_list": "src_device", "version_list": "src_version"}


def task_columns(spec: TaskSpec) -> dict[str, object]:
    """The Task columns that store ``spec`` (every option is stored)."""
    return {_LIST_COLUMNS.get(name, name): json.dumps(getattr(spec, name)) if name in _LIST_COLUMNS
            else getattr(spec, name) for name in OPTIONS}


def spec_of(task: Task) -> TaskSpec:
    """The TaskSpec a task was created from."""
    values = {name: json.loads(getattr(task, _LIST_COLUMNS[name]) or "[]") if name in _LIST_COLUMNS
              else getattr(task, name) for name in OPTIONS}
    values["overwrite"] = bool(values["overwrite"])
    return TaskSpec(**values)


class OtaEngine:
    def __init__(self, db: Database, sign: UrlSigner, events: EventSink, outbound: Outbound | None = None,
                 minute_seconds: float = 60.0, clock: Callable[[], int] = now_ms,
                 outages: OutageLog | None = None, on_planned: Callable[[], None] | None = None):
        self.db, self.events, self.clock = db, events, clock
        #: called after a task was planned (committed, nothing pushed yet): the runtime wakes its
        #: dispatcher, which pushes through ``dispatch``; in-process tests dispatch right away
        self.on_planned = on_planned
        #: where orders and acknowledgements go (set once the MQTT link exists)
        self.outbound = outbound
        #: our own unavailability; None: every device failure counts against the task
        self.outages = outages
        self.minute_ms = max(1, int(minute_seconds * 1000))
        self.lock = threading.RLock()
        self.pusher = Pusher(sign, Pacer(self.minute_ms), self.minute_ms, outages)
        self.input = DeviceInput(self.pusher, outages, self.minute_ms)

    # ---- unit of work -----------------------------------------------------------------
    def _run(self, fn: Callable[[Work], T], actor: str = "system") -> T:
        with self.lock:
            with self.db.session() as s:
                w = Work(s, self.clock(), Effects(actor=actor))
                result = fn(w)
                self._keep_history(w)
            self._send(w.fx)
        return result

    @staticmethod
    def _keep_history(w: Work) -> None:
        """The unit of work's record transitions go to the history in the same transaction."""
        if w.fx.history:
            insert_rows(w.s, RecordHistory, [  # the DB-API driver straight (100,000 at a create)
                {"record_id": t.record_id, "task_uid": t.task_uid, "product_id": t.product_id,
                 "device_name": t.device_name, "time": t.time, "status": t.status, "step": t.step,
                 "desc": t.desc, "retry_count": t.retry_count, "actor": w.fx.actor} for t in w.fx.history])

    def _send(self, fx: Effects) -> None:
        if self.outbound is not None:
            for order in fx.orders:
                try:
                    self.outbound.push(order)
                except Exception:
                    log.exception("push to %s/%s failed", order.product_id, order.device_name)
            for ack in fx.acks:
                try:
                    self.outbound.ack(ack)
                except Exception:
                    log.exception("progress reply to %s/%s failed", ack.product_id, ack.device_name)
        self.events.publish_many(fx.events)

    def transaction(self, fn: Callable[[Session], T]) -> T:
        """Run fn(session) under the engine's lock in a transaction of its own (catalog changes
        that must not interleave with record updates, e.g. deleting a firmware)."""
        return self._run(lambda w: fn(w.s))

    # ---- tasks ------------------------------------------------------------------------
    def create_task(self, spec: TaskSpec, rollout: Rollout | None = None, actor: str = "admin") -> Task:
        task = self._run(lambda w: self._create_task(w, spec, rollout=rollout), actor)
        self._planned()
        return task

    def _planned(self) -> None:
        if self.on_planned is not None:
            self.on_planned()

    def create_task_once(self, spec: TaskSpec, client_token: str, rollout: Rollout | None = None,
                         actor: str = "admin") -> tuple[Task, bool]:
        """Idempotent create: (task, created). The task already created with ``client_token`` is
        answered again (created False) when ``spec`` is the same; another spec is a conflict."""
        def work(w: Work) -> tuple[Task, bool]:
            task = w.s.scalar(select(Task).where(Task.client_token == client_token))
            if task is None:
                return self._create_task(w, spec, client_token, rollout), True
            if spec_of(task) != spec or rollouts.rollout_of(task) != (rollout or Rollout()):
                raise Conflict(f"clientToken: {client_token!r} was already used for task {task.task_uid} "
                               "with a different request body", ErrorCode.DUPLICATE)
            return task, False
        try:
            result = self._run(work, actor)
        except IntegrityError:
            # the same key committed by a concurrent request (the unique index): answer that task
            result = self._run(work, actor)
        self._planned()
        return result

    def _create_task(self, w: Work, spec: TaskSpec, client_token: str | None = None,
                     rollout: Rollout | None = None) -> Task:
        s, now = w.s, w.now
        fw = s.get(Firmware, spec.firmware_id)
        if fw is None:
            raise NotFound(f"firmware {spec.firmware_id} not found")
        check_spec(spec, fw.version)
        # plain rows: planning reads four fields of each device (no objects for 100,000 devices)
        q = select(Device.product_id, Device.device_name, Device.version, Device.online).where(
            Device.product_id == fw.product_id)
        if spec.type == TaskType.TARGETED:
            devices: list[DeviceRow] = []
            for i in range(0, len(spec.device_list), 500):
                devices.extend(map(DeviceRow._make, s.execute(q.where(Device.device_name.in_(spec.device_list[i:i + 500])))))
            unknown = sorted(set(spec.device_list) - {d.device_name for d in devices})
            if unknown:
                shown = ", ".join(unknown[:20]) + (f" (+{len(unknown) - 20} more)" if len(unknown) > 20 else "")
                raise NotFound(f"deviceList: not devices of product {fw.product_id!r}: {shown}")
        else:
            devices = list(map(DeviceRow._make, s.execute(q.order_by(Device.id))))
        task = Task(task_uid=str(uuid.uuid4()), product_id=fw.product_id, version=fw.version,
                    status=TS.NOT_STARTED if spec.schedule_time > now else TS.UPGRADING,
                    created_time=now, updated_time=now, client_token=client_token,
                    rollout=json.dumps(rollout.to_wire()) if rollout is not None and not rollout.empty else "",
                    **task_columns(spec))
        s.add(task)
        s.flush()
        busy: dict[str, list[DeviceRecord]] = defaultdict(list)
        for r in s.scalars(select(DeviceRecord).where(DeviceRecord.product_id == fw.product_id, HOLDS_DEVICE,
                                                      DeviceRecord.task_id != task.id)):
            busy[r.device_name].append(r)
        records = new_records(w, task, targets(task, devices, spec.version_list), busy)
        overwritten = {o.task_id for rs in busy.values() for o in rs if o.status == RS.CANCELLED}
        for other in overwritten:  # a task whose last device was taken over is done now
            other_task = s.get(Task, other)
            if other_task is not None:
                maybe_finish(w, other_task)
        if task.rollout and rollouts.rollout_of(task).waves:
            sizes = rollouts.assign_waves(w, task)
            waves = [i for i, n in enumerate(sizes) for _ in range(n)]
            for row, wave in zip(records, waves, strict=True):  # records come in id order
                row.wave = wave
        w.fx.events.extend(record_event(r) for r in records)
        w.fx.history.extend(transition(r, now) for r in records)
        w.fx.events.append(task_event(task))
        if task.status == TS.UPGRADING:
            maybe_finish(w, task)  # planning is not pushing: dispatch() pushes, right after
        return task

    # ---- manual actions -----------------------------------------------------------------
    def cancel_task(self, task_id: int) -> None:
        def work(w: Work) -> None:
            task = w.s.get(Task, task_id)
            if task is None:
                raise NotFound(f"task {task_id} not found")
            if not TS(task.status).is_running:
                raise Conflict(f"taskID: task {task_id} is {TS(task.status).name.lower()} and cannot be cancelled",
                               ErrorCode.ALREADY_FINISHED)
            for rec in list(w.s.scalars(select(DeviceRecord).where(DeviceRecord.task_id == task.id,
                                                                   DeviceRecord.status < RS.SUCCEEDED))):
                move(w.fx, rec, w.now, RS.CANCELLED, desc="task cancelled", due=0)
            for rec in list(w.s.scalars(select(DeviceRecord).where(DeviceRecord.task_id == task.id,
                                                                   DeviceRecord.status == RS.FAILED,
                                                                   DeviceRecord.due_time > 0))):
                rec.due_time = 0  # no automatic retry any more
            w.set_task(task, TS.CANCELLED)
        self._run(work, "admin")

    # ---- rollout control -------------------------------------------------------------------
    @staticmethod
    def _task(w: Work, task_id: int) -> Task:
        task = w.s.get(Task, task_id)
        if task is None:
            raise NotFound(f"taskID: task {task_id} not found")
        return task

    def pause_task(self, task_id: int, paused: bool = True) -> Task:
        """Pause (nothing more is pushed; what is under way goes on) or resume a running task."""
        task = self._run(lambda w: self._paused(w, task_id, paused), "admin")
        if not paused:
            self._planned()  # push what waited
        return task

    def _paused(self, w: Work, task_id: int, paused: bool) -> Task:
        task = self._task(w, task_id)
        rollouts.set_paused(w, task, paused)
        return task

    def advance_task(self, task_id: int) -> Task:
        """Release the next wave now."""
        def work(w: Work) -> Task:
            task = self._task(w, task_id)
            rollouts.advance(w, task)
            return task
        task = self._run(work, "admin")
        self._planned()
        return task

    def update_task(self, task_id: int, max_per_minute: int | None = None, gray_percent: int | None = None) -> Task:
        """Change a running task's pace and gray share. A larger share plans records for the devices
        it now takes in (in the task's stable gray order); a smaller one cancels the records of the
        devices it leaves out that were not pushed yet."""
        def work(w: Work) -> Task:
            task = self._task(w, task_id)
            if not TS(task.status).is_running:
                raise Conflict(f"taskID: task {task_id} is {TS(task.status).name.lower()} and cannot be changed",
                               ErrorCode.ALREADY_FINISHED)
            if max_per_minute is not None:
                task.max_per_minute = max_per_minute
            if gray_percent is not None and gray_percent != task.gray_percent:
                self._regray(w, task, gray_percent)
            task.updated_time = w.now
            w.fx.events.append(task_event(task))
            return task
        task = self._run(work, "admin")
        self._planned()
        return task

    def _regray(self, w: Work, task: Task, percent: int) -> None:
        s = w.s
        spec = spec_of(task)
        if spec.type == TaskType.TARGETED:
            raise Invalid("grayPercent: a targeted task (type 2) has no gray share")
        existing = {r.device_name: r for r in s.scalars(select(DeviceRecord).where(DeviceRecord.task_id == task.id))}
        devices = list(s.execute(select(Device.product_id, Device.device_name, Device.version, Device.online)
                                 .where(Device.product_id == task.product_id).order_by(Device.id)))
        candidates = [d for d in devices if d.device_name in existing
                      or ((not spec.version_list or d.version in spec.version_list) and d.version != task.version)]
        keep = {d.device_name for d in gray_share(task, candidates, percent)}
        task.gray_percent = percent
        for name, rec in existing.items():
            if name not in keep and rec.status in QUEUED:
                move(w.fx, rec, w.now, RS.CANCELLED, desc=f"left out of the gray share ({percent}%)", due=0)
        joining = [d for d in candidates if d.device_name in keep and d.device_name not in existing]
        if joining:
            busy: dict[str, list[DeviceRecord]] = defaultdict(list)
            for r in s.scalars(select(DeviceRecord).where(DeviceRecord.product_id == task.product_id, HOLDS_DEVICE,
                                                          DeviceRecord.task_id != task.id)):
                busy[r.device_name].append(r)
            last_wave = max(len(rollouts.rollout_of(task).waves) - 1, 0) if task.rollout else 0
            added = []
            for dev in joining:  # a task's later additions one by one (new_records plans a new task)
                rec = new_record(w, task, dev, busy.get(dev.device_name, []))
                rec.wave, rec.from_version = last_wave, dev.version  # devices taken in later join the last wave
                added.append(rec)
            s.flush()
            w.fx.events.extend(record_event(r) for r in added)
            w.fx.history.extend(transition(r, w.now) for r in added)
        maybe_finish(w, task)

    def preview_task(self, spec: TaskSpec, rollout: Rollout | None = None) -> dict[str, Any]:
        """What ``create_task`` would plan now, without creating anything: devices per wave and
        why the others are left out. Runs the very planning of create in a transaction that is
        rolled back, so the counts are what create then plans."""
        with self.lock, self.db.session() as s:
            w = Work(s, self.clock())
            try:
                task = self._create_task(w, spec, rollout=rollout)
                rows = s.execute(select(DeviceRecord.wave, DeviceRecord.status, DeviceRecord.desc, func.count())
                                 .where(DeviceRecord.task_id == task.id)
                                 .group_by(DeviceRecord.wave, DeviceRecord.status, DeviceRecord.desc)).all()
                q = select(func.count()).select_from(Device).where(Device.product_id == task.product_id)
                if spec.type == TaskType.TARGETED:
                    considered = len(spec.device_list)
                else:
                    considered = s.scalar(q) or 0
                    on_target = s.scalar(q.where(Device.version == task.version)) or 0
                    other_version = (s.scalar(q.where(Device.version.not_in(spec.version_list),
                                                      Device.version != task.version)) or 0
                                     if spec.version_list else 0)
                overwritten = len(w.fx.history) - sum(n for *_, n in rows)
            finally:
                s.rollback()
        waves = [0] * max(len((rollout or Rollout()).waves), 1)
        offline = busy = newer = 0
        for wave, status, desc, n in rows:
            if status in (RS.QUEUED, RS.QUEUED_OFFLINE):
                waves[wave] += n
                offline += n if status == RS.QUEUED_OFFLINE else 0
            elif desc == BUSY_DESC:
                busy += n
            elif desc == NEWER_DESC:
                newer += n
        planned = sum(n for *_, n in rows)
        excluded: dict[str, int] = {"busy": busy, "newerVersion": newer}
        if spec.type != TaskType.TARGETED:
            excluded |= {"onTargetVersion": on_target, "versionFilter": other_version,
                         "grayShare": considered - on_target - other_version - planned}
        return {"devices": considered, "planned": planned, "willPush": sum(waves),
                "waves": [{"wave": i + 1, "devices": n} for i, n in enumerate(waves)],
                "offline": offline, "excluded": excluded, "overwrites": max(overwritten, 0)}

    @staticmethod
    def _record(w: Work, record_id: int) -> tuple[DeviceRecord, Task]:
        rec = w.s.get(DeviceRecord, record_id)
        if rec is None:
            raise NotFound(f"device record {record_id} not found")
        task = w.s.get(Task, rec.task_id)
        assert task is not None
        return rec, task

    def cancel_record(self, record_id: int) -> None:
        def work(w: Work) -> None:
            rec, task = self._record(w, record_id)
            if rec.status in (RS.SUCCEEDED, RS.FAILED):
                raise Conflict(f"id: record {record_id} already finished ({rec.status}) and cannot be cancelled",
                               ErrorCode.ALREADY_FINISHED)
            if rec.status != RS.CANCELLED:
                move(w.fx, rec, w.now, RS.CANCELLED, desc="cancelled", due=0)
                maybe_finish(w, task)
        self._run(work, "admin")

    def retry_record(self, record_id: int) -> None:
        def work(w: Work) -> None:
            rec, task = self._record(w, record_id)
            if rec.status in (RS.UPGRADING, RS.SUCCEEDED):
                state = "upgrading" if rec.status == RS.UPGRADING else "already upgraded"
                raise Conflict(f"id: record {record_id} is {state} ({rec.status}); retry is not allowed",
                               ErrorCode.RETRY_NOT_ALLOWED)
            if task.status == TS.CANCELLED:
                raise Conflict(f"id: task {task.task_uid} was cancelled", ErrorCode.RETRY_NOT_ALLOWED)
            if task.status == TS.NOT_STARTED:
                raise Conflict(f"id: task {task.task_uid} has not started yet (scheduled); it pushes at its time",
                               ErrorCode.RETRY_NOT_ALLOWED)
            other = w.s.scalar(select(DeviceRecord).where(
                DeviceRecord.product_id == rec.product_id, DeviceRecord.device_name == rec.device_name,
                HOLDS_DEVICE, DeviceRecord.task_id != rec.task_id).limit(1))
            if other is not None:
                raise Conflict(f"id: another task ({other.task_uid}) is upgrading device {rec.device_name!r}",
                               ErrorCode.RETRY_NOT_ALLOWED)
            if task.status == TS.DONE:
                w.set_task(task, TS.UPGRADING)
            rec.retry_count += 1
            self.pusher.push(w, task, rec)
        self._run(work, "admin")

    def delete_device(self, product_id: str, device_name: str) -> None:
        """The device's unfinished records are cancelled (701), then the device goes."""
        def work(w: Work) -> None:
            dev = w.s.scalar(select(Device).where(Device.product_id == product_id,
                                                  Device.device_name == device_name))
            if dev is None:
                raise NotFound(f"device {device_name!r} of product {product_id!r} not found")
            tasks = set()
            for rec in w.s.scalars(select(DeviceRecord).where(DeviceRecord.product_id == product_id,
                                                              DeviceRecord.device_name == device_name, HOLDS_DEVICE)):
                move(w.fx, rec, w.now, RS.CANCELLED, desc="device deleted", due=0)
                tasks.add(rec.task_id)
            w.s.delete(dev)
            w.s.flush()
            for task_id in tasks:
                task = w.s.get(Task, task_id)
                if task is not None:
                    maybe_finish(w, task)
        self._run(work, "admin")

    # ---- device messages ----------------------------------------------------------------
    def handle_messages(self, msgs: Iterable[Message]) -> None:
        """Apply a batch of device messages in one transaction.

        If anything in the batch fails, the batch is applied again message by message, each in
        a savepoint, so one bad message changes nothing and the others still count.
        """
        msgs = list(msgs)
        try:
            self._run(lambda w: self._apply(w, msgs, isolate=False), "device")
        except Exception:  # noqa: BLE001 - retried message by message below
            log.warning("a batch of %d device messages failed; applying them one by one", len(msgs))
            self._run(lambda w: self._apply(w, msgs, isolate=True), "device")

    def _apply(self, w: Work, msgs: list[Message], isolate: bool) -> None:
        batch = Batch.load(w.s, msgs)
        with w.s.no_autoflush:
            for m in msgs:
                if not isolate:
                    self.input.handle(w, m, batch)
                    continue
                mark = w.fx.mark()
                try:
                    with w.s.begin_nested():
                        self.input.handle(w, m, batch)
                except Exception:
                    w.fx.rollback(mark)  # its changes were rolled back
                    log.exception("device message from %s/%s not applied", m.product_id, m.device_name)
        self.input.finish(w, batch)

    def mark_all_offline(self) -> None:
        """At start with a fresh broker nobody is connected: devices come online as they connect."""
        with self.lock, self.db.session() as s:
            s.execute(update(Device).values(online=False))
            s.execute(update(DeviceRecord).where(DeviceRecord.status.in_(PUSHABLE))
                      .values(status=RS.QUEUED_OFFLINE))

    # ---- timers and dispatching ----------------------------------------------------------
    def tick(self) -> None:
        self._run(lambda w: tick(w, self.pusher, self.minute_ms), "timer")

    def dispatch(self) -> int:
        """Push what running tasks may push now, a batch per transaction (device messages get
        the lock between batches); returns how many were pushed."""
        total = 0
        while True:
            pushed = self._run(self.pusher.push_running)
            total += pushed
            if pushed < BATCH:
                return total


    # ---- reading ------------------------------------------------------------------------
    @staticmethod
    def status_counts(s: Session, task_uid: str) -> dict[RS, int]:
        """How many of the task's records are in each status (every status, zeros included)."""
        counts = dict.fromkeys(RS, 0)
        for status, n in s.execute(select(DeviceRecord.status, func.count())
                                   .where(DeviceRecord.task_uid == task_uid).group_by(DeviceRecord.status)).all():
            counts[RS(status)] = n
        return counts
