"""How statuses look: translated names (spec section 5 table) and colours."""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QT_TRANSLATE_NOOP
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap, Qt

from ..core.dto import RecordStatus, TaskStatus

_RECORD_TEXT = {
    RecordStatus.AWAITING_CONFIRMATION: QT_TRANSLATE_NOOP("RecordStatus", "Awaiting confirmation"),
    RecordStatus.QUEUED: QT_TRANSLATE_NOOP("RecordStatus", "Queued"),
    RecordStatus.QUEUED_OFFLINE: QT_TRANSLATE_NOOP("RecordStatus", "Queued (device offline)"),
    RecordStatus.QUEUED_RETRY: QT_TRANSLATE_NOOP("RecordStatus", "Queued (retry)"),
    RecordStatus.PUSHED: QT_TRANSLATE_NOOP("RecordStatus", "Pushed"),
    RecordStatus.UPGRADING: QT_TRANSLATE_NOOP("RecordStatus", "Upgrading"),
    RecordStatus.SUCCEEDED: QT_TRANSLATE_NOOP("RecordStatus", "Succeeded"),
    RecordStatus.FAILED: QT_TRANSLATE_NOOP("RecordStatus", "Failed"),
    RecordStatus.CANCELLED: QT_TRANSLATE_NOOP("RecordStatus", "Cancelled"),
}

_RECORD_COLOUR = {
    RecordStatus.AWAITING_CONFIRMATION: "#8e6c00",
    RecordStatus.QUEUED: "#6b7280",
    RecordStatus.QUEUED_OFFLINE: "#6b7280",
    RecordStatus.QUEUED_RETRY: "#b45309",
    RecordStatus.PUSHED: "#2563eb",
    RecordStatus.UPGRADING: "#0e7490",
    RecordStatus.SUCCEEDED: "#15803d",
    RecordStatus.FAILED: "#dc2626",
    RecordStatus.CANCELLED: "#4b5563",
}

_TASK_TEXT = {
    TaskStatus.NOT_STARTED: QT_TRANSLATE_NOOP("TaskStatus", "Not started"),
    TaskStatus.UPGRADING: QT_TRANSLATE_NOOP("TaskStatus", "Upgrading"),
    TaskStatus.DONE: QT_TRANSLATE_NOOP("TaskStatus", "Done"),
    TaskStatus.CANCELLED: QT_TRANSLATE_NOOP("TaskStatus", "Cancelled"),
}

_TASK_COLOUR = {TaskStatus.NOT_STARTED: "#6b7280", TaskStatus.UPGRADING: "#0e7490",
                TaskStatus.DONE: "#15803d", TaskStatus.CANCELLED: "#4b5563"}

_STEP_TEXT = {
    -1: QT_TRANSLATE_NOOP("RecordStatus", "Upgrade failed"),
    -2: QT_TRANSLATE_NOOP("RecordStatus", "Download failed"),
    -3: QT_TRANSLATE_NOOP("RecordStatus", "Verification failed"),
    -4: QT_TRANSLATE_NOOP("RecordStatus", "Flashing failed"),
}

#: the groups offered by the live table's status filter, in display order
RECORD_FILTER_GROUPS: list[tuple[str, frozenset[int]]] = [
    (QT_TRANSLATE_NOOP("RecordStatus", "Waiting"), frozenset({101, 201, 202, 203})),
    (QT_TRANSLATE_NOOP("RecordStatus", "Pushed"), frozenset({301})),
    (QT_TRANSLATE_NOOP("RecordStatus", "Upgrading"), frozenset({401})),
    (QT_TRANSLATE_NOOP("RecordStatus", "Succeeded"), frozenset({501})),
    (QT_TRANSLATE_NOOP("RecordStatus", "Failed"), frozenset({601})),
    (QT_TRANSLATE_NOOP("RecordStatus", "Cancelled"), frozenset({701})),
]


def record_status_text(code: int) -> str:
    source = _RECORD_TEXT.get(code)  # type: ignore[call-overload]
    if source is None:
        return QCoreApplication.translate("RecordStatus", "Status %1").replace("%1", str(code))
    return QCoreApplication.translate("RecordStatus", source)


def record_status_colour(code: int) -> QColor:
    return QColor(_RECORD_COLOUR.get(code, "#6b7280"))  # type: ignore[call-overload]


def step_text(step: int) -> str:
    source = _STEP_TEXT.get(step)
    return QCoreApplication.translate("RecordStatus", source) if source else ""


def task_status_text(code: int) -> str:
    source = _TASK_TEXT.get(code)  # type: ignore[call-overload]
    if source is None:
        return QCoreApplication.translate("TaskStatus", "Status %1").replace("%1", str(code))
    return QCoreApplication.translate("TaskStatus", source)


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
