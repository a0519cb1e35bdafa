"""Stable ports for the embedded backend, and the addresses devices use to reach it.

Devices are configured once with a broker host:port and keep using it, so the app must not
move its ports between starts. "Automatic" (0 in Settings) means: the standard MQTT port
1883 and the documented HTTP port 7777 when they are free, else a free port — chosen once
and then written to Settings, so every later start uses the same port. A remembered port
that another program holds is reported (never silently replaced: devices would be stranded).
"""
from __future__ import annotations

import socket
from dataclasses import dataclass

from PySide6.QtNetwork import QAbstractSocket, QHostAddress, QNetworkInterface

DEFAULT_HTTP_PORT = 7777
DEFAULT_MQTT_PORT = 1883
LOOPBACK = "127.0.0.1"
ANY = "0.0.0.0"


def listen_host(lan: bool) -> str:
    """The address the backend listens on (as backend/config.py ``bind_host``)."""
    return ANY if lan else LOOPBACK


def port_is_free(host: str, port: int) -> bool:
    """True when a listener could bind ``host:port`` now (SO_REUSEADDR, like the backend and
    Mosquitto: a port in TIME_WAIT after our own restart counts as free). Instant, no I/O wait."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    if host == ANY:  # a program on 127.0.0.1 only also blocks the wildcard listener
        return port_is_free(LOOPBACK, port)
    return True


def free_port(host: str = LOOPBACK, avoid: tuple[int, ...] = ()) -> int:
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port
    return port  # pragma: no cover


def choose_port(preferred: int, host: str, avoid: tuple[int, ...] = ()) -> int:
    """``preferred`` when it is free (and not in ``avoid``), else a free port."""
    if preferred not in avoid and port_is_free(host, preferred):
        return preferred
    return free_port(host, avoid)


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses on interfaces that are up, loopback excluded."""
    found: list[str] = []
    for iface in QNetworkInterface.allInterfaces():
        flags = iface.flags()
        if not (flags & QNetworkInterface.InterfaceFlag.IsUp) or flags & QNetworkInterface.InterfaceFlag.IsLoopBack:
            continue
        for entry in iface.addressEntries():
            ip: QHostAddress = entry.ip()
            if ip.protocol() == QAbstractSocket.NetworkLayerProtocol.IPv4Protocol and not ip.isLoopback():
                text = ip.toString()
                if text not in found:
                    found.append(text)
    return found


@dataclass(frozen=True)
class Endpoints:
    """Where devices reach the backend: for the provisioning export and the Connection dialog."""

    base_url: str  # HTTP base URL as devices should use it
    mqtt_host: str
    mqtt_port: int

    @property
    def broker(self) -> str:
        return f"{self.mqtt_host}:{self.mqtt_port}" if self.mqtt_host else ""
