"""Shared pieces of the forms: error labels next to fields, busy state, API error routing."""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from ota_protocol.codes import ErrorCode

from ..core.api_client import CODE_NETWORK, ApiError
from .status import code_text

ERROR_STYLE = "color: #dc2626;"


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
        box.setSizePolicy(widget.sizePolicy())  # a fixed-height field must not get a tall row
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
