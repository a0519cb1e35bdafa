"""Plain data objects of the OTA HTTP API (spec sections 4-8). No Qt in here."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import Any


class RecordStatus(enum.IntEnum):
    """Device record status codes of the protocol (spec section 5). Never re-numbered."""

    AWAITING_CONFIRMATION = 101
    QUEUED = 201
    QUEUED_OFFLINE = 202
    QUEUED_RETRY = 203
    PUSHED = 301
    UPGRADING = 401
    SUCCEEDED = 501
    FAILED = 601
    CANCELLED = 701

    @classmethod
    def coerce(cls, value: int) -> "RecordStatus | int":
        try:
            return cls(int(value))
        except ValueError:
            return int(value)


#: statuses from which a record can no longer change without a person acting
FINAL_RECORD_STATUSES = frozenset({RecordStatus.SUCCEEDED, RecordStatus.FAILED, RecordStatus.CANCELLED})
#: the backend refuses device-retry for these (2100001)
NOT_RETRYABLE = frozenset({RecordStatus.UPGRADING, RecordStatus.SUCCEEDED})
#: the backend refuses device-cancel for these (2100002)
NOT_CANCELLABLE = frozenset({RecordStatus.SUCCEEDED, RecordStatus.FAILED})


class TaskStatus(enum.IntEnum):
    NOT_STARTED = 1
    UPGRADING = 2
    DONE = 3
    CANCELLED = 4


class TaskType(enum.IntEnum):
    ALL_DEVICES = 1
    TARGETED = 2


class UpgradeType(enum.IntEnum):
    STATIC = 1
    DYNAMIC = 2


class SignMethod(str, enum.Enum):
    MD5 = "md5"
    SHA256 = "sha256"


class _FromJson:
    """Build a dataclass from a JSON object, ignoring unknown keys (the API may add fields)."""

    @classmethod
    def from_json(cls, obj: dict[str, Any]):
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in obj.items() if k in names})


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
    isDiff: int = 1
    signMethod: str = "md5"
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
    isDiff: int = 1
    signMethod: str = "md5"
    totalSize: int = 0
    createdTime: int = 0
    desc: str = ""
    extData: str = ""
    files: list[FirmwareFile] = field(default_factory=list)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "FirmwareDetail":
        names = {f.name for f in fields(cls)} - {"files"}
        detail = cls(**{k: v for k, v in obj.items() if k in names})
        detail.files = [FirmwareFile.from_json(f) for f in obj.get("files") or []]
        return detail


@dataclass(slots=True)
class Task(_FromJson):
    taskID: int
    taskUid: str = ""
    type: int = 1
    upgradeType: int = 1
    status: int = 1
    createdTime: int = 0
    # filled in by the client from the firmware the task was listed under
    firmwareID: int = 0
    version: str = ""
    productID: str = ""


@dataclass(slots=True)
class TaskDetail(_FromJson):
    taskID: int
    taskUid: str = ""
    type: int = 1
    upgradeType: int = 1
    version: str = ""
    srcVersion: Any = ""
    srcDevice: Any = ""
    productID: str = ""
    productName: str = ""
    status: int = 1
    createdTime: int = 0
    retryCount: int = 0
    retryIntervalMinutes: int = 10
    timeoutMinutes: int = 60
    maxPerMinute: int = 0
    grayPercent: int = 100
    scheduleTime: int = 0
    overwrite: bool = False


@dataclass(slots=True)
class DeviceRecord(_FromJson):
    """One device's upgrade record inside a task (device-index row)."""

    id: int
    taskUid: str = ""
    deviceName: str = ""
    version: str = ""
    targetVersion: str = ""
    status: int = 201
    step: int = 0
    desc: str = ""
    retryCount: int = 0
    updatedTime: int = 0


@dataclass(slots=True)
class NewTask:
    """Request body of task/create (spec section 5)."""

    firmwareID: int
    type: int = TaskType.ALL_DEVICES
    upgradeType: int = UpgradeType.STATIC
    deviceList: list[str] = field(default_factory=list)
    versionList: list[str] = field(default_factory=list)
    retryCount: int = 0
    retryIntervalMinutes: int = 10
    timeoutMinutes: int = 60
    maxPerMinute: int = 0
    grayPercent: int = 100
    scheduleTime: int = 0
    overwrite: bool = False

    def to_json(self) -> dict[str, Any]:
        body = {f.name: getattr(self, f.name) for f in fields(self)}
        body["type"] = int(self.type)
        body["upgradeType"] = int(self.upgradeType)
        return body


@dataclass(slots=True)
class NewFirmware:
    """Request body of firmware/create without the files (they are uploaded first)."""

    productID: str
    name: str
    version: str
    isDiff: int = 1
    signMethod: str = "md5"
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
