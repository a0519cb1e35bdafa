"""The parameters of ``task/create``, declared once: name on the wire, default and bounds.

``TaskSpec`` is what a task is created from; ``OPTIONS`` describes each field. The API's
validation, the database columns, the engine and the desktop form's limits all read them, so
a new option (or a changed bound) is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from .codes import TaskType, UpgradeType
from .messages import MAX_INT as MAX_INT64  # largest integer a field may hold (signed 64-bit)


@dataclass(frozen=True, slots=True)
class Option:
    """One task parameter: ``wire`` is its JSON name; ``low``/``high`` its inclusive bounds
    (integers only); ``choices`` the allowed codes; ``doc`` what it means (API docs)."""

    name: str
    wire: str
    default: Any
    low: int | None = None
    high: int | None = None
    choices: tuple[int, ...] = ()
    doc: str = ""


def _opt(wire: str, default: Any, low: int | None = None, high: int | None = None,
         choices: tuple[int, ...] = (), doc: str = "") -> Any:
    meta = {"wire": wire, "low": low, "high": high, "choices": choices, "doc": doc}
    if isinstance(default, list):
        return field(default_factory=list, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(slots=True)
class TaskSpec:
    """A task as requested (every field is stored with the task)."""

    firmware_id: int = _opt("firmwareID", 0, 1, MAX_INT64, doc="the firmware to roll out")
    type: int = _opt("type", TaskType.ALL, choices=tuple(TaskType),
                     doc="1: every device of the product; 2: the devices in deviceList")
    upgrade_type: int = _opt("upgradeType", UpgradeType.STATIC, choices=tuple(UpgradeType),
                             doc="1: static (the devices at creation); 2: dynamic (also devices that report a "
                                 "version in versionList later)")
    device_list: list[str] = _opt("deviceList", [], doc="device names (type 2)")
    version_list: list[str] = _opt("versionList", [], doc="only devices on these versions (empty: any version)")
    retry_count: int = _opt("retryCount", 0, 0, 100, doc="automatic retries of a failed device")
    retry_interval_minutes: int = _opt("retryIntervalMinutes", 10, 1, 100_000, doc="minutes before a retry")
    timeout_minutes: int = _opt("timeoutMinutes", 60, 1, 100_000,
                                doc="minutes a pushed or upgrading device has to report before it fails")
    max_per_minute: int = _opt("maxPerMinute", 0, 0, 1_000_000, doc="pushes per minute (0: no limit)")
    gray_percent: int = _opt("grayPercent", 100, 1, 100, doc="share of the target devices that get the upgrade")
    schedule_time: int = _opt("scheduleTime", 0, 0, MAX_INT64,
                              doc="epoch milliseconds to start at (0 or past: now)")
    overwrite: bool = _opt("overwrite", False, doc="cancel the devices' records in other running tasks")

    def to_wire(self) -> dict[str, Any]:
        """The ``task/create`` body for this spec."""
        return {o.wire: list(getattr(self, o.name)) if isinstance(getattr(self, o.name), list)
                else getattr(self, o.name) for o in OPTIONS.values()}


#: every parameter of TaskSpec by its Python name, in declaration order
OPTIONS: dict[str, Option] = {
    f.name: Option(f.name, f.metadata["wire"], [] if f.default_factory is list else f.default,
                   f.metadata["low"], f.metadata["high"], f.metadata["choices"], f.metadata["doc"])
    for f in fields(TaskSpec)
}
