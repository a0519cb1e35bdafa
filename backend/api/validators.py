"""Field rules shared by request models."""

from __future__ import annotations

import re

from pydantic import AfterValidator
from typing import Annotated

_IDENT = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_VERSION = re.compile(r"^[^\s,\"'\\]{1,64}$")
FORBIDDEN_PATH_CHARS = set(",?*|{}\\$'\"`")


def _ident(v: str) -> str:
    if not _IDENT.match(v):
        raise ValueError("must be 1-64 characters of letters, digits, '_', '.', '-'")
    return v


def _version(v: str) -> str:
    if not _VERSION.match(v):
        raise ValueError("must be 1-64 characters without spaces, commas, quotes or backslashes")
    return v


def check_path(v: str, *, single_segment: bool = False) -> str:
    """Object path rules of spec section 2; raises ValueError naming the problem."""
    if not v:
        raise ValueError("must not be empty")
    if len(v) > 512:
        raise ValueError("is longer than 512 characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise ValueError("contains control characters")
    bad = sorted(set(v) & FORBIDDEN_PATH_CHARS)
    if bad:
        raise ValueError(f"contains forbidden characters {' '.join(bad)}")
    if v.startswith("/"):
        raise ValueError("must be relative, not absolute")
    segments = v.split("/")
    if single_segment and len(segments) > 1:
        raise ValueError("must be a file name without '/'")
    for seg in segments:
        if seg == "":
            raise ValueError("has an empty path segment")
        if seg in (".", ".."):
            raise ValueError("must not contain '.' or '..' segments")
    return v


def Choice(*values: int):  # noqa: N802 - reads as a type
    """An int that must be one of `values`: unlike Literal, true and 1.0 are refused (strict int)."""
    def check(v: int) -> int:
        if v not in values:
            raise ValueError(f"must be one of {', '.join(map(str, values))}")
        return v
    return Annotated[int, AfterValidator(check)]


Ident = Annotated[str, AfterValidator(_ident)]
Version = Annotated[str, AfterValidator(_version)]
#: a device's current version: may be empty (not reported yet)
DeviceVersion = Annotated[str, AfterValidator(lambda v: v and _version(v))]
PathStr = Annotated[str, AfterValidator(check_path)]
FileName = Annotated[str, AfterValidator(lambda v: check_path(v, single_segment=True))]
