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
import threading
import time
from collections.abc import Callable, Sequence
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
        max_inflight: int = 100,
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

        client = paho.Client(
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
        client.max_inflight_messages_set(max_inflight)
        client.max_queued_messages_set(0)  # unlimited: bulk pushes must never be refused
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_subscribe = self._handle_subscribe
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
        info = self._client.publish(topic, payload, qos=qos)
        rc = info.rc
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            return True
        if rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos > 0:
            return True  # kept by paho, sent after the reconnect
        log.warning("MQTT publish to %s not queued: %s", topic, paho.error_string(rc))
        return False

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
        """The acknowledgement of one received message, callable from any thread, at most once useful."""
        if qos == 0:
            return None
        generation = self._generation

        def ack() -> None:
            if generation != self._generation or not self._started:
                return  # an earlier connection's message: the broker sends it again on this one
            self._client.ack(mid, qos)
        return ack
