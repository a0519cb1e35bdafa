"""Every route of spec sections 2-6 against the real backend (SQLite and PostgreSQL).

The backend runs as a child process (conftest `api` / `shared_backend`); payloads come from
docs/examples/. Files travel the way a user's would: upload-url create, a raw PUT
of the bytes to `uploadUri`, firmware create, download through the returned `uri`.
State-changing device messages (success, failure, progress) are sent over MQTT by a plain
paho client logged in with the device's credentials, exactly as a device would.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests._examples import example
from tests._wait import wait_for
from tests.conftest import BackendProcess

pytestmark = [pytest.mark.timeout(120), pytest.mark.both_databases]

UPLOAD = "/api/v1/system/common/upload-url/create"
PRODUCT = "/api/v1/things/product/info/"
DEVICE = "/api/v1/things/device/info/"
FIRMWARE = "/api/v1/things/ota/firmware/"
TASK = "/api/v1/things/ota/task/"

SEED_PRODUCT = "26wrGK4KbrW"
UUID_KEY = re.compile(r"^productManage/ota/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.zip$")


# ---- helpers (also used by test_api_rejections and test_storage_external) -------------------

def new_pid() -> str:
    """A fresh 11-character productID, so tests sharing a backend never see each other."""
    return "T" + secrets.token_hex(5)


def settled(predicate: Callable[[], object], what: str = "the change to show") -> object:
    """Read-after-write: a change answered with 200 is visible in the very next request
    (it once was committed after the response; see test_writes_are_visible_to_the_next_request)."""
    value = predicate()
    assert value, f"{what}: not visible in the next request"
    return value


def make_product(api, pid: str | None = None, name: str = "测试产品") -> str:
    pid = api.ok(PRODUCT + "create", {"productID": pid or new_pid(), "productName": name})["productID"]
    settled(lambda: api.call(PRODUCT + "read", {"productID": pid})[0] == 200)
    return pid


def make_devices(api, pid: str, names: list[str], version: str = "0.9.0") -> dict[str, str]:
    """Import devices; returns name -> deviceSecret."""
    data = api.ok(DEVICE + "import", {"productID": pid,
                                      "devices": [{"deviceName": n, "version": version} for n in names]})
    settled(lambda: api.call(DEVICE + "read", {"productID": pid, "deviceName": names[-1]})[0] == 200)
    return {d["deviceName"]: d["deviceSecret"] for d in data["list"]}


def upload(api, data: bytes, file_path: str = "pkg/xx.zip", rename: bool = True) -> str:
    """upload-url create + raw PUT of the bytes; returns the stored filePath."""
    got = api.ok(UPLOAD, {"business": "productManage", "scene": "ota", "filePath": file_path, "rename": rename})
    r = api.http.put(got["uploadUri"], content=data)
    assert r.status_code == 200, (r.status_code, r.text)
    return got["filePath"]


def make_firmware(api, pid: str, version: str, files: dict[str, bytes], sign: str = "md5",
                  **extra) -> int:
    body = {"name": f"fw {version}", "productID": pid, "version": version, "isDiff": 1, "signMethod": sign,
            "desc": "", "extData": "", **extra,
            "files": [{"filePath": upload(api, data), "name": name} for name, data in files.items()]}
    return api.ok(FIRMWARE + "create", body)["firmwareID"]


def records(api, task_uid: str, **filters) -> list[dict]:
    data = api.ok(TASK + "device-index", {"taskUid": task_uid, "page": {"page": 1, "size": 1000}, **filters})
    assert data["total"] == len(data["list"])
    return data["list"]


def record_of(api, task_uid: str, device: str) -> dict:
    (rec,) = [r for r in records(api, task_uid) if r["deviceName"] == device]
    return rec


def store_of(backend: BackendProcess):
    """An S3Store on the backend's embedded nanio (its credentials live in the data dir)."""
    from backend.storage.s3 import S3Store
    state = json.loads((Path(backend.data_dir) / "objects.json").read_text())
    return S3Store(f"http://127.0.0.1:{state['port']}", state["access_key"], state["secret_key"])


def private_keys(store, pid: str) -> list[str]:
    from backend.storage.base import PRIVATE_BUCKET
    return [o.object_name for o in store.client.list_objects(PRIVATE_BUCKET, prefix=f"productManage/ota/{pid}/",
                                                             recursive=True)]


class MqttDevice:
    """A device on the backend's broker, logged in as `{productID}&{deviceName}` / deviceSecret."""

    def __init__(self, backend: BackendProcess, pid: str, name: str, secret: str, timeout: float = 15.0):
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion
        self.pid, self.name = pid, name
        self.pushes: list[dict] = []
        deadline = time.monotonic() + timeout
        while True:  # the broker learns new devices on the backend's next timer tick
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{pid}&{name}", protocol=paho.MQTTv311)
            client.username_pw_set(f"{pid}&{name}", secret)
            result: list = []
            client.on_connect = lambda c, u, f, rc, p: result.append(rc)  # noqa: B023  (called within this iteration only)
            client.on_message = lambda c, u, m: self.pushes.append(json.loads(m.payload))
            client.connect("127.0.0.1", backend.mqtt_port)
            client.loop_start()
            t_end = time.monotonic() + 3
            while not result and time.monotonic() < t_end:
                time.sleep(0.02)
            if result and not result[0].is_failure:
                break
            client.disconnect()
            client.loop_stop()
            if time.monotonic() > deadline:
                raise AssertionError(f"device {pid}&{name} could not log in to the broker: {result}")
            time.sleep(0.2)
        self.client = client
        subscribed: list = []
        client.on_subscribe = lambda *a: subscribed.append(a)
        client.subscribe(f"$ota/down/upgrade/{pid}/{name}", 1)
        wait_for(lambda: subscribed, 5, what="SUBACK")

    def _send(self, kind: str, doc: dict) -> None:
        self.client.publish(f"$ota/up/{kind}/{self.pid}/{self.name}", json.dumps(doc), qos=1).wait_for_publish(5)

    def report(self, version: str) -> None:
        doc = example("mqtt-up-report.json")
        doc["params"]["version"] = version
        doc["timestamp"] = int(time.time() * 1000)
        self._send("report", doc)

    def progress(self, record_id: int, step: int, desc: str = "downloading") -> None:
        doc = example("mqtt-up-progress.json")
        doc["params"].update(id=record_id, step=step, desc=desc)
        doc["timestamp"] = int(time.time() * 1000)
        self._send("progress", doc)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def devices_online(shared_backend):
    """Factory for MqttDevice; every device is disconnected after the test."""
    made: list[MqttDevice] = []

    def connect(pid: str, name: str, secret: str) -> MqttDevice:
        dev = MqttDevice(shared_backend, pid, name, secret)
        made.append(dev)
        return dev

    yield connect
    for d in made:
        d.close()


# ---- the seed walk-through -------------------------------------------------------------------

def test_seed_walkthrough(api, shared_backend):
    """The seed document end to end: product 26wrGK4KbrW, two uploads, firmware, task."""
    assert api.ok(PRODUCT + "create", {"productID": SEED_PRODUCT, "productName": "ota"}) == {"productID": SEED_PRODUCT}
    settled(lambda: api.call(PRODUCT + "read", {"productID": SEED_PRODUCT})[0] == 200)
    blobs = [secrets.token_bytes(16600), secrets.token_bytes(70_001)]
    paths = []
    for blob in blobs:
        got = api.ok(UPLOAD, example("upload-url-create.request.json"))
        assert UUID_KEY.match(got["filePath"]), got
        assert got["uploadUri"].split("?")[0] == "/api/v1/oss/ithings-temporary/" + got["filePath"]
        seed_uri = example("upload-url-create.response.json")["data"]["uploadUri"]
        seed_params = [p.split("=")[0] for p in seed_uri.split("?", 1)[1].split("&")]
        assert [p.split("=")[0] for p in got["uploadUri"].split("?", 1)[1].split("&")] == seed_params
        query = dict(p.split("=", 1) for p in got["uploadUri"].split("?", 1)[1].split("&"))
        assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
        assert query["X-Amz-Expires"] == "86400"
        assert query["X-Amz-SignedHeaders"] == "host"
        assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"])
        r = api.http.put(got["uploadUri"], content=blob)
        assert r.status_code == 200, r.text
        paths.append(got["filePath"])
    assert paths[0] != paths[1]

    body = example("firmware-create.request.json")
    for f, path in zip(body["files"], paths):
        f["filePath"] = path
    fw_id = api.ok(FIRMWARE + "create", body)["firmwareID"]
    assert isinstance(fw_id, int)
    fw = api.ok(FIRMWARE + "read", {"firmwareID": fw_id})
    assert (fw["name"], fw["version"], fw["productID"], fw["isDiff"], fw["signMethod"], fw["desc"]) == \
        ("ota测试", "1.0.0", SEED_PRODUCT, 1, "md5", "ota测试")
    by_name = {f["name"]: f for f in fw["files"]}
    assert set(by_name) == {"xx2.zip", "xx.zip"}
    for f, blob in zip(body["files"], blobs):
        got = by_name[f["name"]]
        assert got["size"] == len(blob)
        assert got["signature"] == hashlib.md5(blob).hexdigest()
        r = api.http.get(got["uri"])
        assert r.status_code == 200 and r.content == blob
    assert fw["totalSize"] == sum(map(len, blobs))

    make_devices(api, SEED_PRODUCT, ["dev-1", "dev-2", "dev-3"], "0.9.0")
    task_body = dict(example("task-create.request.json"), firmwareID=fw_id)
    task = api.ok(TASK + "create", task_body)
    assert isinstance(task["taskID"], int) and task["taskUid"]
    recs = records(api, task["taskUid"])
    assert sorted(r["deviceName"] for r in recs) == ["dev-1", "dev-2", "dev-3"]
    assert all(r["status"] == 202 for r in recs)  # offline devices wait


# ---- products --------------------------------------------------------------------------------

def test_product_routes(api):
    made = api.ok(PRODUCT + "create", {"productName": "generated id", "desc": "d"})
    pid = made["productID"]
    assert re.fullmatch(r"[A-Za-z0-9]{11}", pid)
    other = api.ok(PRODUCT + "create", {"productName": "generated id"})["productID"]
    assert other != pid

    got = settled(lambda: api.call(PRODUCT + "read", {"productID": pid})[1].get("data"))
    assert (got["productID"], got["productName"], got["desc"]) == (pid, "generated id", "d")
    assert abs(got["createdTime"] - time.time() * 1000) < 120_000

    api.ok(PRODUCT + "update", {"productID": pid, "productName": "renamed"})
    settled(lambda: api.ok(PRODUCT + "read", {"productID": pid})["productName"] == "renamed")
    assert api.ok(PRODUCT + "read", {"productID": pid})["desc"] == "d"  # untouched
    api.ok(PRODUCT + "update", {"productID": pid, "desc": "new desc"})
    settled(lambda: api.ok(PRODUCT + "read", {"productID": pid})["desc"] == "new desc")
    assert api.ok(PRODUCT + "read", {"productID": pid})["productName"] == "renamed"

    unique = "uniq-" + secrets.token_hex(4)
    named = make_product(api, name=unique)
    idx = api.ok(PRODUCT + "index", {"productName": unique})
    assert idx["total"] == 1 and [p["productID"] for p in idx["list"]] == [named]
    settled(lambda: api.call(PRODUCT + "read", {"productID": other})[0] == 200)
    everything = api.ok(PRODUCT + "index", {"page": {"page": 1, "size": 1000}})
    assert {pid, other, named} <= {p["productID"] for p in everything["list"]}
    assert everything["total"] >= 3
    page = api.ok(PRODUCT + "index", {"page": {"page": 2, "size": 1}})
    assert len(page["list"]) == 1 and page["total"] == everything["total"]

    make_devices(api, pid, ["pd-1"])
    api.ok(PRODUCT + "delete", {"productID": pid})
    settled(lambda: api.call(PRODUCT + "read", {"productID": pid})[0] != 200)
    status, doc = api.call(PRODUCT + "read", {"productID": pid})
    assert status == 404 and doc["code"] == 100009
    assert api.ok(DEVICE + "index", {"productID": pid})["total"] == 0  # its devices went with it


# ---- devices ---------------------------------------------------------------------------------

def test_device_routes(api):
    pid = make_product(api)
    made = api.ok(DEVICE + "create", {"productID": pid, "deviceName": "alpha", "version": "0.9.0"})
    assert (made["productID"], made["deviceName"], made["version"]) == (pid, "alpha", "0.9.0")
    assert re.fullmatch(r"[A-Za-z0-9]{16,}", made["deviceSecret"])
    assert made["online"] is False
    given = api.ok(DEVICE + "create", {"productID": pid, "deviceName": "beta", "deviceSecret": "my-own-secret"})
    assert given["deviceSecret"] == "my-own-secret"
    settled(lambda: api.call(DEVICE + "read", {"productID": pid, "deviceName": "beta"})[0] == 200)

    got = api.ok(DEVICE + "read", {"productID": pid, "deviceName": "alpha"})
    assert got["deviceSecret"] == made["deviceSecret"] and got["version"] == "0.9.0"
    for key in ("online", "lastSeen"):
        assert key in got

    api.ok(DEVICE + "update", {"productID": pid, "deviceName": "alpha", "version": "0.9.5"})
    settled(lambda: api.ok(DEVICE + "read", {"productID": pid, "deviceName": "alpha"})["version"] == "0.9.5")

    idx = api.ok(DEVICE + "index", {"productID": pid})
    assert idx["total"] == 2 and all("deviceSecret" not in d for d in idx["list"])
    idx = api.ok(DEVICE + "index", {"productID": pid, "withSecret": True})
    assert {d["deviceName"]: d["deviceSecret"] for d in idx["list"]} == \
        {"alpha": made["deviceSecret"], "beta": "my-own-secret"}

    imported = api.ok(DEVICE + "import", {"productID": pid, "devices": [
        {"deviceName": "json-1", "version": "1.0.0"}, {"deviceName": "json-2"}]})
    assert imported["total"] == 2
    assert all(re.fullmatch(r"[A-Za-z0-9]{16,}", d["deviceSecret"]) for d in imported["list"])
    csv_header = api.ok(DEVICE + "import", {"productID": pid,
                                            "csv": "deviceName,version,deviceSecret\ncsv-1,0.8.0,sek-1\ncsv-2,0.8.1,\n"})
    assert csv_header["total"] == 2
    csv_bare = api.ok(DEVICE + "import", {"productID": pid, "csv": "bare-1\nbare-2\nbare-3\n"})
    assert csv_bare["total"] == 3
    settled(lambda: api.ok(DEVICE + "index", {"productID": pid})["total"] == 9)
    assert api.ok(DEVICE + "read", {"productID": pid, "deviceName": "csv-1"})["deviceSecret"] == "sek-1"
    assert api.ok(DEVICE + "read", {"productID": pid, "deviceName": "csv-2"})["version"] == "0.8.1"
    assert api.ok(DEVICE + "read", {"productID": pid, "deviceName": "json-1"})["version"] == "1.0.0"

    idx = api.ok(DEVICE + "index", {"productID": pid, "page": {"page": 1, "size": 3}})
    assert idx["total"] == 9 and len(idx["list"]) == 3
    idx2 = api.ok(DEVICE + "index", {"productID": pid, "page": {"page": 2, "size": 3}})
    assert not {d["deviceName"] for d in idx["list"]} & {d["deviceName"] for d in idx2["list"]}
    assert api.ok(DEVICE + "index", {"productID": pid, "deviceName": "csv-"})["total"] == 2
    assert api.ok(DEVICE + "index", {"productID": pid, "version": "0.8.0"})["total"] == 1

    api.ok(DEVICE + "delete", {"productID": pid, "deviceName": "beta"})
    settled(lambda: api.call(DEVICE + "read", {"productID": pid, "deviceName": "beta"})[0] != 200)
    status, doc = api.call(DEVICE + "read", {"productID": pid, "deviceName": "beta"})
    assert status == 404 and doc["code"] == 100009
    assert api.ok(DEVICE + "index", {"productID": pid})["total"] == 8


def walk(api, route: str, body: dict, size: int) -> tuple[list[dict], int, list[int]]:
    """Every page of an index in turn: (rows in page order, the total each page said, page lengths)."""
    rows: list[dict] = []
    lengths: list[int] = []
    totals: set[int] = set()
    page = 1
    while True:
        data = api.ok(route, {**body, "page": {"page": page, "size": size}})
        totals.add(data["total"])
        if not data["list"]:
            break
        rows += data["list"]
        lengths.append(len(data["list"]))
        page += 1
    assert len(totals) == 1, totals  # the same total on every page
    return rows, totals.pop(), lengths


def test_index_pages_filtered_and_paged(api):
    """Device and record indexes: every page in creation order, the last page partial, totals
    right with each filter, and a page past the end empty (pages past the middle are read from
    the end, so both directions are walked here)."""
    pid = make_product(api)
    other = make_product(api)
    names = [f"dev-{i:03d}" for i in range(57)]
    versions = {n: "2.0.0" if i % 10 == 3 else "0.8.0" if i % 5 == 0 else "0.9.0" for i, n in enumerate(names)}
    api.ok(DEVICE + "import", {"productID": pid, "devices": [{"deviceName": n, "version": versions[n]}
                                                            for n in names]})
    make_devices(api, other, names[:5], "0.8.0")  # same names, another product: never listed

    rows, total, lengths = walk(api, DEVICE + "index", {"productID": pid}, 10)
    assert [d["deviceName"] for d in rows] == names and total == 57 and lengths == [10] * 5 + [7]
    assert all(d["productID"] == pid and d["version"] == versions[d["deviceName"]] for d in rows)
    old = [n for n in names if versions[n] == "0.8.0"]
    rows, total, lengths = walk(api, DEVICE + "index", {"productID": pid, "version": "0.8.0"}, 5)
    assert [d["deviceName"] for d in rows] == old and total == len(old) == 12 and lengths == [5, 5, 2]
    rows, total, lengths = walk(api, DEVICE + "index", {"productID": pid, "deviceName": "-01"}, 3)
    assert [d["deviceName"] for d in rows] == names[10:20] and total == 10 and lengths == [3, 3, 3, 1]
    both = api.ok(DEVICE + "index", {"productID": pid, "deviceName": "-0", "version": "2.0.0",
                                     "page": {"page": 2, "size": 2}})
    assert (both["total"], [d["deviceName"] for d in both["list"]]) == (6, ["dev-023", "dev-033"])
    far = api.ok(DEVICE + "index", {"productID": pid, "page": {"page": 10**6, "size": 1000}})
    assert far == {"list": [], "total": 57}
    assert api.ok(DEVICE + "index", {"productID": pid, "version": "9.9.9"}) == {"list": [], "total": 0}

    fw_id = make_firmware(api, pid, "1.0.0", {"fw.bin": b"x"})
    uid = api.ok(TASK + "create", {"firmwareID": fw_id, "type": 1})["taskUid"]
    rows, total, lengths = walk(api, TASK + "device-index", {"taskUid": uid}, 10)
    assert [r["deviceName"] for r in rows] == names and total == 57 and lengths == [10] * 5 + [7]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    newer = [n for n in names if versions[n] == "2.0.0"]
    rows, total, lengths = walk(api, TASK + "device-index", {"taskUid": uid, "status": 601}, 2)
    assert [r["deviceName"] for r in rows] == newer and total == 6 and lengths == [2, 2, 2]
    assert {r["desc"] for r in rows} == {"device version is newer than the package"}
    rows, total, lengths = walk(api, TASK + "device-index", {"taskUid": uid, "status": 202}, 25)
    assert [r["deviceName"] for r in rows] == [n for n in names if n not in newer] and lengths == [25, 25, 1]
    rows, total, _ = walk(api, TASK + "device-index", {"taskUid": uid, "status": 202, "deviceName": "-01"}, 4)
    assert [r["deviceName"] for r in rows] == [n for n in names[10:20] if n not in newer] and total == 9
    assert api.ok(TASK + "device-index", {"taskUid": uid, "status": 501}) == {"list": [], "total": 0}


# ---- uploads and object routes ---------------------------------------------------------------

def test_upload_url_keys(api):
    renamed = api.ok(UPLOAD, {"business": "productManage", "scene": "ota", "filePath": "abc/xx.zip", "rename": True})
    assert UUID_KEY.match(renamed["filePath"])
    again = api.ok(UPLOAD, {"business": "productManage", "scene": "ota", "filePath": "abc/xx.zip", "rename": True})
    assert again["filePath"] != renamed["filePath"]
    tar = api.ok(UPLOAD, {"business": "b", "scene": "s", "filePath": "x.tar.gz", "rename": True})
    assert re.fullmatch(r"b/s/[0-9a-f-]{36}\.gz", tar["filePath"])

    kept = api.ok(UPLOAD, {"business": "productManage", "scene": "ota", "filePath": "abc/固件 v1.bin"})
    assert kept["filePath"] == "productManage/ota/abc/固件 v1.bin"
    assert kept["uploadUri"].startswith("/api/v1/oss/ithings-temporary/productManage/ota/abc/")
    r = api.http.put(kept["uploadUri"], content=b"unicode key")
    assert r.status_code == 200, r.text
    fw_pid = make_product(api)
    fw = api.ok(FIRMWARE + "create", {"name": "n", "productID": fw_pid, "version": "1",
                                      "files": [{"filePath": kept["filePath"], "name": "固件.bin"}]})
    f = api.ok(FIRMWARE + "read", {"firmwareID": fw["firmwareID"]})["files"][0]
    assert f["name"] == "固件.bin" and f["size"] == len(b"unicode key")
    assert api.http.get(f["uri"]).content == b"unicode key"


def test_firmware_files_size_digest_and_download(api):
    pid = make_product(api)
    big = secrets.token_bytes(3 * 1024 * 1024 + 17)
    small = secrets.token_bytes(1000)
    md5_id = make_firmware(api, pid, "2.0.0", {"big.bin": big, "small.bin": small})
    sha_id = make_firmware(api, pid, "2.0.1", {"big.bin": big}, sign="sha256", isDiff=2)

    fw = api.ok(FIRMWARE + "read", {"firmwareID": md5_id})
    files = {f["name"]: f for f in fw["files"]}
    assert files["big.bin"]["size"] == len(big) and files["small.bin"]["size"] == len(small)
    assert files["big.bin"]["signature"] == hashlib.md5(big).hexdigest()
    assert files["small.bin"]["signature"] == hashlib.md5(small).hexdigest()
    assert fw["totalSize"] == len(big) + len(small)

    sha = api.ok(FIRMWARE + "read", {"firmwareID": sha_id})
    assert (sha["signMethod"], sha["isDiff"]) == ("sha256", 2)
    assert sha["files"][0]["signature"] == hashlib.sha256(big).hexdigest()
    assert sha["files"][0]["size"] == len(big)

    uri = files["big.bin"]["uri"]
    assert uri.startswith("/api/v1/oss/ithings-private/") and "X-Amz-Signature=" in uri
    r = api.http.get(uri)
    assert r.status_code == 200 and r.content == big
    r = api.http.get(uri, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == big[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(big)}"
    resume_at = len(big) - 12345  # a device resuming an interrupted download
    r = api.http.get(uri, headers={"Range": f"bytes={resume_at}-"})
    assert r.status_code == 206 and r.content == big[resume_at:]


def test_head_on_file_uri(api):
    pid = make_product(api)
    blob = secrets.token_bytes(4321)
    fw = api.ok(FIRMWARE + "read", {"firmwareID": make_firmware(api, pid, "1.0.0", {"a.bin": blob})})
    r = api.http.head(fw["files"][0]["uri"])
    assert r.status_code == 200
    assert int(r.headers["content-length"]) == len(blob)
    assert r.content == b""


def test_same_extension_files_do_not_overwrite(api):
    """Spec section 9: two files of one product with the same extension used to share a key."""
    pid = make_product(api)
    a, b, c = (secrets.token_bytes(5000 + i) for i in range(3))
    fw1 = api.ok(FIRMWARE + "read", {"firmwareID": make_firmware(api, pid, "1.0.0", {"xx.zip": a, "xx2.zip": b})})
    fw2 = api.ok(FIRMWARE + "read", {"firmwareID": make_firmware(api, pid, "1.0.1", {"xx.zip": c})})
    for fw, expected in ((fw1, {"xx.zip": a, "xx2.zip": b}), (fw2, {"xx.zip": c})):
        for f in fw["files"]:
            blob = expected[f["name"]]
            assert api.http.get(f["uri"]).content == blob
            assert f["signature"] == hashlib.md5(blob).hexdigest()


# ---- firmware --------------------------------------------------------------------------------

def test_firmware_index_update_device_info(api):
    pid = make_product(api, name="indexed product")
    other_pid = make_product(api)
    first = make_firmware(api, pid, "1.0.0", {"a.bin": b"one"})
    time.sleep(0.02)
    second = make_firmware(api, pid, "1.1.0", {"a.bin": b"two"})
    make_firmware(api, other_pid, "1.0.0", {"a.bin": b"other"})

    idx = api.ok(FIRMWARE + "index", {"productID": pid})
    assert idx["total"] == 2
    assert [f["firmwareID"] for f in idx["list"]] == [second, first]
    row = idx["list"][1]
    assert (row["name"], row["version"], row["productID"], row["productName"], row["isDiff"],
            row["signMethod"], row["totalSize"]) == ("fw 1.0.0", "1.0.0", pid, "indexed product", 1, "md5", 3)
    t1, t2 = idx["list"][1]["createdTime"], idx["list"][0]["createdTime"]
    assert t1 < t2
    only_second = api.ok(FIRMWARE + "index", {"productID": pid, "timeStart": t2})
    assert [f["firmwareID"] for f in only_second["list"]] == [second] and only_second["total"] == 1
    only_first = api.ok(FIRMWARE + "index", {"productID": pid, "timeStart": t1, "timeEnd": t2 - 1})
    assert [f["firmwareID"] for f in only_first["list"]] == [first]
    assert api.ok(FIRMWARE + "index", {"productID": pid, "timeStart": t2 + 1})["total"] == 0
    page2 = api.ok(FIRMWARE + "index", {"productID": pid, "page": {"page": 2, "size": 1}})
    assert page2["total"] == 2 and [f["firmwareID"] for f in page2["list"]] == [first]
    assert api.ok(FIRMWARE + "index", {})["total"] >= 3

    api.ok(FIRMWARE + "update", {"firmwareID": first, "name": "renamed", "desc": "notes", "extData": '{"k":1}'})
    fw = settled(lambda: (f := api.ok(FIRMWARE + "read", {"firmwareID": first}))["name"] == "renamed" and f)
    assert (fw["name"], fw["desc"], fw["extData"], fw["version"]) == ("renamed", "notes", '{"k":1}', "1.0.0")
    api.ok(FIRMWARE + "update", {"firmwareID": first, "desc": "only desc"})
    fw = settled(lambda: (f := api.ok(FIRMWARE + "read", {"firmwareID": first}))["desc"] == "only desc" and f)
    assert (fw["name"], fw["desc"]) == ("renamed", "only desc")

    assert api.ok(FIRMWARE + "device-info-read", {"firmwareID": first}) == {"versions": ""}
    make_devices(api, pid, ["v1", "v2"], "0.9.1")
    make_devices(api, pid, ["v3"], "0.9.0")
    api.ok(DEVICE + "create", {"productID": pid, "deviceName": "noversion"})
    make_devices(api, other_pid, ["elsewhere"], "7.7.7")
    settled(lambda: api.call(DEVICE + "read", {"productID": pid, "deviceName": "noversion"})[0] == 200)
    assert api.ok(FIRMWARE + "device-info-read", {"firmwareID": first}) == {"versions": "0.9.0,0.9.1"}


def test_firmware_delete_removes_files_and_tasks(api):
    pid = make_product(api)
    make_devices(api, pid, ["d1", "d2"])
    fw_id = make_firmware(api, pid, "1.0.0", {"a.bin": b"A" * 100, "b.bin": b"B" * 200})
    uris = [f["uri"] for f in api.ok(FIRMWARE + "read", {"firmwareID": fw_id})["files"]]
    task = api.ok(TASK + "create", {"firmwareID": fw_id, "type": 1, "upgradeType": 1})

    status, doc = api.call(FIRMWARE + "delete", {"firmwareID": fw_id})
    assert (status, doc["code"]) == (409, 2100002), doc  # its task still runs
    assert api.http.get(uris[0]).status_code == 200

    api.ok(TASK + "cancel", {"taskID": task["taskID"]})
    api.ok(FIRMWARE + "delete", {"firmwareID": fw_id})
    settled(lambda: api.call(FIRMWARE + "read", {"firmwareID": fw_id})[0] != 200)
    status, doc = api.call(FIRMWARE + "read", {"firmwareID": fw_id})
    assert (status, doc["code"]) == (404, 100009)
    assert api.ok(FIRMWARE + "index", {"productID": pid})["total"] == 0
    for uri in uris:
        assert api.http.get(uri).status_code in (403, 404)
    status, doc = api.call(TASK + "read", {"taskID": task["taskID"]})
    assert (status, doc["code"]) == (404, 100009)
    assert api.ok(TASK + "index", {"firmwareID": fw_id})["total"] == 0
    status, doc = api.call(TASK + "device-index", {"taskUid": task["taskUid"]})
    assert (status, doc["code"]) == (404, 100009)
    # the version is free again
    again = make_firmware(api, pid, "1.0.0", {"a.bin": b"new"})
    assert api.http.get(api.ok(FIRMWARE + "read", {"firmwareID": again})["files"][0]["uri"]).content == b"new"


# ---- tasks -----------------------------------------------------------------------------------

def test_task_all_devices_beyond_100(api):
    """Spec section 9: "all devices" tasks used to cover only the first 100 devices."""
    pid = make_product(api)
    names = [f"dev-{i:04d}" for i in range(150)]
    make_devices(api, pid, names, "0.9.0")
    make_devices(api, pid, ["already-there"], "1.0.0")
    fw_id = make_firmware(api, pid, "1.0.0", {"fw.bin": b"x" * 10})
    task = api.ok(TASK + "create", example("task-create.request.json") | {"firmwareID": fw_id})
    recs = records(api, task["taskUid"])
    assert sorted(r["deviceName"] for r in recs) == names  # everyone but the device already on 1.0.0
    assert {(r["version"], r["targetVersion"]) for r in recs} == {("0.9.0", "1.0.0")}
    paged = api.ok(TASK + "device-index", {"taskUid": task["taskUid"], "page": {"page": 2, "size": 100}})
    assert paged["total"] == 150 and len(paged["list"]) == 50
    analysis = json.loads(api.ok(TASK + "analysis", {"taskUid": task["taskUid"]})["result"])
    assert analysis["total"] == 150 and analysis["statusCount"]["202"] == 150
    # static: a device added later does not join
    make_devices(api, pid, ["late"], "0.9.0")
    assert api.ok(TASK + "device-index", {"taskUid": task["taskUid"]})["total"] == 150


def test_task_targeted_read_and_index(api):
    pid = make_product(api, name="targeted product")
    make_devices(api, pid, ["t1", "t2", "t3"], "0.9.0")
    fw_id = make_firmware(api, pid, "1.2.0", {"fw.bin": b"x"})
    as_list = api.ok(TASK + "create", {"firmwareID": fw_id, "type": 2, "upgradeType": 1,
                                       "deviceList": ["t1", "t3"], "versionList": ""})
    assert sorted(r["deviceName"] for r in records(api, as_list["taskUid"])) == ["t1", "t3"]
    as_text = api.ok(TASK + "create", {"firmwareID": fw_id, "type": 2, "upgradeType": 1,
                                       "deviceList": '["t2"]', "versionList": "", "overwrite": True,
                                       "retryCount": 2, "timeoutMinutes": 5, "maxPerMinute": 10})
    assert [r["deviceName"] for r in records(api, as_text["taskUid"])] == ["t2"]

    read = api.ok(TASK + "read", {"taskID": as_list["taskID"]})
    assert (read["taskID"], read["taskUid"], read["type"], read["upgradeType"], read["version"],
            read["productID"], read["productName"], read["srcDevice"], read["srcVersion"]) == \
        (as_list["taskID"], as_list["taskUid"], 2, 1, "1.2.0", pid, "targeted product", "t1,t3", "")
    assert read["status"] == 2
    assert (read["retryCount"], read["retryIntervalMinutes"], read["timeoutMinutes"], read["maxPerMinute"],
            read["grayPercent"], read["scheduleTime"], read["overwrite"]) == (0, 10, 60, 0, 100, 0, False)
    read2 = api.ok(TASK + "read", {"taskID": as_text["taskID"]})
    assert (read2["retryCount"], read2["timeoutMinutes"], read2["maxPerMinute"], read2["overwrite"]) == \
        (2, 5, 10, True)

    idx = api.ok(TASK + "index", {"firmwareID": fw_id})
    assert idx["total"] == 2
    assert {t["taskID"] for t in idx["list"]} == {as_list["taskID"], as_text["taskID"]}
    row = next(t for t in idx["list"] if t["taskID"] == as_list["taskID"])
    assert (row["taskUid"], row["type"], row["upgradeType"], row["status"]) == (as_list["taskUid"], 2, 1, 2)
    assert isinstance(row["createdTime"], int)
    one = api.ok(TASK + "index", {"firmwareID": fw_id, "taskUid": as_text["taskUid"]})
    assert one["total"] == 1 and one["list"][0]["taskID"] == as_text["taskID"]
    paged = api.ok(TASK + "index", {"firmwareID": fw_id, "page": {"page": 2, "size": 1}})
    assert paged["total"] == 2 and len(paged["list"]) == 1

    scheduled = api.ok(TASK + "create", {"firmwareID": fw_id, "type": 2, "deviceList": ["t1"], "overwrite": True,
                                         "scheduleTime": int(time.time() * 1000) + 3_600_000})
    assert api.ok(TASK + "read", {"taskID": scheduled["taskID"]})["status"] == 1  # not started yet
    api.ok(TASK + "cancel", {"taskID": scheduled["taskID"]})
    assert api.ok(TASK + "read", {"taskID": scheduled["taskID"]})["status"] == 4


def test_task_dynamic_adds_devices_later(api, devices_online):
    pid = make_product(api)
    make_devices(api, pid, ["old-1", "old-2"], "0.9.0")
    make_devices(api, pid, ["other"], "0.8.0")
    fw_id = make_firmware(api, pid, "1.0.0", {"fw.bin": b"x"})
    task = api.ok(TASK + "create", {"firmwareID": fw_id, "type": 1, "upgradeType": 2,
                                    "deviceList": "", "versionList": '["0.9.0"]'})
    assert sorted(r["deviceName"] for r in records(api, task["taskUid"])) == ["old-1", "old-2"]
    read = api.ok(TASK + "read", {"taskID": task["taskID"]})
    assert (read["upgradeType"], read["srcVersion"], read["status"]) == (2, "0.9.0", 2)

    secret = api.ok(DEVICE + "create", {"productID": pid, "deviceName": "newcomer", "version": "0.9.0"})["deviceSecret"]
    settled(lambda: api.call(DEVICE + "read", {"productID": pid, "deviceName": "newcomer"})[0] == 200)
    dev = devices_online(pid, "newcomer", secret)
    dev.report("0.9.0")
    rec = wait_for(lambda: [r for r in records(api, task["taskUid"]) if r["deviceName"] == "newcomer"],
                   timeout=15, what="the dynamic task to add the newcomer")[0]
    assert rec["targetVersion"] == "1.0.0" and rec["version"] == "0.9.0"
    assert rec["status"] in (201, 301)


def test_task_status_rules(api, devices_online):
    """device-retry / device-cancel / cancel: what each record status allows (spec section 5)."""
    pid = make_product(api)
    secrets_ = make_devices(api, pid, ["ok", "newer", "busy", "cancelme", "waiting"], "0.9.0")
    fw_id = make_firmware(api, pid, "1.0.0", {"fw.bin": b"firmware"})
    task = api.ok(TASK + "create", {"firmwareID": fw_id, "type": 1, "upgradeType": 1, "retryCount": 0})
    uid = task["taskUid"]
    assert {r["status"] for r in records(api, uid)} == {202}
    rid = {r["deviceName"]: r["id"] for r in records(api, uid)}

    ok_dev, newer_dev, busy_dev = (devices_online(pid, n, secrets_[n]) for n in ("ok", "newer", "busy"))
    ok_dev.report("1.0.0")
    newer_dev.report("9.9.9")
    busy_dev.report("0.9.0")
    wait_for(lambda: record_of(api, uid, "ok")["status"] == 501, timeout=15, what="ok -> 501")
    wait_for(lambda: record_of(api, uid, "newer")["status"] == 601, timeout=15, what="newer -> 601")
    wait_for(lambda: record_of(api, uid, "busy")["status"] == 301, timeout=15, what="busy -> 301 (pushed)")
    wait_for(lambda: busy_dev.pushes, timeout=15, what="the upgrade push")
    push = busy_dev.pushes[0]
    assert push["data"]["id"] == rid["busy"] and push["data"]["version"] == "1.0.0"
    busy_dev.progress(rid["busy"], 40)
    wait_for(lambda: record_of(api, uid, "busy")["status"] == 401, timeout=15, what="busy -> 401")
    assert record_of(api, uid, "busy")["step"] == 40
    assert record_of(api, uid, "newer")["desc"] == "device version is newer than the package"

    def refused(route: str, record: str, code: int) -> None:
        status, doc = api.call(TASK + route, {"id": rid[record]})
        assert (status, doc["code"]) == (409, code), (route, record, doc)

    refused("device-retry", "ok", 2100001)      # 501
    refused("device-retry", "busy", 2100001)    # 401
    refused("device-cancel", "ok", 2100002)     # 501
    refused("device-cancel", "newer", 2100002)  # 601
    assert record_of(api, uid, "ok")["status"] == 501 and record_of(api, uid, "newer")["status"] == 601

    api.ok(TASK + "device-cancel", {"id": rid["cancelme"]})
    assert record_of(api, uid, "cancelme")["status"] == 701

    analysis = json.loads(api.ok(TASK + "analysis", {"taskUid": uid})["result"])
    assert analysis["total"] == 5
    counts = {k: v for k, v in analysis["statusCount"].items() if v}
    assert counts == {"202": 1, "401": 1, "501": 1, "601": 1, "701": 1}
    assert analysis["successRate"] == pytest.approx(0.2)

    assert [r["deviceName"] for r in records(api, uid, status=601)] == ["newer"]
    assert [r["deviceName"] for r in records(api, uid, deviceName="cancel")] == ["cancelme"]

    before = record_of(api, uid, "newer")["retryCount"]
    n_pushes = len(newer_dev.pushes)
    api.ok(TASK + "device-retry", {"id": rid["newer"]})  # 601 may be retried: pushed again now
    rec = record_of(api, uid, "newer")
    assert rec["status"] == 301 and rec["retryCount"] == before + 1
    wait_for(lambda: len(newer_dev.pushes) > n_pushes, timeout=15, what="the retry push")

    api.ok(TASK + "cancel", {"taskID": task["taskID"]})
    assert api.ok(TASK + "read", {"taskID": task["taskID"]})["status"] == 4
    final = {r["deviceName"]: r["status"] for r in records(api, uid)}
    assert final == {"ok": 501, "newer": 701, "busy": 701, "cancelme": 701, "waiting": 701}
    status, doc = api.call(TASK + "cancel", {"taskID": task["taskID"]})
    assert (status, doc["code"]) == (409, 2100002)
    status, doc = api.call(TASK + "device-retry", {"id": rid["waiting"]})
    assert (status, doc["code"]) == (409, 2100001)  # its task was cancelled


def test_task_done_then_cancel_refused(api, devices_online):
    pid = make_product(api)
    secret = make_devices(api, pid, ["solo"], "0.9.0")["solo"]
    fw_id = make_firmware(api, pid, "1.0.0", {"fw.bin": b"x"})
    task = api.ok(TASK + "create", {"firmwareID": fw_id, "type": 2, "deviceList": ["solo"]})
    devices_online(pid, "solo", secret).report("1.0.0")
    wait_for(lambda: api.ok(TASK + "read", {"taskID": task["taskID"]})["status"] == 3, timeout=15, what="task done")
    status, doc = api.call(TASK + "cancel", {"taskID": task["taskID"]})
    assert (status, doc["code"]) == (409, 2100002)
    # firmware of a finished task can be deleted
    api.ok(FIRMWARE + "delete", {"firmwareID": fw_id})


def test_writes_are_visible_to_the_next_request(api):
    """A client that got 200 for a change must see it in its next request."""
    pid = new_pid()
    api.ok(PRODUCT + "create", {"productID": pid, "productName": "n-start"})
    settled(lambda: api.call(PRODUCT + "read", {"productID": pid})[0] == 200)
    for i in range(150):
        api.ok(PRODUCT + "update", {"productID": pid, "productName": f"n{i}"})
        assert api.ok(PRODUCT + "read", {"productID": pid})["productName"] == f"n{i}", f"stale read after {i} updates"
        name = f"d{i}"
        api.ok(DEVICE + "create", {"productID": pid, "deviceName": name})
        status, doc = api.call(DEVICE + "read", {"productID": pid, "deviceName": name})
        assert status == 200, f"device {name} created (200) but not found right after: {doc}"
