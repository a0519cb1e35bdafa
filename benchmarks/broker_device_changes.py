"""How long the embedded broker stops serving when one device is added, at N devices.

A device publishes a small message every 2 ms to its own topic; the backend's connection
receives them. Adding one device rewrites the broker's credential files and makes Mosquitto
reload them (SIGHUP); the longest gap between two received messages around that moment is how
long the broker stopped serving. Also: how long until the new device is accepted, and how
long writing N credentials takes.

Two set-ups side by side: the ota_clientid plugin deciding devices' topics (the ACL file stays
constant: what the backend uses), and the plugin left out (one ACL entry per device: what the
backend falls back to without gcc/mosquitto-dev). The second is measured at sizes where it
finishes.

    .venv/bin/python benchmarks/broker_device_changes.py [N ...]   (default: 10000 100000)
"""

from __future__ import annotations

import itertools
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.mqtt import broker as broker_mod
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


def measure(n: int, plugin: bool) -> dict[str, float]:
    devices = [DeviceCredential("PB", f"d{i:06d}", f"secret-{i:06d}") for i in range(n)]
    saved = broker_mod.client_id_plugin
    if not plugin:
        broker_mod.client_id_plugin = lambda exe: (None, "left out for the benchmark")  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            mosq = EmbeddedMosquitto(Path(tmp), port=0, service_password=SERVICE_PASSWORD)
            t0 = time.perf_counter()
            mosq.start(devices)
            start_s = time.perf_counter() - t0
            wait_for_port("127.0.0.1", mosq.port, 30)
            try:
                return _changes(mosq, devices, start_s)
            finally:
                mosq.stop()
    finally:
        broker_mod.client_id_plugin = saved


def _changes(mosq: EmbeddedMosquitto, devices: list[DeviceCredential], start_s: float) -> dict[str, float]:
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
    gaps, accept = [], []
    for _round in range(3):
        arrivals.clear()
        time.sleep(0.3)
        t0 = time.perf_counter()
        mosq.update_devices([*devices, new])
        write_s = time.perf_counter() - t0
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
    return {"start_s": start_s, "write_s": write_s, "stall_ms": statistics.median(gaps) * 1000,
            "accept_ms": statistics.median(accept) * 1000}


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    print(f"{'devices':>8} {'set-up':<22} {'start':>7} {'files':>7} {'stall':>9} {'new device in':>14}")
    for n in sizes:
        for plugin in (True, False):
            if not plugin and n > PER_DEVICE_ACL_MAX:
                print(f"{n:>8} {'per-device ACL file':<22} {'(not run: quadratic reload, see docstring)':>40}")
                continue
            r = measure(n, plugin)
            name = "plugin decides topics" if plugin else "per-device ACL file"
            print(f"{n:>8} {name:<22} {r['start_s']:>6.2f}s {r['write_s']:>6.2f}s {r['stall_ms']:>7.0f}ms "
                  f"{r['accept_ms']:>12.0f}ms", flush=True)


if __name__ == "__main__":
    main()
