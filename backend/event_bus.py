"""In-process event bus behind the SSE stream: numbered events in a bounded replay buffer."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from typing import Any


class EventBus:
    def __init__(self, capacity: int = 50_000):
        self._buf: deque[tuple[int, str]] = deque(maxlen=capacity)
        # ids keep growing across restarts, so a Last-Event-ID from an earlier run is recognised
        # as older than this run's buffer and answered with a resync
        self._next_id = int(time.time() * 1000) * 1000
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    closed = False

    def close(self) -> None:
        """The server is stopping: wake every stream so it can end."""
        self.closed = True
        self.publish_many([])
        with self._lock:
            waiters = list(self._waiters)
        for loop, flag in waiters:
            try:
                loop.call_soon_threadsafe(flag.set)
            except RuntimeError:
                pass

    @property
    def last_id(self) -> int:
        return self._next_id - 1

    def publish(self, event: dict[str, Any]) -> None:
        self.publish_many([event])

    def publish_many(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        with self._lock:
            # more events than the buffer holds (a task for 100,000 devices): the first ones would
            # be dropped at once, so they only take their ids (a reader sees them as missed)
            skipped = max(0, len(events) - (self._buf.maxlen or len(events)))
            self._next_id += skipped
            for ev in events[skipped:]:
                self._buf.append((self._next_id, json.dumps(ev, ensure_ascii=False, separators=(",", ":"))))
                self._next_id += 1
            waiters = list(self._waiters)
        for loop, flag in waiters:
            try:
                loop.call_soon_threadsafe(flag.set)
            except RuntimeError:  # loop closed
                pass

    def since(self, last_id: int) -> tuple[list[tuple[int, str]], bool]:
        """Events after `last_id`, and whether some were already dropped from the buffer."""
        with self._lock:
            if not self._buf:
                return [], last_id != self._next_id - 1
            if last_id >= self._next_id - 1:
                return [], last_id > self._next_id - 1
            first = self._buf[0][0]
            missed = last_id + 1 < first
            start = max(0, last_id + 1 - first)
            return [self._buf[i] for i in range(start, len(self._buf))], missed

    def subscribe(self) -> asyncio.Event:
        flag = asyncio.Event()
        with self._lock:
            self._waiters.add((asyncio.get_running_loop(), flag))
        return flag

    def unsubscribe(self, flag: asyncio.Event) -> None:
        with self._lock:
            self._waiters = {w for w in self._waiters if w[1] is not flag}
