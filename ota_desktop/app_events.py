"""One signal bridge for app-wide notices, so widgets never reference each other."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class AppEvents(QObject):
    #: "starting" | "ready" | "failed" | "lost" | "stopped"; detail = URL or message
    backend_state = Signal(str, str)
    #: the live events stream: "connecting" | "connected" | "reconnecting" | "stopped"
    stream_state = Signal(str)
    #: what is wrong with a running (or failed) backend, in words for the status bar, and the
    #: detail for its tooltip; ("", "") when nothing is: a failing health check, a taken port
    backend_problem = Signal(str, str)
    #: decoded backend events (spec section 8), in batches
    record_events = Signal(list)
    device_events = Signal(list)
    task_events = Signal(list)
    resync = Signal()
    #: something the user should read (title, message)
    error = Signal(str, str)
    #: a short status-bar notice
    notice = Signal(str)
    #: data changed by this app (e.g. a firmware was created): pages reload
    firmware_changed = Signal()
    tasks_changed = Signal()
    products_changed = Signal()

    def dispatch(self, batch: list) -> None:
        """Split a batch from the events stream by type, keeping the order within each type."""
        records, devices, tasks = [], [], []
        for event in batch:
            kind = event.get("type")
            if kind == "record":
                records.append(event)
            elif kind == "device":
                devices.append(event)
            elif kind == "task":
                tasks.append(event)
            elif kind == "resync":
                self.resync.emit()
        if records:
            self.record_events.emit(records)
        if devices:
            self.device_events.emit(devices)
        if tasks:
            self.task_events.emit(tasks)
