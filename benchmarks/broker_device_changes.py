"""How long the embedded broker stops serving when one device changes, at N devices.

A device publishes a small message every 2 ms to its own topic; the backend's connection
receives them. The longest gap between two received messages around one device being added is
how long the broker stopped serving; the baseline is the longest gap of the same stream over the
same time with no change. Also: how long until the new device is accepted, and how long the
broker side of a bulk import of N devices takes (password file with N hashes + live changes).

Set-ups side by side: the ota_clientid plugin with device credentials changed over $CONTROL
(what the backend uses), the same plugin made to reload the password file (SIGHUP: the backend's
fallback when a change is refused), and without the plugin (one ACL entry per device, reloaded:
the fallback without gcc/mosquitto-dev; run only where it finishes).

    .venv/bin/python benchmarks/broker_device_changes.py [--devices 100000] [--runs 3] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import Figure, add_common_args, emit

from backend.mqtt import broker as broker_mod
from backend.mqtt import broker_control
from backend.mqtt.broker import DeviceCredential, EmbeddedMosquitto
from backend.procs import wait_for_port

SERVICE_PASSWORD = "bench-service-password"
PER_DEVICE_ACL_MAX = 20_000  # the fallback's reload is quadratic: 16 s at 50,000 already


def client(port: int, user: str, password: str, client_id: str) -> paho.Client:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
    c.username_pw_set(user, password)
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    if not connected.wait(30):
        raise RuntimeError(f"{user} could not connect")
    return c


def accepted(port: int, user: str, password: str) -> bool:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=paho.MQTTv311)
    c.username_pw_set(user, password)
    result: list = []
    c.on_connect = lambda cl, u, f, rc, p: result.append(rc)
    try:
        c.connect("127.0.0.1", port)
    except OSError:
        return False
    c.loop_start()
    deadline = time.monotonic() + 5
    while not result and time.monotonic() < deadline:
        time.sleep(0.002)
    c.disconnect()
    c.loop_stop()
    return bool(result) and not result[0].is_failure


def _refuse(self: object, lines: object) -> int:
    raise broker_control.ControlError("left out for the benchmark")


def measure(n: int, setup: str, runs: int) -> dict[str, list[float]]:
    """setup: "live" (plugin, $CONTROL), "reload" (plugin, SIGHUP), "acl" (no plugin, SIGHUP)."""
    devices = [DeviceCredential("PB", f"d{i:06d}", f"secret-{i:06d}") for i in range(n)]
    saved_plugin, saved_send = broker_mod.client_id_plugin, broker_control.DeviceControl.send
    if setup == "acl":
        broker_mod.client_id_plugin = lambda exe: (None, "left out for the benchmark")  # type: ignore[assignment]
    if setup == "reload":
        broker_control.DeviceControl.send = _refuse  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            mosq = EmbeddedMosquitto(Path(tmp), port=0, service_password=SERVICE_PASSWORD)
            if setup == "live":  # the broker side of a bulk import: from one device to n
                mosq.start(devices[:1])
                wait_for_port("127.0.0.1", mosq.port, 30)
                t0 = time.perf_counter()
                mosq.update_devices(devices)
                bulk_s = time.perf_counter() - t0
                assert mosq.reloads == 0, "the bulk import went by reload"
            else:
                mosq.start(devices)
                wait_for_port("127.0.0.1", mosq.port, 30)
                bulk_s = float("nan")
            try:
                result = _changes(mosq, devices, runs)
                if setup == "live":
                    assert mosq.reloads == 0, "a change went by reload"
                return result | {"bulk_s": [bulk_s]}
            finally:
                mosq.stop()
    finally:
        broker_mod.client_id_plugin = saved_plugin
        broker_control.DeviceControl.send = saved_send  # type: ignore[method-assign]


def _changes(mosq: EmbeddedMosquitto, devices: list[DeviceCredential], runs: int) -> dict[str, list[float]]:
    arrivals: list[float] = []
    backend = client(mosq.port, mosq.service_user, SERVICE_PASSWORD, "ota-backend-bench")
    backend.on_message = lambda c, u, m: arrivals.append(time.perf_counter())
    backend.subscribe("$ota/up/#", 0)
    dev = devices[0]
    device = client(mosq.port, f"{dev.product_id}&{dev.device_name}", dev.secret, f"{dev.product_id}&{dev.device_name}")
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            device.publish(f"$ota/up/report/{dev.product_id}/{dev.device_name}", b"{}", qos=0)
            time.sleep(0.002)

    threading.Thread(target=beat, daemon=True).start()
    time.sleep(1.0)
    new = DeviceCredential("PB", "added", "secret-added")
    gaps, accept, idle = [], [], []
    for _round in range(runs):
        arrivals.clear()  # baseline: the same stream over the same time, nothing changing
        time.sleep(0.3 + 0.5)
        idle.append(max(b - a for a, b in itertools.pairwise(arrivals)) if len(arrivals) > 1 else float("inf"))
        arrivals.clear()
        time.sleep(0.3)
        t0 = time.perf_counter()
        mosq.update_devices([*devices, new])
        while not accepted(mosq.port, "PB&added", new.secret):
            time.sleep(0.001)
        accept.append(time.perf_counter() - t0)
        time.sleep(0.5)
        window = [t for t in arrivals if t >= t0 - 0.05]
        gaps.append(max(b - a for a, b in itertools.pairwise(window)) if len(window) > 1 else float("inf"))
        mosq.update_devices(devices)  # and removed again
        time.sleep(0.5)
    stop.set()
    device.loop_stop()
    backend.loop_stop()
    return {"stall_ms": [g * 1000 for g in gaps], "accept_ms": [a * 1000 for a in accept],
            "idle_ms": [g * 1000 for g in idle]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=100_000)
    add_common_args(ap)
    args = ap.parse_args()
    n, runs = (2_000, 1) if args.quick else (args.devices, args.runs)
    size = f"{n:,} devices"
    figures = []
    live = measure(n, "live", runs)
    figures += [
        Figure("broker: longest stop while one device is added", size, live["stall_ms"], "ms", goal="< 100 ms",
               met=sorted(live["stall_ms"])[len(live["stall_ms"]) // 2] < 100, baseline="longest gap, no change",
               baseline_runs=live["idle_ms"], note="credentials over $CONTROL (plugin)"),
        Figure("broker: a new device is accepted after", size, live["accept_ms"], "ms"),
        Figure("broker: credentials of a bulk import (1 → N devices)", size, live["bulk_s"], "s",
               goal="< 60 s (whole import)", met=live["bulk_s"][0] < 60,
               note="N password hashes written + live changes, no reload"),
    ]
    reload = measure(n, "reload", runs)
    figures.append(Figure("broker: longest stop, change by reload (fallback)", size, reload["stall_ms"], "ms",
                          baseline="longest gap, no change", baseline_runs=reload["idle_ms"]))
    acl_n = min(n, PER_DEVICE_ACL_MAX if not args.quick else n)
    acl = measure(acl_n, "acl", runs)
    figures.append(Figure("broker: longest stop, no plugin (per-device ACL, reload)", f"{acl_n:,} devices",
                          acl["stall_ms"], "ms", baseline="longest gap, no change", baseline_runs=acl["idle_ms"]))
    emit(figures, args.json)


if __name__ == "__main__":
    main()
