"""The embedded Mosquitto: configuration, credentials, ACL, reload and supervision."""

from __future__ import annotations

import base64
import hashlib
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from backend.mqtt import broker as broker_mod
from backend.mqtt.broker import (
    BrokerError,
    BrokerNotFound,
    DeviceCredential,
    EmbeddedMosquitto,
    credential_problem,
    find_mosquitto,
    mosquitto_env,
    password_hash,
)
from tests._mqtt_fixtures import (
    DEVICES,
    MQTT_MARKS,
    SERVICE_PASSWORD,
    TestClient,
    connect_result,
)
from tests._wait import wait_for

pytestmark = MQTT_MARKS


def service(b: EmbeddedMosquitto, **kw) -> TestClient:
    return TestClient(b.port, b.service_user, b.service_password, **kw)


def device(b: EmbeddedMosquitto, cred: DeviceCredential, **kw) -> TestClient:
    return TestClient(b.port, f"{cred.product_id}&{cred.device_name}", cred.secret, **kw)


# --------------------------------------------------------------------------- locating


def test_find_mosquitto_prefers_the_environment(monkeypatch, tmp_path):
    fake = tmp_path / "mosquitto"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("OTA_MOSQUITTO", str(fake))
    assert find_mosquitto() == str(fake)
    monkeypatch.setenv("OTA_MOSQUITTO", str(tmp_path / "missing"))
    with pytest.raises(BrokerNotFound, match=r"apt-get install mosquitto.*--mqtt-url"):
        find_mosquitto()


def test_find_mosquitto_uses_the_bundled_copy_when_frozen(monkeypatch, tmp_path):
    bundle = tmp_path / "mosquitto"
    bundle.mkdir()
    (bundle / "mosquitto").write_text("#!/bin/sh\n")
    (bundle / "mosquitto").chmod(0o755)
    (bundle / "libmosquitto.so.1").write_bytes(b"")
    monkeypatch.delenv("OTA_MOSQUITTO", raising=False)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "ota-desktop"))
    found = find_mosquitto()
    assert found == str(bundle / "mosquitto")
    env = mosquitto_env(found, base={"LD_LIBRARY_PATH": "/opt/x"})
    assert env["LD_LIBRARY_PATH"] == f"{bundle}{os.pathsep}/opt/x"


def test_system_mosquitto_runs_without_library_path():
    env = mosquitto_env(find_mosquitto(), base={})
    assert "LD_LIBRARY_PATH" not in env


def test_not_found_message_is_actionable(monkeypatch):
    monkeypatch.delenv("OTA_MOSQUITTO", raising=False)
    monkeypatch.setattr(broker_mod.shutil, "which", lambda name: None)
    monkeypatch.setattr(broker_mod, "_SYSTEM_PATH", "/nonexistent/mosquitto")
    with pytest.raises(BrokerNotFound, match="apt-get install mosquitto") as info:
        find_mosquitto()
    assert isinstance(info.value, RuntimeError)


# --------------------------------------------------------------------------- credentials


def test_password_hash_is_mosquitto_2_pbkdf2_sha512():
    hashed = password_hash("sec", salt=b"0123456789ab")
    _, seven, iterations, salt, digest = hashed.split("$")
    assert (seven, iterations) == ("7", "101")
    expected = hashlib.pbkdf2_hmac("sha512", b"sec", b"0123456789ab", 101)
    assert base64.b64decode(salt) == b"0123456789ab" and base64.b64decode(digest) == expected


@pytest.mark.parametrize(
    "cred",
    [
        DeviceCredential("P1", "a/b", "s"),
        DeviceCredential("P1", "a+", "s"),
        DeviceCredential("P1", "#", "s"),
        DeviceCredential("P1", "a b", "s"),
        DeviceCredential("P1", "a:b", "s"),
        DeviceCredential("P&1", "d", "s"),
        DeviceCredential("", "d", "s"),
        DeviceCredential("P1", "d", ""),
    ],
)
def test_unusable_credentials_are_named(cred):
    assert credential_problem(cred)


def test_unusable_credentials_are_skipped_not_fatal(broker):
    written = broker.update_devices([*DEVICES, DeviceCredential("P1", "bad/name", "x"), DEVICES[0]])
    assert written == len(DEVICES)
    assert "bad/name" not in broker.acl_path.read_text()


def test_files_are_private_and_service_password_not_in_plain_text(broker):
    for path in (broker.passwd_path, broker.acl_path, broker.conf_path):
        assert path.stat().st_mode & 0o077 == 0, path
    assert SERVICE_PASSWORD not in broker.passwd_path.read_text()
    conf = broker.conf_path.read_text()
    assert "allow_anonymous false" in conf and "max_queued_messages 100000" in conf


# --------------------------------------------------------------------------- access rules


def test_service_user_can_subscribe_and_publish_ota_topics(broker):
    sub = service(broker, subscribe=[("$ota/#", 1)])
    pub = service(broker)
    try:
        pub.publish("$ota/down/upgrade/P1/d1", b"hello")
        assert sub.inbox.get() == ("$ota/down/upgrade/P1/d1", b"hello")
    finally:
        sub.close()
        pub.close()


def test_device_reaches_the_backend_only_on_its_own_topics(broker):
    backend = service(broker, subscribe=[("$ota/up/#", 1)])
    d1 = device(broker, DEVICES[0])
    try:
        d1.publish("$ota/up/report/P1/d2", b"impersonation")  # another device's topic
        d1.publish("$ota/down/upgrade/P1/d1", b"wrong direction")
        d1.publish("$ota/up/report/P1/d1", b"mine")
        assert backend.inbox.get() == ("$ota/up/report/P1/d1", b"mine")
        assert backend.inbox.empty_for(0.2)
    finally:
        backend.close()
        d1.close()


def test_device_receives_only_its_own_down_topics(broker):
    d1 = device(broker, DEVICES[0], subscribe=[("$ota/down/#", 1), ("$ota/up/#", 1)])
    backend = service(broker)
    try:
        backend.publish("$ota/down/upgrade/P1/d2", b"for d2")
        backend.publish("$ota/down/upgrade/P2/d1", b"for P2 d1")
        backend.publish("$ota/up/report/P1/d1", b"not for devices")
        backend.publish("$ota/down/progress/P1/d1", b"for d1")
        assert d1.inbox.get() == ("$ota/down/progress/P1/d1", b"for d1")
        assert d1.inbox.empty_for(0.2)
    finally:
        backend.close()
        d1.close()


def test_wrong_password_unknown_user_and_anonymous_are_refused(broker):
    assert not connect_result(broker.port, "P1&d1", "secret-1").is_failure
    assert connect_result(broker.port, "P1&d1", "secret-2").is_failure
    assert connect_result(broker.port, "P9&d9", "secret-1").is_failure
    assert connect_result(broker.port, None, None).is_failure


def test_update_devices_adds_and_removes_without_restart(broker):
    new = DeviceCredential("P3", "d7", "fresh")
    assert connect_result(broker.port, "P3&d7", "fresh").is_failure
    pid = broker.pid
    broker.update_devices([*DEVICES[1:], new])
    wait_for(lambda: not connect_result(broker.port, "P3&d7", "fresh").is_failure, timeout=3)
    wait_for(lambda: connect_result(broker.port, "P1&d1", "secret-1").is_failure, timeout=3)
    assert broker.pid == pid
    backend = service(broker, subscribe=[("$ota/up/#", 1)])
    dev = device(broker, new)
    try:
        dev.publish("$ota/up/progress/P3/d7", b"{}")
        assert backend.inbox.get() == ("$ota/up/progress/P3/d7", b"{}")
    finally:
        dev.close()
        backend.close()


def _device_session(b: EmbeddedMosquitto, user: str, secret: str) -> tuple[paho.Client, threading.Event]:
    """A device connection that does not reconnect, and an event set when the broker drops it."""
    dropped = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}&live", protocol=paho.MQTTv311)
    client.username_pw_set(user, secret)
    client.on_disconnect = lambda *a: dropped.set()
    client.connect("127.0.0.1", b.port)
    client.loop_start()
    wait_for(client.is_connected, 5, what="the device connected")
    return client, dropped


def test_device_changes_reach_the_running_broker_without_a_reload(broker):
    """Add, rotate and remove go over $CONTROL to the plugin: no SIGHUP, and whoever connected with
    a secret that is no longer valid is disconnected at once."""
    if not broker.client_id_guard:
        pytest.skip(f"no broker plugin here: {broker.client_id_guard_problem}")
    p1d1, p1d2 = (f"{d.product_id}&{d.device_name}" for d in DEVICES[:2])
    rotated, rotated_dropped = _device_session(broker, p1d1, DEVICES[0].secret)
    removed, removed_dropped = _device_session(broker, p1d2, DEVICES[1].secret)
    try:
        new = DeviceCredential("P3", "d8", "fresh")
        broker.update_devices([DEVICES[0]._replace(secret="turned"), *DEVICES[2:], new])
        assert (broker.reloads, broker.live_changes) == (0, 3)
        assert not connect_result(broker.port, "P3&d8", "fresh").is_failure  # at once: no reload to wait for
        assert rotated_dropped.wait(3) and removed_dropped.wait(3)
        assert connect_result(broker.port, p1d1, DEVICES[0].secret).is_failure
        assert not connect_result(broker.port, p1d1, "turned").is_failure
        assert connect_result(broker.port, p1d2, DEVICES[1].secret).is_failure
        # what was changed live is in the files too: a restarted broker knows the same
        broker.restart()
        assert not connect_result(broker.port, "P3&d8", "fresh").is_failure
        assert connect_result(broker.port, p1d2, DEVICES[1].secret).is_failure
        assert not connect_result(broker.port, p1d1, "turned").is_failure
    finally:
        for client in (rotated, removed):
            client.disconnect()
            client.loop_stop()


def test_a_bulk_import_larger_than_one_mqtt_packet_goes_live(broker):
    """6,000 devices with 24-character secrets: ~0.5 MB of changes, several messages (the broker
    refuses a packet over 256 KiB and would drop the control connection)."""
    if not broker.client_id_guard:
        pytest.skip(f"no broker plugin here: {broker.client_id_guard_problem}")
    bulk = [DeviceCredential("PBULK", f"device-{i:06d}", f"{i:024d}") for i in range(6000)]
    assert broker.update_devices([*DEVICES, *bulk]) == len(DEVICES) + 6000
    assert (broker.reloads, broker.live_changes) == (0, 6000)
    assert not connect_result(broker.port, "PBULK&device-005999", f"{5999:024d}").is_failure


def test_devices_cannot_change_credentials_or_read_the_control_answers(broker):
    if not broker.client_id_guard:
        pytest.skip(f"no broker plugin here: {broker.client_id_guard_problem}")
    d = DEVICES[0]
    spy = device(broker, d, subscribe=[("$CONTROL/#", 1)])
    try:
        spy.publish("$CONTROL/ota-devices/v1", f"add P1&evil {b'pw'.hex()}")
        assert connect_result(broker.port, "P1&evil", "pw").is_failure
        broker.update_devices([*DEVICES, DeviceCredential("P3", "d9", "hidden")])
        assert broker.live_changes == 1
        with pytest.raises(queue.Empty):
            spy.inbox.queue.get(timeout=0.5)  # the answers (and the lines) never reach a device
    finally:
        spy.close()


def test_a_refused_control_line_is_named_and_the_change_then_goes_by_reload(broker, monkeypatch):
    if not broker.client_id_guard:
        pytest.skip(f"no broker plugin here: {broker.client_id_guard_problem}")
    from backend.mqtt import broker_control

    monkeypatch.setattr(broker_control, "add", lambda user, secret: f"add {user} not-hex")
    broker.update_devices([*DEVICES, DeviceCredential("P3", "d5", "x")])
    assert (broker.live_changes, broker.reloads) == (0, 1)
    wait_for(lambda: not connect_result(broker.port, "P3&d5", "x").is_failure, timeout=3)


def test_update_devices_at_scale(broker):
    devices = [DeviceCredential("PX", f"dev-{i:05d}", f"s{i}") for i in range(2000)]
    assert broker.update_devices(devices) == 2000
    wait_for(lambda: not connect_result(broker.port, "PX&dev-01999", "s1999").is_failure, timeout=3)


# --------------------------------------------------------------------------- lifecycle


def test_port_zero_picks_a_port_and_url_carries_the_service_credentials(broker):
    assert broker.port > 0
    assert broker.url.startswith("mqtt://ota-backend:") and broker.url.endswith(f"@127.0.0.1:{broker.port}")
    assert "%40" in broker.url and "%2F" in broker.url  # quoted password


def test_killed_broker_is_brought_back_by_ensure_running(broker):
    assert broker.ensure_running() is False
    old_pid, port = broker.pid, broker.port
    os.kill(old_pid, signal.SIGKILL)
    wait_for(lambda: broker.poll() is not None)
    assert broker.ensure_running() is True
    assert broker.pid not in (None, old_pid) and broker.port == port
    assert not connect_result(port, "P1&d1", "secret-1").is_failure


def test_a_broker_killed_before_its_autosave_keeps_the_saved_backend_session(broker):
    """Sessions are saved on request (not only every autosave_interval): a broker killed right
    after the backend subscribed comes back with the backend's session, and a device message sent
    before the backend reconnects is queued for it, not dropped for want of a subscriber (the
    e2e broker-restart failure: a whole fleet stuck at "flashing")."""
    backend = service(broker, client_id="backend-session", clean_session=False, subscribe=[("$ota/up/#", 1)])
    try:
        assert broker.save_sessions(wait=10)
    finally:
        backend.close()
    old_pid = broker.pid
    os.kill(old_pid, signal.SIGKILL)
    wait_for(lambda: broker.poll() is not None)
    assert broker.ensure_running() is True
    d1 = device(broker, DEVICES[0])
    try:
        d1.publish("$ota/up/report/P1/d1", b"sent while the backend was away")
    finally:
        d1.close()
    backend = service(broker, client_id="backend-session", clean_session=False)
    try:
        assert backend.inbox.get() == ("$ota/up/report/P1/d1", b"sent while the backend was away")
    finally:
        backend.close()


def test_save_sessions_is_refused_without_a_running_broker(broker):
    broker.stop()
    assert broker.save_sessions() is False and broker.save_sessions(wait=0.1) is False


def test_stopped_broker_stays_stopped(broker):
    broker.stop()
    assert broker.ensure_running() is False and not broker.running


def test_restart_keeps_port_and_persistent_sessions(broker):
    d1 = device(broker, DEVICES[0], client_id="P1&d1", clean_session=False, subscribe=[("$ota/down/+/P1/d1", 1)])
    d1.close()
    broker.restart()
    backend = service(broker)
    try:
        backend.publish("$ota/down/upgrade/P1/d1", b"queued for d1")
        d1 = device(broker, DEVICES[0], client_id="P1&d1", clean_session=False)
        assert d1.inbox.get() == ("$ota/down/upgrade/P1/d1", b"queued for d1")
    finally:
        d1.close()
        backend.close()


def test_start_failure_reports_the_log(tmp_path, broker):
    clash = EmbeddedMosquitto(tmp_path / "other", port=broker.port)  # port already taken
    with pytest.raises(BrokerError, match="exited with code") as info:
        clash.start()
    assert "Address already in use" in str(info.value)
    assert not clash.running


def test_stale_broker_from_a_dead_backend_is_replaced(tmp_path):
    first = EmbeddedMosquitto(tmp_path / "data", port=0)
    first.start()
    stale_pid = first.pid
    # A backend killed with SIGKILL leaves its broker running; a new backend takes over.
    second = EmbeddedMosquitto(tmp_path / "data", port=first.port)
    try:
        second.start()
        wait_for(lambda: first.poll() is not None)
        assert second.pid != stale_pid
        assert not connect_result(second.port, second.service_user, second.service_password).is_failure
    finally:
        second.stop()
        first.stop()


def test_mosquitto_logs_where_we_expect(broker):
    broker.stop()
    assert broker.log_path.exists()
    assert not (Path(broker.dir) / "mosquitto.pid").exists()
    # The real binary rejects a bad configuration loudly, and we surface it.
    broker.conf_path.write_text("no_such_option 1\n")
    with pytest.raises(BrokerError, match=r"no_such_option|Unknown configuration"):
        broker.restart()


def test_mosquitto_binary_is_the_expected_major_version():
    out = subprocess.run([find_mosquitto(), "-h"], capture_output=True, text=True).stdout
    assert "mosquitto version 2." in out


def test_a_reload_is_confirmed_before_update_devices_returns(broker, monkeypatch):
    """Without live changes (no plugin, or a refused change) the broker reloads; Mosquitto forgets a
    SIGHUP that arrives during a reload, so each file carries a user of its own and update_devices
    returns once the broker accepts it: back-to-back changes are all in force at once."""
    from backend.mqtt import broker_control
    from backend.mqtt.broker import mqtt_login

    def refuse(self, lines):
        raise broker_control.ControlError("refused for the test")
    monkeypatch.setattr(broker_control.DeviceControl, "send", refuse)
    for i in range(5):
        new = DeviceCredential("P4", f"r{i}", f"s{i}")
        broker.update_devices([*DEVICES, new])
        assert mqtt_login("127.0.0.1", broker.port, f"P4&r{i}", f"s{i}")  # no waiting
        assert not mqtt_login("127.0.0.1", broker.port, f"P4&r{i - 1}", f"s{i - 1}")
    assert broker.reloads >= 5
    assert not mqtt_login("127.0.0.1", broker.port, "P1&d1", "wrong")
