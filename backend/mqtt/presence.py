"""Device online/offline from the embedded Mosquitto's own log ($SYS/broker/log/N).

The OTA protocol has no presence messages, so the embedded broker publishes its connection
log to the backend (`log_dest topic`), and the lines about clients connecting and going
away become `Presence` items. An external broker gives no such feed: there, a device counts
as online from its first message on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOG_TOPIC = "$SYS/broker/log/N"

_CONNECTED = re.compile(r"New client connected from \S+ as (?P<cid>\S+) \([^)]*?(?:u'(?P<user>[^']*)')?\)\.?$")
_GONE = re.compile(r"(?:Client (?P<cid>\S+) (?:disconnected|closed its connection|has exceeded timeout)"
                   r"|Socket error on client (?P<cid2>\S+), disconnecting)")


@dataclass(frozen=True)
class Presence:
    product_id: str
    device_name: str
    online: bool


class PresenceTracker:
    """Turns broker log lines into Presence items; remembers client id -> device."""

    def __init__(self) -> None:
        self._devices: dict[str, tuple[str, str]] = {}

    @staticmethod
    def _device(name: str) -> tuple[str, str] | None:
        product_id, sep, device_name = name.partition("&")
        return (product_id, device_name) if sep and product_id and device_name and "&" not in device_name else None

    def feed(self, payload: bytes) -> Presence | None:
        line = payload.decode("utf-8", "replace").strip()
        _, sep, rest = line.partition(": ")
        line = rest if sep else line
        if "already connected, closing old connection" in line:
            return None  # the same device again: the new connection's line follows
        m = _CONNECTED.search(line)
        if m:
            dev = self._device(m.group("user") or "") or self._device(m.group("cid"))
            if dev is None:
                return None
            self._devices[m.group("cid")] = dev
            return Presence(dev[0], dev[1], True)
        m = _GONE.search(line)
        if m:
            cid = m.group("cid") or m.group("cid2")
            dev = self._devices.pop(cid, None) or self._device(cid)
            return Presence(dev[0], dev[1], False) if dev else None
        return None
