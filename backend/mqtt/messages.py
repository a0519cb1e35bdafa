"""Codec for the device messages of the OTA MQTT protocol (spec section 7).

Pure Python, no MQTT library: the domain layer gets plain frozen dataclasses from
``parse_up`` and hands plain values to ``upgrade_push`` / ``progress_reply``.

Parsing is strict: anything that is not exactly the documented shape raises
``BadMessage`` whose text names the offending field, so the caller can log it and move on.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "BadMessage",
    "Report",
    "Progress",
    "PushFile",
    "parse_up",
    "parse_up_topic",
    "upgrade_push",
    "progress_reply",
    "topic_down_upgrade",
    "topic_down_progress",
    "topic_up",
    "new_client_token",
    "SUBSCRIBE_UP",
    "STEP_MIN",
    "STEP_MAX",
]

#: Subscription that receives every device → backend message (``#`` alone would not: ``$`` topic).
SUBSCRIBE_UP = "$ota/up/#"

#: Valid ``step`` values: -4..-1 failures, 1..100 percent. 0 is not a valid step.
STEP_MIN = -4
STEP_MAX = 100

_UP_KINDS = {"report": "reportInfo", "progress": "progress"}
_FORBIDDEN_IN_LEVEL = frozenset("/+#\x00")


class BadMessage(ValueError):
    """A device message that does not follow the protocol; the text names what is wrong."""


@dataclass(frozen=True, slots=True)
class Report:
    """``$ota/up/report/{p}/{d}``: the device's current version (method ``reportInfo``)."""

    product_id: str
    device_name: str
    client_token: str
    timestamp: int
    version: str
    module: str
    record_id: int | None


@dataclass(frozen=True, slots=True)
class Progress:
    """``$ota/up/progress/{p}/{d}``: upgrade progress or failure (method ``progress``)."""

    product_id: str
    device_name: str
    client_token: str
    timestamp: int
    record_id: int
    step: int
    desc: str
    module: str


class PushFile(NamedTuple):
    """One file of an upgrade push (``data.files[]``)."""

    name: str
    signature: str
    size: int
    url: str


# --------------------------------------------------------------------------- topics


def _check_level(what: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    if _FORBIDDEN_IN_LEVEL.intersection(value):
        raise ValueError(f"{what} {value!r} contains one of / + # or NUL")
    return value


def _topic(direction: str, kind: str, product_id: str, device_name: str) -> str:
    _check_level("productID", product_id)
    _check_level("deviceName", device_name)
    return f"$ota/{direction}/{kind}/{product_id}/{device_name}"


def topic_up(kind: str, product_id: str, device_name: str) -> str:
    """Device → backend topic; ``kind`` is ``report`` or ``progress`` (used by the simulator)."""
    if kind not in _UP_KINDS:
        raise ValueError(f"unknown up topic kind {kind!r}")
    return _topic("up", kind, product_id, device_name)


def topic_down_upgrade(product_id: str, device_name: str) -> str:
    return _topic("down", "upgrade", product_id, device_name)


def topic_down_progress(product_id: str, device_name: str) -> str:
    return _topic("down", "progress", product_id, device_name)


def parse_up_topic(topic: str) -> tuple[str, str, str]:
    """``$ota/up/{kind}/{p}/{d}`` → ``(kind, p, d)``; ``BadMessage`` for any other topic."""
    parts = topic.split("/")
    if (
        len(parts) != 5
        or parts[0] != "$ota"
        or parts[1] != "up"
        or parts[2] not in _UP_KINDS
        or not parts[3]
        or not parts[4]
        or "+" in topic
        or "#" in topic
    ):
        raise BadMessage(
            f"topic {topic!r} is not $ota/up/report/{{productID}}/{{deviceName}} "
            "or $ota/up/progress/{productID}/{deviceName}"
        )
    return parts[2], parts[3], parts[4]


# --------------------------------------------------------------------------- parsing

_MISSING = object()


def _is_int(value: Any) -> bool:
    # bool is a subclass of int in Python but never a number on this wire.
    return isinstance(value, int) and not isinstance(value, bool)


def _get_str(obj: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> str:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        if default is _MISSING:
            raise BadMessage(f"{where}{key}: missing")
        return default
    if not isinstance(value, str):
        raise BadMessage(f"{where}{key}: expected a string, got {type(value).__name__}")
    return value


def _get_int(obj: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> int:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        if default is _MISSING:
            raise BadMessage(f"{where}{key}: missing")
        return default
    if not _is_int(value):
        raise BadMessage(f"{where}{key}: expected an integer, got {type(value).__name__}")
    return value


def _client_token(body: Mapping[str, Any]) -> str:
    if "clientToken" in body:
        return _get_str(body, "clientToken", "")
    return _get_str(body, "msgToken", "", default="")


def parse_up(topic: str, payload: bytes) -> Report | Progress:
    """Decode one device → backend message.

    Raises ``BadMessage`` (naming the field) for a wrong topic, a payload that is not UTF-8
    JSON object, a wrong ``method`` or any field of the wrong type or range.
    """
    kind, product_id, device_name = parse_up_topic(topic)
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadMessage(f"payload is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise BadMessage(f"payload is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadMessage(f"payload: expected a JSON object, got {type(body).__name__}")

    method = _get_str(body, "method", "")
    expected = _UP_KINDS[kind]
    if method != expected:
        raise BadMessage(f"method: expected {expected!r} on a {kind} topic, got {method!r}")
    client_token = _client_token(body)
    timestamp = _get_int(body, "timestamp", "", default=0)
    params = body.get("params", _MISSING)
    if params is _MISSING:
        raise BadMessage("params: missing")
    if not isinstance(params, dict):
        raise BadMessage(f"params: expected an object, got {type(params).__name__}")
    module = _get_str(params, "module", "params.", default="default") or "default"

    if kind == "report":
        version = _get_str(params, "version", "params.")
        if not version:
            raise BadMessage("params.version: empty")
        record_id = _get_int(params, "id", "params.", default=None)
        return Report(
            product_id=product_id,
            device_name=device_name,
            client_token=client_token,
            timestamp=timestamp,
            version=version,
            module=module,
            record_id=record_id,
        )

    record_id = _get_int(params, "id", "params.")
    step = _get_int(params, "step", "params.")
    if step == 0 or not STEP_MIN <= step <= STEP_MAX:
        raise BadMessage(f"params.step: {step} is not in {STEP_MIN}..-1 or 1..{STEP_MAX}")
    desc = _get_str(params, "desc", "params.", default="")
    return Progress(
        product_id=product_id,
        device_name=device_name,
        client_token=client_token,
        timestamp=timestamp,
        record_id=record_id,
        step=step,
        desc=desc,
        module=module,
    )


# --------------------------------------------------------------------------- building


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _push_file(item: PushFile | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(item, PushFile):
        name, signature, size, url = item
    else:
        name, signature, size, url = (item["name"], item["signature"], item["size"], item["url"])
    if not _is_int(size):
        raise ValueError(f"file size must be an integer, got {type(size).__name__}")
    return {"name": str(name), "signature": str(signature), "size": size, "url": str(url)}


def upgrade_push(
    *,
    client_token: str,
    record_id: int,
    is_diff: bool | int,
    sign_method: str,
    version: str,
    files: Iterable[PushFile | Mapping[str, Any]],
    timestamp: int | None = None,
) -> bytes:
    """The upgrade message for ``$ota/down/upgrade/{p}/{d}`` (the seed's exact shape).

    ``files`` are ``PushFile`` tuples or mappings with ``name, signature, size, url``.
    ``timestamp`` defaults to now in milliseconds.
    """
    return _dump(
        {
            "method": "reportInfoReply",
            "clientToken": client_token,
            "timestamp": _now_ms() if timestamp is None else int(timestamp),
            "code": 200,
            "status": "成功",
            "data": {
                "files": [_push_file(f) for f in files],
                "id": int(record_id),
                "isDiff": int(is_diff),
                "signMethod": sign_method,
                "version": version,
            },
        }
    )


def progress_reply(
    client_token: str,
    code: int = 200,
    status: str = "成功",
    timestamp: int | None = None,
) -> bytes:
    """Acknowledgement of a progress message for ``$ota/down/progress/{p}/{d}``."""
    return _dump(
        {
            "method": "progressReply",
            "clientToken": client_token,
            "timestamp": _now_ms() if timestamp is None else int(timestamp),
            "code": int(code),
            "status": status,
        }
    )


def new_client_token() -> str:
    """A fresh token in the seed's style, e.g. ``PPXLSKBUPZ-444``."""
    letters = "".join(secrets.choice(string.ascii_uppercase) for _ in range(10))
    return f"{letters}-{secrets.randbelow(1000):03d}"
