"""The backend's MQTT link against a real Mosquitto: session, reconnect, queued delivery."""

from __future__ import annotations

import json
import threading
import time

import pytest

from backend.mqtt.broker import EmbeddedMosquitto
from backend.mqtt.link import MqttLink, parse_mqtt_url
from ota_protocol.messages import parse_up
from tests._mqtt_fixtures import (
    DEVICES,
    MQTT_MARKS,
    Inbox,
    TestClient,
)
from tests._wait import wait_for

pytestmark = MQTT_MARKS

D1 = DEVICES[0]
UP_D1 = "$ota/up/report/P1/d1"
REPORT = json.dumps({"method": "reportInfo", "clientToken": "t-1", "params": {"version": "1.0.0"}}).encode()


def device(b: EmbeddedMosquitto, **kw) -> TestClient:
    return TestClient(b.port, f"{D1.product_id}&{D1.device_name}", D1.secret, **kw)


class States:
    def __init__(self) -> None:
        self.seen: list[bool] = []

    def __call__(self, connected: bool) -> None:
        self.seen.append(connected)


@pytest.fixture
def link_factory(broker):
    links: list[MqttLink] = []

    def make(*, client_id: str = "ota-backend-test", on_message=None, on_state=None, url=None) -> MqttLink:
        link = MqttLink(url or broker.url, client_id, on_message or Inbox(), on_state=on_state)
        links.append(link)
        link.start()
        return link

    yield make
    for link in links:
        link.stop()


# --------------------------------------------------------------------------- URLs


def test_parse_mqtt_url_forms():
    plain = parse_mqtt_url("mqtt://ota%40x:p%3Aw%2F@127.0.0.1:1884")
    assert (plain.host, plain.port, plain.username, plain.password, plain.tls) == (
        "127.0.0.1",
        1884,
        "ota@x",
        "p:w/",
        False,
    )
    assert "p:w/" not in plain.redacted()
    tls = parse_mqtt_url("mqtts://u:p@broker.example?ca=/etc/ca.pem")
    assert (tls.port, tls.tls, tls.ca_file) == (8883, True, "/etc/ca.pem")
    anon = parse_mqtt_url("mqtt://[::1]")
    assert (anon.host, anon.port, anon.username) == ("::1", 1883, None)
    for bad in ("http://x", "mqtt://", "mqtt://x?ca=/a", "mqtts://x?foo=1", "mqtt://x:99999"):
        with pytest.raises(ValueError):
            parse_mqtt_url(bad)


def test_tls_url_configures_tls(tmp_path):
    ca = tmp_path / "missing-ca.pem"
    with pytest.raises(OSError):  # paho loads the CA file at construction
        MqttLink(f"mqtts://u:p@127.0.0.1:1?ca={ca}", "c", Inbox())


# --------------------------------------------------------------------------- basics


def test_receives_device_messages_and_reports_state(broker, link_factory):
    inbox, states = Inbox(), States()
    link = link_factory(on_message=inbox, on_state=states)
    assert link.wait_connected(5) and link.connected
    dev = device(broker)
    try:
        dev.publish(UP_D1, REPORT)
        topic, payload = inbox.get()
        assert parse_up(topic, payload).version == "1.0.0"
    finally:
        dev.close()
    link.stop()
    assert states.seen == [True, False] and not link.connected


def test_publish_reaches_the_device(broker, link_factory):
    link = link_factory()
    assert link.wait_connected(5)
    dev = device(broker, subscribe=[("$ota/down/+/P1/d1", 1)])
    try:
        assert link.publish("$ota/down/upgrade/P1/d1", b"push")
        assert dev.inbox.get() == ("$ota/down/upgrade/P1/d1", b"push")
    finally:
        dev.close()


def test_handler_exceptions_do_not_stop_the_loop(broker, link_factory, caplog):
    got: list[bytes] = []

    def handler(topic: str, payload: bytes) -> None:
        got.append(payload)
        if payload == b"boom":
            raise RuntimeError("handler bug")

    link = link_factory(on_message=handler, on_state=lambda c: 1 / 0)
    assert link.wait_connected(5)
    dev = device(broker)
    try:
        dev.publish(UP_D1, b"boom")
        dev.publish(UP_D1, b"after")
        wait_for(lambda: got == [b"boom", b"after"])
    finally:
        dev.close()
    assert "handler bug" in caplog.text and "on_state callback failed" in caplog.text
    assert link.connected


def test_bulk_publish_from_many_threads(broker, link_factory):
    link = link_factory()
    assert link.wait_connected(5)
    dev = device(broker, subscribe=[("$ota/down/+/P1/d1", 1)])
    per_thread, threads = 500, 4

    def burst(n: int) -> None:
        for i in range(per_thread):
            assert link.publish("$ota/down/upgrade/P1/d1", f"{n}-{i}".encode())

    try:
        workers = [threading.Thread(target=burst, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wait_for(lambda: dev.inbox.queue.qsize() == per_thread * threads, timeout=10)
    finally:
        dev.close()


# --------------------------------------------------------------------------- outages


def test_start_does_not_block_when_the_broker_is_down(tmp_path):
    mosq = EmbeddedMosquitto(tmp_path / "late", port=0)
    mosq.start()
    url, port = mosq.url, mosq.port
    mosq.stop()
    link = MqttLink(url, "early-bird", Inbox())
    try:
        started = time.monotonic()
        link.start()
        assert time.monotonic() - started < 0.5
        assert not link.wait_connected(0.3)
        mosq.start()  # same port, same service credentials
        assert mosq.port == port
        assert link.wait_connected(5)
    finally:
        link.stop()
        mosq.stop()


def test_reconnects_and_resubscribes_after_broker_restart(broker, link_factory):
    inbox, states = Inbox(), States()
    link = link_factory(on_message=inbox, on_state=states)
    assert link.wait_connected(5)
    broker.stop()
    wait_for(lambda: not link.connected)
    # Throw the broker's saved sessions away: only a fresh SUBSCRIBE can bring messages now.
    (broker.dir / "mosquitto.db").unlink()
    broker.restart()
    assert link.wait_connected(5)
    dev = device(broker)
    try:
        dev.publish(UP_D1, b"after restart")
        assert inbox.get() == (UP_D1, b"after restart")
    finally:
        dev.close()
    assert states.seen == [True, False, True]


def test_messages_sent_while_the_link_is_away_arrive_later(broker, link_factory):
    first = link_factory(client_id="ota-backend-persist")
    assert first.wait_connected(5)
    first.stop()  # backend away, broker keeps its session
    dev = device(broker)
    try:
        dev.publish(UP_D1, b"while away 1")
        dev.publish(UP_D1, b"while away 2")
    finally:
        dev.close()
    inbox = Inbox()
    second = link_factory(client_id="ota-backend-persist", on_message=inbox)
    assert second.wait_connected(5)
    assert [inbox.get(), inbox.get()] == [(UP_D1, b"while away 1"), (UP_D1, b"while away 2")]


def test_publish_during_an_outage_is_sent_after_reconnect(broker, link_factory):
    dev = device(broker, client_id="P1&d1", clean_session=False, subscribe=[("$ota/down/+/P1/d1", 1)])
    link = link_factory()
    try:
        assert link.wait_connected(5)
        broker.stop()
        wait_for(lambda: not link.connected)
        assert link.publish("$ota/down/upgrade/P1/d1", b"queued in the backend")
        broker.restart()
        assert dev.inbox.get(timeout=8) == ("$ota/down/upgrade/P1/d1", b"queued in the backend")
    finally:
        dev.close()


# --------------------------------------------------------------------------- batched acks, the publish window


def _manual_link(broker, client_id: str, got: list, **kw) -> MqttLink:
    link = MqttLink(broker.url, client_id, lambda t, p, ack: got.append((p, ack)), manual_ack=True, **kw)
    link.start()
    assert link.wait_connected(5)
    return link


def test_ack_all_acknowledges_every_message_in_one_write(broker):
    """Many PUBACKs in one packet write: each one counts (nothing is delivered again), and
    what was never acknowledged is delivered again to the next session."""
    got: list = []
    link = _manual_link(broker, "ota-backend-acks", got)
    dev = device(broker)
    try:
        for i in range(30):
            dev.publish(UP_D1, f"m{i}".encode())
        wait_for(lambda: len(got) == 30)
        link.ack_all([ack for _p, ack in got[:20]])  # the first 20 applied; 20..29 not
        time.sleep(0.3)
    finally:
        dev.close()
        link.stop()
    again: list = []
    link = _manual_link(broker, "ota-backend-acks", again)
    try:
        wait_for(lambda: len(again) == 10)
        assert [p for p, _ in again] == [f"m{i}".encode() for i in range(20, 30)]
        assert all(ack is not None for _p, ack in again)
        # an earlier connection's acks are not sent on this one (the broker redelivered those)
        link.ack_all([ack for _p, ack in got[20:]])
        link.ack_all([ack for _p, ack in again])
        time.sleep(0.3)
    finally:
        link.stop()
    last: list = []
    link = _manual_link(broker, "ota-backend-acks", last)
    try:
        time.sleep(0.5)
        assert last == []
    finally:
        link.stop()


def test_publish_window_keeps_order_and_sends_everything(broker):
    """More publishes than the window: the rest wait in the link's backlog, in order."""
    link = MqttLink(broker.url, "ota-backend-window", Inbox(), max_inflight=3)
    link.start()
    dev = device(broker, subscribe=[("$ota/down/+/P1/d1", 1)])
    try:
        assert link.wait_connected(5)
        for i in range(300):
            assert link.publish("$ota/down/progress/P1/d1", f"{i}".encode())
        received = [dev.inbox.get()[1] for _ in range(300)]
        assert received == [f"{i}".encode() for i in range(300)]
        wait_for(lambda: link.backlog == 0 and link._unacked == 0)
    finally:
        dev.close()
        link.stop()


def test_large_backlog_beyond_the_packet_ids(broker):
    """More unacknowledged publishes than MQTT has packet ids (65,535) are not refused."""
    link = MqttLink(broker.url, "ota-backend-many", Inbox())
    link.start()
    try:
        assert link.wait_connected(5)
        assert all(link.publish("$ota/down/progress/P1/nobody", b"x") for _ in range(70_000))
        wait_for(lambda: link.backlog == 0 and link._unacked == 0, timeout=60)
    finally:
        link.stop()


def test_dispatcher_sends_a_batch_of_link_acks_in_one_write_after_it_applied(monkeypatch):
    """The link's acknowledgements of a batch leave in one ``ack_all``, only after the batch's
    transaction returned; a batch that could not apply (database down) is not acknowledged."""
    from backend.mqtt import dispatcher as dm
    from backend.mqtt.link import Ack
    monkeypatch.setattr(dm, "RETRY_FIRST_DELAY_S", 0.05)
    events: list = []
    outage = {"left": 51}  # the batch, then each of its 50 messages alone: systemic, kept

    class StubLink:
        def ack_all(self, acks):
            events.append(("ack", sorted(a.mid for a in acks)))

    def handle(msgs):
        if outage["left"] > 0:
            outage["left"] -= 1
            events.append(("failed", len(msgs)))
            raise ConnectionError("database is down")
        events.append(("committed", len(msgs)))

    link = StubLink()
    d = dm.Dispatcher(handle, lambda t, p: None)
    report = json.dumps({"method": "reportInfo", "clientToken": "t", "params": {"version": "1.0.0"}}).encode()
    for i in range(1, 51):
        d.on_message(f"$ota/up/report/P/d{i}", report, ack=Ack(link, 0, i))  # type: ignore[arg-type]
    d.start()
    try:
        assert d.drain(10)
    finally:
        d.stop()
    assert events[:51] == [("failed", 50)] + [("failed", 1)] * 50  # nothing acknowledged
    assert events[51:] == [("committed", 50), ("ack", list(range(1, 51)))]


class _FakePaho:
    """Stands in for paho under the link's window: holds QoS 1 publishes until "acknowledged"."""

    def __init__(self) -> None:
        self.held: dict[int, tuple[str, bytes]] = {}
        self.sent: list[bytes] = []
        self._mid = 0

    def publish(self, topic, payload, qos=1):
        from types import SimpleNamespace

        from paho.mqtt.enums import MQTTErrorCode
        self._mid += 1
        self.held[self._mid] = (topic, payload)
        self.sent.append(payload)
        return SimpleNamespace(rc=MQTTErrorCode.MQTT_ERR_SUCCESS, mid=self._mid)

    def holds(self, mid: int) -> bool:
        return mid in self.held


def test_publish_window_is_not_left_full_by_a_connection_that_died():
    """A full window whose PUBACKs died with the connection: paho keeps those publishes and sends
    them again after the reconnect, the new broker acknowledges them, and the window drains the
    backlog (acknowledgements to devices are never blocked for good by a broker crash)."""
    link = MqttLink("mqtt://127.0.0.1:1", "ota-backend-fake", lambda *a: None, max_inflight=2)
    fake = _FakePaho()
    link._client = fake  # type: ignore[assignment]
    for i in range(5):
        assert link.publish("$ota/down/progress/P1/d1", f"{i}".encode())
    assert fake.sent == [b"0", b"1"] and link.backlog == 3 and link._unacked == 2
    # the connection dies: no PUBACK for 0 and 1; after the reconnect paho sends them again (DUP)
    # and the new broker acknowledges each (paho calls on_publish, then forgets the message)
    for mid in sorted(fake.held):
        if mid <= 2:
            link._handle_published(fake, None, mid, None, None)  # type: ignore[arg-type]
            del fake.held[mid]
    assert fake.sent == [b"0", b"1", b"2", b"3"] and link.backlog == 1 and link._unacked == 2
    while fake.held:
        mid = min(fake.held)
        link._handle_published(fake, None, mid, None, None)  # type: ignore[arg-type]
        del fake.held[mid]
    assert fake.sent == [f"{i}".encode() for i in range(5)]
    assert link.backlog == 0 and link._unacked == 0
