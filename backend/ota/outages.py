"""Our own unavailability, as the domain needs to know it: when were we (or our store, broker,
proxy) not able to serve a device?

A device that fails to download while the object store was down, the backend was starting or the
proxy answered 5xx did not fail on its own: the engine re-pushes it once we are healthy again
without spending the task's retry budget. The adapters (runtime start, health checks, the object
proxy, the MQTT link) ``note`` what they see; the engine asks ``covers(at)``.

Plain Python with an injectable clock, no I/O: testable in-process.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

#: kinds of outage the adapters report
BACKEND_START = "backend-start"
STORE = "object-store"
BROKER = "broker"
PROXY_5XX = "proxy-5xx"
DISK = "disk"

#: a device failure this long after an outage still counts as caused by it (the device's own
#: download timeout, connection retries and report travel take time)
GRACE_S = 120.0


@dataclass(frozen=True, slots=True)
class Outage:
    kind: str
    start: float  # clock seconds (wall clock, like the records' timestamps / 1000)
    end: float | None  # None while it lasts
    detail: str = ""


class OutageLog:
    """Thread-safe record of recent outages (the last ``keep`` of them)."""

    def __init__(self, clock: Callable[[], float] = time.time, keep: int = 1000) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._past: deque[Outage] = deque(maxlen=keep)
        self._open: dict[str, Outage] = {}

    def begin(self, kind: str, detail: str = "") -> None:
        """``kind`` is unavailable from now on (idempotent while it lasts)."""
        with self._lock:
            if kind not in self._open:
                self._open[kind] = Outage(kind, self._clock(), None, detail)

    def end(self, kind: str) -> None:
        """``kind`` is available again."""
        with self._lock:
            o = self._open.pop(kind, None)
            if o is not None:
                self._past.append(Outage(o.kind, o.start, self._clock(), o.detail))

    def note(self, kind: str, detail: str = "") -> None:
        """A momentary outage (one proxied 5xx, a start-up): begins and ends now."""
        now = self._clock()
        with self._lock:
            self._past.append(Outage(kind, now, now, detail))

    def ongoing(self) -> list[Outage]:
        with self._lock:
            return list(self._open.values())

    def healthy(self) -> bool:
        with self._lock:
            return not self._open

    def covers(self, at: float, grace_s: float = GRACE_S, since: float | None = None) -> Outage | None:
        """The outage that explains a device failure reported at ``at`` (seconds), if any:
        one still going on, or one that ended less than ``grace_s`` before ``at``. With
        ``since`` (when the failed push went out), outages already over by then are skipped:
        they cannot have made that push fail (a later, unrelated blip must not hide an earlier
        outage that did)."""
        with self._lock:
            for o in self._open.values():
                if o.start - grace_s <= at:
                    return o
            for o in reversed(self._past):
                if since is not None and o.end is not None and o.end < since:
                    continue
                if o.start - grace_s <= at <= (o.end or at) + grace_s:
                    return o
        return None
