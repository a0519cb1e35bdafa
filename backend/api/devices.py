"""/api/v1/things/device/info/*"""

from __future__ import annotations

import csv
import io
import secrets
import string
from collections import Counter
from typing import Any, TypeVar

from fastapi import APIRouter
from pydantic import Field, model_validator
from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.orm import Session

from ..db.models import Device, now_ms
from .common import Page, Paged, Req, RuntimeDep, SessionDep, bad_request, contains, duplicate, listing, not_found, ok
from .products import get_product
from .validators import DeviceVersion, Filter, Ident, starts_like_formula

router = APIRouter(prefix="/api/v1/things/device/info")
_ALPHABET = string.ascii_letters + string.digits
MAX_IMPORT = 100_000


SECRET_CHARS = 24
#: random bytes -> alphabet characters: a byte below 248 (= 4 x 62) maps to _ALPHABET[b % 62], so
#: every character is equally likely; the bytes 248..255 are dropped (bytes.translate, in C)
_TO_ALPHABET = bytes(ord(_ALPHABET[b % len(_ALPHABET)]) if b < 248 else 0 for b in range(256))
_DROPPED = bytes(range(248, 256))


def new_secrets(count: int) -> list[str]:
    """``count`` secrets of 24 letters/digits (an import of 100,000 needs them fast: one call to
    the system's random source per batch, not 24 per secret)."""
    out: list[str] = []
    while len(out) < count:
        need = count - len(out)
        chars = secrets.token_bytes(need * 26 + 64).translate(_TO_ALPHABET, _DROPPED).decode("ascii")
        out.extend(chars[i:i + SECRET_CHARS] for i in range(0, min(need * SECRET_CHARS, len(chars) - SECRET_CHARS + 1),
                                                             SECRET_CHARS))
    return out[:count]


def new_secret() -> str:
    return new_secrets(1)[0]


def device_dict(d: Any, with_secret: bool = False) -> dict:
    """The device object of the API (a Device, or a row with the same names)."""
    out = {"productID": d.product_id, "deviceName": d.device_name, "version": d.version,
           "online": d.online, "lastSeen": d.last_seen, "createdTime": d.created_time}
    if with_secret:
        out["deviceSecret"] = d.device_secret
    return out


def get_device(session, product_id: str, device_name: str) -> Device:  # noqa: ANN001
    dev = session.scalar(select(Device).where(Device.product_id == product_id, Device.device_name == device_name))
    if dev is None:
        raise not_found(f"device {device_name!r} of product {product_id!r}")
    return dev


class DeviceIn(Req):
    device_name: Ident = Field(alias="deviceName")
    version: DeviceVersion | None = None
    device_secret: Ident | None = Field(default=None, alias="deviceSecret")


class DeviceCreate(DeviceIn):
    product_id: Ident = Field(alias="productID")


class DeviceRef(Req):
    product_id: Ident = Field(alias="productID")
    device_name: Ident = Field(alias="deviceName")


class DeviceIndex(Paged):
    product_id: Ident | None = Field(default=None, alias="productID")
    device_name: Filter | None = Field(default=None, alias="deviceName")
    version: Filter | None = None
    with_secret: bool = Field(default=False, alias="withSecret")


class DeviceImport(Req):
    product_id: Ident = Field(alias="productID")
    devices: list[DeviceIn] | None = Field(default=None, max_length=MAX_IMPORT)
    csv_text: str | None = Field(default=None, alias="csv")

    @model_validator(mode="after")
    def _one_source(self) -> DeviceImport:
        if (self.devices is None) == (self.csv_text is None):
            raise ValueError("give exactly one of devices (JSON list) or csv (text)")
        return self


CSV_COLUMNS = ("deviceName", "version", "deviceSecret")


def _csv_rows(text: str):  # noqa: ANN202
    """(line number, row) for each non-blank CSV record; lines end in LF, CRLF or a lone CR.

    The line number is the physical line the record ends on. Malformed CSV, or a field over
    the csv module's field limit (128 KiB), is a 400 naming the line.
    """
    reader = csv.reader(io.StringIO(text, newline=""))  # newline="": CR, LF and CRLF all split lines
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            why = str(exc)
            if "field limit" in why:
                why = f"a field is longer than {csv.field_size_limit()} characters"
            raise bad_request(f"csv line {reader.line_num}", why) from None
        if any(c.strip() for c in row):
            yield reader.line_num, row


def parse_csv(text: str) -> list[DeviceIn]:
    """CSV with a header naming deviceName and optionally version, deviceSecret; or bare names.

    At most MAX_IMPORT devices. Every value is an identifier, so a cell a spreadsheet would run
    as a formula (starting with = + - @, tab or CR) is refused, naming its line and column.
    """
    rows = _csv_rows(text)
    first = next(rows, None)
    if first is None:
        raise bad_request("csv", "no rows")
    header = [c.strip() for c in first[1]]
    if "deviceName" in header:
        cols = header
    else:
        cols = list(CSV_COLUMNS[: len(header)])
        rows = _chain(first, rows)
    out: list[DeviceIn] = []
    for n, row in rows:
        if len(out) == MAX_IMPORT:
            raise bad_request("csv", f"more than {MAX_IMPORT} devices (line {n}); import them in parts")
        item = {}
        for col, (name, value) in enumerate(zip(cols, row), start=1):
            if name not in CSV_COLUMNS:
                continue
            if starts_like_formula(value) or starts_like_formula(value.strip()):
                lead = value[:1] if starts_like_formula(value) else value.strip()[:1]
                raise bad_request(f"csv line {n} column {col} ({name})",
                                  f"starts with {lead!r}, which a spreadsheet would run as a formula")
            if value.strip():
                item[name] = value.strip()
        try:
            out.append(DeviceIn.model_validate(item))
        except ValueError as exc:
            err = exc.errors()[0] if hasattr(exc, "errors") else {"loc": (), "msg": str(exc)}
            field = ".".join(str(p) for p in err["loc"]) or "row"
            raise bad_request(f"csv line {n} {field}", str(err["msg"]).removeprefix("Value error, ")) from None
    return out


def _chain(first, rest):  # noqa: ANN001, ANN202
    yield first
    yield from rest


def _add(session, product_id: str, items: list[DeviceIn]) -> list[dict[str, Any]]:  # noqa: ANN001
    """Insert the devices in one statement (no ORM objects: an import holds 100,000); the
    answer's device objects, with their secrets."""
    names = [i.device_name for i in items]
    dupes = sorted(n for n, k in Counter(names).items() if k > 1)  # O(n): 100,000 names are a normal import
    if dupes:
        raise bad_request("devices", f"device names repeated in the request: {', '.join(dupes[:20])}")
    existing: set[str] = set()
    for i in range(0, len(names), 500):
        existing.update(session.scalars(select(Device.device_name).where(
            Device.product_id == product_id, Device.device_name.in_(names[i:i + 500]))))
    if existing:
        shown = ", ".join(sorted(existing)[:20])
        raise duplicate(f"device {shown}" if len(existing) == 1 else f"devices {shown}")
    fresh = iter(new_secrets(sum(1 for i in items if not i.device_secret)))
    now = now_ms()
    rows = [{"product_id": product_id, "device_name": i.device_name, "version": i.version or "",
             "device_secret": i.device_secret or next(fresh), "online": False, "last_seen": 0, "created_time": now}
            for i in items]
    session.execute(insert(Device), rows)
    return [{"productID": product_id, "deviceName": r["device_name"], "version": r["version"], "online": False,
             "lastSeen": 0, "createdTime": now, "deviceSecret": r["device_secret"]} for r in rows]


@router.post("/create")
def create(req: DeviceCreate, session: SessionDep, rt: RuntimeDep) -> dict:
    get_product(session, req.product_id)
    dev = _add(session, req.product_id, [req])[0]
    rt.catalog.devices_changed(session)
    return ok(dev)


@router.post("/import")
def import_(req: DeviceImport, session: SessionDep, rt: RuntimeDep) -> dict:
    get_product(session, req.product_id)
    items = req.devices if req.devices is not None else parse_csv(req.csv_text or "")
    if not items:
        raise bad_request("devices", "must not be empty")
    devs = _add(session, req.product_id, items)
    rt.catalog.devices_changed(session)
    return listing(devs, len(devs))


@router.post("/delete")
def delete(req: DeviceRef, rt: RuntimeDep) -> dict:
    rt.engine.delete_device(req.product_id, req.device_name)  # committed on return
    rt.catalog.devices_changed()
    return ok()


@router.post("/read")
def read(req: DeviceRef, session: SessionDep) -> dict:
    return ok(device_dict(get_device(session, req.product_id, req.device_name), with_secret=True))


M = TypeVar("M", bound=Any)


def paged(session: Session, model: type[M], where: list[ColumnElement[bool]], page: Page) -> tuple[list[M], int]:
    """One page of ``model`` rows in id order, and how many rows match.

    The total is a count over an index. The page's ids are found first (on the index that
    serves ``where``, no rows read), then those rows are loaded; a page past the middle is
    counted from the end (the last page of 100,000 costs what the first does).
    """
    total = session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    offset, size = page.offset, page.size
    if offset >= total:
        return [], total
    size = min(size, total - offset)
    ids = select(model.id).where(*where)
    if offset > (total - size) // 2:
        ids = ids.order_by(model.id.desc()).offset(total - offset - size)
    else:
        ids = ids.order_by(model.id).offset(offset)
    rows = session.scalars(select(model).where(model.id.in_(ids.limit(size).scalar_subquery())).order_by(model.id))
    return list(rows), total


@router.post("/index")
def index(req: DeviceIndex, session: SessionDep) -> dict:
    where: list[ColumnElement[bool]] = []
    if req.product_id:
        where.append(Device.product_id == req.product_id)
    if req.device_name:
        where.append(contains(Device.device_name, req.device_name))
    if req.version:
        where.append(Device.version == req.version)
    rows, total = paged(session, Device, where, req.page)
    return listing([device_dict(d, req.with_secret) for d in rows], total)


class DeviceUpdate(DeviceRef):
    version: DeviceVersion | None = None
    device_secret: Ident | None = Field(default=None, alias="deviceSecret")


@router.post("/update")
def update(req: DeviceUpdate, session: SessionDep, rt: RuntimeDep) -> dict:
    dev = get_device(session, req.product_id, req.device_name)
    if req.version is not None:
        dev.version = req.version
    if req.device_secret is not None:
        dev.device_secret = req.device_secret
        rt.catalog.devices_changed(session)
    return ok()
