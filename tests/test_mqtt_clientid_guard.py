"""The client id guard: the broker plugin ota_clientid.so against a real embedded Mosquitto.

A device may use only client ids of its own credential (``P&d``, ``P&d&...``) or free ids
without ``&``; ids starting with ``ota-backend`` belong to the service user, and a live connection
that has subscribed or published owns its id until it disconnects. Without the plugin
a device connecting with another device's client id makes the broker close that device's
connection (session takeover). The password file and the ACL still decide everything else.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from backend.mqtt import broker as broker_mod
from backend.mqtt import plugin_build
from backend.mqtt.broker import DeviceCredential, EmbeddedMosquitto, find_mosquitto
from backend.mqtt.link import _close_wakeup_sockets
from backend.mqtt.presence import PresenceTracker
from tests._mqtt_fixtures import MQTT_MARKS, SERVICE_PASSWORD, TestClient, connect_result
from tests._wait import wait_for

pytestmark = MQTT_MARKS

A = DeviceCredential("P", "a", "secret-a")
B = DeviceCredential("P", "b", "secret-b")
USER_A, USER_B = "P&a", "P&b"


@pytest.fixture
def guarded(tmp_path):
    """An embedded broker with devices P&a and P&b; skips when the plugin is not available here."""
    mosq = EmbeddedMosquitto(tmp_path / "data", port=0, service_password=SERVICE_PASSWORD)
    mosq.start([A, B])
    try:
        if not mosq.client_id_guard:
            pytest.skip(f"the client id plugin is not available here: {mosq.client_id_guard_problem}")
        yield mosq
    finally:
        mosq.stop()


def connack(port: int, username: str, password: str, client_id: str, timeout: float = 5.0):
    """The broker's CONNACK reason code for this client id and these credentials (then disconnects)."""
    return connect_result(port, username, password, timeout, client_id=client_id)


def watched(port: int, username: str, password: str, client_id: str, **kw) -> tuple[TestClient, list]:
    """A connected TestClient and the list its disconnects are appended to."""
    client = TestClient(port, username, password, client_id=client_id, **kw)
    drops: list = []
    client.client.on_disconnect = lambda c, u, flags, rc, props: drops.append(rc)
    return client, drops


def accepted(port: int, username: str, password: str, client_id: str) -> bool:
    return not connack(port, username, password, client_id).is_failure


# --------------------------------------------------------------------------- client ids


def test_another_devices_client_id_is_refused_and_that_device_stays_connected(guarded):
    log = TestClient(guarded.port, guarded.service_user, SERVICE_PASSWORD, subscribe=[("$SYS/broker/log/N", 0)])
    presence = PresenceTracker()  # what the backend makes of the broker's log
    a, drops = watched(guarded.port, USER_A, A.secret, "P&a")
    try:
        for _ in range(3):  # repeated attempts used to keep the victim offline
            assert connack(guarded.port, USER_B, B.secret, "P&a").is_failure
        assert connack(guarded.port, USER_B, B.secret, "P&a&x").is_failure
        assert connack(guarded.port, USER_B, B.secret, "P&a/x").is_failure
        time.sleep(0.3)
        assert drops == [] and a.connected == 1
        a.publish("$ota/up/report/P/a", b"still here")  # the connection works
        assert a.client.is_connected()
        lines = []
        while not log.inbox.empty_for(0.2):
            lines.append(log.inbox.get()[1].decode())
        for line in lines:
            presence.feed_all(line.encode())
        assert presence.online("P", "a") and presence.connections("P", "a") == 1
        assert any("ota_clientid: refused client id 'P&a' for user 'P&b'" in line for line in lines), lines
    finally:
        a.close()
        log.close()


def test_one_credential_holds_two_connections_with_its_own_ids(guarded):
    sub, sub_drops = watched(guarded.port, USER_B, B.secret, "P&b&sub", subscribe=[("$ota/down/+/P/b", 1)])
    main, main_drops = watched(guarded.port, USER_B, B.secret, "P&b")
    backend = TestClient(guarded.port, guarded.service_user, SERVICE_PASSWORD)
    try:
        assert accepted(guarded.port, USER_B, B.secret, "P&b/pub")
        backend.publish("$ota/down/upgrade/P/b", b"to b")
        assert sub.inbox.get() == ("$ota/down/upgrade/P/b", b"to b")
        time.sleep(0.2)
        assert sub_drops == [] and main_drops == []
        assert sub.client.is_connected() and main.client.is_connected()
    finally:
        for c in (sub, main, backend):
            c.close()


def test_free_client_ids_stay_free(guarded):
    assert accepted(guarded.port, USER_B, B.secret, "foo123")
    assert accepted(guarded.port, USER_B, B.secret, "sensor-7f3a")


def test_backend_client_ids_belong_to_the_service_user(guarded):
    assert connack(guarded.port, USER_B, B.secret, "ota-backend-x").is_failure
    assert connack(guarded.port, USER_B, B.secret, "ota-backend").is_failure
    assert accepted(guarded.port, guarded.service_user, SERVICE_PASSWORD, "ota-backend-x")
    # the service user gets no device ids either
    assert connack(guarded.port, guarded.service_user, SERVICE_PASSWORD, "P&a").is_failure


def test_the_password_file_still_decides(guarded):
    assert accepted(guarded.port, USER_B, B.secret, "P&b")
    assert connack(guarded.port, USER_B, "wrong", "P&b").is_failure
    assert connack(guarded.port, USER_B, "wrong", "foo123").is_failure
    assert connack(guarded.port, "P&nobody", "x", "P&nobody").is_failure
    assert connack(guarded.port, guarded.service_user, "wrong", "ota-backend-x").is_failure
    anonymous = paho.Client(CallbackAPIVersion.VERSION2, client_id="anon-1", protocol=paho.MQTTv311)
    result: list = []
    anonymous.on_connect = lambda c, u, flags, rc, props: result.append(rc)
    anonymous.connect("127.0.0.1", guarded.port)
    deadline = time.monotonic() + 5
    while not result and time.monotonic() < deadline:
        anonymous.loop(0.05)
    anonymous.disconnect()
    _close_wakeup_sockets(anonymous)
    assert result and result[0].is_failure


def test_the_acl_still_decides(guarded):
    backend = TestClient(guarded.port, guarded.service_user, SERVICE_PASSWORD, subscribe=[("$ota/up/#", 1)])
    b = TestClient(guarded.port, USER_B, B.secret, client_id="P&b", subscribe=[("$ota/down/+/P/a", 1)])
    try:
        b.publish("$ota/up/report/P/a", b"impersonation")  # A's topic
        b.publish("$ota/up/report/P/b", b"mine")
        assert backend.inbox.get() == ("$ota/up/report/P/b", b"mine")
        assert backend.inbox.empty_for(0.3)
        backend.publish("$ota/down/upgrade/P/a", b"for a")
        assert b.inbox.empty_for(0.3)
    finally:
        backend.close()
        b.close()


def test_the_guard_survives_a_reload(guarded):
    c = DeviceCredential("P", "c", "secret-c")
    guarded.update_devices([A, B, c])  # SIGHUP
    wait_for(lambda: accepted(guarded.port, "P&c", c.secret, "P&c&1"), timeout=3)
    assert connack(guarded.port, "P&c", c.secret, "P&a").is_failure
    assert connack(guarded.port, USER_B, B.secret, "P&c").is_failure


# --------------------------------------------------------------------------- mosquitto_pub / _sub


def _cli(tool: str, port: int, user: str, secret: str, client_id: str, *args: str,
         timeout: float = 15) -> subprocess.CompletedProcess:
    exe = shutil.which(tool)
    if exe is None:
        pytest.skip(f"{tool} is missing (apt-get install mosquitto-clients)")
    cmd = [exe, "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv311", "-u", user, "-P", secret, "-i", client_id, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_command_line_clients(guarded):
    a, drops = watched(guarded.port, USER_A, A.secret, "P&a")
    backend = TestClient(guarded.port, guarded.service_user, SERVICE_PASSWORD, subscribe=[("$ota/up/#", 1)])
    try:
        squatter = _cli("mosquitto_pub", guarded.port, USER_B, B.secret, "P&a",
                        "-q", "1", "-t", "$ota/up/report/P/b", "-m", "squat")
        assert squatter.returncode != 0 and "not authorised" in squatter.stderr, squatter
        # a retained message reaches the subscriber as soon as it has subscribed
        backend.client.publish("$ota/down/upgrade/P/b", b"for b", qos=1, retain=True).wait_for_publish(5)
        sub = subprocess.Popen(
            [shutil.which("mosquitto_sub") or "mosquitto_sub", "-h", "127.0.0.1", "-p", str(guarded.port),
             "-V", "mqttv311", "-u", USER_B, "-P", B.secret, "-i", "P&b&sub",
             "-t", "$ota/down/+/P/b", "-q", "1", "-v", "-C", "2", "-W", "15"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            published = _cli("mosquitto_pub", guarded.port, USER_B, B.secret, "P&b&pub",
                             "-q", "1", "-t", "$ota/up/report/P/b", "-m", "via mosquitto_pub")
            assert published.returncode == 0, published
            assert backend.inbox.get() == ("$ota/up/report/P/b", b"via mosquitto_pub")
            # the subscriber kept its connection while the short-lived publisher came and went
            backend.publish("$ota/down/progress/P/b", b"second")
            out, err = sub.communicate(timeout=20)
        finally:
            if sub.poll() is None:
                sub.kill()
                sub.communicate()
        assert sub.returncode == 0, err
        assert out.splitlines() == ["$ota/down/upgrade/P/b for b", "$ota/down/progress/P/b second"]
        assert drops == [] and a.client.is_connected()
    finally:
        a.close()
        backend.close()


# --------------------------------------------------------------------------- a live connection owns its id


def _raw_client(port: int, username: str, password: str, client_id: str, **kw) -> paho.Client:
    """A paho client that is connected and has subscribed to its down topics (so it owns its id)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
    client.username_pw_set(username, password)
    if "will" in kw:
        client.will_set(*kw.pop("will"), qos=1)
    subscribed: list = []
    client.on_connect = lambda c, u, flags, rc, props: c.subscribe("$ota/down/+/P/a", 1)
    client.on_subscribe = lambda *a: subscribed.append(1)
    client.connect("127.0.0.1", port, **kw)
    client.loop_start()
    wait_for(lambda: subscribed, 5, what="the client subscribed")
    return client


def _kill(client: paho.Client) -> None:
    """Close the socket without DISCONNECT (the client's loop has been stopped)."""
    sock = client.socket()
    if sock is not None:
        sock.close()
    _close_wakeup_sockets(client)


def test_a_live_connection_owns_its_free_client_id(guarded):
    log = TestClient(guarded.port, guarded.service_user, SERVICE_PASSWORD, subscribe=[("$SYS/broker/log/N", 0)])
    backend = TestClient(guarded.port, guarded.service_user, SERVICE_PASSWORD)
    a, drops = watched(guarded.port, USER_A, A.secret, "free-a", subscribe=[("$ota/down/+/P/a", 1)])
    try:
        for _ in range(3):
            assert connack(guarded.port, USER_B, B.secret, "free-a").is_failure
        time.sleep(0.3)
        assert drops == [] and a.connected == 1
        backend.publish("$ota/down/upgrade/P/a", b"still yours")
        assert a.inbox.get() == ("$ota/down/upgrade/P/a", b"still yours")
        lines = []
        while not log.inbox.empty_for(0.2):
            lines.append(log.inbox.get()[1].decode())
        assert any("ota_clientid: refused client id 'free-a' for user 'P&b'" in line for line in lines), lines
        a.close()  # clean DISCONNECT: the id is free again
        wait_for(lambda: accepted(guarded.port, USER_B, B.secret, "free-a"), timeout=3, interval=0.1)
    finally:
        a.close()
        backend.close()
        log.close()


def test_a_device_may_take_its_own_free_client_id_over(guarded):
    a, drops = watched(guarded.port, USER_A, A.secret, "free-a", subscribe=[("$ota/down/+/P/a", 1)])
    try:
        assert connack(guarded.port, USER_B, B.secret, "free-a").is_failure
        assert accepted(guarded.port, USER_A, A.secret, "free-a")  # same credential: takes the session over
        wait_for(lambda: drops)  # the old connection was closed by the broker
        # paho reconnects the old client (same credential again), which then owns the id again
        wait_for(lambda: a.connected == 2 and a._subscribed == 2, timeout=5)
        assert connack(guarded.port, USER_B, B.secret, "free-a").is_failure
    finally:
        a.close()


def test_a_refused_connection_does_not_release_the_owners_id(guarded):
    a, drops = watched(guarded.port, USER_A, A.secret, "free-a", subscribe=[("$ota/down/+/P/a", 1)])
    try:
        assert connack(guarded.port, USER_B, "wrong", "free-a").is_failure  # refused by the password file
        assert connack(guarded.port, USER_A, "wrong", "free-a").is_failure  # ... also with the owner's name
        assert connack(guarded.port, USER_B, B.secret, "free-a").is_failure
        assert drops == [] and a.client.is_connected()
    finally:
        a.close()


def test_a_silent_connection_releases_its_client_id_after_the_keepalive(guarded):
    a = _raw_client(guarded.port, USER_A, A.secret, "free-k", keepalive=2)
    try:
        a.loop_stop()  # no more PINGREQs; the socket stays open, as with a dead peer
        assert connack(guarded.port, USER_B, B.secret, "free-k").is_failure  # not noticed yet: still owned
        # Mosquitto 2.0.11 notices after 1.5 keepalives, checked about once a second (5-6 s here)
        started = time.monotonic()
        wait_for(lambda: accepted(guarded.port, USER_B, B.secret, "free-k"), timeout=12, interval=0.25)
        assert time.monotonic() - started > 1.5
    finally:
        _kill(a)


def test_a_lost_connection_with_a_will_releases_its_client_id(guarded):
    # Mosquitto checks the will's ACL after the disconnect event: that must not make the id owned again
    backend = TestClient(guarded.port, guarded.service_user, SERVICE_PASSWORD, subscribe=[("$ota/up/#", 1)])
    a = _raw_client(guarded.port, USER_A, A.secret, "free-w", will=("$ota/up/report/P/a", b"gone"))
    try:
        assert connack(guarded.port, USER_B, B.secret, "free-w").is_failure
        a.loop_stop()
        _kill(a)
        assert backend.inbox.get() == ("$ota/up/report/P/a", b"gone")  # the broker noticed
        wait_for(lambda: accepted(guarded.port, USER_B, B.secret, "free-w"), timeout=3, interval=0.1)
    finally:
        backend.close()


def test_an_offline_persistent_session_owns_no_client_id(guarded):
    # messages queued for an offline session are ACL-checked for it: that must not make it an owner
    backend = TestClient(guarded.port, guarded.service_user, SERVICE_PASSWORD)
    a = TestClient(guarded.port, USER_A, A.secret, client_id="free-p", clean_session=False,
                   subscribe=[("$ota/down/+/P/a", 1)])
    try:
        a.close()
        time.sleep(0.2)
        backend.publish("$ota/down/upgrade/P/a", b"queued")
        wait_for(lambda: accepted(guarded.port, USER_B, B.secret, "free-p"), timeout=3, interval=0.1)
    finally:
        backend.close()


def test_command_line_clients_keep_their_free_client_id(guarded):
    backend = TestClient(guarded.port, guarded.service_user, SERVICE_PASSWORD)
    backend.client.publish("$ota/down/upgrade/P/a", b"for a", qos=1, retain=True).wait_for_publish(5)
    exe = shutil.which("mosquitto_sub")
    if exe is None:
        pytest.skip("mosquitto_sub is missing (apt-get install mosquitto-clients)")
    sub = subprocess.Popen(
        [exe, "-h", "127.0.0.1", "-p", str(guarded.port), "-V", "mqttv311", "-u", USER_A, "-P", A.secret,
         "-i", "free-x", "-t", "$ota/down/+/P/a", "-q", "1", "-v", "-C", "2", "-W", "15"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert sub.stdout.readline() == "$ota/down/upgrade/P/a for a\n"  # subscribed: it owns free-x
        squatter = _cli("mosquitto_pub", guarded.port, USER_B, B.secret, "free-x",
                        "-q", "1", "-t", "$ota/up/report/P/b", "-m", "squat")
        assert squatter.returncode != 0 and "not authorised" in squatter.stderr, squatter
        backend.publish("$ota/down/progress/P/a", b"second")  # the subscriber is still connected
        out, err = sub.communicate(timeout=20)
        assert sub.returncode == 0, err
        assert out.splitlines() == ["$ota/down/progress/P/a second"]
        mine = _cli("mosquitto_pub", guarded.port, USER_B, B.secret, "free-x",
                    "-q", "1", "-t", "$ota/up/report/P/b", "-m", "now mine")
        assert mine.returncode == 0, mine
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.communicate()
        backend.close()


# --------------------------------------------------------------------------- building, wiring


def test_plugin_builds_here_when_gcc_and_headers_exist(tmp_path):
    if shutil.which("gcc") is None or not Path("/usr/include/mosquitto_plugin.h").is_file():
        pytest.skip("gcc or /usr/include/mosquitto_plugin.h (mosquitto-dev) is missing")
    assert plugin_build.missing_build_tools() is None
    built = plugin_build.build_plugin(tmp_path / "ota_clientid.so")
    assert built.is_file() and b"mosquitto_plugin_version" in built.read_bytes()
    path, problem = plugin_build.client_id_plugin(find_mosquitto())
    assert problem is None and path is not None
    assert Path(path).parent == plugin_build.cache_dir()
    version = plugin_build.mosquitto_version(find_mosquitto())
    assert Path(path).name.endswith(f"-mosquitto-{version}.so")
    mtime = Path(path).stat().st_mtime_ns
    assert plugin_build.client_id_plugin(find_mosquitto()) == (path, None)  # cached, not rebuilt
    assert Path(path).stat().st_mtime_ns == mtime


def test_missing_tools_are_named(monkeypatch, tmp_path):
    monkeypatch.setattr(plugin_build.shutil, "which", lambda name: None)
    problem = plugin_build.missing_build_tools(include_dir=tmp_path)
    assert "gcc" in problem and "mosquitto-dev" in problem
    monkeypatch.setattr(plugin_build, "cache_dir", lambda: tmp_path / "cache")
    path, why = plugin_build.client_id_plugin(find_mosquitto())
    assert path is None and "gcc" in why


def test_a_frozen_bundle_prefers_its_own_plugin(monkeypatch, tmp_path):
    bundle = tmp_path / "mosquitto"
    bundle.mkdir()
    (bundle / "ota_clientid.so").write_bytes(b"\x7fELF")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "ota-desktop"))
    assert plugin_build.client_id_plugin(None) == (str(bundle / "ota_clientid.so"), None)


def test_without_the_plugin_the_broker_runs_as_before_and_warns(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(broker_mod, "client_id_plugin", lambda exe: (None, "gcc not found"))
    mosq = EmbeddedMosquitto(tmp_path / "data", port=0, service_password=SERVICE_PASSWORD)
    with caplog.at_level(logging.WARNING, logger="backend.mqtt.broker"):
        mosq.start([A, B])
    try:
        assert mosq.client_id_guard is False and mosq.client_id_guard_problem == "gcc not found"
        assert not [line for line in mosq.conf_path.read_text().splitlines() if line.startswith("plugin")]
        warnings = [r.getMessage() for r in caplog.records if "client ids are not bound" in r.getMessage()]
        assert len(warnings) == 1 and "install gcc and mosquitto-dev" in warnings[0]
        assert accepted(mosq.port, USER_B, B.secret, "P&b")
        acl = mosq.acl_path.read_text()  # devices' topics then come from per-device ACL entries
        assert "user P&a\ntopic write $ota/up/+/P/a\ntopic read $ota/down/+/P/a" in acl
    finally:
        mosq.stop()


def test_a_plugin_mosquitto_cannot_load_does_not_stop_the_broker(monkeypatch, tmp_path, caplog):
    broken = tmp_path / "broken.so"
    broken.write_bytes(b"not a shared object")
    monkeypatch.setattr(broker_mod, "client_id_plugin", lambda exe: (str(broken), None))
    mosq = EmbeddedMosquitto(tmp_path / "data", port=0, service_password=SERVICE_PASSWORD)
    with caplog.at_level(logging.WARNING, logger="backend.mqtt.broker"):
        mosq.start([A, B])
    try:
        assert mosq.running and mosq.client_id_guard is False
        assert "could not load" in mosq.client_id_guard_problem
        assert not [line for line in mosq.conf_path.read_text().splitlines() if line.startswith("plugin")]
        assert accepted(mosq.port, USER_B, B.secret, "P&b")
        assert "user P&b\ntopic write $ota/up/+/P/b" in mosq.acl_path.read_text()  # ACL rewritten without it
    finally:
        mosq.stop()


def test_the_conf_names_the_plugin_and_the_service_user(guarded):
    conf = guarded.conf_path.read_text().splitlines()
    plugin_lines = [line for line in conf if line.startswith("plugin")]
    assert plugin_lines[0].startswith("plugin /") and plugin_lines[0].endswith(".so")
    assert plugin_lines[1] == f"plugin_opt_service_user {guarded.service_user}"
    assert plugin_lines[2] == "plugin_opt_device_acl true"


# --------------------------------------------------------------------------- devices' topics (ACL)


def test_the_plugin_decides_devices_topics_and_the_acl_file_stays_constant(guarded, tmp_path):
    """With the plugin, the ACL file holds no device entries (adding a device rewrites only the
    password file); a device (mosquitto_pub / mosquitto_sub, as real devices do) still reaches
    only its own $ota topics."""
    acl = guarded.acl_path.read_text()
    assert "P&a" not in acl and "P&b" not in acl
    guarded.update_devices([A, B, DeviceCredential("P", "c", "secret-c")])
    assert guarded.acl_path.read_text() == acl
    assert "P&c:" in guarded.passwd_path.read_text()

    backend = TestClient(guarded.port, guarded.service_user, SERVICE_PASSWORD, subscribe=[("$ota/up/#", 1)])
    sub = subprocess.Popen(["mosquitto_sub", "-p", str(guarded.port), "-u", USER_A, "-P", A.secret, "-i", "P&a&sub",
                            "-q", "1", "-t", "$ota/down/#", "-v"], stdout=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: accepted(guarded.port, "P&c", "secret-c", "P&c"), 5, what="the new device accepted")
        time.sleep(0.3)  # the subscriber's SUBSCRIBE is through
        for topic in ("$ota/up/report/P/a", "$ota/up/report/P/b", "$ota/up/report/P/a/x", "$ota/up//P/a",
                      "$ota/up/report/P&a", "$ota/down/upgrade/P/a", "other/P/a", "$ota/up/progress/P/a"):
            subprocess.run(["mosquitto_pub", "-p", str(guarded.port), "-u", USER_A, "-P", A.secret, "-i", "P&a&pub",
                            "-q", "1", "-t", topic, "-m", topic], check=True, timeout=10)
        for topic in ("$ota/down/upgrade/P/a", "$ota/down/upgrade/P/b", "$ota/down/progress/P/a"):
            backend.publish(topic, topic)
        got = [backend.inbox.get()[0] for _ in range(2)]
        assert sorted(got) == ["$ota/up/progress/P/a", "$ota/up/report/P/a"]
        assert backend.inbox.empty_for(0.5)  # nothing forged reached the backend
        time.sleep(0.5)
    finally:
        sub.terminate()
        out = sub.communicate(timeout=5)[0]
        backend.close()
    assert sorted(line.split(" ")[0] for line in out.splitlines()) == \
        ["$ota/down/progress/P/a", "$ota/down/upgrade/P/a"]  # its own pushes, not P&b's
