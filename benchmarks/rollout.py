"""Benchmark: a whole rollout, N simulated devices upgraded by one task on the embedded stack.

Starts the real backend (embedded nanio + Mosquitto), imports N devices, uploads two small
files, creates the seed firmware and an "all devices" task, and runs ota-devsim's Fleet in
this process (one MQTT connection per device, or --shared K). Prints connect time, rollout
time, pushes and records per second, and the backend's CPU and peak RSS.

    .venv/bin/python benchmarks/rollout.py --devices 10000 [--shared 4] [--database-url URL]
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(ROOT))
from devsim import Credential, Fleet, SimOptions  # noqa: E402

TOKEN = "bench-token"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--shared", type=int, default=0, help="devsim shared connections (0 = one per device)")
    ap.add_argument("--database-url", default="")
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ota-rollout-"))
    cmd = [sys.executable, "-m", "backend", "--data-dir", str(work), "--http-port", "0", "--mqtt-port", "0",
           "--log-level", "warning"]
    if args.database_url:
        cmd += ["--database-url", args.database_url]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ, OTA_ADMIN_TOKEN=TOKEN), cwd=ROOT)
    assert proc.stdout is not None  # stdout=PIPE
    fleet = None
    try:
        parts = proc.stdout.readline().split()
        base = next(p for p in parts if p.startswith("http://"))
        mqtt_port = int(next(p for p in parts if p.startswith("mqtt://")).rsplit(":", 1)[1])
        backend = psutil.Process(proc.pid)
        c = httpx.Client(base_url=base, headers={"iThings-token": TOKEN}, timeout=600)
        ok = lambda path, body: c.post(path, json=body).json()["data"]  # noqa: E731
        ok("/api/v1/things/product/info/create", {"productID": "bench", "productName": "bench"})
        t0 = time.monotonic()
        creds = []
        for i in range(0, args.devices, 5000):
            batch = [{"deviceName": f"dev{n:05d}", "version": "0.9.0"}
                     for n in range(i + 1, min(args.devices, i + 5000) + 1)]
            creds += [Credential(d["productID"], d["deviceName"], d["deviceSecret"])
                      for d in ok("/api/v1/things/device/info/import", {"productID": "bench", "devices": batch})["list"]]
        t_import = time.monotonic() - t0
        files = []
        for name, size in (("xx.zip", 16600), ("xx2.zip", 32768)):
            d = ok("/api/v1/system/common/upload-url/create",
                   {"business": "productManage", "scene": "ota", "filePath": f"bench/{name}", "rename": True})
            assert c.put(d["uploadUri"], content=os.urandom(size)).status_code == 200
            files.append({"filePath": d["filePath"], "name": name})
        fw = ok("/api/v1/things/ota/firmware/create", {"name": "bench", "productID": "bench", "version": "1.0.0",
                                                        "files": files})["firmwareID"]
        time.sleep(1.5)  # the broker learns the device credentials
        pw = (work / "mqtt-service-password").read_text().strip()
        fleet = Fleet(creds, version="0.9.0", base_url=base, shared_connections=args.shared,
                      mqtt_url=f"mqtt://ota-backend:{pw}@127.0.0.1:{mqtt_port}",
                      options=SimOptions(flash_seconds=0.2, download_workers=32, connect_concurrency=128))
        t0 = time.monotonic()
        fleet.start()
        fleet.wait_connected(300)
        t_connect = time.monotonic() - t0
        time.sleep(1.0)
        peak = [backend.memory_info().rss]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                peak[0] = max(peak[0], backend.memory_info().rss)
        threading.Thread(target=sample, daemon=True).start()
        cpu0 = backend.cpu_times()
        t0 = time.monotonic()
        task = ok("/api/v1/things/ota/task/create", {"firmwareID": fw, "type": 1, "upgradeType": 1,
                                                     "deviceList": "", "versionList": ""})
        t_create = time.monotonic() - t0
        fleet.wait_until(lambda f: f.counts()["succeeded"] == len(f), timeout=args.timeout, interval=0.5)
        t_devices = time.monotonic() - t0
        while True:
            st = ok("/api/v1/things/ota/task/read", {"taskID": task["taskID"]})["status"]
            if st == 3:
                break
            time.sleep(0.2)
        t_done = time.monotonic() - t0
        stop.set()
        cpu1 = backend.cpu_times()
        n = args.devices
        print(f"devices                    {n}  ({'shared ' + str(args.shared) if args.shared else 'one connection each'})")
        print(f"database                   {'PostgreSQL' if args.database_url else 'SQLite'}")
        print(f"import devices             {t_import:7.2f} s")
        print(f"connect + report           {t_connect:7.2f} s")
        print(f"task create (plan records) {t_create:7.2f} s")
        print(f"all devices on 1.0.0       {t_devices:7.2f} s  ({n / t_devices:7.1f} devices/s)")
        print(f"task done (status 3)       {t_done:7.2f} s")
        print(f"backend CPU during rollout {cpu1.user + cpu1.system - cpu0.user - cpu0.system:7.2f} s")
        print(f"backend peak RSS           {peak[0] / 2**20:7.1f} MiB")
        return 0
    finally:
        if fleet is not None:
            fleet.stop()
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
