"""The device message codec against the recorded payloads of the spec (section 7)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from backend.mqtt.messages import (
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


@pytest.mark.parametrize("topic,payload,field", BAD_CASES.values(), ids=BAD_CASES.keys())
def test_malformed_is_rejected_naming_the_field(topic, payload, field):
    with pytest.raises(BadMessage, match=re.escape(field)):
        parse_up(topic, payload)


def test_bad_message_is_a_value_error():
    assert issubclass(BadMessage, ValueError)


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
