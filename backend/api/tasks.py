"""/api/v1/things/ota/task/*"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, Response
from pydantic import Field, create_model
from sqlalchemy import ColumnElement, func, select

from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import TaskStatus
from ota_protocol.rollout import Rollout, RolloutError
from ota_protocol.rollout import parse as parse_rollout
from ota_protocol.task_options import OPTIONS, Option, TaskSpec

from ..db.models import DeviceRecord, Firmware, Product, Task, TaskDraft
from ..ota.engine import OtaEngine
from ..ota.rollouts import rollout_of, wave_counts
from ..ota.views import record_view
from ..ota.work import Work
from .common import Paged, Req, RuntimeDep, SessionDep, bad_request, contains, json_list, listing, not_found, ok
from .devices import paged
from .validators import Filter, Id, Ident, one_of

router = APIRouter(prefix="/api/v1/things/ota/task")


def _option_field(o: Option) -> tuple[Any, Any]:
    """A task option (ota_protocol.task_options) as a request field with its bounds."""
    if o.name == "firmware_id":
        return Id, Field(alias=o.wire, description=o.doc)
    if isinstance(o.default, list):  # a JSON array, or a string holding one (checked by json_list)
        return Any, Field(default="", alias=o.wire, description=o.doc)
    if o.choices:
        return Annotated[int, one_of(*o.choices)], Field(default=int(o.default), alias=o.wire, description=o.doc)
    if isinstance(o.default, bool):
        return bool, Field(default=o.default, alias=o.wire, description=o.doc)
    return int, Field(default=o.default, ge=o.low, le=o.high, alias=o.wire, description=o.doc)


_TASK_CREATE_FIELDS: dict[str, Any] = {
    **{name: _option_field(o) for name, o in OPTIONS.items()},
    "client_token": (str | None, Field(default=None, alias="clientToken")),
    "rollout": (Any, Field(default=None, description="waves, abort rules, maintenance window (docs/protocol.md)")),
}

if TYPE_CHECKING:
    class TaskCreate(Req):
        """What the type checker knows of the model built below (its option fields come from OPTIONS)."""

        client_token: str | None
        rollout: Any
else:
    #: task/create's body: every task option, and the idempotency key (or the Idempotency-Key header)
    TaskCreate = create_model("TaskCreate", __base__=Req, **_TASK_CREATE_FIELDS)


#: an idempotency key: 1-64 printable ASCII characters (space included), like an MQTT clientToken
_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,64}")


def idempotency_key(body_token: str | None, header_token: str | None) -> str | None:
    """The task/create idempotency key from the body's clientToken or the Idempotency-Key
    header (empty or absent: none); both given must agree."""
    for field, value in (("clientToken", body_token), ("Idempotency-Key", header_token)):
        if value and not _IDEMPOTENCY_KEY.fullmatch(value):
            raise bad_request(field, "must be 1-64 printable ASCII characters (0x20-0x7E)")
    if body_token and header_token and body_token != header_token:
        raise bad_request("clientToken", "differs from the Idempotency-Key header")
    return body_token or header_token or None


class TaskRef(Req):
    task_id: Id = Field(alias="taskID")


class TaskIndex(Paged):
    firmware_id: Id | None = Field(default=None, alias="firmwareID")
    task_uid: Filter | None = Field(default=None, alias="taskUid")
    status: Annotated[int, one_of(*TaskStatus)] | None = None


class UidRef(Req):
    task_uid: Ident = Field(alias="taskUid")


class DeviceIndex(Paged):
    task_uid: Ident = Field(alias="taskUid")
    device_name: Filter | None = Field(default=None, alias="deviceName")
    status: Annotated[int, one_of(*RS)] | None = None


class RecordRef(Req):
    id: Id


def get_task(session, task_id: int) -> Task:  # noqa: ANN001
    task = session.get(Task, task_id)
    if task is None:
        raise not_found(f"task {task_id}")
    return task


def task_summary(t: Task) -> dict:
    rollout = rollout_of(t)
    return {"taskID": t.id, "taskUid": t.task_uid, "firmwareID": t.firmware_id, "type": t.type,
            "upgradeType": t.upgrade_type, "status": t.status, "version": t.version, "createdTime": t.created_time,
            "rollout": rollout.to_wire() if not rollout.empty else None, "paused": bool(t.paused),
            "currentWave": t.current_wave + 1, "waveCount": max(len(rollout.waves), 1),
            "statusReason": t.status_reason}


def spec_of_request(req: TaskCreate) -> tuple[TaskSpec, Rollout]:
    values: dict[str, Any] = {name: json_list(o.wire, getattr(req, name)) if isinstance(o.default, list)
                              else getattr(req, name) for name, o in OPTIONS.items()}
    try:
        rollout = parse_rollout(req.rollout)
    except RolloutError as exc:
        raise bad_request(exc.field, exc.message) from None
    return TaskSpec(**values), rollout


@router.post("/create")
def create(req: TaskCreate, rt: RuntimeDep, response: Response,
           header_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None) -> dict:
    key = idempotency_key(req.client_token, header_key)
    spec, rollout = spec_of_request(req)
    if key is None:
        task = rt.engine.create_task(spec, rollout)
    else:
        task, created = rt.engine.create_task_once(spec, key, rollout)
        if not created:  # the answer of the first request with this key, again
            response.headers["Idempotent-Replayed"] = "true"
    return ok({"taskID": task.id, "taskUid": task.task_uid})


@router.post("/preview")
def preview(req: TaskCreate, rt: RuntimeDep) -> dict:
    """What task/create with this body would plan now (nothing is created)."""
    spec, rollout = spec_of_request(req)
    return ok(rt.engine.preview_task(spec, rollout))


class TaskUpdate(Req):
    task_id: Id = Field(alias="taskID")
    max_per_minute: int | None = Field(default=None, ge=OPTIONS["max_per_minute"].low,
                                       le=OPTIONS["max_per_minute"].high, alias="maxPerMinute")
    gray_percent: int | None = Field(default=None, ge=OPTIONS["gray_percent"].low, le=OPTIONS["gray_percent"].high,
                                     alias="grayPercent")


@router.post("/update")
def update_running(req: TaskUpdate, rt: RuntimeDep) -> dict:
    """Change a running task's pace (maxPerMinute) and gray share (grayPercent)."""
    if req.max_per_minute is None and req.gray_percent is None:
        raise bad_request("maxPerMinute", "give maxPerMinute and/or grayPercent")
    task = rt.engine.update_task(req.task_id, req.max_per_minute, req.gray_percent)
    return ok(task_summary(task))


@router.post("/pause")
def pause(req: TaskRef, rt: RuntimeDep) -> dict:
    """Stop pushing (devices already pushed carry on); resume continues."""
    return ok(task_summary(rt.engine.pause_task(req.task_id, True)))


@router.post("/resume")
def resume(req: TaskRef, rt: RuntimeDep) -> dict:
    return ok(task_summary(rt.engine.pause_task(req.task_id, False)))


@router.post("/advance")
def advance(req: TaskRef, rt: RuntimeDep) -> dict:
    """Release the task's next wave now."""
    return ok(task_summary(rt.engine.advance_task(req.task_id)))


@router.post("/waves")
def waves(req: TaskRef, session: SessionDep) -> dict:
    """Per wave: how many devices, and how many succeeded, failed, timed out, were cancelled, are active."""
    t = get_task(session, req.task_id)
    rollout = rollout_of(t)
    counts = wave_counts(Work(session, 0), t)
    empty = {"total": 0, "succeeded": 0, "failed": 0, "timedOut": 0, "cancelled": 0, "active": 0}
    out = [{"wave": i + 1, "released": i <= t.current_wave, **counts.get(i, empty),
            **({"size": rollout.waves[i].to_wire()} if rollout.waves else {})}
           for i in range(max(len(rollout.waves), 1))]
    return ok({"list": out, "currentWave": t.current_wave + 1, "paused": bool(t.paused),
               "abort": [r.to_wire() for r in rollout.abort], "statusReason": t.status_reason,
               "waveDoneTime": t.wave_done_time})


@router.post("/index")
def index(req: TaskIndex, session: SessionDep) -> dict:
    q = select(Task)
    if req.firmware_id is not None:
        q = q.where(Task.firmware_id == req.firmware_id)
    if req.task_uid:
        q = q.where(Task.task_uid == req.task_uid)
    if req.status is not None:
        q = q.where(Task.status == req.status)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = list(session.scalars(q.order_by(Task.id.desc()).offset(req.page.offset).limit(req.page.size)))
    counts: dict[int, dict[str, int]] = {t.id: {} for t in rows}
    if rows:
        for task_id, status, n in session.execute(
                select(DeviceRecord.task_id, DeviceRecord.status, func.count())
                .where(DeviceRecord.task_id.in_(counts)).group_by(DeviceRecord.task_id, DeviceRecord.status)):
            counts[task_id][str(status)] = n
    return listing([dict(task_summary(t), statusCount=counts[t.id]) for t in rows], total or 0)


@router.post("/read")
def read(req: TaskRef, session: SessionDep) -> dict:
    t = get_task(session, req.task_id)
    fw = session.get(Firmware, t.firmware_id)
    product = session.get(Product, t.product_id)
    data = task_summary(t)
    data.update(srcVersion=",".join(json.loads(t.src_version or "[]")),
                srcDevice=",".join(json.loads(t.src_device or "[]")),
                productID=t.product_id, productName=product.product_name if product else "",
                firmwareName=fw.name if fw else "", retryCount=t.retry_count,
                retryIntervalMinutes=t.retry_interval_minutes, timeoutMinutes=t.timeout_minutes,
                maxPerMinute=t.max_per_minute, grayPercent=t.gray_percent, scheduleTime=t.schedule_time,
                overwrite=t.overwrite)
    return ok(data)


@router.post("/cancel")
def cancel(req: TaskRef, rt: RuntimeDep) -> dict:
    rt.engine.cancel_task(req.task_id)
    return ok()


@router.post("/device-index")
def device_index(req: DeviceIndex, session: SessionDep) -> dict:
    task_id = session.scalar(select(Task.id).where(Task.task_uid == req.task_uid))
    if task_id is None:
        raise not_found(f"task {req.task_uid!r}")
    # a task's records by uid (index ix_record_task_uid), by status on (task_id, status): both
    # in id order within the index, so counting and paging read the index only
    where: list[ColumnElement[bool]] = [DeviceRecord.task_uid == req.task_uid] if req.status is None \
        else [DeviceRecord.task_id == task_id, DeviceRecord.status == req.status]
    if req.device_name:
        where.append(contains(DeviceRecord.device_name, req.device_name))
    rows, total = paged(session, DeviceRecord, where, req.page)
    return listing([record_view(r) for r in rows], total)


@router.post("/analysis")
def analysis(req: UidRef, session: SessionDep) -> dict:
    if session.scalar(select(Task.id).where(Task.task_uid == req.task_uid)) is None:
        raise not_found(f"task {req.task_uid!r}")
    counts = OtaEngine.status_counts(session, req.task_uid)
    total, succeeded, failed = sum(counts.values()), counts[RS.SUCCEEDED], counts[RS.FAILED]
    result = {"total": total, "statusCount": {str(int(status)): n for status, n in counts.items()},
              "succeeded": succeeded, "failed": failed,
              "successRate": round(succeeded / total, 4) if total else 0.0}
    return ok({"result": json.dumps(result, separators=(",", ":"))})


@router.post("/device-cancel")
def device_cancel(req: RecordRef, rt: RuntimeDep) -> dict:
    rt.engine.cancel_record(req.id)
    return ok()


@router.post("/device-retry")
def device_retry(req: RecordRef, rt: RuntimeDep) -> dict:
    rt.engine.retry_record(req.id)
    return ok()


# ---- drafts: a release capsule's task template, started by a technician ------------------------

class DraftRef(Req):
    draft_id: Id = Field(alias="draftID")


def get_draft(session, draft_id: int) -> TaskDraft:  # noqa: ANN001
    draft = session.get(TaskDraft, draft_id)
    if draft is None:
        raise not_found(f"draft {draft_id}")
    return draft


@router.post("/draft/index")
def draft_index(req: Paged, session: SessionDep) -> dict:
    """Task drafts that imported capsules brought, newest first."""
    total = session.scalar(select(func.count()).select_from(TaskDraft)) or 0
    rows = session.execute(select(TaskDraft, Firmware).join(Firmware, Firmware.id == TaskDraft.firmware_id)
                           .order_by(TaskDraft.id.desc()).offset(req.page.offset).limit(req.page.size))
    return listing([{"draftID": d.id, "firmwareID": d.firmware_id, "productID": fw.product_id, "version": fw.version,
                     "capsuleID": d.capsule_id, "publisherName": d.publisher_name, "task": json.loads(d.body),
                     "createdTime": d.created_time} for d, fw in rows], total)


@router.post("/draft/start")
def draft_start(req: DraftRef, rt: RuntimeDep) -> dict:
    """Create the draft's task now (the same rules as task/create); the draft is gone once it has started."""
    with rt.db.session() as s:
        draft = get_draft(s, req.draft_id)
        body = {**json.loads(draft.body), "firmwareID": draft.firmware_id}
        token = f"capsule-{draft.capsule_id}"
    spec, rollout = spec_of_request(TaskCreate.model_validate(body))
    # the capsule's id makes starting idempotent: a retried start answers the task the first one made
    task, _created = rt.engine.create_task_once(spec, token, rollout)
    with rt.db.session() as s:
        started = s.get(TaskDraft, req.draft_id)
        if started is not None:
            s.delete(started)
    return ok({"taskID": task.id, "taskUid": task.task_uid})


@router.post("/draft/delete")
def draft_delete(req: DraftRef, session: SessionDep) -> dict:
    session.delete(get_draft(session, req.draft_id))
    return ok()
