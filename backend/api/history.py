"""What happened: a device's OTA history across tasks, a task's results (CSV, one-page HTML
summary), and the audit log of state-changing API calls (index and CSV)."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse
from pydantic import Field
from sqlalchemy import ColumnElement, func, select

from ota_protocol.codes import TEXT, Step
from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import TaskStatus as TS

from ..db.models import AuditEntry, DeviceRecord, Firmware, Product, RecordHistory, Task
from ..ota.rollouts import rollout_of, wave_counts
from ..ota.work import Work
from .common import Paged, Req, SessionDep, contains, listing, not_found
from .validators import Filter, Id, Ident

router = APIRouter()

MAX_EXPORT_ROWS = 1_000_000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if ms else ""


def _text(enum: type, code: int) -> str:
    try:
        return TEXT[enum(code)]
    except (ValueError, KeyError):
        return str(code)


# ---- a device's history across tasks ---------------------------------------------------------

class DeviceHistory(Paged):
    product_id: Ident = Field(alias="productID")
    device_name: Ident = Field(alias="deviceName")


def history_view(h: RecordHistory, version: str) -> dict:
    return {"recordID": h.record_id, "taskUid": h.task_uid, "targetVersion": version, "time": h.time,
            "status": h.status, "step": h.step, "desc": h.desc, "retryCount": h.retry_count, "actor": h.actor}


@router.post("/api/v1/things/ota/device/history")
def device_history(req: DeviceHistory, session: SessionDep) -> dict:
    """Every status change of the device's records in every task, newest first."""
    where: list[ColumnElement[bool]] = [RecordHistory.product_id == req.product_id,
                                        RecordHistory.device_name == req.device_name]
    total = session.scalar(select(func.count()).select_from(RecordHistory).where(*where)) or 0
    rows = session.execute(select(RecordHistory, Task.version).join(Task, Task.task_uid == RecordHistory.task_uid)
                           .where(*where).order_by(RecordHistory.id.desc())
                           .offset(req.page.offset).limit(req.page.size)).all()
    return listing([history_view(h, version) for h, version in rows], total)


class RecordHistoryRef(Req):
    id: Id


@router.post("/api/v1/things/ota/task/device-history")
def record_history(req: RecordHistoryRef, session: SessionDep) -> dict:
    """One record's status changes, oldest first (at most 1,000)."""
    rec = session.get(DeviceRecord, req.id)
    if rec is None:
        raise not_found(f"device record {req.id}")
    rows = list(session.scalars(select(RecordHistory).where(RecordHistory.record_id == req.id)
                                .order_by(RecordHistory.id).limit(1000)))
    return listing([history_view(h, rec.target_version) for h in rows], len(rows))


# ---- a task's results --------------------------------------------------------------------------

class TaskExport(Req):
    task_id: Id = Field(alias="taskID")
    format: Literal["csv", "html"] = "csv"


EXPORT_COLUMNS = ["deviceName", "wave", "status", "statusText", "failedStep", "reason", "retries",
                  "versionBefore", "versionNow", "targetVersion", "planned", "pushed", "lastChange"]


def _result_rows(session, task: Task) -> list[list[object]]:  # noqa: ANN001
    """Plain rows, read before the answer streams (the session ends with the route)."""
    r_ = DeviceRecord
    q = (select(r_.device_name, r_.wave, r_.status, r_.step, r_.desc, r_.retry_count, r_.from_version, r_.version,
                r_.target_version, r_.created_time, r_.pushed_time, r_.updated_time)
         .where(r_.task_id == task.id).order_by(r_.id).limit(MAX_EXPORT_ROWS))
    return [[r.device_name, r.wave + 1, r.status, _text(RS, r.status),
             r.step if r.status == RS.FAILED and r.step < 0 else "",
             r.desc if r.status in (RS.FAILED, RS.CANCELLED) else "", r.retry_count, r.from_version, r.version,
             r.target_version, iso(r.created_time), iso(r.pushed_time), iso(r.updated_time)]
            for r in session.execute(q)]


def _csv(header: list[str], rows: list[list[object]]) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")  # spreadsheets then read UTF-8 (device names may be Chinese)
    writer.writerow(header)
    for i, row in enumerate(rows):
        writer.writerow([_cell(v) for v in row])
        if i % 1000 == 999:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def _cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula is quoted as text (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@router.post("/api/v1/things/ota/task/export")
def task_export(req: TaskExport, session: SessionDep) -> Response:
    """The task's per-device results as CSV (one row per device), or a one-page HTML summary."""
    task = session.get(Task, req.task_id)
    if task is None:
        raise not_found(f"task {req.task_id}")
    name = f"task-{task.id}-{task.version}"
    if req.format == "html":
        return Response(summary_html(session, task), media_type="text/html; charset=utf-8",
                        headers={"Content-Disposition": f'inline; filename="{name}.html"'})
    return StreamingResponse(_csv(EXPORT_COLUMNS, _result_rows(session, task)), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


_COLOURS = {RS.SUCCEEDED: "#15803d", RS.FAILED: "#dc2626", RS.CANCELLED: "#6b7280", RS.UPGRADING: "#0e7490",
            RS.PUSHED: "#2563eb", RS.QUEUED: "#a16207", RS.QUEUED_OFFLINE: "#a16207", RS.QUEUED_RETRY: "#a16207",
            RS.CONFIRM: "#a16207"}


def summary_html(session, task: Task) -> str:  # noqa: ANN001
    counts = dict.fromkeys(RS, 0)
    for status, n in session.execute(select(DeviceRecord.status, func.count()).where(DeviceRecord.task_id == task.id)
                                     .group_by(DeviceRecord.status)):
        counts[RS(status)] = n
    total = sum(counts.values())
    fw = session.get(Firmware, task.firmware_id)
    product = session.get(Product, task.product_id)
    failures = session.execute(select(DeviceRecord.step, DeviceRecord.desc, func.count())
                               .where(DeviceRecord.task_id == task.id, DeviceRecord.status == RS.FAILED)
                               .group_by(DeviceRecord.step, DeviceRecord.desc).order_by(func.count().desc())
                               .limit(10)).all()
    rollout = rollout_of(task)
    waves = wave_counts(Work(session, 0), task)
    e = html.escape
    width = 560
    bars, y = [], 0
    for status in RS:
        n = counts[status]
        if not n:
            continue
        w = max(2, round(width * n / total)) if total else 0
        bars.append(f'<text x="0" y="{y + 15}" font-size="13">{e(TEXT[status])}</text>'
                    f'<rect x="170" y="{y + 2}" width="{w}" height="18" fill="{_COLOURS[status]}"/>'
                    f'<text x="{176 + w}" y="{y + 15}" font-size="13">{n:,} ({n * 100 / total:.1f}%)</text>')
        y += 26
    chart = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 300}" height="{y + 4}">{"".join(bars)}</svg>'
    wave_rows = "".join(
        f"<tr><td>{i + 1}</td><td>{c['total']:,}</td><td>{c['succeeded']:,}</td><td>{c['failed']:,}</td>"
        f"<td>{c['timedOut']:,}</td><td>{c['cancelled']:,}</td><td>{c['active']:,}</td></tr>"
        for i, c in sorted(waves.items()))
    failure_rows = "".join(f"<tr><td>{_text(Step, step) if step < 0 else step}</td><td>{e(desc)}</td>"
                           f"<td>{n:,}</td></tr>" for step, desc, n in failures)
    rate = counts[RS.SUCCEEDED] * 100 / total if total else 0.0
    facts = [("Task", f"{task.id} ({task.task_uid})"),
             ("Product", f"{task.product_id} {product.product_name if product else ''}"),
             ("Firmware", f"{fw.name if fw else ''} {task.version}"),
             ("Status", _text(TS, task.status) + (" (paused)" if task.paused else "")),
             ("Created", iso(task.created_time)), ("Last change", iso(task.updated_time)),
             ("Devices", f"{total:,}"), ("Success rate", f"{rate:.1f}%")]
    if task.status_reason:
        facts.append(("Reason", task.status_reason))
    if not rollout.empty:
        facts.append(("Rollout", json.dumps(rollout.to_wire(), ensure_ascii=False)))
    fact_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Task {task.id}: {e(task.version)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:24px;max-width:900px}}table{{border-collapse:collapse;margin:8px 0 16px}}
th,td{{border:1px solid #ccc;padding:3px 8px;text-align:left}}th{{background:#f3f4f6}}h1{{font-size:20px}}
h2{{font-size:16px;margin-top:20px}}@media print{{body{{margin:0}}}}</style></head><body>
<h1>Upgrade results: {e(task.product_id)} → {e(task.version)}</h1>
<table>{fact_rows}</table>
<h2>Devices by status</h2>{chart}
<h2>Waves</h2><table><tr><th>Wave</th><th>Devices</th><th>Succeeded</th><th>Failed</th><th>Timed out</th>
<th>Cancelled</th><th>Active</th></tr>{wave_rows}</table>
<h2>Most frequent failures</h2><table><tr><th>Step</th><th>Reason</th><th>Devices</th></tr>{failure_rows or
'<tr><td colspan="3">none</td></tr>'}</table>
<p>Generated {iso(int(datetime.now(UTC).timestamp() * 1000))} by OTA Desktop.</p></body></html>
"""


# ---- the audit log -----------------------------------------------------------------------------

class AuditIndex(Paged):
    actor: Filter | None = None
    action: Filter | None = None
    since: int | None = Field(default=None, ge=0)
    until: int | None = Field(default=None, ge=0)


class AuditExport(Req):
    actor: Filter | None = None
    action: Filter | None = None
    since: int | None = Field(default=None, ge=0)
    until: int | None = Field(default=None, ge=0)


def _audit_where(req: AuditIndex | AuditExport) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if req.actor:
        where.append(AuditEntry.actor == req.actor)
    if req.action:
        where.append(contains(AuditEntry.action, req.action))
    if req.since is not None:
        where.append(AuditEntry.time >= req.since)
    if req.until is not None:
        where.append(AuditEntry.time < req.until)
    return where


def audit_view(a: AuditEntry) -> dict:
    return {"id": a.id, "time": a.time, "actor": a.actor, "client": a.client, "action": a.action,
            "target": a.target, "status": a.status}


@router.post("/api/v1/system/audit/index")
def audit_index(req: AuditIndex, session: SessionDep) -> dict:
    """State-changing API calls, newest first."""
    where = _audit_where(req)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    rows = session.scalars(select(AuditEntry).where(*where).order_by(AuditEntry.id.desc())
                           .offset(req.page.offset).limit(req.page.size))
    return listing([audit_view(a) for a in rows], total)


@router.post("/api/v1/system/audit/export")
def audit_export(req: AuditExport, session: SessionDep) -> Response:
    a_ = AuditEntry
    rows = session.execute(select(a_.time, a_.actor, a_.client, a_.action, a_.target, a_.status)
                           .where(*_audit_where(req)).order_by(a_.id).limit(MAX_EXPORT_ROWS))
    out = [[iso(a.time), a.actor, a.client, a.action, a.target, a.status] for a in rows]
    return StreamingResponse(_csv(["time", "actor", "client", "action", "target", "status"], out),
                             media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
