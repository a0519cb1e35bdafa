"""Every rejection rule of spec sections 1-6 against the real backend (SQLite and PostgreSQL).

Each rejected request is checked for its HTTP status, its iThings code, a message naming the
bad field (or the missing thing), and that nothing was written: counts are taken before and
after, and the same body with the one fault removed is then accepted, so the rejection was
caused by that fault alone.
"""

from __future__ import annotations

import copy
import datetime
import secrets
from urllib.parse import urlsplit

import pytest

from backend.storage.base import PRIVATE_BUCKET, TEMPORARY_BUCKET
from tests._examples import example
from tests.conftest import TOKEN
from tests.test_api_routes import (
    DEVICE,
    FIRMWARE,
    PRODUCT,
    TASK,
    UPLOAD,
    make_devices,
    make_firmware,
    make_product,
    new_pid,
    private_keys,
    records,
    settled,
    store_of,
    upload,
)

pytestmark = [pytest.mark.timeout(120), pytest.mark.both_databases]

class _Missing:
    """A field left out of the body (a stable repr: test ids must be the same in every process)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def with_changes(body: dict, changes: dict) -> dict:
    out = copy.deepcopy(body)
    for key, value in changes.items():
        if value is MISSING:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def rejected(api, path: str, body, status: int, code: int, *names: str, **kw) -> str:
    got_status, doc = api.call(path, body, **kw)
    assert (got_status, doc.get("code")) == (status, code), (path, body, got_status, doc)
    assert "data" not in doc
    for name in names:
        assert name in doc["msg"], (name, doc["msg"])
    return doc["msg"]


def param_error(api, path: str, body, field: str) -> str:
    """400 / 100006 with the message starting with the field's name."""
    msg = rejected(api, path, body, 400, 100006)
    assert msg.startswith(field) and msg[len(field):][:1] in (":", " ", ".", "["), (field, msg)
    return msg


# ---- upload-url paths ------------------------------------------------------------------------

BAD_PATHS = ["", "a//b.zip", "a/", "../x.zip", "a/../b.zip", "./a.zip", "a/./b.zip", "/abs/x.zip", "a\\b.zip",
             "a\x00b.zip", "a\x01b.zip", "a\tb.zip", "a\nb.zip", "a\x7fb.zip",
             *[f"a{c}b.zip" for c in ",?*|{}$'\"`"]]


@pytest.mark.parametrize("bad", BAD_PATHS, ids=repr)
def test_upload_url_bad_paths(api, bad):
    body = dict(example("upload-url-create.request.json"), filePath=bad)
    for rename in (True, False):
        param_error(api, UPLOAD, dict(body, rename=rename), "filePath")


def test_upload_url_other_rejections(api):
    base = example("upload-url-create.request.json")
    for no_ext in ("pkg/xx", "pkg/xx.", "pkg/.hidden"):
        param_error(api, UPLOAD, dict(base, filePath=no_ext), "filePath")
    assert api.ok(UPLOAD, dict(base, filePath="pkg/xx", rename=False))["filePath"] == "productManage/ota/pkg/xx"
    param_error(api, UPLOAD, with_changes(base, {"filePath": MISSING}), "filePath")
    param_error(api, UPLOAD, dict(base, filePath=5), "filePath")
    param_error(api, UPLOAD, with_changes(base, {"business": MISSING}), "business")
    param_error(api, UPLOAD, dict(base, business="a/b"), "business")
    param_error(api, UPLOAD, dict(base, scene=""), "scene")
    param_error(api, UPLOAD, dict(base, rename="yes"), "rename")
    param_error(api, UPLOAD, dict(base, rename=1), "rename")


# ---- presigned object routes -------------------------------------------------------------------

def _fresh_upload(api) -> dict:
    return api.ok(UPLOAD, {"business": "productManage", "scene": "ota", "filePath": "x/fw.bin", "rename": True})


def _assert_nothing_stored(api, store, file_path: str) -> None:
    assert not store.exists(TEMPORARY_BUCKET, file_path)
    pid = make_product(api)
    msg = rejected(api, FIRMWARE + "create", {"name": "n", "productID": pid, "version": "1.0.0",
                                              "files": [{"filePath": file_path, "name": "fw.bin"}]}, 400, 100006)
    assert msg.startswith(("files[0].filePath", "files.0.filePath")), msg
    assert api.ok(FIRMWARE + "index", {"productID": pid})["total"] == 0


def _tamper(uri: str, param: str, value: str) -> str:
    path, query = uri.split("?", 1)
    parts = [p if not p.startswith(param + "=") else f"{param}={value}" for p in query.split("&")]
    assert parts != query.split("&"), f"{param} not in {uri}"
    return path + "?" + "&".join(parts)


def _param(uri: str, param: str) -> str:
    return next(p.split("=", 1)[1] for p in uri.split("?", 1)[1].split("&") if p.startswith(param + "="))


def test_presigned_put_rejections_store_nothing(api, shared_backend):
    store = store_of(shared_backend)
    data = secrets.token_bytes(2048)

    def refused(uri: str, file_path: str, status: int = 403, method: str = "PUT") -> None:
        r = api.http.request(method, uri, content=data if method == "PUT" else None)
        assert r.status_code == status, (uri, r.status_code, r.text)
        _assert_nothing_stored(api, store, file_path)

    got = _fresh_upload(api)
    sig = _param(got["uploadUri"], "X-Amz-Signature")
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    refused(_tamper(got["uploadUri"], "X-Amz-Signature", flipped), got["filePath"])
    refused(_tamper(got["uploadUri"], "X-Amz-Expires", "604800"), got["filePath"])
    date = _param(got["uploadUri"], "X-Amz-Date")
    refused(_tamper(got["uploadUri"], "X-Amz-Date", str(int(date[:4]) + 1) + date[4:]), got["filePath"])
    refused(_tamper(got["uploadUri"], "X-Amz-SignedHeaders", "host%3Bx-amz-date"), got["filePath"])
    refused(_tamper(got["uploadUri"], "X-Amz-Credential", "someone-else%2F" + date[:8] + "%2Fus-east-1%2Fs3%2Faws4_request"),
            got["filePath"])
    no_sig = "&".join(p for p in got["uploadUri"].split("&") if not p.startswith("X-Amz-Signature="))
    refused(no_sig, got["filePath"])
    refused(got["uploadUri"].split("?")[0], got["filePath"])  # no query string at all

    # another key (or bucket) than the one signed, with a valid signature
    other_key = got["filePath"].rsplit("/", 1)[0] + "/someone-elses.bin"
    r = api.http.put(got["uploadUri"].replace(got["filePath"], other_key), content=data)
    assert r.status_code == 403
    _assert_nothing_stored(api, store, other_key)
    r = api.http.put(got["uploadUri"].replace("/ithings-temporary/", "/ithings-private/"), content=data)
    assert r.status_code == 403
    assert not store.exists(PRIVATE_BUCKET, got["filePath"])
    r = api.http.put(got["uploadUri"].replace("/ithings-temporary/", "/other-bucket/"), content=data)
    assert r.status_code in (403, 404)

    # only PUT is signed: other methods store nothing either
    for method in ("POST", "DELETE"):
        r = api.http.request(method, got["uploadUri"], content=data)
        assert r.status_code in (403, 405), (method, r.status_code)
    _assert_nothing_stored(api, store, got["filePath"])

    # after all that the genuine URL still works
    r = api.http.put(got["uploadUri"], content=data)
    assert r.status_code == 200
    assert store.digest(TEMPORARY_BUCKET, got["filePath"]).size == len(data)


def test_expired_presigned_urls(api, shared_backend):
    """URLs minted with the store's own key, dated so that they have already expired."""
    store = store_of(shared_backend)
    got = _fresh_upload(api)

    def minted(method: str, bucket: str, key: str, age: datetime.timedelta) -> str:
        date = datetime.datetime.now(datetime.UTC) - age
        url = store.client.get_presigned_url(method, bucket, key, expires=datetime.timedelta(hours=1),
                                             request_date=date)
        parts = urlsplit(url)
        return f"/api/v1/oss{parts.path}?{parts.query}"

    r = api.http.put(minted("PUT", TEMPORARY_BUCKET, got["filePath"], datetime.timedelta(hours=2)), content=b"late")
    assert r.status_code == 403, r.text
    _assert_nothing_stored(api, store, got["filePath"])
    # the same minting, in date, works: so the 403 above was the expiry
    r = api.http.put(minted("PUT", TEMPORARY_BUCKET, got["filePath"], datetime.timedelta(0)), content=b"on time")
    assert r.status_code == 200

    pid = make_product(api)
    blob = secrets.token_bytes(999)
    fw = api.ok(FIRMWARE + "read", {"firmwareID": make_firmware(api, pid, "1.0.0", {"f.bin": blob})})
    key = fw["files"][0]["uri"].split("?")[0].split("/ithings-private/", 1)[1]
    r = api.http.get(minted("GET", PRIVATE_BUCKET, key, datetime.timedelta(minutes=61)))
    assert r.status_code == 403 and blob not in r.content
    assert api.http.get(minted("GET", PRIVATE_BUCKET, key, datetime.timedelta(minutes=1))).content == blob


def test_presigned_get_rejections(api):
    pid = make_product(api)
    blob = secrets.token_bytes(3000)
    other = secrets.token_bytes(100)
    fw_id = make_firmware(api, pid, "1.0.0", {"a.bin": blob, "b.bin": other})
    files = {f["name"]: f["uri"] for f in api.ok(FIRMWARE + "read", {"firmwareID": fw_id})["files"]}
    uri = files["a.bin"]

    sig = _param(uri, "X-Amz-Signature")
    bad = [_tamper(uri, "X-Amz-Signature", ("0" if sig[0] != "0" else "1") + sig[1:]),
           _tamper(uri, "X-Amz-Expires", "604800"),
           uri.replace("/a.bin?", "/b.bin?"),  # the other file with a's signature
           uri.replace("/ithings-private/", "/ithings-temporary/"),
           "&".join(p for p in uri.split("&") if not p.startswith("X-Amz-Signature=")),
           uri.split("?")[0]]
    for u in bad:
        r = api.http.get(u)
        assert r.status_code == 403, (u, r.status_code)
        assert blob not in r.content and other not in r.content
        r = api.http.get(u, headers={"Range": "bytes=0-9"})
        assert r.status_code == 403 and r.content[:10] not in (blob[:10], other[:10])

    # a PUT-signed (upload) URL does not download, and a GET-signed URL does not upload
    got = _fresh_upload(api)
    assert api.http.put(got["uploadUri"], content=b"uploaded").status_code == 200
    assert api.http.get(got["uploadUri"]).status_code == 403
    r = api.http.put(uri, content=b"overwritten")
    assert r.status_code == 403
    assert api.http.get(uri).content == blob  # unchanged


# ---- tokens ---------------------------------------------------------------------------------

MANAGEMENT_ROUTES = [UPLOAD] + [PRODUCT + r for r in ("create", "update", "delete", "index", "read")] + \
    [DEVICE + r for r in ("create", "update", "delete", "index", "read", "import")] + \
    [FIRMWARE + r for r in ("create", "update", "delete", "index", "read", "device-info-read")] + \
    [TASK + r for r in ("create", "index", "read", "cancel", "device-index", "analysis", "device-cancel",
                        "device-retry")]


def test_token_required_on_every_management_route(api):
    pid = new_pid()
    bodies = {PRODUCT + "create": {"productID": pid, "productName": "x"},
              DEVICE + "create": {"productID": pid, "deviceName": "d"}}
    for route in MANAGEMENT_ROUTES:
        body = bodies.get(route, {})
        rejected(api, route, body, 401, 100004, "token", token=None)
        rejected(api, route, body, 401, 100005, "token", token="wrong-" + TOKEN)
        rejected(api, route, body, 401, 100005, "token", token=None, headers={"Authorization": "Bearer nope"})
        rejected(api, route, b"not json", 401, 100004, token=None)  # checked before the body
    for headers, code in (({}, 100004), ({"iThings-token": "nope"}, 100005), ({"Authorization": "Bearer nope"}, 100005)):
        r = api.http.get("/api/v1/things/ota/events", headers=headers)
        assert (r.status_code, r.json()["code"]) == (401, code)
    # nothing was written by the refused creates
    status, _ = api.call(PRODUCT + "read", {"productID": pid})
    assert status == 404
    # the header forms that are accepted
    assert api.call(PRODUCT + "index", {}, token=None, headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert api.call(PRODUCT + "index", {}, token=TOKEN)[0] == 200


def test_health_needs_no_token(api):
    r = api.http.get("/api/v1/health")
    assert r.status_code == 200 and r.json()["code"] == 200
    r = api.http.get("/api/v1/health", headers={"iThings-token": "wrong"})
    assert r.status_code == 200


# ---- not found / duplicates ---------------------------------------------------------------------

def test_unknown_things_are_404_naming_them(api):
    pid = make_product(api)
    make_devices(api, pid, ["known"])
    ghost = "Ghost" + secrets.token_hex(3)
    cases = [
        (PRODUCT + "read", {"productID": ghost}, ghost),
        (PRODUCT + "update", {"productID": ghost, "productName": "x"}, ghost),
        (PRODUCT + "delete", {"productID": ghost}, ghost),
        (DEVICE + "create", {"productID": ghost, "deviceName": "d"}, ghost),
        (DEVICE + "import", {"productID": ghost, "devices": [{"deviceName": "d"}]}, ghost),
        (DEVICE + "read", {"productID": pid, "deviceName": ghost}, ghost),
        (DEVICE + "update", {"productID": pid, "deviceName": ghost, "version": "1"}, ghost),
        (DEVICE + "delete", {"productID": pid, "deviceName": ghost}, ghost),
        (DEVICE + "read", {"productID": ghost, "deviceName": "known"}, ghost),
        (FIRMWARE + "create", {"name": "n", "productID": ghost, "version": "1",
                               "files": [{"filePath": upload(api, b"x"), "name": "a.bin"}]}, ghost),
        (FIRMWARE + "read", {"firmwareID": 987654321}, "987654321"),
        (FIRMWARE + "update", {"firmwareID": 987654321, "name": "x"}, "987654321"),
        (FIRMWARE + "delete", {"firmwareID": 987654321}, "987654321"),
        (FIRMWARE + "device-info-read", {"firmwareID": 987654321}, "987654321"),
        (TASK + "create", dict(example("task-create.request.json"), firmwareID=987654321), "987654321"),
        (TASK + "read", {"taskID": 987654321}, "987654321"),
        (TASK + "cancel", {"taskID": 987654321}, "987654321"),
        (TASK + "device-index", {"taskUid": "no-such-task-uid"}, "no-such-task-uid"),
        (TASK + "analysis", {"taskUid": "no-such-task-uid"}, "no-such-task-uid"),
        (TASK + "device-cancel", {"id": 987654321}, "987654321"),
        (TASK + "device-retry", {"id": 987654321}, "987654321"),
    ]
    for route, body, name in cases:
        rejected(api, route, body, 404, 100009, name)
    status, _ = api.call(PRODUCT + "read", {"productID": ghost})
    assert status == 404  # not created as a side effect
    assert api.ok(FIRMWARE + "index", {"productID": ghost})["total"] == 0


def test_duplicates_are_409(api):
    pid = make_product(api)
    rejected(api, PRODUCT + "create", {"productID": pid, "productName": "again"}, 409, 100010, pid)
    assert api.ok(PRODUCT + "read", {"productID": pid})["productName"] != "again"

    make_devices(api, pid, ["dup"], "0.1.0")
    rejected(api, DEVICE + "create", {"productID": pid, "deviceName": "dup", "version": "9"}, 409, 100010, "dup")
    assert api.ok(DEVICE + "read", {"productID": pid, "deviceName": "dup"})["version"] == "0.1.0"
    # an import with one existing name adds none of the others
    rejected(api, DEVICE + "import", {"productID": pid, "devices": [{"deviceName": "fresh-1"}, {"deviceName": "dup"},
                                                                    {"deviceName": "fresh-2"}]}, 409, 100010, "dup")
    rejected(api, DEVICE + "import", {"productID": pid, "csv": "fresh-3\ndup\n"}, 409, 100010, "dup")
    param_error(api, DEVICE + "import", {"productID": pid, "devices": [{"deviceName": "twice"},
                                                                       {"deviceName": "twice"}]}, "devices")
    assert api.ok(DEVICE + "index", {"productID": pid})["total"] == 1
    # the same name in another product is fine
    other = make_product(api)
    api.ok(DEVICE + "create", {"productID": other, "deviceName": "dup"})

    fw_id = make_firmware(api, pid, "1.0.0", {"a.bin": b"first"})
    path = upload(api, b"second")
    msg = rejected(api, FIRMWARE + "create", {"name": "again", "productID": pid, "version": "1.0.0",
                                              "files": [{"filePath": path, "name": "a.bin"}]}, 409, 100010, "1.0.0")
    assert msg.startswith("version")
    idx = api.ok(FIRMWARE + "index", {"productID": pid})
    assert idx["total"] == 1 and idx["list"][0]["firmwareID"] == fw_id
    f = api.ok(FIRMWARE + "read", {"firmwareID": fw_id})["files"][0]
    assert api.http.get(f["uri"]).content == b"first"  # not overwritten by the refused create
    # the same version in another product is fine, and the refused upload is still usable
    api.ok(FIRMWARE + "create", {"name": "n", "productID": other, "version": "1.0.0",
                                 "files": [{"filePath": path, "name": "a.bin"}]})


# ---- bodies that are not JSON objects -----------------------------------------------------------

@pytest.mark.parametrize("raw", [b"", b"not json at all", b"{", b'{"productName": "x"} trailing', b"[]",
                                 b"null", b'"text"', b"42", b"productName=x"], ids=repr)
def test_not_json_is_400(api, raw):
    for route in (PRODUCT + "create", FIRMWARE + "create", TASK + "create", UPLOAD):
        rejected(api, route, raw, 400, 100006)


# ---- firmware create -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fw_ctx(shared_backend):
    """A product and two uploads for firmware create bodies (rejections never consume them)."""
    api = shared_backend.api()
    pid = make_product(api)
    blobs = {"xx2.zip": secrets.token_bytes(1500), "xx.zip": secrets.token_bytes(2500)}
    body = example("firmware-create.request.json")
    body["productID"] = pid
    for f in body["files"]:
        f["filePath"] = upload(api, blobs[f["name"]])
    yield {"pid": pid, "body": body, "blobs": blobs, "store": store_of(shared_backend)}
    api.close()


FW_WRONG = [
    ({"name": MISSING}, "name"), ({"productID": MISSING}, "productID"), ({"version": MISSING}, "version"),
    ({"files": MISSING}, "files"), ({"name": 5}, "name"), ({"name": ""}, "name"), ({"productID": 123}, "productID"),
    ({"productID": "bad id"}, "productID"), ({"version": 100}, "version"), ({"version": 1.5}, "version"),
    ({"version": "1 0"}, "version"), ({"version": ""}, "version"), ({"isDiff": "1"}, "isDiff"),
    ({"isDiff": 3}, "isDiff"), ({"isDiff": 0}, "isDiff"), ({"isDiff": None}, "isDiff"),
    ({"signMethod": "crc"}, "signMethod"), ({"signMethod": "MD5"}, "signMethod"), ({"signMethod": 1}, "signMethod"),
    ({"desc": 5}, "desc"), ({"extData": {"a": 1}}, "extData"), ({"files": "xx.zip"}, "files"),
    ({"files": []}, "files"), ({"files": [{}]}, "files.0"), ({"files": [None]}, "files.0"),
]


@pytest.mark.parametrize("changes,field", FW_WRONG, ids=[f"{f}={v!r}"[:40] for c, f in FW_WRONG for v in c.values()])
def test_firmware_create_wrong_fields(api, fw_ctx, changes, field):
    param_error(api, FIRMWARE + "create", with_changes(fw_ctx["body"], changes), field)
    assert api.ok(FIRMWARE + "index", {"productID": fw_ctx["pid"]})["total"] == 0
    assert private_keys(fw_ctx["store"], fw_ctx["pid"]) == []


def _file_cases(body: dict) -> list[tuple[list, str]]:
    f0, f1 = body["files"]
    return [
        ([{"name": f0["name"]}], "files.0.filePath"),
        ([{"filePath": f0["filePath"]}], "files.0.name"),
        ([f0, {"filePath": f1["filePath"], "name": 7}], "files.1.name"),
        ([{"filePath": f0["filePath"], "name": "dir/xx.zip"}], "files.0.name"),
        ([{"filePath": f0["filePath"], "name": "../xx.zip"}], "files.0.name"),
        ([{"filePath": f0["filePath"], "name": "x?.zip"}], "files.0.name"),
        ([{"filePath": "../" + f0["filePath"], "name": "a.zip"}], "files.0.filePath"),
        ([{"filePath": f0["filePath"], "name": "same.zip"}, {"filePath": f1["filePath"], "name": "same.zip"}], "files"),
    ]


def test_firmware_create_file_rules_and_nothing_written(api, fw_ctx):
    body, pid, store = fw_ctx["body"], fw_ctx["pid"], fw_ctx["store"]
    for files, field in _file_cases(body):
        msg = param_error(api, FIRMWARE + "create", dict(body, files=files), field)
        if field == "files":
            assert "same.zip" in msg
    # a filePath with no uploaded object behind it, after a valid one: no row, no copy
    missing = "productManage/ota/never-uploaded.zip"
    for files in ([body["files"][0], {"filePath": missing, "name": "gone.zip"}],
                  [{"filePath": missing, "name": "gone.zip"}, body["files"][1]]):
        msg = rejected(api, FIRMWARE + "create", dict(body, files=files), 400, 100006, missing)
        assert msg.startswith("files")
    # 21 files is one too many; 0 files is too few
    paths = [upload(api, f"file {i}".encode()) for i in range(21)]
    many = [{"filePath": p, "name": f"f{i:02d}.bin"} for i, p in enumerate(paths)]
    param_error(api, FIRMWARE + "create", dict(body, files=many, version="9.9.9"), "files")
    param_error(api, FIRMWARE + "create", dict(body, files=[], version="9.9.9"), "files")

    assert api.ok(FIRMWARE + "index", {"productID": pid})["total"] == 0
    assert private_keys(store, pid) == []
    for f in body["files"]:  # the refused creates did not claim the uploads
        assert store.exists(TEMPORARY_BUCKET, f["filePath"])

    # the very same bodies minus the fault go through: 20 files, then the seed body
    fw20 = api.ok(FIRMWARE + "create", dict(body, files=many[:20], version="9.9.9"))["firmwareID"]
    assert len(api.ok(FIRMWARE + "read", {"firmwareID": fw20})["files"]) == 20
    fw_id = api.ok(FIRMWARE + "create", body)["firmwareID"]
    read = api.ok(FIRMWARE + "read", {"firmwareID": fw_id})
    assert {f["name"]: f["size"] for f in read["files"]} == {n: len(b) for n, b in fw_ctx["blobs"].items()}
    assert api.ok(FIRMWARE + "index", {"productID": pid})["total"] == 2
    assert len(private_keys(store, pid)) == 22


@pytest.mark.parametrize("value", [True, 1.0], ids=repr)
def test_firmware_create_bool_or_float_for_isdiff(api, value):
    pid = make_product(api)
    body = {"name": "n", "productID": pid, "version": "1.0.0", "isDiff": value,
            "files": [{"filePath": upload(api, b"x"), "name": "a.bin"}]}
    status, doc = api.call(FIRMWARE + "create", body)
    assert api.ok(FIRMWARE + "index", {"productID": pid})["total"] == 0
    assert (status, doc["code"]) == (400, 100006) and doc["msg"].startswith("isDiff")


# ---- task create -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def task_ctx(shared_backend):
    api = shared_backend.api()
    pid = make_product(api)
    make_devices(api, pid, ["d1", "d2", "d3"], "0.9.0")
    fw_id = make_firmware(api, pid, "1.0.0", {"fw.bin": b"firmware"})
    yield {"pid": pid, "fw": fw_id, "body": dict(example("task-create.request.json"), firmwareID=fw_id)}
    api.close()


TASK_WRONG = [
    ({"firmwareID": MISSING}, "firmwareID"), ({"firmwareID": "1"}, "firmwareID"), ({"firmwareID": True}, "firmwareID"),
    ({"firmwareID": 1.0}, "firmwareID"), ({"type": "1"}, "type"), ({"type": 3}, "type"), ({"type": 0}, "type"),
    ({"upgradeType": 3}, "upgradeType"), ({"upgradeType": "2"}, "upgradeType"), ({"retryCount": -1}, "retryCount"),
    ({"retryCount": "1"}, "retryCount"), ({"timeoutMinutes": 0}, "timeoutMinutes"),
    ({"retryIntervalMinutes": 0}, "retryIntervalMinutes"), ({"maxPerMinute": -1}, "maxPerMinute"),
    ({"grayPercent": 0}, "grayPercent"), ({"grayPercent": 101}, "grayPercent"), ({"scheduleTime": -5}, "scheduleTime"),
    ({"overwrite": "yes"}, "overwrite"), ({"deviceList": 5}, "deviceList"), ({"deviceList": "d1,d2"}, "deviceList"),
    ({"deviceList": [1, 2]}, "deviceList"), ({"deviceList": '{"a": 1}'}, "deviceList"),
    ({"versionList": "0.9.0"}, "versionList"), ({"versionList": [0.9]}, "versionList"),
]


@pytest.mark.parametrize("changes,field", TASK_WRONG,
                         ids=[f"{f}={v!r}"[:40] for c, f in TASK_WRONG for v in c.values()])
def test_task_create_wrong_fields(api, task_ctx, changes, field):
    param_error(api, TASK + "create", with_changes(task_ctx["body"], changes), field)
    assert api.ok(TASK + "index", {"firmwareID": task_ctx["fw"]})["total"] == 0


def test_task_create_rules_and_nothing_written(api, task_ctx):
    body, fw = task_ctx["body"], task_ctx["fw"]
    for empty in ("", [], "[]"):
        param_error(api, TASK + "create", dict(body, type=2, deviceList=empty), "deviceList")
    for empty in ("", [], "[]"):
        param_error(api, TASK + "create", dict(body, upgradeType=2, versionList=empty), "versionList")
    param_error(api, TASK + "create", dict(body, type=2, upgradeType=2, deviceList=["d1"], versionList=["0.9.0"]),
                "upgradeType")
    for own in (["1.0.0"], '["0.9.0","1.0.0"]'):
        param_error(api, TASK + "create", dict(body, upgradeType=2, versionList=own), "versionList")
        param_error(api, TASK + "create", dict(body, versionList=own), "versionList")
    msg = rejected(api, TASK + "create", dict(body, type=2, deviceList=["d1", "nobody-1", "d2", "nobody-2"]),
                   404, 100009, "nobody-1", "nobody-2")
    assert msg.startswith("deviceList")
    assert set(msg.rsplit(": ", 1)[1].split(", ")) == {"nobody-1", "nobody-2"}  # only the unknown ones
    other = make_product(api)
    make_devices(api, other, ["foreign"])
    rejected(api, TASK + "create", dict(body, type=2, deviceList='["d3","foreign"]'), 404, 100009, "foreign")

    assert api.ok(TASK + "index", {"firmwareID": fw})["total"] == 0
    # minus the fault, accepted
    task = api.ok(TASK + "create", dict(body, type=2, deviceList='["d1","d3"]'))
    assert sorted(r["deviceName"] for r in records(api, task["taskUid"])) == ["d1", "d3"]
    api.ok(TASK + "cancel", {"taskID": task["taskID"]})
    task = api.ok(TASK + "create", dict(body, upgradeType=2, versionList=["0.9.0"]))
    assert len(records(api, task["taskUid"])) == 3
    api.ok(TASK + "cancel", {"taskID": task["taskID"]})


@pytest.mark.parametrize("field", ["type", "upgradeType"])
def test_task_create_bool_for_int(api, field):
    pid = make_product(api)
    make_devices(api, pid, ["d1"])
    fw_id = make_firmware(api, pid, "1.0.0", {"fw.bin": b"x"})
    status, doc = api.call(TASK + "create", {"firmwareID": fw_id, field: True})
    assert api.ok(TASK + "index", {"firmwareID": fw_id})["total"] == 0
    assert (status, doc["code"]) == (400, 100006) and doc["msg"].startswith(field)


# ---- products, devices, the other routes ---------------------------------------------------------

def test_product_and_device_wrong_fields(api):
    pid = make_product(api)
    unique = new_pid()
    for changes, field in [({"productName": MISSING}, "productName"), ({"productName": 5}, "productName"),
                           ({"productName": ""}, "productName"), ({"productName": "x" * 65}, "productName"),
                           ({"productID": 12345678901}, "productID"), ({"productID": "has space"}, "productID"),
                           ({"productID": "a" * 65}, "productID"), ({"desc": 5}, "desc")]:
        param_error(api, PRODUCT + "create", with_changes({"productID": unique, "productName": "n"}, changes), field)
    assert api.call(PRODUCT + "read", {"productID": unique})[0] == 404
    param_error(api, PRODUCT + "update", {"productName": "n"}, "productID")
    param_error(api, PRODUCT + "update", {"productID": pid, "productName": 5}, "productName")
    param_error(api, PRODUCT + "delete", {"productID": 5}, "productID")
    param_error(api, PRODUCT + "read", {}, "productID")
    param_error(api, PRODUCT + "index", {"productName": 5}, "productName")

    base = {"productID": pid, "deviceName": "dev", "version": "1.0"}
    for changes, field in [({"deviceName": MISSING}, "deviceName"), ({"deviceName": 5}, "deviceName"),
                           ({"deviceName": "a b"}, "deviceName"), ({"deviceName": "a&b"}, "deviceName"),
                           ({"deviceName": "x" * 65}, "deviceName"), ({"productID": MISSING}, "productID"),
                           ({"version": 1}, "version"), ({"version": "1,0"}, "version"),
                           ({"deviceSecret": 5}, "deviceSecret"), ({"deviceSecret": "has space"}, "deviceSecret")]:
        param_error(api, DEVICE + "create", with_changes(base, changes), field)
    param_error(api, DEVICE + "update", {"productID": pid, "deviceName": "dev", "version": 2}, "version")
    param_error(api, DEVICE + "read", {"productID": pid}, "deviceName")
    param_error(api, DEVICE + "delete", {"deviceName": "dev"}, "productID")
    param_error(api, DEVICE + "index", {"withSecret": "yes"}, "withSecret")
    param_error(api, DEVICE + "index", {"withSecret": 1}, "withSecret")
    param_error(api, DEVICE + "import", {"productID": pid, "devices": "dev"}, "devices")
    param_error(api, DEVICE + "import", {"productID": pid, "devices": [{"deviceName": 5}]}, "devices.0.deviceName")
    param_error(api, DEVICE + "import", {"productID": pid, "devices": []}, "devices")
    param_error(api, DEVICE + "import", {"productID": pid, "csv": ""}, "csv")
    rejected(api, DEVICE + "import", {"productID": pid}, 400, 100006)
    rejected(api, DEVICE + "import", {"productID": pid, "devices": [{"deviceName": "x"}], "csv": "y"}, 400, 100006)
    msg = rejected(api, DEVICE + "import", {"productID": pid, "csv": "ok-1\nok-2\nbad name!\n"}, 400, 100006, "line 3")
    assert msg.startswith("csv")
    rejected(api, DEVICE + "import", {"productID": pid, "csv": "deviceName,version\nok-1,1 0\n"}, 400, 100006,
             "line 2", "version")
    assert api.ok(DEVICE + "index", {"productID": pid})["total"] == 0
    api.ok(DEVICE + "create", base)  # minus the fault: accepted


def test_paging_and_reference_wrong_fields(api):
    for page, field in [({"page": 0}, "page.page"), ({"size": 0}, "page.size"), ({"size": 1001}, "page.size"),
                        ({"page": "1"}, "page.page"), ({"size": True}, "page.size")]:
        for route in (PRODUCT + "index", DEVICE + "index", FIRMWARE + "index", TASK + "index"):
            param_error(api, route, {"page": page}, field)
    param_error(api, PRODUCT + "index", {"page": "1"}, "page")
    param_error(api, FIRMWARE + "index", {"timeStart": "1"}, "timeStart")
    param_error(api, FIRMWARE + "index", {"timeStart": 2000, "timeEnd": 1000}, "timeEnd")
    param_error(api, FIRMWARE + "index", {"productID": 5}, "productID")
    for route in ("read", "delete", "device-info-read", "update"):
        param_error(api, FIRMWARE + route, {"firmwareID": "1"}, "firmwareID")
        param_error(api, FIRMWARE + route, {"firmwareID": True}, "firmwareID")
        param_error(api, FIRMWARE + route, {}, "firmwareID")
    param_error(api, FIRMWARE + "update", {"firmwareID": 1, "name": 5}, "name")
    for route in ("read", "cancel"):
        param_error(api, TASK + route, {"taskID": "x"}, "taskID")
        param_error(api, TASK + route, {}, "taskID")
    for route in ("device-cancel", "device-retry"):
        param_error(api, TASK + route, {"id": "1"}, "id")
        param_error(api, TASK + route, {}, "id")
    for route in ("device-index", "analysis"):
        param_error(api, TASK + route, {}, "taskUid")
        param_error(api, TASK + route, {"taskUid": 5}, "taskUid")
    param_error(api, TASK + "device-index", {"taskUid": "x", "status": 999}, "status")
    param_error(api, TASK + "device-index", {"taskUid": "x", "status": "501"}, "status")
    param_error(api, TASK + "index", {"firmwareID": "1"}, "firmwareID")


def test_unknown_fields_are_ignored(api):
    pid = api.ok(PRODUCT + "create", {"productID": new_pid(), "productName": "n", "color": "blue",
                                      "tenantCode": "default"})["productID"]
    settled(lambda: api.call(PRODUCT + "read", {"productID": pid})[0] == 200)
    got = api.ok(DEVICE + "create", {"productID": pid, "deviceName": "d", "whatever": [1, 2]})
    assert got["deviceName"] == "d"
