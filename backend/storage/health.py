"""The backend's health as ``GET /api/v1/health`` reports it: each part checked for real, bounded
in time, off the event loop.

Every check runs in its own daemon thread and is waited for at most ``timeout`` seconds: a hung
object store (SIGSTOP) or database makes its check answer "no answer within 3 s", never the
endpoint hang. A check still stuck from an earlier round is not started again; it reports how long
it has been waiting. Results are cached ``cache_s`` seconds so frequent polling is cheap, and
concurrent callers share one round. The object store, broker and disk checks report outages to
``runtime.outages`` (STORE, BROKER, DISK), which the engine uses to re-push devices that failed during one.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from typing import Any

from ..ota.outages import BROKER, DISK, STORE
from .base import StoreError

log = logging.getLogger(__name__)

#: the checks, in the order the report lists them
ORDER = ("database", "objectStore", "broker", "dispatcher", "disk")


class _Job:
    def __init__(self, fn: Callable[[], dict]):
        self.fn, self.started = fn, time.monotonic()
        self.done = threading.Event()
        self.result: dict | None = None
        self.error: BaseException | None = None
        threading.Thread(target=self._run, name="ota-health-check", daemon=True).start()

    def _run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as exc:  # noqa: BLE001 - reported as the check's failure
            self.error = exc
        finally:
            self.done.set()


class HealthChecks:
    def __init__(self, runtime: Any, timeout: float = 3.0, cache_s: float = 2.0):
        self.rt, self.timeout, self.cache_s = runtime, timeout, cache_s
        self._jobs: dict[str, _Job] = {}
        self._jobs_lock = threading.Lock()
        self._round_lock = threading.Lock()
        self._cached: dict | None = None
        self._cached_at = float("-inf")

    # ---- the report -----------------------------------------------------------------------
    def report(self) -> dict:
        """``{"healthy": bool, "checks": {name: {"ok", "detail", ...figures}}}``, at most
        ``cache_s`` old; takes at most about ``timeout`` seconds."""
        with self._round_lock:
            if self._cached is not None and time.monotonic() - self._cached_at < self.cache_s:
                return self._cached
            fns = {"database": self._database, "objectStore": self._object_store, "broker": self._broker,
                   "dispatcher": self._dispatcher, "disk": self._disk}
            jobs = {name: self._job(name, fns[name]) for name in ORDER}
            checks = {name: self._wait(jobs[name]) for name in ORDER}
            self._report_outages(checks)
            result = {"healthy": all(c["ok"] for c in checks.values()), "checks": checks}
            self._cached, self._cached_at = result, time.monotonic()
            return result

    def _job(self, name: str, fn: Callable[[], dict]) -> _Job:
        with self._jobs_lock:
            job = self._jobs.get(name)
            if job is None or job.done.is_set():
                job = self._jobs[name] = _Job(fn)
            return job

    def _wait(self, job: _Job) -> dict:
        waited = time.monotonic() - job.started
        if not job.done.wait(max(0.0, self.timeout - waited)):
            age = time.monotonic() - job.started
            if age < self.timeout + 1:
                return {"ok": False, "detail": f"no answer within {self.timeout:g} s"}
            return {"ok": False, "detail": f"no answer for {age:.0f} s"}
        if job.error is not None:
            exc = job.error
            detail = exc.msg if isinstance(exc, StoreError) else f"{exc.__class__.__name__}: {exc}"
            return {"ok": False, "detail": detail[:300]}
        assert job.result is not None
        return job.result

    def _report_outages(self, checks: dict) -> None:
        outages = getattr(self.rt, "outages", None)
        if outages is None:
            return
        for kind, name in ((STORE, "objectStore"), (BROKER, "broker"), (DISK, "disk")):
            if checks[name]["ok"]:
                outages.end(kind)
            else:
                outages.begin(kind, checks[name]["detail"])

    # ---- the checks (each in its own thread) ------------------------------------------------
    def _database(self) -> dict:
        db = getattr(self.rt, "db", None)
        if db is None:
            return {"ok": False, "detail": "not started"}
        from sqlalchemy import text
        start = time.monotonic()
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"ok": True, "detail": "SELECT 1 answered", "latencyMs": round((time.monotonic() - start) * 1000, 1)}

    def _object_store(self) -> dict:
        store = getattr(self.rt, "store", None)
        if store is None:
            return {"ok": False, "detail": "not started"}
        ms = store.probe(self.timeout)
        return {"ok": True, "detail": "put, get and delete of a probe object answered", "latencyMs": round(ms, 1)}

    def _broker(self) -> dict:
        link = getattr(self.rt, "link", None)
        if link is not None and link.connected:
            return {"ok": True, "detail": "MQTT link connected"}
        return {"ok": False, "detail": "MQTT link not connected" if link is not None else "MQTT link not started"}

    def _dispatcher(self) -> dict:
        dispatcher = getattr(self.rt, "dispatcher", None)
        if dispatcher is not None and dispatcher.alive:
            return {"ok": True, "detail": "dispatcher running"}
        return {"ok": False, "detail": "dispatcher stopped" if dispatcher is not None else "dispatcher not started"}

    def _disk(self) -> dict:
        settings = self.rt.settings
        minimum = int(getattr(settings, "min_free_disk_bytes", 0))
        free = shutil.disk_usage(settings.data_dir).free
        ok = free >= minimum
        detail = (f"{free} bytes free in {settings.data_dir}" if ok else
                  f"disk full: {free} bytes free in {settings.data_dir}, less than the minimum of {minimum}")
        return {"ok": ok, "detail": detail, "freeBytes": free, "minFreeBytes": minimum}


def watch(checks: HealthChecks, stop: threading.Event, every_s: float = 5.0) -> None:
    """Run the checks every ``every_s`` seconds even when nobody polls, so outages are recorded."""
    while not stop.wait(every_s):
        try:
            checks.report()
        except Exception:
            log.exception("health check round failed")
