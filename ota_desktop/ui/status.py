"""How codes look: their translated texts and the statuses' colours.

The texts are ota_protocol's (``codes.TEXT``, one table for the backend, the desktop and the
simulator), translated in the context ``"ota_protocol"`` of the .ts file.
"""
from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap, Qt

from ota_protocol.codes import TEXT, RecordStatus, Step, TaskStatus

from ..i18n import QT_TRANSLATE_NOOP

# the .ts context of ota_protocol's code texts
CODES_CONTEXT = "ota_protocol"

_RECORD_COLOUR = {
    RecordStatus.CONFIRM: "#8e6c00",
    RecordStatus.QUEUED: "#6b7280",
    RecordStatus.QUEUED_OFFLINE: "#6b7280",
    RecordStatus.QUEUED_RETRY: "#b45309",
    RecordStatus.PUSHED: "#2563eb",
    RecordStatus.UPGRADING: "#0e7490",
    RecordStatus.SUCCEEDED: "#15803d",
    RecordStatus.FAILED: "#dc2626",
    RecordStatus.CANCELLED: "#4b5563",
}

_TASK_COLOUR = {TaskStatus.NOT_STARTED: "#6b7280", TaskStatus.UPGRADING: "#0e7490",
                TaskStatus.DONE: "#15803d", TaskStatus.CANCELLED: "#4b5563", TaskStatus.ABORTED: "#b91c1c"}

# the groups offered by the live table's status filter, in display order: a label (a status
# stands for itself; otherwise a source text of the "Status" context) and the statuses it holds
_WAITING = str(QT_TRANSLATE_NOOP("Status", "Waiting"))
RECORD_FILTER_GROUPS: list[tuple[RecordStatus | str, frozenset[int]]] = [
    (_WAITING, frozenset(s for s in RecordStatus if s < RecordStatus.PUSHED)),
    *((s, frozenset({s})) for s in (RecordStatus.PUSHED, RecordStatus.UPGRADING, RecordStatus.SUCCEEDED,
                                    RecordStatus.FAILED, RecordStatus.CANCELLED)),
]


def code_text(code: Enum) -> str:
    """The translated text of one of ota_protocol's codes (a status, step, error code...)."""
    return QCoreApplication.translate(CODES_CONTEXT, TEXT[code])


def _known(enum: type[Enum], code: int) -> Enum | None:
    try:
        member = enum(code)
    except (ValueError, TypeError):
        return None
    return member if member in TEXT else None


def _unknown_status(code: int) -> str:
    return QCoreApplication.translate("Status", "Status %1").replace("%1", str(code))


def record_filter_groups() -> list[tuple[str, frozenset[int]]]:
    """RECORD_FILTER_GROUPS with their translated labels."""
    return [(code_text(label) if isinstance(label, Enum) else QCoreApplication.translate("Status", label), codes)
            for label, codes in RECORD_FILTER_GROUPS]


def record_status_text(code: int) -> str:
    member = _known(RecordStatus, code)
    return code_text(member) if member is not None else _unknown_status(code)


def record_status_colour(code: int) -> QColor:
    return QColor(_RECORD_COLOUR.get(code, "#6b7280"))  # type: ignore[call-overload]


def step_text(step: int) -> str:
    """What a failure step means ("Download failed"), or "" for a progress step."""
    member = _known(Step, step)
    return code_text(member) if member is not None else ""


def task_status_text(code: int) -> str:
    member = _known(TaskStatus, code)
    return code_text(member) if member is not None else _unknown_status(code)


def task_status_colour(code: int) -> QColor:
    return QColor(_TASK_COLOUR.get(code, "#6b7280"))  # type: ignore[call-overload]


_dots: dict[str, QIcon] = {}


def dot_icon(colour: QColor) -> QIcon:
    """A small filled circle, cached per colour (the status column's decoration)."""
    key = colour.name()
    icon = _dots.get(key)
    if icon is None:
        pix = QPixmap(12, 12)
        pix.fill(Qt.GlobalColor.transparent)
        p = QPainter(pix)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setBrush(colour)
        p.setPen(Qt.PenStyle.NoPen)
        p.drawEllipse(1, 1, 10, 10)
        p.end()
        icon = _dots[key] = QIcon(pix)
    return icon
