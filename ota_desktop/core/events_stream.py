"""The backend's live events (spec section 8): an SSE parser and a self-reconnecting stream."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QNetworkReply, QNetworkRequest

from .api_client import TOKEN_HEADER, ApiClient

log = logging.getLogger(__name__)

EVENTS_PATH = "/api/v1/things/ota/events"
#: no byte for this long (the backend pings every ~15 s) means the stream is dead
STALL_TIMEOUT_MS = 45_000
RECONNECT_MIN_MS = 250
RECONNECT_MAX_MS = 5_000


@dataclass(slots=True)
class SseMessage:
    id: str | None
    event: str
    data: str


class SseParser:
    """Incremental text/event-stream parser (WHATWG rules, no Qt)."""

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self.last_id: str | None = None
        self.retry_ms: int | None = None

    def feed(self, chunk: bytes) -> list[SseMessage]:
        buf, hold = self._buf + chunk, b""
        if buf.endswith(b"\r"):  # maybe the first half of a CRLF split across chunks
            buf, hold = buf[:-1], b"\r"
        out: list[SseMessage] = []
        *lines, rest = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        self._buf = rest + hold
        for raw in lines:
            line = raw.decode("utf-8", errors="replace")
            if not line:
                if self._data:
                    if self._id is not None:
                        self.last_id = self._id
                    out.append(SseMessage(self._id, self._event or "message", "\n".join(self._data)))
                self._data, self._event, self._id = [], "", None
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id" and "\0" not in value:
                self._id = value
            elif name == "retry" and value.isdigit():
                self.retry_ms = int(value)
        return out


class EventStream(QObject):
    """Keeps one events connection open; emits decoded events in batches.

    ``events`` carries a list of dicts (one per SSE message, in order). A reconnect sends
    ``Last-Event-ID``; the backend answers with what was missed or a ``resync`` event.
    """

    events = Signal(list)
    state_changed = Signal(str)  # "connecting" | "connected" | "reconnecting" | "stopped"

    def __init__(self, client: ApiClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._reply: QNetworkReply | None = None
        self._parser = SseParser()
        self._last_id: str | None = None
        self._state = "stopped"
        self._backoff = RECONNECT_MIN_MS
        self._retry_timer = QTimer(self, singleShot=True)
        self._retry_timer.timeout.connect(self._connect)

    @property
    def state(self) -> str:
        return self._state

    @property
    def last_event_id(self) -> str | None:
        return self._last_id

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    def start(self) -> None:
        self.stop()
        self._last_id = None
        self._backoff = RECONNECT_MIN_MS
        self._connect()

    def stop(self) -> None:
        self._retry_timer.stop()
        reply, self._reply = self._reply, None
        if reply is not None:
            reply.readyRead.disconnect(self._on_ready_read)
            reply.finished.disconnect(self._on_finished)
            # A reply that already failed (the backend died mid-stream) is finishing by
            # itself; aborting it now would report a second error, which Qt refuses with
            # "QNetworkReplyImplPrivate::error: Internal problem". Only live ones are aborted.
            if reply.error() == QNetworkReply.NetworkError.NoError and not reply.isFinished():
                reply.abort()
            reply.deleteLater()
        self._set_state("stopped")

    def _connect(self) -> None:
        req = QNetworkRequest(self._client.url(EVENTS_PATH))
        req.setRawHeader(b"Accept", b"text/event-stream")
        req.setRawHeader(b"Cache-Control", b"no-cache")
        req.setRawHeader(TOKEN_HEADER, self._client.token.encode())
        if self._last_id is not None:
            req.setRawHeader(b"Last-Event-ID", self._last_id.encode())
        req.setAttribute(QNetworkRequest.Attribute.CacheLoadControlAttribute,
                         QNetworkRequest.CacheLoadControl.AlwaysNetwork)
        req.setTransferTimeout(STALL_TIMEOUT_MS)
        self._parser = SseParser()
        self._set_state("connecting" if self._state == "stopped" else "reconnecting")
        self._reply = self._client.network_manager.get(req)
        self._reply.readyRead.connect(self._on_ready_read)
        self._reply.finished.connect(self._on_finished)

    def _on_ready_read(self) -> None:
        reply = self._reply
        if reply is None:
            return
        status = int(reply.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute) or 0)
        if status != 200:
            return  # handled when finished
        if self._state != "connected":
            self._set_state("connected")
            self._backoff = RECONNECT_MIN_MS
        batch = []
        for msg in self._parser.feed(bytes(reply.readAll().data())):
            try:
                event = json.loads(msg.data)
            except ValueError:
                log.warning("undecodable event %r", msg.data[:200])
                continue
            if isinstance(event, dict):
                batch.append(event)
        if self._parser.last_id is not None:
            self._last_id = self._parser.last_id
        if batch:
            self.events.emit(batch)

    def _on_finished(self) -> None:
        reply, self._reply = self._reply, None
        if reply is None:
            return
        status = int(reply.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute) or 0)
        log.info("events stream ended (HTTP %s, %s); reconnecting", status, reply.errorString())
        reply.deleteLater()
        delay = self._parser.retry_ms if self._parser.retry_ms else self._backoff
        self._backoff = min(self._backoff * 2, RECONNECT_MAX_MS)
        self._set_state("reconnecting")
        self._retry_timer.start(delay)
