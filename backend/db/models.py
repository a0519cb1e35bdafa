"""SQLAlchemy 2 models. Status columns hold the protocol's numeric codes (ota_protocol.codes)."""

from __future__ import annotations

import time
from typing import Annotated

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def now_ms() -> int:
    return int(time.time() * 1000)


#: ids and the columns referring to them. The API accepts ids up to 2^63-1; PostgreSQL's id columns
#: are INTEGER (32-bit), so ids are bound as BIGINT there: a larger id finds no row instead of
#: failing with "integer out of range" (SQLite's INTEGER already holds 64 bits)
id_type = Integer().with_variant(BigInteger(), "postgresql")
intpk = Annotated[int, mapped_column(id_type, primary_key=True, autoincrement=True)]
millis = Annotated[int, mapped_column(BigInteger, default=now_ms, nullable=False)]
name64 = Annotated[str, mapped_column(String(64), nullable=False)]
code = Annotated[int, mapped_column(Integer, nullable=False)]
text = Annotated[str, mapped_column(Text, nullable=False, default="")]


class Base(DeclarativeBase):
    pass


class Product(Base):
    __tablename__ = "product"
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_name: Mapped[name64]
    desc: Mapped[text]
    created_time: Mapped[millis]


class Device(Base):
    __tablename__ = "device"
    __table_args__ = (
        UniqueConstraint("product_id", "device_name", name="uq_device_name"),
        # the device index in id order, counted and paged on the index alone (migration 0003)
        Index("ix_device_product", "product_id", "id"),
        Index("ix_device_product_version", "product_id", "version", "id"),
    )
    id: Mapped[intpk]
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id", ondelete="CASCADE"), nullable=False)
    device_name: Mapped[name64]
    version: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    online: Mapped[bool] = mapped_column(default=False, nullable=False)
    last_seen: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    device_secret: Mapped[name64]
    created_time: Mapped[millis]


class Firmware(Base):
    __tablename__ = "firmware"
    __table_args__ = (UniqueConstraint("product_id", "version", name="uq_firmware_version"),)
    id: Mapped[intpk]
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    version: Mapped[name64]
    is_diff: Mapped[code]
    sign_method: Mapped[str] = mapped_column(String(16), nullable=False)
    desc: Mapped[text]
    ext_data: Mapped[text]
    total_size: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    created_time: Mapped[millis]
    files: Mapped[list[FirmwareFile]] = relationship(
        back_populates="firmware", cascade="all, delete-orphan", order_by="FirmwareFile.id")


class FirmwareFile(Base):
    __tablename__ = "firmware_file"
    id: Mapped[intpk]
    firmware_id: Mapped[int] = mapped_column(id_type, ForeignKey("firmware.id", ondelete="CASCADE"), nullable=False,
                                             index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    object_key: Mapped[str] = mapped_column(String(1024), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    md5: Mapped[str] = mapped_column(String(32), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    firmware: Mapped[Firmware] = relationship(back_populates="files")

    def signature(self, sign_method: str) -> str:
        return self.sha256 if sign_method == "sha256" else self.md5


class Task(Base):
    __tablename__ = "task"
    # a unique index (not a constraint): added by migration 0002 on SQLite and PostgreSQL alike;
    # NULLs (tasks created without a key) never collide
    __table_args__ = (Index("uq_task_client_token", "client_token", unique=True),)
    id: Mapped[intpk]
    task_uid: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    firmware_id: Mapped[int] = mapped_column(id_type, ForeignKey("firmware.id", ondelete="CASCADE"), nullable=False,
                                             index=True)
    product_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    type: Mapped[code]
    upgrade_type: Mapped[code]
    status: Mapped[code]
    version: Mapped[name64]  # target version (the firmware's)
    src_version: Mapped[text]  # JSON array text
    src_device: Mapped[text]  # JSON array text
    retry_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    retry_interval_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=10)
    timeout_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=60)
    max_per_minute: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    gray_percent: Mapped[int] = mapped_column(Integer, nullable=False, default=100)
    schedule_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    overwrite: Mapped[bool] = mapped_column(default=False, nullable=False)
    created_time: Mapped[millis]
    updated_time: Mapped[millis]
    # the caller's idempotency key of task/create (clientToken / Idempotency-Key), if it sent one
    client_token: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    # rollout safety (migration 0004): the rollout options' wire JSON ("" none), paused by hand, the
    # last wave released (0-based), when the released waves met their advance rule (0: not yet),
    # and why the task ended as it did (an abort's reason)
    rollout: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    paused: Mapped[bool] = mapped_column(default=False, nullable=False, server_default="0")
    current_wave: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    wave_done_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")
    status_reason: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")


class DeviceRecord(Base):
    __tablename__ = "device_record"
    __table_args__ = (
        # a task's records in id order, all or by status: the record index pages on these (0003)
        Index("ix_record_task_uid", "task_uid", "id"),
        Index("ix_record_task_status", "task_id", "status", "id"),
        Index("ix_record_device_status", "product_id", "device_name", "status"),
        Index("ix_record_due", "status", "due_time"),
    )
    id: Mapped[intpk]
    task_id: Mapped[int] = mapped_column(id_type, ForeignKey("task.id", ondelete="CASCADE"), nullable=False)
    task_uid: Mapped[str] = mapped_column(String(64), nullable=False)
    product_id: Mapped[str] = mapped_column(String(64), nullable=False)
    device_name: Mapped[name64]
    version: Mapped[str] = mapped_column(String(64), nullable=False, default="")  # device's version
    target_version: Mapped[name64]
    status: Mapped[code]
    step: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    desc: Mapped[text]
    retry_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    auto_retries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # when a timer acts on this record: push timeout (301/401) or automatic retry (601 -> 203)
    due_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    pushed_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    created_time: Mapped[millis]
    updated_time: Mapped[millis]
    # re-pushes because a failure coincided with our own outage (not counted in retry_count)
    outage_retries: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    # the rollout wave the device belongs to (0-based; stable for the task's life)
    wave: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    # the device's version when the record was planned ("version" follows the device's reports)
    from_version: Mapped[str] = mapped_column(String(64), nullable=False, default="", server_default="")


class RecordHistory(Base):
    """Every status change of a record: what, when, by whom (kept after the record changes)."""

    __tablename__ = "record_history"
    __table_args__ = (
        Index("ix_history_record", "record_id", "id"),
        Index("ix_history_device", "product_id", "device_name", "id"),
    )
    id: Mapped[intpk]
    record_id: Mapped[int] = mapped_column(id_type, ForeignKey("device_record.id", ondelete="CASCADE"),
                                           nullable=False)
    task_uid: Mapped[str] = mapped_column(String(64), nullable=False)
    product_id: Mapped[str] = mapped_column(String(64), nullable=False)
    device_name: Mapped[name64]
    time: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[code]
    step: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    desc: Mapped[text]
    retry_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    actor: Mapped[str] = mapped_column(String(64), nullable=False, default="system")


class AuditEntry(Base):
    """A state-changing API call: who (token name), what (route and a summary of its body), when,
    and how it ended (HTTP status)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_time", "time", "id"),)
    id: Mapped[intpk]
    time: Mapped[int] = mapped_column(BigInteger, nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    client: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    action: Mapped[str] = mapped_column(String(128), nullable=False)
    target: Mapped[text]
    status: Mapped[int] = mapped_column(Integer, nullable=False)


class TrustedPublisher(Base):
    """A workstation whose capsules and evidence packs this installation accepts (its Ed25519 key)."""

    __tablename__ = "trusted_publisher"
    fingerprint: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    public_key: Mapped[text]
    created_time: Mapped[millis]


class CapsuleLog(Base):
    """A release capsule this installation exported or imported (evidence names capsules by id)."""

    __tablename__ = "capsule_log"
    capsule_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    direction: Mapped[str] = mapped_column(String(8), primary_key=True)  # "export" | "import"
    firmware_id: Mapped[int | None] = mapped_column(id_type, ForeignKey("firmware.id", ondelete="SET NULL"))
    product_id: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    publisher_fingerprint: Mapped[str] = mapped_column(String(80), nullable=False)
    created_time: Mapped[int] = mapped_column(BigInteger, nullable=False)  # as signed in the manifest
    expires_time: Mapped[int] = mapped_column(BigInteger, nullable=False)
    handled_time: Mapped[millis]


class TaskDraft(Base):
    """A capsule's task template, waiting for a technician to start it (task/draft/start)."""

    __tablename__ = "task_draft"
    id: Mapped[intpk]
    firmware_id: Mapped[int] = mapped_column(id_type, ForeignKey("firmware.id", ondelete="CASCADE"), nullable=False)
    capsule_id: Mapped[str] = mapped_column(String(36), nullable=False, default="")
    publisher_name: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    body: Mapped[text]  # the template as JSON: task/create fields but firmwareID
    created_time: Mapped[millis]


class Evidence(Base):
    """A station's signed results of one task, imported at the origin."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("station_fingerprint", "task_uid", name="uq_evidence_task"),)
    id: Mapped[intpk]
    station_fingerprint: Mapped[str] = mapped_column(String(80), nullable=False)
    station_name: Mapped[str] = mapped_column(String(128), nullable=False)
    capsule_id: Mapped[str] = mapped_column(String(36), nullable=False, default="")
    product_id: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    task_uid: Mapped[str] = mapped_column(String(64), nullable=False)
    created_time: Mapped[int] = mapped_column(BigInteger, nullable=False)  # signed by the station
    imported_time: Mapped[millis]


class EvidenceDevice(Base):
    __tablename__ = "evidence_device"
    __table_args__ = (Index("ix_evidence_device", "evidence_id", "id"),)
    id: Mapped[intpk]
    evidence_id: Mapped[int] = mapped_column(id_type, ForeignKey("evidence.id", ondelete="CASCADE"), nullable=False)
    device_name: Mapped[name64]
    status: Mapped[code]
    version_before: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    version_after: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    step: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    desc: Mapped[text]
    retries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    updated_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
