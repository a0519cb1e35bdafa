"""Codec for the device messages of the OTA MQTT protocol (spec section 7).

Pure Python, no MQTT library: the domain layer gets plain frozen dataclasses from
``parse_up`` and hands plain values to ``upgrade_push`` / ``progress_reply``.

Parsing is strict: anything that is not exactly the documented shape raises
``BadMessage`` whose text names the offending field, so the caller can log it and move on.

Parsing is also bounded, since any device (or anyone holding a device's secret) can publish:
``parse_up`` never raises anything but ``BadMessage``, whatever the bytes. The limits are the
``MAX_*`` constants and the ``*_RE`` patterns below: payload size (checked before decoding),
JSON nesting depth, integer ranges (signed 64-bit, what the database stores) and per-field
string lengths and character sets.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .codes import STEP_MAX, STEP_MIN

__all__ = [
    "MAX_DEPTH",
    "MAX_DESC_CHARS",
    "MAX_INT",
    "MAX_MODULE_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PAYLOAD_BYTES",
    "MAX_TOKEN_CHARS",
    "MAX_VERSION_CHARS",
    "MODULE_RE",
    "STEP_MAX",
    "STEP_MIN",
    "SUBSCRIBE_UP",
    "TOKEN_RE",
    "VERSION_RE",
    "BadMessage",
    "Progress",
    "PushFile",
    "Report",
    "is_valid_version",
    "new_client_token",
    "parse_up",
    "parse_up_topic",
    "progress_reply",
    "topic_down_progress",
    "topic_down_upgrade",
    "topic_up",
    "upgrade_push",
]

#: Subscription that receives every device → backend message (``#`` alone would not: ``$`` topic).
SUBSCRIBE_UP = "$ota/up/#"

# Valid ``step`` values (-4..-1 failures, 1..100 percent; 0 is not one) are codes: see codes.py.

# ---- limits of a device message (docs cite these names) ----
#: Largest payload accepted, in bytes, checked before it is decoded.
MAX_PAYLOAD_BYTES = 16 * 1024
#: Deepest JSON nesting accepted (the protocol needs 2: the message object and ``params``).
MAX_DEPTH = 8
#: Largest ``id`` / ``timestamp``: a signed 64-bit integer, what the database columns hold.
MAX_INT = 2**63 - 1
#: Longest productID / deviceName accepted as a topic level.
MAX_NAME_CHARS = 128
MAX_VERSION_CHARS = 64
MAX_MODULE_CHARS = 64
MAX_DESC_CHARS = 256
MAX_TOKEN_CHARS = 64

#: A firmware or device version: 1-64 of ``A-Za-z0-9._+-``, starting with a letter or digit.
#: The one rule for versions, over MQTT and (to be shared) over HTTP. Ends in ``\Z`` so that
#: ``match`` is as safe as ``fullmatch`` (``$`` would let "1.0\n" through).
VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+\-]{0,%d}\Z" % (MAX_VERSION_CHARS - 1))  # noqa: UP031  (an f-string would need the braces of the regex doubled)
#: ``params.module``: 1-64 of ``A-Za-z0-9._+-``.
MODULE_RE = re.compile(r"[A-Za-z0-9._+\-]{1,%d}\Z" % MAX_MODULE_CHARS)  # noqa: UP031  (as above)
#: ``clientToken`` / ``msgToken``: 0-64 printable ASCII characters (space included).
TOKEN_RE = re.compile(r"[\x20-\x7e]{0,%d}\Z" % MAX_TOKEN_CHARS)  # noqa: UP031  (as above)


def is_valid_version(value: object) -> bool:
    """Whether ``value`` is a version by ``VERSION_RE`` (a ``str``, whole string matched)."""
    return isinstance(value, str) and VERSION_RE.fullmatch(value) is not None


_UP_KINDS = {"report": "reportInfo", "progress": "progress"}
_FORBIDDEN_IN_LEVEL = frozenset("/+#\x00")


class BadMessage(ValueError):
    """A device message that does not follow the protocol; the text names what is wrong.

    ``client_token`` is the message's valid ``clientToken``/``msgToken`` when parsing got that
    far (for the error acknowledgement), else ``""``.
    """

    client_token: str = ""


def _show(value: Any, limit: int = 40) -> str:
    """A short, printable rendering of a device-supplied value for an error text."""
    if not isinstance(value, str):
        return type(value).__name__
    return repr(value[:limit]) + ("..." if len(value) > limit else "")


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
    if not isinstance(topic, str) or len(topic) > 2 * MAX_NAME_CHARS + 20:
        raise BadMessage(f"topic {_show(topic)} is not an OTA up topic (too long or not text)")
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
            f"topic {_show(topic, 80)} is not $ota/up/report/{{productID}}/{{deviceName}} "
            "or $ota/up/progress/{productID}/{deviceName}"
        )
    for what, level in (("productID", parts[3]), ("deviceName", parts[4])):
        if len(level) > MAX_NAME_CHARS or _CONTROL.search(level):
            raise BadMessage(f"topic: {what} {_show(level)} is longer than {MAX_NAME_CHARS} "
                             "characters or contains control characters")
    return parts[2], parts[3], parts[4]


# --------------------------------------------------------------------------- parsing

_MISSING = object()
#: C0/C1 controls, DEL and lone surrogates (which no database encoding can store).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


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


def _get_text(obj: Mapping[str, Any], key: str, where: str, pattern: re.Pattern[str], rule: str,
              default: Any = _MISSING) -> str:
    """A string field that must ``fullmatch`` ``pattern`` (``rule`` says it in words)."""
    value = _get_str(obj, key, where, default)
    if pattern.fullmatch(value) is None:
        raise BadMessage(f"{where}{key}: {_show(value)} is not {rule}")
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


def _get_bounded_int(obj: Mapping[str, Any], key: str, where: str, low: int,
                     default: Any = _MISSING) -> int:
    value = _get_int(obj, key, where, default)
    if value is None:  # an optional field that is absent
        return value
    if not low <= value <= MAX_INT:
        digits = str(value) if -10**30 < value < 10**30 else f"a {value.bit_length()}-bit number"
        raise BadMessage(f"{where}{key}: {digits} is not in {low}..2^63-1")
    return value


_TOKEN_RULE = f"at most {MAX_TOKEN_CHARS} printable ASCII characters"
_VERSION_RULE = f"1-{MAX_VERSION_CHARS} characters of A-Za-z0-9._+- starting with a letter or digit"
_MODULE_RULE = f"1-{MAX_MODULE_CHARS} characters of A-Za-z0-9._+-"


def _client_token(body: Mapping[str, Any]) -> str:
    if "clientToken" in body:
        return _get_text(body, "clientToken", "", TOKEN_RE, _TOKEN_RULE)
    return _get_text(body, "msgToken", "", TOKEN_RE, _TOKEN_RULE, default="")


def _depth_exceeds(doc: Any, limit: int) -> bool:
    """Whether ``doc`` nests containers deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_up(topic: str, payload: bytes) -> Report | Progress:
    """Decode one device → backend message.

    Raises ``BadMessage`` (naming the field) for a wrong topic, a payload that is not UTF-8
    JSON object, a wrong ``method`` or any field of the wrong type or range, and for any
    payload beyond the limits (``MAX_*``, ``*_RE``). Nothing else ever escapes.
    """
    kind, product_id, device_name = parse_up_topic(topic)
    try:
        size = len(payload)
    except TypeError:
        raise BadMessage(f"payload: expected bytes, got {type(payload).__name__}") from None
    if size > MAX_PAYLOAD_BYTES:
        raise BadMessage(f"payload: {size} bytes, more than the limit of {MAX_PAYLOAD_BYTES}")
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadMessage(f"payload is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except TypeError:
        raise BadMessage(f"payload: expected bytes, got {type(payload).__name__}") from None
    try:
        body = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise BadMessage(f"payload: JSON nested deeper than the limit of {MAX_DEPTH}") from None
    except ValueError as exc:  # also int strings longer than Python's digit limit
        raise BadMessage(f"payload is not JSON: {str(exc)[:120]}") from None
    if _depth_exceeds(body, MAX_DEPTH):
        raise BadMessage(f"payload: JSON nested deeper than the limit of {MAX_DEPTH}")
    if not isinstance(body, dict):
        raise BadMessage(f"payload: expected a JSON object, got {type(body).__name__}")

    client_token = _client_token(body)
    try:
        method = _get_str(body, "method", "")
        expected = _UP_KINDS[kind]
        if method != expected:
            raise BadMessage(f"method: expected {expected!r} on a {kind} topic, got {_show(method)}")
        return _parse_body(kind, product_id, device_name, body, client_token)
    except BadMessage as exc:
        exc.client_token = client_token  # valid: the error acknowledgement may echo it
        raise


def _parse_body(kind: str, product_id: str, device_name: str, body: dict[str, Any],
                client_token: str) -> Report | Progress:
    timestamp = _get_bounded_int(body, "timestamp", "", 0, default=0)
    params = body.get("params", _MISSING)
    if params is _MISSING:
        raise BadMessage("params: missing")
    if not isinstance(params, dict):
        raise BadMessage(f"params: expected an object, got {type(params).__name__}")
    module = _get_str(params, "module", "params.", default="default") or "default"
    if MODULE_RE.fullmatch(module) is None:
        raise BadMessage(f"params.module: {_show(module)} is not {_MODULE_RULE}")

    if kind == "report":
        version = _get_str(params, "version", "params.")
        if not version:
            raise BadMessage("params.version: empty")
        if VERSION_RE.fullmatch(version) is None:
            raise BadMessage(f"params.version: {_show(version)} is not {_VERSION_RULE}")
        record_id = _get_bounded_int(params, "id", "params.", 1, default=None)
        return Report(
            product_id=product_id,
            device_name=device_name,
            client_token=client_token,
            timestamp=timestamp,
            version=version,
            module=module,
            record_id=record_id,
        )

    record_id = _get_bounded_int(params, "id", "params.", 1)
    step = _get_int(params, "step", "params.")
    if step == 0 or not STEP_MIN <= step <= STEP_MAX:
        shown = step if -1000 < step < 1000 else "a number"
        raise BadMessage(f"params.step: {shown} is not in {STEP_MIN}..-1 or 1..{STEP_MAX}")
    desc = _get_str(params, "desc", "params.", default="")
    if len(desc) > MAX_DESC_CHARS:
        raise BadMessage(f"params.desc: {len(desc)} characters, more than the limit of {MAX_DESC_CHARS}")
    if _CONTROL.search(desc):
        raise BadMessage("params.desc: contains control characters (or a lone surrogate)")
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
    """A fresh token in the seed's style, e.g. ``PPXLSKBUPZ-444`` (one read of the OS's randomness:
    a rollout makes one per device; it correlates messages, it is not a secret)."""
    raw = secrets.token_bytes(12)
    letters = raw[:10].translate(_TOKEN_LETTERS).decode("ascii")
    return f"{letters}-{int.from_bytes(raw[10:], 'big') % 1000:03d}"


#: byte -> an uppercase letter (for new_client_token)
_TOKEN_LETTERS = bytes(65 + b % 26 for b in range(256))
