"""Tasks table and the files table of an upload in progress."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, QLocale, Qt

from ...core import dto
from ...core.uploader import UploadFile
from ...i18n import QT_TRANSLATE_NOOP
from ..status import dot_icon, task_status_colour, task_status_text
from .base import NUMERIC, VALUE_ROLE, Column, RowTableModel, format_time


def _type_text(t: dto.Task) -> str:
    return QCoreApplication.translate("TasksModel", "targeted") if t.type == dto.TaskType.TARGETED else QCoreApplication.translate("TasksModel", "all devices")


def _upgrade_text(t: dto.Task) -> str:
    return QCoreApplication.translate("TasksModel", "dynamic") if t.upgradeType == dto.UpgradeType.DYNAMIC else QCoreApplication.translate("TasksModel", "static")


class TasksModel(RowTableModel[dto.Task]):
    CONTEXT = "TasksModel"
    ID, VERSION, TYPE, UPGRADE, STATUS, CREATED, UID = range(7)
    COLUMNS = (
        Column(QT_TRANSLATE_NOOP("TasksModel", "Task"), lambda t: t.taskID, align=NUMERIC),
        Column(QT_TRANSLATE_NOOP("TasksModel", "Firmware version"), lambda t: t.version),
        Column(QT_TRANSLATE_NOOP("TasksModel", "Devices"), _type_text),
        Column(QT_TRANSLATE_NOOP("TasksModel", "Upgrade"), _upgrade_text),
        Column(QT_TRANSLATE_NOOP("TasksModel", "Status"), lambda t: task_status_text(t.status), lambda t: t.status),
        Column(QT_TRANSLATE_NOOP("TasksModel", "Created"), lambda t: format_time(t.createdTime),
               lambda t: int(t.createdTime or 0)),
        Column(QT_TRANSLATE_NOOP("TasksModel", "Task UID"), lambda t: t.taskUid),
    )

    def extra_data(self, row: dto.Task, column: int, role: int) -> Any:
        if column == self.STATUS:
            if role == Qt.ItemDataRole.DecorationRole:
                return dot_icon(task_status_colour(row.status))
        return None

    def status_counts(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for t in self._rows:
            counts[t.status] = counts.get(t.status, 0) + 1
        return counts

    def apply_task_events(self, events: list[dict[str, Any]]) -> None:
        index: dict[str | None, int] = {t.taskUid: i for i, t in enumerate(self._rows)}
        changed = set()
        for ev in events:
            i = index.get(ev.get("taskUid"))
            if i is not None and "status" in ev:
                self._rows[i].status = int(ev["status"])
                changed.add(i)
        for i in sorted(changed):
            self.dataChanged.emit(self.index(i, self.STATUS), self.index(i, self.STATUS))


def _state_text(f: UploadFile) -> str:
    texts = {
        "pending": QT_TRANSLATE_NOOP("UploadFilesModel", "waiting"),
        "uploading": QT_TRANSLATE_NOOP("UploadFilesModel", "uploading"),
        "uploaded": QT_TRANSLATE_NOOP("UploadFilesModel", "uploaded"),
        "failed": QT_TRANSLATE_NOOP("UploadFilesModel", "failed"),
        "cancelled": QT_TRANSLATE_NOOP("UploadFilesModel", "cancelled"),
    }
    return QCoreApplication.translate("UploadFilesModel", texts.get(f.state, f.state))


def _percent(f: UploadFile) -> int:
    return 100 if f.size == 0 and f.state == "uploaded" else (f.sent * 100 // f.size if f.size else 0)


class UploadFilesModel(RowTableModel[UploadFile]):
    CONTEXT = "UploadFilesModel"
    NAME, SIZE, PROGRESS, STATE, DIGEST = range(5)
    COLUMNS = (
        Column(QT_TRANSLATE_NOOP("UploadFilesModel", "File"), lambda f: f.name),
        Column(QT_TRANSLATE_NOOP("UploadFilesModel", "Size"), lambda f: QLocale().formattedDataSize(int(f.size)),
               lambda f: f.size, NUMERIC),  # a chosen file's size, 0 included ("0 bytes")
        Column(QT_TRANSLATE_NOOP("UploadFilesModel", "Progress"), lambda f: f"{_percent(f)}%", _percent),
        Column(QT_TRANSLATE_NOOP("UploadFilesModel", "State"), _state_text),
        Column(QT_TRANSLATE_NOOP("UploadFilesModel", "Local digest"), lambda f: f.digest),
    )

    def extra_data(self, row: UploadFile, column: int, role: int) -> Any:
        if role == VALUE_ROLE and column == self.PROGRESS:
            return _percent(row)
        if role == Qt.ItemDataRole.ToolTipRole and column == self.NAME:
            return row.path
        return None
