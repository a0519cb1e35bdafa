"""Benchmark: a 1 GiB upload through the backend's /api/v1/oss proxy, then firmware create.

Prints the backend process's RSS before, its peak during the run (sampled every 50 ms), the
growth, and the throughput of each phase. The object store (nanio) and the broker are
separate child processes and are reported apart. Baselines from the same run: the same
presigned upload and download with `curl` straight to the store (no proxy), and `md5sum` +
`sha256sum` of the file (what firmware create computes).

    .venv/bin/python benchmarks/upload_1gib.py [--size-mib 1024] [--runs 3] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Figure, add_common_args, emit  # noqa: E402

TOKEN = "bench-token"


def _store_base(backend: psutil.Process) -> str:
    """http://127.0.0.1:<port> of the embedded object store (a child process of the backend)."""
    for child in backend.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "mosquitto" in child.name():
                continue
            for conn in child.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN:
                    return f"http://127.0.0.1:{conn.laddr.port}"
    raise SystemExit("the embedded object store's port was not found")


def _curl(*args: str) -> float:
    t0 = time.monotonic()
    subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", *args], check=True)
    return time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    add_common_args(ap, runs=2)
    args = ap.parse_args()
    if args.quick:
        args.size_mib, args.runs = 64, 1
    work = Path(tempfile.mkdtemp(prefix="ota-bench-"))
    blob = work / "firmware.bin"
    md5 = hashlib.md5()
    chunk = os.urandom(1 << 20)
    with open(blob, "wb") as fh:
        for i in range(args.size_mib):
            piece = chunk[i % 251:] + chunk[: i % 251]
            fh.write(piece)
            md5.update(piece)
    env = dict(os.environ, OTA_ADMIN_TOKEN=TOKEN)
    proc = subprocess.Popen([sys.executable, "-m", "backend", "--data-dir", str(work / "data"), "--http-port", "0",
                             "--mqtt-port", "0", "--log-level", "warning"], stdout=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT)
    assert proc.stdout is not None  # stdout=PIPE
    try:
        line = proc.stdout.readline()
        base = next(p for p in line.split() if p.startswith("http://"))
        me = psutil.Process(proc.pid)
        time.sleep(1.0)
        rss0 = me.memory_info().rss
        peak = [rss0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], me.memory_info().rss)
                except psutil.Error:
                    return
                time.sleep(0.05)
        threading.Thread(target=sample, daemon=True).start()
        h = {"iThings-token": TOKEN}
        c = httpx.Client(base_url=base, headers=h, timeout=None)
        c.post("/api/v1/things/product/info/create", json={"productID": "bench", "productName": "bench"})
        store = _store_base(me)
        mib = args.size_mib
        up, up_raw, create, hashes, down, down_raw = [], [], [], [], [], []
        for run in range(args.runs):
            def upload_url(name: str) -> dict:
                return c.post("/api/v1/system/common/upload-url/create", json={
                    "business": "productManage", "scene": "ota", "filePath": f"bench/{name}",
                    "rename": True}).json()["data"]
            d = upload_url("fw.bin")
            up.append(_curl("-T", str(blob), base + d["uploadUri"]))
            straight = upload_url("straight.bin")["uploadUri"].removeprefix("/api/v1/oss")
            up_raw.append(_curl("-T", str(blob), store + straight))
            t0 = time.monotonic()
            r = c.post("/api/v1/things/ota/firmware/create", json={
                "name": "bench", "productID": "bench", "version": f"1.0.{run}",
                "files": [{"filePath": d["filePath"], "name": "fw.bin"}]})
            create.append(time.monotonic() - t0)
            assert r.status_code == 200, r.text
            t0 = time.monotonic()
            subprocess.run(["md5sum", str(blob)], check=True, capture_output=True)
            subprocess.run(["sha256sum", str(blob)], check=True, capture_output=True)
            hashes.append(time.monotonic() - t0)
            fw = c.post("/api/v1/things/ota/firmware/read",
                        json={"firmwareID": r.json()["data"]["firmwareID"]}).json()["data"]
            assert fw["files"][0]["signature"] == md5.hexdigest() and fw["files"][0]["size"] == mib << 20
            uri = fw["files"][0]["uri"]
            down.append(_curl(base + uri if uri.startswith("/") else uri))
            down_raw.append(_curl(store + (uri if uri.startswith("/") else "/" + uri.split("/", 3)[3])
                                  .removeprefix("/api/v1/oss")))
        stop.set()
        children = {p.name(): p.memory_info().rss for p in me.children()}
        growth = (peak[0] - rss0) / 2**20
        print(f"backend RSS before {rss0 / 2**20:.1f} MiB, peak {peak[0] / 2**20:.1f} MiB; "
              + ", ".join(f"{name} {rss / 2**20:.1f} MiB" for name, rss in children.items()) + "; md5 verified")
        size = f"{mib:,} MiB file"
        emit([
            Figure("upload through the proxy (curl -T)", size, [mib / t for t in up], "MiB/s",
                   baseline="curl -T straight to the store", baseline_runs=[mib / t for t in up_raw]),
            Figure("firmware create (server-side copy + md5 + sha256)", size, create, "s",
                   baseline="md5sum + sha256sum of the file", baseline_runs=hashes),
            Figure("download through the proxy (curl)", size, [mib / t for t in down], "MiB/s",
                   baseline="curl straight from the store", baseline_runs=[mib / t for t in down_raw]),
            Figure("backend RSS growth during upload, create, download", size, [growth], "MiB",
                   goal="< 100 MiB", met=growth < 100),
        ], args.json)
        return 0 if growth < 100 else 1
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
