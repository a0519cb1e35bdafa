"""The device record's state machine: every status change goes through ``move``.

``TRANSITIONS`` is the whole of it: from each status, the statuses a record may go to (a status
listed under itself may be set again with a new step or text, e.g. progress while upgrading).
Anything else raises ``IllegalTransition``: a bug in the rules, never a device's doing (device
input that does not fit is refused before it gets here).
"""

from __future__ import annotations

from ota_protocol.codes import STEP_DONE
from ota_protocol.codes import RecordStatus as RS

from ..db.models import DeviceRecord
from .errors import IllegalTransition
from .ports import Effects, Transition
from .views import RecordFields, record_event

QUEUED = frozenset((RS.QUEUED, RS.QUEUED_OFFLINE, RS.QUEUED_RETRY))
#: unfinished: the record holds its device
ACTIVE = frozenset((RS.CONFIRM, *QUEUED, RS.PUSHED, RS.UPGRADING))
#: queued with the device online: the next push may take it
PUSHABLE = frozenset((RS.QUEUED, RS.QUEUED_RETRY))
#: what a new record starts as
INITIAL = frozenset((RS.QUEUED, RS.QUEUED_OFFLINE, RS.FAILED))

_ANY_OUTCOME = (RS.UPGRADING, RS.SUCCEEDED, RS.FAILED, RS.CANCELLED)

TRANSITIONS: dict[RS, frozenset[RS]] = {
    # awaiting confirmation (iThings; this backend creates none, but keeps them moving)
    RS.CONFIRM: frozenset((*QUEUED, RS.PUSHED, *_ANY_OUTCOME)),
    # queued: the device goes offline / comes back, is pushed, reports progress or its version
    RS.QUEUED: frozenset((RS.QUEUED_OFFLINE, RS.PUSHED, *_ANY_OUTCOME)),
    RS.QUEUED_OFFLINE: frozenset((RS.QUEUED, RS.QUEUED_RETRY, RS.PUSHED, *_ANY_OUTCOME)),
    RS.QUEUED_RETRY: frozenset((RS.QUEUED_OFFLINE, RS.PUSHED, *_ANY_OUTCOME)),
    # pushed: pushed again (reconnect, manual retry), progress, outcome, or queued again after our outage
    RS.PUSHED: frozenset((RS.PUSHED, RS.QUEUED_RETRY, *_ANY_OUTCOME)),
    RS.UPGRADING: frozenset((RS.UPGRADING, RS.QUEUED_RETRY, RS.SUCCEEDED, RS.FAILED, RS.CANCELLED)),
    RS.SUCCEEDED: frozenset(),
    # failed: a late success still counts; automatic retry (queued), manual retry (pushed),
    # cancelled while an automatic retry was due (overwrite, device deleted)
    # (failed again: an automatic retry given up because the device is newer than the package)
    RS.FAILED: frozenset((RS.SUCCEEDED, RS.FAILED, RS.QUEUED_RETRY, RS.QUEUED_OFFLINE, RS.PUSHED, RS.CANCELLED)),
    # cancelled: a manual retry brings it back
    RS.CANCELLED: frozenset((RS.PUSHED,)),
}


def can_move(src: int, dst: int) -> bool:
    return RS(dst) in TRANSITIONS[RS(src)]


def check_move(src: int, dst: RS, what: str = "records") -> None:
    """Raise IllegalTransition unless the table allows ``src`` -> ``dst``."""
    if not can_move(src, dst):
        raise IllegalTransition(f"{what}: {RS(src).name} -> {dst.name}")


def move(fx: Effects, rec: DeviceRecord, now: int, status: RS, *, step: int | None = None,
         desc: str | None = None, due: int | None = None) -> None:
    """Change ``rec``'s status (and step, text, due time), announcing it as an event."""
    check_move(rec.status, status, f"record {rec.id} ({rec.device_name})")
    changed = rec.status != status or status == RS.FAILED
    rec.status = status
    if step is not None:
        rec.step = step
    if desc is not None:
        rec.desc = desc
    if due is not None:
        rec.due_time = due
    rec.updated_time = now
    fx.events.append(record_event(rec))
    if changed:
        fx.history.append(transition(rec, now))


def transition(r: RecordFields, now: int) -> Transition:
    return Transition(r.id, r.task_uid, r.product_id, r.device_name, now, r.status, r.step, r.desc, r.retry_count)


def succeed(fx: Effects, rec: DeviceRecord, now: int) -> None:
    move(fx, rec, now, RS.SUCCEEDED, step=STEP_DONE, desc="upgrade succeeded", due=0)


def holds_device(r: DeviceRecord) -> bool:
    """Unfinished, or failed with an automatic retry still to come: the device is taken."""
    return r.status in ACTIVE or (r.status == RS.FAILED and r.due_time > 0)


#: ``holds_device`` as a query condition
HOLDS_DEVICE = DeviceRecord.status.in_(ACTIVE) | ((DeviceRecord.status == RS.FAILED) & (DeviceRecord.due_time > 0))
