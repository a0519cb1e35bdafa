"""Device messages from the broker into the OTA engine, in batches, on one worker thread.

The worker can never die of a message: parsing is contained per message (anything but a
well-formed message is refused and counted), applying per batch (a batch that fails is applied
again message by message, so one bad message cannot discard other devices' messages), and the
loop itself logs and goes on after anything unexpected. ``alive`` tells health checks whether
the thread runs and is not stuck in one batch.

Nothing the broker handed over is lost: a message comes with an ``ack`` callback (the link's
manual MQTT acknowledgement) that is called only once the message was applied, or refused as
malformed, or refused by the engine while the other messages of its batch applied. When not one
message of a batch can be applied (the database is down, say: a systemic failure), the batch is
kept and tried again with backoff until it applies; on ``stop`` whatever is still not applied
when the deadline passes stays unacknowledged, and the broker delivers it again to the next run.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from ota_protocol import messages as wire
from ota_protocol.codes import ErrorCode

from ..ota.ports import Presence
from .link import Ack
from .presence import LOG_TOPIC, PresenceTracker

log = logging.getLogger(__name__)
BATCH = 500
GATHER_S = 0.005
#: The broker hands the backend at most this many unacknowledged QoS 1 messages (its
#: ``max_inflight_messages``); with that many queued, waiting gathers nothing more: apply at once.
BROKER_WINDOW = 1000
#: A batch still being applied after this long means the worker is stuck (``alive`` is False).
STUCK_AFTER_S = 120.0
#: At most one "rejected message" line per device per this many seconds (the rest are counted).
REJECT_LOG_EVERY_S = 60.0
#: Applying a failed batch one by one gives up after this long if not one message succeeded
#: (the database is down, say: each attempt might wait for a timeout).
RETRY_BUDGET_S = 30.0
#: A systemic failure (nothing of a batch applies) is retried after this long, doubling up to
#: ``RETRY_MAX_DELAY_S`` (only batches with acknowledgeable messages: those the broker can redeliver).
RETRY_FIRST_DELAY_S = 0.5
RETRY_MAX_DELAY_S = 30.0
#: Longest error text sent back in an error acknowledgement.
_MAX_ACK_STATUS = 200


class _RateLimitedLog:
    """One log line per key per ``every_s``; the next line says how many were suppressed."""

    MAX_KEYS = 10_000

    def __init__(self, every_s: float = REJECT_LOG_EVERY_S, clock: Callable[[], float] = time.monotonic):
        self.every_s, self.clock = every_s, clock
        self._last: dict[str, tuple[float, int]] = {}  # key -> (time of the last line, suppressed since)

    def __call__(self, key: str, level: int, fmt: str, *args: object, exc_info: bool = False) -> bool:
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.every_s:
            self._last[key] = (last[0], last[1] + 1)
            return False
        if len(self._last) >= self.MAX_KEYS:  # many devices: forget the quiet ones
            self._last = {k: v for k, v in self._last.items() if now - v[0] < self.every_s}
        suppressed = last[1] if last is not None else 0
        if suppressed:
            fmt += " (%d more like it in the last %gs not logged)"
            args = (*args, suppressed, self.every_s)
        log.log(level, fmt, *args, exc_info=exc_info)
        self._last[key] = (now, 0)
        return True


def _device_key(topic: object) -> str:
    """``productID/deviceName`` of an up topic, else the (shortened) topic: the rate-limit key."""
    text = topic if isinstance(topic, str) else repr(topic)
    parts = text.split("/")
    if len(parts) == 5 and parts[0] == "$ota":
        return f"{parts[3][:128]}/{parts[4][:128]}"
    return text[:200]


def _short(text: object, limit: int = 300) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# a device message and its acknowledgement (None: nothing to acknowledge)
_Parsed = tuple[wire.Report | wire.Progress | Presence, Callable[[], None] | None]


class Dispatcher:
    def __init__(self, handle: Callable[[list], None], reply: Callable[[str, bytes], None]):
        self._handle = handle
        self._reply = reply
        self._queue: queue.Queue[tuple[str, bytes, Callable[[], None] | None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ota-dispatcher", daemon=True)
        self.presence = PresenceTracker()
        self.handled = 0
        self.rejected = 0
        self.failed = 0  # well-formed messages the engine could not apply
        self.loop_errors = 0  # unexpected exceptions caught by the loop itself
        self.retries = 0  # systemic failures retried (batches kept, nothing dropped)
        self.unacked_at_stop = 0  # messages left to the broker's redelivery at stop
        self._stopping = threading.Event()
        self._stop_deadline = float("inf")
        self._busy_since: float | None = None  # monotonic start of the batch in work, None when idle
        self._drained = threading.Event()
        self._log_limited = _RateLimitedLog()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Apply everything queued so far (retrying a systemic failure until ``timeout``), then end.

        Call it after the link stopped handing over messages and before the link closes: the
        acknowledgements and replies of the last batches still go out.
        """
        self._stop_deadline = time.monotonic() + timeout
        self._stopping.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout + 2)

    @property
    def alive(self) -> bool:
        """The worker thread runs and is not stuck in one batch (health)."""
        if not self._thread.is_alive():
            return False
        busy_since = self._busy_since
        return busy_since is None or time.monotonic() - busy_since < STUCK_AFTER_S

    def on_message(self, topic: str, payload: bytes, ack: Callable[[], None] | None = None) -> None:
        """Called on the MQTT client's thread: only enqueue. ``ack`` is called once the message
        was applied or refused for good (never if it could not be applied)."""
        self._queue.put((topic, payload, ack))

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until everything received so far has been applied (tests, shutdown)."""
        done = threading.Event()
        self._drained = done  # before the marker: the worker may reach it at once
        self._queue.put(("__drain__", b"", None))
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            try:
                if self._run_once():
                    return
            except Exception:
                self.loop_errors += 1
                self._busy_since = None
                log.exception("device message worker: unexpected error; going on")
                time.sleep(0.1)  # never spin on a repeating failure

    def _run_once(self) -> bool:
        """Take one batch from the queue and apply it; True once asked to stop."""
        item = self._queue.get()
        if self._queue.qsize() < min(BATCH, BROKER_WINDOW) - 1:
            time.sleep(GATHER_S)  # under load, a few ms gather a batch worth one transaction
        batch = [item]
        while len(batch) < BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        stop = None in batch
        drained = any(it is not None and it[0] == "__drain__" for it in batch)
        self._busy_since = time.monotonic()
        try:
            self._apply(self._parse(batch))
        except Exception:
            self.loop_errors += 1
            log.exception("device message worker: a batch of %d items failed unexpectedly", len(batch))
        finally:
            self._busy_since = None
            if drained:
                self._drained.set()
        return stop

    @staticmethod
    def _ack(ack: Callable[[], None] | None) -> None:
        if ack is None:
            return
        try:
            ack()
        except Exception:
            log.warning("could not acknowledge a device message", exc_info=True)

    @classmethod
    def _ack_all(cls, acks: list[Callable[[], None] | None]) -> None:
        """Acknowledge applied messages: the link's in one write, any others one by one."""
        link_acks = [a for a in acks if isinstance(a, Ack)]
        if link_acks:
            try:
                Ack.send_all(link_acks)
            except Exception:
                log.warning("could not acknowledge %d device messages", len(link_acks), exc_info=True)
        if len(link_acks) < len(acks):
            for a in acks:
                if not isinstance(a, Ack):
                    cls._ack(a)

    def _parse(self, batch: list) -> list:
        """(message, ack) pairs to apply; refused messages are acknowledged here."""
        parsed: list[_Parsed] = []
        for it in batch:
            if it is None or it[0] == "__drain__":
                continue
            topic, payload, ack = it
            try:
                if topic == LOG_TOPIC:
                    seen = self.presence.feed_all(payload)
                    for i, item in enumerate(seen):
                        parsed.append((item, ack if i == len(seen) - 1 else None))
                    if not seen:
                        self._ack(ack)
                    continue
                parsed.append((wire.parse_up(topic, payload), ack))
            except wire.BadMessage as exc:
                self.rejected += 1
                self._log_limited(_device_key(topic), logging.WARNING, "rejected message on %s: %s",
                                  _short(topic, 200), _short(exc))
                self._error_ack(topic, exc)
                self._ack(ack)
            except Exception as exc:  # noqa: BLE001 - a parser bug must not cost the batch
                self.rejected += 1
                self._log_limited(_device_key(topic), logging.ERROR, "could not read a message on %s: %s",
                                  _short(topic, 200), _short(repr(exc)), exc_info=True)
                self._ack(ack)
        return parsed

    def _apply(self, items: list) -> None:
        """Apply (message, ack) pairs; acknowledge what applied; keep and retry a systemic failure."""
        delay = RETRY_FIRST_DELAY_S
        pending = items
        while pending:
            self._busy_since = time.monotonic()  # waiting for the database is not being stuck
            failed = self._apply_round(pending)
            if not failed:
                return
            if len(failed) < len(pending) or not any(ack is not None for _, ack in failed):
                # the others applied: these are refused by the engine, and would be every time
                # (or nothing could deliver them again): counted, logged, acknowledged
                self.failed += len(failed)
                self._ack_all([ack for _, ack in failed])
                return
            # not one message applied: systemic (database down, say). Keep the batch.
            pending = failed
            wait = min(delay, 0.5) if self._stopping.is_set() else delay
            if self._stopping.is_set() and time.monotonic() + wait > self._stop_deadline:
                self.unacked_at_stop += len(pending)
                log.error("stopping: %d device messages could not be applied; left unacknowledged, "
                          "the broker delivers them again to the next run", len(pending))
                return
            self.retries += 1
            self._log_limited("systemic", logging.ERROR,
                              "%d device messages could not be applied; trying again in %gs (kept, not dropped)",
                              len(pending), wait)
            if self._stopping.is_set():
                time.sleep(wait)
            else:
                self._stopping.wait(wait)  # a stop cuts the wait short
            delay = min(delay * 2, RETRY_MAX_DELAY_S)

    def _apply_round(self, items: list) -> list:
        """One attempt: the whole batch, else one by one. Acknowledges what applied; returns the rest."""
        parsed = [msg for msg, _ in items]
        try:
            self._handle(parsed)
            self.handled += len(parsed)
            self._ack_all([ack for _, ack in items])  # after the commit, in one write
            return []
        except Exception:
            if len(items) == 1:
                self._not_applied(parsed[0])
                return list(items)
            log.warning("could not apply a batch of %d device messages; applying them one by one",
                        len(parsed), exc_info=True)
        started, any_applied = time.monotonic(), False
        failed: list[_Parsed] = []
        for i, (msg, ack) in enumerate(items):  # one bad message must not discard the other devices' messages
            if not any_applied and i and time.monotonic() - started > RETRY_BUDGET_S:
                log.error("%d device messages not applied: none of the first %d could be applied within %gs",
                          len(items) - i, i, RETRY_BUDGET_S)
                return failed + list(items[i:])
            try:
                self._handle([msg])
                self.handled += 1
                any_applied = True
                self._ack(ack)
            except Exception:  # noqa: BLE001
                self._not_applied(msg)
                failed.append((msg, ack))
        return failed

    def _not_applied(self, msg: object) -> None:
        key = f"{getattr(msg, 'product_id', '?')}/{getattr(msg, 'device_name', '?')}"
        self._log_limited(f"apply:{key}", logging.ERROR, "device message from %s not applied: %s",
                          key, _short(repr(msg)), exc_info=True)

    def _error_ack(self, topic: str, exc: wire.BadMessage) -> None:
        """A malformed progress message still gets an error acknowledgement, when it can be addressed.

        The token is the one ``parse_up`` found valid (never the raw payload read again), the
        status is the shortened error text: building the answer cannot fail on what a device sent.
        """
        try:
            parts = topic.split("/")
            if len(parts) != 5 or parts[:3] != ["$ota", "up", "progress"] or not parts[3] or not parts[4]:
                return
            token = getattr(exc, "client_token", "") or ""
            if not isinstance(token, str) or wire.TOKEN_RE.fullmatch(token) is None:
                token = ""
            self._reply(wire.topic_down_progress(parts[3], parts[4]),
                        wire.progress_reply(token, code=ErrorCode.PARAMETER, status=_short(exc, _MAX_ACK_STATUS)))
        except Exception:  # noqa: BLE001
            self._log_limited(f"ack:{_device_key(topic)}", logging.WARNING,
                              "could not send an error acknowledgement on %s", _short(topic, 200), exc_info=True)
