"""Plain data objects of the OTA HTTP API (spec sections 4-8). No Qt in here.

The protocol's codes and the task parameters' defaults are ota_protocol's; none is defined here.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, Self, TypeVar

# the shared codes are re-exported: the desktop imports them from here or from ota_protocol.codes
from ota_protocol.codes import IsDiff, RecordStatus, SignMethod, TaskStatus, TaskType, UpgradeType  # noqa: F401
from ota_protocol.task_options import OPTIONS

E = TypeVar("E", bound=Enum)


def coerce(cls: type[E], value: Any) -> E | int:
    """``value`` as a member of the code enum ``cls`` (e.g. RecordStatus), or the plain int
    when the code is unknown (a newer backend may send one)."""
    try:
        return cls(int(value))
    except ValueError:
        return int(value)


def _default(name: str) -> Any:
    """The default of task parameter ``name`` (ota_protocol.task_options.OPTIONS)."""
    return OPTIONS[name].default


#: statuses from which a record can no longer change without a person acting
FINAL_RECORD_STATUSES = frozenset(s for s in RecordStatus if s.is_final)
#: the backend refuses device-retry for these (ErrorCode.RETRY_NOT_ALLOWED)
NOT_RETRYABLE = frozenset({RecordStatus.UPGRADING, RecordStatus.SUCCEEDED})
#: the backend refuses device-cancel for these (ErrorCode.ALREADY_FINISHED)
NOT_CANCELLABLE = frozenset({RecordStatus.SUCCEEDED, RecordStatus.FAILED})


class _FromJson:
    """Build a dataclass from a JSON object, ignoring unknown keys (the API may add fields)."""

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Self:
        names = _FIELD_NAMES.get(cls)
        if names is None:  # once per class: list pages parse thousands of rows
            names = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))  # type: ignore[arg-type]
        return cls(**{k: v for k, v in obj.items() if k in names})


_FIELD_NAMES: dict[type, frozenset[str]] = {}


@dataclass(slots=True)
class Product(_FromJson):
    productID: str
    productName: str = ""
    desc: str = ""
    createdTime: int = 0


@dataclass(slots=True)
class Device(_FromJson):
    productID: str
    deviceName: str
    version: str = ""
    online: bool = False
    lastSeen: int = 0
    deviceSecret: str = ""


@dataclass(slots=True)
class Firmware(_FromJson):
    firmwareID: int
    name: str = ""
    version: str = ""
    productID: str = ""
    productName: str = ""
    isDiff: int = IsDiff.WHOLE
    signMethod: str = SignMethod.MD5.value
    totalSize: int = 0
    createdTime: int = 0


@dataclass(slots=True)
class FirmwareFile(_FromJson):
    name: str
    uri: str = ""
    size: int = 0
    signature: str = ""


@dataclass(slots=True)
class FirmwareDetail(_FromJson):
    firmwareID: int
    name: str = ""
    version: str = ""
    productID: str = ""
    productName: str = ""
    isDiff: int = IsDiff.WHOLE
    signMethod: str = SignMethod.MD5.value
    totalSize: int = 0
    createdTime: int = 0
    desc: str = ""
    extData: str = ""
    files: list[FirmwareFile] = field(default_factory=list)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FirmwareDetail:
        names = {f.name for f in fields(cls)} - {"files"}
        detail = cls(**{k: v for k, v in obj.items() if k in names})
        detail.files = [FirmwareFile.from_json(f) for f in obj.get("files") or []]
        return detail


@dataclass(slots=True)
class Task(_FromJson):
    taskID: int
    taskUid: str = ""
    type: int = _default("type")
    upgradeType: int = _default("upgrade_type")
    status: int = TaskStatus.NOT_STARTED
    createdTime: int = 0
    # filled in by the client from the firmware the task was listed under
    firmwareID: int = 0
    version: str = ""
    productID: str = ""
    # rollout safety (protocol 13.13): the options as stored (wire form) or None, the state
    rollout: dict[str, Any] | None = None
    paused: bool = False
    currentWave: int = 1  # 1-based
    waveCount: int = 1
    statusReason: str = ""  # why an aborted task (TaskStatus.ABORTED) stopped


@dataclass(slots=True)
class TaskDetail(_FromJson):
    taskID: int
    taskUid: str = ""
    type: int = _default("type")
    upgradeType: int = _default("upgrade_type")
    version: str = ""
    srcVersion: Any = ""
    srcDevice: Any = ""
    productID: str = ""
    productName: str = ""
    status: int = TaskStatus.NOT_STARTED
    createdTime: int = 0
    retryCount: int = _default("retry_count")
    retryIntervalMinutes: int = _default("retry_interval_minutes")
    timeoutMinutes: int = _default("timeout_minutes")
    maxPerMinute: int = _default("max_per_minute")
    grayPercent: int = _default("gray_percent")
    scheduleTime: int = _default("schedule_time")
    overwrite: bool = _default("overwrite")
    rollout: dict[str, Any] | None = None
    paused: bool = False
    currentWave: int = 1
    waveCount: int = 1
    statusReason: str = ""


@dataclass(slots=True)
class DeviceRecord(_FromJson):
    """One device's upgrade record inside a task (device-index row)."""

    id: int
    taskUid: str = ""
    deviceName: str = ""
    version: str = ""
    targetVersion: str = ""
    status: int = RecordStatus.QUEUED
    step: int = 0
    desc: str = ""
    retryCount: int = 0
    updatedTime: int = 0
    wave: int = 0  # 1-based wave of the rollout (0: not known, e.g. an older backend)


@dataclass(slots=True)
class NewTask:
    """Request body of task/create (spec section 5): the wire names of ota_protocol's TaskSpec,
    with its defaults."""

    firmwareID: int
    type: int = _default("type")
    upgradeType: int = _default("upgrade_type")
    deviceList: list[str] = field(default_factory=list)
    versionList: list[str] = field(default_factory=list)
    retryCount: int = _default("retry_count")
    retryIntervalMinutes: int = _default("retry_interval_minutes")
    timeoutMinutes: int = _default("timeout_minutes")
    maxPerMinute: int = _default("max_per_minute")
    grayPercent: int = _default("gray_percent")
    scheduleTime: int = _default("schedule_time")
    overwrite: bool = _default("overwrite")
    #: rollout options in their wire form (ota_protocol.rollout.Rollout.to_wire); None: none
    rollout: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        body = {f.name: getattr(self, f.name) for f in fields(self)}
        body["type"] = int(self.type)
        body["upgradeType"] = int(self.upgradeType)
        if not self.rollout:
            del body["rollout"]  # a plain task, as before
        return body


@dataclass(slots=True)
class NewFirmware:
    """Request body of firmware/create without the files (they are uploaded first)."""

    productID: str
    name: str
    version: str
    isDiff: int = IsDiff.WHOLE
    signMethod: str = SignMethod.MD5.value
    desc: str = ""
    extData: str = ""

    def to_json(self, files: list[dict[str, str]]) -> dict[str, Any]:
        body = {f.name: getattr(self, f.name) for f in fields(self)}
        body["files"] = files
        return body


def parse_analysis(result: Any) -> tuple[dict[int, int], float | None]:
    """Counts per record status and the success rate from task/analysis' ``result``.

    The result is JSON text; accepted shapes: ``{"501": 3, ...}``, ``{"counts": {...},
    "successRate": 0.5}`` or ``{"statusCount": [{"status": 501, "count": 3}], ...}``.
    """
    import json

    if isinstance(result, str):
        try:
            result = json.loads(result) if result else {}
        except ValueError:
            return {}, None
    if not isinstance(result, dict):
        return {}, None
    counts: dict[int, int] = {}
    rate = None
    for key, value in result.items():
        if isinstance(key, str) and key.isdigit() and isinstance(value, (int, float)):
            counts[int(key)] = int(value)
        elif key.lower() in ("successrate", "success_rate", "rate") and isinstance(value, (int, float)):
            rate = float(value)
        elif isinstance(value, dict):
            sub, _ = parse_analysis(value)
            counts.update(sub)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and "status" in item and "count" in item:
                    counts[int(item["status"])] = int(item["count"])
    if rate is not None and rate > 1:
        rate /= 100.0
    return counts, rate


@dataclass(slots=True)
class WaveState(_FromJson):
    """One wave of task/waves (protocol 9.2): its devices and how they are doing."""

    wave: int
    released: bool = False
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    timedOut: int = 0
    cancelled: int = 0
    active: int = 0
    size: dict[str, int] | None = None  # {"percent": n} or {"count": n}; None without waves


@dataclass(slots=True)
class TaskWaves:
    """task/waves: the waves, the current one (1-based), the state and the abort rules (wire form)."""

    waves: list[WaveState] = field(default_factory=list)
    currentWave: int = 1
    paused: bool = False
    abort: list[dict[str, Any]] = field(default_factory=list)
    statusReason: str = ""
    waveDoneTime: int = 0

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> TaskWaves:
        return cls([WaveState.from_json(w) for w in obj.get("list") or []], int(obj.get("currentWave") or 1),
                   bool(obj.get("paused")), list(obj.get("abort") or []), str(obj.get("statusReason") or ""),
                   int(obj.get("waveDoneTime") or 0))

    def finished(self) -> tuple[int, int, int]:
        """(finished, failed, timed out) over every wave: what the abort rules look at."""
        ok = sum(w.succeeded for w in self.waves)
        failed = sum(w.failed for w in self.waves)
        timed_out = sum(w.timedOut for w in self.waves)
        return ok + failed + timed_out, failed, timed_out


@dataclass(slots=True)
class Preview:
    """task/preview: what task/create would plan now (protocol 13.13)."""

    devices: int = 0
    planned: int = 0
    willPush: int = 0
    waves: list[int] = field(default_factory=list)  # devices per wave
    offline: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    overwrites: int = 0

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Preview:
        return cls(int(obj.get("devices") or 0), int(obj.get("planned") or 0), int(obj.get("willPush") or 0),
                   [int(w.get("devices") or 0) for w in obj.get("waves") or []], int(obj.get("offline") or 0),
                   {str(k): int(v) for k, v in (obj.get("excluded") or {}).items()}, int(obj.get("overwrites") or 0))


# ---- release capsules ---- (issue 15: signed offline releases, task drafts, evidence, trusted publishers)

@dataclass(slots=True)
class CapsuleKey(_FromJson):
    """capsule/key: this installation's publisher identity (the private key never leaves the backend)."""

    publicKey: str = ""
    fingerprint: str = ""
    keptIn: str = ""  # "environment" | "keyring" | "file" | "session"


@dataclass(slots=True)
class Publisher(_FromJson):
    """A trusted publisher (capsule/trust/index)."""

    fingerprint: str
    name: str = ""
    publicKey: str = ""
    createdTime: int = 0


@dataclass(slots=True)
class CapsuleFile(_FromJson):
    name: str
    size: int = 0
    sha256: str = ""
    md5: str = ""


@dataclass(slots=True)
class CapsuleInfo:
    """capsule/verify: what a capsule holds and who signed it (nothing is created)."""

    capsuleID: str = ""
    format: int = 1
    publisherFingerprint: str = ""
    publisherName: str = ""
    productID: str = ""
    productName: str = ""
    productExists: bool = False
    name: str = ""
    version: str = ""
    isDiff: int = IsDiff.WHOLE
    signMethod: str = ""
    desc: str = ""
    totalSize: int = 0
    files: list[CapsuleFile] = field(default_factory=list)
    task: dict[str, Any] | None = None
    createdTime: int = 0
    expiresTime: int = 0

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> CapsuleInfo:
        publisher, product, fw = obj.get("publisher") or {}, obj.get("product") or {}, obj.get("firmware") or {}
        files = [CapsuleFile.from_json(f) for f in fw.get("files") or []]
        return cls(str(obj.get("capsuleID") or ""), int(obj.get("format") or 1),
                   str(publisher.get("fingerprint") or ""), str(publisher.get("name") or ""),
                   str(product.get("productID") or ""), str(product.get("productName") or ""),
                   bool(product.get("exists")), str(fw.get("name") or ""), str(fw.get("version") or ""),
                   int(fw.get("isDiff") or IsDiff.WHOLE), str(fw.get("signMethod") or ""), str(fw.get("desc") or ""),
                   int(fw.get("totalSize") or sum(f.size for f in files)), files,
                   obj.get("task") if isinstance(obj.get("task"), dict) else None,
                   int(obj.get("createdTime") or 0), int(obj.get("expiresTime") or 0))


@dataclass(slots=True)
class CapsuleImported:
    """capsule/import: what was created."""

    capsuleID: str = ""
    productID: str = ""
    productCreated: bool = False
    firmwareID: int = 0
    draftID: int | None = None
    publisherFingerprint: str = ""
    publisherName: str = ""

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> CapsuleImported:
        publisher = obj.get("publisher") or {}
        draft = obj.get("draftID")
        return cls(str(obj.get("capsuleID") or ""), str(obj.get("productID") or ""), bool(obj.get("productCreated")),
                   int(obj["firmwareID"]), int(draft) if draft is not None else None,
                   str(publisher.get("fingerprint") or ""), str(publisher.get("name") or ""))


@dataclass(slots=True)
class TaskDraft(_FromJson):
    """A capsule's task template waiting to be started by hand (task/draft/index)."""

    draftID: int
    firmwareID: int = 0
    productID: str = ""
    version: str = ""
    capsuleID: str = ""
    publisherName: str = ""
    task: dict[str, Any] = field(default_factory=dict)
    createdTime: int = 0


@dataclass(slots=True)
class EvidenceImported:
    """capsule/evidence/import: the station's results of a task, accepted."""

    evidenceID: int = 0
    stationFingerprint: str = ""
    stationName: str = ""
    productID: str = ""
    version: str = ""
    taskUid: str = ""
    devices: int = 0

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> EvidenceImported:
        station = obj.get("station") or {}
        return cls(int(obj.get("evidenceID") or 0), str(station.get("fingerprint") or ""),
                   str(station.get("name") or ""), str(obj.get("productID") or ""), str(obj.get("version") or ""),
                   str(obj.get("taskUid") or ""), int(obj.get("devices") or 0))


@dataclass(slots=True)
class EvidenceStation:
    """One station's evidence of a release: who, which task, when it came back, device counts."""

    evidenceID: int
    fingerprint: str = ""
    name: str = ""
    taskUid: str = ""
    importedTime: int = 0
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    other: int = 0
    productID: str = ""  # of the release it belongs to
    version: str = ""

    @classmethod
    def from_json(cls, obj: dict[str, Any], productID: str = "", version: str = "") -> EvidenceStation:  # noqa: N803
        counts = obj.get("devices") or {}
        return cls(int(obj["evidenceID"]), str(obj.get("fingerprint") or ""), str(obj.get("name") or ""),
                   str(obj.get("taskUid") or ""), int(obj.get("importedTime") or 0), int(counts.get("total") or 0),
                   int(counts.get("succeeded") or 0), int(counts.get("failed") or 0), int(counts.get("other") or 0),
                   productID, version)


@dataclass(slots=True)
class ReleaseEvidence:
    """capsule/evidence/index: a release (product, version) and the stations that reported on it."""

    productID: str
    version: str = ""
    firmwareID: int | None = None
    stations: list[EvidenceStation] = field(default_factory=list)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ReleaseEvidence:
        pid, version = str(obj.get("productID") or ""), str(obj.get("version") or "")
        fid = obj.get("firmwareID")
        return cls(pid, version, int(fid) if fid is not None else None,
                   [EvidenceStation.from_json(s, pid, version) for s in obj.get("stations") or []])


@dataclass(slots=True)
class EvidenceDevice(_FromJson):
    """One device's result in a station's evidence (capsule/evidence/devices)."""

    deviceName: str
    status: int = 0
    versionBefore: str = ""
    versionAfter: str = ""
    step: int = 0
    desc: str = ""
    retries: int = 0
    createdTime: int = 0
    updatedTime: int = 0
