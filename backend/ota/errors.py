"""What the OTA rules raise when they refuse: a domain code and a text naming the field or object.

No HTTP here: the API maps each kind to a status (``backend.api.common``). ``code`` is the
protocol's ``ErrorCode`` the answer carries.
"""

from __future__ import annotations

from ota_protocol.codes import ErrorCode


class DomainError(Exception):
    """A request the rules refuse; ``msg`` names the field or object (``"deviceList: ..."``)."""

    default_code = ErrorCode.OTHER

    def __init__(self, msg: str, code: ErrorCode | None = None):
        super().__init__(msg)
        self.msg = msg
        self.code = ErrorCode(code if code is not None else self.default_code)


class Invalid(DomainError):
    """The request itself is wrong (a field's value, or fields that do not go together)."""

    default_code = ErrorCode.PARAMETER


class NotFound(DomainError):
    default_code = ErrorCode.NOT_FOUND


class Conflict(DomainError):
    """Valid, but the current state forbids it: a duplicate, a finished record or task, a retry
    that is not allowed (the code says which)."""

    default_code = ErrorCode.DUPLICATE


class Refused(DomainError):
    """Not allowed whoever asks: e.g. a capsule from a publisher this installation does not trust."""

    default_code = ErrorCode.NOT_PERMITTED


class Unavailable(DomainError):
    """Something we depend on cannot serve now; ``reason`` is ``unreachable``, ``timeout`` or
    ``full`` (no space left)."""

    default_code = ErrorCode.SYSTEM

    def __init__(self, msg: str, code: ErrorCode | None = None, reason: str = "unreachable"):
        super().__init__(msg, code)
        self.reason = reason


class IllegalTransition(RuntimeError):
    """A record status change the state machine does not allow: a bug in the rules, never input."""
