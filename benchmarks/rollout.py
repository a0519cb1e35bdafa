"""Benchmark: a whole rollout, N simulated devices upgraded by one task on the embedded stack.

Each run starts the real backend (embedded nanio + Mosquitto, SQLite or ``--database-url``),
imports N devices, uploads two small files, creates the firmware, connects ota-devsim's Fleet
in this process (one MQTT connection per device, or ``--shared K``) and creates an "all
devices" task. The figure is devices per second from ``task/create`` until every device
reports the new version (each downloads both files through the object proxy, verifies them,
reports progress and its version). The CPU each process used during the rollout (backend,
object store, broker, this process with the simulator) is printed beside it.

Baseline, same run, same machine: the same 2 × N file downloads (32 workers; the simulator
has 64, each waiting on the network most of the time) straight from the object store with the same presigned URLs, no proxy, no MQTT,
no database: what the downloads alone cost. A second line shows the same downloads through
the proxy (without the rest of the rollout).

    .venv/bin/python benchmarks/rollout.py [--devices 10000] [--runs 3] [--quick] [--shared 4] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Figure, add_common_args, emit  # noqa: E402

from devsim import Credential, Fleet, SimOptions  # noqa: E402

TOKEN = "bench-token"
WORKERS = 32  # download workers of the baseline
SIM_WORKERS = 64  # the simulator's download workers (blocked on the network most of the time)


def cpu_s(p: psutil.Process | None) -> float:
    if p is None:
        return 0.0
    try:
        t = p.cpu_times()
        return float(t.user + t.system)
    except psutil.Error:
        return 0.0


def download_all(urls: list[str], devices: int) -> float:
    """Every device fetches every URL (WORKERS at a time); returns devices per second."""
    with httpx.Client(limits=httpx.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS),
                      timeout=60) as http:
        def one(_i: int) -> None:
            for u in urls:
                r = http.get(u)
                if r.status_code != 200:
                    raise SystemExit(f"baseline GET: HTTP {r.status_code}")
        t0 = time.monotonic()
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(one, range(devices)))
        return devices / (time.monotonic() - t0)


def one_run(args: argparse.Namespace, n: int) -> dict[str, Any]:
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
        children = backend.children(recursive=True)
        broker = next((p for p in children if "mosquitto" in p.name()), None)
        store = next((p for p in children if "nanio" in " ".join(p.cmdline())), None)
        me = psutil.Process()
        c = httpx.Client(base_url=base, headers={"iThings-token": TOKEN}, timeout=600)
        ok = lambda path, body: c.post(path, json=body).json()["data"]  # noqa: E731
        ok("/api/v1/things/product/info/create", {"productID": "bench", "productName": "bench"})
        t0 = time.monotonic()
        creds = []
        for i in range(0, n, 5000):
            batch = [{"deviceName": f"dev{k:05d}", "version": "0.9.0"} for k in range(i + 1, min(n, i + 5000) + 1)]
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
                      options=SimOptions(flash_seconds=0.2, download_workers=SIM_WORKERS, connect_concurrency=128))
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
        procs = {"backend": backend, "store": store, "broker": broker, "simulator (this process)": me}
        cpu0 = {k: cpu_s(p) for k, p in procs.items()}
        t0 = time.monotonic()
        task = ok("/api/v1/things/ota/task/create", {"firmwareID": fw, "type": 1, "upgradeType": 1,
                                                     "deviceList": "", "versionList": ""})
        t_create = time.monotonic() - t0
        fleet.wait_until(lambda f: f.counts()["succeeded"] == len(f), timeout=args.timeout, interval=0.1)
        t_devices = time.monotonic() - t0
        cpu = {k: cpu_s(p) - cpu0[k] for k, p in procs.items()}
        while ok("/api/v1/things/ota/task/read", {"taskID": task["taskID"]})["status"] != 3:
            if time.monotonic() - t0 > args.timeout:
                raise SystemExit("the task did not finish")
            time.sleep(0.2)
        t_done = time.monotonic() - t0
        stop.set()
        fleet.stop()
        fleet = None
        # the baseline: the same downloads with the same presigned URLs, straight from the store
        uris = [f["uri"] for f in ok("/api/v1/things/ota/firmware/read", {"firmwareID": fw})["files"]]
        store_port = json.loads((work / "objects.json").read_text())["port"]
        direct = [f"http://127.0.0.1:{store_port}" + u.split("/api/v1/oss", 1)[1] if not urlsplit(u).scheme
                  else u for u in uris]
        proxied = [base + u if not urlsplit(u).scheme else u for u in uris]
        cpu_b0 = cpu_s(store)
        base_rate = download_all(direct, n)
        cpu_base = cpu_s(store) - cpu_b0
        cpu_p0 = cpu_s(backend), cpu_s(store)
        proxy_rate = download_all(proxied, n)
        cpu_proxy = cpu_s(backend) - cpu_p0[0], cpu_s(store) - cpu_p0[1]
        print(f"run: {n} devices ({'shared ' + str(args.shared) if args.shared else 'one connection each'}), "
              f"{'PostgreSQL' if args.database_url else 'SQLite'}: import {t_import:.2f} s, connect + report "
              f"{t_connect:.2f} s, task create {t_create:.2f} s, all on 1.0.0 after {t_devices:.2f} s "
              f"({n / t_devices:.1f} devices/s), task done {t_done:.2f} s, backend peak RSS {peak[0] / 2**20:.0f} MiB",
              flush=True)
        print("   CPU during the rollout: " + ", ".join(f"{k} {v:.1f} s" for k, v in cpu.items())
              + f" (wall {t_devices:.1f} s, {os.cpu_count()} cores)", flush=True)
        print(f"   downloads only, 2 files × {n}: straight from the store {base_rate:.0f} devices/s (store CPU "
              f"{cpu_base:.1f} s); through the proxy {proxy_rate:.0f} devices/s (backend CPU {cpu_proxy[0]:.1f} s, "
              f"store CPU {cpu_proxy[1]:.1f} s)", flush=True)
        return {"rate": n / t_devices, "base": base_rate, "proxy": proxy_rate}
    finally:
        if fleet is not None:
            fleet.stop()
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--shared", type=int, default=0, help="devsim shared connections (0 = one per device)")
    ap.add_argument("--database-url", default="")
    ap.add_argument("--timeout", type=float, default=900)
    add_common_args(ap)
    args = ap.parse_args()
    n = 300 if args.quick and args.devices == 10000 else args.devices
    runs = [one_run(args, n) for _ in range(1 if args.quick else args.runs)]
    rates = [r["rate"] for r in runs]
    emit([Figure("rollout: devices upgraded (2 files through the proxy each)", f"{n:,} devices",
                 runs=rates, unit="devices/s", goal="≥ 300 devices/s", met=sorted(rates)[len(rates) // 2] >= 300,
                 baseline="the same 2 GETs per device straight from the store (32 workers)",
                 baseline_runs=[r["base"] for r in runs],
                 note=f"{'PostgreSQL' if args.database_url else 'SQLite'}; the same GETs through the proxy alone: "
                      + ", ".join(f"{r['proxy']:.0f}" for r in runs) + " devices/s")], args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
