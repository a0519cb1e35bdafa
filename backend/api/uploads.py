"""/api/v1/system/common/upload-url/create"""

from __future__ import annotations

import posixpath
import uuid

from fastapi import APIRouter
from pydantic import Field

from ..storage.base import TEMPORARY_BUCKET
from .common import Req, RuntimeDep, bad_request, ok
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
