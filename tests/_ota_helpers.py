"""Helpers for end-to-end tests: the seed walk-through steps, a downlink capture, an SSE client."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid

import httpx

from backend.mqtt.link import MqttLink
from devsim import Credential, Fleet, SimOptions

from ._examples import example
from ._wait import wait_for
from .conftest import TOKEN

SEED_PRODUCT = "26wrGK4KbrW"


def upload(api, data: bytes, name: str = "xx.zip") -> str:
    body = dict(example("upload-url-create.request.json"), filePath=f"{SEED_PRODUCT}/{name}")
    d = api.ok("/api/v1/system/common/upload-url/create", body)
    r = api.http.put(d["uploadUri"], content=data)
    assert r.status_code == 200, r.text
    return d["filePath"]


def seed_firmware(api, product_id: str = SEED_PRODUCT, version: str = "1.0.0", sizes=(16600, 40000),
                  sign_method: str = "md5") -> tuple[int, dict[str, bytes]]:
    """Upload two files and create the seed firmware from them; returns (firmwareID, name -> bytes)."""
    seed = example("firmware-create.request.json")
    contents = {f["name"]: os.urandom(size) for f, size in zip(seed["files"], sizes)}
    files = [{"filePath": upload(api, contents[f["name"]], f["name"]), "name": f["name"]} for f in seed["files"]]
    body = dict(seed, productID=product_id, version=version, signMethod=sign_method, files=files)
    return api.ok("/api/v1/things/ota/firmware/create", body)["firmwareID"], contents


def make_product(api, product_id: str | None = None) -> str:
    product_id = product_id or ("p" + uuid.uuid4().hex[:10])
    api.ok("/api/v1/things/product/info/create", {"productID": product_id, "productName": "test product"})
    return product_id


def make_devices(api, product_id: str, count: int, version: str = "0.9.0", prefix: str = "dev") -> list[Credential]:
    devices = [{"deviceName": f"{prefix}{i:05d}", "version": version} for i in range(1, count + 1)]
    data = api.ok("/api/v1/things/device/info/import", {"productID": product_id, "devices": devices})
    return [Credential(d["productID"], d["deviceName"], d["deviceSecret"]) for d in data["list"]]


def fleet_for(backend, creds, **kw) -> Fleet:
    kw.setdefault("options", SimOptions(flash_seconds=0.05, reconnect_delay=0.5))
    return Fleet(creds, mqtt_url=f"mqtt://127.0.0.1:{backend.mqtt_port}", base_url=backend.base_url, **kw)


def task_create(api, firmware_id: int, **fields) -> tuple[int, str]:
    body = dict(example("task-create.request.json"), firmwareID=firmware_id, **fields)
    d = api.ok("/api/v1/things/ota/task/create", body)
    return d["taskID"], d["taskUid"]


def records(api, task_uid: str) -> dict[str, dict]:
    out, page = {}, 1
    while True:
        d = api.ok("/api/v1/things/ota/task/device-index", {"taskUid": task_uid, "page": {"page": page, "size": 1000}})
        out.update({r["deviceName"]: r for r in d["list"]})
        if len(out) >= d["total"] or not d["list"]:
            return out
        page += 1


def wait_records(api, task_uid: str, want, timeout: float = 60) -> dict[str, dict]:
    """Wait until want(records) is true; returns the records."""
    holder = {}

    def check():
        holder["r"] = records(api, task_uid)
        return want(holder["r"])
    try:
        wait_for(check, timeout, 0.2, "records")
    except AssertionError:
        raise AssertionError(f"records never matched; now: { {k: (v['status'], v['step'], v['desc']) for k, v in holder.get('r', {}).items()} }") from None
    return holder["r"]


def task_status(api, task_id: int) -> int:
    return api.ok("/api/v1/things/ota/task/read", {"taskID": task_id})["status"]


class Capture:
    """Every downlink message, captured with the backend's service account."""

    def __init__(self, backend, topic: str = "$ota/down/#"):
        self.messages: list[tuple[float, str, dict]] = []
        self._lock = threading.Lock()
        self.link = MqttLink(backend.service_mqtt_url, client_id=f"capture-{uuid.uuid4().hex[:8]}",
                             on_message=self._on, subscriptions=[(topic, 1)])

    def _on(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self.messages.append((time.monotonic(), topic, json.loads(payload)))

    def __enter__(self) -> Capture:
        self.link.start()
        assert self.link.wait_connected(10)
        time.sleep(0.3)  # subscription settled
        return self

    def __exit__(self, *exc) -> None:
        self.link.stop()

    def pushes(self, device: str | None = None) -> list[dict]:
        with self._lock:
            return [m for _, t, m in self.messages if t.startswith("$ota/down/upgrade/")
                    and (device is None or t.endswith("/" + device))]

    def acks(self, device: str) -> list[dict]:
        with self._lock:
            return [m for _, t, m in self.messages if t == f"$ota/down/progress/{t.split('/')[3]}/{device}"]

    def push_times(self) -> list[float]:
        with self._lock:
            return [ts for ts, t, _ in self.messages if t.startswith("$ota/down/upgrade/")]


class SseClient:
    """Reads the events stream on a thread; `events` holds (id, event) in arrival order."""

    def __init__(self, base_url: str, last_event_id: int | None = None):
        self.base_url = base_url
        self.events: list[tuple[int, dict]] = []
        self.last_event_id = last_event_id
        self._stop = threading.Event()
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> SseClient:
        self._thread.start()
        assert self.connected.wait(10), "events stream did not connect"
        return self

    def _run(self) -> None:
        try:
            self._read()
        except httpx.HTTPError:
            pass  # the backend went away: the test has what it got

    def _read(self) -> None:
        headers = {"iThings-token": TOKEN}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        with httpx.stream("GET", self.base_url + "/api/v1/things/ota/events", headers=headers,
                          timeout=httpx.Timeout(5, read=None)) as r:
            assert r.status_code == 200
            self.connected.set()
            ev_id, data = None, []
            for line in r.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("id:"):
                    ev_id = int(line[3:].strip())
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line == "" and data:
                    self.events.append((ev_id or 0, json.loads("\n".join(data))))
                    ev_id, data = None, []

    def stop(self) -> None:
        self._stop.set()

    def of_type(self, kind: str) -> list[dict]:
        return [e for _, e in self.events if e.get("type") == kind]
