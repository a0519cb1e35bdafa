"""Painting helpers for table cells."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionProgressBar, QStyleOptionViewItem

from .models.base import VALUE_ROLE

FAILED_TEXT = QColor("#dc2626")


class ProgressDelegate(QStyledItemDelegate):
    """A progress bar for an integer 0..100 in VALUE_ROLE; a negative value (a failed step)
    is painted as the cell's text in red."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        value = index.data(VALUE_ROLE)
        if value is None:
            super().paint(painter, option, index)
            return
        value = int(value)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        if value < 0:
            painter.save()
            painter.setPen(FAILED_TEXT)
            painter.drawText(option.rect.adjusted(4, 0, -4, 0), Qt.AlignmentFlag.AlignVCenter, str(index.data()))
            painter.restore()
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(3, 3, -3, -3)
        bar.minimum, bar.maximum, bar.progress = 0, 100, max(0, min(100, value))
        bar.text = f"{bar.progress}%"
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        bar.palette = option.palette
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)
