"""What device messages do to records: version reports, progress, presence.

``DeviceInput.apply`` takes one batch of parsed messages (``ota_protocol.messages.Report`` /
``Progress``, ``ports.Presence``) inside the coordinator's unit of work.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ota_protocol.codes import OK, ErrorCode, Step, UpgradeType, text
from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import TaskStatus as TS
from ota_protocol.messages import Progress, Report

from ..db.models import Device, DeviceRecord, Task
from .bulk import insert_rows, scalar_defaults
from .lifecycle import fail, maybe_finish
from .outages import OutageLog
from .planning import NEWER_DESC, DeviceFields, first_status, is_newer, joins_dynamic
from .ports import Presence, ProgressAck
from .pushing import Pusher
from .records import ACTIVE, HOLDS_DEVICE, PUSHABLE, QUEUED, move, succeed, transition
from .recovery import healthy, requeue_after_outage, stale_failure, waits_for_health
from .views import RecordFields, device_event, record_event
from .work import Work

log = logging.getLogger(__name__)

Message = Report | Progress | Presence


@dataclass
class Batch:
    """What a batch of device messages touches, loaded with a few queries instead of one per message."""
    devices: dict[tuple[str, str], Device]
    active: dict[tuple[str, str], list[DeviceRecord]]  # unfinished records, and failed ones (601)
    finish: set[Task] = field(default_factory=set)
    #: the records the messages name by id and the tasks of the active records, as loaded: a
    #: dict lookup per message instead of ``session.get`` (misses fall back to the session)
    records: dict[int, DeviceRecord] = field(default_factory=dict)
    tasks: dict[int, Task] = field(default_factory=dict)

    @classmethod
    def load(cls, s: Session, msgs: list[Message]) -> Batch:
        keys = list({(m.product_id, m.device_name) for m in msgs})
        devices: dict[tuple[str, str], Device] = {}
        active: dict[tuple[str, str], list[DeviceRecord]] = {k: [] for k in keys}
        for i in range(0, len(keys), 400):
            part = keys[i:i + 400]
            # plain IN lists on (product_id, device_name) use the composite indexes; the exact
            # pairs are picked out here
            products, names = list({p for p, _ in part}), list({d for _, d in part})
            for d in s.scalars(select(Device).where(Device.product_id.in_(products),
                                                    Device.device_name.in_(names))):
                if (d.product_id, d.device_name) in active:
                    devices[(d.product_id, d.device_name)] = d
            for r in s.scalars(select(DeviceRecord).where(
                    DeviceRecord.product_id.in_(products), DeviceRecord.device_name.in_(names),
                    DeviceRecord.status.in_((*ACTIVE, RS.FAILED))).order_by(DeviceRecord.id)):
                if (r.product_id, r.device_name) in active:
                    active[(r.product_id, r.device_name)].append(r)
        ids = list({m.record_id for m in msgs if not isinstance(m, Presence) and m.record_id is not None})
        records: dict[int, DeviceRecord] = {}
        for rs in active.values():
            for r in rs:
                records[r.id] = r
        ids = [i for i in ids if i not in records]
        for i in range(0, len(ids), 900):  # into the identity map as well
            for r in s.scalars(select(DeviceRecord).where(DeviceRecord.id.in_(ids[i:i + 900]))):
                records[r.id] = r
        task_ids = list({r.task_id for r in records.values()})
        tasks: dict[int, Task] = {}
        for i in range(0, len(task_ids), 900):
            for t in s.scalars(select(Task).where(Task.id.in_(task_ids[i:i + 900]))):
                tasks[t.id] = t
        return cls(devices, active, records=records, tasks=tasks)

    def record(self, s: Session, record_id: int) -> DeviceRecord | None:
        rec = self.records.get(record_id)
        return rec if rec is not None else s.get(DeviceRecord, record_id)

    def task(self, s: Session, task_id: int) -> Task | None:
        task = self.tasks.get(task_id)
        if task is None:
            task = s.get(Task, task_id)
            if task is not None:
                self.tasks[task_id] = task
        return task

    def device(self, product_id: str, device_name: str) -> Device | None:
        return self.devices.get((product_id, device_name))

    def active_records(self, dev: Device) -> list[DeviceRecord]:
        return [r for r in self.active.get((dev.product_id, dev.device_name), []) if r.status in ACTIVE]

    def failed_records(self, dev: Device, target_version: str) -> list[DeviceRecord]:
        """Failed records of the device for `target_version` (a late success still counts)."""
        return [r for r in self.active.get((dev.product_id, dev.device_name), [])
                if r.status == RS.FAILED and r.target_version == target_version]


class DeviceInput:
    def __init__(self, pusher: Pusher, outages: OutageLog | None, minute_ms: int) -> None:
        self.pusher, self.outages, self.minute_ms = pusher, outages, minute_ms
        # when each device last connected, from the broker's connections (embedded broker only)
        self._connected_at: dict[tuple[str, str], int] = {}

    def handle(self, w: Work, m: Message, batch: Batch) -> None:
        if isinstance(m, Report):
            self.on_report(w, m, batch)
        elif isinstance(m, Presence):
            self.on_presence(w, m, batch)
        else:
            self.on_progress(w, m, batch)

    def finish(self, w: Work, batch: Batch) -> None:
        w.s.flush()
        for task in batch.finish:
            maybe_finish(w, task)

    # ---- version reports ------------------------------------------------------------
    def on_report(self, w: Work, m: Report, batch: Batch) -> None:
        s, fx, now = w.s, w.fx, w.now
        dev = batch.device(m.product_id, m.device_name)
        if dev is None:
            log.warning("version report from unknown device %s/%s ignored", m.product_id, m.device_name)
            return
        changed = dev.version != m.version or not dev.online
        dev.version, dev.online, dev.last_seen = m.version, True, now
        if changed:
            fx.events.append(device_event(dev))
        recs = batch.active_records(dev)
        # a late answer about a record that failed (timed out, say): reaching the target still counts
        for late in batch.failed_records(dev, m.version):
            task = batch.task(s, late.task_id)
            if late not in recs and task is not None and task.status != TS.CANCELLED:
                recs.append(late)
        tasks: dict[int, Task] = {}
        for rec in recs:
            task = tasks.get(rec.task_id) or batch.task(s, rec.task_id)
            assert task is not None
            tasks[rec.task_id] = task
            events_before, old_version = len(fx.events), rec.version
            rec.version = m.version  # a record shows the device's current version
            if m.version == rec.target_version:
                if rec.status == RS.FAILED and task.status == TS.DONE:
                    w.set_task(task, TS.UPGRADING)  # re-evaluated below
                succeed(fx, rec, now)
            elif is_newer(m.version, rec.target_version):
                move(fx, rec, now, RS.FAILED, desc=NEWER_DESC, due=0)
            elif rec.status == RS.PUSHED and not self._reconnected_since(rec):
                pass  # a report sent before the push (or a duplicate): the push is on its way
            elif rec.status in (*QUEUED, RS.PUSHED):
                self._pushable_again(w, task, rec, m.client_token)
            if len(fx.events) == events_before and rec.version != old_version:
                fx.events.append(record_event(rec))
            batch.finish.add(task)
        if not recs:
            joined = self._join_dynamic(w, dev, m.client_token)
            if joined is not None:
                batch.active.setdefault((dev.product_id, dev.device_name), []).append(joined)

    def _pushable_again(self, w: Work, task: Task, rec: DeviceRecord, client_token: str) -> None:
        """The device reported (it is online and listening): push its record now if we may."""
        if waits_for_health(rec) and not healthy(self.outages):
            if rec.status == RS.QUEUED_OFFLINE:
                move(w.fx, rec, w.now, RS.QUEUED_RETRY)  # online again; the timer pushes it
        elif task.status != TS.UPGRADING:
            if rec.status == RS.QUEUED_OFFLINE:
                move(w.fx, rec, w.now, RS.QUEUED)
        elif rec.wave <= task.current_wave and self.pusher.budget(w, task) > 0:  # released wave, not paused
            self.pusher.push(w, task, rec, client_token=client_token or None)
        elif rec.status == RS.QUEUED_OFFLINE:
            move(w.fx, rec, w.now, RS.QUEUED)  # online now: the timer pushes it within budget

    def _join_dynamic(self, w: Work, dev: Device, client_token: str) -> DeviceRecord | None:
        s = w.s
        tasks = list(s.scalars(select(Task).where(Task.product_id == dev.product_id, Task.status == TS.UPGRADING,
                                                  Task.upgrade_type == UpgradeType.DYNAMIC).order_by(Task.id)))
        for task in tasks:
            if not joins_dynamic(task, dev, json.loads(task.src_version or "[]")):
                continue
            if s.scalar(select(DeviceRecord.id).where(DeviceRecord.product_id == dev.product_id,
                                                      DeviceRecord.device_name == dev.device_name,
                                                      DeviceRecord.task_id == task.id).limit(1)):
                continue
            others = list(s.scalars(select(DeviceRecord).where(
                DeviceRecord.product_id == dev.product_id, DeviceRecord.device_name == dev.device_name, HOLDS_DEVICE)))
            rec = new_record(w, task, dev, others)
            rec.wave = task.current_wave  # a device joining later joins the wave being rolled out
            rec.from_version = dev.version
            s.flush()
            w.fx.history.append(transition(rec, w.now))
            if rec.status == RS.QUEUED and self.pusher.budget(w, task) > 0:
                self.pusher.push(w, task, rec, client_token=client_token or None)
            else:
                w.fx.events.append(record_event(rec))
            return rec
        return None

    def _reconnected_since(self, rec: DeviceRecord) -> bool:
        """Has the device connected again after `rec` was pushed? Unknown (external broker): yes."""
        at = self._connected_at.get((rec.product_id, rec.device_name))
        return at is None or at > rec.pushed_time

    # ---- presence -------------------------------------------------------------------
    def on_presence(self, w: Work, m: Presence, batch: Batch) -> None:
        if m.online:
            self._connected_at[(m.product_id, m.device_name)] = w.now
        dev = batch.device(m.product_id, m.device_name)
        if dev is None or dev.online == m.online:
            return
        dev.online = m.online
        if m.online:
            dev.last_seen = w.now
        w.fx.events.append(device_event(dev))
        if not m.online:  # queued records wait for the device (202) instead of being pushed into the void
            for rec in batch.active_records(dev):
                if rec.status in PUSHABLE:
                    move(w.fx, rec, w.now, RS.QUEUED_OFFLINE)

    # ---- progress -------------------------------------------------------------------
    def on_progress(self, w: Work, m: Progress, batch: Batch) -> None:
        s, fx, now = w.s, w.fx, w.now

        def reply(code: int = OK, status: str = "成功") -> None:
            fx.acks.append(ProgressAck(m.product_id, m.device_name, m.client_token, now, code, status))
        dev = batch.device(m.product_id, m.device_name)
        if dev is None:
            log.warning("progress from unknown device %s/%s ignored", m.product_id, m.device_name)
            return
        dev.last_seen = now
        if not dev.online:
            dev.online = True
            fx.events.append(device_event(dev))
        rec = batch.record(s, m.record_id)
        if rec is None or rec.product_id != m.product_id or rec.device_name != m.device_name:
            log.warning("progress from %s/%s names record %s, which is not its own", m.product_id,
                        m.device_name, m.record_id)
            return reply(ErrorCode.NOT_FOUND, f"record {m.record_id} is not this device's")
        if m.step == 0:
            return reply(ErrorCode.PARAMETER, "step must not be 0")
        if rec.status >= RS.SUCCEEDED:
            return reply(ErrorCode.ALREADY_FINISHED, f"record {rec.id} already finished ({rec.status})")
        if m.step < 0 and stale_failure(rec, m):
            log.info("record %s (%s/%s): failure report about an earlier push ignored (%s)", rec.id,
                     rec.product_id, rec.device_name, m.desc[:80])
            return reply()
        task = batch.task(s, rec.task_id)
        assert task is not None
        if m.step > 0:
            move(fx, rec, now, RS.UPGRADING, step=m.step, desc=m.desc or "upgrading",
                 due=now + task.timeout_minutes * self.minute_ms)
        elif not requeue_after_outage(w, self.outages, rec, task, m.step):
            fail(w, rec, task, m.step, m.desc or text(Step(m.step)).lower(), self.minute_ms)
            batch.finish.add(task)
        reply()


def _task_values(w: Work, task: Task) -> dict[str, Any]:
    """The columns every new record of ``task`` shares (read once per task, not per device)."""
    return {"task_id": task.id, "task_uid": task.task_uid, "target_version": task.version,
            "created_time": w.now, "updated_time": w.now}


def _record_values(w: Work, task: Task, dev: DeviceFields, others: Sequence[DeviceRecord],
                   shared: dict[str, Any] | None = None) -> dict[str, Any]:
    """A new record's columns (``shared``: ``_task_values``); the device's records in other
    tasks that still hold it are cancelled when the task overwrites (else the new record
    fails, see first_status). Every record of a task has the same keys, in the same order."""
    status, desc, cancel = first_status(task, dev, others)
    for o in cancel:
        move(w.fx, o, w.now, RS.CANCELLED, desc=f"overwritten by task {task.task_uid}", due=0)
    return {**(shared or _task_values(w, task)), "product_id": dev.product_id, "device_name": dev.device_name,
            "version": dev.version, "from_version": dev.version, "status": int(status), "desc": desc}


def new_records(w: Work, task: Task, devices: Sequence[DeviceFields], busy: dict[str, list[DeviceRecord]]) -> list[RecordFields]:
    """The records of a new task (one per device, in the order of ``devices``: ids ascending),
    inserted at once; returned as plain values (what their events show), not as loaded objects."""
    shared = _task_values(w, task)
    rows = [_record_values(w, task, dev, busy.get(dev.device_name, ()), shared) for dev in devices]
    if not rows:
        return []
    w.s.flush()  # the cancellations (and the task) first
    # the DB-API driver straight (COPY on PostgreSQL); ids matched by name, unique within a task
    ids = insert_rows(w.s, DeviceRecord, rows, key="device_name", scope={"task_id": task.id})
    # the columns a row leaves out hold their defaults (step 0, retry_count 0, wave 0, ...)
    left_out = {k: v for k, v in scalar_defaults(DeviceRecord).items() if k not in rows[0]}
    return [SimpleNamespace(**left_out, **row, id=i) for i, row in zip(ids, rows, strict=True)]


def new_record(w: Work, task: Task, dev: DeviceFields, others: Sequence[DeviceRecord]) -> DeviceRecord:
    """A device's record in `task` (a device joining a dynamic task), as a loaded object."""
    rec = DeviceRecord(**_record_values(w, task, dev, others))
    w.s.add(rec)
    return rec
