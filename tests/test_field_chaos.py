"""Our own outages in the middle of a rollout never strand or fail a device.

A fleet of simulated devices downloads through the object proxy while the backend is killed
with SIGKILL (broker and object store die with it) and restarted on the same ports, or while
the object store is killed or frozen. The task has no retries (retryCount 0): every device
must still end on the new version, with exactly one record each, no retry spent, and no push
to a device that had already succeeded. SQLite only: the database kind is not the point here.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

import psutil
import pytest

from devsim import SimOptions
from devsim.device import Device

from ._ota_helpers import fleet_for, make_devices, make_product, records, seed_firmware, task_create
from ._wait import wait_for
from .conftest import BackendProcess

DEVICES = int(os.environ.get("CHAOS_DEVICES", "150"))  # not OTA_*: conftest clears those
pytestmark = pytest.mark.timeout(420)


@pytest.fixture
def pushes_after_success(monkeypatch):
    """Device -> number of upgrade pushes it received while already done with that version."""
    late: Counter[str] = Counter()
    lock = threading.Lock()
    original = Device.on_push

    def on_push(self, push):
        att = self.attempt
        if att is not None and att.outcome == "succeeded" and self.version == push.version:
            with lock:
                late[self.name] += 1
        return original(self, push)

    monkeypatch.setattr(Device, "on_push", on_push)
    return late


def start_rollout(tmp_path, sizes=(3_000_000, 2_000_000)):
    bp = BackendProcess(tmp_path / "b").start()
    api = bp.api()
    pid = make_product(api)
    creds = make_devices(api, pid, DEVICES)
    fw, _ = seed_firmware(api, pid, sizes=sizes)
    fleet = fleet_for(bp, creds, options=SimOptions(flash_seconds=0.2, reconnect_delay=0.5, download_workers=32))
    fleet.start()
    wait_for(lambda: sum(d.connected for d in fleet.devices.values()) == DEVICES, 60, what="fleet online")
    _task_id, uid = task_create(api, fw, retryCount=0, timeoutMinutes=60)
    return bp, api, fleet, uid


def done_count(api, uid: str) -> int:
    return sum(r["status"] == 501 for r in records(api, uid).values())


def assert_every_device_upgraded(bp, api, fleet, uid, late) -> dict:
    api = bp.api()  # a new client for the restarted backend
    started = time.monotonic()
    seen: dict = {}

    def all_done():
        seen["r"] = records(api, uid)
        return seen["r"] if sum(x["status"] == 501 for x in seen["r"].values()) == DEVICES else None
    try:
        final = wait_for(all_done, 120, 1.0, "every record succeeded")
    except AssertionError:
        left = [(n, r["status"], r["step"], r["desc"], r["retryCount"]) for n, r in seen.get("r", {}).items()
                if r["status"] != 501]
        devs = {n: (d.version, d.status, d.connected, len(d.pushes), d.progress[-3:])
                for n, d in fleet.devices.items() if n in {x[0] for x in left[:5]}}
        first = left[0][0] if left else ""
        lines = [ln.strip() for ln in bp.log.splitlines() if f"/{first})" in ln or f"/{first}:" in ln][-8:]
        raise AssertionError(f"{len(left)} records not done, e.g. {left[:5]}; devices {devs}; log {lines}") from None
    recovery = time.monotonic() - started
    assert len(final) == DEVICES  # one record per device, none lost, none duplicated
    assert all(r["retryCount"] == 0 for r in final.values()), "an outage of ours spent a retry"
    on_target = [d for d in fleet.devices.values() if d.version == "1.0.0"]
    assert len(on_target) == DEVICES
    assert sum(late.values()) == 0, f"pushed again after success: {dict(late)}"
    failed_on_device = sum(any(step < 0 for _, step, _ in d.progress) for d in fleet.devices.values())
    return {"recovery_s": recovery, "device_failures": failed_on_device}


def store_process(bp: BackendProcess) -> psutil.Process:
    kids = psutil.Process(bp.proc.pid).children(recursive=True)
    return next(p for p in kids if "nanio" in " ".join(p.cmdline()))


def test_backend_killed_at_40_percent_of_a_rollout(tmp_path, pushes_after_success):
    bp, api, fleet, uid = start_rollout(tmp_path)
    try:
        wait_for(lambda: done_count(api, uid) >= DEVICES * 0.4, 120, 0.2, "40% done")
        bp.stop(sig="kill")
        time.sleep(1.0)
        bp.start()
        figures = assert_every_device_upgraded(bp, api, fleet, uid, pushes_after_success)
        print(f"\nkill -9 at 40% of {DEVICES}: all upgraded {figures['recovery_s']:.1f} s after restart, "
              f"{figures['device_failures']} devices had reported a failure")
        assert figures["device_failures"] > 0, "the outage hit no download: the test proved nothing"
    finally:
        fleet.stop()
        bp.stop()


@pytest.mark.parametrize("fault", ["kill-store", "stop-store-20s"])
def test_object_store_outage_during_a_rollout(tmp_path, pushes_after_success, fault):
    bp, api, fleet, uid = start_rollout(tmp_path)
    try:
        wait_for(lambda: done_count(api, uid) >= DEVICES * 0.3, 120, 0.2, "30% done")
        store = store_process(bp)
        if fault == "kill-store":
            store.send_signal(signal.SIGKILL)  # the backend's supervisor starts it again
        else:
            store.send_signal(signal.SIGSTOP)
            time.sleep(20)
            store.send_signal(signal.SIGCONT)
        figures = assert_every_device_upgraded(bp, api, fleet, uid, pushes_after_success)
        print(f"\n{fault} at 30% of {DEVICES}: all upgraded {figures['recovery_s']:.1f} s later, "
              f"{figures['device_failures']} devices had reported a failure")
        if fault == "kill-store":  # a stopped store may only stall downloads (they resume): no failure needed
            assert figures["device_failures"] > 0, "the outage hit no download: the test proved nothing"
    finally:
        fleet.stop()
        bp.stop()
