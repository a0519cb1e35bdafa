"""The device message codec against the recorded payloads of the spec (section 7)."""

from __future__ import annotations

import json
import re

import pytest

from ota_protocol.messages import (
    MAX_DEPTH,
    MAX_DESC_CHARS,
    MAX_INT,
    MAX_PAYLOAD_BYTES,
    MAX_TOKEN_CHARS,
    MAX_VERSION_CHARS,
    VERSION_RE,
    BadMessage,
    Progress,
    PushFile,
    Report,
    new_client_token,
    parse_up,
    progress_reply,
    topic_down_progress,
    topic_down_upgrade,
    upgrade_push,
)
from tests._examples import example_bytes

REPORT_TOPIC = "$ota/up/report/P1/dev-0001"
PROGRESS_TOPIC = "$ota/up/progress/P1/dev-0001"


def example(name: str) -> bytes:
    return example_bytes(name)


def with_changes(name: str, *, params: dict | None = None, drop: tuple[str, ...] = (), **top) -> bytes:
    body = json.loads(example(name))
    for key in drop:
        if key.startswith("params."):
            del body["params"][key.removeprefix("params.")]
        else:
            del body[key]
    body.update(top)
    if params is not None:
        body["params"].update(params)
    return json.dumps(body).encode()


# --------------------------------------------------------------------------- accepted


def test_example_report_parses():
    msg = parse_up(REPORT_TOPIC, example("mqtt-up-report.json"))
    assert msg == Report(
        product_id="P1",
        device_name="dev-0001",
        client_token="dev-0001-1",
        timestamp=1687315938000,
        version="0.9.0",
        module="default",
        record_id=None,
    )


def test_example_progress_parses():
    msg = parse_up(PROGRESS_TOPIC, example("mqtt-up-progress.json"))
    assert msg == Progress(
        product_id="P1",
        device_name="dev-0001",
        client_token="dev-0001-2",
        timestamp=1687315939000,
        record_id=1,
        step=45,
        desc="downloading",
        module="default",
    )


def test_report_optional_fields_and_msgtoken_synonym():
    payload = json.dumps({"method": "reportInfo", "msgToken": "m-1", "params": {"version": "1.0", "id": 7}})
    msg = parse_up(REPORT_TOPIC, payload.encode())
    assert (msg.client_token, msg.timestamp, msg.module, msg.record_id) == ("m-1", 0, "default", 7)
    bare = parse_up(REPORT_TOPIC, b'{"method":"reportInfo","params":{"version":"1"}}')
    assert bare.client_token == ""


@pytest.mark.parametrize("step", [-4, -1, 1, 100])
def test_progress_step_bounds_accepted(step):
    msg = parse_up(PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"step": step}))
    assert msg.step == step


def test_progress_desc_optional_and_utf8_text():
    payload = with_changes("mqtt-up-progress.json", drop=("params.desc",))
    assert parse_up(PROGRESS_TOPIC, payload).desc == ""
    payload = with_changes("mqtt-up-progress.json", params={"desc": "校验失败", "step": -3})
    assert parse_up(PROGRESS_TOPIC, payload).desc == "校验失败"


# --------------------------------------------------------------------------- rejected

BAD_CASES = {
    "not utf-8": (REPORT_TOPIC, b'{"method":"reportInfo","params":{"version":"\xff"}}', "UTF-8"),
    "not json": (REPORT_TOPIC, b"version=1.0", "not JSON"),
    "json array": (REPORT_TOPIC, b"[1, 2]", "object"),
    "empty payload": (REPORT_TOPIC, b"", "not JSON"),
    "method missing": (REPORT_TOPIC, with_changes("mqtt-up-report.json", drop=("method",)), "method"),
    "method of other topic": (REPORT_TOPIC, example("mqtt-up-progress.json"), "method"),
    "report method on progress": (PROGRESS_TOPIC, example("mqtt-up-report.json"), "method"),
    "clientToken number": (REPORT_TOPIC, with_changes("mqtt-up-report.json", clientToken=5), "clientToken"),
    "msgToken number": (
        REPORT_TOPIC,
        with_changes("mqtt-up-report.json", drop=("clientToken",), msgToken=5),
        "msgToken",
    ),
    "timestamp string": (REPORT_TOPIC, with_changes("mqtt-up-report.json", timestamp="1"), "timestamp"),
    "timestamp float": (REPORT_TOPIC, with_changes("mqtt-up-report.json", timestamp=1.5), "timestamp"),
    "params missing": (REPORT_TOPIC, with_changes("mqtt-up-report.json", drop=("params",)), "params"),
    "params list": (REPORT_TOPIC, b'{"method":"reportInfo","params":["0.9.0"]}', "params"),
    "version missing": (REPORT_TOPIC, with_changes("mqtt-up-report.json", drop=("params.version",)), "version"),
    "version empty": (REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"version": ""}), "version"),
    "version number": (REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"version": 1}), "version"),
    "report id string": (REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"id": "1"}), "id"),
    "module number": (REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"module": 1}), "module"),
    "progress id missing": (PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", drop=("params.id",)), "id"),
    "progress id bool": (PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"id": True}), "id"),
    "step missing": (PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", drop=("params.step",)), "step"),
    "step zero": (PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"step": 0}), "step"),
    "step bool": (PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"step": True}), "step"),
    "step string": (PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"step": "45"}), "step"),
    "step float": (PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"step": 45.0}), "step"),
    "step too low": (PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"step": -5}), "step"),
    "step too high": (PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"step": 101}), "step"),
    "desc number": (PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"desc": 3}), "desc"),
    "down topic": ("$ota/down/upgrade/P1/dev-0001", example("mqtt-up-report.json"), "topic"),
    "unknown kind": ("$ota/up/status/P1/dev-0001", example("mqtt-up-report.json"), "topic"),
    "topic too short": ("$ota/up/report/P1", example("mqtt-up-report.json"), "topic"),
    "topic too long": ("$ota/up/report/P1/dev/x", example("mqtt-up-report.json"), "topic"),
    "empty device": ("$ota/up/report/P1/", example("mqtt-up-report.json"), "topic"),
    "no $ prefix": ("ota/up/report/P1/dev-0001", example("mqtt-up-report.json"), "topic"),
}

# Hostile input: every limit of the parser (see the MAX_* constants and VERSION_RE).
_DEEP_ARRAY = b'{"method":"reportInfo","params":{"version":"1.0","x":' + b"[" * 1000 + b"]" * 1000 + b"}}"
_DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000
_NINE_DEEP = (b'{"method":"reportInfo","params":{"version":"1.0","x":'
              + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}}")
LIMIT_CASES = {
    "1000 levels of arrays (~2 KB)": (REPORT_TOPIC, _DEEP_ARRAY, "nested"),
    "1000 levels of objects": (REPORT_TOPIC, _DEEP_OBJECT, "nested"),
    "1000 levels on the progress topic": (PROGRESS_TOPIC, b"[" * 1000 + b"]" * 1000, "nested"),
    "one level beyond MAX_DEPTH": (REPORT_TOPIC, _NINE_DEEP, "nested"),
    "payload over MAX_PAYLOAD_BYTES": (
        REPORT_TOPIC, example("mqtt-up-report.json") + b" " * MAX_PAYLOAD_BYTES, "payload"),
    "version of 10 MB": (
        REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"version": "1" * 10_000_000}), "payload"),
    "version of 65 characters": (
        REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"version": "1" * 65}), "params.version"),
    "version with a trailing newline": (
        REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"version": "1.0\n"}), "params.version"),
    "version with a space": (
        REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"version": "1.0 beta"}), "params.version"),
    "version starting with a dot": (
        REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"version": ".1"}), "params.version"),
    "version with a quote": (
        REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"version": '1"0'}), "params.version"),
    "version not ASCII": (
        REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"version": "版本1"}), "params.version"),
    "version with NUL": (
        REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"version": "1\u0000"}), "params.version"),
    "report id 2**63": (REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"id": 2**63}), "params.id"),
    "report id 0": (REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"id": 0}), "params.id"),
    "report id of 4000 digits": (
        REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"id": 10**4000}), "params.id"),
    "report id of 5000 digits": (  # beyond Python's int parsing limit: not JSON it can read
        REPORT_TOPIC, b'{"method":"reportInfo","params":{"version":"1","id":' + b"9" * 5000 + b"}}", "JSON"),
    "progress id 2**63": (PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"id": 2**63}), "params.id"),
    "progress id negative": (PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"id": -1}), "params.id"),
    "timestamp 2**63": (REPORT_TOPIC, with_changes("mqtt-up-report.json", timestamp=2**63), "timestamp"),
    "timestamp negative": (REPORT_TOPIC, with_changes("mqtt-up-report.json", timestamp=-1), "timestamp"),
    "timestamp NaN": (REPORT_TOPIC, b'{"method":"reportInfo","timestamp":NaN,"params":{"version":"1"}}', "JSON"),
    "step of 5000 digits": (
        PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"step": 10**4000}), "params.step"),
    "desc over MAX_DESC_CHARS": (
        PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"desc": "x" * (MAX_DESC_CHARS + 1)}),
        "params.desc"),
    "desc with a newline": (
        PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"desc": "a\nb"}), "params.desc"),
    "desc with NUL": (PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"desc": "a\u0000"}), "params.desc"),
    "desc with ESC": (
        PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"desc": "\x1b[31m"}), "params.desc"),
    "desc with DEL": (PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"desc": "a\x7f"}), "params.desc"),
    "desc with a C1 control": (
        PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"desc": "a\x85"}), "params.desc"),
    "desc with a lone surrogate": (
        PROGRESS_TOPIC, b'{"method":"progress","params":{"id":1,"step":1,"desc":"\\ud800"}}', "params.desc"),
    "clientToken of 65 characters": (
        REPORT_TOPIC, with_changes("mqtt-up-report.json", clientToken="t" * (MAX_TOKEN_CHARS + 1)), "clientToken"),
    "clientToken of 1 MB": (REPORT_TOPIC, with_changes("mqtt-up-report.json", clientToken="t" * 1_000_000), "payload"),
    "clientToken with a newline": (
        PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", clientToken="t\n"), "clientToken"),
    "clientToken not ASCII": (
        PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", clientToken="令牌"), "clientToken"),
    "msgToken too long": (
        REPORT_TOPIC,
        with_changes("mqtt-up-report.json", drop=("clientToken",), msgToken="m" * (MAX_TOKEN_CHARS + 1)),
        "msgToken"),
    "module with a slash": (
        REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"module": "a/b"}), "params.module"),
    "module of 65 characters": (
        REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"module": "m" * 65}), "params.module"),
    "method of 10 KB": (REPORT_TOPIC, with_changes("mqtt-up-report.json", method="m" * 10_000), "method"),
    "deviceName too long": ("$ota/up/report/P1/" + "d" * 129, example("mqtt-up-report.json"), "deviceName"),
    "deviceName with a control character": ("$ota/up/report/P1/d\x01", example("mqtt-up-report.json"), "deviceName"),
    "topic of 1 MB": ("$ota/up/report/P1/" + "d" * 1_000_000, example("mqtt-up-report.json"), "topic"),
}
BAD_CASES.update(LIMIT_CASES)


@pytest.mark.parametrize("topic,payload,field", BAD_CASES.values(), ids=BAD_CASES.keys())
def test_malformed_is_rejected_naming_the_field(topic, payload, field):
    with pytest.raises(BadMessage, match=re.escape(field)):
        parse_up(topic, payload)


def test_bad_message_is_a_value_error():
    assert issubclass(BadMessage, ValueError)


@pytest.mark.parametrize("topic,payload,field", LIMIT_CASES.values(), ids=LIMIT_CASES.keys())
def test_refusals_stay_short(topic, payload, field):
    """What a device sent is never echoed at length (logs, error acknowledgements)."""
    with pytest.raises(BadMessage) as caught:
        parse_up(topic, payload)
    assert len(str(caught.value)) < 300


def test_limits_accept_their_boundaries():
    longest = with_changes("mqtt-up-report.json", clientToken="t" * MAX_TOKEN_CHARS, timestamp=MAX_INT,
                           params={"version": "V" + "0._+-" * 12 + "abc", "id": MAX_INT, "module": "m" * 64})
    msg = parse_up(REPORT_TOPIC, longest)
    assert (len(msg.version), msg.record_id, msg.timestamp, len(msg.client_token)) == (64, MAX_INT, MAX_INT, 64)
    progress = parse_up(PROGRESS_TOPIC, with_changes("mqtt-up-progress.json",
                                                     params={"id": MAX_INT, "desc": "校" * MAX_DESC_CHARS}))
    assert progress.record_id == MAX_INT and len(progress.desc) == MAX_DESC_CHARS
    emoji = parse_up(PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", params={"desc": "a b (c) 😀"}))
    assert emoji.desc == "a b (c) 😀"
    at_limit = example("mqtt-up-report.json")
    at_limit += b" " * (MAX_PAYLOAD_BYTES - len(at_limit))
    assert len(at_limit) == MAX_PAYLOAD_BYTES and parse_up(REPORT_TOPIC, at_limit).version == "0.9.0"
    depth = MAX_DEPTH - 2  # the message object and params count too
    nested = b'{"method":"reportInfo","params":{"version":"1.0","x":' + b"[" * depth + b"]" * depth + b"}}"
    assert parse_up(REPORT_TOPIC, nested).version == "1.0"
    empty_module = with_changes("mqtt-up-report.json", params={"module": ""})
    assert parse_up(REPORT_TOPIC, empty_module).module == "default"


@pytest.mark.parametrize("version", ["1", "1.0.0", "v2.0.0-rc.1+build_7", "A" * MAX_VERSION_CHARS, "0_9"])
def test_version_rule_accepts(version):
    assert VERSION_RE.fullmatch(version) and VERSION_RE.match(version)
    assert parse_up(REPORT_TOPIC, with_changes("mqtt-up-report.json", params={"version": version})).version == version


@pytest.mark.parametrize("version", ["", "1.0\n", "\n1.0", "-1", "_1", "+1", ".1", "1 0", "1,0", "1/0", "1\\0",
                                     "A" * (MAX_VERSION_CHARS + 1), "١٢", "1.0\x00", "ｖ1"])
def test_version_rule_refuses(version):
    """Anchored at both ends: ``match`` is as strict as ``fullmatch`` (no ``$`` newline gap)."""
    assert not VERSION_RE.fullmatch(version) and not VERSION_RE.match(version)


def test_refusal_carries_the_valid_client_token_for_the_acknowledgement():
    with pytest.raises(BadMessage) as caught:
        parse_up(PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", clientToken="tok-1", params={"step": 0}))
    assert caught.value.client_token == "tok-1"
    with pytest.raises(BadMessage) as caught:
        parse_up(PROGRESS_TOPIC, with_changes("mqtt-up-progress.json", clientToken="t" * 5000))
    assert caught.value.client_token == ""


# --------------------------------------------------------------------------- building


def _shape(value):
    """Keys in order and value types, recursively: what a device's parser depends on."""
    if isinstance(value, dict):
        return [(key, _shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def test_upgrade_push_has_the_seed_shape():
    seed = json.loads(example("mqtt-down-upgrade.json"))
    files = [PushFile(**f) for f in seed["data"]["files"][:1]] + seed["data"]["files"][1:]
    out = upgrade_push(
        client_token="PPXLSKBUPZ-444",
        record_id=1,
        is_diff=True,
        sign_method="md5",
        version="1.0.0",
        files=files,
        timestamp=1687315938340,
    )
    assert json.loads(out) == seed
    assert _shape(json.loads(out)) == _shape(seed)
    assert "成功".encode() in out  # UTF-8, not \u escapes


def test_upgrade_push_defaults_timestamp_and_keeps_the_is_diff_code():
    out = json.loads(
        upgrade_push(client_token="t", record_id=3, is_diff=2, sign_method="sha256", version="2", files=[])
    )
    assert out["data"]["isDiff"] == 2 and out["data"]["files"] == []  # 2 = differential, as stored
    assert isinstance(out["timestamp"], int) and out["timestamp"] > 1_600_000_000_000


def test_progress_reply_shape():
    out = progress_reply("abc-2", timestamp=5)
    assert list(json.loads(out).items()) == [
        ("method", "progressReply"),
        ("clientToken", "abc-2"),
        ("timestamp", 5),
        ("code", 200),
        ("status", "成功"),
    ]
    err = json.loads(progress_reply("abc-3", code=2100003, status="record is not this device's"))
    assert (err["code"], err["status"]) == (2100003, "record is not this device's")


def test_topics():
    assert topic_down_upgrade("P1", "d1") == "$ota/down/upgrade/P1/d1"
    assert topic_down_progress("P1", "d1") == "$ota/down/progress/P1/d1"
    with pytest.raises(ValueError):
        topic_down_upgrade("P1", "a/b")
    with pytest.raises(ValueError):
        topic_down_progress("", "d1")


def test_new_client_token_style():
    tokens = {new_client_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(re.fullmatch(r"[A-Z]{10}-\d+", t) for t in tokens)


def test_the_mqtt_outbound_port_sends_the_seed_upgrade_push_and_progress_reply() -> None:
    """What the engine orders becomes the seed's exact message on the device's down topic."""
    from backend.mqtt.outbound import MqttOutbound
    from backend.ota.ports import OrderFile, ProgressAck, UpgradeOrder

    seed = json.loads(example("mqtt-down-upgrade.json"))
    sent: list[tuple[str, dict]] = []
    port = MqttOutbound(lambda topic, payload: sent.append((topic, json.loads(payload))))
    d = seed["data"]
    port.push(UpgradeOrder("P1", "dev-0001", d["id"], seed["clientToken"], d["version"], d["isDiff"], d["signMethod"],
                           tuple(OrderFile(f["name"], f["signature"], f["size"], f["url"]) for f in d["files"]),
                           seed["timestamp"]))
    port.ack(ProgressAck("P1", "dev-0001", "tok-9", 1700000000000, 2100002, "record 5 already finished (501)"))
    assert sent[0] == (topic_down_upgrade("P1", "dev-0001"), seed)
    assert sent[1] == ("$ota/down/progress/P1/dev-0001",
                       {"method": "progressReply", "clientToken": "tok-9", "timestamp": 1700000000000,
                        "code": 2100002, "status": "record 5 already finished (501)"})
