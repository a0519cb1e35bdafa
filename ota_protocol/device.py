"""The device's side of the protocol: what a device publishes, and parsing what it receives
(spec section 7).

The backend's side is :mod:`ota_protocol.messages` (parsing what devices publish, building
pushes and acknowledgements); this module reuses its topics and limits and the codes of
:mod:`ota_protocol.codes`, so each is written once. Pure functions and standard library only:
nothing here touches a socket. The device simulator (``devsim``) is its user.

Parsing here is lenient where a device can afford it (a missing ``signMethod`` means md5, a
missing file name gets one) and strict where acting on the push needs it: anything unusable
raises :class:`BadPush`, whose text names the field.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from .codes import OK, IsDiff, SignMethod
from .messages import MAX_DESC_CHARS, topic_down_progress, topic_down_upgrade, topic_up

__all__ = [
    "MODULE",
    "SIGN_METHODS",
    "BadPush",
    "ReceivedFile",
    "UpgradePush",
    "down_topic",
    "down_topics",
    "now_ms",
    "parse_down_topic",
    "parse_progress_ack",
    "parse_upgrade_push",
    "progress_report",
    "up_topic",
    "version_report",
    "wire_desc",
]

#: ``params.module`` of every message a device publishes.
MODULE = "default"

#: The digest algorithms a push may name in ``signMethod`` (spec section 4).
SIGN_METHODS: tuple[str, ...] = tuple(m.value for m in SignMethod)

_DOWN_TOPICS = {"upgrade": topic_down_upgrade, "progress": topic_down_progress}


def now_ms() -> int:
    return int(time.time() * 1000)


# --------------------------------------------------------------------------- topics


def up_topic(kind: str, product_id: str, device_name: str) -> str:
    """``$ota/up/{report|progress}/{p}/{d}``: what a device publishes to."""
    return topic_up(kind, product_id, device_name)


def down_topic(kind: str, product_id: str, device_name: str) -> str:
    """``$ota/down/{upgrade|progress}/{p}/{d}``: what a device subscribes to."""
    try:
        build = _DOWN_TOPICS[kind]
    except KeyError:
        raise ValueError(f"unknown down topic kind {kind!r}") from None
    return build(product_id, device_name)


def down_topics(product_id: str, device_name: str) -> list[str]:
    """Both topics a device subscribes to: upgrade pushes and progress acknowledgements."""
    return [topic_down_upgrade(product_id, device_name), topic_down_progress(product_id, device_name)]


def parse_down_topic(topic: str) -> tuple[str, str, str] | None:
    """``$ota/down/<kind>/<p>/<d>`` -> ``(kind, p, d)``; None for anything else."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[2] not in _DOWN_TOPICS:
        return None
    kind, product_id, device_name = parts[2], parts[3], parts[4]
    try:
        # the one topic format: rebuilt by ota_protocol.messages, it must give the same string
        if down_topic(kind, product_id, device_name) != topic:
            return None
    except ValueError:  # an empty level, or one with / + # NUL
        return None
    return kind, product_id, device_name


# --------------------------------------------------------------------------- building


def version_report(client_token: str, version: str, record_id: int | None = None) -> bytes:
    """``reportInfo`` for ``$ota/up/report/{p}/{d}``; ``record_id`` after an upgrade."""
    params: dict[str, Any] = {"version": version, "module": MODULE}
    if record_id is not None:
        params["id"] = record_id
    return _dump({"method": "reportInfo", "clientToken": client_token, "timestamp": now_ms(), "params": params})


def wire_desc(desc: str) -> str:
    """A failure text as the protocol allows it: no control characters, at most MAX_DESC_CHARS."""
    flat = "".join(" " if ord(c) < 32 or 127 <= ord(c) < 160 or 0xD800 <= ord(c) < 0xE000 else c for c in desc)
    return flat if len(flat) <= MAX_DESC_CHARS else flat[: MAX_DESC_CHARS - 1] + "…"


def progress_report(client_token: str, record_id: int, step: int, desc: str) -> bytes:
    """``progress`` for ``$ota/up/progress/{p}/{d}``.

    ``step``: a percentage 1..100 or a failure (:class:`~ota_protocol.codes.Step`, -4..-1); it
    is sent as given (a simulator may send what the backend must refuse). ``desc`` goes
    through :func:`wire_desc`.
    """
    return _dump(
        {
            "method": "progress",
            "clientToken": client_token,
            "timestamp": now_ms(),
            "params": {"id": record_id, "step": int(step), "desc": wire_desc(desc), "module": MODULE},
        }
    )


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- parsing


class BadPush(ValueError):
    """A downlink payload that does not have the protocol's shape (the text names the field).

    Distinct from :class:`ota_protocol.messages.BadMessage`, which is about device messages.
    """


@dataclass(frozen=True)
class ReceivedFile:
    """One file of a received upgrade push, as the device uses it (``data.files[]``).

    The backend builds these with :class:`ota_protocol.messages.PushFile`; on this side the
    name is filled in when absent and the signature is lower-cased.
    """

    name: str
    url: str
    size: int
    signature: str


@dataclass(frozen=True)
class UpgradePush:
    """The ``data`` of an upgrade push (``reportInfoReply`` on ``$ota/down/upgrade/...``)."""

    record_id: int
    version: str
    sign_method: str
    is_diff: int
    files: tuple[ReceivedFile, ...]
    client_token: str
    code: int


def parse_upgrade_push(payload: bytes) -> UpgradePush:
    """Parse an upgrade push; raise :class:`BadPush` naming what is wrong."""
    try:
        msg = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadPush(f"not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise BadPush("not a JSON object")
    data = msg.get("data")
    if not isinstance(data, dict):
        raise BadPush("no data object")
    record_id = data.get("id")
    if not isinstance(record_id, int) or isinstance(record_id, bool):
        raise BadPush("data.id is not an integer")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise BadPush("data.version is not a string")
    sign_method = str(data.get("signMethod") or SignMethod.MD5.value).lower()
    if sign_method not in SIGN_METHODS:
        raise BadPush(f"unsupported signMethod {sign_method!r}")
    raw_files = data.get("files")
    if not isinstance(raw_files, list) or not raw_files:
        raise BadPush("data.files is not a non-empty list")
    files = []
    for i, f in enumerate(raw_files):
        if not isinstance(f, dict):
            raise BadPush(f"data.files[{i}] is not an object")
        url, size, sig = f.get("url"), f.get("size"), f.get("signature")
        if not isinstance(url, str) or not url:
            raise BadPush(f"data.files[{i}].url is missing")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadPush(f"data.files[{i}].size is not a non-negative integer")
        if not isinstance(sig, str):
            raise BadPush(f"data.files[{i}].signature is not a string")
        files.append(ReceivedFile(name=str(f.get("name") or f"file{i}"), url=url, size=size, signature=sig.lower()))
    token = msg.get("clientToken") or msg.get("msgToken") or ""
    code = msg.get("code", OK)
    return UpgradePush(
        record_id=record_id,
        version=version,
        sign_method=sign_method,
        is_diff=int(data.get("isDiff") or IsDiff.WHOLE),
        files=tuple(files),
        client_token=str(token),
        code=code if isinstance(code, int) else 0,
    )


def parse_progress_ack(payload: bytes) -> tuple[int, str]:
    """``progressReply`` -> ``(code, status)``; a malformed ack counts as code 0."""
    try:
        msg = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return 0, "not JSON"
    if not isinstance(msg, dict):
        return 0, "not a JSON object"
    code = msg.get("code")
    return (code if isinstance(code, int) else 0), str(msg.get("status", ""))
