"""MQTT connections of the fleet: one per device (default) or K shared ones.

Both kinds run on the :class:`~devsim.reactor.Reactor` thread and implement the
:class:`~devsim.device.Link` protocol (``publish``, ``drop``).

* :class:`DeviceConnection`: the device's own credentials (username ``{p}&{d}``, password
  the device secret, client id ``{p}&{d}``), subscribed to its two ``$ota/down`` topics,
  exactly like a real device behind a broker with per-device ACLs.
* :class:`SharedConnection`: a privileged account (the credentials in ``--mqtt-url``) that
  carries many devices: it subscribes to each device's two ``$ota/down`` topics (100 topic
  filters per SUBSCRIBE) and publishes on their behalf. A device "drop" there is only
  simulated (the device goes quiet and comes back), the TCP connection stays.

Connection attempts go through a :class:`ConnectGate` that bounds how many TCP/CONNECT
handshakes are in flight, so 10,000 devices do not overflow the broker's listen backlog
(paho's ``connect()`` blocks while the kernel completes the TCP handshake).
"""

from __future__ import annotations

import collections
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ota_protocol.device import down_topics

if TYPE_CHECKING:
    from .device import Device
    from .reactor import Reactor

log = logging.getLogger(__name__)

QOS = 1


@dataclass(frozen=True)
class MqttEndpoint:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> MqttEndpoint:
        """``mqtt://[user[:password]@]host[:port]`` (``tcp://`` too; default port 1883)."""
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "tcp"):
            raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r} (use mqtt://host:port)")
        if not parts.hostname:
            raise ValueError(f"MQTT URL {url!r} has no host")
        return cls(
            host=parts.hostname,
            port=parts.port or 1883,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class ConnectGate:
    """Runs connection attempts with at most ``limit`` handshakes in flight (reactor thread)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._queue: collections.deque[Callable[[], bool]] = collections.deque()
        self._in_flight = 0

    def request(self, attempt: Callable[[], bool]) -> None:
        """``attempt()`` returns True when a handshake started (call :meth:`done` later)."""
        self._queue.append(attempt)
        self._pump()

    def done(self) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        self._pump()

    def _pump(self) -> None:
        while self._queue and self._in_flight < self.limit:
            attempt = self._queue.popleft()
            if attempt():
                self._in_flight += 1


class _Connection:
    """A paho client driven by the reactor, reconnecting with backoff."""

    def __init__(
        self,
        reactor: Reactor,
        gate: ConnectGate,
        endpoint: MqttEndpoint,
        client_id: str,
        username: str | None,
        password: str | None,
        keepalive: int,
        reconnect_delay: float,
        on_message: Callable[[str, bytes], None],
    ) -> None:
        self.reactor = reactor
        self.gate = gate
        self.endpoint = endpoint
        self.keepalive = keepalive
        self.reconnect_delay = reconnect_delay
        self.on_message_cb = on_message
        self.closing = False
        self.up = False
        self.last_error: str | None = None
        self._handshaking = False
        self._failures = 0
        self._started = False
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=True
        )
        if username is not None:
            c.username_pw_set(username, password)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.max_queued_messages_set(0)
        c.max_inflight_messages_set(100)
        reactor.attach(c)
        self.client = c

    # ---------------------------------------------------------------- connecting
    def start(self) -> None:
        self.gate.request(self._attempt)

    def _attempt(self) -> bool:
        if self.closing:
            return False
        try:
            if not self._started:
                self.client.connect(self.endpoint.host, self.endpoint.port, self.keepalive)
                self._started = True
            else:
                self.client.reconnect()
        except (OSError, ValueError) as exc:
            self._started = True
            self.set_error(f"connect failed: {exc}")
            self._retry_later()
            return False
        self._handshaking = True
        return True

    def _end_handshake(self) -> None:
        if self._handshaking:
            self._handshaking = False
            self.gate.done()

    def _retry_later(self) -> None:
        if self.closing:
            return
        self._failures += 1
        delay = min(self.reconnect_delay * (2 ** min(self._failures - 1, 5)), 30.0)
        self.reactor.call_later(delay, self.start)

    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self._end_handshake()
        if reason.is_failure:
            self.set_error(f"connection refused: {reason}")
            return  # the broker closes the socket; _on_disconnect schedules the retry
        self._failures = 0
        self.set_error(None)
        self.subscribe()

    def _on_disconnect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self._end_handshake()
        was_up, self.up = self.up, False
        if was_up:
            self.went_down()
        if not self.closing:
            self._retry_later()

    def _on_message(self, _client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        # paho types the payload bytes | bytearray; a received one is bytes, which bytes() returns as is
        self.on_message_cb(msg.topic, bytes(msg.payload))

    # ---------------------------------------------------------------- overridden
    def set_error(self, error: str | None) -> None:
        self.last_error = error

    def subscribe(self) -> None:
        raise NotImplementedError

    def _on_subscribe(self, client: mqtt.Client, _u: Any, mid: int, reasons: list[Any], _props: Any) -> None:
        raise NotImplementedError

    def went_down(self) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- shared helpers
    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=QOS)

    def abort(self) -> None:
        """Drop the TCP connection without an MQTT DISCONNECT (like a lost network)."""
        sock = self.client.socket()
        if isinstance(sock, socket.socket):  # TCP, or TLS (ssl.SSLSocket): devsim uses no websockets
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        """Send DISCONNECT and stop reconnecting."""
        self.closing = True
        if self.client.socket() is not None:
            self.client.disconnect()

    @property
    def is_open(self) -> bool:
        return self.client.socket() is not None


class DeviceConnection(_Connection):
    """One device, its own credentials."""

    def __init__(
        self,
        device: Device,
        reactor: Reactor,
        gate: ConnectGate,
        endpoint: MqttEndpoint,
        keepalive: int,
        reconnect_delay: float,
        on_message: Callable[[str, bytes], None],
    ) -> None:
        self.device = device
        super().__init__(
            reactor,
            gate,
            endpoint,
            client_id=device.username,
            username=device.username,
            password=device.secret,
            keepalive=keepalive,
            reconnect_delay=reconnect_delay,
            on_message=on_message,
        )
        self._sub_mid: int | None = None

    def subscribe(self) -> None:
        _rc, self._sub_mid = self.client.subscribe(
            [(t, QOS) for t in down_topics(self.device.product_id, self.device.name)]
        )

    def _on_subscribe(self, client: mqtt.Client, _u: Any, mid: int, reasons: list[Any], _props: Any) -> None:
        if mid != self._sub_mid:
            return
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            self.device.errors.append(f"subscription refused: {', '.join(refused)}")
            self.set_error("subscription refused")
            return
        self.up = True
        self.device.on_connected()

    def went_down(self) -> None:
        self.device.on_disconnected()

    def set_error(self, error: str | None) -> None:
        self.last_error = error
        self.device.connection_error = error

    # Link protocol
    def publish(self, device: Device, topic: str, payload: bytes) -> None:  # type: ignore[override]
        super().publish(topic, payload)

    def drop(self, device: Device) -> None:
        self.abort()


class SharedConnection(_Connection):
    """Many devices over one privileged connection."""

    BATCH = 100  # topic filters per SUBSCRIBE

    def __init__(
        self,
        index: int,
        devices: list[Device],
        reactor: Reactor,
        gate: ConnectGate,
        endpoint: MqttEndpoint,
        keepalive: int,
        reconnect_delay: float,
        on_message: Callable[[str, bytes], None],
    ) -> None:
        self.devices = devices
        super().__init__(
            reactor,
            gate,
            endpoint,
            client_id=f"ota-devsim-{os.getpid()}-{index}",
            username=endpoint.username,
            password=endpoint.password,
            keepalive=keepalive,
            reconnect_delay=reconnect_delay,
            on_message=on_message,
        )
        self._pending: dict[int, list[Device]] = {}
        self._away: set[str] = set()

    def subscribe(self) -> None:
        self._pending.clear()
        per = self.BATCH // 2
        for i in range(0, len(self.devices), per):
            batch = self.devices[i : i + per]
            topics = [(t, QOS) for d in batch for t in down_topics(d.product_id, d.name)]
            _rc, mid = self.client.subscribe(topics)
            if mid is not None:  # None: not connected, nothing sent; the next connect subscribes again
                self._pending[mid] = batch

    def _on_subscribe(self, client: mqtt.Client, _u: Any, mid: int, reasons: list[Any], _props: Any) -> None:
        batch = self._pending.pop(mid, None)
        if batch is None:
            return
        refused = [str(r) for r in reasons if r.is_failure]
        self.up = True
        for dev in batch:
            if refused:
                dev.errors.append(f"subscription refused: {', '.join(refused)}")
            elif dev.name not in self._away:
                dev.on_connected()

    def went_down(self) -> None:
        for dev in self.devices:
            if dev.connected:
                dev.on_disconnected()

    def set_error(self, error: str | None) -> None:
        self.last_error = error
        for dev in self.devices:
            dev.connection_error = error

    # Link protocol
    def publish(self, device: Device, topic: str, payload: bytes) -> None:  # type: ignore[override]
        super().publish(topic, payload)

    def drop(self, device: Device) -> None:
        """Simulated: the device goes quiet and comes back after the reconnect delay."""
        self._away.add(device.name)
        device.on_disconnected()
        self.reactor.call_later(self.reconnect_delay, self._back, device)

    def _back(self, device: Device) -> None:
        self._away.discard(device.name)
        if self.up:
            device.on_connected()
