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
