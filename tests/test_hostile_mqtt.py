"""Hostile and malformed device input: no MQTT message can stop the service or corrupt data.

Three layers:
- ``parse_up`` under property-based fire (hypothesis): arbitrary bytes, deep and wide JSON,
  boundary numbers and strings on both up topics; only ``BadMessage`` may ever escape;
- the ``Dispatcher`` in-process with a recording ``handle``: a poison message costs nothing but
  itself, the worker thread never dies, rejections are logged at a bounded rate;
- the real backend (conftest ``shared_backend``), with devices publishing through paho and
  through ``mosquitto_pub``: the 1,000-level payload, out-of-range ids, oversized versions and a
  device that connects with the backend's old client id ``ota-backend``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import threading
import time

import paho.mqtt.client as paho
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from backend.mqtt import dispatcher as dispatcher_module
from backend.mqtt.broker import MAX_PACKET_SIZE
from backend.mqtt.dispatcher import Dispatcher, _RateLimitedLog
from backend.mqtt.link import (
    CLIENT_ID_FILE,
    LEGACY_CLIENT_ID,
    MqttLink,
    _close_wakeup_sockets,
    backend_client_id,
    clear_session,
)
from ota_protocol import messages as wire
from tests._mqtt_fixtures import MQTT_MARKS, TestClient
from tests._wait import wait_for
from tests.test_api_routes import DEVICE, MqttDevice, make_devices, make_product

REPORT_TOPIC = "$ota/up/report/P1/d1"
PROGRESS_TOPIC = "$ota/up/progress/P1/d1"
pytestmark = [pytest.mark.timeout(180)]


def needs_broker(test):
    """Tests with a real Mosquitto (the backend starts its own)."""
    for mark in MQTT_MARKS:
        test = mark(test)
    return test


DEEP = b"[" * 1000 + b"]" * 1000  # ~2 KB, 1,000 levels: once a RecursionError that killed the dispatcher


def report(version: str = "1.0.0", **params) -> bytes:
    return json.dumps({"method": "reportInfo", "clientToken": "c-1", "timestamp": 1,
                       "params": {"version": version, **params}}).encode()


def progress(record_id=1, step=10, **top) -> bytes:
    return json.dumps({"method": "progress", "clientToken": "c-2", "timestamp": 1,
                       "params": {"id": record_id, "step": step, "desc": "downloading"}, **top}).encode()


# =============================================================================== parse_up, property-based

TOPICS = st.sampled_from([REPORT_TOPIC, PROGRESS_TOPIC])
BOUNDARY_INTS = st.sampled_from([0, 1, -1, wire.STEP_MIN, wire.STEP_MAX, wire.STEP_MIN - 1, wire.STEP_MAX + 1,
                                 2**31, 2**53 + 1, wire.MAX_INT, wire.MAX_INT + 1, -wire.MAX_INT - 1, 2**64,
                                 -(2**64), 10**300, 10**4000])
SCALARS = (st.none() | st.booleans() | st.integers() | BOUNDARY_INTS
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=80))
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=8)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=8), max_leaves=60)
FIELD_TEXT = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["", "1.0", "1.0\n", "\n1.0", " 1", "1" * 64, "1" * 65, "a\x00b", "\ud800", "版本",
                     "x" * 300, "t" * 5000, "\x1b[2J", "default", "0.9.0+b_1"]),
)
FIELD_VALUE = FIELD_TEXT | BOUNDARY_INTS | st.integers() | st.none() | st.booleans() | JSON_VALUES


@st.composite
def message_like(draw) -> bytes:
    """Close to a real message, with any field swapped for something hostile."""
    params = {key: draw(FIELD_VALUE) for key in draw(st.sets(st.sampled_from(
        ["version", "id", "step", "desc", "module", "extra"])))}
    body = {"method": draw(st.sampled_from(["reportInfo", "progress"]) | FIELD_TEXT), "params": params}
    for key in draw(st.sets(st.sampled_from(["clientToken", "msgToken", "timestamp", "code"]))):
        body[key] = draw(FIELD_VALUE)
    if draw(st.booleans()):
        body["params"] = draw(FIELD_VALUE)
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@st.composite
def deep_json(draw) -> bytes:
    depth = draw(st.integers(1, 6000))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'{"params":', b"}")]))
    inner = draw(st.sampled_from([b"1", b'"x"', b"[]", b"{}", b"null"]))
    balanced = draw(st.booleans())
    prefix = draw(st.sampled_from([b"", b'{"method":"reportInfo","params":{"version":"1","x":']))
    tail = b"}}" if prefix else b""
    return prefix + opener * depth + inner + closer * (depth if balanced else depth // 2) + tail


@st.composite
def wide_json(draw) -> bytes:
    width = draw(st.integers(1, 20_000))
    item = draw(st.sampled_from([b"1", b"[]", b'"v"', b"{}", b"9" * 30]))
    return b'{"method":"reportInfo","params":{"version":"1","x":[' + b",".join([item] * width) + b"]}}"


PAYLOADS = st.one_of(st.binary(max_size=2048), st.binary(min_size=wire.MAX_PAYLOAD_BYTES - 8,
                                                         max_size=wire.MAX_PAYLOAD_BYTES + 8),
                     JSON_VALUES.map(lambda v: json.dumps(v).encode()), message_like(), deep_json(), wide_json())


def _check_invariants(msg) -> None:
    """What an accepted message always satisfies, whatever was sent."""
    assert wire.TOKEN_RE.fullmatch(msg.client_token)
    assert 0 <= msg.timestamp <= wire.MAX_INT
    assert wire.MODULE_RE.fullmatch(msg.module)
    if isinstance(msg, wire.Report):
        assert wire.VERSION_RE.fullmatch(msg.version)
        assert msg.record_id is None or 1 <= msg.record_id <= wire.MAX_INT
    else:
        assert 1 <= msg.record_id <= wire.MAX_INT
        assert wire.STEP_MIN <= msg.step <= wire.STEP_MAX and msg.step != 0
        assert len(msg.desc) <= wire.MAX_DESC_CHARS
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF for c in msg.desc)


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(topic=TOPICS, payload=PAYLOADS)
def test_parse_up_only_ever_raises_bad_message(topic, payload):
    try:
        msg = wire.parse_up(topic, payload)
    except wire.BadMessage as exc:
        assert len(str(exc)) < 300  # never echoes a hostile value at length
        return
    _check_invariants(msg)


@settings(max_examples=200, deadline=None, database=None)
@given(topic=st.text(max_size=300) | st.builds(lambda k, p, d: f"$ota/up/{k}/{p}/{d}",
                                               st.sampled_from(["report", "progress", "x"]),
                                               st.text(max_size=200), st.text(max_size=200)),
       payload=message_like())
def test_parse_up_any_topic(topic, payload):
    try:
        _check_invariants(wire.parse_up(topic, payload))
    except wire.BadMessage:
        pass


# =============================================================================== dispatcher, in-process


class Recorder:
    """A ``handle`` that records what it applied; raises for messages chosen by ``poison``."""

    def __init__(self, poison=lambda m: False):
        self.applied: list = []
        self.calls: list[int] = []
        self.poison = poison
        self.lock = threading.Lock()

    def __call__(self, msgs: list) -> None:
        with self.lock:
            self.calls.append(len(msgs))
            if any(self.poison(m) for m in msgs):
                raise OverflowError("Python int too large to convert to SQLite INTEGER")
            self.applied.extend(msgs)

    def devices(self) -> list[str]:
        return [m.device_name for m in self.applied]


@pytest.fixture
def make_dispatcher():
    made: list[Dispatcher] = []

    def make(handle=None, reply=None) -> Dispatcher:
        d = Dispatcher(handle or Recorder(), reply or (lambda topic, payload: None))
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()


def test_poison_and_valid_message_in_one_batch(make_dispatcher):
    handle = Recorder()
    d = make_dispatcher(handle)
    d.on_message("$ota/up/report/P1/evil", DEEP)  # queued before start: one batch with the next
    d.on_message("$ota/up/report/P2/good", report("2.0.0"))
    d.start()
    assert d.drain(10)
    assert handle.devices() == ["good"] and handle.applied[0].version == "2.0.0"
    assert d.rejected == 1 and d.handled == 1
    assert d.alive and d._thread.is_alive()
    d.on_message("$ota/up/report/P2/good", report("2.0.1"))  # and it goes on working
    assert d.drain(10) and handle.applied[-1].version == "2.0.1"


def test_handle_failing_for_one_message_still_applies_the_others(make_dispatcher):
    handle = Recorder(poison=lambda m: m.device_name == "bad")
    d = make_dispatcher(handle)
    for name in ("a", "bad", "b", "c"):
        d.on_message(f"$ota/up/report/P1/{name}", report("1.0.0"))
    d.start()
    assert d.drain(10)
    assert sorted(handle.devices()) == ["a", "b", "c"]
    assert handle.calls[0] == 4 and handle.calls[1:] == [1, 1, 1, 1]  # the batch, then one by one
    assert d.failed == 1 and d.handled == 3 and d.alive


def test_every_message_of_a_batch_is_tried_even_when_all_fail(make_dispatcher):
    handle = Recorder(poison=lambda m: True)
    d = make_dispatcher(handle)
    for name in ("a", "b"):
        d.on_message(f"$ota/up/report/P1/{name}", report())
    d.start()
    assert d.drain(10) and d.failed == 2 and d.alive
    handle.poison = lambda m: False
    d.on_message("$ota/up/report/P1/c", report())
    assert d.drain(10) and handle.devices() == ["c"]


def test_one_by_one_retry_gives_up_when_nothing_can_be_applied(make_dispatcher, monkeypatch):
    """The database down, say: no hours of retries, the worker comes back for the next batch."""
    monkeypatch.setattr(dispatcher_module, "RETRY_BUDGET_S", 0.2)

    def slow_failure(msgs):
        time.sleep(0.15)
        raise ConnectionError("database is down")

    d = make_dispatcher(slow_failure)
    for i in range(10):
        d.on_message(f"$ota/up/report/P1/d{i}", report())
    t0 = time.monotonic()
    d.start()
    assert d.drain(10)
    assert d.failed == 10 and d.handled == 0 and time.monotonic() - t0 < 2 and d.alive


def test_unexpected_parser_error_is_contained(make_dispatcher, monkeypatch):
    real = wire.parse_up

    def flaky(topic, payload):
        if payload == b"boom":
            raise RecursionError("maximum recursion depth exceeded")
        return real(topic, payload)

    monkeypatch.setattr(dispatcher_module.wire, "parse_up", flaky)
    handle = Recorder()
    d = make_dispatcher(handle)
    d.on_message("$ota/up/report/P1/x", b"boom")
    d.on_message("$ota/up/report/P1/y", report())
    d.start()
    assert d.drain(10) and handle.devices() == ["y"] and d.rejected == 1 and d.alive


def test_the_loop_survives_an_exception_outside_the_message_guards(make_dispatcher, monkeypatch):
    handle = Recorder()
    d = make_dispatcher(handle)
    real_parse = d._parse
    calls = []

    def broken_once(batch):
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError("pretend")
        return real_parse(batch)

    monkeypatch.setattr(d, "_parse", broken_once)
    d.start()
    d.on_message(REPORT_TOPIC, report())
    assert d.drain(10)  # the drain marker of a failed batch still counts
    d.on_message(REPORT_TOPIC, report("3.0"))
    assert d.drain(10) and [m.version for m in handle.applied] == ["3.0"]
    assert d.loop_errors == 1 and d.alive


def test_error_ack_for_malformed_progress_cannot_fail(make_dispatcher):
    replies: list[tuple[str, dict]] = []
    d = make_dispatcher(reply=lambda topic, payload: replies.append((topic, json.loads(payload))))
    d.start()
    d.on_message(PROGRESS_TOPIC, progress(step=0, clientToken="tok-1"))  # valid token: echoed
    d.on_message(PROGRESS_TOPIC, progress(clientToken="t" * 10_000))  # too long: dropped
    d.on_message(PROGRESS_TOPIC, progress(clientToken="t" * 100_000))  # over the payload limit
    d.on_message(PROGRESS_TOPIC, DEEP)
    d.on_message(PROGRESS_TOPIC, b'{"method":"progress","clientToken":"' + b"x" * 60 + b'\xff"}')
    d.on_message("$ota/up/progress/P1/d+x", progress(step=0))  # cannot be addressed: no answer
    d.on_message(REPORT_TOPIC, DEEP)  # reports get no answer
    assert d.drain(10)
    assert [t for t, _ in replies] == ["$ota/down/progress/P1/d1"] * 5
    assert [r["clientToken"] for _, r in replies] == ["tok-1", "", "", "", ""]
    assert all(r["code"] == 100006 and len(r["status"]) <= 200 for _, r in replies)


def test_a_failing_reply_does_not_stop_the_worker(make_dispatcher):
    def reply(topic, payload):
        raise RuntimeError("link gone")

    handle = Recorder()
    d = make_dispatcher(handle, reply)
    d.start()
    d.on_message(PROGRESS_TOPIC, progress(step=0))
    d.on_message(REPORT_TOPIC, report())
    assert d.drain(10) and handle.devices() == ["d1"] and d.alive


def test_rejections_are_logged_at_most_once_per_device_per_minute(make_dispatcher, caplog):
    d = make_dispatcher()
    d.start()
    with caplog.at_level(logging.WARNING, logger="backend.mqtt.dispatcher"):
        for _ in range(50):
            d.on_message("$ota/up/report/P1/noisy", DEEP)
        d.on_message("$ota/up/report/P1/other", b"not json")
        assert d.drain(10)
    lines = [r.getMessage() for r in caplog.records if "rejected message" in r.getMessage()]
    assert len(lines) == 2 and d.rejected == 51
    assert any("P1/noisy" in line for line in lines) and any("P1/other" in line for line in lines)


def test_rate_limited_log_counts_what_it_suppressed(caplog):
    now = [0.0]
    limited = _RateLimitedLog(60.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="backend.mqtt.dispatcher"):
        assert limited("P/d", logging.WARNING, "rejected %s", "one")
        assert not any(limited("P/d", logging.WARNING, "rejected %s", "more") for _ in range(9))
        now[0] = 61.0
        assert limited("P/d", logging.WARNING, "rejected %s", "again")
    texts = [r.getMessage() for r in caplog.records]
    assert texts == ["rejected one", "rejected again (9 more like it in the last 60s not logged)"]


def test_alive_is_false_when_stuck_or_stopped(make_dispatcher, monkeypatch):
    release = threading.Event()
    d = make_dispatcher(lambda msgs: release.wait(10))
    monkeypatch.setattr(dispatcher_module, "STUCK_AFTER_S", 0.3)
    assert not d.alive  # not started
    d.start()
    assert d.alive
    d.on_message(REPORT_TOPIC, report())
    wait_for(lambda: not d.alive, 5)  # one batch for longer than STUCK_AFTER_S
    release.set()
    wait_for(lambda: d.alive, 5)
    d.stop()
    assert not d.alive


# =============================================================================== the backend's MQTT identity


def test_backend_client_id_is_secret_kept_and_private(tmp_path):
    client_id, created = backend_client_id(tmp_path)
    assert created and client_id.startswith(LEGACY_CLIENT_ID + "-") and len(client_id) == len(LEGACY_CLIENT_ID) + 21
    assert stat.S_IMODE(os.stat(tmp_path / CLIENT_ID_FILE).st_mode) == 0o600
    assert backend_client_id(tmp_path) == (client_id, False)
    (tmp_path / "other").mkdir()
    assert backend_client_id(tmp_path / "other")[0] != client_id
    for bad in ("ota-backend", "", "ota-backend-short", "ota-backend-" + "x" * 19 + "/", "\xff"):
        (tmp_path / CLIENT_ID_FILE).write_text(bad, encoding="latin-1")
        new_id, created = backend_client_id(tmp_path)
        assert created and new_id != bad and new_id.startswith("ota-backend-")


def test_link_refuses_a_publish_larger_than_the_broker_takes():
    """Sent anyway, it would get the link disconnected and be sent again after every reconnect."""
    link = MqttLink("mqtt://u:p@127.0.0.1:1", "ota-backend-test", lambda t, p: None, max_packet_size=1000)
    try:
        assert link.publish("$ota/down/upgrade/P/d", b"x" * 900) is True  # queued until connected
        assert link.publish("$ota/down/upgrade/P/d", b"x" * 1000) is False
        assert link.publish("$ota/down/upgrade/P/d", "字" * 400) is False  # counted in UTF-8 bytes
    finally:
        link.stop()
        _close_wakeup_sockets(link._client)


def test_largest_push_fits_the_broker_limit():
    from backend.storage.s3 import S3Store
    store = S3Store("http://127.0.0.1:9", "AKIAEXAMPLEKEY123456", "s" * 40, "us-east-1")  # presigns offline
    name = "测" * 512  # a file name at its limit, three UTF-8 bytes a character, twice (name and URL)
    key = f"productManage/ota/{'T' * 64}/{'9' * 64}/{name}"
    url = "https://ota.example.com:8443/base" + store.presign("GET", "ithings-private", key)
    files = [wire.PushFile(name, "a" * 64, 2**40, url)] * 20  # 20 files: the firmware limit
    push = wire.upgrade_push(client_token=wire.new_client_token(), record_id=wire.MAX_INT, is_diff=2,
                             sign_method="sha256", version="v" * 64, files=files)
    assert len(push) + 200 < MAX_PACKET_SIZE, len(push)


@needs_broker
def test_clear_session_drops_a_persistent_session(broker):
    from tests._mqtt_fixtures import SERVICE_PASSWORD
    old = TestClient(broker.port, broker.service_user, SERVICE_PASSWORD, client_id=LEGACY_CLIENT_ID,
                     clean_session=False, subscribe=[("$ota/up/#", 1)])
    old.close()
    assert clear_session(broker.url, LEGACY_CLIENT_ID)
    present: list = []
    probe = paho.Client(CallbackAPIVersion.VERSION2, client_id=LEGACY_CLIENT_ID, clean_session=False,
                        protocol=paho.MQTTv311)
    probe.username_pw_set(broker.service_user, SERVICE_PASSWORD)
    probe.on_connect = lambda c, u, flags, rc, p: present.append(flags.session_present)
    probe.connect("127.0.0.1", broker.port)
    probe.loop_start()
    try:
        assert wait_for(lambda: present, 5) and present[0] is False
    finally:
        probe.disconnect()
        probe.loop_stop()
        _close_wakeup_sockets(probe)
    assert clear_session(f"mqtt://nobody:wrong@127.0.0.1:{broker.port}", "x", timeout=2) is False


# =============================================================================== the real backend



def _health(api) -> dict:
    r = api.http.get("/api/v1/health")
    assert r.status_code == 200
    return r.json()["data"]


def _version(api, pid: str, name: str) -> str:
    return api.ok(DEVICE + "read", {"productID": pid, "deviceName": name})["version"]


def _wait_version(api, pid: str, name: str, version: str) -> None:
    wait_for(lambda: _version(api, pid, name) == version, 15, what=f"{pid}/{name} to report {version}")


def _mosquitto_pub(backend, user: str, secret: str, topic: str, payload_file, client_id: str,
                   timeout: float = 30) -> subprocess.CompletedProcess:
    exe = shutil.which("mosquitto_pub")
    assert exe, "mosquitto_pub is missing (apt-get install mosquitto-clients)"
    return subprocess.run([exe, "-h", "127.0.0.1", "-p", str(backend.mqtt_port), "-u", user, "-P", secret,
                           "-i", client_id, "-q", "1", "-t", topic, "-f", str(payload_file)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def fleet(api, shared_backend):
    """A fresh product with devices d1..d3 online over paho; closed after the test."""
    pid = make_product(api)
    secrets = make_devices(api, pid, ["d1", "d2", "d3"], "0.9.0")
    devices = {name: MqttDevice(shared_backend, pid, name, secret) for name, secret in secrets.items()}
    yield pid, secrets, devices
    for dev in devices.values():
        dev.close()


@needs_broker
@pytest.mark.parametrize("topic_kind", ["report", "progress"])
def test_deep_payload_does_not_stop_the_backend(api, fleet, topic_kind, shared_backend):
    pid, _, devs = fleet
    devs["d1"].client.publish(f"$ota/up/{topic_kind}/{pid}/d1", DEEP, qos=1).wait_for_publish(5)
    devs["d2"].report("1.2.3")  # right behind it: most likely the same batch
    _wait_version(api, pid, "d2", "1.2.3")
    devs["d3"].report("1.2.4")  # and later messages still count
    _wait_version(api, pid, "d3", "1.2.4")
    health = _health(api)
    assert health["dispatcherAlive"] is True and health["mqttConnected"] is True
    assert _version(api, pid, "d1") == "0.9.0"
    assert "RecursionError" not in shared_backend.log


@needs_broker
def test_deep_payload_from_mosquitto_pub(api, fleet, shared_backend, tmp_path):
    """A real device is not our simulator: the same attack through the Mosquitto command-line client."""
    pid, secrets, _devs = fleet
    deep = tmp_path / "deep.json"
    deep.write_bytes(b'{"method":"reportInfo","params":{"version":"6.6.6","x":' + DEEP + b"}}")
    done = _mosquitto_pub(shared_backend, f"{pid}&d1", secrets["d1"], f"$ota/up/report/{pid}/d1", deep, "mp-deep")
    assert done.returncode == 0, done.stderr
    good = tmp_path / "good.json"
    good.write_bytes(report("2.0.0"))
    done = _mosquitto_pub(shared_backend, f"{pid}&d2", secrets["d2"], f"$ota/up/report/{pid}/d2", good, "mp-good")
    assert done.returncode == 0, done.stderr
    _wait_version(api, pid, "d2", "2.0.0")
    assert _version(api, pid, "d1") == "0.9.0"
    assert _health(api)["dispatcherAlive"] is True


@needs_broker
@pytest.mark.parametrize("bad", [report("9.9.9", id=2**63), report("9.9.9", id=2**64), report("9.9.9", id=0),
                                 report("9.9.9", id=-1)], ids=["2^63", "2^64", "0", "-1"])
def test_out_of_range_id_does_not_discard_other_reports(api, fleet, bad):
    pid, _, devs = fleet
    devs["d1"].client.publish(f"$ota/up/report/{pid}/d1", bad, qos=1).wait_for_publish(5)
    devs["d2"].report("1.0.1")
    devs["d1"].client.publish(f"$ota/up/progress/{pid}/d1", progress(record_id=2**63), qos=1).wait_for_publish(5)
    devs["d3"].report("1.0.2")
    _wait_version(api, pid, "d2", "1.0.1")
    _wait_version(api, pid, "d3", "1.0.2")
    assert _version(api, pid, "d1") == "0.9.0"
    assert _health(api)["dispatcherAlive"] is True


@needs_broker
def test_oversized_and_malformed_versions_are_not_stored(api, fleet, shared_backend, tmp_path):
    pid, secrets, devs = fleet
    devs["d1"].report("1.5.0")
    _wait_version(api, pid, "d1", "1.5.0")
    for version in ("1" * 65, "1.0\n", "1.0 <script>", "x" * 20_000):
        devs["d1"].client.publish(f"$ota/up/report/{pid}/d1", report(version), qos=1).wait_for_publish(5)
    # 10 MB: the broker refuses the packet (max_packet_size) and disconnects the sender
    huge = tmp_path / "huge.json"
    huge.write_bytes(report("1" * 10_000_000))
    _mosquitto_pub(shared_backend, f"{pid}&d1", secrets["d1"], f"$ota/up/report/{pid}/d1", huge, "mp-huge")
    devs["d2"].report("1.6.0")
    _wait_version(api, pid, "d2", "1.6.0")
    time.sleep(0.5)
    assert _version(api, pid, "d1") == "1.5.0"
    assert _health(api)["dispatcherAlive"] is True
    conf = (shared_backend.data_dir / "mqtt" / "mosquitto.conf").read_text()
    assert "max_packet_size 262144" in conf.splitlines()


def _connect_as(port: int, user: str, secret: str, client_id: str) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                         protocol=paho.MQTTv311)
    client.username_pw_set(user, secret)
    acks: list = []
    client.on_connect = lambda c, u, f, rc, p: acks.append(rc)
    client.connect("127.0.0.1", port)
    client.loop_start()
    wait_for(lambda: acks, 10, what="a CONNACK")
    client.refused = acks[0].is_failure  # type: ignore[attr-defined]
    return client


@needs_broker
def test_device_with_the_old_backend_client_id_cannot_take_the_backend_over(api, fleet, shared_backend):
    pid, secrets, devs = fleet
    id_file = shared_backend.data_dir / "mqtt-client-id"
    backend_id = id_file.read_text().strip()
    assert backend_id.startswith(LEGACY_CLIENT_ID + "-") and len(backend_id) >= 28
    assert stat.S_IMODE(os.stat(id_file).st_mode) == 0o600
    assert f"MQTT link {backend_id} connected" in shared_backend.log

    disconnects_before = shared_backend.log.count(f"MQTT link {backend_id} disconnected")
    squatter = _connect_as(shared_backend.mqtt_port, f"{pid}&d3", secrets["d3"], LEGACY_CLIENT_ID)
    # With the client-id guard (broker plugin, built where gcc and mosquitto-dev exist) the broker
    # refuses the id outright; without it the squatter gets a session of its own, not the backend's.
    guarded = "client ids are not bound to credentials" not in shared_backend.log
    assert squatter.refused is guarded
    try:
        squatter.subscribe("$ota/up/#", 1)  # into whatever session it got: not the backend's
        deadline = time.monotonic() + 4  # the takeover used to drop the backend's link every ~2 s
        while time.monotonic() < deadline:
            assert _health(api)["mqttConnected"] is True
            time.sleep(0.2)
        devs["d1"].report("4.0.0")
        _wait_version(api, pid, "d1", "4.0.0")
    finally:
        squatter.disconnect()
        squatter.loop_stop()
        _close_wakeup_sockets(squatter)
    assert shared_backend.log.count(f"MQTT link {backend_id} disconnected") == disconnects_before
    health = _health(api)
    assert health["mqttConnected"] is True and health["dispatcherAlive"] is True


@needs_broker
def test_backend_client_id_is_kept_across_restarts(start_backend):
    first = start_backend("kept")
    client_id = (first.data_dir / "mqtt-client-id").read_text().strip()
    assert client_id != LEGACY_CLIENT_ID
    # a new client id: the session of the old fixed id is retired (after its messages were applied)
    wait_for(lambda: "old client id ota-backend holds no session" in first.log, 20, what="the old session retired")
    password = (first.data_dir / "mqtt-service-password").read_text().strip()
    present: list = []
    probe = paho.Client(CallbackAPIVersion.VERSION2, client_id=LEGACY_CLIENT_ID, clean_session=False,
                        protocol=paho.MQTTv311)
    probe.username_pw_set("ota-backend", password)
    probe.on_connect = lambda c, u, flags, rc, p: present.append(flags.session_present)
    probe.connect("127.0.0.1", first.mqtt_port)
    probe.loop_start()
    try:
        assert wait_for(lambda: present, 5) and present[0] is False
    finally:
        probe.disconnect()
        probe.loop_stop()
        _close_wakeup_sockets(probe)
    first.stop()
    second = start_backend("kept")
    assert (second.data_dir / "mqtt-client-id").read_text().strip() == client_id
    wait_for(lambda: f"MQTT link {client_id} connected" in second.log, 15, what="the link to connect")
    assert f"MQTT link {client_id} connected to" in second.log
    line = [x for x in second.log.splitlines() if f"MQTT link {client_id} connected to" in x][-1]
    assert "session present: True" in line  # the broker kept the session under the same id
    assert "old client id" not in second.log  # retired once, not on every start

