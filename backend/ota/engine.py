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
from ota_protocol.task_options import OPTIONS, TaskSpec

from ..db.models import Device, DeviceRecord, Firmware, Task, now_ms
from ..db.session import Database
from .device_input import Batch, DeviceInput, Message, new_records
from .errors import Conflict, NotFound
from .lifecycle import maybe_finish
from .outages import OutageLog
from .pacing import Pacer
from .planning import check_spec, targets
from .ports import Effects, EventSink, Outbound, UrlSigner
from .pushing import BATCH, Pusher
from .records import HOLDS_DEVICE, PUSHABLE, move
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
    def _run(self, fn: Callable[[Work], T]) -> T:
        with self.lock:
            with self.db.session() as s:
                w = Work(s, self.clock())
                result = fn(w)
            self._send(w.fx)
        return result

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
    def create_task(self, spec: TaskSpec) -> Task:
        task = self._run(lambda w: self._create_task(w, spec))
        self._planned()
        return task

    def _planned(self) -> None:
        if self.on_planned is not None:
            self.on_planned()

    def create_task_once(self, spec: TaskSpec, client_token: str) -> tuple[Task, bool]:
        """Idempotent create: (task, created). The task already created with ``client_token`` is
        answered again (created False) when ``spec`` is the same; another spec is a conflict."""
        def work(w: Work) -> tuple[Task, bool]:
            task = w.s.scalar(select(Task).where(Task.client_token == client_token))
            if task is None:
                return self._create_task(w, spec, client_token), True
            if spec_of(task) != spec:
                raise Conflict(f"clientToken: {client_token!r} was already used for task {task.task_uid} "
                               "with a different request body", ErrorCode.DUPLICATE)
            return task, False
        try:
            result = self._run(work)
        except IntegrityError:
            # the same key committed by a concurrent request (the unique index): answer that task
            result = self._run(work)
        self._planned()
        return result

    def _create_task(self, w: Work, spec: TaskSpec, client_token: str | None = None) -> Task:
        s, now = w.s, w.now
        fw = s.get(Firmware, spec.firmware_id)
        if fw is None:
            raise NotFound(f"firmware {spec.firmware_id} not found")
        check_spec(spec, fw.version)
        # plain rows: planning reads four fields of each device (no objects for 100,000 devices)
        q = select(Device.product_id, Device.device_name, Device.version, Device.online).where(
            Device.product_id == fw.product_id)
        if spec.type == TaskType.TARGETED:
            devices: list[Any] = []
            for i in range(0, len(spec.device_list), 500):
                devices.extend(s.execute(q.where(Device.device_name.in_(spec.device_list[i:i + 500]))))
            unknown = sorted(set(spec.device_list) - {d.device_name for d in devices})
            if unknown:
                shown = ", ".join(unknown[:20]) + (f" (+{len(unknown) - 20} more)" if len(unknown) > 20 else "")
                raise NotFound(f"deviceList: not devices of product {fw.product_id!r}: {shown}")
        else:
            devices = list(s.execute(q.order_by(Device.id)))
        task = Task(task_uid=str(uuid.uuid4()), product_id=fw.product_id, version=fw.version,
                    status=TS.NOT_STARTED if spec.schedule_time > now else TS.UPGRADING,
                    created_time=now, updated_time=now, client_token=client_token, **task_columns(spec))
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
        w.fx.events.extend(record_event(r) for r in records)
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
        self._run(work)

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
        self._run(work)

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
        self._run(work)

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
        self._run(work)

    # ---- device messages ----------------------------------------------------------------
    def handle_messages(self, msgs: Iterable[Message]) -> None:
        """Apply a batch of device messages in one transaction.

        If anything in the batch fails, the batch is applied again message by message, each in
        a savepoint, so one bad message changes nothing and the others still count.
        """
        msgs = list(msgs)
        try:
            self._run(lambda w: self._apply(w, msgs, isolate=False))
        except Exception:  # noqa: BLE001 - retried message by message below
            log.warning("a batch of %d device messages failed; applying them one by one", len(msgs))
            self._run(lambda w: self._apply(w, msgs, isolate=True))

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
        self._run(lambda w: tick(w, self.pusher, self.minute_ms))

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
