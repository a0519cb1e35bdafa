"""Work-arounds for defects of the Qt binding, applied once at import of ``ota_desktop``.

PySide6 6.12.0 on CPython < 3.12 returns singletons without taking a reference:
``SignalInstance.emit()`` returns ``True`` and every wrapped ``void`` method (``setText``,
``setValue``, ...) returns ``None`` that way, so each call drops one reference to the
singleton; after enough calls CPython aborts ("bool_dealloc: deallocating True or False",
"none_dealloc: deallocating None"). 6.11 does not do this, and from CPython 3.12 on these
singletons are immortal, which makes the defect harmless. The work-around gives them that
immortality by hand: their reference count is raised far beyond what any run can drop.
It is applied only to the singletons a probe shows are affected.
"""
from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

#: references added: a run would need 2**60 calls to use them up
_HEADROOM = 1 << 60
_applied: set[str] = set()


class _Probe(QObject):
    fired = Signal()


def _drops(singleton: object, call) -> bool:  # noqa: ANN001
    before = sys.getrefcount(singleton)
    for _ in range(8):
        call()
    return sys.getrefcount(singleton) < before


def affected() -> dict[str, object]:
    """The singletons this binding drops references to (name -> object)."""
    probe = _Probe()
    found: dict[str, object] = {}
    if _drops(True, probe.fired.emit):
        found["True"] = True
    if _drops(None, lambda: probe.setObjectName("probe")):
        found["None"] = None
    if _drops(False, lambda: probe.blockSignals(False)):
        found["False"] = False
    probe.deleteLater()
    return found


def apply() -> list[str]:
    """Apply the work-around where needed; returns the names of the singletons it covered."""
    if sys.version_info >= (3, 12):
        return []
    done = []
    for name, obj in affected().items():
        if name in _applied:
            continue
        refcnt = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field of every object
        refcnt.value += _HEADROOM
        _applied.add(name)
        done.append(name)
    return done
