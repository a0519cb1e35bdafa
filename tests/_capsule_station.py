"""The station of the capsule round trip (tests/test_capsules.py), run in a network namespace of
its own with no route out:

    unshare --net .venv/bin/python tests/_capsule_station.py WORKDIR --engineering-port PORT

It brings the namespace's loopback up (an ioctl, no ``ip`` tool), proves there is no way out
(no interface but ``lo``, no IPv4 route, connections to public and private addresses fail with
ENETUNREACH, the engineering backend's port on 127.0.0.1 is not reachable from here), then does
what a technician at a plant without network does with a USB stick: starts the station backend,
trusts the engineering key (WORKDIR/engineering.pem), verifies and imports WORKDIR/release.otacap,
creates the devices on the old version, starts the capsule's task draft, lets the simulated
devices upgrade, and exports the evidence pack to WORKDIR/evidence.otaevidence. The station's
public key goes to WORKDIR/station.pem.

Everything it saw is written as JSON to WORKDIR/summary.json (and printed); the outer test
asserts on it. Exit status 0 when every step answered, 1 otherwise (the summary has the error
and the station backend's log tail)."""

from __future__ import annotations

import argparse
import errno
import fcntl
import hashlib
import json
import shutil
import socket
import struct
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import conftest  # noqa: E402 - sandboxes HOME and the keyring like any test run
from tests._ota_helpers import fleet_for, make_devices, records  # noqa: E402
from tests._wait import wait_for  # noqa: E402
from tests.conftest import BackendProcess  # noqa: E402

C = "/api/v1/things/ota/capsule/"
T = "/api/v1/things/ota/task/"
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
IFREQ = "16sH22x"  # struct ifreq on Linux: the name, then the flags (a 24-byte union)


def bring_up_loopback() -> int:
    """``ip link set lo up`` by hand; returns lo's flags afterwards."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack(IFREQ, fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack(IFREQ, b"lo", 0)))[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))
        return struct.unpack(IFREQ, fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack(IFREQ, b"lo", 0)))[1]


def _probe(host: str, port: int, kind: int) -> str:
    """What a connection attempt answers: the errno's name, or "connected"."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.settimeout(3)
        try:
            s.connect((host, port))
            if kind == socket.SOCK_DGRAM:
                s.send(b"\0")
        except TimeoutError:
            return "timeout"
        except OSError as exc:
            return errno.errorcode.get(exc.errno or 0, str(exc))
        return "connected"


def isolation(engineering_port: int) -> dict[str, Any]:
    routes = Path("/proc/net/route").read_text().splitlines()[1:]
    return {
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "ipv4Routes": [ln.split()[:3] for ln in routes if ln.strip()],
        "probes": {
            "udp 1.1.1.1:53": _probe("1.1.1.1", 53, socket.SOCK_DGRAM),
            "tcp 1.1.1.1:443": _probe("1.1.1.1", 443, socket.SOCK_STREAM),
            "tcp 10.0.0.1:80": _probe("10.0.0.1", 80, socket.SOCK_STREAM),
            "tcp 192.168.1.1:80": _probe("192.168.1.1", 80, socket.SOCK_STREAM),
        },
        # the engineering backend listens on this port of the outer namespace's loopback
        "engineeringPort": _probe("127.0.0.1", engineering_port, socket.SOCK_STREAM) if engineering_port else "",
    }


def run(work: Path, devices: int, old_version: str, engineering_port: int, summary: dict[str, Any]) -> None:
    summary["loopbackFlags"] = bring_up_loopback()
    summary["isolation"] = isolation(engineering_port)
    t0 = time.monotonic()
    station = BackendProcess(work / "station").start()
    try:
        api = station.api()
        summary["stationUrl"] = station.base_url
        key = api.ok(C + "key")
        summary["key"] = key
        (work / "station.pem").write_text(key["publicKey"])
        summary["trust"] = api.ok(C + "trust", {"publicKey": (work / "engineering.pem").read_text(),
                                               "name": "Engineering"})
        capsule = (work / "release.otacap").read_bytes()
        summary["verify"] = api.ok(C + "verify", capsule)
        product_id = summary["verify"]["product"]["productID"]
        summary["beforeImport"] = {
            "products": api.ok("/api/v1/things/product/info/index")["total"],
            "firmware": api.ok("/api/v1/things/ota/firmware/index", {"productID": product_id})["total"],
            "drafts": api.ok(T + "draft/index")["total"], "tasks": api.ok(T + "index")["total"]}
        imported = summary["import"] = api.ok(C + "import", capsule)
        summary["afterImport"] = {
            "product": api.ok("/api/v1/things/product/info/read", {"productID": product_id}),
            "firmware": api.ok("/api/v1/things/ota/firmware/read", {"firmwareID": imported["firmwareID"]}),
            "drafts": api.ok(T + "draft/index")["list"], "tasks": api.ok(T + "index")["total"]}
        # the files as a device downloads them from this station
        downloaded = {}
        for f in summary["afterImport"]["firmware"]["files"]:
            r = api.http.get(f["uri"])
            r.raise_for_status()
            downloaded[f["name"]] = hashlib.sha256(r.content).hexdigest()
        summary["downloaded"] = downloaded
        creds = make_devices(api, product_id, devices, version=old_version, prefix="meter")
        with fleet_for(station, creds, version=old_version) as fleet:
            fleet.wait_connected(60)
            started = summary["draftStart"] = api.ok(T + "draft/start", {"draftID": imported["draftID"]})
            summary["afterStart"] = {"drafts": api.ok(T + "draft/index")["total"],
                                     "tasks": api.ok(T + "index")["total"]}
            wait_for(lambda: api.ok(T + "read", {"taskID": started["taskID"]})["status"] == 3, 90, 0.2,
                     "the station's task done")
            summary["fleetVersions"] = sorted({d.version for d in fleet.devices.values()})
        summary["task"] = api.ok(T + "read", {"taskID": started["taskID"]})
        summary["records"] = {name: {"status": r["status"], "wave": r.get("wave")}
                              for name, r in records(api, started["taskUid"]).items()}
        r = api.raw(C + "evidence", {"taskID": started["taskID"]})
        assert r.status_code == 200, (r.status_code, r.text)
        (work / "evidence.otaevidence").write_bytes(r.content)
        summary["evidence"] = {"contentDisposition": r.headers.get("content-disposition", ""),
                               "contentLength": int(r.headers.get("content-length", -1)), "bytes": len(r.content),
                               "id": r.headers.get("x-evidence-id", "")}
        summary["seconds"] = round(time.monotonic() - t0, 2)
        api.close()
    finally:
        station.stop()
        summary["stationErrors"] = [ln for ln in station.lines if "ERROR" in ln or "Traceback" in ln][-20:]
        summary["stationLogTail"] = station.lines[-40:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--devices", type=int, default=20)
    ap.add_argument("--old-version", default="1.0.0")
    ap.add_argument("--engineering-port", type=int, default=0)
    args = ap.parse_args()
    summary: dict[str, Any] = {"ok": False}
    code = 1
    try:
        run(args.workdir, args.devices, args.old_version, args.engineering_port, summary)
        summary["ok"], code = True, 0
    except BaseException as exc:  # noqa: BLE001 - the outer test reads what went wrong from the summary
        summary["error"] = "".join(traceback.format_exception(exc))
    shutil.rmtree(conftest._SANDBOX, ignore_errors=True)
    text = json.dumps(summary, indent=1, default=str)
    (args.workdir / "summary.json").write_text(text)
    print(text)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
