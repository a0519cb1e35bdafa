"""The live device-status table of one task, fed by the events stream.

Events are queued and applied at most every ``BATCH_INTERVAL_MS`` (records found by id in a
dict); each flush emits one ``dataChanged`` over the rows and columns that changed (one per run
of adjacent rows while a filter is active, see ``RowTableModel.emit_changes``), so thousands of
events per second cost a signal per flush, never a model reset. A changed sort column re-keys
only the changed rows; the rows are re-sorted at most every ``RESORT_MS``.

Rows asked for (``expect_rows``) arrive as a snapshot of when the backend read them, while
events go on being shown: the events applied meanwhile are applied again on top of the
snapshot when it is installed (those older than a row are skipped by ``updatedTime``), so a
(re)load never takes the table back to an older state.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QRegularExpression, QTimer, Signal

from ...core import dto
from ...core.dto import RecordStatus
from ...i18n import QT_TRANSLATE_NOOP
from ..status import dot_icon, record_status_colour, record_status_text, step_text
from .base import DECORATION, FOREGROUND, NUMERIC, TOOLTIP, VALUE_ROLE, Column, FilterProxy, RowTableModel, format_time

BATCH_INTERVAL_MS = 100
#: longest stretch of work one flush slice does before letting the event loop turn
FLUSH_BUDGET_S = 0.025
#: changed rows signalled together within a flush slice (so the slice's budget covers signalling)
EMIT_EVERY = 64
RESORT_MS = 500
_RETRY_FROM = frozenset({RecordStatus.FAILED, RecordStatus.CANCELLED})
_RETRY_TO = frozenset({RecordStatus.QUEUED, RecordStatus.QUEUED_OFFLINE, RecordStatus.QUEUED_RETRY,
                       RecordStatus.PUSHED})


def _progress_value(r: dto.DeviceRecord) -> int:
    return 100 if r.status == RecordStatus.SUCCEEDED else int(r.step or 0)


def _progress_text(r: dto.DeviceRecord) -> str:
    value = _progress_value(r)
    return step_text(value) if value < 0 else f"{value}%"


class RecordsModel(RowTableModel[dto.DeviceRecord]):
    CONTEXT = "RecordsModel"
    DEVICE, WAVE, CURRENT, TARGET, STATUS, PROGRESS, DESC, RETRIES, UPDATED = range(9)
    COLUMNS = (
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Device"), lambda r: r.deviceName),
        # the rollout wave (1-based, protocol 13.13); empty when the backend sent none
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Wave"), lambda r: r.wave or "", lambda r: int(r.wave or 0),
               align=NUMERIC),
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Current version"), lambda r: r.version),
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Target version"), lambda r: r.targetVersion),
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Status"), lambda r: record_status_text(r.status),
               lambda r: r.status),
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Progress"), _progress_text, _progress_value),
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Description"), lambda r: r.desc),
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Retries"), lambda r: r.retryCount, align=NUMERIC),
        Column(QT_TRANSLATE_NOOP("RecordsModel", "Last update"), lambda r: format_time(r.updatedTime),
               lambda r: int(r.updatedTime or 0)),
    )

    #: counts per status changed (after set_rows or a flush)
    summary_changed = Signal()

    def __init__(self, task_uid: str = "", product_id: str = "", target_version: str = "",
                 parent: QObject | None = None, batch_interval_ms: int = BATCH_INTERVAL_MS) -> None:
        super().__init__(parent)
        self.task_uid, self.product_id, self.target_version = task_uid, product_id, target_version
        self._by_id: dict[int, dto.DeviceRecord] = {}
        self._by_device: dict[str, list[dto.DeviceRecord]] = {}
        self._counts: dict[int, int] = {}
        self._pending: list[dict[str, Any]] = []
        # events applied since rows were asked for (expect_rows), applied again on the rows
        # that answer; None while no rows are awaited
        self._replay: list[dict[str, Any]] | None = None
        self._awaited = 0  # row requests not yet answered
        # id(record) -> the record and its events not yet applied
        self._dirty: dict[int, tuple[dto.DeviceRecord, list[dict[str, Any]]]] = {}
        self._timer = QTimer(self, singleShot=True, interval=batch_interval_ms)
        self._timer.timeout.connect(self.flush)
        self._continue = QTimer(self, singleShot=True, interval=0)
        # live updates to the sorted column re-sort the rows at most this often
        self._resort_timer = QTimer(self, singleShot=True, interval=RESORT_MS)
        self._resort_timer.timeout.connect(self.resort)
        self._continue.timeout.connect(self.flush)
        self.applied_events = 0  # for diagnostics and tests
        self.loaded.connect(self._after_load)

    # -- extra roles ---------------------------------------------------------------------------
    def extra_data(self, row: dto.DeviceRecord, column: int, role: int) -> Any:
        if column == self.STATUS:
            if role == DECORATION:
                return dot_icon(record_status_colour(row.status))
            if role == FOREGROUND:
                return record_status_colour(row.status)
            if role == TOOLTIP:
                return str(row.status)
        elif column == self.PROGRESS and role == VALUE_ROLE:
            return _progress_value(row)
        elif column == self.DESC and role == TOOLTIP:
            return row.desc or None
        return None

    # -- loading -------------------------------------------------------------------------------
    def _prepare_rows(self, rows: list[dto.DeviceRecord]) -> Any:
        return {}, {}, {}

    def _index_rows(self, state: Any, rows: list[dto.DeviceRecord]) -> None:
        by_id, by_device, counts = state
        by_id.update(zip([r.id for r in rows], rows))
        for r in rows:
            by_device.setdefault(r.deviceName, []).append(r)
            counts[r.status] = counts.get(r.status, 0) + 1

    def expect_rows(self) -> None:
        """The rows of this task were asked for; ``load_rows`` (or ``rows_failed``) follows.

        Until then events are still shown, on the rows there are (or on rows made from the
        events), and kept: the snapshot that answers may have been read before some of them."""
        self._awaited += 1
        if self._replay is None:
            # a flush cut short holds events not yet applied: they count as arriving now
            self._replay = [ev for _rec, evs in self._dirty.values() for ev in evs]

    @property
    def awaiting_rows(self) -> bool:
        """Rows asked for with ``expect_rows`` have not been shown yet."""
        return self._awaited > 0 or self.is_loading

    def rows_failed(self) -> None:
        """Rows asked for with ``expect_rows`` will not come (the request failed)."""
        self._awaited = max(0, self._awaited - 1)
        if not self._awaited and not self.is_loading:
            self._replay = None

    def load_rows(self, rows: Sequence[dto.DeviceRecord]) -> None:
        self._awaited = max(0, self._awaited - 1)  # answers a request (if one was made)
        super().load_rows(rows)

    def _install_index(self, state: Any) -> None:
        self._by_id, self._by_device, self._counts = state
        replay = self._replay
        if replay is not None:
            # every event applied since the rows were asked for goes again, onto the new rows
            # (it includes those held by a flush cut short); _apply skips those older than a row.
            # Still awaiting another answer (a second reload): they are kept for that one too
            self._pending[:0] = replay
            self._replay = [] if self._awaited else None
        else:
            # events waiting for rows of the old table go back to the queue, found again by id;
            # queued events older than the loaded rows are skipped by _apply
            self._pending[:0] = [ev for _rec, evs in self._dirty.values() for ev in evs]
        self._dirty.clear()

    def _after_load(self) -> None:
        self._schedule()
        self.summary_changed.emit()

    def _idle(self) -> None:
        # events held during a sliced re-sort: a flush cut short goes on, queued ones follow
        if self._dirty:
            self._continue.start()
        else:
            self._schedule()

    # -- live updates --------------------------------------------------------------------------
    def queue_record_events(self, events: list[dict[str, Any]]) -> None:
        uid = self.task_uid
        self._pending.extend(ev for ev in events if ev.get("taskUid") == uid and "id" in ev)
        self._schedule()

    def queue_device_events(self, events: list[dict[str, Any]]) -> None:
        for ev in events:
            name = ev.get("deviceName")
            if name in self._by_device and ev.get("version") is not None and (
                    not self.product_id or ev.get("productID") == self.product_id):
                self._pending.append({"id": None, "deviceName": name, "version": str(ev["version"])})
        self._schedule()

    def _schedule(self) -> None:
        if self._pending and not self.is_loading and not self._timer.isActive() and not self._continue.isActive():
            self._timer.start()

    @property
    def pending(self) -> int:
        """Events not yet shown (queued, or waiting for the next slice of a flush)."""
        return len(self._pending) + sum(len(evs) for _rec, evs in self._dirty.values())

    def flush(self) -> None:
        """Show queued events: apply them row by row, then signal the changed cells at once.

        The work is sliced: after ``FLUSH_BUDGET_S`` the rest waits for the next turn of the
        event loop (a zero timer), so a burst of thousands of events never freezes the GUI;
        each slice ends with its own ``dataChanged``.
        """
        self._timer.stop()
        self._continue.stop()
        if self.is_loading:  # the rows being loaded get them (see _install_index)
            return
        deadline = time.perf_counter() + FLUSH_BUDGET_S
        events, self._pending = self._pending, []
        if self._replay is not None:
            self._replay.extend(events)
        new_rows: dict[int, dto.DeviceRecord] = {}
        dirty = self._dirty
        for ev in events:
            if ev["id"] is None:  # a device's new current version
                for rec in self._by_device.get(ev["deviceName"], ()):
                    dirty.setdefault(id(rec), (rec, []))[1].append(ev)
                continue
            rid = int(ev["id"])
            found = self._by_id.get(rid)
            if found is not None:
                dirty.setdefault(id(found), (found, []))[1].append(ev)
                continue
            new = new_rows.get(rid)
            if new is None:  # a record this table has not seen (dynamic tasks add devices)
                new = new_rows[rid] = dto.DeviceRecord(id=rid, taskUid=self.task_uid,
                                                       deviceName=str(ev.get("deviceName", "")),
                                                       targetVersion=self.target_version, status=0)
            self._apply(new, ev, None)
            self.applied_events += 1
        if new_rows:
            for rec in new_rows.values():
                rec.version = rec.version or self._device_version(rec.deviceName)
            self._insert(list(new_rows.values()))
            self._schedule_resort()
        pos = self._pos
        sort_column = self._keys_column if self._keys is not None else -1
        changes: list[tuple[int, int, int]] = []
        done = 0
        for key in sorted(dirty, key=lambda k: pos[id(dirty[k][0])]):
            rec, evs = dirty.pop(key)
            i = pos[id(rec)]
            left, right = 99, -1
            for ev in evs:
                lo, hi = self._apply(rec, ev, self._counts)
                if hi >= 0:
                    left, right = min(left, lo), max(right, hi)
            self.applied_events += sum(1 for ev in evs if ev["id"] is not None)
            done += 1
            if right >= 0:
                changes.append((i, left, right))
                if left <= sort_column <= right:
                    self.rekey(i)
                    self._schedule_resort()
            if len(changes) >= EMIT_EVERY:  # signalling costs too (a filter proxy re-checks rows)
                self.emit_changes(changes)
                changes = []
            if time.perf_counter() > deadline:
                break
        self.emit_changes(changes)
        if events or new_rows or done:
            self.summary_changed.emit()
        if dirty:
            self._continue.start()
        else:
            self._schedule()

    def _schedule_resort(self) -> None:
        if self.sort_spec is not None and not self._resort_timer.isActive():
            self._resort_timer.start()

    def _device_version(self, name: str) -> str:
        rows = self._by_device.get(name)
        return rows[0].version if rows else ""

    @classmethod
    def _apply(cls, rec: dto.DeviceRecord, ev: dict[str, Any], counts: dict[int, int] | None) -> tuple[int, int]:
        """Apply one event; returns the (first, last) changed column, or (-1, -1)."""
        updated = ev.get("updatedTime") or 0
        if updated and rec.updatedTime and updated < rec.updatedTime:
            return -1, -1  # older than what the row shows (e.g. from before a reload)
        lo, hi = 99, -1

        def mark(col: int) -> None:
            nonlocal lo, hi
            lo, hi = min(lo, col), max(hi, col)

        status = int(ev.get("status", rec.status))
        retries = rec.retryCount
        if ev.get("retryCount") is not None:
            retries = int(ev["retryCount"])
        elif rec.status in _RETRY_FROM and status in _RETRY_TO:
            retries += 1  # a retry: the event carries no count, the record gained one
        if retries != rec.retryCount:
            rec.retryCount = retries
            mark(cls.RETRIES)
        if status != rec.status:
            if counts is not None:
                counts[rec.status] = counts.get(rec.status, 0) - 1
                counts[status] = counts.get(status, 0) + 1
            rec.status = status
            mark(cls.STATUS)
            mark(cls.PROGRESS)  # 501 shows as 100 %
        if ev.get("step") is not None and int(ev["step"]) != rec.step:
            rec.step = int(ev["step"])
            mark(cls.PROGRESS)
        if ev.get("desc") is not None and str(ev["desc"]) != rec.desc:
            rec.desc = str(ev["desc"])
            mark(cls.DESC)
        if updated and updated != rec.updatedTime:
            rec.updatedTime = int(updated)
            mark(cls.UPDATED)
        if ev.get("version") and str(ev["version"]) != rec.version:
            rec.version = str(ev["version"])
            mark(cls.CURRENT)
        if ev.get("wave") and int(ev["wave"]) != rec.wave:
            rec.wave = int(ev["wave"])
            mark(cls.WAVE)
        if ev.get("targetVersion") and str(ev["targetVersion"]) != rec.targetVersion:
            rec.targetVersion = str(ev["targetVersion"])
            mark(cls.TARGET)
        return (lo, hi) if hi >= 0 else (-1, -1)

    def _insert(self, records: list[dto.DeviceRecord]) -> None:
        self._cancel_resort()
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(records) - 1)
        self._rows.extend(records)
        for rec in records:
            self._by_id[rec.id] = rec
            self._by_device.setdefault(rec.deviceName, []).append(rec)
            self._counts[rec.status] = self._counts.get(rec.status, 0) + 1
        self._appended(first)
        self.endInsertRows()

    # -- summary -------------------------------------------------------------------------------
    def status_counts(self) -> dict[int, int]:
        return {k: v for k, v in self._counts.items() if v}

    def success_rate(self) -> float | None:
        total = len(self._rows)
        return self._counts.get(RecordStatus.SUCCEEDED, 0) / total if total else None

    def filter_text(self, row: dto.DeviceRecord) -> str:
        return f"{row.status}\t{row.deviceName}\n{row.version}\n{row.targetVersion}\n{row.desc}"

    def record_by_id(self, record_id: int) -> dto.DeviceRecord | None:
        return self._by_id.get(record_id)


class RecordsFilterProxy(FilterProxy):
    """Filter by a set of status codes and a case-insensitive text (device, versions,
    description); the rows keep the model's own order (``sort`` is the model's).

    Both filters are one regular expression over ``FILTER_ROLE`` ("<status>\\t<texts>"), matched
    by Qt without calling Python for any row while no filter is set."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._statuses: frozenset[int] | None = None
        self._text = ""

    def set_statuses(self, statuses: frozenset[int] | None) -> None:
        self._statuses = statuses
        self._refilter()

    def set_text(self, text: str) -> None:
        self._text = text.strip()
        self._refilter()

    def _refilter(self) -> None:
        pattern = ""
        if self._statuses is not None:
            codes = "|".join(str(int(s)) for s in sorted(self._statuses))
            pattern = f"^(?:{codes})\\t" if codes else "^(?!)"
        if self._text:
            pattern = (pattern or "\\t") + "(?s:.*)" + QRegularExpression.escape(self._text)
        self.setFilterRegularExpression(
            QRegularExpression(pattern, QRegularExpression.PatternOption.CaseInsensitiveOption))
