"""The live events stream (spec section 8): order, catch-up with Last-Event-ID, resync."""

from __future__ import annotations

import json

import httpx

from ._ota_helpers import SseClient, make_devices, make_product, seed_firmware, task_create
from ._wait import wait_for
from .conftest import TOKEN


def test_stream_needs_the_token(shared_backend):
    r = httpx.get(shared_backend.base_url + "/api/v1/things/ota/events", timeout=5)
    assert r.status_code == 401


def test_reconnect_with_last_event_id_gets_what_was_missed(start_backend):
    backend = start_backend()
    api = backend.api()
    first = SseClient(backend.base_url).start()
    pid = make_product(api)
    make_devices(api, pid, 3)
    fw_id, _ = seed_firmware(api, pid)
    task_create(api, fw_id)
    wait_for(lambda: len(first.of_type("record")) == 3 and first.of_type("task"), 10, what="first events")
    last_seen = first.events[-1][0]
    first.stop()
    task_id, _ = task_create(api, fw_id, overwrite=True)  # 3 cancellations + 3 new records + task event
    api.ok("/api/v1/things/ota/task/cancel", {"taskID": task_id})
    again = SseClient(backend.base_url, last_event_id=last_seen).start()
    wait_for(lambda: len(again.events) >= 10, 10, what="missed events")
    ids = [i for i, _ in again.events]
    assert ids[0] == last_seen + 1 and ids == list(range(ids[0], ids[0] + len(ids)))
    kinds = [e["type"] for _, e in again.events]
    assert kinds.count("record") >= 9 and "resync" not in kinds
    assert {e["status"] for e in again.of_type("record")} == {701, 202}
    again.stop()
    api.close()


def test_too_old_last_event_id_gets_resync(start_backend):
    backend = start_backend(extra_args=[], env={"OTA_EVENTS_BUFFER": "5"})
    api = backend.api()
    pid = make_product(api)
    make_devices(api, pid, 10)
    fw_id, _ = seed_firmware(api, pid)
    task_create(api, fw_id)  # 11 events, more than the buffer holds
    late = SseClient(backend.base_url, last_event_id=1).start()
    wait_for(lambda: late.events, 10, what="an event")
    assert late.events[0][1] == {"type": "resync"}
    late.stop()
    r = httpx.get(backend.base_url + "/api/v1/health")
    assert r.status_code == 200
    api.close()
    assert TOKEN


def test_event_ids_from_an_earlier_run_get_a_resync(start_backend):
    backend = start_backend()
    api = backend.api()
    sse = SseClient(backend.base_url).start()
    pid = make_product(api)
    make_devices(api, pid, 2)
    task_create(api, seed_firmware(api, pid)[0])
    wait_for(lambda: len(sse.events) >= 3, 10, what="events of the first run")
    old_id = sse.events[-1][0]
    sse.stop()
    api.close()
    backend.stop()
    again = start_backend()  # a later run: its ids must not overlap the first run's
    api = again.api()
    pid = make_product(api)
    make_devices(api, pid, 10)
    task_create(api, seed_firmware(api, pid)[0])  # more events than the first run had
    late = SseClient(again.base_url, last_event_id=old_id).start()
    wait_for(lambda: late.events, 10, what="an event")
    assert late.events[0][1]["type"] == "resync"
    late.stop()
    api.close()


def test_a_burst_larger_than_the_buffer_keeps_the_newest_and_says_the_rest_were_missed():
    from backend.event_bus import EventBus

    bus = EventBus(capacity=100)
    start = bus._next_id
    bus.publish_many([{"n": i} for i in range(250)])
    events, missed = bus.since(start - 1)
    assert missed and len(events) == 100
    assert [e[0] for e in events] == list(range(start + 150, start + 250))  # ids as if all were kept
    assert json.loads(events[0][1]) == {"n": 150} and json.loads(events[-1][1]) == {"n": 249}
    assert bus.since(start + 249) == ([], False)
