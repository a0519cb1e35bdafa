"""Benchmark: ingestion, N devices × (10 progress messages + 1 version report) applied end to end.

Starts the real backend (embedded Mosquitto + object store, SQLite or ``--database-url`` /
``--postgres``, a temporary data dir), imports N devices and connects them from this process
(one paho client per device credential, one selector thread, as ``dispatch.py`` does: the
device ACL lets a device publish on its own topics only). Each device subscribes (QoS 1) to
its upgrade and progress-acknowledgement topics. Each run:

1. a task for a new firmware is created; every device gets its push (the record id), so every
   record is in progress (301);
2. ours: from the first publish, every device publishes 10 progress messages (steps 10..100)
   and one version report with the target version, QoS 1, as fast as this process can; the
   figure is the time until the API shows every record succeeded (task ``analysis``), then
   every record and device is checked through the API (status 501, step 100, versions), and
   every progress message must have been acknowledged (acks are sent after apply);
3. raw: a plain paho publisher (a separate process, service credentials) pushes the same
   number of messages of the same size through the same broker to one paho subscriber (another
   process: this one's N device sockets have numbers ``select()`` cannot watch).

    .venv/bin/python benchmarks/ingestion.py [--devices 10000] [--runs 3] [--quick] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import psutil
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _backend import BenchBackend, line_reader, next_line  # noqa: E402
from _report import Figure, add_common_args, emit  # noqa: E402
from broker_connect_storm import _pump, connect_many  # noqa: E402
from dispatch import PRODUCT, TOKEN, Api, cpu_s, wait_credentials  # noqa: E402

from ota_protocol.device import progress_report, version_report  # noqa: E402

PROGRESS = 10  # progress messages per device and run
RAW_TOPIC = "bench/raw"


# ---- a throw-away PostgreSQL cluster (as tests/conftest.py starts one) -------------------
class Postgres:
    def __init__(self, root: Path):
        from backend.procs import free_port
        bindir = next((b for b in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
                       if (b / "initdb").exists()), None)
        if bindir is None and shutil.which("initdb"):
            bindir = Path(str(shutil.which("initdb"))).parent
        if bindir is None:
            raise SystemExit("--postgres: initdb not found (install postgresql)")
        self.bindir, self.root, self.port = bindir, root, free_port()
        self.as_user = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *args] if self.as_user else list(args)
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/", text=True)
        if r.returncode:
            raise SystemExit(f"{' '.join(args[:1])} failed ({r.returncode}): {r.stderr.strip()[-500:]}")

    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.root, "postgres")
            os.chmod(self.root.parent, 0o711)  # mkdtemp's 0700: user postgres must reach its directory
        data = self.root / "pgdata"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", "ota", "-A", "trust", "-E", "UTF8")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(self.root / "pg.log"),
                  "-o", f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off", "start")
        import psycopg
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=ota dbname=postgres", autocommit=True) as c:
            c.execute('CREATE DATABASE "ota_bench"')
        return f"postgresql+psycopg://ota@127.0.0.1:{self.port}/ota_bench"

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "pgdata"), "-m", "immediate", "stop")
        except SystemExit:
            pass


# ---- the devices ----------------------------------------------------------------------
class Devices:
    """N device connections pumped by one thread: pushes (record ids) and progress acks counted."""

    def __init__(self, clients: list[paho.Client], sel: selectors.BaseSelector):
        self.clients, self.sel = clients, sel
        self.by_name = {c._userdata: c for c in clients}
        self.record: dict[str, int] = {}  # device -> record id of the current run's push
        self.version = ""
        self.acks_ok = self.acks_bad = 0
        self.lost_connections = 0
        self.pushes = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # paho clients are used by the pump thread and the publisher
        for c in clients:
            c.on_message = self._on_message
        self._thread = threading.Thread(target=self._run, name="devices", daemon=True)

    def _on_message(self, c: paho.Client, device: Any, msg: paho.MQTTMessage) -> None:
        if "/progress/" in msg.topic:
            if b'"code":200,' in msg.payload or b'"code": 200,' in msg.payload:
                self.acks_ok += 1
            else:
                self.acks_bad += 1
            return
        d = json.loads(msg.payload)["data"]
        if d["version"] == self.version:
            self.record[device] = d["id"]
            if len(self.record) >= len(self.clients):
                self.pushes.set()

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        last_sweep = time.monotonic()
        while not self._stop.is_set():
            events = self.sel.select(0.05)
            with self._lock:
                for key, _ in events:
                    c = key.data
                    c.loop_read()
                    if c.socket() is None:
                        self.sel.unregister(key.fd)
                        self.lost_connections += 1
                    elif c.want_write():
                        c.loop_write()
                now = time.monotonic()
                if now - last_sweep >= 2.0:
                    last_sweep = now
                    for c in self.clients:
                        if c.socket() is not None:
                            c.loop_misc()
                            if c.want_write():
                                c.loop_write()

    def publish_all(self, version: str) -> float:
        """Every device's 10 progress messages and its version report; returns t0 (first publish)."""
        work = []
        for name, c in self.by_name.items():
            rid = self.record[name]
            msgs = [(f"$ota/up/progress/{PRODUCT}/{name}", progress_report(f"{name}-p{s}", rid, s * 10, "downloading"))
                    for s in range(1, PROGRESS + 1)]
            msgs.append((f"$ota/up/report/{PRODUCT}/{name}", version_report(f"{name}-r", version, rid)))
            work.append((c, msgs))
        t0 = time.monotonic()
        for i in range(0, len(work), 200):
            with self._lock:
                for c, msgs in work[i:i + 200]:
                    for topic, payload in msgs:
                        c.publish(topic, payload, qos=1)
                    c.loop_write()
        return t0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for c in self.clients:
            c._sock_close()
        self.sel.close()


def connect_devices(port: int, creds: list[tuple[str, str]], deadline_s: float) -> Devices:
    fleet = [(f"{PRODUCT}&{d}", f"{PRODUCT}&{d}", secret) for d, secret in creds]
    clients, acked, failures, sel = connect_many(port, fleet, deadline_s)
    if len(acked) < len(creds):
        raise SystemExit(f"only {len(acked)}/{len(creds)} devices connected (TCP connect failures {failures})")
    subscribed: set[str] = set()

    def on_subscribe(_c: paho.Client, device: Any, _mid: int, codes: list[ReasonCode], _p: Properties | None) -> None:
        if codes and not any(code.is_failure for code in codes):
            subscribed.add(device)
    for c in clients:
        device = c._client_id.decode().split("&", 1)[1]
        c.user_data_set(device)
        c.on_subscribe = on_subscribe
        c.subscribe([(f"$ota/down/upgrade/{PRODUCT}/{device}", 1), (f"$ota/down/progress/{PRODUCT}/{device}", 1)])
    end = time.monotonic() + deadline_s
    while len(subscribed) < len(clients) and time.monotonic() < end:
        _pump(sel, clients, 0.05)
    if len(subscribed) < len(clients):
        raise SystemExit(f"only {len(subscribed)}/{len(clients)} devices subscribed")
    return Devices(clients, sel)


# ---- the raw baseline: a paho publisher process, a paho subscriber here ------------------------
def raw_publisher(spec_file: str) -> int:
    spec = json.loads(Path(spec_file).read_text())
    connected = threading.Event()
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="ota-backend-bench-rawpub", protocol=paho.MQTTv311)
    c.username_pw_set(spec["user"], spec["password"])
    c.max_inflight_messages_set(spec["inflight"])
    c.max_queued_messages_set(0)
    c.on_connect = lambda *_a: connected.set()
    c.connect("127.0.0.1", spec["port"], keepalive=60)
    c.loop_start()
    try:
        if not connected.wait(15):
            return 1
        payload = spec["payload"].encode()
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 1
        # at most `window` unacknowledged: paho has 65,535 packet ids, and refuses a publish whose
        # id is still in use (ERR_QUEUE_SIZE) when more are queued
        window = threading.Semaphore(spec["window"])
        c.on_publish = lambda *_a: window.release()
        end = time.monotonic() + spec["deadline"]
        for _ in range(spec["count"]):
            if not window.acquire(timeout=max(0.0, end - time.monotonic())):
                return 1
            if c.publish(RAW_TOPIC, payload, qos=1).rc not in (0,):
                return 1
        for _ in range(spec["window"]):  # every one acknowledged
            if not window.acquire(timeout=max(0.0, end - time.monotonic())):
                return 1
        print("done", flush=True)
        return 0
    finally:
        c.disconnect()
        c.loop_stop()


def raw_subscriber(spec_file: str) -> int:
    """A separate process: this one holds N device sockets, whose numbers are beyond what
    ``select()`` (paho's ``loop_start``) takes, so a paho thread here never got its SUBACK."""
    spec = json.loads(Path(spec_file).read_text())
    count = spec["count"]
    got = [0, 0.0]
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(_c: paho.Client, _u: Any, _m: paho.MQTTMessage) -> None:
        got[0] += 1
        if got[0] >= count:
            got[1] = time.monotonic()  # CLOCK_MONOTONIC: comparable across processes on Linux
            done.set()
    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id="ota-backend-bench-rawsub", protocol=paho.MQTTv311)
    sub.username_pw_set(spec["user"], spec["password"])
    sub.on_message = on_message
    refused: list[str] = []

    def on_connect(c: paho.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            refused.append(str(rc))
        else:
            c.subscribe(RAW_TOPIC, qos=1)
    sub.on_connect = on_connect
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.connect("127.0.0.1", spec["port"], keepalive=60)
    sub.loop_start()
    try:
        if not subscribed.wait(60):
            print(f"no SUBACK within 60 s (CONNACK refusals: {refused})", flush=True)
            return 1
        print("subscribed", flush=True)
        if not done.wait(spec["deadline"]):
            print(f"got {got[0]}/{count}", flush=True)
            return 1
        print(f"done {got[1]!r}", flush=True)
        return 0
    finally:
        sub.disconnect()
        sub.loop_stop()


def measure_raw(port: int, password: str, count: int, payload: bytes, tmp: Path, deadline: float) -> float:
    spec = tmp / "raw-spec.json"
    spec.write_text(json.dumps({"port": port, "user": "ota-backend", "password": password, "inflight": 100, "window": 1000,
                                "count": count, "payload": payload.decode(), "deadline": deadline}))
    sub = subprocess.Popen([sys.executable, __file__, "--raw-subscriber", str(spec)], cwd=ROOT,
                           stdout=subprocess.PIPE, text=True)
    pub = subprocess.Popen([sys.executable, __file__, "--raw-publisher", str(spec)], cwd=ROOT,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert pub.stdin is not None and pub.stdout is not None and sub.stdout is not None  # PIPEs
    try:
        sub_lines = line_reader(sub.stdout)
        first = next_line(sub_lines, 70, "raw subscriber subscribed").strip()
        if first != "subscribed":
            raise SystemExit(f"raw subscriber: {first}")
        lines = line_reader(pub.stdout)
        if next_line(lines, 30, "raw publisher ready").strip() != "ready":
            raise SystemExit("raw publisher did not start")
        t0 = time.monotonic()
        pub.stdin.write("go\n")
        pub.stdin.flush()
        last = next_line(sub_lines, deadline + 5, "raw subscriber done").strip()
        if not last.startswith("done "):
            raise SystemExit(f"raw: {last} within {deadline:.0f} s")
        return count / (float(last.split()[1]) - t0)
    finally:
        pub.stdin.close()
        for p in (pub, sub):
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


# ---- checks through the API -------------------------------------------------------------
def succeeded(api: Api, task_uid: str) -> int:
    d = api.ok("/api/v1/things/ota/task/analysis", {"taskUid": task_uid})
    return int(json.loads(d["result"])["succeeded"])


def check_final(api: Api, task_uid: str, version: str, records: dict[str, int]) -> list[str]:
    """Every record succeeded (501, step 100, version = target) and every device on ``version``."""
    problems: list[str] = []
    seen = 0
    page = 1
    while True:
        d = api.ok("/api/v1/things/ota/task/device-index", {"taskUid": task_uid, "page": {"page": page, "size": 1000}})
        for r in d["list"]:
            seen += 1
            if (r["status"], r["step"], r["version"], r["targetVersion"]) != (501, 100, version, version) \
                    or records.get(r["deviceName"]) != r["id"]:
                problems.append(f"record {r['id']} of {r['deviceName']}: {r}")
        if not d["list"] or seen >= d["total"]:
            break
        page += 1
    if seen != len(records):
        problems.append(f"{seen} records, expected {len(records)}")
    page, devices = 1, 0
    while True:
        d = api.ok("/api/v1/things/device/info/index", {"productID": PRODUCT, "page": {"page": page, "size": 1000}})
        for x in d["list"]:
            devices += 1
            if x["version"] != version:
                problems.append(f"device {x['deviceName']} on {x['version']}")
        if not d["list"] or devices >= d["total"]:
            break
        page += 1
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--database-url", default="", help="PostgreSQL URL (default: SQLite in the data dir)")
    ap.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL cluster (initdb + pg_ctl)")
    ap.add_argument("--deadline", type=float, default=120.0, help="seconds per wait")
    ap.add_argument("--raw-publisher", metavar="SPEC", help=argparse.SUPPRESS)
    ap.add_argument("--raw-subscriber", metavar="SPEC", help=argparse.SUPPRESS)
    add_common_args(ap)
    args = ap.parse_args()
    if args.raw_publisher:
        return raw_publisher(args.raw_publisher)
    if args.raw_subscriber:
        return raw_subscriber(args.raw_subscriber)
    n = 400 if args.quick and args.devices == 10000 else args.devices
    runs = 1 if args.quick else args.runs
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < n + 500:
        raise SystemExit(f"open files hard limit {hard} < {n + 500}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n + 500), hard))

    tmp = Path(tempfile.mkdtemp(prefix="ota-ingestion-"))
    pg = Postgres(tmp / "pg") if args.postgres else None
    url = pg.start() if pg is not None else args.database_url
    try:
        bench = BenchBackend(tmp, TOKEN, database_url=url, deadline=args.deadline)
    except BaseException:
        if pg is not None:
            pg.stop()
        raise
    data, mqtt_port = tmp / "data", bench.mqtt_port
    devs: Devices | None = None
    api: Api | None = None
    ours: list[float] = []
    raws: list[float] = []
    notes: list[str] = []
    try:
        api = Api(bench.base)
        backend = psutil.Process(bench.proc.pid)
        api.ok("/api/v1/things/product/info/create", {"productID": PRODUCT, "productName": PRODUCT})
        creds: list[tuple[str, str]] = []
        for i in range(0, n, 5000):
            batch = [{"deviceName": f"dev{k:05d}", "version": "0.9.0"} for k in range(i + 1, min(n, i + 5000) + 1)]
            creds += [(d["deviceName"], d["deviceSecret"])
                      for d in api.ok("/api/v1/things/device/info/import", {"productID": PRODUCT, "devices": batch})["list"]]
        wait_credentials(mqtt_port, creds[-1][0], creds[-1][1], args.deadline)
        t = time.monotonic()
        devs = connect_devices(mqtt_port, creds, args.deadline)
        devs.start()
        print(f"{n} devices imported, connected and subscribed in {time.monotonic() - t:.1f} s", flush=True)
        end = time.monotonic() + args.deadline
        while api.online_count()[0] < n:
            if time.monotonic() > end:
                raise SystemExit("not every device is online")
            time.sleep(0.3)
        password = (data / "mqtt-service-password").read_text().strip()
        total = n * (PROGRESS + 1)
        for run in range(1, runs + 1):
            version = f"1.{run}.0"
            files = []
            for name in ("xx.zip", "xx2.zip"):
                d = api.ok("/api/v1/system/common/upload-url/create",
                           {"business": "productManage", "scene": "ota", "filePath": f"bench/{name}", "rename": True})
                if api.http.put(d["uploadUri"], content=os.urandom(1024)).status_code != 200:
                    raise SystemExit("upload failed")
                files.append({"filePath": d["filePath"], "name": name})
            fw = api.ok("/api/v1/things/ota/firmware/create", {"name": f"bench {version}", "productID": PRODUCT,
                                                                "version": version, "files": files})["firmwareID"]
            devs.version, devs.record = version, {}
            devs.pushes.clear()
            devs.acks_ok = devs.acks_bad = 0
            task = api.ok("/api/v1/things/ota/task/create", {"firmwareID": fw, "type": 1, "upgradeType": 1,
                                                             "deviceList": "", "versionList": ""})
            uid = api.ok("/api/v1/things/ota/task/read", {"taskID": task["taskID"]})["taskUid"]
            if not devs.pushes.wait(args.deadline):
                raise SystemExit(f"run {run}: {len(devs.record)}/{n} pushes")
            cpu0 = cpu_s(backend)
            t0 = devs.publish_all(version)
            t_pub = time.monotonic() - t0
            while succeeded(api, uid) < n:
                if time.monotonic() - t0 > args.deadline:
                    raise SystemExit(f"run {run}: {succeeded(api, uid)}/{n} records succeeded after {args.deadline:.0f} s")
                time.sleep(0.1)
            took = time.monotonic() - t0
            cpu = cpu_s(backend) - cpu0
            ack_end = time.monotonic() + 10
            while devs.acks_ok + devs.acks_bad < n * PROGRESS and time.monotonic() < ack_end:
                time.sleep(0.05)
            problems = check_final(api, uid, version, devs.record)
            if devs.acks_ok != n * PROGRESS or devs.acks_bad:
                problems.append(f"progress acks: {devs.acks_ok} ok, {devs.acks_bad} errors, expected {n * PROGRESS} ok")
            if problems:
                raise SystemExit(f"run {run}: {len(problems)} problems, the first: " + "; ".join(problems[:5]))
            ours.append(total / took)
            print(f"run {run}: {total} messages published in {t_pub:.2f} s, all applied and visible after {took:.2f} s "
                  f"({total / took:,.0f} msg/s; backend CPU {cpu:.1f} s); records and devices correct", flush=True)
            raw = measure_raw(mqtt_port, password, total, progress_report("dev00001-p10", 123456, 100, "downloading"),
                              tmp, args.deadline)
            raws.append(raw)
            print(f"run {run}: raw paho publisher → one subscriber: {raw:,.0f} msg/s", flush=True)
        db = "PostgreSQL" if url else "SQLite"
        notes.append(f"{db}; all records 501 and devices on the target checked through the API; "
                     f"every progress message acknowledged")
        emit([Figure(f"ingestion: messages applied and visible ({db})", f"{n:,} devices × {PROGRESS + 1} messages",
                     runs=ours, unit="msg/s", goal="≥ 5,000 msg/s", met=sorted(ours)[len(ours) // 2] >= 5000,
                     baseline="raw paho publisher → one subscriber, same broker", baseline_runs=raws,
                     note="; ".join(notes))], args.json)
        return 0
    finally:
        if devs is not None:
            devs.stop()
        if api is not None:
            api.http.close()
        bench.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
