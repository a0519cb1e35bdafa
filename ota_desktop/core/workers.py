"""CPU and disk work off the GUI thread: QRunnables whose results come back as queued signals.

``run_in_pool(fn, *args)`` runs ``fn(ctx, *args)`` on the global thread pool and returns a
:class:`Job` living on the calling (GUI) thread; its ``finished``/``failed``/``progress``
signals are always emitted on that thread, so any receiver (even a lambda) runs there.
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal

HASH_CHUNK = 1 << 20

_alive: set[Job] = set()


class Cancelled(Exception):
    pass


class JobContext:
    """What a worker function may use: cancellation check and progress reports."""

    def __init__(self, job: Job) -> None:
        self._job = job
        self._cancel = job._cancel_flag

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def report(self, done: int, total: int) -> None:
        self._job._relay.progress.emit(self._job, done, total)


class _Relay(QObject):
    """The one object pool threads emit on. Qt leaves it undefined to delete a QObject while another
    thread is inside one of its signals' emit: a Job emitting its own result could be delivered,
    deleteLater-ed and destroyed by the GUI thread before the pool thread's emit had returned (a
    segfault in a later test). The relay lives on the GUI thread until the process ends."""

    result = Signal(object, int, object)  # job, 0 ok / 1 error / 2 cancelled, payload
    progress = Signal(object, object, object)  # job, done, total

    def __init__(self) -> None:
        super().__init__()
        self.result.connect(self._result, Qt.ConnectionType.QueuedConnection)
        self.progress.connect(self._progress, Qt.ConnectionType.QueuedConnection)

    @staticmethod
    def _result(job: Job, kind: int, payload: object) -> None:
        job._deliver(kind, payload)

    @staticmethod
    def _progress(job: Job, done: object, total: object) -> None:
        job._relay_progress(done, total)


_relay: _Relay | None = None


def _gui_relay() -> _Relay:
    global _relay
    if _relay is None:  # first job: created on the calling (GUI) thread, which it then belongs to
        _relay = _Relay()
    return _relay


class Job(QObject):
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    progress = Signal(object, object)

    def __init__(self) -> None:
        super().__init__()
        self._cancel_flag = threading.Event()
        self._relay = _gui_relay()
        self.running = True
        # Held in _alive until Qt has deleted it (deleteLater in _deliver). The pool thread holds
        # references too (runnable, context, queued signal arguments) and drops them whenever it
        # gets the GIL: it must never drop the last one to a live Job, which would destroy this
        # GUI-thread QObject on the pool thread, racing the GUI thread's own deferred delete.
        _alive.add(self)
        self.destroyed.connect(lambda *_, job=self: _alive.discard(job))

    def then(self, on_ok: Callable[[Any], Any] | None = None,
             on_error: Callable[[str], Any] | None = None) -> Job:
        if on_ok is not None:
            self.finished.connect(on_ok)
        if on_error is not None:
            self.failed.connect(on_error)
        return self

    def cancel(self) -> None:
        self._cancel_flag.set()

    def _relay_progress(self, done: object, total: object) -> None:
        if self.running and not self._cancel_flag.is_set():
            self.progress.emit(done, total)

    def _deliver(self, kind: int, payload: object) -> None:
        self.running = False
        if kind == 0 and not self._cancel_flag.is_set():
            self.finished.emit(payload)
        elif kind == 1 and not self._cancel_flag.is_set():
            self.failed.emit(str(payload))
        else:
            self.cancelled.emit()
        self.deleteLater()


class _Runnable(QRunnable):
    def __init__(self, job: Job, fn: Callable[..., Any], args: tuple) -> None:
        super().__init__()
        self._job, self._fn, self._args = job, fn, args

    def run(self) -> None:
        job, relay = self._job, self._job._relay
        try:
            result = self._fn(JobContext(job), *self._args)
        except Cancelled:
            relay.result.emit(job, 2, None)
        except Exception as exc:  # noqa: BLE001 - reported to the GUI, never lost
            relay.result.emit(job, 1, f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))
        else:
            relay.result.emit(job, 0, result)


def run_in_pool(fn: Callable[..., Any], *args: Any, pool: QThreadPool | None = None) -> Job:
    job = Job()
    (pool or QThreadPool.globalInstance()).start(_Runnable(job, fn, args))
    return job


def cancel_all() -> None:
    for job in list(_alive):
        job.cancel()


# -- the work itself (plain functions, testable without Qt) ---------------------------------

def hash_file(ctx: JobContext, path: str, method: str) -> str:
    """Digest of a file per the protocol's ``signMethod`` (md5 or sha256), read in chunks."""
    digest = hashlib.new("sha256" if method == "sha256" else "md5")
    import os

    total = os.path.getsize(path)
    done = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            ctx.check()
            digest.update(chunk)
            done += len(chunk)
            ctx.report(done, total)
    return digest.hexdigest()


def read_text(ctx: JobContext, path: str, limit: int = 64 << 20) -> str:
    """A text file (CSV import), UTF-8 with or without BOM; refuses files over ``limit`` bytes."""
    import os

    if os.path.getsize(path) > limit:
        raise ValueError(f"{os.path.basename(path)} is larger than {limit >> 20} MiB")
    with open(path, "rb") as fh:
        data = fh.read()
    ctx.check()
    return data.decode("utf-8-sig")


def stat_files(ctx: JobContext, paths: list[str]) -> list[tuple[str, int]]:
    """(path, size) of regular files; directories and unreadable paths raise."""
    import os

    out = []
    for p in paths:
        ctx.check()
        if not os.path.isfile(p):
            raise ValueError(f"{p}: not a regular file")
        if not os.access(p, os.R_OK):
            raise ValueError(f"{p}: not readable")
        out.append((p, os.path.getsize(p)))
    return out
