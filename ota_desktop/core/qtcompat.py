"""Work-arounds for defects of the Qt binding, applied once at import of ``ota_desktop``.

PySide6 6.12.0 on CPython < 3.12: ``SignalInstance.emit()`` returns ``True`` without taking
a reference, so every emit from Python drops one reference to the ``True`` singleton; after
a few hundred emits CPython aborts with "bool_dealloc: deallocating True or False". From
3.12 on ``True`` is immortal and the defect is harmless. The work-around gives ``True`` the
same immortality by hand: its reference count is raised far beyond what any run can drop.
It is applied only when a probe shows the defect.
"""
from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

#: references added to True: a run would need 2**60 emits to use them up
_HEADROOM = 1 << 60


class _Probe(QObject):
    fired = Signal()


def emit_drops_true_reference() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(4):
        probe.fired.emit()
    after = sys.getrefcount(True)
    probe.deleteLater()
    return after < before


def apply() -> bool:
    """Apply the work-around when needed; returns True if it was applied."""
    if sys.version_info >= (3, 12) or getattr(apply, "done", False):
        return False
    if not emit_drops_true_reference():
        return False
    refcnt = ctypes.c_ssize_t.from_address(id(True))  # ob_refcnt is the first field of every object
    refcnt.value += _HEADROOM
    apply.done = True  # type: ignore[attr-defined]
    return True
