"""Products, devices and firmware: lifecycle rules that span the database and the object store."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from ota_protocol.codes import ErrorCode, TaskStatus

from ..db.models import Device, DeviceRecord, Firmware, FirmwareFile, Product, Task
from ..db.session import after_commit
from ..storage.base import PRIVATE_BUCKET, TEMPORARY_BUCKET, ObjectMissing, ObjectStore, StoreError
from .errors import Conflict, Invalid, NotFound, Unavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewFile:
    file_path: str  # key in the temporary bucket
    name: str


def firmware_prefix(product_id: str, version: str) -> str:
    """Where a firmware's files live: ``productManage/ota/<productID>/<version>/<file name>``.

    Each part must be exactly one key segment, so keys of different firmware have the same
    depth and can neither nest nor collide (the API's rules already ensure this; checked here
    as well because the key is built here).
    """
    for field, value in (("productID", product_id), ("version", version)):
        if not value or "/" in value or "%" in value or value in (".", ".."):
            raise Invalid(f"{field}: {value!r} cannot be a segment of an object key")
    return f"productManage/ota/{product_id}/{version}/"


RUNNING = (TaskStatus.NOT_STARTED, TaskStatus.UPGRADING)

#: StoreError.http_status -> why the store cannot serve
_STORE_REASON = {507: "full", 504: "timeout"}


def store_unavailable(exc: StoreError) -> Unavailable:
    """The object store is down or full: said as such, not a bare 500."""
    return Unavailable(exc.msg, ErrorCode.SYSTEM, reason=_STORE_REASON.get(exc.http_status, "unreachable"))


class Catalog:
    def __init__(self, store: ObjectStore, on_devices_changed: Callable[[], None] = lambda: None):
        self.store = store
        self._on_devices_changed = on_devices_changed
        self._version_locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def devices_changed(self, session: Session | None = None) -> None:
        """Device credentials changed: tell the broker once `session` has committed (or now)."""
        if session is None:
            self._on_devices_changed()
        else:
            after_commit(session, self._on_devices_changed)

    # ---- firmware ---------------------------------------------------------------------
    def _version_lock(self, product_id: str, version: str) -> threading.Lock:
        with self._locks_guard:
            return self._version_locks.setdefault((product_id, version), threading.Lock())

    def _exists(self, bucket: str, key: str) -> bool:
        try:
            return self.store.exists(bucket, key)
        except StoreError as exc:  # the store is down or full: say so, not a bare 500
            raise store_unavailable(exc) from exc

    def create_firmware(self, session: Session, *, product_id: str, name: str, version: str, is_diff: int,
                        sign_method: str, desc: str, ext_data: str, files: list[NewFile]) -> Firmware:
        """Copy each upload to the private bucket, hash the stored bytes, insert the rows.

        Any failure removes the copies already made and leaves no row behind.
        """
        with self._version_lock(product_id, version):
            if session.get(Product, product_id) is None:
                raise NotFound(f"product {product_id!r} not found")
            if session.scalar(select(Firmware.id).where(Firmware.product_id == product_id,
                                                        Firmware.version == version)) is not None:
                raise Conflict(f"version: firmware {version!r} of product {product_id!r} already exists")
            for i, f in enumerate(files):
                if not self._exists(TEMPORARY_BUCKET, f.file_path):
                    raise Invalid(f"files[{i}].filePath: no uploaded object {f.file_path!r}")
            prefix = firmware_prefix(product_id, version)
            # a case-insensitive file system under the object store (macOS) folds "1.0-RC" and
            # "1.0-rc" into one folder: never let one firmware's keys land on another's files
            keys = [(prefix + f.name).lower() for f in files]
            if len(set(keys)) != len(keys):
                raise Invalid("files: names must differ in more than letter case")
            clash = session.scalar(select(FirmwareFile.object_key)
                                   .where(func.lower(FirmwareFile.object_key).in_(keys)).limit(1))
            if clash is not None:
                raise Conflict(f"version: firmware {version!r} of product {product_id!r} would store a file "
                                f"where another firmware's {clash!r} is (keys differing only in letter case "
                                "are one file on a case-insensitive store)")
            copied: list[str] = []
            try:
                fw = Firmware(product_id=product_id, name=name, version=version, is_diff=is_diff,
                              sign_method=sign_method, desc=desc, ext_data=ext_data)
                for i, f in enumerate(files):
                    key = prefix + f.name
                    try:
                        self.store.copy(TEMPORARY_BUCKET, f.file_path, PRIVATE_BUCKET, key)
                    except ObjectMissing:
                        raise Invalid(f"files[{i}].filePath: no uploaded object {f.file_path!r}") from None
                    copied.append(key)
                    d = self.store.digest(PRIVATE_BUCKET, key)
                    fw.files.append(FirmwareFile(name=f.name, object_key=key, size=d.size, md5=d.md5, sha256=d.sha256))
                fw.total_size = sum(x.size for x in fw.files)
                session.add(fw)
                session.commit()
            except BaseException as exc:
                session.rollback()
                for key in copied:
                    try:
                        self.store.remove(PRIVATE_BUCKET, key)
                    except Exception:
                        log.exception("could not remove %s after a failed firmware create", key)
                if isinstance(exc, IntegrityError):
                    raise Conflict(f"version: firmware {version!r} already exists") from None
                if isinstance(exc, StoreError):  # disk full, store unreachable: named, not a bare 500
                    raise store_unavailable(exc) from exc
                if isinstance(exc, OperationalError) and "full" in str(exc.orig):  # SQLite: "database or disk is full"
                    raise Unavailable(f"database: disk full ({exc.orig})", ErrorCode.DATABASE, reason="full") from exc
                raise
        for f in files:  # claimed: the private copy is the firmware's now
            try:
                self.store.remove(TEMPORARY_BUCKET, f.file_path)
            except Exception:  # noqa: BLE001
                log.warning("could not remove claimed upload %s", f.file_path)
        return fw

    def delete_firmware(self, session: Session, fw: Firmware) -> None:
        running = session.scalar(select(Task.id).where(Task.firmware_id == fw.id, Task.status.in_(RUNNING)).limit(1))
        if running is not None:
            raise Conflict(f"firmwareID: firmware {fw.id} has a running task ({running}); cancel it first", ErrorCode.ALREADY_FINISHED)
        # exactly this firmware's objects: a prefix could take in another firmware's files
        keys = [f.object_key for f in fw.files]
        task_ids = list(session.scalars(select(Task.id).where(Task.firmware_id == fw.id)))
        if task_ids:
            session.execute(delete(DeviceRecord).where(DeviceRecord.task_id.in_(task_ids)))
            session.execute(delete(Task).where(Task.id.in_(task_ids)))
        session.delete(fw)
        session.flush()
        for key in keys:
            self.store.remove(PRIVATE_BUCKET, key)

    # ---- products and devices -----------------------------------------------------------
    def delete_product(self, session: Session, product: Product) -> None:
        running = session.scalar(select(Task.id).where(Task.product_id == product.product_id,
                                                       Task.status.in_(RUNNING)).limit(1))
        if running is not None:
            raise Conflict(f"productID: product {product.product_id!r} has a running task ({running}); cancel it first", ErrorCode.ALREADY_FINISHED)
        for fw in list(session.scalars(select(Firmware).where(Firmware.product_id == product.product_id))):
            self.delete_firmware(session, fw)
        session.execute(delete(Device).where(Device.product_id == product.product_id))
        session.delete(product)
        self.devices_changed(session)
