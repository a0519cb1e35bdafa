"""Issue "Field conditions": presence per connection, nothing acknowledged is lost at stop, broker fd limit."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from backend.mqtt.presence import Presence, PresenceTracker

from ._ota_helpers import make_devices, make_product, records, seed_firmware, task_create
from ._wait import wait_for
from .conftest import BackendProcess

TS = "2026-12-03T10:03:18: "


def connect_line(cid: str, user: str, port: int = 50000) -> bytes:
    return f"{TS}New client connected from 127.0.0.1:{port} as {cid} (p2, c1, k60, u'{user}').".encode()


def gone_line(cid: str, how: str = "disconnected") -> bytes:
    if how == "socket":
        return f"{TS}Socket error on client {cid}, disconnecting.".encode()
    return f"{TS}Client {cid} {how}.".encode()


# ---- the tracker, in process -------------------------------------------------------------------

def test_two_connections_of_one_credential_count_and_cross_zero_once():
    t = PresenceTracker()
    assert t.feed_all(connect_line("sub", "P&d")) == [Presence("P", "d", True)]
    assert t.feed_all(connect_line("pub-1", "P&d")) == []  # a second connection: no change
    assert t.connections("P", "d") == 2
    assert t.feed_all(gone_line("pub-1")) == []  # the short one closes: still online
    assert t.online("P", "d")
    assert t.feed_all(connect_line("pub-2", "P&d")) == []
    assert t.feed_all(gone_line("pub-2", "closed its connection")) == []
    assert t.feed_all(gone_line("sub", "has exceeded timeout, disconnecting")) == [Presence("P", "d", False)]
    assert t.feed_all(gone_line("sub")) == []  # once only
    assert not t.online("P", "d") and t.connections("P", "d") == 0


def test_reconnect_under_a_new_client_id_before_the_old_one_timed_out():
    t = PresenceTracker()
    assert t.feed(connect_line("old", "P&d")) == Presence("P", "d", True)
    assert t.feed(connect_line("new", "P&d")) is None
    assert t.feed(gone_line("old", "has exceeded timeout, disconnecting")) is None
    assert t.online("P", "d")
    assert t.feed(gone_line("new", "socket")) == Presence("P", "d", False)


def test_session_takeover_replaces_the_old_connection():
    t = PresenceTracker()
    assert t.feed_all(connect_line("same", "P&d")) == [Presence("P", "d", True)]
    assert t.feed_all(connect_line("same", "P&d")) == []  # same credential, same client id: one connection
    assert t.connections("P", "d") == 1
    # another credential takes the client id over: the broker closed P&d's connection
    assert t.feed_all(connect_line("same", "A&x")) == [Presence("P", "d", False), Presence("A", "x", True)]
    assert t.connections("P", "d") == 0 and t.connections("A", "x") == 1
    # the service user (no device) takes it over: A&x goes offline, nothing comes online
    assert t.feed_all(connect_line("same", "ota-backend")) == [Presence("A", "x", False)]
    assert t.feed_all(gone_line("same")) == []


HOSTILE_IDS = [
    "evil (p2, c1, k60, u'P&d').",
    "x as victim (p2, c1, k60, u'P&d')",
    "u'P&d'",
    "victim",  # the victim's own id, used by another credential: a takeover, not a forgery
    "victim disconnected. Client victim",
    "victim has exceeded timeout, disconnecting",
    "evil\nNew client connected from 1.1.1.1:1 as victim (p2, c1, k60, u'P&d').",
    "evil'), u'P&d')",
    "P&d",
    "a \"quoted\" (paren) id",
]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_a_hostile_client_id_cannot_forge_presence_for_another_credential(hostile):
    t = PresenceTracker()
    assert t.feed_all(connect_line("victim-sub", "P&d")) == [Presence("P", "d", True)]
    seen = t.feed_all(connect_line(hostile, "A&x"))
    assert seen == [Presence("A", "x", True)]  # only the credential it authenticated with
    assert t.connections("P", "d") == 1
    for how in ("disconnected", "closed its connection", "has exceeded timeout, disconnecting", "socket",
                "disconnected due to protocol error", "disconnected, not authorised"):
        t.feed_all(connect_line(hostile, "A&x"))
        t.feed_all(gone_line(hostile, how))
        assert t.online("P", "d"), (hostile, how)
    # lines about a client that never authenticated (or a made-up id) end nothing
    for line in (gone_line("victim-sub", "disconnected, not authorised"), gone_line("<unknown>"),
                 gone_line("P&d"), f"{TS}Client victim-sub disconnected. extra".encode(),
                 b"Client victim-sub disconnected.\n" + gone_line("x"),
                 f"{TS}New client connected from 1.2.3.4:5 as z (p2, c1, k60, u'P&d' ).".encode()):
        t.feed_all(line)
        assert t.online("P", "d") and t.connections("P", "d") == 1, line
    assert t.feed_all(gone_line("victim-sub")) == [Presence("P", "d", False)]


def test_client_id_is_never_a_device_and_unknown_lines_are_ignored():
    t = PresenceTracker()
    assert t.feed_all(connect_line("P&d", "ota-backend")) == []  # no fallback to the client id
    assert t.feed_all(gone_line("P&d")) == []
    assert t.feed_all(b"garbage \xff\xfe") == [] and t.feed_all(b"") == []
    assert t.feed_all(f"{TS}New connection from 127.0.0.1:1 on port 1883.".encode()) == []
    t.feed_all(connect_line("a", "P&d"))
    t.feed_all(connect_line("b", "Q&e"))
    assert sorted(t.reset(), key=lambda p: p.product_id) == [Presence("P", "d", False), Presence("Q", "e", False)]
    assert t.feed_all(gone_line("a")) == []


def test_many_connections_count_exactly():
    t = PresenceTracker()
    changes = []
    for i in range(300):
        changes += t.feed_all(connect_line(f"c{i}", f"P&d{i % 7}"))
    assert sorted(c.device_name for c in changes) == sorted(f"d{i}" for i in range(7))
    changes = []
    for i in range(299, -1, -1):
        changes += t.feed_all(gone_line(f"c{i}"))
        if i >= 7:
            assert not changes
    assert sorted(c.device_name for c in changes) == sorted(f"d{i}" for i in range(7))
    assert all(not c.online for c in changes)


# ---- the broker child's open-file limit --------------------------------------------------------

def test_the_broker_child_gets_a_raised_open_file_limit(tmp_path):
    from backend.mqtt.broker import WANTED_NOFILE, EmbeddedMosquitto
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, soft), hard))  # what many systems give
    try:
        broker = EmbeddedMosquitto(tmp_path, port=0)
        broker.start([])
        try:
            limits = Path(f"/proc/{broker.pid}/limits").read_text()
        finally:
            broker.stop()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
    want = WANTED_NOFILE if hard == resource.RLIM_INFINITY else min(WANTED_NOFILE, hard)
    assert int(line.split()[3]) == want, line


# ---- end to end: the real backend and broker -----------------------------------------------------

def _report(version: str) -> str:
    return json.dumps({"method": "reportInfo", "clientToken": uuid.uuid4().hex[:12],
                       "timestamp": int(time.time() * 1000), "params": {"version": version, "module": "default"}})


class DeviceSub:
    """A device's long-lived subscriber connection (paho) on its down topics."""

    def __init__(self, port: int, cred, client_id: str, keepalive: int = 60):
        self.pushes: list[dict] = []
        self.connected = False
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        c.username_pw_set(f"{cred.product_id}&{cred.device_name}", cred.secret)
        c.on_message = lambda cl, u, m: self.pushes.append(json.loads(m.payload)) if "/upgrade/" in m.topic else None
        c.on_subscribe = lambda *a: setattr(self, "connected", True)
        c.on_connect = lambda cl, *a: cl.subscribe(f"$ota/down/+/{cred.product_id}/{cred.device_name}", 1)
        c.connect("127.0.0.1", port, keepalive=keepalive)
        c.loop_start()
        self.client = c
        wait_for(lambda: self.connected, 10, what="subscriber connected")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _online(api, cred) -> bool:
    return api.ok("/api/v1/things/device/info/read",
                  {"productID": cred.product_id, "deviceName": cred.device_name})["online"]


def _mosquitto_pub(backend, cred, payload: str) -> None:
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(backend.mqtt_port), "-q", "1",
                    "-i", f"pub-{uuid.uuid4().hex[:8]}", "-u", f"{cred.product_id}&{cred.device_name}",
                    "-P", cred.secret, "-t", f"$ota/up/report/{cred.product_id}/{cred.device_name}",
                    "-m", payload], check=True, timeout=20)


def test_device_with_a_subscriber_and_short_lived_publishes_stays_online_and_is_pushed(api, shared_backend):
    pid = make_product(api)
    (cred,) = make_devices(api, pid, 1, prefix="two")
    fw_id, _ = seed_firmware(api, pid)
    sub = DeviceSub(shared_backend.mqtt_port, cred, "sub-" + uuid.uuid4().hex[:8])
    try:
        wait_for(lambda: _online(api, cred), 10, what="online from the subscriber")
        for _ in range(3):  # short-lived connections next to the subscriber
            _mosquitto_pub(shared_backend, cred, _report("0.9.0"))
        time.sleep(0.5)  # their disconnect lines have arrived
        assert _online(api, cred)
        _, uid = task_create(api, fw_id, type=2, deviceList=json.dumps([cred.device_name]))
        assert records(api, uid)[cred.device_name]["status"] in (201, 301)  # online: not waiting in 202
        _mosquitto_pub(shared_backend, cred, _report("0.9.0"))  # the device asks (11.5)
        wait_for(lambda: sub.pushes, 20, what="the upgrade pushed to the subscriber")
        assert sub.pushes[0]["data"]["version"] == "1.0.0"
        assert records(api, uid)[cred.device_name]["status"] == 301
        assert _online(api, cred)
    finally:
        sub.close()
    wait_for(lambda: not _online(api, cred), 10, what="offline once the last connection closed")


def test_reconnect_under_a_new_client_id_before_the_old_timed_out_stays_online(api, shared_backend):
    pid = make_product(api)
    (cred,) = make_devices(api, pid, 1, prefix="re")
    fw_id, _ = seed_firmware(api, pid)
    old = DeviceSub(shared_backend.mqtt_port, cred, "old-" + uuid.uuid4().hex[:8], keepalive=2)
    wait_for(lambda: _online(api, cred), 10, what="online")
    old.client.loop_stop()  # the old connection goes silent, its socket stays open: the broker times it out
    new = DeviceSub(shared_backend.mqtt_port, cred, "new-" + uuid.uuid4().hex[:8])
    try:
        time.sleep(4.5)  # keep-alive 2 s: the broker drops the old connection after 3 s
        assert _online(api, cred)
        _, uid = task_create(api, fw_id, type=2, deviceList=json.dumps([cred.device_name]))
        assert records(api, uid)[cred.device_name]["status"] in (201, 301)
        _mosquitto_pub(shared_backend, cred, _report("0.9.0"))
        wait_for(lambda: new.pushes, 20, what="the upgrade pushed to the new connection")
    finally:
        new.close()
        old.client._sock_close()


STOPS = int(os.environ.get("FIELD_MQTT_STOPS", "10"))  # not OTA_*: conftest clears those
DEVICES = 200


def test_reports_in_flight_at_a_graceful_stop_are_all_applied_after_restart(tmp_path):
    bp = BackendProcess(tmp_path / "stops").start()
    api = bp.api()
    pid = make_product(api)
    creds = make_devices(api, pid, DEVICES, version="0.0.1", prefix="s")
    api.close()
    missing_total, pubacked_total = 0, 0
    try:
        for round_no in range(1, STOPS + 1):
            version = f"1.{round_no}.0"
            pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"stop-pub-{round_no}", protocol=paho.MQTTv311)
            url = bp.service_mqtt_url
            pub.username_pw_set("ota-backend", url.split(":")[2].split("@")[0])
            pub.max_inflight_messages_set(DEVICES)
            pub.connect("127.0.0.1", bp.mqtt_port)
            pub.loop_start()
            infos = [pub.publish(f"$ota/up/report/{pid}/{c.device_name}", _report(version), qos=1) for c in creds]
            for info in infos:
                info.wait_for_publish(20)  # the broker acknowledged every report
            pubacked_total += sum(info.is_published() for info in infos)
            pub.disconnect()
            pub.loop_stop()
            assert bp.stop("term") == 0  # SIGTERM right away, mid-batch
            bp.lines.clear()
            bp.start()
            api = bp.api()

            def behind() -> list[str]:
                rows = api.ok("/api/v1/things/device/info/index",  # noqa: B023  (called within this iteration only)
                              {"productID": pid, "page": {"page": 1, "size": 1000}})["list"]
                return [r["deviceName"] for r in rows if r["version"] != version]  # noqa: B023  (called within this iteration only)
            try:
                wait_for(lambda: not behind(), 30, what=f"every report of stop {round_no} applied")
            except AssertionError:
                missing_total += len(behind())
                raise
            finally:
                api.close()
    finally:
        bp.stop()
    assert pubacked_total == STOPS * DEVICES and missing_total == 0


# ---- the dispatcher: acknowledge only what is applied, keep a systemic failure ---------------------

def _up(name: str, version: str = "1.0.0") -> tuple[str, bytes]:
    return f"$ota/up/report/P/{name}", _report(version).encode()


class Acks:
    def __init__(self) -> None:
        self.done: list[str] = []

    def __call__(self, name: str):
        return lambda: self.done.append(name)


def test_a_systemic_failure_keeps_the_batch_and_acknowledges_after_it_applied(monkeypatch):
    from backend.mqtt import dispatcher as dm
    monkeypatch.setattr(dm, "RETRY_FIRST_DELAY_S", 0.05)
    applied, outage = [], {"left": 4}

    def handle(msgs):
        if outage["left"] > 0:
            outage["left"] -= 1
            raise ConnectionError("database is down")
        applied.extend(m.device_name for m in msgs)

    acks = Acks()
    d = dm.Dispatcher(handle, lambda t, p: None)
    for name in ("a", "b", "c"):
        d.on_message(*_up(name), ack=acks(name))
    d.on_message("$ota/up/report/P/bad", b"{not json", ack=acks("bad"))  # refused: acknowledged at once
    d.start()
    try:
        assert d.drain(10)
        assert sorted(applied) == ["a", "b", "c"] and sorted(acks.done) == ["a", "b", "bad", "c"]
        assert d.failed == 0 and d.retries >= 1 and d.rejected == 1 and d.alive
    finally:
        d.stop()


def test_a_message_refused_by_the_engine_while_others_apply_is_acknowledged_once():
    from backend.mqtt import dispatcher as dm
    applied = []

    def handle(msgs):
        if any(m.device_name == "poison" for m in msgs):
            raise OverflowError("this message, every time")
        applied.extend(m.device_name for m in msgs)

    acks = Acks()
    d = dm.Dispatcher(handle, lambda t, p: None)
    for name in ("a", "poison", "b"):
        d.on_message(*_up(name), ack=acks(name))
    d.start()
    try:
        assert d.drain(10)
        assert sorted(applied) == ["a", "b"] and sorted(acks.done) == ["a", "b", "poison"] and d.failed == 1
    finally:
        d.stop()


def test_stop_during_an_outage_leaves_messages_unacknowledged_within_its_deadline(monkeypatch):
    from backend.mqtt import dispatcher as dm
    monkeypatch.setattr(dm, "RETRY_FIRST_DELAY_S", 0.05)

    def handle(msgs):
        raise ConnectionError("database is down")

    acks = Acks()
    d = dm.Dispatcher(handle, lambda t, p: None)
    for i in range(20):
        d.on_message(*_up(f"d{i}"), ack=acks(f"d{i}"))
    d.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    d.stop(timeout=1.0)
    assert time.monotonic() - t0 < 3.5 and not d._thread.is_alive()
    assert acks.done == [] and d.unacked_at_stop == 20 and d.failed == 0


def test_stop_applies_everything_queued_before_it_ends():
    from backend.mqtt import dispatcher as dm
    applied = []
    acks = Acks()
    d = dm.Dispatcher(lambda msgs: (time.sleep(0.01), applied.extend(msgs)), lambda t, p: None)
    d.start()
    for i in range(2000):
        d.on_message(*_up(f"d{i}"), ack=acks(f"d{i}"))
    d.stop()
    assert len(applied) == 2000 and len(acks.done) == 2000
