"""Benchmark: a 1 GiB upload through the backend's /api/v1/oss proxy, then firmware create.

Prints the backend process's RSS before, its peak during the run (sampled every 50 ms), the
growth, and the throughput of each phase. The object store (nanio) and the broker are
separate child processes and are reported apart.

    .venv/bin/python benchmarks/upload_1gib.py [--size-mib 1024] [--keep]
"""

from __future__ import annotations

import argparse
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
TOKEN = "bench-token"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    args = ap.parse_args()
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
        d = c.post("/api/v1/system/common/upload-url/create",
                   json={"business": "productManage", "scene": "ota", "filePath": "bench/fw.bin", "rename": True}).json()["data"]
        t0 = time.monotonic()
        subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", "-T", str(blob), base + d["uploadUri"]], check=True)
        t_up = time.monotonic() - t0
        t0 = time.monotonic()
        r = c.post("/api/v1/things/ota/firmware/create", json={
            "name": "bench", "productID": "bench", "version": "1.0.0", "files": [{"filePath": d["filePath"], "name": "fw.bin"}]})
        t_fw = time.monotonic() - t0
        assert r.status_code == 200, r.text
        fw = c.post("/api/v1/things/ota/firmware/read", json={"firmwareID": r.json()["data"]["firmwareID"]}).json()["data"]
        assert fw["files"][0]["signature"] == md5.hexdigest() and fw["files"][0]["size"] == args.size_mib << 20
        t0 = time.monotonic()
        subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", base + fw["files"][0]["uri"]], check=True)
        t_down = time.monotonic() - t0
        stop.set()
        children = {p.name(): p.memory_info().rss for p in me.children()}
        mib = args.size_mib
        print(f"size                      {mib} MiB")
        print(f"upload through proxy      {t_up:6.1f} s  {mib / t_up:7.1f} MiB/s")
        print(f"firmware create (copy+hash) {t_fw:4.1f} s  {mib / t_fw:7.1f} MiB/s")
        print(f"download through proxy    {t_down:6.1f} s  {mib / t_down:7.1f} MiB/s")
        print(f"backend RSS before        {rss0 / 2**20:7.1f} MiB")
        print(f"backend RSS peak          {peak[0] / 2**20:7.1f} MiB")
        print(f"backend RSS growth        {(peak[0] - rss0) / 2**20:7.1f} MiB  (target < 100 MiB)")
        for name, rss in children.items():
            print(f"child {name:<19} {rss / 2**20:7.1f} MiB RSS at the end")
        print("md5 verified              yes")
        return 0 if peak[0] - rss0 < 100 * 2**20 else 1
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
