"""/api/v1/system/common/upload-url/create and /cleanup"""

from __future__ import annotations

import asyncio
import posixpath
import uuid

from fastapi import APIRouter
from pydantic import Field

from ota_protocol.codes import ErrorCode

from ..storage.base import TEMPORARY_BUCKET, StoreError
from .common import ApiError, Req, RuntimeDep, bad_request, ok
from .validators import KeySegment, PathStr

router = APIRouter(prefix="/api/v1/system/common/upload-url")


class UploadUrlCreate(Req):
    business: KeySegment
    scene: KeySegment
    file_path: PathStr = Field(alias="filePath")
    rename: bool = False


@router.post("/create")
def create(req: UploadUrlCreate, rt: RuntimeDep) -> dict:
    name = req.file_path
    if req.rename:
        ext = posixpath.splitext(posixpath.basename(name))[1]
        if not ext or ext == ".":
            raise bad_request("filePath", "rename needs a file name with an extension")
        name = f"{uuid.uuid4()}{ext}"
    key = f"{req.business}/{req.scene}/{name}"
    return ok({"filePath": key, "uploadUri": rt.store.presign("PUT", TEMPORARY_BUCKET, key)})


class UploadCleanup(Req):
    #: only uploads at least this old (0: every unclaimed upload, now)
    older_than_seconds: int = Field(default=0, ge=0, le=10 * 365 * 86400, alias="olderThanSeconds")


@router.post("/cleanup")
async def cleanup(req: UploadCleanup, rt: RuntimeDep) -> dict:
    """Free unclaimed uploads now (a full disk need not wait for the daily pass); orphan temporary
    files of the embedded store older than its limit go as well. Answers what was freed."""
    try:
        freed = await asyncio.to_thread(rt.free_unclaimed_uploads, req.older_than_seconds)
    except StoreError as exc:
        raise ApiError(exc.http_status, ErrorCode.SYSTEM, exc.msg) from exc
    except Exception as exc:
        failure = getattr(rt.store, "failure", None)
        if failure is None:
            raise
        err = failure(exc)
        raise ApiError(err.http_status, ErrorCode.SYSTEM, err.msg) from exc
    return ok(freed)
