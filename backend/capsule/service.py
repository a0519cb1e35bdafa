"""Export, verification and import of release capsules; evidence packs; the trust store.

Import checks everything a capsule says before anything is created, in this order: the
manifest's signature against the key it carries, that key against the trust store, the format
version, the expiry, every field's rule, SHA256SUMS against the manifest, then each file's
size and digests while it streams in. Files are staged in the temporary bucket (nothing a
device or a firmware can reach) and removed again on any refusal, so a refused capsule leaves
no firmware, object or task behind."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ota_protocol.codes import RecordStatus, text

from ..db.models import (
    CapsuleLog,
    DeviceRecord,
    Evidence,
    EvidenceDevice,
    Firmware,
    Product,
    Task,
    TaskDraft,
    TrustedPublisher,
)
from ..db.session import Database
from ..ota.catalog import Catalog, NewFile, store_unavailable
from ..ota.errors import Conflict, Invalid, NotFound, Refused
from ..storage.base import PRIVATE_BUCKET, TEMPORARY_BUCKET, ObjectStore, StoreError
from . import archive, keys
from . import manifest as mf
from .keys import Identity

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

log = logging.getLogger(__name__)

#: where a capsule's files wait in the temporary bucket while they are checked
STAGING_PREFIX = "capsule-import/"
DAY_MS = 86_400_000
MAX_EXPIRY_DAYS = 3650


#: evidence counts by final status
_OUTCOME: dict[int, str] = {RecordStatus.SUCCEEDED: "succeeded", RecordStatus.FAILED: "failed"}


class CapsuleRefused(Invalid):
    """The capsule (or evidence pack) is not what it claims: altered, truncated, expired, not ours."""


def refused(why: str, kind: str = "capsule") -> CapsuleRefused:
    return CapsuleRefused(f"{kind}: {why}")


@dataclass(frozen=True)
class _Stored:
    name: str
    size: int
    sha256: str
    md5: str
    key: str


@dataclass
class Download:
    """A file the API answers as it is produced: its name, exact length and bytes."""

    filename: str
    length: int
    chunks: Iterator[bytes]
    ident: str  # capsule or evidence id


class _Hashing:
    """A file-like view of one archive member for the store's upload: hashes what passes and
    notes how much came (fewer bytes than announced: the capsule was truncated)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buf = bytearray()
        self.sha256, self.md5, self.size = hashlib.sha256(), hashlib.md5(), 0

    def _take(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        self.md5.update(chunk)
        self.size += len(chunk)

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._take(chunk)
            self._buf += chunk
        if n < 0:
            n = len(self._buf)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def drain(self) -> None:
        for chunk in self._chunks:
            self._take(chunk)


def fingerprint_label(session: Session, fp: str) -> dict[str, str]:
    pub = session.get(TrustedPublisher, fp)
    return {"fingerprint": fp, "name": pub.name if pub else ""}


class Capsules:
    def __init__(self, db: Database, store: ObjectStore, catalog: Catalog, identity: Identity,
                 check_task: Callable[[dict[str, Any]], None], now: Callable[[], float] = time.time):
        self.db, self.store, self.catalog, self.identity = db, store, catalog, identity
        self._check_task = check_task  # the task/create rules for a template (raises Invalid)
        self._now = now

    def forget_interrupted_imports(self) -> None:
        """At start: what imports a crash or kill interrupted left staged (files, unfinished uploads)."""
        try:
            files = self.store.remove_prefix(TEMPORARY_BUCKET, STAGING_PREFIX)
            uploads = self.store.abort_uploads(TEMPORARY_BUCKET, STAGING_PREFIX)
        except Exception:
            log.warning("could not remove the files of interrupted capsule imports", exc_info=True)
            return
        if files or uploads:
            log.info("removed %d staged files and %d unfinished uploads of interrupted capsule imports", files, uploads)

    def now_ms(self) -> int:
        return int(self._now() * 1000)

    # ---- identity and trust -----------------------------------------------------------------
    def key(self) -> dict[str, str]:
        return {"publicKey": self.identity.public_pem, "fingerprint": self.identity.fingerprint,
                "keptIn": self.identity.kept_in}

    def trust(self, session: Session, pem: str, name: str) -> str:
        try:
            pub = keys.load_public(pem)
        except keys.BadKey as exc:
            raise Invalid(f"publicKey: {exc}") from None
        fp = keys.fingerprint(pub)
        known = session.get(TrustedPublisher, fp)
        if known is not None:
            raise Conflict(f"publicKey: {fp} is already trusted as {known.name!r}")
        session.add(TrustedPublisher(fingerprint=fp, name=name, public_key=keys.public_pem(pub)))
        return fp

    @staticmethod
    def trusted(session: Session) -> list[dict[str, Any]]:
        return [{"fingerprint": p.fingerprint, "name": p.name, "publicKey": p.public_key, "createdTime": p.created_time}
                for p in session.scalars(select(TrustedPublisher).order_by(TrustedPublisher.created_time))]

    @staticmethod
    def distrust(session: Session, fp: str) -> None:
        pub = session.get(TrustedPublisher, fp)
        if pub is None:
            raise NotFound(f"fingerprint: no trusted publisher {fp}")
        session.delete(pub)

    # ---- export -------------------------------------------------------------------------------
    def export(self, firmware_id: int, task: dict[str, Any] | None, expires_in_days: int) -> Download:
        """The capsule of a firmware (and a task template): signed now, streamed by the caller."""
        if task is not None:
            self._check_task(task)
        created = self.now_ms()
        capsule_id = str(uuid.uuid4())
        with self.db.session() as s:
            fw = s.get(Firmware, firmware_id)
            if fw is None:
                raise NotFound(f"firmware {firmware_id} not found")
            product = s.get(Product, fw.product_id)
            assert product is not None  # firmware rows go with their product
            files = [_Stored(f.name, f.size, f.sha256, f.md5, f.object_key) for f in fw.files]
            for f in files:  # before the first byte goes out: a missing file or a store that is down is an error answer
                try:
                    present = self.store.exists(PRIVATE_BUCKET, f.key)
                except StoreError as exc:
                    raise store_unavailable(exc) from exc
                if not present:
                    raise Conflict(f"firmwareID: file {f.name!r} of firmware {firmware_id} is missing from the object store")
            expires = created + expires_in_days * DAY_MS
            doc: dict[str, Any] = {
                "format": mf.FORMAT, "kind": mf.CAPSULE_KIND, "capsuleID": capsule_id,
                "publisher": {"fingerprint": self.identity.fingerprint},
                "createdTime": created, "created": mf.iso(created),
                "expiresTime": expires, "expires": mf.iso(expires),
                "product": _product_part(product), "firmware": _firmware_part(fw),
                "files": [{"name": f.name, "size": f.size, "sha256": f.sha256, "md5": f.md5} for f in files],
                "task": task,
            }
            s.add(CapsuleLog(capsule_id=capsule_id, direction="export", firmware_id=fw.id, product_id=fw.product_id,
                             version=fw.version, publisher_fingerprint=self.identity.fingerprint,
                             created_time=created, expires_time=expires))
            filename = f"{fw.product_id}-{fw.version}.otacap"
        manifest = mf.encode(doc)
        sums = mf.sums(doc["files"])
        head = [(mf.MANIFEST, manifest), (mf.SIGNATURE, self.identity.sign(manifest)),
                (mf.PUBLISHER, self.identity.public_pem.encode()), (mf.SUMS, sums),
                (mf.SUMS_SIGNATURE, self.identity.sign(sums))]
        mtime = created // 1000
        length = sum(archive.member_length(n, len(d), mtime) for n, d in head)
        length += sum(archive.member_length(mf.FILES_DIR + f.name, f.size, mtime) for f in files)
        length += len(archive.END)

        def chunks() -> Iterator[bytes]:
            for name, data in head:
                yield archive.member(name, data, mtime)
            for f in files:
                yield archive.header(mf.FILES_DIR + f.name, f.size, mtime)
                sha, size = hashlib.sha256(), 0
                for chunk in self.store.stream(PRIVATE_BUCKET, f.key):
                    sha.update(chunk)
                    size += len(chunk)
                    yield chunk
                if size != f.size or sha.hexdigest() != f.sha256:
                    # the store no longer holds what was signed: cut the stream (the importer sees
                    # a truncated or altered file) rather than finish a capsule that lies
                    log.error("capsule %s: stored file %s is not what its firmware row says (%d bytes, sha256 %s)",
                              capsule_id, f.key, size, sha.hexdigest())
                    raise StoreError(f"object store: {f.key} changed since the firmware was created")
                yield b"\0" * archive.padding(size)
            yield archive.END

        return Download(filename, length, chunks(), capsule_id)

    # ---- verify / import ----------------------------------------------------------------------
    def _signed_head(self, r: archive.Reader, max_manifest: int, kind: str,
                     signer: str) -> tuple[bytes, Ed25519PublicKey, str]:
        """The manifest's bytes, checked against the key that comes with it (a trusted one), that key
        and its fingerprint."""
        manifest = _expect(r, mf.MANIFEST, max_manifest, kind)
        signature = _expect(r, mf.SIGNATURE, mf.SIGNATURE_BYTES, kind)
        pem = _expect(r, mf.PUBLISHER, keys.MAX_PEM, kind)
        try:
            pub = keys.load_public(pem.decode("utf-8", "replace"))
        except keys.BadKey as exc:
            raise refused(f"{mf.PUBLISHER} is damaged ({exc})", kind) from None
        if len(signature) != mf.SIGNATURE_BYTES or not keys.verify(pub, signature, manifest):
            raise refused(f"{mf.MANIFEST} was altered after it was signed (its signature does not verify)", kind)
        fp = keys.fingerprint(pub)
        with self.db.session() as s:
            if s.get(TrustedPublisher, fp) is None:
                raise Refused(f"{kind}: unknown {signer} {fp} (compare this fingerprint with its owner's, then add "
                              "the key to the trusted publishers)")
        return manifest, pub, fp

    def receive(self, read: Callable[[int], bytes], *, commit: bool) -> dict[str, Any]:
        """Verify a capsule read from ``read``; with ``commit``, create what it carries."""
        r = archive.Reader(read)
        try:
            return self._receive(r, commit)
        except archive.ArchiveError as exc:
            raise refused(f"not a readable capsule: {exc}") from None

    def _receive(self, r: archive.Reader, commit: bool) -> dict[str, Any]:
        raw, pub, fp = self._signed_head(r, mf.MAX_MANIFEST, "capsule", "publisher")
        try:
            m: mf.CapsuleManifest = mf.parse(raw, mf.CapsuleManifest, mf.MANIFEST)
        except ValueError as exc:
            raise refused(str(exc)) from None
        if m.publisher.fingerprint != fp:
            raise refused(f"{mf.MANIFEST} names publisher {m.publisher.fingerprint}, but is signed by {fp}")
        if self.now_ms() > m.expires_time:
            raise refused(f"expired on {mf.said(m.expires_time)}")
        names = [f.name for f in m.files]
        if len({n.lower() for n in names}) != len(names):
            raise refused("two files have the same name")
        if m.firmware.total_size != sum(f.size for f in m.files):
            raise refused(f"{mf.MANIFEST}: totalSize is not the sum of the files' sizes")
        if m.task is not None:
            try:
                self._check_task(m.task)
            except Invalid as exc:
                raise refused(f"its task template: {exc.msg}") from None
        sums = _expect(r, mf.SUMS, mf.MAX_MANIFEST)
        sums_signature = _expect(r, mf.SUMS_SIGNATURE, mf.SIGNATURE_BYTES)
        if sums != mf.sums(m.files):
            raise refused(f"{mf.SUMS} does not list the files of the signed manifest")
        if not keys.verify(pub, sums_signature, sums):
            raise refused(f"{mf.SUMS_SIGNATURE} does not verify")
        with self.db.session() as s:
            publisher = fingerprint_label(s, fp)
            product = s.get(Product, m.product.product_id)
            self._refuse_duplicate(s, m)
        staged: list[str] = []
        staging = uuid.uuid4().hex
        try:
            for i, f in enumerate(m.files):
                got = r.next()
                if got is None:
                    raise refused(f"truncated (it ends before file {f.name!r})")
                name, size = got
                if name != mf.FILES_DIR + f.name:
                    raise refused(f"member {name!r} where the signed manifest has file {f.name!r}")
                if size != f.size:
                    raise refused(f"file {f.name!r} is {size} bytes in the archive, {f.size} in the signed manifest")
                body = _Hashing(r.chunks(size))
                if commit:
                    key = f"{STAGING_PREFIX}{m.capsule_id}/{staging}/{i}"  # two imports at once never share
                    staged.append(key)
                    try:
                        self.store.put_stream(TEMPORARY_BUCKET, key, body, size)  # type: ignore[arg-type]
                    except StoreError as exc:
                        if body.size < size:
                            raise refused(f"truncated (file {f.name!r} has {body.size} of {size} bytes)") from None
                        raise store_unavailable(exc) from exc
                else:
                    body.drain()
                if body.size < size:
                    raise refused(f"truncated (file {f.name!r} has {body.size} of {size} bytes)")
                r.skip_padding(size)
                if body.sha256.hexdigest() != f.sha256:
                    raise refused(f"file {f.name!r} was altered (its sha256 is {body.sha256.hexdigest()}, "
                                  f"the signed manifest says {f.sha256})")
                if body.md5.hexdigest() != f.md5:
                    raise refused(f"file {f.name!r} was altered (its md5 is {body.md5.hexdigest()}, "
                                  f"the signed manifest says {f.md5})")
            extra = r.next()
            if extra is not None:
                raise refused(f"unexpected member {extra[0]!r} after the files")
            if not r.at_end():
                raise refused("unexpected bytes after the end of the archive")
            summary = {
                "capsuleID": m.capsule_id, "format": m.format, "publisher": publisher,
                "product": {"productID": m.product.product_id, "productName": m.product.product_name,
                            "exists": product is not None},
                "firmware": {**m.firmware.model_dump(by_alias=True),
                             "files": [f.model_dump(by_alias=True) for f in m.files]},
                "task": m.task, "createdTime": m.created_time, "expiresTime": m.expires_time,
            }
            if not commit:
                return summary
            return self._create(m, staged, publisher, summary)
        finally:
            for key in staged:  # claimed ones are gone already; the rest must not stay
                try:
                    self.store.remove(TEMPORARY_BUCKET, key)
                except Exception:  # noqa: BLE001 - the unclaimed-upload cleanup takes it later
                    log.warning("could not remove staged capsule file %s", key)

    @staticmethod
    def _refuse_duplicate(s: Session, m: mf.CapsuleManifest) -> None:
        existing = s.scalar(select(Firmware.id).where(Firmware.product_id == m.product.product_id,
                                                      Firmware.version == m.firmware.version))
        if existing is not None:
            raise Conflict(f"firmware {existing} (version {m.firmware.version} of product "
                           f"{m.product.product_id}) already exists")

    def _create(self, m: mf.CapsuleManifest, staged: list[str], publisher: dict[str, str],
                summary: dict[str, Any]) -> dict[str, Any]:
        product_created = False
        with self.db.session() as s:
            if s.get(Product, m.product.product_id) is None:
                s.add(Product(product_id=m.product.product_id, product_name=m.product.product_name,
                              desc=m.product.desc))
                product_created = True
        firmware_id: int | None = None
        try:
            with self.db.session() as s:
                self._refuse_duplicate(s, m)
                fw = self.catalog.create_firmware(
                    s, product_id=m.product.product_id, name=m.firmware.name, version=m.firmware.version,
                    is_diff=m.firmware.is_diff, sign_method=m.firmware.sign_method, desc=m.firmware.desc,
                    ext_data=m.firmware.ext_data,
                    files=[NewFile(file_path=key, name=f.name) for key, f in zip(staged, m.files, strict=True)])
                firmware_id = fw.id
                for stored, signed in zip(fw.files, m.files, strict=True):
                    if (stored.size, stored.sha256, stored.md5) != (signed.size, signed.sha256, signed.md5):
                        raise StoreError(f"object store: {stored.object_key} reads back other bytes than it was given")
                s.add(CapsuleLog(capsule_id=m.capsule_id, direction="import", firmware_id=fw.id,
                                 product_id=m.product.product_id, version=m.firmware.version,
                                 publisher_fingerprint=publisher["fingerprint"], created_time=m.created_time,
                                 expires_time=m.expires_time))
                draft_id = None
                if m.task is not None:
                    draft = TaskDraft(firmware_id=fw.id, capsule_id=m.capsule_id, publisher_name=publisher["name"],
                                      body=json.dumps(m.task, sort_keys=True))
                    s.add(draft)
                    s.flush()
                    draft_id = draft.id
        except BaseException as exc:
            self._undo(firmware_id, m.product.product_id if product_created else None)
            if isinstance(exc, StoreError):
                raise store_unavailable(exc) from exc
            raise
        log.info("capsule %s from %s imported: firmware %s (%s %s)", m.capsule_id, publisher["fingerprint"],
                 firmware_id, m.product.product_id, m.firmware.version)
        return {**summary, "productID": m.product.product_id, "productCreated": product_created,
                "firmwareID": firmware_id, "draftID": draft_id}

    def _undo(self, firmware_id: int | None, product_id: str | None) -> None:
        try:
            with self.db.session() as s:
                fw = s.get(Firmware, firmware_id) if firmware_id is not None else None
                if fw is not None:
                    self.catalog.delete_firmware(s, fw)
                product = s.get(Product, product_id) if product_id is not None else None
                if product is not None:
                    s.delete(product)
        except Exception:  # the original error is what the caller must see
            log.exception("could not undo a failed capsule import (firmware %s, product %s)", firmware_id, product_id)

    # ---- evidence -----------------------------------------------------------------------------
    def evidence(self, task_id: int) -> Download:
        created = self.now_ms()
        evidence_id = str(uuid.uuid4())
        with self.db.session() as s:
            task = s.get(Task, task_id)
            if task is None:
                raise NotFound(f"task {task_id} not found")
            fw = s.get(Firmware, task.firmware_id)
            product = s.get(Product, task.product_id)
            assert fw is not None and product is not None
            capsule_id = s.scalar(select(CapsuleLog.capsule_id).where(
                CapsuleLog.firmware_id == fw.id, CapsuleLog.direction == "import").limit(1)) or ""
            devices = [{"deviceName": r.device_name, "status": r.status, "statusText": text(RecordStatus(r.status)),
                        "versionBefore": r.from_version, "versionAfter": r.version, "step": r.step, "desc": r.desc,
                        "retries": r.retry_count, "createdTime": r.created_time, "updatedTime": r.updated_time}
                       for r in s.scalars(select(DeviceRecord).where(DeviceRecord.task_id == task.id)
                                          .order_by(DeviceRecord.id))]
            doc = {"format": mf.FORMAT, "kind": mf.EVIDENCE_KIND, "evidenceID": evidence_id,
                   "station": {"fingerprint": self.identity.fingerprint},
                   "createdTime": created, "created": mf.iso(created), "capsuleID": capsule_id,
                   "product": _product_part(product), "firmware": _firmware_part(fw),
                   "task": {"taskUid": task.task_uid, "status": task.status, "createdTime": task.created_time},
                   "devices": devices}
            filename = f"evidence-{product.product_id}-{fw.version}-{task.task_uid}.otaevidence"
        manifest = mf.encode(doc)
        mtime = created // 1000
        data = b"".join([archive.member(mf.MANIFEST, manifest, mtime),
                         archive.member(mf.SIGNATURE, self.identity.sign(manifest), mtime),
                         archive.member(mf.PUBLISHER, self.identity.public_pem.encode(), mtime), archive.END])
        return Download(filename, len(data), iter([data]), evidence_id)

    def receive_evidence(self, read: Callable[[int], bytes]) -> dict[str, Any]:
        r = archive.Reader(read)
        try:
            raw, _pub, fp = self._signed_head(r, mf.MAX_EVIDENCE_MANIFEST, "evidence", "station")
            if r.next() is not None or not r.at_end():
                raise refused("unexpected members after the signed evidence", "evidence")
        except archive.ArchiveError as exc:
            raise refused(f"not a readable evidence pack: {exc}", "evidence") from None
        try:
            m: mf.EvidenceManifest = mf.parse(raw, mf.EvidenceManifest, mf.MANIFEST)
        except ValueError as exc:
            raise refused(str(exc), "evidence") from None
        if m.station.fingerprint != fp:
            raise refused(f"{mf.MANIFEST} names station {m.station.fingerprint}, but is signed by {fp}", "evidence")
        with self.db.session() as s:
            station = fingerprint_label(s, fp)
            old = s.scalar(select(Evidence).where(Evidence.station_fingerprint == fp,
                                                  Evidence.task_uid == m.task.task_uid))
            if old is not None:
                if old.created_time > m.created_time:
                    raise Conflict(f"evidence of task {m.task.task_uid} from {station['name']} signed "
                                   f"{mf.said(old.created_time)} is newer than this one ({mf.said(m.created_time)})")
                s.execute(delete(EvidenceDevice).where(EvidenceDevice.evidence_id == old.id))
                s.delete(old)
                s.flush()
            ev = Evidence(station_fingerprint=fp, station_name=station["name"], capsule_id=m.capsule_id,
                          product_id=m.product.product_id, version=m.firmware.version, task_uid=m.task.task_uid,
                          created_time=m.created_time)
            s.add(ev)
            s.flush()
            if m.devices:
                s.execute(insert(EvidenceDevice), [
                    {"evidence_id": ev.id, "device_name": d.device_name, "status": d.status,
                     "version_before": d.version_before, "version_after": d.version_after, "step": d.step,
                     "desc": d.desc, "retries": d.retries, "created_time": d.created_time,
                     "updated_time": d.updated_time} for d in m.devices])
            return {"evidenceID": ev.id, "station": station, "productID": m.product.product_id,
                    "version": m.firmware.version, "taskUid": m.task.task_uid, "capsuleID": m.capsule_id,
                    "devices": len(m.devices)}

    @staticmethod
    def evidence_index(session: Session, product_id: str | None) -> list[dict[str, Any]]:
        """Per release (product, version): the stations that sent evidence and their devices' counts."""
        q = select(Evidence).order_by(Evidence.product_id, Evidence.version, Evidence.imported_time)
        if product_id:
            q = q.where(Evidence.product_id == product_id)
        evidence = list(session.scalars(q))
        counts: dict[int, dict[str, int]] = {}
        if evidence:
            rows = session.execute(select(EvidenceDevice.evidence_id, EvidenceDevice.status, func.count())
                                   .where(EvidenceDevice.evidence_id.in_([e.id for e in evidence]))
                                   .group_by(EvidenceDevice.evidence_id, EvidenceDevice.status))
            for ev_id, status, n in rows:
                c = counts.setdefault(ev_id, {"total": 0, "succeeded": 0, "failed": 0, "other": 0})
                c["total"] += n
                key = _OUTCOME.get(status, "other")
                c[key] += n
        releases: dict[tuple[str, str], dict[str, Any]] = {}
        for e in evidence:
            rel = releases.get((e.product_id, e.version))
            if rel is None:
                fw_id = session.scalar(select(Firmware.id).where(Firmware.product_id == e.product_id,
                                                                 Firmware.version == e.version))
                rel = releases[(e.product_id, e.version)] = {"productID": e.product_id, "version": e.version,
                                                             "firmwareID": fw_id, "stations": []}
            rel["stations"].append({
                "evidenceID": e.id, "fingerprint": e.station_fingerprint, "name": e.station_name,
                "capsuleID": e.capsule_id, "taskUid": e.task_uid, "createdTime": e.created_time,
                "importedTime": e.imported_time,
                "devices": counts.get(e.id, {"total": 0, "succeeded": 0, "failed": 0, "other": 0})})
        return list(releases.values())

    @staticmethod
    def evidence_devices(session: Session, evidence_id: int, offset: int, limit: int) -> tuple[list[dict], int]:
        if session.get(Evidence, evidence_id) is None:
            raise NotFound(f"evidence {evidence_id} not found")
        total = session.scalar(select(func.count()).where(EvidenceDevice.evidence_id == evidence_id)) or 0
        rows = session.scalars(select(EvidenceDevice).where(EvidenceDevice.evidence_id == evidence_id)
                               .order_by(EvidenceDevice.id).offset(offset).limit(limit))
        return [{"deviceName": d.device_name, "status": d.status, "versionBefore": d.version_before,
                 "versionAfter": d.version_after, "step": d.step, "desc": d.desc, "retries": d.retries,
                 "createdTime": d.created_time, "updatedTime": d.updated_time} for d in rows], total


def _product_part(product: Product) -> dict[str, Any]:
    """A manifest's ``product`` (capsules and evidence alike)."""
    return {"productID": product.product_id, "productName": product.product_name, "desc": product.desc}


def _firmware_part(fw: Firmware) -> dict[str, Any]:
    """A manifest's ``firmware``."""
    return {"name": fw.name, "version": fw.version, "isDiff": fw.is_diff, "signMethod": fw.sign_method,
            "desc": fw.desc, "extData": fw.ext_data, "totalSize": fw.total_size}


def _expect(r: archive.Reader, name: str, limit: int, kind: str = "capsule") -> bytes:
    """The next member, which must be ``name`` and at most ``limit`` bytes."""
    got = r.next()
    if got is None:
        raise refused(f"truncated (it ends before {name})", kind)
    member, size = got
    if member != name:
        raise refused(f"{member!r} where {name} belongs", kind)
    if size > limit:
        raise refused(f"{name} is {size} bytes (at most {limit})", kind)
    data = r.read_data(size)
    r.skip_padding(size)
    return data
