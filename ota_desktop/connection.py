"""Which backend the app talks to (embedded child or remote URL) and whether it is there.

Owns the embedded :class:`BackendProcess`, points the :class:`ApiClient` at the backend,
runs the events stream, and reports every change through :class:`AppEvents`.
"""
from __future__ import annotations

import secrets as _random
from urllib.parse import quote, urlsplit, urlunsplit

from PySide6.QtCore import QCoreApplication, QObject, QTimer

from . import secrets as keys
from .app_events import AppEvents
from .backend_process import BackendOptions, BackendProcess, backend_available
from .core.api_client import ApiClient, ApiError
from .core.events_stream import EventStream
from .secrets import SecretStore, SecretsUnavailable
from .settings import REMOTE, Settings

HEALTH_INTERVAL_MS = 10_000


def with_password(url: str, password: str | None) -> str:
    """``scheme://user@host/...`` with the password from the keyring filled in (env only)."""
    if not url or not password:
        return url
    parts = urlsplit(url)
    if not parts.username or parts.password:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def new_token() -> str:
    return _random.token_urlsafe(32)


class BackendConnection(QObject):
    def __init__(self, settings: Settings, secret_store: SecretStore, client: ApiClient, events: AppEvents,
                 process: BackendProcess | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings, self._secrets, self._client, self._events = settings, secret_store, client, events
        self.process = process or BackendProcess(self)
        self.process.ready.connect(self._on_ready)
        self.process.failed.connect(lambda msg: self._set_state("failed", msg))
        self.process.lost.connect(self._on_lost)
        self.stream = EventStream(client, self)
        self.stream.events.connect(events.dispatch)
        self.stream.state_changed.connect(events.stream_state)
        self._health = QTimer(self, interval=HEALTH_INTERVAL_MS)
        self._health.timeout.connect(self._check_health)
        self._state = "stopped"
        self._mode = ""
        self._token = ""

    @property
    def state(self) -> str:
        return self._state

    def _set_state(self, state: str, detail: str = "") -> None:
        self._state = state
        if state != "ready":
            self.stream.stop()
        self._events.backend_state.emit(state, detail)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self.stop()
        self._mode = self._settings.backend_mode
        self._set_state("starting", "")
        try:
            if self._mode == REMOTE:
                self._start_remote()
            else:
                self._start_embedded()
        except SecretsUnavailable:
            self._set_state("failed", QCoreApplication.translate("BackendConnection", 
                "No keyring is available to hold the backend token. Open Settings to choose how to keep secrets."))

    def restart(self) -> None:
        self.start()

    def stop(self) -> None:
        self._health.stop()
        self.stream.stop()
        self.process.stop()
        if self._state not in ("stopped",):
            self._state = "stopped"

    def _start_embedded(self) -> None:
        if not backend_available():
            self._set_state("failed", QCoreApplication.translate("BackendConnection", 
                "The embedded backend is not installed with this application. Connect to a remote backend in Settings."))
            return
        s, sec = self._settings, self._secrets
        options = BackendOptions(
            data_dir=s.data_dir,
            admin_token=sec.get_or_create(keys.ADMIN_TOKEN, new_token),
            http_port=s.http_port, mqtt_port=s.mqtt_port, lan=s.lan_exposure,
            mqtt_url=with_password(s.mqtt_url, sec.get(keys.MQTT_PASSWORD) if s.mqtt_url else None),
            storage_url=s.storage_url,
            storage_access_key=s.storage_access_key if s.storage_url else "",
            storage_secret_key=(sec.get(keys.STORAGE_SECRET_KEY) or "") if s.storage_url else "",
            database_url=with_password(s.database_url, sec.get(keys.DATABASE_PASSWORD) if s.database_url else None),
        )
        self._token = options.admin_token
        try:
            self.process.start(options)
        except OSError as exc:
            self._set_state("failed", QCoreApplication.translate("BackendConnection", "Cannot create the data directory: %1").replace("%1", str(exc)))

    def _start_remote(self) -> None:
        url = self._settings.remote_url.rstrip("/")
        token = self._secrets.get(keys.REMOTE_TOKEN) or ""
        if not url:
            self._set_state("failed", QCoreApplication.translate("BackendConnection", "No remote backend URL is set. Enter it in Settings."))
            return
        self._token = token
        self._client.set_endpoint(url, token)
        self._client.health().then(lambda _d: self._on_ready(url),
                                   lambda e: self._set_state("failed", QCoreApplication.translate("BackendConnection", 
                                       "Cannot reach the backend at %1: %2").replace("%1", url).replace("%2", e.msg)))

    # -- state changes ----------------------------------------------------------------------
    def _on_ready(self, url: str) -> None:
        self._client.set_endpoint(url, self._token)
        self._state = "ready"
        self.stream.start()
        if self._mode == REMOTE:
            self._health.start()
        self._events.backend_state.emit("ready", url)

    def _on_lost(self, message: str) -> None:
        self._health.stop()
        self._set_state("lost", message)

    def _check_health(self) -> None:
        url = self._client.base_url

        def bad(error: ApiError) -> None:
            if self._state == "ready":
                self._set_state("lost", QCoreApplication.translate("BackendConnection", "The backend at %1 does not answer: %2").replace(
                    "%1", url).replace("%2", error.msg))

        def good(_data: object) -> None:
            if self._state == "lost":
                self._on_ready(url)

        self._client.health().then(good, bad)
