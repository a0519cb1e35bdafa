"""One shape for every benchmark's figures, so ``benchmarks/run`` can gather them into one table.

A benchmark script adds the common options, measures each figure several times (the figure is the
median) next to a baseline measured in the same run, and hands its figures to :func:`emit`::

    ap = argparse.ArgumentParser()
    add_common_args(ap)                  # --quick, --runs, --json
    args = ap.parse_args()
    ...
    emit([Figure("dispatch: create → last push", "10,000 devices", runs=[1.9, 2.0, 2.1], unit="s",
                 goal="< 3 s", met=median < 3, baseline="raw paho publisher", baseline_value=0.9)],
         args.json)
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Figure:
    name: str  # what is measured: "ingestion: messages applied"
    size: str  # at what scale: "10,000 devices × 11 messages"
    runs: list[float]  # every run's value; the figure is their median
    unit: str  # "s", "ms", "msg/s", "devices/s", "MiB"
    goal: str = ""  # the target as a reader would say it: "≥ 5,000 msg/s"
    met: bool | None = None  # None: no target for this figure
    baseline: str = ""  # what the same run measured for comparison: "raw paho publisher"
    baseline_runs: list[float] = field(default_factory=list)
    baseline_unit: str = ""  # defaults to unit
    note: str = ""

    @property
    def value(self) -> float:
        return statistics.median(self.runs)

    @property
    def baseline_value(self) -> float | None:
        return statistics.median(self.baseline_runs) if self.baseline_runs else None


def add_common_args(ap: argparse.ArgumentParser, runs: int = 3) -> None:
    ap.add_argument("--quick", action="store_true", help="small sizes, one run: proves the benchmark works")
    ap.add_argument("--runs", type=int, default=runs, help="runs per figure (the figure is the median)")
    ap.add_argument("--json", type=Path, help="also write the figures here (benchmarks/run reads them)")


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def emit(figures: list[Figure], json_path: Path | None) -> None:
    """Print one line per figure and, when asked, write them as JSON for ``benchmarks/run``."""
    for f in figures:
        verdict = {True: "met", False: "NOT met", None: ""}[f.met]
        base = f"   (baseline {f.baseline}: {fmt(f.baseline_value, f.baseline_unit or f.unit)})" if f.baseline else ""
        runs = ", ".join(fmt(v, "") for v in f.runs)
        print(f"FIGURE {f.name} [{f.size}]: {fmt(f.value, f.unit)} (runs: {runs})"
              f"{'   goal ' + f.goal + ' ' + verdict if f.goal else ''}{base}", flush=True)
    if json_path is not None:
        rows = [asdict(f) | {"value": f.value, "baseline_value": f.baseline_value} for f in figures]
        json_path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
