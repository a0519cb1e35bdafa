"""Device messages from the broker into the OTA engine, in batches, on one worker thread."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Callable

from . import messages as wire
from .presence import LOG_TOPIC, PresenceTracker

log = logging.getLogger(__name__)
BATCH = 500
GATHER_S = 0.005


class Dispatcher:
    def __init__(self, handle: Callable[[list], None], reply: Callable[[str, bytes], None]):
        self._handle = handle
        self._reply = reply
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ota-dispatcher", daemon=True)
        self.presence = PresenceTracker()
        self.handled = 0
        self.rejected = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(10)

    def on_message(self, topic: str, payload: bytes) -> None:
        """Called on the MQTT client's thread: only enqueue."""
        self._queue.put((topic, payload))

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until everything received so far has been applied (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(("__drain__", b""))
        self._drained = done
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if self._queue.qsize() < BATCH:
                time.sleep(GATHER_S)  # under load, a few ms gather a batch worth one transaction
            batch = [item]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in batch
            parsed = []
            drained = False
            for it in batch:
                if it is None:
                    continue
                topic, payload = it
                if topic == "__drain__":
                    drained = True
                    continue
                if topic == LOG_TOPIC:
                    seen = self.presence.feed(payload)
                    if seen is not None:
                        parsed.append(seen)
                    continue
                try:
                    parsed.append(wire.parse_up(topic, payload))
                except wire.BadMessage as exc:
                    self.rejected += 1
                    log.warning("rejected message on %s: %s", topic, exc)
                    self._error_ack(topic, payload, exc)
            if parsed:
                try:
                    self._handle(parsed)
                    self.handled += len(parsed)
                except Exception:  # noqa: BLE001
                    log.exception("could not apply %d device messages", len(parsed))
            if drained:
                self._drained.set()
            if stop:
                return

    def _error_ack(self, topic: str, payload: bytes, exc: Exception) -> None:
        """A malformed progress message still gets an error acknowledgement, when it can be addressed."""
        parts = topic.split("/")
        if len(parts) != 5 or parts[:3] != ["$ota", "up", "progress"] or not parts[3] or not parts[4]:
            return
        token = ""
        try:
            doc = json.loads(payload)
            if isinstance(doc, dict):
                tok = doc.get("clientToken", doc.get("msgToken", ""))
                token = tok if isinstance(tok, str) else ""
        except ValueError:
            pass
        try:
            self._reply(wire.topic_down_progress(parts[3], parts[4]),
                        wire.progress_reply(token, code=100006, status=str(exc)))
        except Exception:  # noqa: BLE001
            log.exception("could not send an error acknowledgement")
