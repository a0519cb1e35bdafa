"""Pushing: a record's upgrade order (fresh download URLs), and the queued records a task
may push now within its pace."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select, update

from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import TaskStatus as TS
from ota_protocol.messages import new_client_token

from ..db.models import Device, DeviceRecord, Firmware, Task
from . import rollouts
from .lifecycle import maybe_finish
from .outages import OutageLog
from .pacing import Pacer
from .ports import OrderFile, UpgradeOrder, UrlSigner
from .records import PUSHABLE, check_move, move, succeed, transition
from .recovery import REPUSH_PREFIX, healthy, waits_for_health
from .rollouts import may_push_now
from .views import record_event
from .work import Work

#: at most this many records are pushed by one unit of work (the next tick takes the rest)
BATCH = 5000


class Pusher:
    def __init__(self, sign: UrlSigner, pacer: Pacer, minute_ms: int, outages: OutageLog | None) -> None:
        self.sign, self.pacer, self.minute_ms, self.outages = sign, pacer, minute_ms, outages

    def files(self, fw: Firmware) -> tuple[OrderFile, ...]:
        """The firmware's files with freshly signed download URLs."""
        return tuple(OrderFile(f.name, f.signature(fw.sign_method), f.size, self.sign(f.object_key))
                     for f in fw.files)

    @staticmethod
    def order(product_id: str, device_name: str, record_id: int, fw: Firmware, files: tuple[OrderFile, ...],
              client_token: str, now: int) -> UpgradeOrder:
        return UpgradeOrder(product_id, device_name, record_id, client_token, fw.version, fw.is_diff,
                            fw.sign_method, files, now)

    def budget(self, w: Work, task: Task) -> int:
        """Pushes the task may send now: none while paused or outside its maintenance window."""
        if not may_push_now(task, w.now):
            return 0
        return self.pacer.budget(w.s, task, w.now)

    def push(self, w: Work, task: Task, rec: DeviceRecord, client_token: str | None = None,
             fw: Firmware | None = None) -> None:
        fw = fw or w.s.get(Firmware, task.firmware_id)
        assert fw is not None
        w.fx.orders.append(self.order(rec.product_id, rec.device_name, rec.id, fw, self.files(fw),
                                      client_token or new_client_token(), w.now))
        self.pacer.pushed(w.s, task, w.now)
        desc = rec.desc if waits_for_health(rec) else "pushed"  # a re-push after our outage says why
        move(w.fx, rec, w.now, RS.PUSHED, step=0, desc=desc, due=w.now + task.timeout_minutes * self.minute_ms)
        rec.pushed_time = w.now

    def push_queued(self, w: Work, task: Task, limit: int = BATCH) -> int:
        """Push the task's queued records (online devices) that its pace allows now, at most
        ``limit``; returns how many were pushed.

        The usual case (queued 201/203 -> pushed 301) is one SELECT of plain rows and one UPDATE
        for the whole batch, checked against the state machine's table once per status; records
        re-queued by our outage take the per-record path (they keep their desc, and may have
        reached the target meanwhile)."""
        budget = min(self.budget(w, task), limit)
        if budget <= 0:
            return 0
        cols = (DeviceRecord.id, DeviceRecord.status, DeviceRecord.desc, DeviceRecord.product_id,
                DeviceRecord.device_name, DeviceRecord.task_uid, DeviceRecord.version, DeviceRecord.target_version,
                DeviceRecord.retry_count, DeviceRecord.wave)
        q = select(*cols).where(DeviceRecord.task_id == task.id, DeviceRecord.status.in_(PUSHABLE))
        if task.rollout:  # later waves wait until theirs is released
            q = q.where(DeviceRecord.wave <= task.current_wave)
        if not healthy(self.outages):  # records re-queued by our outage wait until it is over
            q = q.where(~DeviceRecord.desc.startswith(REPUSH_PREFIX))
        rows = w.s.execute(q.order_by(DeviceRecord.id).limit(budget)).all()
        if not rows:
            return 0
        fw = w.s.get(Firmware, task.firmware_id)
        assert fw is not None
        plain = [r for r in rows if not (r.desc or "").startswith(REPUSH_PREFIX)]
        repushes = [r.id for r in rows if (r.desc or "").startswith(REPUSH_PREFIX)]
        for status in {r.status for r in plain}:
            check_move(status, RS.PUSHED)
        due = w.now + task.timeout_minutes * self.minute_ms
        if plain:
            ids = [r.id for r in plain]
            w.s.execute(update(DeviceRecord).where(DeviceRecord.id.in_(ids)).values(
                status=RS.PUSHED, step=0, desc="pushed", due_time=due, updated_time=w.now, pushed_time=w.now))
            # one set of URLs for the batch: signed at the same moment for the same objects, every
            # device's URLs would be the same anyway (a later push, e.g. a retry, gets fresh ones)
            files = self.files(fw)
            self.pacer.pushed(w.s, task, w.now, len(plain))
            for r in plain:
                w.fx.orders.append(self.order(r.product_id, r.device_name, r.id, fw, files, new_client_token(), w.now))
                pushed_row = SimpleNamespace(
                    id=r.id, task_uid=r.task_uid, product_id=r.product_id, device_name=r.device_name,
                    version=r.version, target_version=r.target_version, status=RS.PUSHED, step=0, desc="pushed",
                    retry_count=r.retry_count, updated_time=w.now, wave=r.wave)
                w.fx.events.append(record_event(pushed_row))
                w.fx.history.append(transition(pushed_row, w.now))
        pushed = len(plain)
        for record_id in repushes:
            rec = w.s.get(DeviceRecord, record_id)
            assert rec is not None
            if self._already_on_target(w, rec):
                continue
            self.push(w, task, rec, fw=fw)
            pushed += 1
        return pushed

    def push_running(self, w: Work) -> int:
        """Push what every running task may push now (at most BATCH per task); a task with
        rollout options is first checked against them (abort, next wave); each task is checked
        for completion. Returns how many were pushed."""
        pushed = 0
        for task in list(w.s.scalars(select(Task).where(Task.status == TS.UPGRADING))):
            if task.rollout:
                rollouts.evaluate(w, task, self.minute_ms)
                if task.status != TS.UPGRADING:
                    continue
            pushed += self.push_queued(w, task)
            maybe_finish(w, task)
        return pushed

    @staticmethod
    def _already_on_target(w: Work, rec: DeviceRecord) -> bool:
        """Before a re-push: a device that meanwhile reached the target is not pushed again."""
        version = w.s.scalar(select(Device.version).where(Device.product_id == rec.product_id,
                                                          Device.device_name == rec.device_name))
        if version != rec.target_version:
            return False
        rec.version = version
        succeed(w.fx, rec, w.now)
        return True
