"""Shared fixtures and helpers for the MQTT tests: a real Mosquitto on a free loopback port.

Test modules import what they use: ``from tests._mqtt_fixtures import broker, ...``.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import socket
import time
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from backend.mqtt.broker import BrokerNotFound, DeviceCredential, EmbeddedMosquitto, find_mosquitto
from backend.mqtt.link import _close_wakeup_sockets
from tests._wait import wait_for

try:
    find_mosquitto()
    HAVE_MOSQUITTO = True
except BrokerNotFound:
    HAVE_MOSQUITTO = False

#: ``pytestmark = MQTT_MARKS`` in every module that needs the broker.
MQTT_MARKS = [
    pytest.mark.mqtt,
    pytest.mark.skipif(not HAVE_MOSQUITTO, reason="mosquitto is not installed (apt-get install mosquitto)"),
]

SERVICE_PASSWORD = "service-pw-测试:@/"  # exercises URL quoting and UTF-8
DEVICES = [
    DeviceCredential("P1", "d1", "secret-1"),
    DeviceCredential("P1", "d2", "secret-2"),
    DeviceCredential("P2", "d1", "secret-3"),
]

_ids = itertools.count()


@contextlib.contextmanager
def reserved_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A free port held for a server about to be started: keep it until the server listens.

    ``free_port()`` closes its socket at once: until the server binds, any other process can
    take that port (another test's server, an outgoing connection), and the server exits with
    "Address already in use". Here the socket stays bound, with SO_REUSEADDR and not listening,
    which Linux lets a server that also sets SO_REUSEADDR (mosquitto does) bind and listen on,
    and which keeps every other bind and connect off the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, 0))
        yield s.getsockname()[1]


@pytest.fixture
def broker(tmp_path) -> Iterator[EmbeddedMosquitto]:
    mosq = EmbeddedMosquitto(tmp_path / "data", port=0, service_password=SERVICE_PASSWORD)
    mosq.start(DEVICES)
    try:
        yield mosq
    finally:
        mosq.stop()


class Inbox:
    """Messages received by a test client, in order."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[str, bytes]] = queue.Queue()

    def __call__(self, topic: str, payload: bytes) -> None:
        self.queue.put((topic, payload))

    def get(self, timeout: float = 5.0) -> tuple[str, bytes]:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout} s") from None

    def empty_for(self, seconds: float) -> bool:
        try:
            item = self.queue.get(timeout=seconds)
        except queue.Empty:
            return True
        self.queue.put(item)
        return False


def connect_result(port: int, username: str | None, password: str | None, timeout: float = 5.0,
                   client_id: str | None = None):
    """The broker's CONNACK reason code for these credentials (the client disconnects)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"probe-{next(_ids)}",
                         protocol=paho.MQTTv311)
    if username is not None:
        client.username_pw_set(username, password)
    result: list = []
    client.on_connect = lambda c, u, flags, rc, props: result.append(rc)
    client.connect("127.0.0.1", port)
    deadline = time.monotonic() + timeout
    while not result and time.monotonic() < deadline:
        client.loop(0.05)
    client.disconnect()
    _close_wakeup_sockets(client)
    assert result, "no CONNACK"
    return result[0]


class TestClient:
    """A plain paho client standing in for a device or for a second backend connection."""

    __test__ = False  # not a test class

    def __init__(
        self,
        port: int,
        username: str,
        password: str,
        *,
        client_id: str | None = None,
        clean_session: bool = True,
        subscribe: list[tuple[str, int]] | None = None,
    ) -> None:
        self.inbox = Inbox()
        self.connected = 0  # CONNACKs with success
        self._subscribe = subscribe or []
        self._subscribed = 0
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-{next(_ids)}",
            clean_session=clean_session,
            protocol=paho.MQTTv311,
        )
        self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: setattr(self, "_subscribed", self._subscribed + 1)
        self.client.on_message = lambda c, u, m: self.inbox(m.topic, m.payload)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_for(lambda: self.connected and (self._subscribed or not self._subscribe), 5, what="the test client ready")

    def _on_connect(self, client, userdata, flags, rc, props) -> None:
        if not rc.is_failure:
            self.connected += 1
            if self._subscribe:
                client.subscribe(self._subscribe)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, timeout: float = 5.0) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        _close_wakeup_sockets(self.client)
