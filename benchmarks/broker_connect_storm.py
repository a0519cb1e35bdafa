"""How fast a new client gets its CONNACK from the embedded Mosquitto while a fleet is connected.

Starts ``EmbeddedMosquitto`` (the backend's own configuration) with N device credentials,
connects N paho clients from this one process (one selector thread, no paho threads), then
connects one client with the service credentials and times its CONNACK. Bounded: every phase
has a deadline, everything is closed at the end.

    .venv/bin/python benchmarks/broker_connect_storm.py --devices 3000
    .venv/bin/python benchmarks/broker_connect_storm.py --devices 3000 --broker-nofile 1024   # the field

``--broker-nofile`` starts the broker with that soft open-file limit (what a child inherited
before the broker raised it itself, e.g. under a 1024 ``ulimit -n``).
"""

from __future__ import annotations

import argparse
import resource
import selectors
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from backend.mqtt import broker as broker_module
from backend.mqtt.broker import DeviceCredential, EmbeddedMosquitto


def child_nofile(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return " ".join(line.split()[3:5])
    return "?"


def connect_many(port: int, creds: list[tuple[str, str, str]],
                 deadline_s: float) -> tuple[list[paho.Client], dict[str, float], int, selectors.BaseSelector]:
    """Connect every (client id, user, password); returns (clients, client id -> CONNACK seconds,
    failures, the selector they are registered with)."""
    sel = selectors.DefaultSelector()
    acked: dict[str, float] = {}
    clients: list[paho.Client] = []
    failures = 0
    t0 = time.monotonic()
    for cid, user, pw in creds:
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=paho.MQTTv311)
        c.username_pw_set(user, pw)

        def on_connect(_cl: paho.Client, _u: Any, _f: paho.ConnectFlags, rc: ReasonCode, _p: Properties | None,
                       cid: str = cid) -> None:
            if not rc.is_failure:
                acked.setdefault(cid, time.monotonic() - t0)
        c.on_connect = on_connect
        c._connect_timeout = 2.0
        try:
            c.connect("127.0.0.1", port, keepalive=300)
        except OSError:
            failures += 1
            continue
        clients.append(c)
        sock = c.socket()
        assert sock is not None  # connect() returned: the socket is open
        sel.register(sock.fileno(), selectors.EVENT_READ, c)
        _pump(sel, clients, 0)
        if time.monotonic() - t0 > deadline_s:
            break
    end = t0 + deadline_s
    while len(acked) < len(clients) and time.monotonic() < end:
        _pump(sel, clients, 0.05)
    return clients, acked, failures, sel


def _pump(sel, clients, timeout: float) -> None:  # noqa: ANN001
    for key, _ in sel.select(timeout):
        key.data.loop_read()
        if key.data.socket() is None:  # closed by the broker: paho closed the socket
            sel.unregister(key.fd)
    for c in clients:
        if c.want_write():
            c.loop_write()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=3000)
    ap.add_argument("--broker-nofile", type=int, default=0, help="soft RLIMIT_NOFILE for the broker (0: its own)")
    ap.add_argument("--deadline", type=float, default=60.0, help="seconds per phase")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.devices + 500)), hard))
    if args.broker_nofile:
        def limited() -> None:
            broker_module.die_with_parent()
            resource.setrlimit(resource.RLIMIT_NOFILE, (args.broker_nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        broker_module._broker_preexec = limited
    creds = [DeviceCredential("bench", f"d{i:05d}", f"secret-{i}") for i in range(args.devices)]
    with tempfile.TemporaryDirectory() as tmp:
        broker = EmbeddedMosquitto(Path(tmp), port=0, service_password="svc-pw")
        t = time.monotonic()
        broker.start(creds)
        pid = broker.pid
        assert pid is not None  # started
        print(f"broker pid {pid}, open files limit (soft hard) {child_nofile(pid)}, "
              f"{args.devices} credentials written and started in {time.monotonic() - t:.2f}s")
        try:
            service = [("svc-before", "ota-backend", "svc-pw")]
            cl, acked, _, _sel = connect_many(broker.port, service, 10)
            print(f"service client before the fleet: CONNACK after {acked.get('svc-before', float('nan')):.3f}s")
            for c in cl:
                c.disconnect()
                c.loop_write()
                c._sock_close()
            fleet = [(f"bench-{c.device_name}", f"{c.product_id}&{c.device_name}", c.secret) for c in creds]
            t = time.monotonic()
            clients, acked, failures, _fsel = connect_many(broker.port, fleet, args.deadline)
            took = time.monotonic() - t
            times = sorted(acked.values())
            p = (lambda q: times[min(len(times) - 1, int(q * len(times)))]) if times else (lambda q: float("nan"))
            print(f"fleet: {len(acked)}/{args.devices} CONNACKed in {took:.2f}s "
                  f"(TCP connect failures {failures}; CONNACK p50 {p(0.5):.3f}s p99 {p(0.99):.3f}s)")
            t = time.monotonic()
            cl2, acked2, fail2, _ = connect_many(broker.port, [("svc-after", "ota-backend", "svc-pw")], 30)
            wait = acked2.get("svc-after")
            print("service client with the fleet connected: "
                  + (f"CONNACK after {wait:.3f}s" if wait is not None else
                     f"NO CONNACK within 30 s (TCP connect failed: {bool(fail2)})"))
            for c in clients + cl2:
                c._sock_close()
        finally:
            broker.stop()
            tail = broker._log_tail(3)
        if "ulimit" in tail or "socket count" in tail:
            print("broker log:", tail.splitlines()[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
