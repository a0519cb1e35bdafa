"""A task's rollout options (``rollout`` in ``task/create``): waves, automatic abort, maintenance
window. All optional: a task without them pushes to every target device at once, as in iThings.

Wire shape::

    "rollout": {
      "waves": [{"percent": 1}, {"percent": 10}, {"percent": 100}],   # or {"count": 50}
      "advanceAtSuccessPercent": 100, "soakMinutes": 0, "manualAdvance": false,
      "abort": [{"failureType": "FAILED", "thresholdPercent": 10, "minFinished": 20}],
      "maintenanceWindow": {"start": "22:00", "durationMinutes": 240, "timeZone": "Europe/Berlin"}
    }

Waves: each entry is one wave's size, a share of the target set (rounded up, at least one device)
or a device count; the last wave takes every device left, whatever its size says. A device keeps
its wave. A wave advances when all its devices finished and its success rate reached
``advanceAtSuccessPercent``, after ``soakMinutes``; with ``manualAdvance`` only by hand.

Abort: a rule is met when at least ``minFinished`` devices of the task finished and the failures
of its type (FAILED: the device reported a failure; TIMED_OUT: it did not report in time; ANY:
both) reached ``thresholdPercent`` of them.

This module is the standard library only: parsing with errors that name the field, wave sizes,
the abort check and the window arithmetic, shared by the backend and the desktop.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_WAVES = 20
MAX_ABORT_RULES = 5
FAILURE_TYPES = ("FAILED", "TIMED_OUT", "ANY")
MAX_SOAK_MINUTES = 7 * 24 * 60
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class RolloutError(ValueError):
    """A bad rollout option; ``field`` is its path on the wire (``rollout.waves[1].percent``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Wave:
    percent: int = 0  # share of the target set (1..100), or
    count: int = 0  # a number of devices

    def to_wire(self) -> dict[str, int]:
        return {"percent": self.percent} if self.percent else {"count": self.count}


@dataclass(frozen=True, slots=True)
class AbortRule:
    failure_type: str = "ANY"
    threshold_percent: int = 10
    min_finished: int = 20

    def to_wire(self) -> dict[str, Any]:
        return {"failureType": self.failure_type, "thresholdPercent": self.threshold_percent,
                "minFinished": self.min_finished}


@dataclass(frozen=True, slots=True)
class Window:
    start: str  # "HH:MM", local time in time_zone
    duration_minutes: int
    time_zone: str = "UTC"

    def to_wire(self) -> dict[str, Any]:
        return {"start": self.start, "durationMinutes": self.duration_minutes, "timeZone": self.time_zone}


@dataclass(frozen=True, slots=True)
class Rollout:
    waves: tuple[Wave, ...] = ()
    advance_at_success_percent: int = 100
    soak_minutes: int = 0
    manual_advance: bool = False
    abort: tuple[AbortRule, ...] = ()
    window: Window | None = None

    @property
    def empty(self) -> bool:
        return not self.waves and not self.abort and self.window is None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.waves:
            out["waves"] = [w.to_wire() for w in self.waves]
            out["advanceAtSuccessPercent"] = self.advance_at_success_percent
            out["soakMinutes"] = self.soak_minutes
            out["manualAdvance"] = self.manual_advance
        if self.abort:
            out["abort"] = [r.to_wire() for r in self.abort]
        if self.window is not None:
            out["maintenanceWindow"] = self.window.to_wire()
        return out


#: The "safe rollout" preset the desktop offers: 1 % → 10 % → the rest, abort at 10 % failures
#: after 20 finished devices.
SAFE_PRESET = Rollout(waves=(Wave(percent=1), Wave(percent=10), Wave(percent=100)),
                      abort=(AbortRule("ANY", 10, 20),))


# ---- parsing ------------------------------------------------------------------------------

def _int(obj: dict[str, Any], key: str, path: str, low: int, high: int, default: int | None = None) -> int:
    if key not in obj or obj[key] is None:
        if default is None:
            raise RolloutError(f"{path}.{key}", "is required")
        return default
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise RolloutError(f"{path}.{key}", f"must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise RolloutError(f"{path}.{key}", f"must be {low}..{high}, not {value}")
    return value


def _object(value: object, path: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RolloutError(path, f"must be an object, not {type(value).__name__}")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise RolloutError(f"{path}.{unknown[0]}", f"unknown field (known: {', '.join(sorted(keys))})")
    return value


def _list(value: object, path: str, most: int) -> list[Any]:
    if not isinstance(value, list):
        raise RolloutError(path, f"must be a list, not {type(value).__name__}")
    if len(value) > most:
        raise RolloutError(path, f"at most {most} entries, not {len(value)}")
    return value


def parse(value: object) -> Rollout:
    """The rollout options from their wire form (None or {}: none). Raises :class:`RolloutError`."""
    if value is None:
        return Rollout()
    obj = _object(value, "rollout", {"waves", "advanceAtSuccessPercent", "soakMinutes", "manualAdvance", "abort",
                                     "maintenanceWindow"})
    waves = []
    for i, raw in enumerate(_list(obj.get("waves") or [], "rollout.waves", MAX_WAVES)):
        path = f"rollout.waves[{i}]"
        w = _object(raw, path, {"percent", "count"})
        if ("percent" in w) == ("count" in w):
            raise RolloutError(path, 'give either "percent" or "count"')
        waves.append(Wave(percent=_int(w, "percent", path, 1, 100)) if "percent" in w
                      else Wave(count=_int(w, "count", path, 1, 10_000_000)))
    manual = obj.get("manualAdvance", False)
    if not isinstance(manual, bool):
        raise RolloutError("rollout.manualAdvance", f"must be true or false, not {manual!r}")
    rules = []
    for i, raw in enumerate(_list(obj.get("abort") or [], "rollout.abort", MAX_ABORT_RULES)):
        path = f"rollout.abort[{i}]"
        r = _object(raw, path, {"failureType", "thresholdPercent", "minFinished"})
        kind = r.get("failureType", "ANY")
        if kind not in FAILURE_TYPES:
            raise RolloutError(f"{path}.failureType", f"must be one of {', '.join(FAILURE_TYPES)}, not {kind!r}")
        rules.append(AbortRule(kind, _int(r, "thresholdPercent", path, 1, 100),
                               _int(r, "minFinished", path, 1, 10_000_000, default=1)))
    window = None
    if obj.get("maintenanceWindow") is not None:
        path = "rollout.maintenanceWindow"
        m = _object(obj["maintenanceWindow"], path, {"start", "durationMinutes", "timeZone"})
        start = m.get("start")
        if not isinstance(start, str) or not _HHMM.match(start):
            raise RolloutError(f"{path}.start", f'must be a time of day "HH:MM" (24 h), not {start!r}')
        zone = m.get("timeZone", "UTC")
        if not isinstance(zone, str) or not zone or len(zone) > 64:
            raise RolloutError(f"{path}.timeZone", f"must be a time zone name such as Europe/Berlin, not {zone!r}")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise RolloutError(f"{path}.timeZone", f"unknown time zone {zone!r} (e.g. UTC, Asia/Shanghai)") from None
        window = Window(start, _int(m, "durationMinutes", path, 1, 24 * 60), zone)
    return Rollout(
        waves=tuple(waves),
        advance_at_success_percent=_int(obj, "advanceAtSuccessPercent", "rollout", 0, 100, default=100),
        soak_minutes=_int(obj, "soakMinutes", "rollout", 0, MAX_SOAK_MINUTES, default=0),
        manual_advance=manual,
        abort=tuple(rules),
        window=window,
    )


# ---- waves --------------------------------------------------------------------------------

def wave_sizes(total: int, waves: Sequence[Wave]) -> list[int]:
    """How many of ``total`` devices each wave gets (the last takes the rest; empty waves stay)."""
    if not waves:
        return [total]
    sizes, left = [], total
    for wave in waves[:-1]:
        want = math.ceil(total * wave.percent / 100) if wave.percent else wave.count
        take = min(left, max(1, want)) if left else 0
        sizes.append(take)
        left -= take
    sizes.append(left)
    return sizes


def assign_waves(names: Sequence[str], waves: Sequence[Wave]) -> list[int]:
    """The wave (0-based) of each device, in the order given (the caller's order is the plan's)."""
    out: list[int] = []
    for index, size in enumerate(wave_sizes(len(names), waves)):
        out += [index] * size
    return out


# ---- abort --------------------------------------------------------------------------------

def abort_reason(rules: Sequence[AbortRule], finished: int, failed: int, timed_out: int) -> str | None:
    """The first rule met, as a sentence for the task and its event; None when none is.

    ``finished``: devices that succeeded or failed for good; ``failed``: of those, failures the
    device reported; ``timed_out``: failures because it did not report in time."""
    for rule in rules:
        if finished < rule.min_finished or finished == 0:
            continue
        count = {"FAILED": failed, "TIMED_OUT": timed_out}.get(rule.failure_type, failed + timed_out)
        if count * 100 >= rule.threshold_percent * finished:
            what = {"FAILED": "failed", "TIMED_OUT": "timed out"}.get(rule.failure_type, "failed or timed out")
            return (f"aborted: {count} of {finished} finished devices {what} ({count * 100 / finished:.0f}% ≥ "
                    f"{rule.threshold_percent}%, after at least {rule.min_finished} finished)")
    return None


# ---- maintenance window -------------------------------------------------------------------

def _window_starts(window: Window, now_ms: int) -> tuple[datetime, datetime]:
    zone = ZoneInfo(window.time_zone)
    now = datetime.fromtimestamp(now_ms / 1000, zone)
    hour, minute = int(window.start[:2]), int(window.start[3:])
    today = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return today - timedelta(days=1), today


def in_window(window: Window | None, now_ms: int) -> bool:
    """Whether pushes are allowed at ``now_ms`` (no window: always)."""
    if window is None:
        return True
    now = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(window.time_zone))
    length = timedelta(minutes=window.duration_minutes)
    return any(start <= now < start + length for start in _window_starts(window, now_ms))


def next_window_ms(window: Window, now_ms: int) -> int:
    """Epoch milliseconds of the next opening at or after ``now_ms`` (now, if open)."""
    if in_window(window, now_ms):
        return now_ms
    _yesterday, today = _window_starts(window, now_ms)
    now = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(window.time_zone))
    start = today if today > now else today + timedelta(days=1)
    return int(start.timestamp() * 1000)
