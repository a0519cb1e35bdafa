"""One simulated device: its state as tests see it, and its upgrade state machine.

Everything that publishes runs on the reactor thread; the download of an attempt runs on
a worker of the fleet's download pool and hands its results back with ``call_soon``, so
the messages of one device leave in order.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ota_protocol.codes import OK, STEP_DONE, Step
from ota_protocol.device import UpgradePush, progress_report, up_topic, version_report

from . import behaviour as B
from .download import DownloadError, FileTransfer, Interrupted

if TYPE_CHECKING:
    from concurrent.futures import Executor

    import httpx

    from .fleet import SimOptions
    from .lean_http import LeanClient
    from .reactor import Reactor

log = logging.getLogger(__name__)

# Device.status values
OFFLINE = "offline"
IDLE = "idle"
DOWNLOADING = "downloading"
FLASHING = "flashing"
SUCCEEDED = "succeeded"
FAILED = "failed"
SILENT = "silent"

# Attempt.outcome values (None while the attempt runs)
OUTCOME_SUCCEEDED = "succeeded"
OUTCOME_FAILED = "failed"
OUTCOME_SILENT = "silent"
OUTCOME_SUPERSEDED = "superseded"  # a push for another record arrived while this one ran

# progress steps this device reports (the codes are ota_protocol.codes')
STEP_DOWNLOAD_FAILED = int(Step.DOWNLOAD_FAILED)
STEP_VERIFY_FAILED = int(Step.VERIFY_FAILED)
STEP_FLASH_FAILED = int(Step.FLASH_FAILED)
STEP_FLASHING = 90  # STEP_DONE (100) comes from ota_protocol.codes


class _Abandoned(Exception):
    """The attempt was superseded while its files were downloading."""


class Link(Protocol):
    """How a device reaches the broker: its own connection or a shared one."""

    def publish(self, device: Device, topic: str, payload: bytes) -> None: ...

    def drop(self, device: Device) -> None: ...


class Runtime(Protocol):
    """What a device needs from its fleet."""

    reactor: Reactor
    options: SimOptions
    base_url: str

    @property
    def http(self) -> httpx.Client | LeanClient: ...

    @property
    def pool(self) -> Executor: ...  # read only: a fleet's ThreadPoolExecutor is one

    def touch(self) -> None: ...

    def online_changed(self, delta: int) -> None: ...


@dataclass
class Attempt:
    """One upgrade push the device acted on."""

    record_id: int
    target_version: str
    #: the base behaviour used for this attempt (``succeed``, ``fail-flash``, ...)
    behaviour: str
    files: list[FileTransfer]
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    #: ``succeeded`` / ``failed`` / ``silent`` / ``superseded``; None while running
    outcome: str | None = None
    fail_step: int | None = None
    fail_desc: str | None = None
    #: the MQTT connection was dropped mid-download (``disconnect`` behaviour)
    dropped: bool = False
    #: waiting for the connection to come back before resuming the download
    waiting_resume: bool = False
    #: download steps already handed to the reactor (kept across a resume)
    posted_steps: set[int] = field(default_factory=set)

    @property
    def active(self) -> bool:
        return self.outcome is None

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def received(self) -> int:
        return sum(f.received for f in self.files)


class Device:
    """A simulated device. Read its attributes from any thread; never assign them.

    Attributes:
        product_id, name: identity; MQTT username ``{product_id}&{name}``.
        behaviour: what it does with pushes (:class:`~devsim.behaviour.Behaviour`).
        version: current firmware version (changes after a successful upgrade).
        status: ``offline`` / ``idle`` / ``downloading`` / ``flashing`` / ``succeeded`` /
            ``failed`` / ``silent``.
        connected: MQTT session up and subscriptions granted.
        connects: how many times it came online.
        pushes: every upgrade push received (:class:`~ota_protocol.device.UpgradePush`),
            duplicates included.
        attempts: one :class:`Attempt` per push acted on; ``attempts[-1].files`` holds the
            :class:`~devsim.download.FileTransfer` of each file (bytes, size/digest
            verified, Range requests).
        reports: version reports sent, as ``(version, record_id or None)``.
        progress: progress messages sent, as ``(record_id, step, desc)``.
        acks: ``progressReply`` acknowledgements received, as ``(code, status)``.
        errors: readable notes about what went wrong outside the simulated behaviour.
        connection_error: why the last connection attempt failed (None once connected).
    """

    def __init__(self, product_id: str, name: str, secret: str | None, version: str, behaviour: B.Behaviour) -> None:
        self.product_id = product_id
        self.name = name
        self.secret = secret
        self.version = version
        self.initial_version = version
        self.behaviour = behaviour
        self.status = OFFLINE
        self.connected = False
        self.connects = 0
        self.pushes: list[UpgradePush] = []
        self.attempts: list[Attempt] = []
        self.reports: list[tuple[str, int | None]] = []
        self.progress: list[tuple[int, int, str]] = []
        self.acks: list[tuple[int, str]] = []
        self.errors: list[str] = []
        self.connection_error: str | None = None
        self._token = 0
        self._link: Link | None = None
        self._rt: Runtime | None = None

    def __repr__(self) -> str:
        return f"<Device {self.product_id}&{self.name} v{self.version} {self.status} {self.behaviour}>"

    # ------------------------------------------------------------ public views
    @property
    def username(self) -> str:
        return f"{self.product_id}&{self.name}"

    @property
    def attempt(self) -> Attempt | None:
        """The latest attempt, or None if it was never pushed."""
        return self.attempts[-1] if self.attempts else None

    @property
    def outcome(self) -> str | None:
        """Outcome of the latest attempt: ``succeeded`` / ``failed`` / ``silent`` / None."""
        return self.attempts[-1].outcome if self.attempts else None

    @property
    def files(self) -> list[FileTransfer]:
        return self.attempts[-1].files if self.attempts else []

    def steps(self, record_id: int | None = None) -> list[int]:
        """Progress steps sent (for one record when ``record_id`` is given)."""
        return [s for rid, s, _ in self.progress if record_id is None or rid == record_id]

    # ------------------------------------------------------------ wiring
    def bind(self, link: Link, runtime: Runtime) -> None:
        self._link, self._rt = link, runtime

    def _next_token(self) -> str:
        self._token += 1
        return f"{self.name}-{self._token}"

    def _publish(self, kind: str, payload: bytes) -> None:
        assert self._link is not None and self._rt is not None
        self._link.publish(self, up_topic(kind, self.product_id, self.name), payload)
        self._rt.touch()

    def _report_version(self, record_id: int | None = None) -> None:
        self.reports.append((self.version, record_id))
        self._publish("report", version_report(self._next_token(), self.version, record_id))

    def _report_progress(self, att: Attempt, step: int, desc: str) -> None:
        self.progress.append((att.record_id, step, desc))
        self._publish("progress", progress_report(self._next_token(), att.record_id, step, desc))

    # ------------------------------------------------------------ events (reactor thread)
    def on_connected(self) -> None:
        """Session up: report the version; resume an interrupted download."""
        assert self._rt is not None
        if not self.connected:
            self._rt.online_changed(+1)
        self.connected = True
        self.connects += 1
        if self.status == OFFLINE:
            self.status = IDLE
        self._report_version()
        att = self.attempt
        if att is not None and att.active and att.waiting_resume:
            att.waiting_resume = False
            self._start_download(att)

    def on_disconnected(self) -> None:
        assert self._rt is not None
        if self.connected:
            self._rt.online_changed(-1)
        self.connected = False
        if self.status == IDLE:
            self.status = OFFLINE

    def on_push(self, push: UpgradePush) -> None:
        self.pushes.append(push)
        assert self._rt is not None
        self._rt.touch()
        if push.code != OK:
            self.errors.append(f"push for record {push.record_id} has code {push.code}; ignored")
            return
        cur = self.attempt
        if cur is not None and cur.active and cur.behaviour != B.SILENT:
            if cur.record_id == push.record_id:
                # the backend pushed again (e.g. after our reconnect): take the fresh URLs
                for ft, pf in zip(cur.files, push.files, strict=False):
                    if ft.name == pf.name and ft.signature == pf.signature:
                        ft.url = pf.url
                return
            # another record (e.g. a new task with overwrite): drop this one, start that one
            cur.outcome = OUTCOME_SUPERSEDED
            cur.finished = time.monotonic()
        if (
            cur is not None
            and cur.outcome == OUTCOME_SUCCEEDED
            and cur.record_id == push.record_id
            and self.version == push.version
        ):
            self._report_version(push.record_id)  # already done: say so again
            return
        kind = self.behaviour.for_attempt(len(self.attempts) + 1)
        att = Attempt(
            record_id=push.record_id,
            target_version=push.version,
            behaviour=kind,
            files=[FileTransfer.from_push(f, push.sign_method) for f in push.files],
        )
        self.attempts.append(att)
        if kind == B.SILENT:
            att.outcome = OUTCOME_SILENT
            att.finished = time.monotonic()
            self.status = SILENT
            return
        self.status = DOWNLOADING
        self._start_download(att)

    def on_ack(self, code: int, status: str) -> None:
        self.acks.append((code, status))
        if code != OK:
            self.errors.append(f"progress acknowledged with code {code}: {status}")

    # ------------------------------------------------------------ the attempt
    def _start_download(self, att: Attempt) -> None:
        assert self._rt is not None
        self._rt.pool.submit(self._download, att)

    def _download(self, att: Attempt) -> None:
        """Worker thread: fetch every file, then hand over to the reactor."""
        rt = self._rt
        assert rt is not None
        opts = rt.options
        total = max(att.total_size, 1)
        pending_steps = [s for s in sorted(opts.progress_steps) if s not in att.posted_steps]

        def on_chunk(ft: FileTransfer) -> None:
            if not att.active:
                raise _Abandoned
            done = att.received
            pct = done * 100 // total
            while pending_steps and pct >= pending_steps[0]:
                step = pending_steps.pop(0)
                att.posted_steps.add(step)
                rt.reactor.call_soon(self._report_progress, att, step, "downloading")
            if att.behaviour == B.FAIL_DOWNLOAD and pct >= 50:
                raise DownloadError("simulated download failure")
            if att.behaviour == B.DISCONNECT and not att.dropped and done < total:
                # drop in the middle of a file when we can (so the resume needs Range)
                if ft.size // 2 <= ft.received < ft.size or pct >= 50:
                    att.dropped = True
                    raise Interrupted

        try:
            for ft in att.files:
                ft.fetch(rt.http, rt.base_url, opts.chunk_size, on_chunk, corrupt=att.behaviour == B.CORRUPT)
        except _Abandoned:
            return
        except Interrupted:
            rt.reactor.call_soon(self._interrupted, att)
            return
        except DownloadError as exc:
            rt.reactor.call_soon(self._fail, att, STEP_DOWNLOAD_FAILED, f"download failed: {exc}")
            return
        except Exception as exc:  # a bug must not leave the device hanging silently
            log.exception("download of record %s by %s failed", att.record_id, self.name)
            rt.reactor.call_soon(self._fail, att, STEP_DOWNLOAD_FAILED, f"download failed: {exc!r}")
            return
        for ft in att.files:
            ft.verify()
        rt.reactor.call_soon(self._downloaded, att)

    def _interrupted(self, att: Attempt) -> None:
        att.waiting_resume = True
        assert self._link is not None
        self._link.drop(self)

    def _downloaded(self, att: Attempt) -> None:
        if not att.active:
            return
        for ft in att.files:
            if not ft.size_ok:
                return self._fail(att, STEP_VERIFY_FAILED, f"size mismatch for {ft.name}: {ft.received} != {ft.size}")
            if not ft.digest_ok:
                return self._fail(
                    att, STEP_VERIFY_FAILED, f"{ft.sign_method} mismatch for {ft.name}: {ft.digest} != {ft.signature}"
                )
        if att.behaviour == B.FAIL_VERIFY:
            return self._fail(att, STEP_VERIFY_FAILED, "simulated verification failure")
        self.status = FLASHING
        self._report_progress(att, STEP_FLASHING, "flashing")
        assert self._rt is not None
        self._rt.reactor.call_later(self._rt.options.flash_seconds, self._flashed, att)

    def _flashed(self, att: Attempt) -> None:
        if not att.active:
            return
        if att.behaviour == B.FAIL_FLASH:
            return self._fail(att, STEP_FLASH_FAILED, "simulated flash failure")
        self._report_progress(att, STEP_DONE, "upgraded")
        self.version = att.target_version
        att.outcome = OUTCOME_SUCCEEDED
        att.finished = time.monotonic()
        self.status = SUCCEEDED
        self._report_version(att.record_id)

    def _fail(self, att: Attempt, step: int, desc: str) -> None:
        if not att.active:
            return
        att.fail_step, att.fail_desc = step, desc
        self._report_progress(att, step, desc)
        att.outcome = OUTCOME_FAILED
        att.finished = time.monotonic()
        self.status = FAILED
