"""Hostile and malformed input on the management side (HTTP): each finding reproduced.

Rules that live in one function (field rules, LIKE escaping, CSV reading and neutralising,
Range parsing, Last-Event-ID parsing, the error envelope) are tested in-process first; then
every finding against the real backend (SQLite and PostgreSQL): each refusal is the API's
envelope with its HTTP status, its iThings code and a message naming the field, never a 500.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from backend.api.common import Req
from backend.storage.base import PRIVATE_BUCKET, TEMPORARY_BUCKET
from tests.conftest import ROOT, TOKEN, BackendProcess
from tests.test_api_rejections import param_error, rejected
from tests.test_api_routes import (
    DEVICE,
    FIRMWARE,
    PRODUCT,
    TASK,
    UPLOAD,
    make_devices,
    make_firmware,
    make_product,
    private_keys,
    store_of,
    upload,
)

pytestmark = [pytest.mark.timeout(180), pytest.mark.both_databases]

MAX_INT64 = 2**63 - 1
EVENTS = "/api/v1/things/ota/events"


# =============================================================================================
# in-process: the rules themselves
# =============================================================================================

# ---- 5/6. identifiers and versions: whole-string match, the one version rule ---------------------

def _accepts(annotation, value) -> bool:
    try:
        TypeAdapter(annotation).validate_python(value)
        return True
    except ValidationError:
        return False


def test_identifiers_match_the_whole_string():
    from backend.api.validators import DeviceVersion, Ident, KeySegment, Version
    for good in ("abc", "a.b-c_d", "x" * 64):
        assert _accepts(Ident, good) and _accepts(KeySegment, good)
    for bad in ("abc\n", "abc\r\n", "\nabc", "a b", "x" * 65, "", "a/b", "a%b"):
        assert not _accepts(Ident, bad), repr(bad)
        assert not _accepts(KeySegment, bad), repr(bad)
    for dots in (".", ".."):  # fine as a device name, not as a segment of an object key
        assert _accepts(Ident, dots) and not _accepts(KeySegment, dots)
    assert _accepts(DeviceVersion, "") and not _accepts(Version, "")


VERSIONS_OK = ["1", "1.0.0", "v2.3-rc.1", "1.0+build.7", "1..0", "A_b", "9" * 64]
VERSIONS_BAD = ["1.0\n", "1.0\r", "1.0/x", "../x", "..", ".1", "-1", "+1", "_1", "1%0", "1 0", "1,0", "x" * 65,
                "1.0\x00", "1.0é", "１.0", ""]


@pytest.mark.parametrize("value", VERSIONS_BAD, ids=repr)
def test_version_rule_refuses(value):
    from backend.api.validators import DeviceVersion, Version
    assert not _accepts(Version, value)
    if value:
        assert not _accepts(DeviceVersion, value)


def test_version_rule_accepts_and_is_the_device_protocols():
    from backend.api import validators
    from ota_protocol import messages
    assert validators.VERSION_RE is messages.VERSION_RE  # one rule over MQTT and HTTP
    for v in VERSIONS_OK:
        assert _accepts(validators.Version, v), v
        assert messages.is_valid_version(v)
    for v in VERSIONS_BAD:
        assert not messages.is_valid_version(v)


def test_no_dollar_anchored_patterns_in_the_backend():
    """`$` matches before a final newline; every pattern is applied whole (fullmatch or \\Z)."""
    import re
    offenders = []
    for path in (ROOT / "backend").rglob("*.py"):
        if "mqtt" in path.parts:  # the device-side codec (and its broker log parser) is reviewed with it
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"re\.compile\(r?[\"'].*\$[\"']", line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}")
    assert offenders == []


def test_firmware_keys_are_single_segments():
    from backend.ota.catalog import firmware_prefix
    from backend.ota.errors import Invalid
    assert firmware_prefix("P1", "1.0") == "productManage/ota/P1/1.0/"
    a, b = firmware_prefix("P1", "1.0"), firmware_prefix("P1", "1.0.1")
    assert not a.startswith(b) and not b.startswith(a)  # neither nests in the other
    for pid, version, field in (("P1", "1.0/x", "version"), ("P1", "..", "version"), ("P1", "", "version"),
                                ("P1", "1%2", "version"), ("..", "1.0", "productID"), ("a/b", "1.0", "productID")):
        with pytest.raises(Invalid) as err:
            firmware_prefix(pid, version)
        assert err.value.code == 100006
        assert err.value.msg.startswith(field + ":"), err.value.msg


# ---- 7. ids, pages, filters ---------------------------------------------------------------------

def test_page_and_id_bounds():
    from backend.api.common import Page
    from backend.api.validators import Id, Millis
    assert Page(page=MAX_INT64, size=1000).offset == MAX_INT64  # past every row, never an overflow
    assert Page(page=3, size=20).offset == 40
    for bad in ({"page": MAX_INT64 + 1}, {"page": 0}, {"size": 1001}):
        with pytest.raises(ValidationError):
            Page(**bad)
    assert _accepts(Id, 1) and _accepts(Id, MAX_INT64)
    for bad in (0, -1, MAX_INT64 + 1, 10**30):
        assert not _accepts(Id, bad)
    assert _accepts(Millis, -(2**63)) and not _accepts(Millis, MAX_INT64 + 1) and not _accepts(Millis, -(2**63) - 1)


# ---- 9. LIKE patterns are escaped -----------------------------------------------------------------

def test_like_filters_take_text_literally():
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from backend.api.common import contains
    from backend.db.models import Base, Product
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    names = ["50% off", "50 off", "a_b", "axb", "a/b", "a\\b", "100%"]
    with Session(engine) as s:
        s.add_all(Product(product_id=f"p{i}", product_name=n) for i, n in enumerate(names))
        s.commit()

        def found(text: str) -> list[str]:
            return sorted(s.scalars(select(Product.product_name).where(contains(Product.product_name, text))))

        assert found("%") == ["100%", "50% off"]
        assert found("_") == ["a_b"]
        assert found("/") == ["a/b"]
        assert found("\\") == ["a\\b"]
        assert found("0% o") == ["50% off"]
        assert found("off") == ["50 off", "50% off"]
    engine.dispose()


# ---- 7/8/9. device CSV: line endings, field size, cap, formulas, O(n) duplicates ----------------------

def _csv_refusal(text: str) -> str:
    from backend.api.common import ApiError
    from backend.api.devices import parse_csv
    with pytest.raises(ApiError) as err:
        parse_csv(text)
    assert (err.value.http_status, err.value.code) == (400, 100006)
    assert err.value.msg.startswith("csv"), err.value.msg
    return err.value.msg


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_csv_line_endings(eol):
    from backend.api.devices import parse_csv
    got = parse_csv(eol.join(["deviceName,version,deviceSecret", "d1,1.0,sek1", "d2,2.0,", "", "d3,,"]) + eol)
    assert [(d.device_name, d.version, d.device_secret) for d in got] == \
        [("d1", "1.0", "sek1"), ("d2", "2.0", None), ("d3", None, None)]
    assert [d.device_name for d in parse_csv(eol.join(["b1", "b2"]))] == ["b1", "b2"]
    # the line named in a refusal is the physical line, blank lines counted
    assert "line 4" in _csv_refusal(eol.join(["ok-1", "", "ok-2", "bad name"]))


def test_csv_mixed_line_endings_and_quoted_newlines():
    from backend.api.devices import parse_csv
    assert [d.device_name for d in parse_csv("a\rb\r\nc\nd")] == ["a", "b", "c", "d"]
    assert "line 3" in _csv_refusal('ok\n"x\ry"\n')  # a CR inside quotes is part of the value (ending on line 3)


def test_csv_field_over_the_limit_names_the_line():
    msg = _csv_refusal("ok-1\nok-2\n" + "x" * (128 * 1024 + 1) + "\nok-3\n")
    assert msg.startswith("csv line 3") and "131072" in msg


def test_csv_row_cap():
    from backend.api.devices import MAX_IMPORT, parse_csv
    rows = [f"d{i}" for i in range(MAX_IMPORT)]
    assert len(parse_csv("\n".join(rows))) == MAX_IMPORT
    msg = _csv_refusal("\n".join([*rows, "one-more"]))
    assert str(MAX_IMPORT) in msg and f"line {MAX_IMPORT + 1}" in msg
    msg = _csv_refusal("deviceName\n" + "\n".join([*rows, "one-more"]))  # header not counted
    assert f"line {MAX_IMPORT + 2}" in msg


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-dev", "@SUM(A1)", "\tdev", " =1+1", "-"], ids=repr)
def test_csv_formula_cells_are_refused_naming_line_and_column(cell):
    msg = _csv_refusal(f"deviceName,version,deviceSecret\nok,1.0,sek\nd2,1.0,{cell}\n")
    assert msg.startswith("csv line 3 column 3 (deviceSecret)"), msg
    msg = _csv_refusal(f"ok\n{cell}\n")
    assert msg.startswith("csv line 2 column 1 (deviceName)"), msg
    assert "formula" in msg


def test_csv_cells_are_neutralised_for_spreadsheets():
    from backend.api.validators import neutralise_cell, starts_like_formula
    for risky in ("=1+1", "+1", "-1", "@A1", "\t=1", "\rx", "=HYPERLINK(\"http://x\")"):
        assert starts_like_formula(risky)
        assert neutralise_cell(risky) == "'" + risky
    for plain in ("dev-1", "1.0", "", "a=b", " x", "'=1"):
        assert not starts_like_formula(plain)
        assert neutralise_cell(plain) == plain


def test_duplicate_detection_is_linear():
    """100,001 names used to take 216 s of CPU (list.count per name); now one pass."""
    from backend.api.common import ApiError
    from backend.api.devices import DeviceIn, _add
    items = [DeviceIn.model_construct(device_name=f"d{i}") for i in range(100_000)]
    items.append(DeviceIn.model_construct(device_name="d7"))
    t0 = time.process_time()
    with pytest.raises(ApiError) as err:
        _add(None, "p", items)  # refused before the database is asked anything
    assert time.process_time() - t0 < 5
    assert err.value.http_status == 400 and err.value.msg == "devices: device names repeated in the request: d7"


# ---- 9. Range on the presigned object GET ---------------------------------------------------------

@pytest.mark.parametrize("header,parsed", [
    ("bytes=0-9", (0, 9)), ("bytes=5-", (5, None)), ("bytes=-1", (None, 1)), ("bytes=-0", (None, 0)),
    ("BYTES=1-2", (1, 2)), (" bytes=1-2 ", (1, 2)), ("bytes=3-3", (3, 3)),
    ("bytes=" + "9" * 40 + "-", (10**18, None)),
    ("bytes=5-2", None), ("bytes=abc", None), ("bytes=-", None), ("bytes=0-1,3-4", None), ("items=0-1", None),
    ("bytes=1.5-2", None), ("bytes=-1-2", None), ("bytes=²-3", None), ("", None), ("bytes 0-1", None),
], ids=repr)
def test_range_header_parsing(header, parsed):
    from backend.api.oss import parse_range
    assert parse_range(header) == parsed


@pytest.mark.parametrize("rng,size,span", [
    ((None, 1), 10, (9, 9)), ((None, 10), 10, (0, 9)), ((None, 50), 10, (0, 9)), ((None, 0), 10, None),
    ((0, None), 10, (0, 9)), ((0, 100), 10, (0, 9)), ((9, 9), 10, (9, 9)), ((10, None), 10, None),
    ((10, 20), 10, None), ((10**18, None), 10, None), ((0, None), 0, None), ((None, 5), 0, None),
])
def test_range_resolution(rng, size, span):
    from backend.api.oss import resolve_range
    assert resolve_range(rng, size) == span


# ---- 7. Last-Event-ID --------------------------------------------------------------------------

@pytest.mark.parametrize("header,expected", [
    ("", None), ("  ", None), ("42", 42), (" 42 ", 42), ("0", 0),
    ("²", -1), ("١٢", -1), ("-1", -1), ("abc", -1), ("1.5", -1), ("9" * 5000, -1), ("9" * 19, -1), ("0x10", -1),
], ids=repr)
def test_last_event_id_parsing(header, expected):
    from backend.api.events import UNKNOWN_ID, last_event_id
    assert UNKNOWN_ID == -1
    assert last_event_id(header) == expected


# ---- 7. every error in the envelope ----------------------------------------------------------------

class _EchoBody(Req):
    name: str


def test_error_envelope_in_process(caplog):
    import asyncio

    from fastapi import FastAPI

    from backend.api.common import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.post("/echo")
    def echo(body: _EchoBody) -> dict:
        return {"name": body.name}

    @app.post("/boom")
    def boom() -> dict:
        raise RuntimeError("secret internals")

    json_type = {"content-type": "application/json"}
    requests = [  # (method, path, body, status, code, message start)
        ("POST", "/boom", None, 500, 100007, "internal error"),
        ("POST", "/nowhere", None, 404, 100009, "path: no route /nowhere"),
        ("GET", "/echo", None, 405, 100012, "method: GET not allowed on /echo"),
        ("POST", "/echo", b'{"name": "\xff"}', 400, 100006, "body"),
        ("POST", "/echo", b"[" * 50_000 + b"]" * 50_000, 400, 100006, "body"),
        ("POST", "/echo", b"{", 400, 100006, "body"),
        ("POST", "/echo", b'{"name": 5}', 400, 100006, "name"),
    ]

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.request(m, path, content=body, headers=json_type) for m, path, body, *_ in requests]

    caplog.set_level("ERROR")
    for r, (_, path, _, status, code, starts) in zip(asyncio.run(run()), requests):
        assert r.status_code == status, (path, r.text)
        doc = r.json()
        assert set(doc) == {"code", "msg"} and doc["code"] == code and doc["msg"].startswith(starts), doc
        assert "secret internals" not in r.text
        if status == 405:
            assert r.headers["allow"] == "POST"
    assert any("unhandled error on POST /boom" in rec.getMessage() and rec.exc_info for rec in caplog.records)


# ---- 9. the data directory is the owner's alone -----------------------------------------------------

def test_secure_data_dir_tightens_and_sets_umask(tmp_path):
    data = tmp_path / "data"
    (data / "objects" / "bucket").mkdir(parents=True)
    for d in (data, data / "objects", data / "objects" / "bucket"):
        d.chmod(0o755)
    for f in (data / "ota.db", data / "objects" / "bucket" / "fw.bin"):
        f.write_bytes(b"x")
        f.chmod(0o644)
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    outside.chmod(0o644)
    (data / "link").symlink_to(outside)
    code = ("import sys, os; from pathlib import Path; from backend.datadir import secure_data_dir; "
            "d = Path(sys.argv[1]); secure_data_dir(d); (d / 'new.db').write_bytes(b'1'); (d / 'newdir').mkdir(); "
            "secure_data_dir(d / 'fresh' / 'nested')")
    subprocess.run([sys.executable, "-c", code, str(data)], check=True, cwd=ROOT)
    modes = {p.relative_to(data).as_posix(): stat.S_IMODE(p.lstat().st_mode)
             for p in [data, *data.rglob("*")] if not p.is_symlink()}
    assert modes == {".": 0o700, "objects": 0o700, "objects/bucket": 0o700, "objects/bucket/fw.bin": 0o600,
                     "ota.db": 0o600, "new.db": 0o600, "newdir": 0o700, "fresh": 0o700, "fresh/nested": 0o700}
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # a symlink is not followed out of the data dir


# =============================================================================================
# against the real backend (SQLite and PostgreSQL)
# =============================================================================================

def _count(api, route: str, body: dict) -> int:
    return api.ok(route, body)["total"]


# ---- 5. "abc\n" and friends ------------------------------------------------------------------------

def test_trailing_newline_is_refused_everywhere(api):
    pid = make_product(api)
    before = _count(api, PRODUCT + "index", {"page": {"size": 1000}})
    param_error(api, PRODUCT + "create", {"productID": "abc\n", "productName": "x"}, "productID")
    assert _count(api, PRODUCT + "index", {"page": {"size": 1000}}) == before
    param_error(api, DEVICE + "create", {"productID": pid, "deviceName": "dev\n"}, "deviceName")
    param_error(api, DEVICE + "create", {"productID": pid, "deviceName": "dev", "version": "1.0\n"}, "version")
    param_error(api, DEVICE + "create", {"productID": pid, "deviceName": "dev", "deviceSecret": "s\n"}, "deviceSecret")
    param_error(api, DEVICE + "import", {"productID": pid, "devices": [{"deviceName": "x\n"}]}, "devices.0.deviceName")
    param_error(api, DEVICE + "read", {"productID": pid + "\n", "deviceName": "dev"}, "productID")
    param_error(api, UPLOAD, {"business": "productManage\n", "scene": "ota", "filePath": "a.zip"}, "business")
    param_error(api, TASK + "analysis", {"taskUid": "uid\n"}, "taskUid")
    path = upload(api, b"fw")
    for version in ("1.0\n", "1.0\r\n"):
        param_error(api, FIRMWARE + "create", {"name": "n", "productID": pid, "version": version,
                                               "files": [{"filePath": path, "name": "a.bin"}]}, "version")
    param_error(api, FIRMWARE + "create", {"name": "n", "productID": pid + "\n", "version": "1.0",
                                           "files": [{"filePath": path, "name": "a.bin"}]}, "productID")
    assert _count(api, DEVICE + "index", {"productID": pid}) == 0
    assert _count(api, FIRMWARE + "index", {"productID": pid}) == 0
    api.ok(DEVICE + "create", {"productID": pid, "deviceName": "dev", "version": "1.0"})  # minus the fault
    api.ok(FIRMWARE + "create", {"name": "n", "productID": pid, "version": "1.0",
                                 "files": [{"filePath": path, "name": "a.bin"}]})


# ---- 6. versions and firmware object keys --------------------------------------------------------------

@pytest.mark.parametrize("version", ["1.0/x", "..", "a/../b", "1%0", ".1", "-1", "x" * 65, "1 0"], ids=repr)
def test_firmware_version_rule(api, shared_backend, version):
    pid = make_product(api)
    path = upload(api, b"fw")
    msg = param_error(api, FIRMWARE + "create", {"name": "n", "productID": pid, "version": version,
                                                 "files": [{"filePath": path, "name": "a.bin"}]}, "version")
    assert "starting with a letter or digit" in msg
    param_error(api, DEVICE + "create", {"productID": pid, "deviceName": "d", "version": version}, "version")
    assert _count(api, FIRMWARE + "index", {"productID": pid}) == 0
    assert private_keys(store_of(shared_backend), pid) == []


def test_deleting_a_firmware_removes_only_its_own_files(api, shared_backend):
    store = store_of(shared_backend)
    pid = make_product(api)
    keep = secrets.token_bytes(500)
    fw_10 = make_firmware(api, pid, "1.0", {"a.bin": b"one"})
    fw_101 = make_firmware(api, pid, "1.0.1", {"a.bin": keep})
    fw_dots = make_firmware(api, pid, "1..0", {"a.bin": b"dots"})
    # what a firmware "1.0/x" stored before the version rule: under "1.0/", not 1.0's own
    legacy = f"productManage/ota/{pid}/1.0/x/a.bin"
    store.client.put_object(PRIVATE_BUCKET, legacy, io.BytesIO(b"legacy"), 6)
    api.ok(FIRMWARE + "delete", {"firmwareID": fw_10})
    assert store.exists(PRIVATE_BUCKET, legacy)
    assert sorted(private_keys(store, pid)) == sorted([legacy, f"productManage/ota/{pid}/1.0.1/a.bin",
                                                       f"productManage/ota/{pid}/1..0/a.bin"])
    for fw_id, blob in ((fw_101, keep), (fw_dots, b"dots")):
        uri = api.ok(FIRMWARE + "read", {"firmwareID": fw_id})["files"][0]["uri"]
        assert api.http.get(uri).content == blob
    store.remove(PRIVATE_BUCKET, legacy)


def test_firmware_name_clashes_are_409(api, shared_backend):
    store = store_of(shared_backend)
    pid = make_product(api)
    fw = make_firmware(api, pid, "V1.0", {"a.bin": b"upper"})
    path = upload(api, b"lower")
    # same version again, and one differing only in case (one folder on a case-insensitive store)
    for version in ("V1.0", "v1.0"):
        msg = rejected(api, FIRMWARE + "create", {"name": "n", "productID": pid, "version": version,
                                                  "files": [{"filePath": path, "name": "a.bin"}]}, 409, 100010)
        assert msg.startswith("version:") and version in msg, msg
    assert _count(api, FIRMWARE + "index", {"productID": pid}) == 1
    assert private_keys(store, pid) == [f"productManage/ota/{pid}/V1.0/a.bin"]
    assert api.http.get(api.ok(FIRMWARE + "read", {"firmwareID": fw})["files"][0]["uri"]).content == b"upper"
    assert store.exists(TEMPORARY_BUCKET, path)  # not claimed by the refused creates
    # file names within one firmware that differ only in case would be one file too
    param_error(api, FIRMWARE + "create", {"name": "n", "productID": pid, "version": "2.0",
                                           "files": [{"filePath": path, "name": "b.bin"},
                                                     {"filePath": upload(api, b"B"), "name": "B.bin"}]}, "files")
    assert _count(api, FIRMWARE + "index", {"productID": pid}) == 1
    # another file name in the case-twin version does not share a key: accepted
    api.ok(FIRMWARE + "create", {"name": "n", "productID": pid, "version": "v1.0",
                                 "files": [{"filePath": path, "name": "b.bin"}]})


def test_upload_key_nesting_is_409(api, shared_backend):
    store = store_of(shared_backend)
    folder = "n" + secrets.token_hex(4)
    base = {"business": "productManage", "scene": "ota", "rename": False}
    first = upload(api, b"one", f"{folder}/w.zip", rename=False)
    for nested in (f"{folder}/w.zip/e.zip", folder):
        got = api.ok(UPLOAD, dict(base, filePath=nested))
        r = api.http.put(got["uploadUri"], content=b"two")
        assert r.status_code == 409, r.text
        doc = r.json()
        assert doc["code"] == 100010 and doc["msg"].startswith("filePath:") and first in doc["msg"], doc
        assert not store.exists(TEMPORARY_BUCKET, got["filePath"])
    assert store.digest(TEMPORARY_BUCKET, first).size == 3


# ---- 7. int64 overflow ----------------------------------------------------------------------------------

ID_ROUTES = [(FIRMWARE + "read", "firmwareID"), (FIRMWARE + "update", "firmwareID"),
             (FIRMWARE + "delete", "firmwareID"), (FIRMWARE + "device-info-read", "firmwareID"),
             (TASK + "create", "firmwareID"), (TASK + "read", "taskID"), (TASK + "cancel", "taskID"),
             (TASK + "device-cancel", "id"), (TASK + "device-retry", "id")]


@pytest.mark.parametrize("route,field", ID_ROUTES, ids=["/".join(r.rsplit("/", 2)[-2:]) for r, _ in ID_ROUTES])
def test_ids_beyond_int64_are_400(api, route, field):
    for bad in (2**63, 2**64 + 5, 10**40, 0, -1, -(2**63) - 1):
        param_error(api, route, {field: bad}, field)
    for fits in (MAX_INT64, 2**31, 2**32 + 1):  # valid ids (PostgreSQL's id columns are 32-bit): not found
        msg = rejected(api, route, {field: fits}, 404, 100009, str(fits))
        assert "not found" in msg


def test_pages_and_times_beyond_int64(api):
    pid = make_product(api)
    for route in (PRODUCT + "index", DEVICE + "index", FIRMWARE + "index", TASK + "index"):
        for bad in (2**63, 10**30):
            param_error(api, route, {"page": {"page": bad}}, "page.page")
        got = api.ok(route, {"page": {"page": MAX_INT64, "size": 1000}})
        assert got["list"] == []
        got = api.ok(route, {"page": {"page": 2**53, "size": 1000}})
        assert got["list"] == []
    assert api.ok(PRODUCT + "index", {"page": {"page": MAX_INT64, "size": 1}})["total"] >= 1
    param_error(api, TASK + "device-index", {"taskUid": "x", "page": {"page": 2**63}}, "page.page")
    for field in ("timeStart", "timeEnd"):
        param_error(api, FIRMWARE + "index", {field: 2**63}, field)
        param_error(api, FIRMWARE + "index", {field: -(2**63) - 1}, field)
    assert api.ok(FIRMWARE + "index", {"productID": pid, "timeStart": -(2**63), "timeEnd": MAX_INT64})["total"] == 0
    param_error(api, TASK + "index", {"firmwareID": 2**63}, "firmwareID")
    assert api.ok(TASK + "index", {"firmwareID": MAX_INT64})["total"] == 0
    fw = make_firmware(api, pid, "1.0", {"a.bin": b"x"})
    param_error(api, TASK + "create", {"firmwareID": fw, "scheduleTime": 2**63}, "scheduleTime")
    assert _count(api, TASK + "index", {"firmwareID": fw}) == 0


# ---- 7/9. index filters: bounded, LIKE characters literal ---------------------------------------------------

def test_filters_are_bounded(api):
    for route, field in ((PRODUCT + "index", "productName"), (DEVICE + "index", "deviceName"),
                         (DEVICE + "index", "version"), (FIRMWARE + "index", "name"), (TASK + "index", "taskUid")):
        for size in (129, 1_000_000):
            msg = param_error(api, route, {field: "%" * size}, field)
            assert "128" in msg
        api.ok(route, {field: "%" * 128})
    param_error(api, TASK + "device-index", {"taskUid": "x", "deviceName": "_" * 129}, "deviceName")


def test_filters_take_percent_and_underscore_literally(api):
    tag = secrets.token_hex(3)
    pids = [make_product(api, name=f"{tag} 50% off"), make_product(api, name=f"{tag} 50 off"),
            make_product(api, name=f"{tag} a_b"), make_product(api, name=f"{tag} axb")]

    def product_names(text: str) -> list[str]:
        return sorted(p["productName"] for p in api.ok(PRODUCT + "index", {"productName": text,
                                                                           "page": {"size": 1000}})["list"]
                      if p["productName"].startswith(tag))

    assert product_names("%") == [f"{tag} 50% off"]
    assert product_names("_") == [f"{tag} a_b"]
    assert product_names(f"{tag} 50") == [f"{tag} 50 off", f"{tag} 50% off"]

    pid = pids[0]
    make_devices(api, pid, ["a_1", "ab1", "x-1"], "0.9.0")

    def names(text: str) -> list[str]:
        got = api.ok(DEVICE + "index", {"productID": pid, "deviceName": text})["list"]
        return sorted(d["deviceName"] for d in got)

    assert names("%") == [] and names("_") == ["a_1"] and names("a") == ["a_1", "ab1"]

    fw = make_firmware(api, pid, "1.0_rc", {"a.bin": b"x"}, name="50% fw")
    make_firmware(api, pid, "1.0xrc", {"a.bin": b"y"}, name="fifty fw")

    def fws(text: str) -> list[int]:
        return sorted(f["firmwareID"] for f in api.ok(FIRMWARE + "index", {"productID": pid, "name": text})["list"])

    assert fws("%") == [fw] and fws("_") == [fw] and len(fws("fw")) == 2

    task = api.ok(TASK + "create", {"firmwareID": fw})

    def recs(text: str) -> list[str]:
        got = api.ok(TASK + "device-index", {"taskUid": task["taskUid"], "deviceName": text})["list"]
        return sorted(r["deviceName"] for r in got)

    assert recs("_") == ["a_1"] and recs("%") == [] and recs("1") == ["a_1", "ab1", "x-1"]
    api.ok(TASK + "cancel", {"taskID": task["taskID"]})


# ---- 7/8/9. device CSV import -----------------------------------------------------------------------------

def test_csv_import_line_endings(api):
    pid = make_product(api)
    for eol, names in (("\r", ["cr-1", "cr-2"]), ("\r\n", ["crlf-1", "crlf-2"]), ("\n", ["lf-1", "lf-2"])):
        text = eol.join(["deviceName,version", f"{names[0]},1.0", f"{names[1]},2.0"]) + eol
        got = api.ok(DEVICE + "import", {"productID": pid, "csv": text})
        assert [(d["deviceName"], d["version"]) for d in got["list"]] == [(names[0], "1.0"), (names[1], "2.0")]
    assert _count(api, DEVICE + "index", {"productID": pid}) == 6


def test_csv_import_refusals_write_nothing(api):
    pid = make_product(api)
    big = "x" * (128 * 1024 + 1)
    cases = [
        ("ok-1\n" + big + "\n", "csv line 2", "131072"),
        ("ok-1\r" + big + "\r", "csv line 2", "131072"),
        ("deviceName,version\nok-1,1.0\n=1+1,1.0\n", "csv line 3 column 1 (deviceName)", "formula"),
        ("deviceName,version\nok-1,1.0\nok-2,-1\n", "csv line 3 column 2 (version)", "formula"),
        ("deviceName,deviceSecret\nok-1,@evil\n", "csv line 2 column 2 (deviceSecret)", "formula"),
        ("ok-1\n\tok-2\n", "csv line 2 column 1 (deviceName)", "formula"),
        ("ok-1\nok-2\nbad name\n", "csv line 3 deviceName", "letters"),
    ]
    for text, start, word in cases:
        msg = rejected(api, DEVICE + "import", {"productID": pid, "csv": text}, 400, 100006, word)
        assert msg.startswith(start), (text[:40], msg)
    assert _count(api, DEVICE + "index", {"productID": pid}) == 0


def test_import_caps_and_linear_duplicates(api):
    pid = make_product(api)
    names = [f"d{i:06d}" for i in range(100_000)]
    t0 = time.monotonic()
    msg = param_error(api, DEVICE + "import", {"productID": pid, "csv": "\n".join([*names, "d100000"])}, "csv")
    assert "100000" in msg and "line 100001" in msg
    msg = param_error(api, DEVICE + "import", {"productID": pid, "devices": [{"deviceName": n} for n in names]
                                               + [{"deviceName": "d100000"}]}, "devices")
    assert "100000" in msg
    # 100,000 rows with one name twice: refused at once, naming it (used to be minutes of CPU)
    msg = param_error(api, DEVICE + "import", {"productID": pid, "csv": "\n".join([*names[:-1], "d000042"])},
                      "devices")
    assert msg.endswith("d000042")
    assert time.monotonic() - t0 < 60
    assert _count(api, DEVICE + "index", {"productID": pid}) == 0


# ---- 7. business "..", 9. "%" in filePath ------------------------------------------------------------------

def test_upload_url_key_segments(api):
    base = {"business": "productManage", "scene": "ota", "filePath": "pkg/a.zip"}
    for field in ("business", "scene"):
        for bad in ("..", "."):
            msg = param_error(api, UPLOAD, dict(base, **{field: bad}), field)
            assert "'.' or '..'" in msg
    param_error(api, PRODUCT + "create", {"productID": "..", "productName": "dots"}, "productID")
    api.ok(UPLOAD, dict(base, business="a..b"))  # dots inside a segment are fine


@pytest.mark.parametrize("path", ["a%b.zip", "pkg/100%.zip", "%2e%2e/x.zip", "a%"], ids=repr)
def test_percent_in_file_path_is_refused(api, path):
    for rename in (False, True):
        msg = param_error(api, UPLOAD, {"business": "productManage", "scene": "ota", "filePath": path,
                                        "rename": rename}, "filePath")
        assert "%" in msg
    pid = make_product(api)
    good = upload(api, b"x")
    param_error(api, FIRMWARE + "create", {"name": "n", "productID": pid, "version": "1.0",
                                           "files": [{"filePath": good, "name": path.replace("/", "_")}]},
                "files.0.name")
    assert _count(api, FIRMWARE + "index", {"productID": pid}) == 0


# ---- 7. Last-Event-ID ----------------------------------------------------------------------------------------

def _first_event(base_url: str, last_event_id: bytes) -> tuple[int, dict]:
    headers = {"iThings-token": TOKEN, "Last-Event-ID": last_event_id}
    with httpx.stream("GET", base_url + EVENTS, headers=headers, timeout=httpx.Timeout(10)) as r:
        assert r.status_code == 200, r.read()
        ev_id = None
        for line in r.iter_lines():
            if line.startswith("id:"):
                ev_id = int(line[3:])
            elif line.startswith("data:"):
                return ev_id, json.loads(line[5:])
    raise AssertionError("stream ended without an event")


@pytest.mark.parametrize("value", ["²".encode("latin-1"), "²".encode(), "١".encode(), b"9" * 5000, b"-1", b"abc",
                                   b"1.5", b"0x1f", b"1e9", b"99999999999999999999"], ids=repr)
def test_odd_last_event_id_resyncs(shared_backend, value):
    ev_id, event = _first_event(shared_backend.base_url, value)
    assert event == {"type": "resync"} and ev_id > 0


# ---- 7. envelope for malformed bodies, unknown routes and methods -----------------------------------------------

@pytest.mark.parametrize("raw", [b'{"productName": "\xff\xfe"}', b"\xff", b'{"productName": "x"}\xff',
                                 b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000], ids=lambda b: repr(b[:20]))
def test_malformed_bodies_answer_the_envelope(api, raw):
    for route in (PRODUCT + "create", DEVICE + "import", TASK + "index"):
        r = api.raw(route, raw)
        assert r.status_code == 400, (route, r.text[:200])
        doc = r.json()
        assert set(doc) == {"code", "msg"} and doc["code"] == 100006 and doc["msg"].startswith("body"), doc


def test_unknown_routes_and_methods_answer_the_envelope(api):
    headers = {"iThings-token": TOKEN}
    for method, path in (("GET", "/nope"), ("POST", "/api/v1/things/nothing/here"), ("DELETE", "/api/v2")):
        r = api.http.request(method, path, headers=headers)
        assert r.status_code == 404 and set(r.json()) == {"code", "msg"}, r.text
        assert r.json()["code"] == 100009 and r.json()["msg"] == f"path: no route {path}"
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        r = api.http.request(method, PRODUCT + "create", headers=headers)
        assert r.status_code == 405 and r.json()["code"] == 100012, r.text
        assert r.json()["msg"] == f"method: {method} not allowed on {PRODUCT}create"
        assert r.headers["allow"] == "POST"
    r = api.http.post(EVENTS, headers=headers)
    assert r.status_code == 405 and r.json()["msg"].startswith("method: POST")


# ---- 9. Range on presigned GET: RFC 9110 --------------------------------------------------------------------

def test_presigned_get_ranges(api):
    pid = make_product(api)
    blob = secrets.token_bytes(3000)
    fw = make_firmware(api, pid, "1.0", {"a.bin": blob, "empty.bin": b""})
    uris = {f["name"]: f["uri"] for f in api.ok(FIRMWARE + "read", {"firmwareID": fw})["files"]}
    uri = uris["a.bin"]
    partial = [("bytes=-1", 2999, 2999), ("bytes=-100", 2900, 2999), ("bytes=-5000", 0, 2999),
               ("bytes=0-99999", 0, 2999), ("bytes=2990-", 2990, 2999), ("bytes=10-19", 10, 19),
               ("bytes=2999-2999", 2999, 2999)]
    for header, first, last in partial:
        r = api.http.get(uri, headers={"Range": header})
        assert r.status_code == 206, (header, r.status_code, r.text[:200])
        assert r.headers["content-range"] == f"bytes {first}-{last}/3000"
        assert r.content == blob[first:last + 1] and int(r.headers["content-length"]) == last - first + 1
        h = api.http.head(uri, headers={"Range": header})
        assert (h.status_code, h.headers["content-range"]) == (206, f"bytes {first}-{last}/3000")
    for header in ("bytes=3000-", "bytes=3000-4000", "bytes=-0", "bytes=99999999999999999999999-"):
        for method in ("GET", "HEAD"):
            r = api.http.request(method, uri, headers={"Range": header})
            assert r.status_code == 416, (header, method, r.status_code)
            assert r.headers["content-range"] == "bytes */3000"
            assert blob[:16] not in r.content
            if method == "GET":
                doc = r.json()
                assert set(doc) == {"code", "msg"} and doc["code"] == 100006 and doc["msg"].startswith("Range:"), doc
    for header in ("bytes=abc", "bytes=5-2", "bytes=0-1,5-6", "items=0-1", "bytes=-", "bytes=1.0-2"):
        r = api.http.get(uri, headers={"Range": header})
        assert (r.status_code, r.content) == (200, blob), header
        assert "content-range" not in r.headers
    r = api.http.get(uris["empty.bin"], headers={"Range": "bytes=0-"})
    assert (r.status_code, r.headers["content-range"]) == (416, "bytes */0")
    # a forged URL stays a 403 whatever the Range asks
    forged = uri.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    for header in ("bytes=-1", "bytes=0-10", "bytes=5000-"):
        r = api.http.get(forged, headers={"Range": header})
        assert r.status_code == 403 and blob[-16:] not in r.content and blob[:16] not in r.content


# ---- 9. file modes in the data directory ------------------------------------------------------------------

def _loose_entries(root: Path) -> list[str]:
    out = []
    for p in [root, *root.rglob("*")]:
        if p.is_symlink():
            continue
        mode = stat.S_IMODE(p.lstat().st_mode)
        if mode & 0o077:
            out.append(f"{p.relative_to(root)} {oct(mode)}")
    return out


def test_data_dir_is_private(tmp_path):
    data = tmp_path / "data"
    bp = BackendProcess(data).start()
    try:
        api = bp.api()
        pid = make_product(api)
        make_devices(api, pid, ["d1"])
        make_firmware(api, pid, "1.0", {"a.bin": b"secret firmware"})
        api.close()
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert (data / "ota.db").exists() and any(data.rglob("a.bin"))
        assert _loose_entries(data) == []
    finally:
        bp.stop()
    # what an earlier version left behind: world-readable; tightened on the next start
    for p in [data, *data.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)
    bp = BackendProcess(data).start()
    try:
        api = bp.api()
        make_firmware(api, make_product(api), "2.0", {"b.bin": b"more firmware"})
        api.close()
        assert _loose_entries(data) == []
        assert any(data.rglob("b.bin")) and os.path.exists(data / "ota.db")
    finally:
        bp.stop()
