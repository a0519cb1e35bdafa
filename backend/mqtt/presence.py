"""Device online/offline from the embedded Mosquitto's own log ($SYS/broker/log/N).

The OTA protocol has no presence messages, so the embedded broker publishes its connection
log to the backend (`log_dest topic`), and the lines about clients connecting and going
away become `Presence` items. An external broker gives no such feed: there, a device counts
as online from its first message on.
"""

from __future__ import annotations

import re

from ..ota.ports import Presence

LOG_TOPIC = "$SYS/broker/log/N"

# Mosquitto 2.0's notice lines, after the timestamp prefix. A client id is whatever the client
# chose (spaces, quotes, parentheses...), so every pattern is matched against the whole line
# (fullmatch) with the client id greedy: it takes everything up to the fixed tail. The user name
# on a connect line comes from the broker's password file and holds no space (see
# broker.credential_problem), so a client id can never end where the real tail begins.
_TIMESTAMP = re.compile(r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d|\d+): ", re.ASCII)
_CONNECTED = re.compile(r"New client connected from \S+ as (?P<cid>.+) "
                        r"\(p\d+, c\d+, k\d+(?:, u'(?P<user>[^ ]*)')?\)\.", re.DOTALL | re.ASCII)
_GONE = (
    re.compile(r"Client (?P<cid>.+) (?:disconnected|closed its connection|has exceeded timeout, disconnecting"
               r"|disconnected due to [a-z ,()]+|been disconnected by administrative action"
               r"|disconnected: [A-Za-z ,()'/-]+)\.", re.DOTALL | re.ASCII),
    re.compile(r"Socket error on client (?P<cid>.+), disconnecting\.", re.DOTALL | re.ASCII),
)


class PresenceTracker:
    """Turns broker log lines into Presence items from the set of live connections per credential.

    A connect line maps its client id to the credential it authenticated with; a disconnect
    line names only the client id and ends that connection. A credential is online while it
    has at least one live connection, so a device's second, short-lived connection (a
    ``mosquitto_pub`` next to its subscriber) or a reconnect under a new client id before the
    old connection timed out never marks it offline. A connect line whose client id is already
    live is a session takeover: the new connection replaces the old one (the broker closed it).
    Items are emitted only when a credential's count crosses 0.

    Only a credential's user name ``{productID}&{deviceName}`` names a device, never a client
    id, and a disconnect line counts only for a client id seen connecting: whatever id a
    client picks, it can end no connection but its own.
    """

    def __init__(self) -> None:
        self._conn: dict[str, tuple[str, str]] = {}  # live client id -> device
        self._count: dict[tuple[str, str], int] = {}  # device -> number of live connections

    @staticmethod
    def _device(name: str) -> tuple[str, str] | None:
        product_id, sep, device_name = name.partition("&")
        return (product_id, device_name) if sep and product_id and device_name and "&" not in device_name else None

    def online(self, product_id: str, device_name: str) -> bool:
        return self._count.get((product_id, device_name), 0) > 0

    def connections(self, product_id: str, device_name: str) -> int:
        return self._count.get((product_id, device_name), 0)

    def reset(self) -> list[Presence]:
        """Forget every connection (the broker restarted): offline items for the devices that were online."""
        gone = [Presence(p, d, False) for (p, d), n in self._count.items() if n > 0]
        self._conn.clear()
        self._count.clear()
        return gone

    def _add(self, cid: str, dev: tuple[str, str]) -> bool:
        self._conn[cid] = dev
        n = self._count.get(dev, 0) + 1
        self._count[dev] = n
        return n == 1

    def _remove(self, cid: str) -> tuple[str, str] | None:
        """Ends the connection ``cid``; the device if that was its last one."""
        dev = self._conn.pop(cid, None)
        if dev is None:
            return None
        n = self._count.get(dev, 0) - 1
        if n > 0:
            self._count[dev] = n
            return None
        self._count.pop(dev, None)
        return dev

    def feed(self, payload: bytes) -> Presence | None:
        items = self.feed_all(payload)
        return items[-1] if items else None

    def feed_all(self, payload: bytes) -> list[Presence]:
        """The presence changes one log line makes (0, 1, or 2 for a takeover across credentials)."""
        line = payload.decode("utf-8", "replace")
        m = _TIMESTAMP.match(line)
        if m:
            line = line[m.end():]
        m = _CONNECTED.fullmatch(line)
        if m:
            cid, dev = m.group("cid"), self._device(m.group("user") or "")
            out = []
            old = self._remove(cid)  # a session takeover: the old connection is gone
            if old is not None and old != dev:
                out.append(Presence(old[0], old[1], False))
            if dev is not None and self._add(cid, dev) and old != dev:
                out.append(Presence(dev[0], dev[1], True))
            return out
        for pattern in _GONE:
            m = pattern.fullmatch(line)
            if m:
                dev = self._remove(m.group("cid"))
                return [Presence(dev[0], dev[1], False)] if dev else []
        return []
