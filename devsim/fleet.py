"""The fleet: many simulated devices in one process (see the package docstring)."""

from __future__ import annotations

import collections
import logging
import resource
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from ota_protocol.device import BadPush, parse_down_topic, parse_progress_ack, parse_upgrade_push

from . import behaviour as B
from . import device as D
from .credentials import Credential, device_names, fetch_from_backend
from .lean_http import LeanClient
from .links import ConnectGate, DeviceConnection, MqttEndpoint, SharedConnection, _Connection
from .reactor import Reactor

log = logging.getLogger(__name__)


@dataclass
class SimOptions:
    """Knobs of the simulation (defaults suit both tests and 10,000-device runs)."""

    #: how long "flashing" takes
    flash_seconds: float = 0.5
    #: wait before reconnecting after a drop (and first retry delay; doubles up to 30 s)
    reconnect_delay: float = 1.0
    #: progress steps reported while downloading (percent of all files' bytes)
    progress_steps: tuple[int, ...] = (25, 50, 75)
    #: bytes per read while downloading
    chunk_size: int = 16 * 1024
    #: concurrent downloads (threads sharing one HTTP connection pool)
    download_workers: int = 16
    http_timeout: float = 30.0
    #: MQTT keep-alive, seconds
    keepalive: int = 60
    #: TCP/CONNECT handshakes in flight at once
    connect_concurrency: int = 64


class Fleet:
    """Simulated devices sharing one reactor thread, one download pool and one HTTP client.

    Args:
        credentials: ``Credential(product_id, device_name, secret)`` (or plain 3-tuples);
            ``secret`` None connects without a password (brokers that allow anonymous).
        version: the version every device starts with.
        mqtt_url: ``mqtt://[user:pass@]host:port``; the user/password are used only by
            shared connections.
        base_url: the backend base URL that relative file URLs are resolved against.
        mix: behaviour weights, e.g. ``{"succeed": 90, "fail-flash": 10}`` (default all succeed).
        behaviours: per-device behaviour names, overriding the mix.
        seed: seeds the assignment of the mix to devices.
        fail_once: failing behaviours fail on the first push only.
        shared_connections: 0 = one MQTT connection per device; K > 0 = K privileged connections.
        options: :class:`SimOptions`.
    """

    def __init__(
        self,
        credentials: Iterable[Credential | tuple[str, str, str | None]],
        *,
        version: str = "0.9.0",
        mqtt_url: str = "mqtt://127.0.0.1:1883",
        base_url: str = "http://127.0.0.1:7777",
        mix: Mapping[str, float] | None = None,
        behaviours: Mapping[str, str] | None = None,
        seed: int = 0,
        fail_once: bool = False,
        shared_connections: int = 0,
        options: SimOptions | None = None,
    ) -> None:
        creds = [c if isinstance(c, Credential) else Credential(*c) for c in credentials]
        names = [c.device_name for c in creds]
        if len(set(names)) != len(names):
            raise ValueError("device names must be unique within a fleet")
        assigned = B.assign(names, mix, behaviours, seed=seed, fail_once=fail_once)
        self.options = options or SimOptions()
        self.base_url = base_url
        self.endpoint = MqttEndpoint.parse(mqtt_url)
        self.shared_connections = shared_connections
        self.devices: dict[str, D.Device] = {
            c.device_name: D.Device(c.product_id, c.device_name, c.secret, version, assigned[c.device_name])
            for c in creds
        }
        self._by_key = {(d.product_id, d.name): d for d in self.devices.values()}
        self.reactor = Reactor()
        # plain-HTTP downloads (the backend's object proxy) on the lean client, https on httpx
        self.http = LeanClient(self.options.http_timeout, fallback=httpx.Client(
            timeout=self.options.http_timeout,
            limits=httpx.Limits(
                max_connections=self.options.download_workers,
                max_keepalive_connections=self.options.download_workers,
            ),
        ))
        self.pool = ThreadPoolExecutor(self.options.download_workers, thread_name_prefix="devsim-download")
        self.connections: list[_Connection] = []
        self.messages_in = 0
        self.bad_messages = 0
        self.started_at: float | None = None
        self.all_connected_at: float | None = None
        self.last_activity = time.monotonic()
        self._online = 0
        self._stopped = False

    # ------------------------------------------------------------------ building
    @classmethod
    def from_backend(
        cls,
        base_url: str,
        token: str | None,
        product_id: str,
        count: int,
        *,
        prefix: str = "dev",
        version: str = "0.9.0",
        create: bool = False,
        **kwargs: Any,
    ) -> Fleet:
        """Devices ``{prefix}00001..`` of ``product_id``, secrets fetched from the backend
        (created first with ``create=True``). Other keyword arguments go to :class:`Fleet`."""
        creds = fetch_from_backend(base_url, token, product_id, device_names(prefix, count), version, create=create)
        return cls(creds, version=version, base_url=base_url, **kwargs)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Fleet:
        """Open the connections (in the background); returns at once."""
        if self.started_at is not None:
            raise RuntimeError("fleet already started")
        self.started_at = time.monotonic()
        o = self.options
        gate = ConnectGate(o.connect_concurrency)
        devs = list(self.devices.values())
        conn: _Connection
        if self.shared_connections > 0:
            k = min(self.shared_connections, max(1, len(devs)))
            for i in range(k):
                conn = SharedConnection(
                    i, devs[i::k], self.reactor, gate, self.endpoint, o.keepalive, o.reconnect_delay, self._on_message
                )
                for dev in devs[i::k]:
                    dev.bind(conn, self)
                self.connections.append(conn)
        else:
            for dev in devs:
                conn = DeviceConnection(dev, self.reactor, gate, self.endpoint, o.keepalive, o.reconnect_delay, self._on_message)
                dev.bind(conn, self)
                self.connections.append(conn)
        self.reactor.start()
        for conn in self.connections:
            self.reactor.call_soon(conn.start)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect everything (MQTT DISCONNECT), stop the threads. Idempotent."""
        if self._stopped or self.started_at is None:
            self._stopped = True
            self.http.close()
            self.pool.shutdown(wait=False)
            return
        self._stopped = True
        for conn in self.connections:
            self.reactor.call_soon(conn.close)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(c.is_open for c in self.connections):
            time.sleep(0.02)
        self.reactor.stop()
        for conn in self.connections:  # whatever did not close in time
            sock = conn.client.socket()
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.http.close()
        self.pool.shutdown(wait=True)

    def __enter__(self) -> Fleet:
        if self.started_at is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ runtime hooks (device side)
    def touch(self) -> None:
        self.last_activity = time.monotonic()

    def online_changed(self, delta: int) -> None:
        self._online += delta
        if self.all_connected_at is None and self._online == len(self.devices):
            self.all_connected_at = time.monotonic()

    def _on_message(self, topic: str, payload: bytes) -> None:
        self.messages_in += 1
        self.touch()
        parsed = parse_down_topic(topic)
        dev = self._by_key.get((parsed[1], parsed[2])) if parsed else None
        if parsed is None or dev is None:
            self.bad_messages += 1
            return
        kind = parsed[0]
        if kind == "upgrade":
            try:
                push = parse_upgrade_push(payload)
            except BadPush as exc:
                self.bad_messages += 1
                dev.errors.append(f"bad upgrade push: {exc}")
                return
            dev.on_push(push)
        elif kind == "progress":
            dev.on_ack(*parse_progress_ack(payload))

    # ------------------------------------------------------------------ observing
    def device(self, name: str) -> D.Device:
        return self.devices[name]

    def __iter__(self) -> Iterator[D.Device]:
        return iter(list(self.devices.values()))

    def __len__(self) -> int:
        return len(self.devices)

    def wait_until(self, predicate: Callable[[Fleet], bool], timeout: float = 30.0, interval: float = 0.05) -> None:
        """Poll ``predicate(fleet)`` until true; TimeoutError (with the status line) otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self):
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout:.1f} s: {self.status_line()}")
            time.sleep(interval)

    def wait_connected(self, timeout: float = 60.0) -> None:
        self.wait_until(lambda f: f.online == len(f.devices), timeout)

    @property
    def online(self) -> int:
        """Devices whose MQTT session is up."""
        return self._online

    def wait_idle(self, quiet_seconds: float, timeout: float | None = None) -> bool:
        """Block until nothing happened for ``quiet_seconds`` and no upgrade is running.
        Returns False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if not self.busy and time.monotonic() - self.last_activity >= quiet_seconds:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(min(0.1, quiet_seconds / 4 or 0.1))

    @property
    def busy(self) -> bool:
        """Some device is downloading or flashing."""
        return any(d.status in (D.DOWNLOADING, D.FLASHING) for d in self.devices.values())

    def counts(self) -> dict[str, int]:
        devs = list(self.devices.values())
        by_status = collections.Counter(d.status for d in devs)
        return {
            "devices": len(devs),
            "connected": sum(1 for d in devs if d.connected),
            "pushed": sum(1 for d in devs if d.pushes),
            "downloading": by_status[D.DOWNLOADING],
            "flashing": by_status[D.FLASHING],
            "succeeded": by_status[D.SUCCEEDED],
            "failed": by_status[D.FAILED],
            "silent": by_status[D.SILENT],
        }

    def status_line(self) -> str:
        c = self.counts()
        elapsed = time.monotonic() - (self.started_at or time.monotonic())
        return (
            f"[{elapsed:7.1f}s] connected {c['connected']}/{c['devices']}  pushed {c['pushed']}  "
            f"downloading {c['downloading']}  flashing {c['flashing']}  succeeded {c['succeeded']}  "
            f"failed {c['failed']}  silent {c['silent']}"
        )

    def summary(self) -> dict[str, Any]:
        """Counts plus what a benchmark wants: timings, traffic, failures by step, RSS."""
        devs = list(self.devices.values())
        now = time.monotonic()
        fail_steps: collections.Counter[str] = collections.Counter()
        by_behaviour: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        files = verified = resumed = 0
        downloaded = 0
        durations = []
        for d in devs:
            by_behaviour[d.behaviour.name][d.outcome or d.status] += 1
            for att in d.attempts:
                if att.fail_step is not None:
                    fail_steps[str(att.fail_step)] += 1
                if att.outcome == D.OUTCOME_SUCCEEDED and att.finished is not None:
                    durations.append(att.finished - att.started)
                for ft in att.files:
                    files += 1
                    downloaded += ft.received
                    verified += ft.verified
                    resumed += ft.resumed
        durations.sort()
        return {
            **self.counts(),
            "mode": f"shared:{len(self.connections)}" if self.shared_connections else "per-device",
            "elapsed_s": round(now - (self.started_at or now), 3),
            "all_connected_after_s": (
                round(self.all_connected_at - self.started_at, 3)
                if self.all_connected_at is not None and self.started_at is not None
                else None
            ),
            "pushes": sum(len(d.pushes) for d in devs),
            "attempts": sum(len(d.attempts) for d in devs),
            "fail_steps": dict(fail_steps),
            "by_behaviour": {k: dict(v) for k, v in sorted(by_behaviour.items())},
            "upgrade_s_p50": round(durations[len(durations) // 2], 3) if durations else None,
            "upgrade_s_max": round(durations[-1], 3) if durations else None,
            "files_downloaded": files,
            "files_verified": verified,
            "files_resumed": resumed,
            "bytes_downloaded": downloaded,
            "messages_in": self.messages_in,
            "messages_out": sum(len(d.reports) + len(d.progress) for d in devs),
            "bad_messages": self.bad_messages,
            "devices_with_errors": sum(1 for d in devs if d.errors),
            "connection_errors": dict(collections.Counter(d.connection_error for d in devs if d.connection_error)),
            "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }

