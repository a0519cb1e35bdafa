"""Shared pieces of the forms: error labels next to fields, busy state, API error routing."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSize, QStandardPaths
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFormLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ota_protocol.codes import ErrorCode

from ..core.api_client import CODE_NETWORK, ApiError
from .status import code_text

ERROR_STYLE = "color: #dc2626;"
#: room left for the window frame (title bar) when a dialog grows to the screen's height
FRAME_ALLOWANCE = 40


def available_size(widget: QWidget) -> QSize:
    """The free area of the screen ``widget`` is on (the taskbar excluded)."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry().size() if screen is not None else QSize(1366, 728)


def fit_window(widget: QWidget) -> None:
    """Grow ``widget``'s window to the height its layout needs at the current width (wrapped
    error labels, rows that appeared), never beyond the screen; it never shrinks."""
    win = widget.window()
    lay = win.layout()
    if lay is None:
        return
    lay.activate()
    width = win.width()
    need = lay.totalHeightForWidth(width) if lay.hasHeightForWidth() else lay.totalSizeHint().height()
    need = max(need, lay.totalMinimumSize().height())
    need = min(need, available_size(win).height() - FRAME_ALLOWANCE)
    if need > win.height():
        win.resize(width, need)


class _FitOnShow(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Show and isinstance(watched, QWidget):
            fit_window(watched)
        return False


def fit_on_show(window: QWidget) -> None:
    """Give ``window`` the height its layout needs when it is shown: Qt sizes a window by its
    minimum size, which does not count the lines a word-wrapped label needs at that width."""
    window.installEventFilter(_FitOnShow(window))


def last_folder() -> str:
    """The folder a file dialog opened last (any of the app's), else the home folder."""
    from ..settings import Settings

    folder = Settings().last_folder
    if folder and os.path.isdir(folder):
        return folder
    return QStandardPaths.writableLocation(QStandardPaths.StandardLocation.HomeLocation) or os.path.expanduser("~")


def remember_folder(path: str) -> None:
    """Remember the folder of ``path`` (a file, or a folder itself) for the next file dialog."""
    if not path:
        return
    from ..settings import Settings

    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    settings = Settings()
    settings.last_folder = folder
    settings.sync()


class FieldErrors:
    """Error labels placed under form fields, keyed by the API's field names.

    ``show_api_error`` puts a backend validation error ("version: must be ...") next to the
    field it names, or in the general label when no field matches.
    """

    def __init__(self, general: QLabel) -> None:
        self._general = general
        self._labels: dict[str, QLabel] = {}
        self._aliases: dict[str, str] = {}
        general.setStyleSheet(ERROR_STYLE)
        general.setWordWrap(True)
        general.setObjectName("error_general")
        general.hide()

    def add_row(self, form: QFormLayout, label: str, widget: QWidget, field: str, *aliases: str) -> QLabel:
        """Add ``widget`` to ``form`` with an (initially hidden) error label below it."""
        box = QWidget()
        # a fixed-height field must not get a tall row, but the row must grow by the error's
        # wrapped lines: Preferred (not Fixed) vertically, and the height follows the width
        policy = QSizePolicy(widget.sizePolicy())
        if policy.verticalPolicy() == QSizePolicy.Policy.Fixed:
            policy.setVerticalPolicy(QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        box.setSizePolicy(policy)
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(widget)
        error = self.make_label(field, *aliases)
        lay.addWidget(error)
        form.addRow(label, box)
        return error

    def make_label(self, field: str, *aliases: str) -> QLabel:
        error = QLabel()
        error.setObjectName(f"error_{field}")
        error.setStyleSheet(ERROR_STYLE)
        error.setWordWrap(True)
        error.hide()
        self._labels[field] = error
        for alias in aliases:
            self._aliases[alias] = field
        return error

    def label(self, field: str) -> QLabel:
        return self._labels[field]

    def clear(self) -> None:
        for lab in [*self._labels.values(), self._general]:
            lab.clear()
            lab.hide()

    def show(self, field: str | None, message: str) -> None:
        field = self._aliases.get(field or "", field)
        lab = self._labels.get(field or "", self._general)
        lab.setText(message)
        lab.show()
        fit_window(lab)

    def watch(self, validate: Callable[[], dict[str, str]], signals: Iterable, *fields: str) -> None:
        """When any of ``signals`` fires, clear the shown errors of ``fields`` that ``validate()``
        no longer reports (and update the text of those it still reports differently)."""
        for signal in signals:
            signal.connect(lambda *_a: self.revalidate(validate, fields))

    def revalidate(self, validate: Callable[[], dict[str, str]], fields: Iterable[str]) -> None:
        shown = [f for f in fields if f in self._labels and not self._labels[f].isHidden()]
        if not shown:
            return
        problems = validate()
        for field in shown:
            lab = self._labels[field]
            if field in problems:
                if lab.text() != problems[field]:
                    lab.setText(problems[field])
            else:
                lab.clear()
                lab.hide()

    def show_api_error(self, error: ApiError) -> None:
        field = self._aliases.get(error.field or "", error.field)
        if field in self._labels:
            self.show(field, error.detail or error.msg)
        else:
            self.show(None, api_error_text(error))

    def check(self, problems: dict[str, str]) -> bool:
        """Clear old errors, show ``problems`` (field -> message, "" = general); True if none."""
        self.clear()
        for field, message in problems.items():
            self.show(field or None, message)
        return not problems

    def errors(self) -> dict[str, str]:
        """Visible errors by field ("" for the general label); for tests and checks."""
        out = {f: lab.text() for f, lab in self._labels.items() if not lab.isHidden() and lab.text()}
        if not self._general.isHidden() and self._general.text():
            out[""] = self._general.text()
        return out


def error_reporter(events, title: str):  # noqa: ANN001, ANN201
    """A failed-call handler for pages: the error goes to AppEvents.error (cancelled calls are quiet)."""
    def report(error: ApiError) -> None:
        if not error.cancelled:
            events.error.emit(title, api_error_text(error))
    return report


def _error_code(code: int) -> ErrorCode | None:
    try:
        return ErrorCode(code)
    except ValueError:
        return None


def backend_error_text(error: ApiError) -> str:
    """The backend's error as the user reads it: the translated text of a known ErrorCode with
    the backend's ``msg`` as the detail ("未找到: firmware 12 not found"); else just ``msg``."""
    code = _error_code(error.code)
    if code is None:
        return error.msg
    return f"{code_text(code)}: {error.msg}" if error.msg else code_text(code)


def api_error_text(error: ApiError) -> str:
    """A readable one-line message for an API error."""
    if error.code == CODE_NETWORK:
        return QCoreApplication.translate("Forms", "Cannot reach the backend: %1").replace("%1", error.msg)
    if _error_code(error.code) is not None:
        return backend_error_text(error)
    if error.code == 401 or error.http_status == 401:
        return QCoreApplication.translate("Forms", "The backend refused the token: %1").replace("%1", error.msg)
    return QCoreApplication.translate("Forms", "%1 (code %2)").replace("%1", error.msg).replace("%2", str(error.code))
