"""The New-task form: every field of task/create (spec section 5), rollout settings included."""
from __future__ import annotations

from functools import partial

from PySide6.QtCore import QDateTime, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ota_protocol.task_options import OPTIONS

from ..core import dto
from ..core.api_client import ApiCall, ApiClient, ApiError
from .device_picker import DevicePicker, parse_names
from .forms import FRAME_ALLOWANCE, FieldErrors, api_error_text, available_size, fit_on_show
from .rollout_widgets import SECTIONS, RolloutEditor, section_of

#: the default size; a laptop's 1366x768 screen with its taskbar leaves about 700 px
DEFAULT_SIZE = (960, 660)
#: the preview (task/preview) follows the form this long after its last change
PREVIEW_DELAY_MS = 600
#: task/preview's reasons for leaving a device out (protocol 13.13), in the order shown
EXCLUDED_ORDER = ("onTargetVersion", "versionFilter", "grayShare", "busy", "newerVersion")


def option_spin(name: str, suffix: str = "") -> QSpinBox:
    """A spin box for task parameter ``name``: its bounds and default are ota_protocol's OPTIONS."""
    option = OPTIONS[name]
    return QSpinBox(minimum=option.low, maximum=option.high, value=option.default, suffix=suffix)


class NewTaskDialog(QDialog):
    created = Signal(object)  # {"taskID", "taskUid"} of the new task

    def __init__(self, client: ApiClient, firmwares: list[dto.Firmware], firmware_id: int = 0,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.setWindowTitle(self.tr("New upgrade task"))
        screen = available_size(self)
        self.resize(min(DEFAULT_SIZE[0], screen.width()), min(DEFAULT_SIZE[1], screen.height() - FRAME_ALLOWANCE))
        self.result_data: dict | None = None
        self._firmwares = {f.firmwareID: f for f in firmwares}

        self.firmware_combo = QComboBox()
        self.firmware_combo.addItem(self.tr("Choose a firmware…"), 0)
        for f in firmwares:
            self.firmware_combo.addItem(f"{f.name} {f.version} — {f.productName or f.productID} (#{f.firmwareID})",
                                        f.firmwareID)

        self.all_radio = QRadioButton(self.tr("&All devices of the product"))
        self.targeted_radio = QRadioButton(self.tr("&Chosen devices"))
        self.all_radio.setChecked(True)
        self.type_group, type_box = self._radio_row(
            [(self.all_radio, dto.TaskType.ALL), (self.targeted_radio, dto.TaskType.TARGETED)])

        self.static_radio = QRadioButton(self.tr("&Static (devices fixed now)"))
        self.dynamic_radio = QRadioButton(self.tr("D&ynamic (keeps adding matching devices)"))
        self.static_radio.setChecked(True)
        self.upgrade_group, upgrade_box = self._radio_row(
            [(self.static_radio, dto.UpgradeType.STATIC), (self.dynamic_radio, dto.UpgradeType.DYNAMIC)])

        self.picker = DevicePicker()
        self.picker.setEnabled(False)

        self.versions_list = QListWidget()
        self.versions_list.setFixedHeight(54)
        self.versions_list.setFlow(QListWidget.Flow.LeftToRight)
        self.versions_list.setWrapping(True)
        self.version_add_edit = QLineEdit()
        self.version_add_edit.setPlaceholderText(self.tr("other version"))
        self.version_add_button = QPushButton(self.tr("Add"))
        self.version_add_button.clicked.connect(self._add_version_from_edit)
        versions_box = QWidget()
        versions_box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        vl = QVBoxLayout(versions_box)
        vl.setContentsMargins(0, 0, 0, 0)
        vl.addWidget(self.versions_list)
        vrow = QHBoxLayout()
        vrow.addWidget(self.version_add_edit)
        vrow.addWidget(self.version_add_button)
        vrow.addStretch(1)
        vl.addLayout(vrow)

        self.retry_spin = option_spin("retry_count")
        self.retry_interval_spin = option_spin("retry_interval_minutes", suffix=self.tr(" min"))
        self.timeout_spin = option_spin("timeout_minutes", suffix=self.tr(" min"))
        self.rate_spin = option_spin("max_per_minute", suffix=self.tr(" / min"))
        self.rate_spin.setSpecialValueText(self.tr("unlimited"))
        self.gray_spin = option_spin("gray_percent", suffix=" %")
        self.schedule_check = QCheckBox(self.tr("Start at:"))
        self.schedule_edit = QDateTimeEdit(QDateTime.currentDateTime().addSecs(3600))
        self.schedule_edit.setCalendarPopup(True)
        self.schedule_edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.schedule_edit.setEnabled(False)
        self.schedule_check.toggled.connect(self.schedule_edit.setEnabled)
        self.overwrite_check = QCheckBox(self.tr("Take over devices that another running task is upgrading"))

        self.general_error = QLabel()
        self.errors = FieldErrors(self.general_error)
        form = QFormLayout()
        self.errors.add_row(form, self.tr("&Firmware:"), self.firmware_combo, "firmwareID")
        self.errors.add_row(form, self.tr("Devices:"), type_box, "type")
        self.errors.add_row(form, self.tr("Upgrade:"), upgrade_box, "upgradeType")
        self.errors.add_row(form, self.tr("Device list:"), self.picker, "deviceList")
        self.errors.add_row(form, self.tr("Source versions:"), versions_box, "versionList")

        rollout = QGroupBox(self.tr("Pushing and retries"))
        grid = QGridLayout(rollout)
        cells = [
            (self.tr("Retries:"), self.retry_spin, "retryCount"),
            (self.tr("Retry interval:"), self.retry_interval_spin, "retryIntervalMinutes"),
            (self.tr("Timeout:"), self.timeout_spin, "timeoutMinutes"),
            (self.tr("Max pushes:"), self.rate_spin, "maxPerMinute"),
            (self.tr("Gray release:"), self.gray_spin, "grayPercent"),
        ]
        for n, (label, widget, field) in enumerate(cells):
            r, c = divmod(n, 3)
            cell = QWidget()
            cl = QVBoxLayout(cell)
            cl.setContentsMargins(0, 0, 0, 0)
            cl.setSpacing(2)
            cl.addWidget(widget)
            cl.addWidget(self.errors.make_label(field))
            grid.addWidget(QLabel(label), r, c * 2, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(cell, r, c * 2 + 1)
        sched = QWidget()
        sl = QHBoxLayout(sched)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.schedule_check)
        sl.addWidget(self.schedule_edit)
        grid.addWidget(sched, 1, 4, 1, 2)
        sched_err = self.errors.make_label("scheduleTime")
        grid.addWidget(sched_err, 2, 4, 1, 2)
        grid.addWidget(self.overwrite_check, 3, 0, 1, 6)
        grid.addWidget(self.errors.make_label("overwrite"), 4, 0, 1, 6)

        # waves, abort rules, maintenance window (protocol 13.13); its error labels are the form's
        self.rollout_editor = RolloutEditor(make_error=self.errors.make_label)

        # what the task would take: task/preview with the same body, after each change
        self.preview_box = QGroupBox(self.tr("Preview"))
        self.preview_button = QPushButton(self.tr("&Preview"))
        self.preview_button.setToolTip(self.tr("Ask the backend which devices this task would take now"))
        self.preview_button.clicked.connect(self.preview)
        self.preview_label = QLabel()
        self.preview_label.setObjectName("preview")
        self.preview_label.setWordWrap(True)
        self.preview_label.setTextFormat(Qt.TextFormat.RichText)
        self.preview_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        pl = QHBoxLayout(self.preview_box)
        pl.addWidget(self.preview_label, 1)
        pl.addWidget(self.preview_button, 0, Qt.AlignmentFlag.AlignTop)
        self.preview_data: dto.Preview | None = None
        self._preview_call: ApiCall | None = None
        self._preview_timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.preview)

        self.buttons = QDialogButtonBox()
        self.create_button = self.buttons.addButton(self.tr("Create &task"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.create_button.clicked.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        # the fields scroll when the screen is short (a laptop): the buttons always show
        content = QWidget()
        cl = QVBoxLayout(content)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addLayout(form, 1)
        cl.addWidget(rollout)
        cl.addWidget(self.rollout_editor)
        cl.addWidget(self.preview_box)
        cl.addWidget(self.general_error)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setWidget(content)
        lay = QVBoxLayout(self)
        lay.addWidget(self.scroll_area, 1)
        lay.addWidget(self.buttons)
        fit_on_show(self)

        watch = self.errors.watch
        watch(self.validate, [self.firmware_combo.currentIndexChanged], "firmwareID", "versionList")
        watch(self.validate, [self.targeted_radio.toggled], "deviceList", "upgradeType")
        watch(self.validate, [self.dynamic_radio.toggled], "upgradeType", "versionList")
        watch(self.validate, [self.picker.selection_changed], "deviceList")
        watch(self.validate, [self.versions_list.itemChanged, self.versions_list.model().rowsInserted],
              "versionList")
        watch(self.validate, [self.schedule_check.toggled, self.schedule_edit.dateTimeChanged], "scheduleTime")
        self.targeted_radio.toggled.connect(self._update_enabled)
        self.dynamic_radio.toggled.connect(self._update_enabled)
        self.firmware_combo.currentIndexChanged.connect(self._firmware_chosen)
        watch(self.validate, [self.rollout_editor.changed], "rollout", *SECTIONS)
        for signal in (self.firmware_combo.currentIndexChanged, self.targeted_radio.toggled,
                       self.dynamic_radio.toggled, self.picker.selection_changed, self.versions_list.itemChanged,
                       self.gray_spin.valueChanged, self.overwrite_check.toggled, self.rollout_editor.changed):
            signal.connect(self.schedule_preview)
        if firmware_id:
            self.firmware_combo.setCurrentIndex(max(0, self.firmware_combo.findData(firmware_id)))
        self._update_enabled()
        self._show_preview()

    # -- dependent fields --------------------------------------------------------------------------
    def _radio_row(self, choices: list[tuple[QRadioButton, int]]) -> tuple[QButtonGroup, QWidget]:
        """Exclusive radio buttons in one row, each carrying its protocol code as the button id."""
        group = QButtonGroup(self)
        row = QWidget()
        row.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        for button, code in choices:
            group.addButton(button, int(code))
            layout.addWidget(button)
        layout.addStretch(1)
        return group, row

    def firmware(self) -> dto.Firmware | None:
        return self._firmwares.get(self.firmware_combo.currentData() or 0)

    def _update_enabled(self) -> None:
        targeted = self.targeted_radio.isChecked()
        self.picker.setEnabled(targeted)
        # dynamic tasks cannot be targeted (spec section 5)
        self.dynamic_radio.setEnabled(not targeted)
        self.targeted_radio.setEnabled(not self.dynamic_radio.isChecked())

    def _firmware_chosen(self) -> None:
        self.versions_list.clear()
        self.picker.set_devices([])
        fw = self.firmware()
        if fw is None:
            return
        self.client.firmware_device_versions(fw.firmwareID).then(
            partial(self._versions_loaded, fw.firmwareID), self.errors.show_api_error)
        self.client.devices(fw.productID).then(
            partial(self._devices_loaded, fw.firmwareID), self.errors.show_api_error)

    def _versions_loaded(self, firmware_id: int, versions: list[str]) -> None:
        if self.firmware_combo.currentData() != firmware_id:
            return
        for v in versions:
            self._add_version(v, checked=False)

    def _devices_loaded(self, firmware_id: int, devices: list[dto.Device]) -> None:
        if self.firmware_combo.currentData() == firmware_id:
            self.picker.set_devices(devices)

    def _add_version(self, version: str, checked: bool) -> None:
        if self.versions_list.findItems(version, Qt.MatchFlag.MatchExactly):
            return
        item = QListWidgetItem(version)
        fw = self.firmware()
        if fw is not None and version == fw.version:
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled & ~Qt.ItemFlag.ItemIsUserCheckable)
            item.setToolTip(self.tr("Devices already on the firmware's version are skipped."))
            item.setData(Qt.ItemDataRole.CheckStateRole, Qt.CheckState.Unchecked)
        else:
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.versions_list.addItem(item)

    def _add_version_from_edit(self) -> None:
        for v in parse_names(self.version_add_edit.text()):
            self._add_version(v, checked=True)
        self.version_add_edit.clear()

    def checked_versions(self) -> list[str]:
        return [self.versions_list.item(i).text() for i in range(self.versions_list.count())
                if self.versions_list.item(i).checkState() == Qt.CheckState.Checked]

    # -- validation and submission ----------------------------------------------------------------
    def task(self) -> dto.NewTask:
        targeted = self.targeted_radio.isChecked()
        return dto.NewTask(
            firmwareID=int(self.firmware_combo.currentData() or 0),
            type=dto.TaskType.TARGETED if targeted else dto.TaskType.ALL,
            upgradeType=dto.UpgradeType.DYNAMIC if self.dynamic_radio.isChecked() else dto.UpgradeType.STATIC,
            deviceList=self.picker.checked_names() if targeted else [],
            versionList=self.checked_versions(),
            retryCount=self.retry_spin.value(), retryIntervalMinutes=self.retry_interval_spin.value(),
            timeoutMinutes=self.timeout_spin.value(), maxPerMinute=self.rate_spin.value(),
            grayPercent=self.gray_spin.value(),
            scheduleTime=self.schedule_edit.dateTime().toMSecsSinceEpoch() if self.schedule_check.isChecked() else 0,
            overwrite=self.overwrite_check.isChecked(), rollout=self.rollout_editor.wire())

    def validate(self) -> dict[str, str]:
        task = self.task()
        problems = {}
        fw = self.firmware()
        if fw is None:
            problems["firmwareID"] = self.tr("Choose the firmware to roll out.")
        if task.type == dto.TaskType.TARGETED and not task.deviceList:
            problems["deviceList"] = self.tr("Check at least one device (or choose all devices).")
        if task.upgradeType == dto.UpgradeType.DYNAMIC:
            if task.type == dto.TaskType.TARGETED:
                problems["upgradeType"] = self.tr("A dynamic task covers all devices; it cannot be targeted.")
            if not task.versionList:
                problems["versionList"] = self.tr("A dynamic task needs the source versions to upgrade from.")
        if fw is not None and fw.version in task.versionList:
            problems["versionList"] = self.tr("The firmware's own version %1 cannot be a source version.").replace(
                "%1", fw.version)
        if task.scheduleTime and task.scheduleTime < QDateTime.currentMSecsSinceEpoch():
            problems["scheduleTime"] = self.tr("The start time is in the past.")
        problems.update(self.rollout_editor.problems())
        return problems

    def submit(self) -> None:
        problems = self.validate()
        if not self.errors.check(problems):
            self._mark_rollout(problems)
            return
        self.create_button.setEnabled(False)
        self.client.create_task(self.task()).then(self._created, self._failed)

    def _created(self, data: dict) -> None:
        self.create_button.setEnabled(True)
        self.result_data = data
        self.created.emit(data)
        self.accept()

    def _failed(self, error: ApiError) -> None:
        self.create_button.setEnabled(True)
        self.show_error(error)

    def show_error(self, error: ApiError) -> None:
        """A backend error next to the field it names; a rollout option's with its whole path
        ("rollout.waves[1].percent: must be 1..100, not 0"), its input outlined."""
        path = error.msg.partition(":")[0].strip()
        if error.field == "rollout" and path.startswith("rollout"):
            self.rollout_editor.set_on(True)
            self.errors.show(section_of(path), error.msg)
            self.rollout_editor.mark(path)
        else:
            self.errors.show_api_error(error)

    def _mark_rollout(self, problems: dict[str, str]) -> None:
        for key, message in problems.items():
            if key.startswith("rollout"):
                self.rollout_editor.mark(message.partition(":")[0])

    def done(self, result: int) -> None:
        """Closed: no preview is asked for any more, nor an answer awaited."""
        self._preview_timer.stop()
        call, self._preview_call = self._preview_call, None
        if call is not None:
            call.abort()
        super().done(result)

    # -- preview (task/preview) --------------------------------------------------------------------
    def schedule_preview(self, *_args: object) -> None:
        """Preview again once the form has not changed for PREVIEW_DELAY_MS."""
        self._preview_timer.start()

    def preview(self) -> None:
        """Ask the backend what the task would take now (the body of task/create, nothing created)."""
        self._preview_timer.stop()
        if self._preview_call is not None:
            self._preview_call.abort()
            self._preview_call = None
        problems = self.validate()
        if problems:
            for key, message in problems.items():
                if key.startswith("rollout"):  # they name the field: shown there at once
                    self.errors.show(key, message)
            self._mark_rollout(problems)
            self.preview_data = None
            self.rollout_editor.set_preview(None)
            if any(key.startswith("rollout") for key in problems):
                text = self.tr("No preview until the rollout settings marked in red are corrected.")
            else:
                text = self.tr("No preview: %1").replace("%1", next(iter(problems.values())))
            self._show_preview(text if self.firmware() else "")
            return
        self.preview_label.setText(self.tr("Previewing…"))
        call = self._preview_call = self.client.preview_task(self.task())
        call.then(lambda data: self._previewed(call, data), lambda error: self._preview_failed(call, error))

    def _previewed(self, call: ApiCall, data: dto.Preview) -> None:
        if call is not self._preview_call:
            return
        self._preview_call = None
        self.preview_data = data
        self.rollout_editor.set_preview(data.waves if self.rollout_editor.wave_count() else None)
        self._show_preview()

    def _preview_failed(self, call: ApiCall, error: ApiError) -> None:
        if call is not self._preview_call or error.cancelled:
            return
        self._preview_call = None
        self.preview_data = None
        self.rollout_editor.set_preview(None)
        self.show_error(error)
        shown_at_field = not self.errors.errors().get("")
        self._show_preview(self.tr("No preview until the fields marked in red are corrected.") if shown_at_field
                           else self.tr("No preview: %1").replace("%1", api_error_text(error)))

    def _show_preview(self, problem: str = "") -> None:
        data = self.preview_data
        if problem or data is None:
            self.preview_label.setText(problem or self.tr(
                "Choose a firmware to see which devices the task would take."))
            return
        lines = [self.tr("<b>%n device(s)</b> would be upgraded", "", data.willPush) + " " + self.tr(
            "(%1 of %2 devices considered get a record, %3 of them offline now).").replace(
            "%1", str(data.planned)).replace("%2", str(data.devices)).replace("%3", str(data.offline))]
        if len(data.waves) > 1:
            lines.append(self.tr("Waves: %1").replace("%1", " → ".join(str(n) for n in data.waves)))
        texts = {"onTargetVersion": self.tr("%1 already on the target version"),
                 "versionFilter": self.tr("%1 on a source version not chosen"),
                 "grayShare": self.tr("%1 outside the gray share"),
                 "busy": self.tr("%1 busy in another task"),
                 "newerVersion": self.tr("%1 on a newer version")}
        left_out = [texts[k].replace("%1", str(data.excluded[k])) for k in EXCLUDED_ORDER if data.excluded.get(k)]
        if left_out:
            lines.append(self.tr("Left out: %1").replace("%1", " · ".join(left_out)))
        if data.overwrites:
            lines.append(self.tr("Takes %n device(s) over from other tasks.", "", data.overwrites))
        self.preview_label.setText("<br>".join(lines))
