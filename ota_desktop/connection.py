"""Which backend the app talks to (embedded child or remote URL) and whether it is there.

Owns the embedded :class:`BackendProcess`, points the :class:`ApiClient` at the backend,
runs the events stream, and reports every change through :class:`AppEvents`.
"""
from __future__ import annotations

import secrets as _random
import time
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from PySide6.QtCore import QCoreApplication, QObject, QTimer

from . import secrets as keys
from .app_events import AppEvents
from .backend_process import (
    BackendOptions,
    BackendProcess,
    backend_available,
    port_taken_message,
    port_taken_summary,
    taken_port,
)
from .core.api_client import ApiCall, ApiClient, ApiError
from .core.events_stream import EventStream
from .i18n import QT_TRANSLATE_NOOP
from .ports import (
    DEFAULT_HTTP_PORT,
    DEFAULT_MQTT_PORT,
    LOOPBACK,
    Endpoints,
    choose_port,
    lan_addresses,
    listen_host,
    port_is_free,
)
from .secrets import SecretStore, SecretsUnavailable
from .settings import REMOTE, Settings

HEALTH_INTERVAL_MS = 10_000
#: after a restart our own backend (and its broker) may still be letting go of the ports
PORT_WAIT_MS = 5_000
PORT_POLL_MS = 200

#: GET /api/v1/health "checks" (newer backends): what the status bar says when one fails
HEALTH_TEXTS = {
    "database": QT_TRANSLATE_NOOP("BackendHealth", "Backend: database not answering"),
    "objectStore": QT_TRANSLATE_NOOP("BackendHealth", "Backend: object store not answering"),
    "broker": QT_TRANSLATE_NOOP("BackendHealth", "Backend: MQTT broker not answering"),
    "dispatcher": QT_TRANSLATE_NOOP("BackendHealth", "Backend: dispatcher not running"),
    "disk": QT_TRANSLATE_NOOP("BackendHealth", "Backend: disk almost full"),
}


def health_problem(data: object) -> tuple[str, str]:
    """(status-bar text, detail) for the first failing check of a health answer; ("", "") when
    healthy or when the backend is older and does not report ``healthy``/``checks``."""
    if not isinstance(data, dict) or data.get("healthy") is not False:
        return "", ""
    checks = data.get("checks")
    if isinstance(checks, dict):
        for name, check in checks.items():  # the backend's order: the first failing part
            if isinstance(check, dict) and check.get("ok") is False:
                source = HEALTH_TEXTS.get(name)
                text = (QCoreApplication.translate("BackendHealth", source) if source else
                        QCoreApplication.translate("BackendHealth", "Backend: %1 failing").replace("%1", str(name)))
                return text, str(check.get("detail") or "")
    return QCoreApplication.translate("BackendHealth", "Backend: unhealthy"), ""


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


def _weakly(obj: object, fn: Callable[..., Any], *bound: Any) -> Callable[..., None]:
    """``fn(obj, *bound, *args)`` for as long as ``obj`` lives; nothing once it is gone.

    For callbacks handed to an :class:`ApiCall`: the call is a child of the ApiClient, and its
    callbacks are released only when the call is deleted (deleteLater). A callback that held the
    connection would make that deferred deletion drop the last reference to the connection and,
    through it, to the (Python-owned) client, whose destruction then deletes the call a second
    time while it is still in its own destructor: a segfault in ``QObject::~QObject``."""
    ref = weakref.ref(obj)

    def call(*args: Any) -> None:
        target = ref()
        if target is not None:
            fn(target, *bound, *args)

    return call


class BackendConnection(QObject):
    def __init__(self, settings: Settings, secret_store: SecretStore, client: ApiClient, events: AppEvents,
                 process: BackendProcess | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings, self._secrets, self._client, self._events = settings, secret_store, client, events
        self.process = process or BackendProcess(self)
        self.process.ready.connect(self._on_ready)
        self.process.failed.connect(self._on_failed)
        self.process.lost.connect(self._on_lost)
        self.stream = EventStream(client, self)
        self.stream.events.connect(events.dispatch)
        self.stream.state_changed.connect(events.stream_state)
        self._health = QTimer(self, interval=HEALTH_INTERVAL_MS)
        self._health.timeout.connect(self._check_health)
        self._port_timer = QTimer(self, singleShot=True, interval=PORT_POLL_MS)
        self._port_timer.timeout.connect(self._launch_when_ports_free)
        self._port_deadline = 0.0
        self._options: BackendOptions | None = None
        self._generation = 0  # health answers of an earlier start are ignored
        self._health_call: ApiCall | None = None  # the health request in flight (at most one)
        self._problem = ("", "")
        self._state = "stopped"
        self._mode = ""
        self._token = ""

    @property
    def state(self) -> str:
        return self._state

    @property
    def mode(self) -> str:
        return self._mode or self._settings.backend_mode

    @property
    def token(self) -> str:
        """The admin token the app uses (for the Connection dialog)."""
        return self._token

    @property
    def problem(self) -> tuple[str, str]:
        return self._problem

    def _set_problem(self, text: str, detail: str = "") -> None:
        if (text, detail) != self._problem:
            self._problem = (text, detail)
            self._events.backend_problem.emit(text, detail)

    def device_endpoints(self) -> Endpoints:
        """Where devices reach this backend: on the LAN address when LAN exposure is on, else
        loopback. The broker is unknown ("", 0) for a remote backend."""
        base = self._client.base_url or self.process.url
        if self.mode == REMOTE:
            return Endpoints(base, "", 0)
        s = self._settings
        if s.mqtt_url:
            parts = urlsplit(s.mqtt_url)
            host, port = parts.hostname or "", parts.port or 1883
        else:
            mqtt = urlsplit(self.process.mqtt_url) if self.process.mqtt_url else None
            host, port = LOOPBACK, (mqtt.port if mqtt and mqtt.port else s.mqtt_port)
        lan = lan_addresses() if s.lan_exposure else []
        if lan:
            if host in (LOOPBACK, "localhost"):
                host = lan[0]
            parts = urlsplit(base)
            if parts.hostname in (LOOPBACK, "localhost") and parts.port:
                base = urlunsplit((parts.scheme, f"{lan[0]}:{parts.port}", parts.path, "", ""))
        return Endpoints(base, host, port)

    def _set_state(self, state: str, detail: str = "") -> None:
        self._state = state
        if state != "ready":
            self.stream.stop()
        self._events.backend_state.emit(state, detail)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self.stop()
        self._generation += 1
        self._mode = self._settings.backend_mode
        self._set_problem("", "")
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
        self._port_timer.stop()
        call, self._health_call = self._health_call, None
        if call is not None and not call.done:
            call.abort()
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
        http_port, mqtt_port = self._stable_ports()
        options = BackendOptions(
            data_dir=s.data_dir,
            admin_token=sec.get_or_create(keys.ADMIN_TOKEN, new_token),
            http_port=http_port, mqtt_port=mqtt_port, lan=s.lan_exposure,
            mqtt_url=with_password(s.mqtt_url, sec.get(keys.MQTT_PASSWORD) if s.mqtt_url else None),
            storage_url=s.storage_url,
            storage_access_key=s.storage_access_key if s.storage_url else "",
            storage_secret_key=(sec.get(keys.STORAGE_SECRET_KEY) or "") if s.storage_url else "",
            database_url=with_password(s.database_url, sec.get(keys.DATABASE_PASSWORD) if s.database_url else None),
            # the backend signs release capsules with the key this app keeps (docs/capsule.md)
            signing_key=keys.signing_key(sec),
        )
        self._token = options.admin_token
        self._options = options
        self._port_deadline = time.monotonic() + PORT_WAIT_MS / 1000
        self._launch_when_ports_free()

    def _stable_ports(self) -> tuple[int, int]:
        """The ports from Settings; "automatic" (0) becomes 7777 / 1883 when free, else a free
        port, and is written to Settings: the next start (and every device) uses the same one."""
        s = self._settings
        host = listen_host(s.lan_exposure)
        http_port, mqtt_port = s.http_port, s.mqtt_port
        if not http_port:
            http_port = s.http_port = choose_port(DEFAULT_HTTP_PORT, host, avoid=(mqtt_port,))
        if not mqtt_port and not s.mqtt_url:  # an external broker needs no port of ours
            mqtt_port = s.mqtt_port = choose_port(DEFAULT_MQTT_PORT, host, avoid=(http_port,))
        s.sync()
        return http_port, mqtt_port

    def _taken_ports(self, options: BackendOptions) -> list[tuple[str, int]]:
        host = listen_host(options.lan)
        taken = []
        if options.http_port and not port_is_free(host, options.http_port):
            taken.append(("http", options.http_port))
        if not options.mqtt_url and options.mqtt_port and not port_is_free(host, options.mqtt_port):
            taken.append(("mqtt", options.mqtt_port))
        return taken

    def _launch_when_ports_free(self) -> None:
        """Start the child once its ports are free; a port still taken after PORT_WAIT_MS is
        held by another program: say which and what to do (the port is never moved)."""
        options = self._options
        if options is None or self._state != "starting":
            return
        taken = self._taken_ports(options)
        if taken and time.monotonic() < self._port_deadline:
            self._port_timer.start()  # polled, never waited for on the GUI thread
            return
        if taken:
            kind, port = taken[0]
            self._set_problem(port_taken_summary(kind, port), port_taken_message(kind, port))
            self._set_state("failed", port_taken_message(kind, port))
            return
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
        generation = self._generation  # stop() aborts it; a late answer of an earlier start is ignored
        self._health_call = self._client.health().then(
            _weakly(self, BackendConnection._remote_answered, url, generation),
            _weakly(self, BackendConnection._remote_unreachable, url, generation))

    def _remote_answered(self, url: str, generation: int, _data: object) -> None:
        if generation != self._generation:
            return
        self._health_call = None
        if self._state == "starting":
            self._on_ready(url)

    def _remote_unreachable(self, url: str, generation: int, error: ApiError) -> None:
        if generation != self._generation:
            return
        self._health_call = None
        if not error.cancelled and self._state == "starting":
            self._set_state("failed", QCoreApplication.translate("BackendConnection",
                "Cannot reach the backend at %1: %2").replace("%1", url).replace("%2", error.msg))

    # -- state changes ----------------------------------------------------------------------
    def _on_ready(self, url: str) -> None:
        self._client.set_endpoint(url, self._token)
        self._state = "ready"
        self.stream.start()
        self._health.start()  # the embedded backend too: a failing part is shown in words
        self._events.backend_state.emit("ready", url)
        self._check_health()

    def _on_failed(self, message: str) -> None:
        taken = taken_port(self.process.stderr_tail)
        if taken is not None:
            self._set_problem(port_taken_summary(*taken), message)
        self._set_state("failed", message)

    def _on_lost(self, message: str) -> None:
        self._health.stop()
        self._set_problem("", "")
        self._set_state("lost", message)

    def _check_health(self) -> None:
        """Every HEALTH_INTERVAL_MS, asynchronously, for the embedded and a remote backend.

        A remote backend that does not answer is "lost" (and "ready" again once it answers);
        the embedded one is supervised as a process, so silence is only shown as a problem."""
        if self._health_call is not None and not self._health_call.done:
            return  # the previous one is still waiting (5 s timeout): never pile them up
        url, generation, remote = self._client.base_url, self._generation, self._mode == REMOTE
        self._health_call = self._client.health().then(
            _weakly(self, BackendConnection._health_answered, url, generation, remote),
            _weakly(self, BackendConnection._health_failed, url, generation, remote))

    def _health_failed(self, url: str, generation: int, remote: bool, error: ApiError) -> None:
        if generation != self._generation:
            return
        self._health_call = None
        if error.cancelled:
            return
        if remote and self._state == "ready":
            self._set_state("lost", QCoreApplication.translate("BackendConnection", "The backend at %1 does not answer: %2").replace(
                "%1", url).replace("%2", error.msg))
        elif self._state == "ready":
            self._set_problem(QCoreApplication.translate("BackendHealth", "Backend: not answering"), error.msg)

    def _health_answered(self, url: str, generation: int, remote: bool, data: object) -> None:
        if generation != self._generation:
            return
        self._health_call = None
        if self._state == "lost" and remote:
            self._on_ready(url)
        if self._state == "ready":
            self._set_problem(*health_problem(data))
