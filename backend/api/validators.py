"""Field rules shared by request models."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

# The version rule is the device protocol's (one rule over MQTT and HTTP).
from ota_protocol.messages import VERSION_RE
from ota_protocol.task_options import MAX_INT64

# Patterns are applied with fullmatch: "$" would match before a final newline ("abc\n").
_IDENT = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
#: "%" is refused as well: a presigned URL's path is percent-encoded, and a literal "%" in a
#: key is easy to double- or under-encode on the way to the store (see PathStr)
FORBIDDEN_PATH_CHARS = set(",?*|{}\\$'\"`%")
#: ids, page numbers, timestamps: what a signed 64-bit database column holds (MAX_INT64 too)
MIN_INT64 = -(2**63)
#: longest text accepted in an index filter (a LIKE pattern)
MAX_FILTER_CHARS = 128
#: CSV cells a spreadsheet would evaluate as a formula (OWASP "CSV injection")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _ident(v: str) -> str:
    if not _IDENT.fullmatch(v):
        raise ValueError("must be 1-64 characters of letters, digits, '_', '.', '-'")
    return v


def _key_segment(v: str) -> str:
    """An Ident that becomes one segment of an object key: '.' and '..' would leave it."""
    _ident(v)
    if v in (".", ".."):
        raise ValueError("must not be '.' or '..'")
    return v


def _version(v: str) -> str:
    if not VERSION_RE.fullmatch(v):
        raise ValueError("must be 1-64 characters of letters, digits, '.', '_', '+', '-', "
                         "starting with a letter or digit")
    return v


def starts_like_formula(cell: str) -> bool:
    """Whether a spreadsheet would take this CSV cell for a formula."""
    return cell.startswith(FORMULA_START)


def neutralise_cell(cell: str) -> str:
    """A free-text CSV cell made inert for spreadsheets: a leading ' when it looks like a formula.

    Use on every free-text cell read from or written to CSV; identifiers are refused instead.
    """
    return "'" + cell if starts_like_formula(cell) else cell


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


def one_of(*values: int) -> AfterValidator:
    """For ``Annotated[int, one_of(1, 2)]``: an int that must be one of `values`; unlike
    Literal, true and 1.0 are refused (strict int)."""
    def check(v: int) -> int:
        if v not in values:
            raise ValueError(f"must be one of {', '.join(map(str, values))}")
        return v
    return AfterValidator(check)


Ident = Annotated[str, AfterValidator(_ident)]
#: an Ident used as a segment of an object key (productID on create, business, scene)
KeySegment = Annotated[str, AfterValidator(_key_segment)]
Version = Annotated[str, AfterValidator(_version)]
#: a device's current version: may be empty (not reported yet)
DeviceVersion = Annotated[str, AfterValidator(lambda v: v and _version(v))]
PathStr = Annotated[str, AfterValidator(check_path)]
FileName = Annotated[str, AfterValidator(lambda v: check_path(v, single_segment=True))]
#: a database id (firmwareID, taskID, record id): 1..2^63-1
Id = Annotated[int, Field(ge=1, le=MAX_INT64)]
#: a millisecond timestamp in a signed 64-bit column
Millis = Annotated[int, Field(ge=MIN_INT64, le=MAX_INT64)]
#: text of an index filter
Filter = Annotated[str, Field(max_length=MAX_FILTER_CHARS)]
