"""Planning: which devices a task gets a record for, and what each record starts as.

Pure rules over the devices and the records that already hold them; the coordinator loads
those and stores the result.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol, TypeVar

from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import TaskType, UpgradeType
from ota_protocol.task_options import TaskSpec

from ..db.models import Device, DeviceRecord, Task
from .errors import Invalid
from .records import holds_device


class DeviceFields(Protocol):
    """What planning reads of a device (a Device, or a row with these names)."""

    @property
    def product_id(self) -> str: ...
    @property
    def device_name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def online(self) -> bool: ...


class DeviceRow(NamedTuple):
    """DeviceFields as a plain tuple: what the coordinator loads for 100,000 devices (a
    SQLAlchemy Row's attributes cost ~10x a tuple's; planning reads each device's ~6 times)."""

    product_id: str
    device_name: str
    version: str
    online: bool


NEWER_DESC = "device version is newer than the package"
BUSY_DESC = "another task is upgrading this device"


def check_spec(spec: TaskSpec, firmware_version: str) -> None:
    """Fields of a task/create that do not go together (bounds are checked by the API)."""
    if spec.type == TaskType.TARGETED and not spec.device_list:
        raise Invalid("deviceList: a targeted task (type 2) needs at least one device")
    if spec.upgrade_type == UpgradeType.DYNAMIC:
        if spec.type == TaskType.TARGETED:
            raise Invalid("upgradeType: a dynamic task cannot be targeted (type 2)")
        if not spec.version_list:
            raise Invalid("versionList: a dynamic task needs the source versions")
    if firmware_version in spec.version_list:
        raise Invalid(f"versionList: contains the firmware's own version {firmware_version!r}")


@functools.lru_cache(maxsize=4096)  # a fleet has few distinct versions; a rollout asks per device
def _version_key(v: str) -> tuple[int, ...] | None:
    parts = re.findall(r"\d+", v)
    if not parts or re.sub(r"[\d.\-_vV]", "", v):
        return None
    return tuple(int(p) for p in parts)


@functools.lru_cache(maxsize=4096)  # asked once per device of a new task (100,000 times), for few pairs
def is_newer(version: str, than: str) -> bool:
    """Whether ``version`` is numerically newer than ``than`` (both plain dotted numbers)."""
    a, b = _version_key(version), _version_key(than)
    return a is not None and b is not None and a > b


def gray_seed(task: Task) -> str:
    """What a task's gray order is drawn from: its product and firmware, so ``task/preview``
    counts what ``task/create`` then plans, and a gray task created again after a cancel takes
    the same devices first."""
    return f"{task.product_id}/{task.firmware_id}"


def gray_rank(seed: str, device_name: str) -> int:
    """A device's stable place in a task's gray order (the same on every run)."""
    return int.from_bytes(hashlib.sha1(f"{seed}/{device_name}".encode()).digest()[:4], "big")


def in_gray(task: Task, device_name: str) -> bool:
    """Whether a device falls in the task's gray share (the rule for dynamic joiners)."""
    return task.gray_percent >= 100 or gray_rank(gray_seed(task), device_name) % 100 < task.gray_percent


D = TypeVar("D", bound=DeviceFields)


def targets(task: Task, devices: Iterable[D], version_list: Sequence[str]) -> list[D]:
    """The devices of a new task: on a source version (if any are named), not on the target,
    and within the gray share."""
    chosen = [d for d in devices if (not version_list or d.version in version_list) and d.version != task.version]
    if task.gray_percent >= 100:
        return chosen
    if task.upgrade_type == UpgradeType.DYNAMIC:  # the same rule decides for devices joining later
        return [d for d in chosen if in_gray(task, d.device_name)]
    return gray_share(task, chosen, task.gray_percent)


def gray_share(task: Task, candidates: Iterable[D], percent: int) -> list[D]:
    """A static task's gray set: exactly ``percent`` of the candidates (rounded up), the first in
    the task's gray order (so a larger share keeps every device of a smaller one)."""
    ranked = sorted(candidates, key=functools.partial(_rank_of, gray_seed(task)))
    return ranked[:math.ceil(len(ranked) * percent / 100)]


def _rank_of(seed: str, device: DeviceFields) -> int:
    return gray_rank(seed, device.device_name)


def joins_dynamic(task: Task, dev: Device, source_versions: Sequence[str]) -> bool:
    """A device reporting a version: does a running dynamic task take it?"""
    return dev.version != task.version and dev.version in source_versions and in_gray(task, dev.device_name)


def first_status(task: Task, dev: DeviceFields, others: Iterable[DeviceRecord]) -> tuple[RS, str, list[DeviceRecord]]:
    """What a device's new record in ``task`` starts as: (status, desc, records to cancel).

    ``others`` are the device's records in other tasks; those still holding it make the new
    record fail, unless the task overwrites them (then they are cancelled).
    """
    if is_newer(dev.version, task.version):  # never push a downgrade
        return RS.FAILED, NEWER_DESC, []
    if not others:  # most devices of a new task: nothing to look at (100,000 calls per task)
        return (RS.QUEUED if dev.online else RS.QUEUED_OFFLINE), "", []
    holding = [o for o in others if holds_device(o) and o.task_id != task.id]
    if holding and not task.overwrite:
        return RS.FAILED, BUSY_DESC, []
    return (RS.QUEUED if dev.online else RS.QUEUED_OFFLINE), "", holding
