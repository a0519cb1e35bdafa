"""Benchmark: the desktop's tables stay responsive under a storm of live events.

Builds the real widgets offscreen (no backend): the live table of one task (``LiveTaskView``:
``RecordsModel`` + its filter proxy + the table view; sorted by device name, then - not with
--quick - sorted by progress, the column the events change) and the device table of the products page
(``DevicesModel`` + ``text_filter_proxy`` + ``table_view`` + ``ColumnWidths``, as
``ProductsPage`` builds it). Each table is loaded with N rows the way ``ApiClient.fetch_all``
delivers them (JSON pages of ``PAGE_SIZE`` rows, one page per turn of the event loop, parsed
with the dto's ``from_json``, then one ``set_rows``), then takes R events per second for S
seconds the way the events stream delivers them (SSE text -> ``SseParser`` -> ``json.loads`` ->
``AppEvents.dispatch``, every 10 ms).

A probe (a 5 ms precise QTimer) records every gap between its ticks: a gap is the time the GUI
thread was busy; the figures are the longest gap and the 99th percentile during the storm, and
the longest gap while the rows load. Baseline, same run: an empty event loop with the same probe
for the same time.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/desktop_events.py [--rows 100000] [--rate 2000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _report import Figure, add_common_args, emit  # noqa: E402
from PySide6.QtCore import QCoreApplication, QElapsedTimer, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

PROBE_MS = 5
FEED_MS = 10
UID = "T-bench"
PRODUCT = "bench"
GOAL_MS = 50.0


class GcWatch:
    """The longest collection of the cyclic garbage collector per generation, in ms."""

    def __init__(self) -> None:
        self.longest = [0.0, 0.0, 0.0]
        self._t0 = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            gen = info["generation"]
            self.longest[gen] = max(self.longest[gen], (time.perf_counter() - self._t0) * 1000)

    def take(self) -> str:
        text = "/".join(f"{v:.0f}" for v in self.longest)
        self.longest = [0.0, 0.0, 0.0]
        return text


GC = GcWatch()


class Probe:
    """Gaps between the ticks of a precise 5 ms timer, in ms."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self._last = 0.0
        self._timer = QTimer(interval=PROBE_MS, timerType=Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last:
            self.gaps.append((now - self._last) * 1000)
        self._last = now

    def start(self) -> None:
        self.gaps, self._last = [], 0.0
        self._timer.start()

    def stop(self) -> list[float]:
        self._timer.stop()
        return self.gaps


def p99(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def run_loop_until(app: QApplication, done: Callable[[], bool], timeout_s: float) -> None:
    end = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > end:
            raise TimeoutError("benchmark step did not finish in time")
        app.processEvents()
        time.sleep(0.001)


def run_for(app: QApplication, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.0005)


# ---- rows as the API sends them ---------------------------------------------------------------
def record_json(i: int) -> dict[str, Any]:
    return {"id": i, "taskUid": UID, "deviceName": f"dev-{i:06d}", "version": "0.9.0", "targetVersion": "1.0.0",
            "status": 201, "step": 0, "desc": "", "retryCount": 0, "updatedTime": 1}


def device_json(i: int) -> dict[str, Any]:
    return {"productID": PRODUCT, "deviceName": f"dev-{i:06d}", "version": "0.9.0", "online": False, "lastSeen": 0}


def pages(n: int, make: Callable[[int], dict[str, Any]], size: int) -> list[bytes]:
    out = []
    for start in range(1, n + 1, size):
        rows = [make(i) for i in range(start, min(n, start + size - 1) + 1)]
        out.append(json.dumps({"code": 200, "msg": "ok", "data": {"total": n, "list": rows}}).encode())
    return out


def load_like_fetch_all(app: QApplication, raw_pages: list[bytes], parse_item: Callable[[dict], Any],
                        deliver: Callable[[list], None]) -> None:
    """The real ApiClient.fetch_all, its replies (JSON pages) answered on the next loop turn."""
    from ota_desktop.core.api_client import ApiCall, ApiClient

    class PagedClient(ApiClient):
        def request(self, path: str, body: dict[str, Any] | None = None,
                    parse: Callable[[Any], Any] | None = None, timeout_ms: int | None = None) -> ApiCall:
            call = ApiCall(self)
            page = int((body or {})["page"]["page"])

            def answer() -> None:
                data = json.loads(raw_pages[page - 1])["data"]  # what the reply handler parses
                call.resolve(parse(data) if parse else data)

            QTimer.singleShot(0, answer)
            return call

    client = PagedClient()
    result: list[list] = []
    client.fetch_all("/bench", {}, parse_item).then(result.append)
    run_loop_until(app, lambda: bool(result), 120)
    deliver(result[0])
    client.deleteLater()


# ---- events as the stream sends them ----------------------------------------------------------
class Feeder:
    """Sends ``rate`` events per second for ``seconds`` through SseParser + json + dispatch."""

    def __init__(self, events: Any, make_event: Callable[[int, int], dict[str, Any]], rate: int,
                 seconds: float) -> None:
        from ota_desktop.core.events_stream import SseParser

        self.events, self.make_event, self.rate, self.seconds = events, make_event, rate, seconds
        self.parser = SseParser()
        self.sent = 0
        self.total = int(rate * seconds)
        self.clock = QElapsedTimer()
        self.timer = QTimer(interval=FEED_MS, timerType=Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.feed)

    def start(self) -> None:
        self.clock.start()
        self.timer.start()

    @property
    def done(self) -> bool:
        return self.sent >= self.total

    def feed(self) -> None:
        due = min(int(self.clock.elapsed() / 1000 * self.rate), self.total) - self.sent
        if due <= 0:
            if self.done:
                self.timer.stop()
            return
        chunk = []
        for _ in range(due):
            self.sent += 1
            chunk.append(f"id: {self.sent}\nevent: message\ndata: {json.dumps(self.make_event(self.sent, self.sent))}\n\n")
        batch = []
        for msg in self.parser.feed("".join(chunk).encode()):  # what EventStream._on_ready_read does
            event = json.loads(msg.data)
            if isinstance(event, dict):
                batch.append(event)
        self.events.dispatch(batch)


class _NoClient:
    """The live view's client: never called here (rows are loaded directly)."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the benchmark does not call the API ({name})")


# ---- scenarios --------------------------------------------------------------------------------
def live_scenario(app: QApplication, n: int, rate: int, seconds: float, sort_progress: bool) -> dict[str, Any]:
    from ota_desktop.app_events import AppEvents
    from ota_desktop.core import dto
    from ota_desktop.core.api_client import PAGE_SIZE
    from ota_desktop.ui.live_view import LiveTaskView
    from ota_desktop.ui.models.records_model import RecordsModel

    events = AppEvents()
    view = LiveTaskView(_NoClient(), events, dto.Task(1, UID, version="1.0.0", productID=PRODUCT))  # type: ignore[arg-type]
    view.resize(1200, 800)
    view.show()
    app.processEvents()
    raw = pages(n, record_json, PAGE_SIZE)
    probe = Probe()
    probe.start()
    t0 = time.perf_counter()
    load_like_fetch_all(app, raw, dto.DeviceRecord.from_json, view._loaded)
    run_loop_until(app, lambda: view.model.rowCount() == n and view.proxy.rowCount() == n, 120)
    run_for(app, 0.3)
    load_s = time.perf_counter() - t0
    load_gaps = probe.stop()
    load_gc = GC.take()
    if sort_progress:
        view.view.sortByColumn(RecordsModel.PROGRESS, Qt.SortOrder.DescendingOrder)
        run_for(app, 0.3)
    rng = random.Random(7)
    steps: dict[int, int] = {}

    def make_event(seq: int, _n: int) -> dict[str, Any]:
        rid = rng.randint(1, n)
        step = min(100, steps.get(rid, 0) + rng.randint(1, 9))
        steps[rid] = step
        return {"type": "record", "taskUid": UID, "id": rid, "deviceName": f"dev-{rid:06d}",
                "status": 501 if step == 100 else 401, "step": step, "desc": "downloading",
                "updatedTime": 1000 + seq}

    feeder = Feeder(events, make_event, rate, seconds)
    probe.start()
    feeder.start()
    run_loop_until(app, lambda: feeder.done and view.model.pending == 0, seconds + 60)
    run_for(app, 0.3)
    gaps = probe.stop()
    applied = view.model.applied_events
    view.close()
    view.deleteLater()
    app.processEvents()
    return {"gaps": gaps, "load_gaps": load_gaps, "load_s": load_s, "applied": applied, "sent": feeder.sent,
            "load_gc": load_gc, "gc": GC.take()}


def devices_scenario(app: QApplication, n: int, rate: int, seconds: float) -> dict[str, Any]:
    from ota_desktop.app_events import AppEvents
    from ota_desktop.core import dto
    from ota_desktop.core.api_client import PAGE_SIZE
    from ota_desktop.ui.models.catalog_models import DevicesModel
    from ota_desktop.ui.table_actions import ColumnWidths
    from ota_desktop.ui.widgets import table_view, text_filter_proxy

    events = AppEvents()
    model = DevicesModel()  # as ProductsPage builds its device table
    proxy = text_filter_proxy(model, None)
    view = table_view(proxy, stretch=DevicesModel.NAME, multi=True)
    ColumnWidths(view, "devices")
    events.device_events.connect(getattr(model, "queue_device_events", model.apply_device_events))
    view.resize(1200, 800)
    view.show()
    app.processEvents()
    raw = pages(n, device_json, PAGE_SIZE)
    probe = Probe()
    probe.start()
    t0 = time.perf_counter()
    load_like_fetch_all(app, raw, dto.Device.from_json, getattr(model, "load_rows", model.set_rows))
    run_loop_until(app, lambda: model.rowCount() == n and proxy.rowCount() == n, 120)
    run_for(app, 0.3)
    load_s = time.perf_counter() - t0
    load_gaps = probe.stop()
    load_gc = GC.take()
    rng = random.Random(8)

    def make_event(seq: int, _n: int) -> dict[str, Any]:
        i = rng.randint(1, n)
        return {"type": "device", "productID": PRODUCT, "deviceName": f"dev-{i:06d}", "online": seq % 3 != 0,
                "version": "1.0.0" if seq % 5 == 0 else "0.9.0", "lastSeen": 1_700_000_000_000 + seq}

    feeder = Feeder(events, make_event, rate, seconds)
    probe.start()
    feeder.start()
    run_loop_until(app, lambda: feeder.done and getattr(model, "pending", 0) == 0, seconds + 60)
    run_for(app, 0.3)
    gaps = probe.stop()
    view.close()
    view.deleteLater()
    app.processEvents()
    return {"gaps": gaps, "load_gaps": load_gaps, "load_s": load_s, "load_gc": load_gc, "gc": GC.take()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap, runs=1)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rate", type=int, default=2_000, help="events per second")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--only", choices=("live", "live-progress", "devices"), help="one table only")
    args = ap.parse_args()
    if args.quick:
        args.rows, args.seconds, args.runs = min(args.rows, 20_000), min(args.seconds, 3.0), 1

    with tempfile.TemporaryDirectory(prefix="ota-bench-desktop-") as tmp:
        # the tables keep column widths in QSettings: a private, throw-away location
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tmp)
        QCoreApplication.setOrganizationName("ota-bench")
        existing = QApplication.instance()
        app = existing if isinstance(existing, QApplication) else QApplication(["desktop_events"])
        size = f"{args.rows:,} rows, {args.rate:,} events/s × {args.seconds:g} s"
        base_runs, figures = [], []
        base_p99 = []
        for _ in range(args.runs):
            probe = Probe()
            probe.start()
            run_for(app, args.seconds)
            gaps = probe.stop()
            base_runs.append(max(gaps))
            base_p99.append(p99(gaps))
        print(f"baseline empty loop: max gap {statistics.median(base_runs):.1f} ms, "
              f"p99 {statistics.median(base_p99):.1f} ms", flush=True)
        scenarios = [("live", "live table (records, sorted by device)"),
                     ("live-progress", "live table sorted by progress (re-sorted live)"),
                     ("devices", "device table (products page)")]
        for key, title in scenarios:
            if (args.only and args.only != key) or (key == "live-progress" and args.quick and not args.only):
                continue
            maxes, p99s, load_max, load_s = [], [], [], []
            for _ in range(args.runs):
                if key.startswith("live"):
                    r = live_scenario(app, args.rows, args.rate, args.seconds, sort_progress=key == "live-progress")
                else:
                    r = devices_scenario(app, args.rows, args.rate, args.seconds)
                maxes.append(max(r["gaps"]))
                p99s.append(p99(r["gaps"]))
                load_max.append(max(r["load_gaps"] or [0.0]))
                load_s.append(r["load_s"])
                print(f"  {key}: stall max {maxes[-1]:.1f} ms, p99 {p99s[-1]:.1f} ms; load {r['load_s']:.2f} s "
                      f"(longest stall while loading {load_max[-1]:.0f} ms); longest gc pass per generation "
                      f"{r['load_gc']} ms loading, {r['gc']} ms under events", flush=True)
            figures.append(Figure(f"{title}: longest GUI stall under events", size, maxes, "ms",
                                  goal=f"< {GOAL_MS:g} ms", met=statistics.median(maxes) < GOAL_MS,
                                  baseline="empty event loop, same probe", baseline_runs=base_runs))
            figures.append(Figure(f"{title}: p99 probe gap under events", size, p99s, "ms",
                                  baseline="empty event loop, same probe", baseline_runs=base_p99))
            figures.append(Figure(f"{title}: longest GUI stall while loading", f"{args.rows:,} rows", load_max,
                                  "ms", goal=f"< {GOAL_MS:g} ms", met=statistics.median(load_max) < GOAL_MS,
                                  note=f"load took {statistics.median(load_s):.2f} s"))
        emit(figures, args.json)


if __name__ == "__main__":
    main()
