"""Device credentials changed live in the embedded broker, without a reload.

The broker plugin ``ota_clientid.so`` (``plugin/ota_clientid.c``, ``plugin_opt_device_control
true``) keeps an overlay of device credentials that the service user changes by publishing lines
to ``$CONTROL/ota-devices/v1``; it answers each message on ``.../response``. A reload re-reads the
whole password file (180 ms without an answer at 100,000 devices); a message of a few lines is
applied in microseconds. :class:`DeviceControl` is the backend's side: one short-lived-on-demand
connection, one message at a time, each waited for.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

TOPIC = "$CONTROL/ota-devices/v1"
RESPONSE_TOPIC = TOPIC + "/response"
#: One message stays well under the broker's max_packet_size (256 KiB, broker.py): a bulk import
#: of 100,000 devices (about 85 bytes a line) is some 70 messages.
BYTES_PER_MESSAGE = 128 * 1024


class ControlError(RuntimeError):
    """The broker did not apply a change (not reachable, no plugin answer, or refused)."""


def add(user: str, secret: str) -> str:
    return f"add {user} {secret.encode('utf-8').hex()}"


def rotate(user: str, secret: str) -> str:
    return f"set {user} {secret.encode('utf-8').hex()}"


def remove(user: str) -> str:
    return f"del {user}"


class DeviceControl:
    def __init__(self, host: str, port: int, user: str, password: str, client_id: str,
                 timeout: float = 5.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                                   clean_session=True, protocol=paho.MQTTv311)
        self._client.username_pw_set(user, password)
        self._client.on_message = self._on_message
        self._client.on_connect = self._on_connect
        self._connack = threading.Event()
        self._connack_reason = ""
        self._answers: dict[str, str] = {}
        self._answered = threading.Condition()
        self._seq = itertools.count(1)
        self._connected = False

    def _on_message(self, _client: paho.Client, _userdata: object, msg: paho.MQTTMessage) -> None:
        seq, _, rest = msg.payload.decode("utf-8", "replace").partition(" ")
        with self._answered:
            self._answers[seq] = rest
            self._answered.notify_all()

    def _on_connect(self, _client: paho.Client, _userdata: object, _flags: object, reason: object,
                    _properties: object = None) -> None:
        self._connack_reason = "" if not getattr(reason, "is_failure", False) else str(reason)
        self._connack.set()

    def _connect(self) -> None:
        if self._connected and self._client.is_connected():
            return
        self.close()
        self._answers.clear()
        self._connack.clear()
        try:
            self._client.connect(self.host, self.port, keepalive=60)
        except OSError as exc:
            raise ControlError(f"cannot reach the broker at {self.host}:{self.port}: {exc}") from exc
        self._client.loop_start()
        if not self._connack.wait(self.timeout) or self._connack_reason:
            self.close()
            raise ControlError(f"the broker did not accept the service connection: {self._connack_reason or 'no answer'}")
        result, _mid = self._client.subscribe(RESPONSE_TOPIC, qos=1)
        if result != paho.MQTT_ERR_SUCCESS:
            raise ControlError(f"cannot subscribe to {RESPONSE_TOPIC}: {paho.error_string(result)}")
        self._connected = True

    def close(self) -> None:
        """Disconnect and stop the network thread (each does nothing when there is none)."""
        self._client.disconnect()
        self._client.loop_stop()
        self._connected = False

    def send(self, lines: Iterable[str]) -> int:
        """Apply the lines (in messages of at most ``BYTES_PER_MESSAGE``); how many were applied.

        Raises :class:`ControlError` when a message is not answered within the timeout (no plugin,
        an older plugin, or the broker is down) or is refused (the line and reason are named).
        """
        self._connect()
        batch: list[str] = []
        size = applied = 0
        for line in lines:
            if batch and size + len(line) + 1 > BYTES_PER_MESSAGE:
                applied += self._send_one(batch)
                batch, size = [], 0
            batch.append(line)
            size += len(line) + 1
        if batch:
            applied += self._send_one(batch)
        return applied

    def ping(self) -> None:
        self._connect()
        self._send_one([])

    def _send_one(self, batch: list[str]) -> int:
        seq = str(next(self._seq))
        payload = "\n".join([f"seq {seq}", *(batch or ["ping"])])
        info = self._client.publish(TOPIC, payload.encode("utf-8"), qos=1)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            self._connected = False
            raise ControlError(f"cannot publish to {TOPIC}: {paho.error_string(info.rc)}")
        with self._answered:
            if not self._answered.wait_for(lambda: seq in self._answers, self.timeout):
                self._connected = False  # reconnect next time: a late answer must not be taken for a new one
                raise ControlError(f"no answer on {RESPONSE_TOPIC} within {self.timeout:g} s")
            answer = self._answers.pop(seq)
        verdict, _, detail = answer.partition(" ")
        if verdict != "ok":
            raise ControlError(f"the broker refused a device change: {detail}")
        return int(detail or 0)
