"""The backend's MQTT connection (paho-mqtt 2.x), with nothing of paho visible outside.

- Persistent session (MQTT 3.1.1, ``clean_session=False``, fixed client id): QoS 1 device
  messages published while the backend is away are queued by the broker and delivered
  when it comes back.
- Subscribes on every connect, reconnects by itself with 1 s .. 30 s backoff, and
  ``start()`` never blocks, even when the broker is down.
- ``publish`` may be called from any thread at any time; while disconnected paho keeps
  QoS 1 messages and sends them after the reconnect.
- Exceptions from the callbacks are logged and never stop the network loop.
- ``manual_ack=True``: a QoS 1 message is acknowledged only when the receiver calls the
  ``ack`` handed to ``on_message(topic, payload, ack)`` (after it applied the message); the
  broker delivers anything unacknowledged again when the session resumes (after a crash or
  a stop). An ``ack`` from an earlier connection is not sent (the broker redelivers that
  message on the new one). ``pause()`` stops handing messages over (they stay unacknowledged).
  ``ack_all(acks)`` sends the PUBACKs of many messages in one write (a batch's acknowledgements).
- At most ``max_inflight`` QoS 1 publishes are unacknowledged by the broker at a time; more wait
  in the link's own backlog, in order. (paho's own window rescans every message it holds on each
  PUBACK, and more than 65,535 unacknowledged messages would run out of packet ids.)
- The socket is read in 64 KiB blocks, and every packet a block holds is handled before the
  next ``select`` (paho alone reads 1 + 1 + n bytes per packet, and one packet per wake-up).
- The backend's client id is secret (``backend_client_id``): MQTT gives a client id to
  whoever connects with it last, so a guessable id would let any device take the backend's
  session over.
"""

from __future__ import annotations

import logging
import os
import secrets
import ssl
import string
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

__all__ = [
    "CLIENT_ID_FILE",
    "LEGACY_CLIENT_ID",
    "Ack",
    "BrokerAddress",
    "MqttLink",
    "backend_client_id",
    "clear_session",
    "parse_mqtt_url",
]

log = logging.getLogger(__name__)

DEFAULT_SUBSCRIPTIONS: tuple[tuple[str, int], ...] = (("$ota/up/#", 1),)
_CA_PARAMS = ("ca", "cafile", "ca_file", "ca_certs")
#: The fixed client id of earlier versions: guessable, so any device could take it over.
LEGACY_CLIENT_ID = "ota-backend"
#: File in the data directory holding the backend's own client id (mode 0600).
CLIENT_ID_FILE = "mqtt-client-id"
_ID_ALPHABET = string.ascii_letters + string.digits
_ID_RANDOM_CHARS = 20  # about 119 bits: not guessable


def _valid_client_id(text: str) -> bool:
    prefix = LEGACY_CLIENT_ID + "-"
    rest = text[len(prefix):]
    return text.startswith(prefix) and len(rest) >= 16 and all(c in _ID_ALPHABET for c in rest)


def backend_client_id(data_dir: Path) -> tuple[str, bool]:
    """The backend's MQTT client id, ``ota-backend-<20 random letters and digits>``.

    Made once and kept in ``<data_dir>/mqtt-client-id`` (0600), so the persistent session
    survives restarts while no device can guess the id and take the session over. Returns
    ``(client_id, created)``; ``created`` is True when it was made now (a new data directory,
    or one from a version that used the fixed id ``ota-backend``).
    """
    path = Path(data_dir) / CLIENT_ID_FILE
    try:
        current = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        current = ""
    if _valid_client_id(current):
        return current, False
    client_id = LEGACY_CLIENT_ID + "-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_RANDOM_CHARS))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(client_id + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return client_id, True


def clear_session(url: str, client_id: str, timeout: float = 5.0) -> bool:
    """Connect once as ``client_id`` with a clean session and leave: the broker drops that
    client id's persistent session (its subscriptions and queued messages).

    Used once to retire the backend's old, guessable session ``ota-backend``. Best effort:
    returns False if the broker could not be reached or refused the connection.
    """
    address = parse_mqtt_url(url)
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                         clean_session=True, protocol=paho.MQTTv311)
    if address.username is not None:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set(ca_certs=address.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    result: list = []
    client.on_connect = lambda c, u, flags, rc, props: result.append(rc)
    try:
        client.connect(address.host, address.port, keepalive=10)
        deadline = time.monotonic() + timeout
        while not result and time.monotonic() < deadline:
            client.loop(0.05)
        if result and not result[0].is_failure:
            client.disconnect()
            client.loop(0.05)
            return True
        return False
    except Exception as exc:  # noqa: BLE001 - best effort
        log.debug("could not clear the MQTT session %s: %s", client_id, exc)
        return False
    finally:
        close = getattr(client, "_sock_close", None)
        if close is not None:
            close()
        _close_wakeup_sockets(client)


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool
    ca_file: str | None

    def redacted(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}:***@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> BrokerAddress:
    """``mqtt://user:pass@host:port`` or ``mqtts://user:pass@host:port?ca=/path/ca.pem``.

    Default ports 1883 / 8883; user and password are percent-decoded. ``mqtts`` without
    a CA file verifies the server against the system's trusted CAs.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {parts.scheme or url!r}")
    if not parts.hostname:
        raise ValueError("MQTT URL has no host")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ValueError(f"MQTT URL has a bad port: {exc}") from None
    query = parse_qs(parts.query)
    unknown = set(query) - set(_CA_PARAMS)
    if unknown:
        raise ValueError(f"MQTT URL has unknown parameters: {', '.join(sorted(unknown))}")
    ca_file = next((query[name][-1] for name in _CA_PARAMS if name in query), None)
    if ca_file and not tls:
        raise ValueError("a CA file only makes sense with mqtts://")
    return BrokerAddress(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        tls=tls,
        ca_file=ca_file,
    )


def _close_wakeup_sockets(client: paho.Client) -> None:
    """Close paho's internal wake-up socket pair after ``loop_stop``.

    paho 2.x only closes it when the client is garbage-collected, which leaks two sockets
    (and ResourceWarnings) per stopped client.
    """
    reset = getattr(client, "_reset_sockets", None)
    if reset is not None:
        reset(sockpair_only=True)


_PUBACK = 0x40
_RECV_BLOCK = 65536


class _Client(paho.Client):
    """paho's client, reading the socket in blocks and sending many PUBACKs in one packet write."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._rbuf = b""
        self._rpos = 0
        self._rsock: object = None  # the socket the buffered bytes came from

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._sock is not self._rsock:  # a new connection: nothing of the old one is left over
            self._rsock, self._rbuf, self._rpos = self._sock, b"", 0
        if self._rpos >= len(self._rbuf):
            data = super()._sock_recv(max(bufsize, _RECV_BLOCK))  # raises as paho expects
            if len(data) <= bufsize:
                self._rbuf, self._rpos = b"", 0
                return data
            self._rbuf, self._rpos = data, 0
        end = self._rpos + bufsize
        out = self._rbuf[self._rpos:end]
        self._rpos = min(end, len(self._rbuf))
        return out

    def _buffered(self) -> bool:
        return self._rpos < len(self._rbuf) and self._sock is not None and self._sock is self._rsock

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._buffered():
            rc = super().loop_read(max_packets)  # select() would not wake for bytes already read
        return rc

    def _packet_queue(self, command: int, packet: bytes | bytearray, mid: int, qos: int,
                      info: paho.MQTTMessageInfo | None = None) -> MQTTErrorCode:
        thread = self._thread
        if thread is not None and thread.ident == threading.get_ident():
            # on the network thread (a callback): no wake-up byte through the socket pair; the
            # next select() sees want_write() and writes at once
            self._out_packet.append({"command": command, "mid": mid, "qos": qos, "pos": 0,
                                     "to_process": len(packet), "packet": packet, "info": info})
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._packet_queue(command, packet, mid, qos, info)

    def send_pubacks(self, mids: Sequence[int]) -> None:
        """The PUBACKs of ``mids`` as one queued write (thread-safe as paho's own ``ack``)."""
        if mids:
            packet = b"".join([struct.pack("!BBH", _PUBACK, 2, mid) for mid in mids])
            self._packet_queue(_PUBACK, packet, mids[0], 1)

    def holds(self, mid: int) -> bool:
        """``mid`` is a QoS 1/2 publish of ours not yet acknowledged (only meaningful on the network thread)."""
        return mid in self._out_messages


class Ack:
    """The acknowledgement of one received QoS 1 message: call it (from any thread) once the
    message was applied, or hand many to ``Ack.send_all`` / ``MqttLink.ack_all`` (one write)."""

    __slots__ = ("_generation", "_link", "mid")

    def __init__(self, link: MqttLink, generation: int, mid: int) -> None:
        self._link, self._generation, self.mid = link, generation, mid

    def __call__(self) -> None:
        self._link.ack_all((self,))

    @staticmethod
    def send_all(acks: Iterable[Ack]) -> None:
        by_link: dict[int, tuple[MqttLink, list[Ack]]] = {}
        for a in acks:
            by_link.setdefault(id(a._link), (a._link, []))[1].append(a)
        for link, mine in by_link.values():
            link.ack_all(mine)


class MqttLink:
    """One long-lived MQTT connection of the backend.

    "Connected" means the broker has acknowledged the subscriptions: from then on no
    matching message is missed. ``on_message(topic, payload)`` and ``on_state(connected)``
    run on the network thread: keep them short (hand work to a queue).
    """

    def __init__(
        self,
        url: str,
        client_id: str,
        on_message: Callable[..., None],
        subscriptions: Sequence[tuple[str, int]] = DEFAULT_SUBSCRIPTIONS,
        on_state: Callable[[bool], None] | None = None,
        *,
        keepalive: int = 30,
        reconnect_delay: tuple[int, int] = (1, 30),
        max_inflight: int = 1000,
        max_packet_size: int | None = None,
        manual_ack: bool = False,
    ) -> None:
        if not client_id:
            raise ValueError("a persistent session needs a fixed, non-empty client id")
        self.address = parse_mqtt_url(url)
        self.client_id = client_id
        self._on_message = on_message
        self._on_state = on_state
        self._subscriptions = [(topic, int(qos)) for topic, qos in subscriptions]
        self._keepalive = keepalive
        # A PUBLISH larger than the broker accepts would get the link disconnected, and paho
        # would send it again after every reconnect: refuse it here instead.
        self._max_packet_size = max_packet_size
        self._connected = threading.Event()
        self._started = False
        self._stopping = False
        self._pending_subscribe: int | None = None
        self._lock = threading.Lock()
        self._manual_ack = manual_ack
        self._paused = False
        self._generation = 0  # connections so far: an ack is only valid on the connection it came on
        # QoS 1 publishes handed to paho and not yet acknowledged by the broker, and those waiting
        # for room (FIFO); _draining: the network thread is moving the backlog into paho
        self._window = max(1, max_inflight)
        self._unacked = 0
        self._backlog: deque[tuple[str, bytes | str, int]] = deque()
        self._draining = False
        self._out_lock = threading.Lock()  # never held while calling into paho

        client = _Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=paho.MQTTv311,
            manual_ack=manual_ack,
        )
        if self.address.username is not None:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set(ca_certs=self.address.ca_file, cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(*reconnect_delay)
        client.max_inflight_messages_set(0)  # the link keeps the window (see _window)
        client.max_queued_messages_set(0)  # unlimited: bulk pushes must never be refused
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_subscribe = self._handle_subscribe
        client.on_publish = self._handle_published
        self._client = client

    # ------------------------------------------------------------------ state

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Block until connected and subscribed (SUBACK received); False on timeout."""
        return self._connected.wait(timeout)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Begin connecting in the background; returns at once even if the broker is down."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self._stopping = False
            self._client.connect_async(self.address.host, self.address.port, self._keepalive)
            self._client.loop_start()
        log.info("MQTT link %s connecting to %s", self.client_id, self.address.redacted())

    def pause(self) -> None:
        """Hand over no more messages (a stop begins): with ``manual_ack`` they stay
        unacknowledged and the broker delivers them again to the next session."""
        self._paused = True

    def stop(self) -> None:
        """Disconnect (the broker keeps the session) and end the network thread."""
        with self._lock:
            if not self._started:
                return
            self._started = False
            self._stopping = True
            self._client.disconnect()
            self._client.loop_stop()
            _close_wakeup_sockets(self._client)
            was_connected = self._connected.is_set()
            self._connected.clear()
        if was_connected:
            self._notify_state(False)

    def __enter__(self) -> MqttLink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ publishing

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> bool:
        """Send (or queue until reconnected) one message. Thread-safe.

        Returns False only if the message could not be queued (logged); a QoS 0
        message while disconnected is dropped and also returns False.
        """
        if self._max_packet_size is not None:
            size = len(payload.encode("utf-8") if isinstance(payload, str) else payload)
            packet = size + len(topic.encode("utf-8")) + 16  # fixed header, topic length, packet id
            if packet > self._max_packet_size:
                log.error("MQTT publish to %s not sent: %d bytes, more than the broker's limit of %d",
                          topic, packet, self._max_packet_size)
                return False
        if qos > 0:
            with self._out_lock:
                if self._backlog or self._draining or self._unacked >= self._window:
                    self._backlog.append((topic, payload, qos))  # sent as acknowledgements make room
                    return True
                self._unacked += 1
        return self._send(topic, payload, qos)

    def _send(self, topic: str, payload: bytes | str, qos: int) -> bool:
        info = self._client.publish(topic, payload, qos=qos)
        rc = info.rc
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            return True
        if rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos > 0:
            return True  # kept by paho, sent after the reconnect
        if qos > 0:
            with self._out_lock:
                self._unacked -= 1
        log.warning("MQTT publish to %s not queued: %s", topic, paho.error_string(rc))
        return False

    def _handle_published(self, client: paho.Client, userdata: object, mid: int, reason_code: ReasonCode,
                          properties: Properties | None) -> None:
        """Network thread, paho's message lock held: the broker acknowledged ``mid`` (or paho wrote a
        QoS 0 message, not counted): room in the window for the backlog."""
        counted = self._client.holds(mid)  # paho forgets a QoS 1 message right after this callback
        with self._out_lock:
            if counted:
                self._unacked -= 1
            if self._draining or not self._backlog:
                return
            self._draining = True
        try:
            while True:
                with self._out_lock:
                    n = min(self._window - self._unacked, len(self._backlog))
                    if n <= 0:
                        self._draining = False
                        return
                    take = [self._backlog.popleft() for _ in range(n)]
                    self._unacked += n
                for topic, payload, qos in take:
                    self._send(topic, payload, qos)
        except BaseException:
            with self._out_lock:
                self._draining = False
            raise

    @property
    def backlog(self) -> int:
        """QoS 1 publishes waiting for room in the window (not yet handed to paho)."""
        return len(self._backlog)

    # ------------------------------------------------------------------ acknowledgements

    def ack_all(self, acks: Iterable[Ack]) -> None:
        """Send the PUBACKs of ``acks`` (from this link, this connection) in one write; thread-safe."""
        if not self._started:
            return
        generation = self._generation
        mids = [a.mid for a in acks if a._link is self and a._generation == generation]
        if mids:
            self._client.send_pubacks(mids)

    # ------------------------------------------------------------------ callbacks (network thread)

    def _notify_state(self, connected: bool) -> None:
        if self._on_state is None:
            return
        try:
            self._on_state(connected)
        except Exception:
            log.exception("MQTT on_state callback failed")

    def _handle_connect(self, client: paho.Client, userdata: object, flags: paho.ConnectFlags,
                        reason_code: ReasonCode, properties: Properties | None) -> None:
        if reason_code.is_failure:
            log.warning("MQTT broker %s refused the connection: %s", self.address.redacted(), reason_code)
            return
        self._generation += 1
        log.info(
            "MQTT link %s connected to %s (session present: %s)",
            self.client_id,
            self.address.redacted(),
            flags.session_present,
        )
        if not self._subscriptions:
            self._mark_connected()
            return
        # Subscribe on every connect: the broker may have lost the session.
        result, mid = client.subscribe(self._subscriptions)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.warning("MQTT subscribe failed: %s", paho.error_string(result))
            return
        self._pending_subscribe = mid  # connected once the broker acknowledges it

    def _handle_subscribe(self, client: paho.Client, userdata: object, mid: int, reason_codes: list[ReasonCode],
                          properties: Properties | None) -> None:
        if mid != self._pending_subscribe:
            return
        self._pending_subscribe = None
        for (topic, _qos), code in zip(self._subscriptions, reason_codes):
            if code.is_failure:
                log.warning("MQTT subscription to %s refused by the broker: %s", topic, code)
        self._mark_connected()

    def _mark_connected(self) -> None:
        self._connected.set()
        self._notify_state(True)

    def _handle_connect_fail(self, client: paho.Client, userdata: object) -> None:
        log.debug("MQTT link %s: connecting to %s failed", self.client_id, self.address.redacted())

    def _handle_disconnect(self, client: paho.Client, userdata: object, flags: paho.DisconnectFlags,
                           reason_code: ReasonCode, properties: Properties | None) -> None:
        self._pending_subscribe = None
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected:
            level = logging.INFO if self._stopping else logging.WARNING
            log.log(level, "MQTT link %s disconnected: %s", self.client_id, reason_code)
            self._notify_state(False)

    def _handle_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        if self._paused:
            return  # never acknowledged: delivered again to the next session
        # paho types the payload bytes | bytearray (an outgoing one may be either); a received one
        # is bytes, which bytes() returns as is
        payload = bytes(message.payload)
        try:
            if self._manual_ack:
                self._on_message(message.topic, payload, self._acker(message.mid, message.qos))
            else:
                self._on_message(message.topic, payload)
        except Exception:
            log.exception("MQTT message handler failed on %s", message.topic)

    def _acker(self, mid: int, qos: int) -> Callable[[], None] | None:
        """The acknowledgement of one received message, callable from any thread, at most once useful.
        One from an earlier connection is not sent: the broker sends that message again on this one."""
        if qos == 1:
            return Ack(self, self._generation, mid)
        if qos == 0:
            return None
        generation = self._generation

        def ack() -> None:  # QoS 2: the backend subscribes with QoS 1, so never in practice
            if generation == self._generation and self._started:
                self._client.ack(mid, qos)
        return ack
