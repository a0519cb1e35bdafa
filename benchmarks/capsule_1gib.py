"""Benchmark: a 1 GiB release capsule, exported from one backend to a file and imported into another.

Backend A (engineering) gets a 1 GiB firmware file (uploaded with ``curl -T``, a streamed PUT) and
exports its capsule to a file on disk (``curl -o``: streamed to disk); backend B (a station) trusts
A's key and imports the capsule file (``curl -T``: streamed from disk). Measured: each phase's
wall time and the peak RSS growth of the backend process doing it over its RSS before the first
run (sampled every 50 ms, the backend process alone; its object store, nanio, a child process, is
reported apart). The goal:
neither backend grows by 100 MiB or more, so a release is never held in memory.

Baselines from the same run: the firmware file downloaded with ``curl`` straight from A's store
(what export adds is the tar framing, the manifest and its signature, and A's proxying), and the
capsule file uploaded with ``curl -T`` straight to B's store (what import adds is the checks and
the firmware's creation).

    .venv/bin/python benchmarks/capsule_1gib.py [--size-mib 1024] [--runs 2] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _backend import BenchBackend
from _report import Figure, add_common_args, emit

TOKEN = "bench-token"
PRODUCT = "capbench"
C = "/api/v1/things/ota/capsule/"
MIB = 1 << 20


class Peaks:
    """The peak RSS of some processes while a phase runs, sampled every 50 ms on a thread."""

    def __init__(self, procs: dict[str, psutil.Process], base: dict[str, int]) -> None:
        self.procs, self.base = procs, base
        self.start: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self, name: str) -> int:
        try:
            return int(self.procs[name].memory_info().rss)
        except psutil.Error:
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            for name in self.procs:
                self.peak[name] = max(self.peak[name], self._rss(name))
            self._stop.wait(0.05)

    def __enter__(self) -> Peaks:
        self.start = {name: self._rss(name) for name in self.procs}
        self.peak = dict(self.start)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for name in self.procs:
            self.peak[name] = max(self.peak[name], self._rss(name))

    def growth_mib(self, name: str) -> float:
        """The peak over the RSS before the first run (memory a first run keeps counts in every run)."""
        return (self.peak[name] - self.base[name]) / MIB


def rss(procs: dict[str, psutil.Process]) -> dict[str, int]:
    return {name: int(p.memory_info().rss) for name, p in procs.items()}


def _store(backend: BenchBackend) -> tuple[psutil.Process, str]:
    """The embedded object store (nanio, a child process of the backend) and its base URL."""
    for child in psutil.Process(backend.proc.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "nanio" not in " ".join(child.cmdline()):
                continue
            for conn in child.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN:
                    return child, f"http://127.0.0.1:{conn.laddr.port}"
    raise SystemExit("the embedded object store (nanio) was not found among the backend's children")


def _curl(*args: str) -> tuple[float, str]:
    """Run curl (failing on HTTP errors); its wall time and what it printed."""
    t0 = time.monotonic()
    p = subprocess.run(["curl", "-sS", "--fail-with-body", *args], capture_output=True, text=True)
    took = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"curl {' '.join(args[:3])}...: exit {p.returncode}: {p.stderr.strip()} {p.stdout[:500]}")
    return took, p.stdout


def _ok(c: httpx.Client, path: str, body: dict | None = None) -> dict:
    r = c.post(path, json=body or {})
    doc = r.json()
    if r.status_code != 200 or doc.get("code") != 200:
        raise SystemExit(f"{path}: HTTP {r.status_code} {doc}")
    return doc.get("data") or {}


def _write_blob(path: Path, mib: int) -> str:
    """``mib`` MiB of random-looking bytes written in 1 MiB chunks; their md5."""
    md5 = hashlib.md5()
    chunk = os.urandom(MIB)
    with open(path, "wb") as fh:
        for i in range(mib):
            piece = chunk[i % 251:] + chunk[: i % 251]
            fh.write(piece)
            md5.update(piece)
    return md5.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    add_common_args(ap, runs=2)
    args = ap.parse_args()
    if args.quick:
        args.size_mib, args.runs = 64, 1
    mib = args.size_mib
    need = 4 * mib * MIB + 512 * MIB  # the file, A's object, the capsule, B's object (+ staging headroom)
    work = Path(tempfile.mkdtemp(prefix="ota-bench-capsule-"))
    if shutil.disk_usage(work).free < need:
        shutil.rmtree(work, ignore_errors=True)
        raise SystemExit(f"not enough disk space in {work.parent}: {need / 2**30:.1f} GiB needed")
    backends: list[BenchBackend] = []
    try:
        blob, capsule = work / "firmware.bin", work / "release.otacap"
        md5 = _write_blob(blob, mib)
        for name in ("engineering", "station"):
            (work / name).mkdir()
            backends.append(BenchBackend(work / name, TOKEN))
        a, b = backends
        ca = httpx.Client(base_url=a.base, headers={"iThings-token": TOKEN}, timeout=None)
        cb = httpx.Client(base_url=b.base, headers={"iThings-token": TOKEN}, timeout=None)
        store_a, store_a_url = _store(a)
        store_b, store_b_url = _store(b)
        procs_a = {"backend": psutil.Process(a.proc.pid), "store": store_a}
        procs_b = {"backend": psutil.Process(b.proc.pid), "store": store_b}

        # engineering: the product, the 1 GiB file (streamed PUT), the firmware
        _ok(ca, "/api/v1/things/product/info/create", {"productID": PRODUCT, "productName": "capsule bench"})
        up = _ok(ca, "/api/v1/system/common/upload-url/create", {
            "business": "productManage", "scene": "ota", "filePath": f"{PRODUCT}/fw.bin", "rename": True})
        _curl("-o", "/dev/null", "-T", str(blob), a.base + up["uploadUri"])
        fw_id = _ok(ca, "/api/v1/things/ota/firmware/create", {
            "name": "bench", "productID": PRODUCT, "version": "1.0.0",
            "files": [{"filePath": up["filePath"], "name": "fw.bin"}]})["firmwareID"]
        uri = _ok(ca, "/api/v1/things/ota/firmware/read", {"firmwareID": fw_id})["files"][0]["uri"]
        straight = store_a_url + (uri if uri.startswith("/") else "/" + uri.split("/", 3)[3]).removeprefix("/api/v1/oss")
        _ok(cb, C + "trust", {"publicKey": _ok(ca, C + "key")["publicKey"], "name": "Engineering"})
        time.sleep(1.0)  # the backends settle after start and the upload
        base_a, base_b = rss(procs_a), rss(procs_b)

        export_s, import_s, export_raw, import_raw = [], [], [], []
        growth: dict[str, list[float]] = {"A": [], "B": [], "A store": [], "B store": []}
        for _run in range(args.runs):
            with Peaks(procs_a, base_a) as pa:
                took, _ = _curl("-o", str(capsule), "-X", "POST", "-H", f"iThings-token: {TOKEN}",
                                "-H", "Content-Type: application/json", "--data", json.dumps({"firmwareID": fw_id}),
                                a.base + C + "export")
            export_s.append(took)
            growth["A"].append(pa.growth_mib("backend"))
            growth["A store"].append(pa.growth_mib("store"))
            size = capsule.stat().st_size
            if size < mib * MIB:
                raise SystemExit(f"the capsule is {size} bytes, less than its {mib} MiB file")

            with Peaks(procs_b, base_b) as pb:
                took, out = _curl("-X", "POST", "-T", str(capsule), "-H", f"iThings-token: {TOKEN}",
                                  "-H", "Content-Type: application/octet-stream", b.base + C + "import")
            import_s.append(took)
            growth["B"].append(pb.growth_mib("backend"))
            growth["B store"].append(pb.growth_mib("store"))
            imported = json.loads(out)["data"]
            fw = _ok(cb, "/api/v1/things/ota/firmware/read", {"firmwareID": imported["firmwareID"]})
            if (fw["files"][0]["signature"], fw["files"][0]["size"]) != (md5, mib * MIB):
                raise SystemExit(f"the imported file is not the exported one: {fw['files'][0]}")
            # the same release can be imported again once its firmware is gone (a new run)
            _ok(cb, "/api/v1/things/ota/firmware/delete", {"firmwareID": imported["firmwareID"]})

            export_raw.append(_curl("-o", "/dev/null", straight)[0])
            raw_put = _ok(cb, "/api/v1/system/common/upload-url/create", {
                "business": "productManage", "scene": "ota", "filePath": f"{PRODUCT}/raw.bin", "rename": True})
            import_raw.append(_curl("-o", "/dev/null", "-T", str(capsule),
                                    store_b_url + raw_put["uploadUri"].removeprefix("/api/v1/oss"))[0])
            capsule.unlink()
        ca.close()
        cb.close()

        print(f"capsule of {mib} MiB exported and imported {args.runs}x; md5 of the imported file verified; "
              f"export {', '.join(f'{t:.1f}' for t in export_s)} s, import {', '.join(f'{t:.1f}' for t in import_s)} s; "
              f"RSS growth A {growth['A']} MiB, B {growth['B']} MiB, A's store {growth['A store']}, "
              f"B's store {growth['B store']}")
        label = f"{mib:,} MiB file"
        ok_a, ok_b = max(growth["A"]) < 100, max(growth["B"]) < 100
        emit([
            Figure("capsule export, streamed to a file (curl)", label, [mib / t for t in export_s], "MiB/s",
                   baseline="curl of the file straight from the store", baseline_runs=[mib / t for t in export_raw]),
            Figure("capsule import, streamed from a file (curl -T)", label, [mib / t for t in import_s], "MiB/s",
                   baseline="curl -T of the capsule straight to the store",
                   baseline_runs=[mib / t for t in import_raw]),
            Figure("exporting backend RSS growth (peak)", label, growth["A"], "MiB", goal="< 100 MiB", met=ok_a,
                   note=f"its object store: {max(growth['A store']):.1f} MiB"),
            Figure("importing backend RSS growth (peak)", label, growth["B"], "MiB", goal="< 100 MiB", met=ok_b,
                   note=f"its object store: {max(growth['B store']):.1f} MiB"),
        ], args.json)
        return 0 if ok_a and ok_b else 1
    finally:
        for backend in backends:
            backend.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
