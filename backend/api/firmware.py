"""/api/v1/things/ota/firmware/*"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import Field, field_validator
from sqlalchemy import func, select

from ..db.models import Device, Firmware, Product
from ..ota.catalog import NewFile
from ..storage.base import PRIVATE_BUCKET
from .common import Paged, Req, RuntimeDep, SessionDep, bad_request, contains, listing, not_found, ok
from .validators import FileName, Filter, Id, Ident, Millis, PathStr, Version, one_of

router = APIRouter(prefix="/api/v1/things/ota/firmware")


class FileIn(Req):
    file_path: PathStr = Field(alias="filePath")
    name: FileName


class FirmwareCreate(Req):
    name: str = Field(min_length=1, max_length=128)
    product_id: Ident = Field(alias="productID")
    version: Version
    is_diff: Annotated[int, one_of(1, 2)] = Field(default=1, alias="isDiff")
    sign_method: Literal["md5", "sha256"] = Field(default="md5", alias="signMethod")
    desc: str = Field(default="", max_length=2000)
    ext_data: str = Field(default="", alias="extData", max_length=10000)
    files: list[FileIn] = Field(min_length=1, max_length=20)

    @field_validator("files")
    @classmethod
    def _unique_names(cls, files: list[FileIn]) -> list[FileIn]:
        names = [f.name for f in files]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise ValueError(f"file name {n!r} appears twice; names must be unique within a firmware")
        return files


class FirmwareRef(Req):
    firmware_id: Id = Field(alias="firmwareID")


class FirmwareUpdate(FirmwareRef):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    desc: str | None = Field(default=None, max_length=2000)
    ext_data: str | None = Field(default=None, alias="extData", max_length=10000)


class FirmwareIndex(Paged):
    product_id: Ident | None = Field(default=None, alias="productID")
    time_start: Millis | None = Field(default=None, alias="timeStart")
    time_end: Millis | None = Field(default=None, alias="timeEnd")
    name: Filter | None = None


def get_firmware(session, firmware_id: int) -> Firmware:  # noqa: ANN001
    fw = session.get(Firmware, firmware_id)
    if fw is None:
        raise not_found(f"firmware {firmware_id}")
    return fw


def firmware_summary(fw: Firmware, product_name: str) -> dict:
    return {"firmwareID": fw.id, "name": fw.name, "version": fw.version, "productID": fw.product_id,
            "productName": product_name, "isDiff": fw.is_diff, "signMethod": fw.sign_method,
            "totalSize": fw.total_size, "createdTime": fw.created_time}


@router.post("/create")
def create(req: FirmwareCreate, session: SessionDep, rt: RuntimeDep) -> dict:
    fw = rt.catalog.create_firmware(
        session, product_id=req.product_id, name=req.name, version=req.version, is_diff=int(req.is_diff),
        sign_method=req.sign_method, desc=req.desc, ext_data=req.ext_data,
        files=[NewFile(file_path=f.file_path, name=f.name) for f in req.files])
    return ok({"firmwareID": fw.id})


@router.post("/update")
def update(req: FirmwareUpdate, session: SessionDep) -> dict:
    fw = get_firmware(session, req.firmware_id)
    for attr in ("name", "desc", "ext_data"):
        value = getattr(req, attr)
        if value is not None:
            setattr(fw, attr, value)
    return ok()


@router.post("/delete")
def delete(req: FirmwareRef, rt: RuntimeDep) -> dict:
    rt.engine.transaction(lambda s: rt.catalog.delete_firmware(s, get_firmware(s, req.firmware_id)))
    return ok()


@router.post("/index")
def index(req: FirmwareIndex, session: SessionDep) -> dict:
    if req.time_start is not None and req.time_end is not None and req.time_end < req.time_start:
        raise bad_request("timeEnd", "must not be before timeStart")
    q = select(Firmware, Product.product_name).join(Product, Product.product_id == Firmware.product_id)
    if req.product_id:
        q = q.where(Firmware.product_id == req.product_id)
    if req.time_start is not None:
        q = q.where(Firmware.created_time >= req.time_start)
    if req.time_end is not None:
        q = q.where(Firmware.created_time <= req.time_end)
    if req.name:
        q = q.where(contains(Firmware.name, req.name) | contains(Firmware.version, req.name))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.execute(q.order_by(Firmware.id.desc()).offset(req.page.offset).limit(req.page.size))
    return listing([firmware_summary(fw, pname) for fw, pname in rows], total or 0)


@router.post("/read")
def read(req: FirmwareRef, session: SessionDep, rt: RuntimeDep) -> dict:
    fw = get_firmware(session, req.firmware_id)
    product = session.get(Product, fw.product_id)
    data = firmware_summary(fw, product.product_name if product else "")
    data.update(desc=fw.desc, extData=fw.ext_data, files=[
        {"name": f.name, "uri": rt.store.presign("GET", PRIVATE_BUCKET, f.object_key), "size": f.size,
         "signature": f.signature(fw.sign_method)} for f in fw.files])
    return ok(data)


@router.post("/device-info-read")
def device_info_read(req: FirmwareRef, session: SessionDep) -> dict:
    fw = get_firmware(session, req.firmware_id)
    versions = sorted(v for v in session.scalars(
        select(Device.version).distinct().where(Device.product_id == fw.product_id)) if v)
    return ok({"versions": ",".join(versions)})
