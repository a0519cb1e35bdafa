"""One thread that drives many paho-mqtt clients through a selector.

paho's external-loop API (``on_socket_open/close/register_write/unregister_write`` plus
``loop_read/loop_write/loop_misc``) lets one thread serve thousands of connections: no
thread per client and, unlike ``loop_start()``, no extra socket pair per client, so a
device costs one file descriptor. Every MQTT call (connect, subscribe, publish,
disconnect) must happen on the reactor thread; other threads hand work over with
:meth:`Reactor.call_soon`, which is thread-safe and wakes the selector.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)


class Reactor:
    def __init__(self, misc_interval: float = 1.0, name: str = "devsim-reactor") -> None:
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._wake_pending = False
        self._calls: collections.deque[tuple[Callable[..., Any], tuple[Any, ...]]] = collections.deque()
        self._timers: list[tuple[float, int, Callable[..., Any], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self._clients: list[mqtt.Client] = []
        self._misc_interval = misc_interval
        self._misc_pos = 0
        self._stopping = False
        self._name = name
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def in_thread(self) -> bool:
        return threading.current_thread() is self._thread

    # ---------------------------------------------------------------- scheduling
    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the reactor thread (thread-safe)."""
        self._calls.append((fn, args))
        if not self.in_thread:
            self._wake()

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the reactor thread after ``delay`` seconds (thread-safe)."""
        if not self.in_thread:
            self.call_soon(self.call_later, delay, fn, *args)
            return
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), fn, args))

    def _wake(self) -> None:
        if self._wake_pending:
            return
        self._wake_pending = True
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass

    # ---------------------------------------------------------------- clients
    def attach(self, client: mqtt.Client) -> None:
        """Let the reactor drive ``client`` (call before its first connect)."""
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        self._clients.append(client)

    def _on_socket_open(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        self._sel.register(sock, selectors.EVENT_READ, client)

    def _on_socket_close(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        try:
            self._sel.unregister(sock)
        except (KeyError, ValueError):
            pass

    def _on_register_write(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        try:
            self._sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)
        except (KeyError, ValueError):
            pass

    def _on_unregister_write(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        try:
            self._sel.modify(sock, selectors.EVENT_READ, client)
        except (KeyError, ValueError):
            pass

    # ---------------------------------------------------------------- loop
    def _run(self) -> None:
        next_misc = time.monotonic() + self._misc_interval / 10
        while not self._stopping:
            now = time.monotonic()
            timeout = next_misc - now
            if self._timers:
                timeout = min(timeout, self._timers[0][0] - now)
            if self._calls:
                timeout = 0
            try:
                events = self._sel.select(max(timeout, 0))
            except OSError:  # pragma: no cover - a socket closed under us
                log.exception("select failed")
                events = []
            for key, mask in events:
                client = key.data
                if client is None:
                    self._drain_wake()
                    continue
                try:
                    if mask & selectors.EVENT_READ:
                        client.loop_read()
                    if mask & selectors.EVENT_WRITE:
                        client.loop_write()
                except Exception:
                    log.exception("MQTT client %s failed", client._client_id)
            self._run_calls()
            self._run_timers()
            now = time.monotonic()
            if now >= next_misc:
                self._run_misc()
                next_misc = now + self._misc_interval / 10
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    def _drain_wake(self) -> None:
        self._wake_pending = False
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _run_calls(self) -> None:
        for _ in range(len(self._calls)):
            fn, args = self._calls.popleft()
            try:
                fn(*args)
            except Exception:
                log.exception("reactor call %r failed", fn)

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, fn, args = heapq.heappop(self._timers)
            try:
                fn(*args)
            except Exception:
                log.exception("reactor timer %r failed", fn)

    def _run_misc(self) -> None:
        """Keep-alive work for a tenth of the clients (all of them once per misc_interval)."""
        n = len(self._clients)
        if not n:
            return
        batch = max(1, (n + 9) // 10)
        end = self._misc_pos + batch
        for client in self._clients[self._misc_pos : end]:
            try:
                client.loop_misc()
            except Exception:
                log.exception("MQTT client %s loop_misc failed", client._client_id)
        self._misc_pos = 0 if end >= n else end
