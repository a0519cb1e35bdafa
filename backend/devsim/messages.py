"""Topics and payloads of the device side of the MQTT OTA protocol (spec section 7).

Pure functions only: building the JSON a device publishes and parsing what the backend
pushes. Nothing here touches a socket.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from backend.mqtt.messages import MAX_DESC_CHARS

MODULE = "default"

#: The digest algorithms a push may name in ``signMethod`` (spec section 4).
SIGN_METHODS = ("md5", "sha256")


def now_ms() -> int:
    return int(time.time() * 1000)


def up_topic(kind: str, product_id: str, device_name: str) -> str:
    """``$ota/up/{report|progress}/{p}/{d}``: what a device publishes to."""
    return f"$ota/up/{kind}/{product_id}/{device_name}"


def down_topic(kind: str, product_id: str, device_name: str) -> str:
    """``$ota/down/{upgrade|progress}/{p}/{d}``: what a device subscribes to."""
    return f"$ota/down/{kind}/{product_id}/{device_name}"


def down_topics(product_id: str, device_name: str) -> list[str]:
    return [down_topic("upgrade", product_id, device_name), down_topic("progress", product_id, device_name)]


def parse_down_topic(topic: str) -> tuple[str, str, str] | None:
    """``$ota/down/<kind>/<p>/<d>`` -> ``(kind, p, d)``; None for anything else."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "$ota" or parts[1] != "down":
        return None
    return parts[2], parts[3], parts[4]


def version_report(client_token: str, version: str, record_id: int | None = None) -> bytes:
    params: dict[str, Any] = {"version": version, "module": MODULE}
    if record_id is not None:
        params["id"] = record_id
    return _dump({"method": "reportInfo", "clientToken": client_token, "timestamp": now_ms(), "params": params})


def wire_desc(desc: str) -> str:
    """A failure text as the protocol allows it: no control characters, at most MAX_DESC_CHARS."""
    flat = "".join(" " if ord(c) < 32 or 127 <= ord(c) < 160 or 0xD800 <= ord(c) < 0xE000 else c for c in desc)
    return flat if len(flat) <= MAX_DESC_CHARS else flat[: MAX_DESC_CHARS - 1] + "…"


def progress_report(client_token: str, record_id: int, step: int, desc: str) -> bytes:
    desc = wire_desc(desc)
    return _dump(
        {
            "method": "progress",
            "clientToken": client_token,
            "timestamp": now_ms(),
            "params": {"id": record_id, "step": step, "desc": desc, "module": MODULE},
        }
    )


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class BadMessage(ValueError):
    """A downlink payload that does not have the protocol's shape."""


@dataclass(frozen=True)
class PushFile:
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
    files: tuple[PushFile, ...]
    client_token: str
    code: int


def parse_upgrade_push(payload: bytes) -> UpgradePush:
    """Parse an upgrade push; raise :class:`BadMessage` naming what is wrong."""
    try:
        msg = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise BadMessage("not a JSON object")
    data = msg.get("data")
    if not isinstance(data, dict):
        raise BadMessage("no data object")
    record_id = data.get("id")
    if not isinstance(record_id, int) or isinstance(record_id, bool):
        raise BadMessage("data.id is not an integer")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise BadMessage("data.version is not a string")
    sign_method = str(data.get("signMethod") or "md5").lower()
    if sign_method not in SIGN_METHODS:
        raise BadMessage(f"unsupported signMethod {sign_method!r}")
    raw_files = data.get("files")
    if not isinstance(raw_files, list) or not raw_files:
        raise BadMessage("data.files is not a non-empty list")
    files = []
    for i, f in enumerate(raw_files):
        if not isinstance(f, dict):
            raise BadMessage(f"data.files[{i}] is not an object")
        url, size, sig = f.get("url"), f.get("size"), f.get("signature")
        if not isinstance(url, str) or not url:
            raise BadMessage(f"data.files[{i}].url is missing")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadMessage(f"data.files[{i}].size is not a non-negative integer")
        if not isinstance(sig, str):
            raise BadMessage(f"data.files[{i}].signature is not a string")
        files.append(PushFile(name=str(f.get("name") or f"file{i}"), url=url, size=size, signature=sig.lower()))
    token = msg.get("clientToken") or msg.get("msgToken") or ""
    code = msg.get("code", 200)
    return UpgradePush(
        record_id=record_id,
        version=version,
        sign_method=sign_method,
        is_diff=int(data.get("isDiff") or 1),
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
