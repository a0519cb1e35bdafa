"""Rollout safety in the desktop (protocol 13.13): the task form's rollout editor (waves, advance
rule, abort rules, maintenance window, the "safe rollout" preset) and the live view's wave timeline.

The limits are ota_protocol.rollout's; the editor checks its values with the very parser the
backend uses (``rollout.parse``), so an error names the same field (``rollout.waves[1].percent``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QRectF, QSize, Qt, QTime, QTimeZone, Signal
from PySide6.QtGui import QColor, QHelpEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTimeEdit,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from ota_protocol import rollout as ro
from ota_protocol.codes import RecordStatus

from ..core import dto
from .forms import ERROR_STYLE
from .status import record_status_colour

#: the largest device count a wave may name (ota_protocol.rollout.parse)
MAX_WAVE_COUNT = 10_000_000
MAX_WINDOW_MINUTES = 24 * 60
ZONES = ("UTC", "Asia/Shanghai", "Asia/Singapore", "Asia/Tokyo", "Europe/Berlin", "Europe/London",
         "America/New_York", "America/Los_Angeles")
#: the error labels of the editor, by the part of the wire path they cover
SECTIONS = ("rollout.waves", "rollout.advance", "rollout.abort", "rollout.maintenanceWindow")
_ADVANCE_KEYS = ("rollout.advanceAtSuccessPercent", "rollout.soakMinutes", "rollout.manualAdvance")
MARK_STYLE = "border: 1px solid #dc2626;"


def section_of(path: str) -> str:
    """The editor's error label for a field path: ``rollout.waves[1].percent`` -> ``rollout.waves``."""
    for key in _ADVANCE_KEYS:
        if path.startswith(key):
            return "rollout.advance"
    for key in SECTIONS:
        if path.startswith(key):
            return key
    return "rollout"


def local_zone() -> str:
    """This computer's IANA time zone when Python knows it, else UTC."""
    name = bytes(QTimeZone.systemTimeZoneId().data()).decode(errors="replace")
    try:
        ro.parse({"maintenanceWindow": {"start": "00:00", "durationMinutes": 1, "timeZone": name}})
    except ro.RolloutError:
        return "UTC"
    return name


def _small_button(text: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setAutoRaise(True)
    return button


class _WaveRow:
    def __init__(self) -> None:
        self.label = QLabel()
        self.size_spin = QSpinBox(minimum=1, maximum=100, value=10)
        self.size_spin.setAccelerated(True)
        self.unit_combo = QComboBox()
        self.unit_combo.addItem(QCoreApplication.translate("RolloutEditor", "% of devices"), "percent")
        self.unit_combo.addItem(QCoreApplication.translate("RolloutEditor", "devices"), "count")
        self.count_label = QLabel()
        self.count_label.setObjectName("wave_preview")
        self.count_label.setStyleSheet("color: #4b5563;")
        self.remove_button = _small_button("✕", QCoreApplication.translate("RolloutEditor", "Remove this wave"))
        self.unit_combo.currentIndexChanged.connect(self._unit_changed)

    def _unit_changed(self) -> None:
        self.size_spin.setMaximum(100 if self.unit_combo.currentData() == "percent" else MAX_WAVE_COUNT)

    def widgets(self) -> list[QWidget]:
        return [self.label, self.size_spin, self.unit_combo, self.count_label, self.remove_button]

    def wave(self) -> ro.Wave:
        value = self.size_spin.value()
        return ro.Wave(percent=value) if self.unit_combo.currentData() == "percent" else ro.Wave(count=value)

    def set_wave(self, wave: ro.Wave) -> None:
        self.unit_combo.setCurrentIndex(0 if wave.percent else 1)
        self.size_spin.setValue(wave.percent or wave.count)


class _RuleRow:
    def __init__(self) -> None:
        self.type_combo = QComboBox()
        tr = QCoreApplication.translate
        texts = {"ANY": tr("RolloutEditor", "failed or timed out"), "FAILED": tr("RolloutEditor", "failed"),
                 "TIMED_OUT": tr("RolloutEditor", "timed out")}
        for kind in ro.FAILURE_TYPES[::-1]:  # ANY first: the usual choice
            self.type_combo.addItem(texts[kind], kind)
        self.at_label = QLabel("≥")
        self.threshold_spin = QSpinBox(minimum=1, maximum=100, value=10, suffix=" %")
        self.after_label = QLabel(QCoreApplication.translate("RolloutEditor", "after"))
        self.min_spin = QSpinBox(minimum=1, maximum=MAX_WAVE_COUNT, value=20,
                                 suffix=QCoreApplication.translate("RolloutEditor", " finished"))
        self.min_spin.setAccelerated(True)
        self.remove_button = _small_button("✕", QCoreApplication.translate("RolloutEditor", "Remove this rule"))

    def widgets(self) -> list[QWidget]:
        return [self.type_combo, self.at_label, self.threshold_spin, self.after_label, self.min_spin,
                self.remove_button]

    def rule(self) -> ro.AbortRule:
        return ro.AbortRule(self.type_combo.currentData(), self.threshold_spin.value(), self.min_spin.value())

    def set_rule(self, rule: ro.AbortRule) -> None:
        self.type_combo.setCurrentIndex(max(0, self.type_combo.findData(rule.failure_type)))
        self.threshold_spin.setValue(rule.threshold_percent)
        self.min_spin.setValue(rule.min_finished)


class RolloutEditor(QGroupBox):
    """The task form's rollout options: off by default (``on_check``), a plain task as before.

    The preset button works while the options are off: it turns them on."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None, make_error: Callable[[str], QLabel] | None = None) -> None:
        """``make_error(key)``: the error label of a section (a form's FieldErrors.make_label)."""
        super().__init__(parent)
        self._make_error = make_error
        self.setTitle(self.tr("Staged rollout"))
        self.on_check = QCheckBox(self.tr("Roll out in &waves, with automatic abort and a maintenance window"))
        self.error_labels: dict[str, QLabel] = {}
        self._marked: list[QWidget] = []

        self.preset_button = QPushButton(self.tr("&Safe rollout preset"))
        self.preset_button.setToolTip(self.tr("Waves of 1 %, 10 % and the rest; abort when 10 % of at least 20 "
                                              "finished devices failed or timed out"))
        self.preset_button.clicked.connect(self.apply_safe_preset)
        preset_hint = QLabel(self.tr("1 % → 10 % → the rest; abort at ≥ 10 % failures after 20 finished"))
        preset_hint.setStyleSheet("color: #4b5563;")
        preset_hint.setWordWrap(True)

        # -- waves and the advance rule (left)
        self._wave_rows: list[_WaveRow] = []
        self.waves_grid = QGridLayout()
        self.waves_grid.setContentsMargins(0, 0, 0, 0)
        self.waves_grid.setHorizontalSpacing(6)
        self.waves_grid.setVerticalSpacing(2)
        self.add_wave_button = QPushButton(self.tr("Add wave"))
        self.add_wave_button.clicked.connect(lambda: self.add_wave(ro.Wave(percent=100)))
        waves_note = QLabel(self.tr("The last wave takes every device left."))
        waves_note.setStyleSheet("color: #4b5563;")
        waves_note.setWordWrap(True)
        self.advance_spin = QSpinBox(minimum=0, maximum=100, value=100, suffix=self.tr(" % succeeded"))
        self.soak_spin = QSpinBox(minimum=0, maximum=ro.MAX_SOAK_MINUTES, value=0, suffix=self.tr(" min"))
        self.soak_spin.setAccelerated(True)
        self.manual_check = QCheckBox(self.tr("Only by hand (the live view's Advance button)"))
        advance_grid = QGridLayout()
        advance_grid.setContentsMargins(0, 0, 0, 0)
        advance_grid.addWidget(QLabel(self.tr("Next wave at:")), 0, 0)
        advance_grid.addWidget(self.advance_spin, 0, 1)
        advance_grid.addWidget(QLabel(self.tr("Soak time:")), 1, 0)
        advance_grid.addWidget(self.soak_spin, 1, 1)
        advance_grid.setColumnStretch(2, 1)
        left = QVBoxLayout()
        left.addWidget(self._heading(self.tr("Waves")))
        left.addLayout(self.waves_grid)
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_wave_button)
        add_row.addStretch(1)
        left.addLayout(add_row)
        left.addWidget(waves_note)
        left.addWidget(self._error("rollout.waves"))
        left.addLayout(advance_grid)
        left.addWidget(self.manual_check)
        left.addWidget(self._error("rollout.advance"))
        left.addStretch(1)

        # -- abort rules and the maintenance window (right)
        self._rule_rows: list[_RuleRow] = []
        self.rules_grid = QGridLayout()
        self.rules_grid.setContentsMargins(0, 0, 0, 0)
        self.rules_grid.setHorizontalSpacing(6)
        self.rules_grid.setVerticalSpacing(2)
        self.add_rule_button = QPushButton(self.tr("Add abort rule"))
        self.add_rule_button.clicked.connect(lambda: self.add_rule(ro.AbortRule()))
        self.no_rules_label = QLabel(self.tr("No automatic abort."))
        self.no_rules_label.setStyleSheet("color: #4b5563;")
        self.window_check = QCheckBox(self.tr("Push only in a daily window:"))
        self.window_start = QTimeEdit(QTime(22, 0))
        self.window_start.setDisplayFormat("HH:mm")
        self.window_duration = QSpinBox(minimum=1, maximum=MAX_WINDOW_MINUTES, value=240, suffix=self.tr(" min"))
        self.window_zone = QComboBox()
        self.window_zone.setEditable(True)
        self.window_zone.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        zone = local_zone()
        for name in dict.fromkeys((zone, *ZONES)):
            self.window_zone.addItem(name)
        self.window_zone.setMinimumContentsLength(12)
        self.window_zone.setToolTip(self.tr("An IANA time zone name, e.g. Asia/Shanghai"))
        window_row = QHBoxLayout()
        window_row.addWidget(QLabel(self.tr("from")))
        window_row.addWidget(self.window_start)
        window_row.addWidget(QLabel(self.tr("for")))
        window_row.addWidget(self.window_duration)
        window_row.addWidget(self.window_zone, 1)
        self.window_check.toggled.connect(self._update_enabled)
        right = QVBoxLayout()
        right.addWidget(self._heading(self.tr("Abort the task when")))
        right.addLayout(self.rules_grid)
        rules_row = QHBoxLayout()
        rules_row.addWidget(self.add_rule_button)
        rules_row.addWidget(self.no_rules_label)
        rules_row.addStretch(1)
        right.addLayout(rules_row)
        right.addWidget(self._error("rollout.abort"))
        right.addWidget(self._heading(self.tr("Maintenance window")))
        right.addWidget(self.window_check)
        right.addLayout(window_row)
        right.addWidget(self._error("rollout.maintenanceWindow"))
        right.addStretch(1)

        self.body = QWidget()
        body = QGridLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.addWidget(preset_hint, 0, 0, 1, 2)
        body.addWidget(self._error("rollout"), 1, 0, 1, 2)
        body.addLayout(left, 2, 0)
        body.addLayout(right, 2, 1)
        body.setColumnStretch(0, 1)
        body.setColumnStretch(1, 1)
        body.setHorizontalSpacing(18)
        top = QHBoxLayout()
        top.addWidget(self.on_check, 1)
        top.addWidget(self.preset_button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.body)
        self.body.setVisible(False)
        self.on_check.toggled.connect(self._toggled)

        for signal in (self.advance_spin.valueChanged, self.soak_spin.valueChanged, self.manual_check.toggled,
                       self.window_check.toggled, self.window_start.timeChanged, self.window_duration.valueChanged,
                       self.window_zone.currentTextChanged, self.on_check.toggled):
            signal.connect(self._changed)
        self._update_enabled()

    # -- building ------------------------------------------------------------------------------
    @staticmethod
    def _heading(text: str) -> QLabel:
        label = QLabel(f"<b>{text}</b>")
        return label

    def _error(self, key: str) -> QLabel:
        if self._make_error is not None:
            label = self._make_error(key)
        else:
            label = QLabel()
            label.setObjectName(f"error_{key}")
            label.setStyleSheet(ERROR_STYLE)
            label.setWordWrap(True)
            label.hide()
        self.error_labels[key] = label
        return label

    def is_on(self) -> bool:
        return self.on_check.isChecked()

    def set_on(self, on: bool) -> None:
        self.on_check.setChecked(on)

    def _toggled(self, on: bool) -> None:
        self.body.setVisible(on)
        if on and not self._wave_rows and not self._rule_rows:
            self.apply_safe_preset()  # a starting point, not an empty box

    def add_wave(self, wave: ro.Wave) -> None:
        if len(self._wave_rows) >= ro.MAX_WAVES:
            return
        row = _WaveRow()
        row.set_wave(wave)
        row.size_spin.valueChanged.connect(self._changed)
        row.unit_combo.currentIndexChanged.connect(self._changed)
        row.remove_button.clicked.connect(lambda: self.remove_wave(row))
        self._wave_rows.append(row)
        self._relayout_waves()
        self._changed()

    def remove_wave(self, row: _WaveRow) -> None:
        self._wave_rows.remove(row)
        for w in row.widgets():
            self.waves_grid.removeWidget(w)
            w.deleteLater()
        self._relayout_waves()
        self._changed()

    def _relayout_waves(self) -> None:
        for n, row in enumerate(self._wave_rows):
            row.label.setText(self.tr("Wave %1").replace("%1", str(n + 1)))
            for c, w in enumerate(row.widgets()):
                self.waves_grid.addWidget(w, n, c)
        self.waves_grid.setColumnStretch(3, 1)
        self._update_enabled()

    def add_rule(self, rule: ro.AbortRule) -> None:
        if len(self._rule_rows) >= ro.MAX_ABORT_RULES:
            return
        row = _RuleRow()
        row.set_rule(rule)
        row.type_combo.currentIndexChanged.connect(self._changed)
        row.threshold_spin.valueChanged.connect(self._changed)
        row.min_spin.valueChanged.connect(self._changed)
        row.remove_button.clicked.connect(lambda: self.remove_rule(row))
        self._rule_rows.append(row)
        for c, w in enumerate(row.widgets()):
            self.rules_grid.addWidget(w, len(self._rule_rows) - 1, c)
        self.rules_grid.setColumnStretch(6, 1)
        self._update_enabled()
        self._changed()

    def remove_rule(self, row: _RuleRow) -> None:
        self._rule_rows.remove(row)
        for w in row.widgets():
            self.rules_grid.removeWidget(w)
            w.deleteLater()
        for n, other in enumerate(self._rule_rows):
            for c, w in enumerate(other.widgets()):
                self.rules_grid.addWidget(w, n, c)
        self._update_enabled()
        self._changed()

    def clear(self) -> None:
        for row in list(self._wave_rows):
            self.remove_wave(row)
        for rule in list(self._rule_rows):
            self.remove_rule(rule)

    def _update_enabled(self) -> None:
        self.add_wave_button.setEnabled(len(self._wave_rows) < ro.MAX_WAVES)
        self.add_rule_button.setEnabled(len(self._rule_rows) < ro.MAX_ABORT_RULES)
        self.no_rules_label.setVisible(not self._rule_rows)
        has_waves = bool(self._wave_rows)
        advance: tuple[QWidget, ...] = (self.advance_spin, self.soak_spin, self.manual_check)
        for w in advance:
            w.setEnabled(has_waves)
        window: tuple[QWidget, ...] = (self.window_start, self.window_duration, self.window_zone)
        for w in window:
            w.setEnabled(self.window_check.isChecked())

    def _changed(self, *_args: object) -> None:
        self.unmark()
        self.changed.emit()

    # -- values --------------------------------------------------------------------------------
    def apply_safe_preset(self) -> None:
        """Fill in ota_protocol's SAFE_PRESET (1 % → 10 % → the rest, abort ANY at 10 % after 20)."""
        self.set_rollout(ro.SAFE_PRESET)
        self.set_on(True)

    def set_rollout(self, rollout: ro.Rollout) -> None:
        blocked = self.blockSignals(True)
        try:
            self.clear()
            for wave in rollout.waves:
                self.add_wave(wave)
            for rule in rollout.abort:
                self.add_rule(rule)
            self.advance_spin.setValue(rollout.advance_at_success_percent)
            self.soak_spin.setValue(rollout.soak_minutes)
            self.manual_check.setChecked(rollout.manual_advance)
            self.window_check.setChecked(rollout.window is not None)
            if rollout.window is not None:
                self.window_start.setTime(QTime.fromString(rollout.window.start, "HH:mm"))
                self.window_duration.setValue(rollout.window.duration_minutes)
                self.window_zone.setCurrentText(rollout.window.time_zone)
        finally:
            self.blockSignals(blocked)
        self._update_enabled()
        self._changed()

    def rollout(self) -> ro.Rollout:
        """The options as shown (an unchecked box: none)."""
        if not self.is_on():
            return ro.Rollout()
        window = None
        if self.window_check.isChecked():
            window = ro.Window(self.window_start.time().toString("HH:mm"), self.window_duration.value(),
                               self.window_zone.currentText().strip())
        return ro.Rollout(tuple(r.wave() for r in self._wave_rows), self.advance_spin.value(),
                          self.soak_spin.value(), self.manual_check.isChecked(),
                          tuple(r.rule() for r in self._rule_rows), window)

    def wire(self) -> dict | None:
        """The ``rollout`` of task/create, None for a plain task."""
        value = self.rollout()
        return None if value.empty else value.to_wire()

    def problems(self) -> dict[str, str]:
        """What ota_protocol's parser (the backend's) says of the values: {label key: message}."""
        wire = self.wire()
        if wire is None:
            return {}
        try:
            ro.parse(wire)
        except ro.RolloutError as exc:
            return {section_of(exc.field): str(exc)}
        return {}

    def wave_count(self) -> int:
        return len(self._wave_rows)

    # -- preview and errors --------------------------------------------------------------------
    def set_preview(self, counts: list[int] | None) -> None:
        """Devices per wave as task/preview planned them (None: not known)."""
        for n, row in enumerate(self._wave_rows):
            if counts is None or n >= len(counts) or len(counts) != len(self._wave_rows):
                row.count_label.clear()
            else:
                row.count_label.setText(self.tr("→ %n device(s)", "", counts[n]))

    def mark(self, path: str) -> None:
        """Outline the input a field path names (``rollout.waves[1].percent``: wave 2's size)."""
        widget: QWidget | None = None
        for prefix, rows, attr in (("rollout.waves[", self._wave_rows, "size_spin"),
                                   ("rollout.abort[", self._rule_rows, None)):
            if path.startswith(prefix):
                index = path[len(prefix):].split("]", 1)[0]
                if index.isdigit() and int(index) < len(rows):
                    row = rows[int(index)]
                    if attr:
                        widget = getattr(row, attr)
                    elif isinstance(row, _RuleRow):
                        widget = row.min_spin if "minFinished" in path else row.threshold_spin
        if path.startswith("rollout.maintenanceWindow"):
            widget = {"start": self.window_start, "durationMinutes": self.window_duration}.get(
                path.rsplit(".", 1)[-1], self.window_zone)
        elif path.startswith("rollout.advanceAtSuccessPercent"):
            widget = self.advance_spin
        elif path.startswith("rollout.soakMinutes"):
            widget = self.soak_spin
        if widget is not None:
            widget.setStyleSheet(MARK_STYLE)
            self._marked.append(widget)

    def unmark(self) -> None:
        for w in self._marked:
            w.setStyleSheet("")
        self._marked.clear()


# ---- the live view's timeline ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Part:
    key: str
    colour: QColor


def _parts() -> list[_Part]:
    return [_Part("succeeded", record_status_colour(RecordStatus.SUCCEEDED)),
            _Part("failed", record_status_colour(RecordStatus.FAILED)),
            _Part("timedOut", QColor("#9a3412")),
            _Part("cancelled", record_status_colour(RecordStatus.CANCELLED)),
            _Part("active", record_status_colour(RecordStatus.UPGRADING))]


class WaveTimeline(QWidget):
    """One segment per wave, as wide as its devices (at least ``MIN_SEGMENT``), filled by its
    succeeded / failed / timed-out / cancelled / active devices; the current wave outlined,
    waves not released yet pale."""

    MIN_SEGMENT = 44
    BAR = 18

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.waves: list[dto.WaveState] = []
        self.current = 1
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)

    def set_waves(self, waves: list[dto.WaveState], current: int) -> None:
        self.waves, self.current = list(waves), current
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(max(240, self.MIN_SEGMENT * len(self.waves)), self.BAR + self.fontMetrics().height() + 6)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.MIN_SEGMENT * max(1, len(self.waves)), self.sizeHint().height())

    def segments(self) -> list[QRectF]:
        """Each wave's rectangle in the bar."""
        if not self.waves:
            return []
        gap = 3.0
        width = self.width() - gap * (len(self.waves) - 1)
        total = sum(max(w.total, 0) for w in self.waves) or 1
        shares = [max(w.total, 0) / total * width for w in self.waves]
        # widen the narrow ones to MIN_SEGMENT, taking the room from the others in proportion
        small = [s < self.MIN_SEGMENT for s in shares]
        fixed = self.MIN_SEGMENT * sum(small)
        rest = sum(s for s, tiny in zip(shares, small, strict=True) if not tiny) or 1
        room = max(width - fixed, 0)
        out, x = [], 0.0
        for s, tiny in zip(shares, small, strict=True):
            w = self.MIN_SEGMENT if tiny else s / rest * room
            out.append(QRectF(x, 1, w, self.BAR))
            x += w + gap
        return out

    def wave_text(self, wave: dto.WaveState) -> str:
        done = wave.succeeded + wave.failed + wave.timedOut + wave.cancelled
        return self.tr("Wave %1: %2 of %3 finished").replace("%1", str(wave.wave)).replace(
            "%2", str(done)).replace("%3", str(wave.total))

    def tooltip(self, wave: dto.WaveState) -> str:
        parts = [self.wave_text(wave),
                 self.tr("%1 succeeded, %2 failed, %3 timed out, %4 cancelled, %5 active").replace(
                     "%1", str(wave.succeeded)).replace("%2", str(wave.failed)).replace(
                     "%3", str(wave.timedOut)).replace("%4", str(wave.cancelled)).replace("%5", str(wave.active))]
        if not wave.released:
            parts.append(self.tr("not released yet"))
        elif wave.wave == self.current:
            parts.append(self.tr("the current wave"))
        return "\n".join(parts)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = self.fontMetrics()
        pale = QColor("#e5e7eb")
        for wave, rect in zip(self.waves, self.segments(), strict=True):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pale)
            painter.drawRoundedRect(rect, 3, 3)
            if wave.total:
                x = rect.left()
                for part in _parts():
                    n = getattr(wave, part.key)
                    if n <= 0 or (part.key == "active" and not wave.released):
                        continue  # a wave not released yet: its devices wait (pale)
                    w = rect.width() * n / wave.total
                    colour = QColor(part.colour)
                    if not wave.released:
                        colour.setAlpha(110)
                    painter.setBrush(colour)
                    painter.drawRect(QRectF(x, rect.top(), w, rect.height()))
                    x += w
            if wave.wave == self.current:
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.setPen(QPen(QColor("#111827"), 2))
                painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), 3, 3)
            mark = "▶ " if wave.wave == self.current else ""
            label = mark + f"{wave.wave} · {wave.total}"
            long = mark + self.tr("Wave %1 · %n device(s)", "", wave.total).replace("%1", str(wave.wave))
            if fm.horizontalAdvance(long) <= rect.width():
                label = long
            painter.setPen(self.palette().text().color() if wave.released else QColor("#6b7280"))
            text_rect = QRectF(rect.left(), rect.bottom() + 2, rect.width(), fm.height())
            painter.drawText(text_rect, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
                             fm.elidedText(label, Qt.TextElideMode.ElideRight, int(rect.width())))
        painter.end()

    def event(self, event) -> bool:  # noqa: ANN001
        if event.type() == event.Type.ToolTip and isinstance(event, QHelpEvent):
            for wave, rect in zip(self.waves, self.segments(), strict=True):
                if rect.left() <= event.pos().x() <= rect.right():
                    QToolTip.showText(event.globalPos(), self.tooltip(wave), self)
                    return True
            QToolTip.hideText()
            return True
        return super().event(event)
