"""What the OTA rules send out, and the small interfaces the adapters implement.

The rules never touch MQTT or HTTP: a unit of work collects ``Effects`` (upgrade orders,
progress acknowledgements, events) and hands them to an ``Outbound`` only after its
transaction committed. ``backend.mqtt.outbound`` turns orders and acknowledgements into MQTT
messages; the event bus takes the events. Tests pass a recording ``Outbound``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ota_protocol.codes import OK


@dataclass(frozen=True, slots=True)
class OrderFile:
    name: str
    signature: str
    size: int
    url: str


@dataclass(frozen=True, slots=True)
class UpgradeOrder:
    """Tell a device to upgrade (the push of a record)."""

    product_id: str
    device_name: str
    record_id: int
    client_token: str
    version: str
    is_diff: int
    sign_method: str
    files: tuple[OrderFile, ...]
    timestamp: int


@dataclass(frozen=True, slots=True)
class ProgressAck:
    """The answer to a device's progress message."""

    product_id: str
    device_name: str
    client_token: str
    timestamp: int
    code: int = OK
    status: str = "成功"


@dataclass(frozen=True, slots=True)
class Presence:
    """A device got its first live connection (online) or lost its last one."""

    product_id: str
    device_name: str
    online: bool


@dataclass(frozen=True, slots=True)
class Transition:
    """A record's status change, kept in its history (written with the unit of work)."""

    record_id: int
    task_uid: str
    product_id: str
    device_name: str
    time: int
    status: int
    step: int
    desc: str
    retry_count: int


@dataclass
class Effects:
    """What a unit of work sends once it has committed, in order; and the record transitions it
    stores in the history (``actor``: who caused them: "admin", "device", "timer", "system")."""

    orders: list[UpgradeOrder] = field(default_factory=list)
    acks: list[ProgressAck] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    history: list[Transition] = field(default_factory=list)
    actor: str = "system"

    def mark(self) -> tuple[int, int, int, int]:
        return len(self.orders), len(self.acks), len(self.events), len(self.history)

    def rollback(self, mark: tuple[int, int, int, int]) -> None:
        """Forget what was added after ``mark`` (its changes were rolled back)."""
        del self.orders[mark[0]:], self.acks[mark[1]:], self.events[mark[2]:], self.history[mark[3]:]


class Outbound(Protocol):
    """Sends orders and acknowledgements to devices (MQTT in the backend)."""

    def push(self, order: UpgradeOrder) -> None: ...

    def ack(self, ack: ProgressAck) -> None: ...


class EventSink(Protocol):
    def publish_many(self, events: list[dict[str, Any]]) -> None: ...


class UrlSigner(Protocol):
    """A download URL for a stored firmware file (presigned, fresh at every push)."""

    def __call__(self, object_key: str) -> str: ...
