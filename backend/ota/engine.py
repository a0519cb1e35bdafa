"""The OTA rules: task planning, the device-record state machine, timers and pushes.

Plain Python over the database; no MQTT or HTTP types. Device messages come in as the
dataclasses of `backend.mqtt.messages`; pushes go out through a `Publisher`. Every
mutation runs under one lock in one transaction, and messages and events leave only
after that transaction committed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from ..db.models import Device, DeviceRecord, Firmware, Task, now_ms
from ..db.session import Database
from ..mqtt import messages as wire
from ..mqtt.presence import Presence
from ..storage.base import PRIVATE_BUCKET, ObjectStore
from .errors import RuleError
from .events import EventBus, device_event, record_event, task_event
from .outages import BACKEND_START, BROKER, DISK, PROXY_5XX, STORE, OutageLog
from .status import ErrorCode, RecordStatus as RS, Step, TaskStatus as TS, TaskType, UpgradeType

log = logging.getLogger(__name__)

STEP_DESC = {Step.FAILED: "upgrade failed", Step.DOWNLOAD_FAILED: "download failed",
             Step.VERIFY_FAILED: "verification failed", Step.FLASH_FAILED: "flashing failed"}
ACTIVE = (RS.CONFIRM, RS.QUEUED, RS.QUEUED_OFFLINE, RS.QUEUED_RETRY, RS.PUSHED, RS.UPGRADING)
PUSHABLE = (RS.QUEUED, RS.QUEUED_RETRY)
NEWER_DESC = "device version is newer than the package"

# ---- failures caused by our own unavailability (OutageLog) ------------------------------
#: Device failure steps that our own outage can cause, so a failure with one of them reported
#: while (or shortly after) we were unavailable is re-pushed instead of counted:
#: -2 download failed: the download itself hit us (connection refused, 502 from the proxy);
#: -1 generic failure: what a device that does not tell download failures apart reports;
#: -3 verification failed: a proxy or store that dies mid-transfer leaves a truncated body, and
#:    a device that does not check Content-Length only notices at the size/signature check. A
#:    genuinely bad package fails again after the outage and then takes the normal path, so the
#:    cost of a wrong guess is one extra push (and MAX_OUTAGE_REPUSHES bounds it anyway).
#: -4 flashing failed is NOT ours: it comes after a verified download, nothing we serve is
#:    involved any more; it always takes the normal failed/retry path.
OUTAGE_STEPS = frozenset((Step.FAILED, Step.DOWNLOAD_FAILED, Step.VERIFY_FAILED))
#: at most this many outage re-pushes per record; then a failure takes the normal path (a device
#: that fails for its own reasons while our proxy keeps noting 5xx must not loop for ever)
MAX_OUTAGE_REPUSHES = 5
#: desc of a record re-pushed because of our outage; on a queued record (201/202/203) it also
#: marks the record as waiting for ``outages.healthy()`` (only the backend writes queued descs)
REPUSH_PREFIX = "re-pushed: "
OUTAGE_TEXT = {STORE: "object-store outage", PROXY_5XX: "object-proxy outage", BACKEND_START: "backend restart",
               BROKER: "broker outage", DISK: "disk outage"}
QUEUED = (RS.QUEUED, RS.QUEUED_OFFLINE, RS.QUEUED_RETRY)


def waits_for_health(r: DeviceRecord) -> bool:
    """Queued again because its failure was our outage's: pushed only once we are healthy."""
    return r.status in QUEUED and (r.desc or "").startswith(REPUSH_PREFIX)


def holds_device(r: DeviceRecord) -> bool:
    """Unfinished, or failed with an automatic retry still to come: the device is taken."""
    return r.status in ACTIVE or (r.status == RS.FAILED and r.due_time > 0)


HOLDS_DEVICE = DeviceRecord.status.in_(ACTIVE) | ((DeviceRecord.status == RS.FAILED) & (DeviceRecord.due_time > 0))


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes) -> None: ...


@dataclass
class TaskSpec:
    firmware_id: int
    type: int = TaskType.ALL
    upgrade_type: int = UpgradeType.STATIC
    device_list: list[str] = field(default_factory=list)
    version_list: list[str] = field(default_factory=list)
    retry_count: int = 0
    retry_interval_minutes: int = 10
    timeout_minutes: int = 60
    max_per_minute: int = 0
    gray_percent: int = 100
    schedule_time: int = 0
    overwrite: bool = False


def _version_key(v: str) -> tuple[int, ...] | None:
    parts = re.findall(r"\d+", v)
    if not parts or re.sub(r"[\d.\-_vV]", "", v):
        return None
    return tuple(int(p) for p in parts)


def is_newer(version: str, than: str) -> bool:
    a, b = _version_key(version), _version_key(than)
    return a is not None and b is not None and a > b


def gray_rank(task_uid: str, device_name: str) -> int:
    return int.from_bytes(hashlib.sha1(f"{task_uid}/{device_name}".encode()).digest()[:4], "big")


def in_gray(task: Task, device_name: str) -> bool:
    return task.gray_percent >= 100 or gray_rank(task.task_uid, device_name) % 100 < task.gray_percent


@dataclass
class _Out:
    """What a unit of work sends once it has committed."""
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)


class OtaEngine:
    def __init__(self, db: Database, store: ObjectStore, events: EventBus, publisher: Publisher | None = None,
                 minute_seconds: float = 60.0, public_base_url: str = "",
                 clock: Callable[[], int] = now_ms, outages: OutageLog | None = None):
        self.db, self.store, self.events = db, store, events
        #: our own unavailability; None: every device failure counts against the task
        self.outages = outages
        self.publisher = publisher
        self.minute_ms = max(1, int(minute_seconds * 1000))
        self.public_base_url = public_base_url.rstrip("/")
        self.clock = clock
        self.lock = threading.RLock()
        # pushes of the last minute per task (maxPerMinute); seeded from the records' pushed_time
        # the first time a task is looked at, so a restart does not start from an empty window
        self._push_times: dict[int, deque[int]] = {}
        # when each device last connected, from the broker's log (embedded broker only)
        self._connected_at: dict[tuple[str, str], int] = {}

    # ---- unit of work -----------------------------------------------------------------
    def _run(self, fn: Callable[[Session, _Out, int], object]) -> object:
        out = _Out()
        with self.lock:
            with self.db.session() as s:
                result = fn(s, out, self.clock())
            self._flush(out)
        return result

    def _flush(self, out: _Out) -> None:
        if self.publisher is not None:
            for topic, payload in out.messages:
                try:
                    self.publisher.publish(topic, payload)
                except Exception:  # noqa: BLE001
                    log.exception("publish to %s failed", topic)
        self.events.publish_many(out.events)

    # ---- tasks ------------------------------------------------------------------------
    def create_task(self, spec: TaskSpec) -> Task:
        return self._run(lambda s, out, now: self._create_task(s, out, now, spec))  # type: ignore[return-value]

    def create_task_once(self, spec: TaskSpec, client_token: str) -> tuple[Task, bool]:
        """Idempotent create: (task, created). The task already created with ``client_token`` is
        answered again (created False) when ``spec`` is the same; another spec is a 409."""
        def work(s: Session, out: _Out, now: int) -> tuple[Task, bool]:
            task = s.scalar(select(Task).where(Task.client_token == client_token))
            if task is None:
                return self._create_task(s, out, now, spec, client_token), True
            if self.spec_of(task) != spec:
                raise RuleError(409, ErrorCode.DUPLICATE,
                                f"clientToken: {client_token!r} was already used for task {task.task_uid} "
                                "with a different request body")
            return task, False
        try:
            return self._run(work)  # type: ignore[return-value]
        except IntegrityError:
            # the same key committed by a concurrent request (the unique index): answer that task
            return self._run(work)  # type: ignore[return-value]

    @staticmethod
    def spec_of(task: Task) -> TaskSpec:
        """The TaskSpec a task was created from (every field of it is stored with the task)."""
        return TaskSpec(firmware_id=task.firmware_id, type=task.type, upgrade_type=task.upgrade_type,
                        device_list=json.loads(task.src_device or "[]"),
                        version_list=json.loads(task.src_version or "[]"), retry_count=task.retry_count,
                        retry_interval_minutes=task.retry_interval_minutes, timeout_minutes=task.timeout_minutes,
                        max_per_minute=task.max_per_minute, gray_percent=task.gray_percent,
                        schedule_time=task.schedule_time, overwrite=bool(task.overwrite))

    def _create_task(self, s: Session, out: _Out, now: int, spec: TaskSpec, client_token: str | None = None) -> Task:
        fw = s.get(Firmware, spec.firmware_id)
        if fw is None:
            raise RuleError(404, ErrorCode.NOT_FOUND, f"firmware {spec.firmware_id} not found")
        if spec.type == TaskType.TARGETED and not spec.device_list:
            raise RuleError(400, ErrorCode.PARAMETER, "deviceList: a targeted task (type 2) needs at least one device")
        if spec.upgrade_type == UpgradeType.DYNAMIC:
            if spec.type == TaskType.TARGETED:
                raise RuleError(400, ErrorCode.PARAMETER, "upgradeType: a dynamic task cannot be targeted (type 2)")
            if not spec.version_list:
                raise RuleError(400, ErrorCode.PARAMETER, "versionList: a dynamic task needs the source versions")
        if fw.version in spec.version_list:
            raise RuleError(400, ErrorCode.PARAMETER,
                            f"versionList: contains the firmware's own version {fw.version!r}")
        q = select(Device).where(Device.product_id == fw.product_id)
        if spec.type == TaskType.TARGETED:
            devices = []
            for i in range(0, len(spec.device_list), 500):
                devices.extend(s.scalars(q.where(Device.device_name.in_(spec.device_list[i:i + 500]))))
            unknown = sorted(set(spec.device_list) - {d.device_name for d in devices})
            if unknown:
                shown = ", ".join(unknown[:20]) + (f" (+{len(unknown) - 20} more)" if len(unknown) > 20 else "")
                raise RuleError(404, ErrorCode.NOT_FOUND,
                                f"deviceList: not devices of product {fw.product_id!r}: {shown}")
        else:
            devices = list(s.scalars(q.order_by(Device.id)))
        if spec.version_list:
            devices = [d for d in devices if d.version in spec.version_list]
        devices = [d for d in devices if d.version != fw.version]
        task = Task(task_uid=str(uuid.uuid4()), firmware_id=fw.id, product_id=fw.product_id, type=spec.type,
                    upgrade_type=spec.upgrade_type, version=fw.version,
                    status=TS.NOT_STARTED if spec.schedule_time > now else TS.UPGRADING,
                    src_version=json.dumps(spec.version_list), src_device=json.dumps(spec.device_list),
                    retry_count=spec.retry_count, retry_interval_minutes=spec.retry_interval_minutes,
                    timeout_minutes=spec.timeout_minutes, max_per_minute=spec.max_per_minute,
                    gray_percent=spec.gray_percent, schedule_time=spec.schedule_time, overwrite=spec.overwrite,
                    created_time=now, updated_time=now, client_token=client_token)
        s.add(task)
        s.flush()
        if spec.gray_percent < 100:
            if spec.upgrade_type == UpgradeType.DYNAMIC:  # the same rule decides for devices joining later
                devices = [d for d in devices if in_gray(task, d.device_name)]
            else:  # a fixed set: exactly that share
                keep = math.ceil(len(devices) * spec.gray_percent / 100)
                devices = sorted(devices, key=lambda d: gray_rank(task.task_uid, d.device_name))[:keep]
        busy: dict[str, list[DeviceRecord]] = defaultdict(list)
        for r in s.scalars(select(DeviceRecord).where(DeviceRecord.product_id == fw.product_id, HOLDS_DEVICE,
                                                      DeviceRecord.task_id != task.id)):
            busy[r.device_name].append(r)
        records = [self._new_record(s, out, now, task, d, busy.get(d.device_name, [])) for d in devices]
        s.flush()
        out.events.extend(record_event(r) for r in records)
        out.events.append(task_event(task))
        if task.status == TS.UPGRADING:
            self._push_queued(s, out, now, task)
            self._maybe_finish(s, out, now, task)
        return task

    def _new_record(self, s: Session, out: _Out, now: int, task: Task, dev: Device,
                    others: list[DeviceRecord]) -> DeviceRecord:
        """A device's record in `task`; `others` are its unfinished records in other tasks."""
        rec = DeviceRecord(task_id=task.id, task_uid=task.task_uid, product_id=dev.product_id,
                           device_name=dev.device_name, version=dev.version, target_version=task.version,
                           status=RS.QUEUED if dev.online else RS.QUEUED_OFFLINE, created_time=now, updated_time=now)
        others = [o for o in others if holds_device(o) and o.task_id != task.id]
        if is_newer(dev.version, task.version):  # never push a downgrade
            rec.status, rec.desc = RS.FAILED, NEWER_DESC
        elif others:
            if task.overwrite:
                for o in others:
                    self._set(out, o, now, RS.CANCELLED, desc=f"overwritten by task {task.task_uid}", due=0)
            else:
                rec.status, rec.desc = RS.FAILED, "another task is upgrading this device"
        s.add(rec)
        return rec

    def _set(self, out: _Out, rec: DeviceRecord, now: int, status: int, *, step: int | None = None,
             desc: str | None = None, due: int | None = None) -> None:
        rec.status = status
        if step is not None:
            rec.step = step
        if desc is not None:
            rec.desc = desc
        if due is not None:
            rec.due_time = due
        rec.updated_time = now
        out.events.append(record_event(rec))

    def _fail(self, out: _Out, rec: DeviceRecord, task: Task, now: int, step: int, desc: str) -> None:
        retry_left = rec.auto_retries < task.retry_count and task.status == TS.UPGRADING
        due = now + task.retry_interval_minutes * self.minute_ms if retry_left else 0
        self._set(out, rec, now, RS.FAILED, step=step, desc=desc, due=due)

    # ---- pushing ----------------------------------------------------------------------
    def _window(self, task: Task, now: int) -> deque[int]:
        """The task's pushes within the last minute."""
        times = self._push_times.get(task.id)
        if times is None:
            # first look at this task in this process (every push looks first): the pushes of the
            # last minute before a restart are in the database. Each record keeps only its latest
            # pushed_time, so a record pushed twice within that minute counts once.
            s = object_session(task)
            recent = [] if s is None or task.max_per_minute <= 0 else list(s.scalars(
                select(DeviceRecord.pushed_time).where(DeviceRecord.task_id == task.id,
                                                       DeviceRecord.pushed_time > now - self.minute_ms)
                .order_by(DeviceRecord.pushed_time)))
            times = self._push_times[task.id] = deque(recent)
        while times and times[0] <= now - self.minute_ms:
            times.popleft()
        return times

    def _budget(self, task: Task, now: int) -> int:
        times = self._window(task, now)
        if task.max_per_minute <= 0:
            return 1 << 30
        return max(0, task.max_per_minute - len(times))

    def _file_url(self, key: str) -> str:
        url = self.store.presign("GET", PRIVATE_BUCKET, key)
        return self.public_base_url + url if self.public_base_url else url

    def _push(self, s: Session, out: _Out, now: int, task: Task, rec: DeviceRecord,
              client_token: str | None = None, fw: Firmware | None = None) -> None:
        fw = fw or s.get(Firmware, task.firmware_id)
        assert fw is not None
        files = [{"name": f.name, "signature": f.signature(fw.sign_method), "size": f.size,
                  "url": self._file_url(f.object_key)} for f in fw.files]
        payload = wire.upgrade_push(client_token=client_token or wire.new_client_token(), record_id=rec.id,
                                    is_diff=fw.is_diff, sign_method=fw.sign_method, version=fw.version,
                                    files=files, timestamp=now)
        out.messages.append((wire.topic_down_upgrade(rec.product_id, rec.device_name), payload))
        self._window(task, now).append(now)
        # a re-push after our outage keeps saying why it happened
        desc = rec.desc if waits_for_health(rec) else "pushed"
        self._set(out, rec, now, RS.PUSHED, step=0, desc=desc, due=now + task.timeout_minutes * self.minute_ms)
        rec.pushed_time = now

    def _push_queued(self, s: Session, out: _Out, now: int, task: Task) -> None:
        budget = self._budget(task, now)
        if budget <= 0:
            return
        q = select(DeviceRecord).where(DeviceRecord.task_id == task.id, DeviceRecord.status.in_(PUSHABLE))
        if not self._healthy():  # records re-queued by our outage wait until it is over
            q = q.where(~DeviceRecord.desc.startswith(REPUSH_PREFIX))
        recs = list(s.scalars(q.order_by(DeviceRecord.id).limit(min(budget, 5000))))
        if recs:
            fw = s.get(Firmware, task.firmware_id)
            for rec in recs:
                if waits_for_health(rec) and self._already_on_target(s, out, now, rec):
                    continue
                self._push(s, out, now, task, rec, fw=fw)

    # ---- our own outages ----------------------------------------------------------------
    def _healthy(self) -> bool:
        return self.outages is None or self.outages.healthy()

    def _already_on_target(self, s: Session, out: _Out, now: int, rec: DeviceRecord) -> bool:
        """Before a re-push: a device that meanwhile reached the target is not pushed again."""
        version = s.scalar(select(Device.version).where(Device.product_id == rec.product_id,
                                                        Device.device_name == rec.device_name))
        if version != rec.target_version:
            return False
        rec.version = version
        self._set(out, rec, now, RS.SUCCEEDED, step=100, desc="upgrade succeeded", due=0)
        return True

    def _requeue_after_outage(self, out: _Out, rec: DeviceRecord, task: Task, now: int, step: int) -> bool:
        """A device failure that our own unavailability explains: the record is queued again
        (203) and re-pushed with fresh URLs once we are healthy, without using the task's retry
        budget (retry_count / auto_retries unchanged). False: count it as a failure."""
        if self.outages is None or step not in OUTAGE_STEPS or task.status != TS.UPGRADING:
            return False
        if waits_for_health(rec):
            return True  # a duplicate failure report: it is already queued again
        # only an outage that was not over before this push can have made it fail
        outage = self.outages.covers(now / 1000, since=rec.pushed_time / 1000)
        if outage is None or rec.outage_retries >= MAX_OUTAGE_REPUSHES:
            return False
        rec.outage_retries += 1
        what = STEP_DESC.get(Step(step), "upgrade failed")
        self._set(out, rec, now, RS.QUEUED_RETRY, step=step, due=0,
                  desc=f"{REPUSH_PREFIX}{what} during our {OUTAGE_TEXT.get(outage.kind, outage.kind + ' outage')}")
        log.info("record %s (%s/%s): %s during our %s outage; re-pushed once healthy", rec.id, rec.product_id,
                 rec.device_name, what, outage.kind)
        return True

    # ---- completion ---------------------------------------------------------------------
    def _maybe_finish(self, s: Session, out: _Out, now: int, task: Task) -> None:
        if task.status != TS.UPGRADING or task.upgrade_type == UpgradeType.DYNAMIC:
            return
        pending = s.scalar(select(DeviceRecord.id).where(
            DeviceRecord.task_id == task.id,
            DeviceRecord.status.in_(ACTIVE) | ((DeviceRecord.status == RS.FAILED) & (DeviceRecord.due_time > 0))
        ).limit(1))
        if pending is None:
            self._set_task(out, task, now, TS.DONE)

    def _set_task(self, out: _Out, task: Task, now: int, status: int) -> None:
        task.status, task.updated_time = status, now
        out.events.append(task_event(task))

    # ---- manual actions -----------------------------------------------------------------
    def cancel_task(self, task_id: int) -> None:
        def work(s: Session, out: _Out, now: int) -> None:
            task = s.get(Task, task_id)
            if task is None:
                raise RuleError(404, ErrorCode.NOT_FOUND, f"task {task_id} not found")
            if task.status not in (TS.NOT_STARTED, TS.UPGRADING):
                raise RuleError(409, ErrorCode.ALREADY_FINISHED,
                                f"taskID: task {task_id} is {TS(task.status).name.lower()} and cannot be cancelled")
            for rec in list(s.scalars(select(DeviceRecord).where(DeviceRecord.task_id == task.id,
                                                            DeviceRecord.status < RS.SUCCEEDED))):
                self._set(out, rec, now, RS.CANCELLED, desc="task cancelled", due=0)
            for rec in list(s.scalars(select(DeviceRecord).where(DeviceRecord.task_id == task.id,
                                                            DeviceRecord.status == RS.FAILED,
                                                            DeviceRecord.due_time > 0))):
                rec.due_time = 0
            self._set_task(out, task, now, TS.CANCELLED)
        self._run(work)

    def _record(self, s: Session, record_id: int) -> tuple[DeviceRecord, Task]:
        rec = s.get(DeviceRecord, record_id)
        if rec is None:
            raise RuleError(404, ErrorCode.NOT_FOUND, f"device record {record_id} not found")
        task = s.get(Task, rec.task_id)
        assert task is not None
        return rec, task

    def cancel_record(self, record_id: int) -> None:
        def work(s: Session, out: _Out, now: int) -> None:
            rec, task = self._record(s, record_id)
            if rec.status in (RS.SUCCEEDED, RS.FAILED):
                raise RuleError(409, ErrorCode.ALREADY_FINISHED,
                                f"id: record {record_id} already finished ({rec.status}) and cannot be cancelled")
            if rec.status != RS.CANCELLED:
                self._set(out, rec, now, RS.CANCELLED, desc="cancelled", due=0)
                self._maybe_finish(s, out, now, task)
        self._run(work)

    def retry_record(self, record_id: int) -> None:
        def work(s: Session, out: _Out, now: int) -> None:
            rec, task = self._record(s, record_id)
            if rec.status in (RS.UPGRADING, RS.SUCCEEDED):
                raise RuleError(409, ErrorCode.RETRY_NOT_ALLOWED,
                                f"id: record {record_id} is {'upgrading' if rec.status == RS.UPGRADING else 'already upgraded'} "
                                f"({rec.status}); retry is not allowed")
            if task.status == TS.CANCELLED:
                raise RuleError(409, ErrorCode.RETRY_NOT_ALLOWED, f"id: task {task.task_uid} was cancelled")
            if task.status == TS.NOT_STARTED:
                raise RuleError(409, ErrorCode.RETRY_NOT_ALLOWED,
                                f"id: task {task.task_uid} has not started yet (scheduled); it pushes at its time")
            other = s.scalar(select(DeviceRecord).where(
                DeviceRecord.product_id == rec.product_id, DeviceRecord.device_name == rec.device_name,
                HOLDS_DEVICE, DeviceRecord.task_id != rec.task_id).limit(1))
            if other is not None:
                raise RuleError(409, ErrorCode.RETRY_NOT_ALLOWED,
                                f"id: another task ({other.task_uid}) is upgrading device {rec.device_name!r}")
            if task.status == TS.DONE:
                self._set_task(out, task, now, TS.UPGRADING)
            rec.retry_count += 1
            self._push(s, out, now, task, rec)
        self._run(work)

    # ---- device messages ----------------------------------------------------------------
    def handle_messages(self, msgs: Iterable[wire.Report | wire.Progress]) -> None:
        """Apply a batch of device messages in one transaction.

        If anything in the batch fails, the batch is applied again message by message, each in
        a savepoint, so one bad message changes nothing and the others still count.
        """
        msgs = list(msgs)
        try:
            self._run(lambda s, out, now: self._apply(s, out, now, msgs, isolate=False))
        except Exception:  # noqa: BLE001
            log.warning("a batch of %d device messages failed; applying them one by one", len(msgs))
            self._run(lambda s, out, now: self._apply(s, out, now, msgs, isolate=True))

    def _apply(self, s: Session, out: _Out, now: int, msgs: list, isolate: bool) -> None:
        batch = _Batch.load(s, msgs)
        with s.no_autoflush:
            for m in msgs:
                handler = (self._on_report if isinstance(m, wire.Report) else
                           self._on_presence if isinstance(m, Presence) else self._on_progress)
                if not isolate:
                    handler(s, out, now, m, batch)
                    continue
                sent, shown = len(out.messages), len(out.events)
                try:
                    with s.begin_nested():
                        handler(s, out, now, m, batch)
                except Exception:  # noqa: BLE001 - one bad message must not stop the others
                    del out.messages[sent:], out.events[shown:]  # its changes were rolled back
                    log.exception("device message from %s/%s not applied", m.product_id, m.device_name)
        s.flush()
        for task in batch.finish:
            self._maybe_finish(s, out, now, task)

    def _on_report(self, s: Session, out: _Out, now: int, m: wire.Report, batch: "_Batch") -> None:
        dev = batch.device(s, m.product_id, m.device_name)
        if dev is None:
            log.warning("version report from unknown device %s/%s ignored", m.product_id, m.device_name)
            return
        changed = dev.version != m.version or not dev.online
        dev.version, dev.online, dev.last_seen = m.version, True, now
        if changed:
            out.events.append(device_event(dev))
        recs = batch.active_records(dev)
        # a late answer about a record that failed (timed out, say): reaching the target still counts
        for late in batch.failed_records(dev, m.version):
            task = s.get(Task, late.task_id)
            if late not in recs and task is not None and task.status != TS.CANCELLED:
                recs.append(late)
        tasks: dict[int, Task] = {}
        for rec in recs:
            task = tasks.get(rec.task_id) or s.get(Task, rec.task_id)
            tasks[rec.task_id] = task
            events_before, old_version = len(out.events), rec.version
            rec.version = m.version  # a record shows the device's current version
            if m.version == rec.target_version:
                if rec.status == RS.FAILED and task.status == TS.DONE:
                    self._set_task(out, task, now, TS.UPGRADING)  # re-evaluated below
                self._set(out, rec, now, RS.SUCCEEDED, step=100, desc="upgrade succeeded", due=0)
            elif is_newer(m.version, rec.target_version):
                self._set(out, rec, now, RS.FAILED, desc=NEWER_DESC, due=0)
            elif rec.status == RS.PUSHED and not self._reconnected_since(rec):
                pass  # a report sent before the push (or a duplicate): the push is on its way
            elif rec.status in (RS.QUEUED, RS.QUEUED_OFFLINE, RS.QUEUED_RETRY, RS.PUSHED):
                if waits_for_health(rec) and not self._healthy():
                    if rec.status == RS.QUEUED_OFFLINE:
                        self._set(out, rec, now, RS.QUEUED_RETRY)  # online again; the timer pushes it
                elif task.status != TS.UPGRADING:
                    if rec.status == RS.QUEUED_OFFLINE:
                        self._set(out, rec, now, RS.QUEUED)
                elif self._budget(task, now) > 0:
                    self._push(s, out, now, task, rec, client_token=m.client_token or None)
                elif rec.status == RS.QUEUED_OFFLINE:
                    self._set(out, rec, now, RS.QUEUED)  # online now: the timer pushes it within budget
            if len(out.events) == events_before and rec.version != old_version:
                out.events.append(record_event(rec))
            batch.finish.add(task)
        if not recs:
            rec = self._join_dynamic(s, out, now, dev, m.client_token)
            if rec is not None:
                batch.active.setdefault((dev.product_id, dev.device_name), []).append(rec)

    def _join_dynamic(self, s: Session, out: _Out, now: int, dev: Device, client_token: str) -> DeviceRecord | None:
        tasks = list(s.scalars(select(Task).where(Task.product_id == dev.product_id, Task.status == TS.UPGRADING,
                                                  Task.upgrade_type == UpgradeType.DYNAMIC).order_by(Task.id)))
        for task in tasks:
            if dev.version == task.version or dev.version not in json.loads(task.src_version or "[]"):
                continue
            if not in_gray(task, dev.device_name):
                continue
            if s.scalar(select(DeviceRecord.id).where(DeviceRecord.product_id == dev.product_id,
                                                      DeviceRecord.device_name == dev.device_name,
                                                      DeviceRecord.task_id == task.id).limit(1)):
                continue
            others = list(s.scalars(select(DeviceRecord).where(
                DeviceRecord.product_id == dev.product_id, DeviceRecord.device_name == dev.device_name, HOLDS_DEVICE)))
            rec = self._new_record(s, out, now, task, dev, others)
            s.flush()
            if rec.status == RS.QUEUED and self._budget(task, now) > 0:
                self._push(s, out, now, task, rec, client_token=client_token or None)
            else:
                out.events.append(record_event(rec))
            return rec
        return None

    def _reconnected_since(self, rec: DeviceRecord) -> bool:
        """Has the device connected again after `rec` was pushed? Unknown (external broker): yes."""
        at = self._connected_at.get((rec.product_id, rec.device_name))
        return at is None or at > rec.pushed_time

    def _on_presence(self, s: Session, out: _Out, now: int, m: Presence, batch: "_Batch") -> None:
        if m.online:
            self._connected_at[(m.product_id, m.device_name)] = now
        dev = batch.device(s, m.product_id, m.device_name)
        if dev is None or dev.online == m.online:
            return
        dev.online = m.online
        if m.online:
            dev.last_seen = now
        out.events.append(device_event(dev))
        if not m.online:  # queued records wait for the device (202) instead of being pushed into the void
            for rec in batch.active_records(dev):
                if rec.status in PUSHABLE:
                    self._set(out, rec, now, RS.QUEUED_OFFLINE)

    def mark_all_offline(self) -> None:
        """At start with a fresh broker nobody is connected: devices come online as they connect."""
        with self.lock, self.db.session() as s:
            s.execute(update(Device).values(online=False))
            s.execute(update(DeviceRecord).where(DeviceRecord.status.in_(PUSHABLE))
                      .values(status=RS.QUEUED_OFFLINE))

    def delete_device(self, product_id: str, device_name: str) -> None:
        """The device's unfinished records are cancelled (701), then the device goes."""
        def work(s: Session, out: _Out, now: int) -> None:
            dev = s.scalar(select(Device).where(Device.product_id == product_id, Device.device_name == device_name))
            if dev is None:
                raise RuleError(404, ErrorCode.NOT_FOUND, f"device {device_name!r} of product {product_id!r} not found")
            tasks = set()
            for rec in s.scalars(select(DeviceRecord).where(DeviceRecord.product_id == product_id,
                                                            DeviceRecord.device_name == device_name, HOLDS_DEVICE)):
                self._set(out, rec, now, RS.CANCELLED, desc="device deleted", due=0)
                tasks.add(rec.task_id)
            s.delete(dev)
            s.flush()
            for task_id in tasks:
                task = s.get(Task, task_id)
                if task is not None:
                    self._maybe_finish(s, out, now, task)
        self._run(work)

    def transaction(self, fn: Callable[[Session], object]) -> object:
        """Run fn(session) under the engine's lock in a transaction of its own (catalog changes
        that must not interleave with record updates, e.g. deleting a firmware)."""
        return self._run(lambda s, out, now: fn(s))

    def _on_progress(self, s: Session, out: _Out, now: int, m: wire.Progress, batch: "_Batch") -> None:
        reply_topic = wire.topic_down_progress(m.product_id, m.device_name)

        def reply(code: int = 200, status: str = "成功") -> None:
            out.messages.append((reply_topic, wire.progress_reply(m.client_token, code=code, status=status,
                                                                  timestamp=now)))
        dev = batch.device(s, m.product_id, m.device_name)
        if dev is None:
            log.warning("progress from unknown device %s/%s ignored", m.product_id, m.device_name)
            return
        dev.last_seen = now
        if not dev.online:
            dev.online = True
            out.events.append(device_event(dev))
        rec = s.get(DeviceRecord, m.record_id)
        if rec is None or rec.product_id != m.product_id or rec.device_name != m.device_name:
            log.warning("progress from %s/%s names record %s, which is not its own", m.product_id,
                        m.device_name, m.record_id)
            return reply(ErrorCode.NOT_FOUND, f"record {m.record_id} is not this device's")
        if m.step == 0:
            return reply(ErrorCode.PARAMETER, "step must not be 0")
        if rec.status >= RS.SUCCEEDED:
            return reply(ErrorCode.ALREADY_FINISHED, f"record {rec.id} already finished ({rec.status})")
        if m.step < 0 and self._stale_failure(rec, m):
            log.info("record %s (%s/%s): failure report about an earlier push ignored (%s)", rec.id,
                     rec.product_id, rec.device_name, m.desc[:80])
            return reply()
        task = s.get(Task, rec.task_id)
        assert task is not None
        if m.step > 0:
            self._set(out, rec, now, RS.UPGRADING, step=m.step, desc=m.desc or "upgrading",
                      due=now + task.timeout_minutes * self.minute_ms)
        elif not self._requeue_after_outage(out, rec, task, now, m.step):
            self._fail(out, rec, task, now, m.step, m.desc or STEP_DESC.get(Step(m.step), "upgrade failed"))
            batch.finish.add(task)
        reply()

    @staticmethod
    def _stale_failure(rec: DeviceRecord, m: wire.Progress) -> bool:
        """A failure that cannot be about the push the record is waiting on.

        A device that failed during our outage may send more failure reports for that same push
        (one per file, say), queued in its client while the broker was down: they arrive after
        the record went back to the queue, or even after it was pushed again. They must not fail
        the new attempt. Queued records (201/202/203) have no push in flight, so any failure
        report is about an earlier one; after an outage re-push, a report stamped before the
        new push is too (devices that send no timestamp are judged by the status alone).
        """
        if rec.status in QUEUED:
            return True
        return bool(rec.outage_retries and m.timestamp and rec.pushed_time and m.timestamp < rec.pushed_time)

    # ---- timers -------------------------------------------------------------------------
    def tick(self) -> None:
        self._run(self._tick)

    def _tick(self, s: Session, out: _Out, now: int) -> None:
        for task in list(s.scalars(select(Task).where(Task.status == TS.NOT_STARTED, Task.schedule_time <= now))):
            self._set_task(out, task, now, TS.UPGRADING)
        tasks: dict[int, Task] = {}

        def task_of(rec: DeviceRecord) -> Task:
            if rec.task_id not in tasks:
                tasks[rec.task_id] = s.get(Task, rec.task_id)  # type: ignore[assignment]
            return tasks[rec.task_id]

        for rec in list(s.scalars(select(DeviceRecord).where(DeviceRecord.status.in_((RS.PUSHED, RS.UPGRADING)),
                                                        DeviceRecord.due_time > 0, DeviceRecord.due_time <= now))):
            self._fail(out, rec, task_of(rec), now, rec.step if rec.step < 0 else Step.FAILED, "timeout")
        for rec in list(s.scalars(select(DeviceRecord).where(DeviceRecord.status == RS.FAILED,
                                                        DeviceRecord.due_time > 0, DeviceRecord.due_time <= now))):
            rec.auto_retries += 1
            rec.retry_count += 1
            online = s.scalar(select(Device.online).where(Device.product_id == rec.product_id,
                                                          Device.device_name == rec.device_name))
            self._set(out, rec, now, RS.QUEUED_RETRY if online else RS.QUEUED_OFFLINE,
                      desc="waiting for automatic retry", due=0)
        s.flush()
        running = list(s.scalars(select(Task).where(Task.status == TS.UPGRADING)))
        for task in running:
            self._push_queued(s, out, now, task)
            self._maybe_finish(s, out, now, task)

    # ---- reading ------------------------------------------------------------------------
    @staticmethod
    def analysis(s: Session, task_uid: str) -> dict:
        rows = s.execute(select(DeviceRecord.status, func.count()).where(DeviceRecord.task_uid == task_uid)
                         .group_by(DeviceRecord.status)).all()
        counts = {str(int(c)): 0 for c in RS}
        for status, n in rows:
            counts[str(status)] = n
        total = sum(counts.values())
        succeeded = counts[str(int(RS.SUCCEEDED))]
        failed = counts[str(int(RS.FAILED))]
        return {"total": total, "statusCount": counts, "succeeded": succeeded, "failed": failed,
                "successRate": round(succeeded / total, 4) if total else 0.0}


@dataclass
class _Batch:
    """What a batch of device messages touches, loaded with a few queries instead of one per message."""
    devices: dict[tuple[str, str], Device]
    active: dict[tuple[str, str], list[DeviceRecord]]  # unfinished records, and failed ones (601)
    finish: set[Task] = field(default_factory=set)

    @classmethod
    def load(cls, s: Session, msgs: list) -> "_Batch":
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
        ids = list({m.record_id for m in msgs if getattr(m, "record_id", None) is not None})
        for i in range(0, len(ids), 900):  # into the identity map: session.get() then costs no query
            list(s.scalars(select(DeviceRecord).where(DeviceRecord.id.in_(ids[i:i + 900]))))
        task_ids = {r.task_id for rs in active.values() for r in rs if r.status in ACTIVE}
        if task_ids:
            list(s.scalars(select(Task).where(Task.id.in_(task_ids))))
        return cls(devices, active)

    def device(self, s: Session, product_id: str, device_name: str) -> Device | None:
        return self.devices.get((product_id, device_name))

    def active_records(self, dev: Device) -> list[DeviceRecord]:
        return [r for r in self.active.get((dev.product_id, dev.device_name), []) if r.status in ACTIVE]

    def failed_records(self, dev: Device, target_version: str) -> list[DeviceRecord]:
        """Failed records of the device for `target_version` (a late success still counts)."""
        return [r for r in self.active.get((dev.product_id, dev.device_name), [])
                if r.status == RS.FAILED and r.target_version == target_version]
