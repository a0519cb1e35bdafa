"""Failures caused by our own unavailability: re-pushed once we are healthy, not counted.

A device that fails to download while the object store was down, the backend was starting or
the proxy answered 5xx did not fail on its own. Its record is queued again (203, desc
``re-pushed: ...``) and pushed with fresh URLs once ``OutageLog.healthy()``, without using the
task's retry budget.
"""

from __future__ import annotations

import logging

from ota_protocol.codes import RecordStatus as RS
from ota_protocol.codes import Step, text
from ota_protocol.codes import TaskStatus as TS
from ota_protocol.messages import Progress

from ..db.models import DeviceRecord, Task
from .outages import BACKEND_START, BROKER, DISK, PROXY_5XX, STORE, OutageLog
from .records import QUEUED, move
from .work import Work

log = logging.getLogger(__name__)

#: Device failure steps that our own outage can cause, so a failure with one of them reported
#: while (or shortly after) we were unavailable is re-pushed instead of counted:
#: -2 download failed: the download itself hit us (connection refused, 502 from the proxy);
#: -1 generic failure: what a device that does not tell download failures apart reports;
#: -3 verification failed: a proxy or store that dies mid-transfer leaves a truncated body, and
#:    a device that does not check Content-Length only notices at the size/signature check. A
#:    genuinely bad package fails again after the outage and then takes the normal path, so the
#:    cost of a wrong guess is one extra push (and MAX_OUTAGE_REPUSHES bounds it anyway).
#: -4 flashing failed is NOT ours: it comes after a verified download, nothing we serve is
#:    involved any more; it always takes the normal failed/retry path.
OUTAGE_STEPS = frozenset((Step.FAILED, Step.DOWNLOAD_FAILED, Step.VERIFY_FAILED))
#: at most this many outage re-pushes per record; then a failure takes the normal path (a device
#: that fails for its own reasons while our proxy keeps noting 5xx must not loop for ever)
MAX_OUTAGE_REPUSHES = 5
#: desc of a record re-pushed because of our outage; on a queued record (201/202/203) it also
#: marks the record as waiting for ``outages.healthy()`` (only the backend writes queued descs)
REPUSH_PREFIX = "re-pushed: "
OUTAGE_TEXT = {STORE: "object-store outage", PROXY_5XX: "object-proxy outage", BACKEND_START: "backend restart",
               BROKER: "broker outage", DISK: "disk outage"}


def waits_for_health(r: DeviceRecord) -> bool:
    """Queued again because its failure was our outage's: pushed only once we are healthy."""
    return r.status in QUEUED and (r.desc or "").startswith(REPUSH_PREFIX)


def healthy(outages: OutageLog | None) -> bool:
    return outages is None or outages.healthy()


def stale_failure(rec: DeviceRecord, m: Progress) -> bool:
    """A failure that cannot be about the push the record is waiting on.

    A device that failed during our outage may send more failure reports for that same push
    (one per file, say), queued in its client while the broker was down: they arrive after
    the record went back to the queue, or even after it was pushed again. They must not fail
    the new attempt. Queued records (201/202/203) have no push in flight, so any failure
    report is about an earlier one; after an outage re-push, a report stamped before the
    new push is too (devices that send no timestamp are judged by the status alone).
    """
    if rec.status in QUEUED:
        return True
    return bool(rec.outage_retries and m.timestamp and rec.pushed_time and m.timestamp < rec.pushed_time)


def requeue_after_outage(w: Work, outages: OutageLog | None, rec: DeviceRecord, task: Task, step: int) -> bool:
    """A device failure that our own unavailability explains: the record is queued again (203)
    and re-pushed with fresh URLs once we are healthy, without using the task's retry budget
    (retry_count / auto_retries unchanged). False: count it as a failure."""
    if outages is None or step not in OUTAGE_STEPS or task.status != TS.UPGRADING:
        return False
    if waits_for_health(rec):
        return True  # a duplicate failure report: it is already queued again
    # only an outage that was not over before this push can have made it fail
    outage = outages.covers(w.now / 1000, since=rec.pushed_time / 1000)
    if outage is None or rec.outage_retries >= MAX_OUTAGE_REPUSHES:
        return False
    rec.outage_retries += 1
    what = text(Step(step)).lower()
    move(w.fx, rec, w.now, RS.QUEUED_RETRY, step=step, due=0,
         desc=f"{REPUSH_PREFIX}{what} during our {OUTAGE_TEXT.get(outage.kind, outage.kind + ' outage')}")
    log.info("record %s (%s/%s): %s during our %s outage; re-pushed once healthy", rec.id, rec.product_id,
             rec.device_name, what, outage.kind)
    return True
