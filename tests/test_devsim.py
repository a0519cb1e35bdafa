"""ota-devsim against a real Mosquitto, with the test playing the backend.

The backend is not needed: ``FakeMqttBackend`` pushes the seed's upgrade message
(examples/mqtt-down-upgrade.json) and watches ``$ota/up/#``; ``FakeHttpBackend`` serves the
firmware files (with Range) and the device API routes the CLI calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devsim import Behaviour, Credential, Fleet, SimOptions, credentials
from devsim import behaviour as B
from devsim.cli import main as cli_main
from devsim.download import resolve_url
from ota_protocol.device import parse_upgrade_push
from tests._examples import example

try:
    from tests._devsim_fixtures import FakeHttpBackend, FakeMqttBackend, Mosquitto
except ImportError:  # tests/ is not a package
    from _devsim_fixtures import FakeHttpBackend, FakeMqttBackend, Mosquitto

pytestmark = [pytest.mark.mqtt, pytest.mark.timeout(60)]

FAST = SimOptions(flash_seconds=0.05, reconnect_delay=0.2)
SERVICE = ("ota-service", "service-secret")


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    mq = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield mq
    mq.stop()


@pytest.fixture(scope="module")
def auth_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """Passwords and per-device ACLs as the backend writes them: the service account and
    two devices of product PAUTH."""
    acl = [f"user {SERVICE[0]}", "topic readwrite $ota/#", "topic readwrite #"]
    for dev in ("good", "bad"):
        acl += [f"user PAUTH&{dev}", f"topic write $ota/up/+/PAUTH/{dev}", f"topic read $ota/down/+/PAUTH/{dev}"]
    mq = Mosquitto(
        tmp_path_factory.mktemp("mosquitto-auth"),
        passwords={SERVICE[0]: SERVICE[1], "PAUTH&good": "s3cret", "PAUTH&bad": "right"},
        acl=acl,
    ).start()
    yield mq
    mq.stop()


@pytest.fixture(scope="module")
def http() -> Iterator[FakeHttpBackend]:
    server = FakeHttpBackend().start()
    yield server
    server.stop()


@pytest.fixture
def backend(broker: Mosquitto) -> Iterator[FakeMqttBackend]:
    be = FakeMqttBackend(broker.port)
    yield be
    be.close()


@pytest.fixture
def product() -> str:
    """A fresh productID per test, so tests sharing the broker never see each other."""
    return "P" + secrets.token_hex(5)


@pytest.fixture
def make_fleet(broker: Mosquitto, http: FakeHttpBackend) -> Iterator[Callable[..., Fleet]]:
    fleets: list[Fleet] = []

    def make(product: str, names: list[str], **kwargs: Any) -> Fleet:
        kwargs.setdefault("mqtt_url", broker.url)
        kwargs.setdefault("base_url", http.url)
        kwargs.setdefault("options", FAST)
        fleet = Fleet([Credential(product, n, None) for n in names], **kwargs)
        fleets.append(fleet)
        return fleet.start()

    yield make
    for fleet in fleets:
        fleet.stop()


def firmware(http: FakeHttpBackend, product: str, sizes: tuple[int, ...] = (40_000, 9_000)) -> list[dict[str, Any]]:
    """Real files on the file server, as push ``files`` entries with real md5s.

    The first URL is relative with a presigned-style query, the second absolute.
    """
    files = []
    for i, size in enumerate(sizes):
        key = f"/api/v1/oss/ithings-private/productManage/ota/{product}/1.0.0/fw{i}.bin"
        entry = http.add_file(f"{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab%2F{i}", os.urandom(size))
        if i == 1:
            entry["url"] = http.url + entry["url"]
        files.append(entry)
    return files


def final_report(be: FakeMqttBackend, dev: str, record_id: int) -> Callable[[], bool]:
    return lambda: any(m["params"].get("id") == record_id for m in be.of(dev, "report"))


def failed_step(be: FakeMqttBackend, dev: str) -> Callable[[], bool]:
    return lambda: any(m["params"]["step"] < 0 for m in be.of(dev, "progress"))


# --------------------------------------------------------------------------- unit
def test_assignment_follows_the_mix_exactly_and_is_seeded() -> None:
    names = [f"d{i}" for i in range(1000)]
    mix = B.parse_mix("succeed=90,fail-download=5,silent=5")
    a = B.assign(names, mix, seed=7)
    counts = {k: sum(1 for b in a.values() if b.name == k) for k in mix}
    assert counts == {"succeed": 900, "fail-download": 50, "silent": 50}
    assert a == B.assign(names, mix, seed=7)
    assert a != B.assign(names, mix, seed=8)
    b = B.assign(names, mix, {"d1": "fail-flash-once"}, seed=7, fail_once=True)
    assert b["d1"] == Behaviour("fail-flash", once=True)
    assert all(beh.once for beh in b.values() if beh.kind == "silent")
    with pytest.raises(ValueError, match="not simulated"):
        B.assign(names, mix, {"nobody": "silent"})
    with pytest.raises(ValueError, match="unknown behaviour"):
        B.parse_mix("succeed=50,explode=50")


def test_once_behaviours_succeed_on_retry() -> None:
    b = Behaviour.parse("fail-flash-once")
    assert [b.for_attempt(i) for i in (1, 2, 3)] == ["fail-flash", "succeed", "succeed"]
    assert Behaviour.parse("fail-flash").for_attempt(2) == "fail-flash"
    with pytest.raises(ValueError):
        Behaviour.parse("disconnect-once")


def test_seed_push_parses_and_relative_urls_keep_their_signature() -> None:
    push = parse_upgrade_push(json.dumps(example("mqtt-down-upgrade.json")).encode())
    assert (push.record_id, push.version, push.sign_method, len(push.files)) == (1, "1.0.0", "md5", 2)
    url = resolve_url("http://127.0.0.1:7777/", push.files[0].url)
    assert url.startswith("http://127.0.0.1:7777/api/v1/oss/ithings-private/")
    assert "X-Amz-Credential=root%2F20230621%2F" in url
    assert resolve_url("http://x:1", "http://y:2/a?b=%2F") == "http://y:2/a?b=%2F"


def test_credentials_csv(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text("productID,deviceName,deviceSecret\nP1,dev00001,s1\n\nP1,dev00002,s2\n", encoding="utf-8")
    assert credentials.load_csv(f) == [Credential("P1", "dev00001", "s1"), Credential("P1", "dev00002", "s2")]


# --------------------------------------------------------------------------- protocol
def test_device_reports_its_version_on_connect(make_fleet: Callable[..., Fleet], backend: FakeMqttBackend,
                                               product: str) -> None:
    make_fleet(product, ["dev00001"], version="0.9.0")
    backend.wait_for(lambda: backend.of("dev00001", "report"))
    topic = next(t for _, t, _ in backend.messages if t.endswith("/dev00001"))
    assert topic == f"$ota/up/report/{product}/dev00001"
    msg = backend.of("dev00001", "report")[0]
    seed = example("mqtt-up-report.json")
    assert msg.keys() == seed.keys()
    assert msg["params"] == {"version": "0.9.0", "module": "default"}
    assert msg["method"] == "reportInfo" and isinstance(msg["clientToken"], str)
    assert abs(msg["timestamp"] - time.time() * 1000) < 60_000


@pytest.mark.parametrize("sign_method", ["md5", "sha256"])
def test_upgrade_downloads_verifies_reports_progress_and_new_version(
    make_fleet: Callable[..., Fleet], backend: FakeMqttBackend, http: FakeHttpBackend, product: str, sign_method: str
) -> None:
    files = firmware(http, product)
    if sign_method == "sha256":
        for f in files:
            f["signature"] = hashlib.sha256(http.files[f["url"].removeprefix(http.url).split("?")[0]]).hexdigest()
    fleet = make_fleet(product, ["dev00001"])
    fleet.wait_connected(10)
    backend.push(product, "dev00001", files, record_id=41, sign_method=sign_method)
    backend.wait_for(final_report(backend, "dev00001", 41))

    progress = backend.of("dev00001", "progress")
    assert [m["params"]["step"] for m in progress] == [25, 50, 75, 90, 100]
    seed = example("mqtt-up-progress.json")
    for m in progress:
        assert m.keys() == seed.keys() and m["params"].keys() == seed["params"].keys()
        assert m["method"] == "progress" and m["params"]["id"] == 41 and m["params"]["module"] == "default"
    assert progress[0]["params"]["desc"] == "downloading" and progress[3]["params"]["desc"] == "flashing"
    last = backend.of("dev00001", "report")[-1]
    assert last["params"] == {"version": "1.0.0", "module": "default", "id": 41}
    tokens = [m["clientToken"] for m in backend.of("dev00001")]
    assert len(set(tokens)) == len(tokens)

    dev = fleet.device("dev00001")
    assert (dev.version, dev.status, dev.outcome) == ("1.0.0", "succeeded", "succeeded")
    assert [(f.received, f.size_ok, f.digest_ok) for f in dev.files] == [(40_000, True, True), (9_000, True, True)]
    fetched = [r[1] for r in http.requests if product in r[1]]
    assert any(p.endswith("fw0.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab%2F0") for p in fetched)
    assert any("fw1.bin" in p for p in fetched)

    backend.ack(product, "dev00001", progress[0]["clientToken"])
    fleet.wait_until(lambda f: f.device("dev00001").acks == [(200, "成功")], 5)


@pytest.mark.parametrize(
    ("behaviour", "step"), [("fail-download", -2), ("fail-verify", -3), ("fail-flash", -4), ("corrupt", -3)]
)
def test_failures_report_their_step(make_fleet: Callable[..., Fleet], backend: FakeMqttBackend,
                                    http: FakeHttpBackend, product: str, behaviour: str, step: int) -> None:
    fleet = make_fleet(product, ["dev00001"], behaviours={"dev00001": behaviour})
    fleet.wait_connected(10)
    backend.push(product, "dev00001", firmware(http, product), record_id=5)
    backend.wait_for(failed_step(backend, "dev00001"))
    steps = [m["params"]["step"] for m in backend.of("dev00001", "progress")]
    assert steps[-1] == step and steps[:-1] == sorted(set(steps[:-1])) and all(s > 0 for s in steps[:-1])
    assert backend.of("dev00001", "progress")[-1]["params"]["id"] == 5
    assert backend.of("dev00001", "progress")[-1]["params"]["desc"]
    time.sleep(FAST.flash_seconds * 4)
    assert all("id" not in m["params"] for m in backend.of("dev00001", "report"))
    dev = fleet.device("dev00001")
    assert (dev.version, dev.outcome, dev.attempt.fail_step) == ("0.9.0", "failed", step)
    if behaviour == "corrupt":
        assert dev.files[0].size_ok and not dev.files[0].digest_ok


def test_silent_device_never_answers(make_fleet: Callable[..., Fleet], backend: FakeMqttBackend,
                                     http: FakeHttpBackend, product: str) -> None:
    fleet = make_fleet(product, ["dev00001"], behaviours={"dev00001": "silent"})
    fleet.wait_connected(10)
    backend.wait_for(lambda: backend.of("dev00001"))
    before = len(backend.of("dev00001"))
    backend.push(product, "dev00001", firmware(http, product), record_id=9)
    fleet.wait_until(lambda f: f.device("dev00001").pushes, 5)
    time.sleep(1.0)
    assert len(backend.of("dev00001")) == before
    assert not [r for r in http.requests if product in r[1]]
    assert fleet.device("dev00001").status == "silent"


def test_disconnect_mid_download_resumes_with_range(make_fleet: Callable[..., Fleet], backend: FakeMqttBackend,
                                                    http: FakeHttpBackend, product: str) -> None:
    fleet = make_fleet(product, ["dev00001"], behaviours={"dev00001": "disconnect"})
    fleet.wait_connected(10)
    files = firmware(http, product, sizes=(300_000, 20_000))
    backend.push(product, "dev00001", files, record_id=77)
    backend.wait_for(final_report(backend, "dev00001", 77), timeout=15)

    path = files[0]["url"].split("?")[0]
    ranges = http.range_requests(path)
    assert len(ranges) == 1
    offset = int(ranges[0].removeprefix("bytes=").rstrip("-"))
    assert 0 < offset < 300_000
    reports = backend.of("dev00001", "report")
    assert [m["params"].get("id") for m in reports] == [None, None, 77]  # connect, reconnect, done
    # QoS 1 is at-least-once: a publish in flight when the link dropped is sent again (same clientToken)
    unique = {m["clientToken"]: m["params"]["step"] for m in backend.of("dev00001", "progress")}
    assert list(unique.values()) == [25, 50, 75, 90, 100]
    dev = fleet.device("dev00001")
    assert dev.connects == 2 and dev.files[0].resumed and dev.files[0].statuses == [200, 206]
    assert dev.version == "1.0.0" and all(f.verified for f in dev.files)


def test_failed_device_attempts_again_when_pushed_again(make_fleet: Callable[..., Fleet], backend: FakeMqttBackend,
                                                        http: FakeHttpBackend, product: str) -> None:
    fleet = make_fleet(product, ["dev00001", "dev00002", "dev00003"],
                       behaviours={"dev00001": "fail-flash-once", "dev00002": "fail-download", "dev00003": "corrupt"},
                       fail_once=True)
    fleet.wait_connected(10)
    files = firmware(http, product)
    for i, name in enumerate(("dev00001", "dev00002", "dev00003")):
        backend.push(product, name, files, record_id=100 + i)
    for name in ("dev00001", "dev00002", "dev00003"):
        backend.wait_for(failed_step(backend, name))
    for i, name in enumerate(("dev00001", "dev00002", "dev00003")):  # device-retry pushes the same record again
        backend.push(product, name, files, record_id=100 + i)
    for i, name in enumerate(("dev00001", "dev00002", "dev00003")):
        backend.wait_for(final_report(backend, name, 100 + i))
        assert len(fleet.device(name).attempts) == 2
    steps = [m["params"]["step"] for m in backend.of("dev00001", "progress")]
    assert steps == [25, 50, 75, 90, -4, 25, 50, 75, 90, 100]


def test_push_for_another_record_supersedes_the_running_one(
    make_fleet: Callable[..., Fleet], backend: FakeMqttBackend, http: FakeHttpBackend, product: str
) -> None:
    fleet = make_fleet(product, ["dev00001"], options=SimOptions(flash_seconds=0.8))
    fleet.wait_connected(10)
    files = firmware(http, product)
    backend.push(product, "dev00001", files, record_id=1)
    fleet.wait_until(lambda f: f.device("dev00001").status == "flashing", 5)
    backend.push(product, "dev00001", files, record_id=2, version="1.0.1")
    backend.wait_for(final_report(backend, "dev00001", 2))
    time.sleep(0.3)
    dev = fleet.device("dev00001")
    assert [a.outcome for a in dev.attempts] == ["superseded", "succeeded"] and dev.version == "1.0.1"
    assert not final_report(backend, "dev00001", 1)()


# --------------------------------------------------------------------------- scale and modes
def test_two_hundred_devices_in_one_process(make_fleet: Callable[..., Fleet], backend: FakeMqttBackend,
                                            http: FakeHttpBackend, product: str) -> None:
    files = firmware(http, product, sizes=(8_000,))
    ids = {}

    def answer(p: str, d: str, msg: dict[str, Any]) -> None:  # the backend pushes in answer to a report
        if p == product and "id" not in msg["params"] and d not in ids:
            ids[d] = 1000 + len(ids)
            backend.push(p, d, files, record_id=ids[d])

    backend.on_report = answer
    names = [f"dev{i:05d}" for i in range(1, 201)]
    fleet = make_fleet(product, names)
    fleet.wait_until(lambda f: f.counts()["succeeded"] == 200, 30)
    summary = fleet.summary()
    assert summary["connected"] == 200 and summary["files_verified"] == 200 and summary["fail_steps"] == {}
    assert all(fleet.device(n).reports[-1] == ("1.0.0", ids[n]) for n in names)


def test_shared_connections_carry_many_devices(auth_broker: Mosquitto, http: FakeHttpBackend, product: str) -> None:
    be = FakeMqttBackend(auth_broker.port, *SERVICE)
    names = [f"dev{i:05d}" for i in range(1, 31)]
    fleet = Fleet(
        [Credential(product, n, None) for n in names],
        mqtt_url=f"mqtt://{SERVICE[0]}:{SERVICE[1]}@127.0.0.1:{auth_broker.port}",
        base_url=http.url,
        behaviours={"dev00002": "disconnect", "dev00003": "fail-verify"},
        shared_connections=3,
        options=FAST,
    )
    try:
        fleet.start()
        fleet.wait_connected(10)
        assert len(fleet.connections) == 3
        be.wait_for(lambda: all(be.of(n, "report") for n in names))
        files = firmware(http, product, sizes=(100_000,))
        for i, n in enumerate(names):
            be.push(product, n, files, record_id=i + 1)
        fleet.wait_until(lambda f: f.counts()["succeeded"] == 29 and f.counts()["failed"] == 1, 20)
        be.wait_for(final_report(be, "dev00002", 2))
        assert http.range_requests(files[0]["url"].split("?")[0])
        assert [m["params"]["step"] for m in be.of("dev00003", "progress")][-1] == -3
    finally:
        fleet.stop()
        be.close()


def test_devices_log_in_with_their_own_secret_under_acls(auth_broker: Mosquitto, http: FakeHttpBackend) -> None:
    be = FakeMqttBackend(auth_broker.port, *SERVICE)
    fleet = Fleet(
        [Credential("PAUTH", "good", "s3cret"), Credential("PAUTH", "bad", "wrong")],
        mqtt_url=auth_broker.url, base_url=http.url, options=FAST,
    )
    try:
        fleet.start()
        fleet.wait_until(lambda f: f.device("good").connected, 10)
        fleet.wait_until(lambda f: f.device("bad").connection_error is not None, 5)
        assert not fleet.device("bad").connected
        assert "refused" in fleet.device("bad").connection_error
        be.wait_for(lambda: be.of("good", "report"))
        be.push("PAUTH", "good", firmware(http, "PAUTH"), record_id=3)
        be.wait_for(final_report(be, "good", 3))
        assert not be.of("bad")
    finally:
        fleet.stop()
        be.close()


def test_unreachable_file_reports_download_failure(make_fleet: Callable[..., Fleet], backend: FakeMqttBackend,
                                                   http: FakeHttpBackend, product: str) -> None:
    fleet = make_fleet(product, ["dev00001"])
    fleet.wait_connected(10)
    files = firmware(http, product)
    files[0]["url"] = "/api/v1/oss/ithings-private/missing.bin?X-Amz-Signature=00"
    backend.push(product, "dev00001", files, record_id=8)
    backend.wait_for(failed_step(backend, "dev00001"))
    last = backend.of("dev00001", "progress")[-1]["params"]
    assert last["step"] == -2 and "404" in last["desc"]


def test_cli_creates_missing_devices_and_prints_a_json_summary(
    broker: Mosquitto, http: FakeHttpBackend, backend: FakeMqttBackend, product: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(credentials, "PAGE_SIZE", 2)  # make the index page
    http.token = "T0KEN"
    for n in ("dev00001", "dev00002", "dev00003"):
        http.devices[(product, n)] = {"productID": product, "deviceName": n, "version": "0.9.0", "deviceSecret": "x"}
    try:
        rc = cli_main([
            "--base-url", http.url, "--mqtt-url", broker.url, "--product", product, "--count", "4",
            "--token", "T0KEN", "--create", "--until-idle", "0.5", "--json-summary", "--status-interval", "0",
            "--behaviour", "succeed=50,silent=50", "--device-behaviour", "dev00004=fail-flash",
        ])
    finally:
        http.token = None
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["devices"] == 4 and summary["connected"] == 4 and summary["by_behaviour"]["fail-flash"]
    calls = [(p, b) for p, b in http.api_bodies if b.get("productID") == product]
    imports = [b for p, b in calls if p.endswith("/import")]
    assert imports == [{"productID": product, "devices": [{"deviceName": "dev00004", "version": "0.9.0"}]}]
    index_pages = [b["page"]["page"] for p, b in calls if p.endswith("/index")]
    assert index_pages[:2] == [1, 2] and all(b["withSecret"] for p, b in calls if p.endswith("/index"))
    assert all(r[4] == "T0KEN" for r in http.requests if r[0] == "POST")
    assert {m["params"]["version"] for n in ("dev00001", "dev00004") for m in backend.of(n, "report")} == {"0.9.0"}


def test_cli_reports_a_missing_device_without_create(http: FakeHttpBackend, product: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli_main(["--base-url", http.url, "--product", product, "--count", "1", "--until-idle", "0"])
    assert rc == 2
    assert "--create" in capsys.readouterr().err


def test_simulator_failure_texts_always_fit_the_protocol() -> None:
    """A long, multi-line exception text (a long file name, a traceback) must not make the
    backend refuse the failure report: the device's failure would go unrecorded."""
    from ota_protocol.device import progress_report
    from ota_protocol.messages import MAX_DESC_CHARS, parse_up

    text = "download failed: " + "名" * 300 + "\nTraceback (most recent call last):\n\x00\x1b[31m"
    msg = parse_up("$ota/up/progress/P1/dev-0001", progress_report("TOK-001", 7, -1, text))
    assert msg.step == -1 and len(msg.desc) == MAX_DESC_CHARS and msg.desc.startswith("download failed: 名")
    assert "\n" not in msg.desc and "\x00" not in msg.desc
