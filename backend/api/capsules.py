"""/api/v1/things/ota/capsule/*: the workstation key, trusted publishers, release capsules and
evidence packs (docs/capsule.md). Capsule and evidence files go out and come in streamed."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import anyio
import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import Field, ValidationError

from ota_protocol.task_options import OPTIONS

from ..capsule.service import MAX_EXPIRY_DAYS, Download
from ..ota.errors import Invalid
from .common import ApiError, Paged, Req, RuntimeDep, SessionDep, listing, ok
from .validators import Id, Ident

router = APIRouter(prefix="/api/v1/things/ota/capsule")
PREFIX = router.prefix
#: routes whose body is a file, streamed to the route (the request gate does not buffer them)
RAW_BODY_PATHS = frozenset({f"{PREFIX}/verify", f"{PREFIX}/import", f"{PREFIX}/evidence/import"})


#: what a task template may set: task/create's options and rollout, not the firmware
TEMPLATE_FIELDS = frozenset({o.wire for o in OPTIONS.values()} - {"firmwareID"} | {"rollout"})


def check_task(template: dict[str, Any]) -> None:
    """A capsule's task template obeys task/create's rules (its firmwareID is the imported one)."""
    from .tasks import TaskCreate, spec_of_request
    if not isinstance(template, dict):
        raise Invalid("task: must be an object of task/create fields")
    if "firmwareID" in template:
        raise Invalid("task.firmwareID: a template has no firmwareID (the capsule's firmware is used)")
    unknown = sorted(set(template) - TEMPLATE_FIELDS)
    if unknown:
        raise Invalid(f"task.{unknown[0]}: not a task/create field (allowed: {', '.join(sorted(TEMPLATE_FIELDS))})")
    try:
        req = TaskCreate.model_validate({**template, "firmwareID": 1})
        spec_of_request(req)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise Invalid(f"task.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
    except ApiError as exc:
        raise Invalid(f"task.{exc.msg}") from None


class TrustAdd(Req):
    public_key: str = Field(alias="publicKey", min_length=1, max_length=4096)
    name: str = Field(min_length=1, max_length=128)


class TrustRef(Req):
    fingerprint: str = Field(pattern=r"^SHA256:[0-9a-f]{64}$")


class ExportReq(Req):
    firmware_id: Id = Field(alias="firmwareID")
    task: dict[str, Any] | None = None
    expires_in_days: int = Field(default=30, ge=1, le=MAX_EXPIRY_DAYS, alias="expiresInDays")


class EvidenceReq(Req):
    task_id: Id = Field(alias="taskID")


class EvidenceIndex(Req):
    product_id: Ident | None = Field(default=None, alias="productID")


class EvidenceDevices(Paged):
    evidence_id: Id = Field(alias="evidenceID")


def _file(download: Download, header: str) -> StreamingResponse:
    quoted = quote(download.filename)
    return StreamingResponse(download.chunks, media_type="application/octet-stream", headers={
        "Content-Length": str(download.length), header: download.ident,
        "Content-Disposition": f"attachment; filename=\"{download.filename}\"; filename*=UTF-8''{quoted}"})


async def _from_body(request: Request, work: Any) -> Any:
    """Run ``work(read)`` in a worker thread, ``read(n)`` pulling the request body as it arrives
    (never the whole body in memory)."""
    stream = request.stream().__aiter__()
    done = False

    async def next_chunk() -> bytes:
        return await stream.__anext__()

    def read(_n: int) -> bytes:
        nonlocal done
        while not done:
            try:
                chunk = anyio.from_thread.run(next_chunk)
            except StopAsyncIteration:
                done = True
                break
            if chunk:
                return chunk
        return b""
    return await anyio.to_thread.run_sync(work, read)


@router.post("/key")
def key(rt: RuntimeDep) -> dict:
    """This installation's public key and fingerprint (what a station adds to its trusted publishers)."""
    return ok(rt.capsules.key())


@router.post("/trust")
def trust(req: TrustAdd, session: SessionDep, rt: RuntimeDep) -> dict:
    return ok({"fingerprint": rt.capsules.trust(session, req.public_key, req.name)})


@router.post("/trust/index")
def trust_index(session: SessionDep, rt: RuntimeDep) -> dict:
    rows = rt.capsules.trusted(session)
    return listing(rows, len(rows))


@router.post("/trust/delete")
def trust_delete(req: TrustRef, session: SessionDep, rt: RuntimeDep) -> dict:
    rt.capsules.distrust(session, req.fingerprint)
    return ok()


@router.post("/export", response_class=StreamingResponse,
             responses={200: {"content": {"application/octet-stream": {}}, "description": "the capsule file"}})
def export(req: ExportReq, rt: RuntimeDep) -> StreamingResponse:
    """The release capsule of a firmware (and a task template), signed by this installation."""
    return _file(rt.capsules.export(req.firmware_id, req.task, req.expires_in_days), "X-Capsule-ID")


@router.post("/verify")
async def verify(request: Request, rt: RuntimeDep) -> dict:
    """Everything import checks, on the capsule in the body; nothing is created."""
    return ok(await _from_body(request, lambda read: rt.capsules.receive(read, commit=False)))


@router.post("/import")
async def import_(request: Request, rt: RuntimeDep) -> dict:
    """Verify the capsule in the body, then create its product (if missing), firmware and task draft."""
    return ok(await _from_body(request, lambda read: rt.capsules.receive(read, commit=True)))


@router.post("/evidence", response_class=StreamingResponse,
             responses={200: {"content": {"application/octet-stream": {}}, "description": "the evidence pack"}})
def evidence(req: EvidenceReq, rt: RuntimeDep) -> StreamingResponse:
    """A task's per-device results, signed by this installation (a station), for the origin."""
    return _file(rt.capsules.evidence(req.task_id), "X-Evidence-ID")


@router.post("/evidence/import")
async def evidence_import(request: Request, rt: RuntimeDep) -> dict:
    return ok(await _from_body(request, rt.capsules.receive_evidence))


@router.post("/evidence/index")
def evidence_index(req: EvidenceIndex, session: SessionDep, rt: RuntimeDep) -> dict:
    """Per release: which stations run it, with their devices' counts."""
    rows = rt.capsules.evidence_index(session, req.product_id)
    return listing(rows, len(rows))


@router.post("/evidence/devices")
def evidence_devices(req: EvidenceDevices, session: SessionDep, rt: RuntimeDep) -> dict:
    rows, total = rt.capsules.evidence_devices(session, req.evidence_id, req.page.offset, req.page.size)
    return listing(rows, total)
