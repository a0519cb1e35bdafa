"""The protocol's numeric codes and their texts, defined once for the backend, the desktop and
the simulator. Persisted and sent as-is (iThings' numbers): never renumber.

Every code has an English text in ``TEXT`` (what the API's messages and logs say); the desktop
translates these same strings (context ``"ota_protocol"``), so a new code needs one line here
and one translation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import Enum, IntEnum


class TaskType(IntEnum):
    ALL = 1
    TARGETED = 2


class UpgradeType(IntEnum):
    STATIC = 1
    DYNAMIC = 2


class IsDiff(IntEnum):
    WHOLE = 1
    DIFF = 2


class SignMethod(str, Enum):
    MD5 = "md5"
    SHA256 = "sha256"


class TaskStatus(IntEnum):
    NOT_STARTED = 1
    UPGRADING = 2
    DONE = 3
    CANCELLED = 4
    ABORTED = 5  # stopped by one of its rollout.abort rules (the reason is the task's statusReason)

    @property
    def is_running(self) -> bool:
        """Not finished: it may still push (a scheduled task once its time comes)."""
        return self in (TaskStatus.NOT_STARTED, TaskStatus.UPGRADING)


class RecordStatus(IntEnum):
    CONFIRM = 101  # awaiting confirmation (iThings; not produced by this backend)
    QUEUED = 201
    QUEUED_OFFLINE = 202
    QUEUED_RETRY = 203
    PUSHED = 301
    UPGRADING = 401
    SUCCEEDED = 501
    FAILED = 601
    CANCELLED = 701

    @property
    def is_queued(self) -> bool:
        return 200 <= self < 300

    @property
    def is_final(self) -> bool:
        return self >= RecordStatus.SUCCEEDED

    @property
    def is_active(self) -> bool:
        """Holds the device: queued, pushed or upgrading."""
        return self < RecordStatus.SUCCEEDED


class Step(IntEnum):
    """``step`` of a progress report below 0 (1..100 is the percentage done)."""

    FAILED = -1
    DOWNLOAD_FAILED = -2
    VERIFY_FAILED = -3
    FLASH_FAILED = -4


#: valid ``step`` values of a progress report: -4..-1 failures, 1..100 percent (0 is not one)
STEP_MIN, STEP_MAX = min(Step), 100
#: the step of a record that succeeded
STEP_DONE = 100


class ErrorCode(IntEnum):
    """The API envelope's ``code`` (and a progress acknowledgement's) when not 200."""

    OTHER = 100001
    TOKEN_EXPIRED = 100002
    TOKEN_NOT_VALID_YET = 100003
    TOKEN_MALFORMED = 100004
    TOKEN_INVALID = 100005
    PARAMETER = 100006
    SYSTEM = 100007
    DATABASE = 100008
    NOT_FOUND = 100009
    DUPLICATE = 100010
    NOT_PERMITTED = 100012
    TIMEOUT = 100016
    RETRY_NOT_ALLOWED = 2100001
    ALREADY_FINISHED = 2100002


#: success code of the API envelope and of a progress acknowledgement
OK = 200


class CodeTexts(Mapping[Enum, str]):
    """Texts by code, telling enums apart: ``TaskStatus.NOT_STARTED`` and ``TaskType.ALL`` are
    both 1 (and equal as IntEnums), but each has its own text."""

    def __init__(self, texts: dict[Enum, str] | list[tuple[Enum, str]]) -> None:
        pairs = list(texts.items()) if isinstance(texts, dict) else texts
        self._codes = [code for code, _ in pairs]
        self._texts = {(type(code), code.value): text for code, text in pairs}

    def __getitem__(self, code: Enum) -> str:
        if not isinstance(code, Enum):
            raise KeyError(code)
        return self._texts[(type(code), code.value)]

    def __iter__(self) -> Iterator[Enum]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)


#: English text of every code above (the desktop translates these strings)
TEXT = CodeTexts([
    (TaskStatus.NOT_STARTED, "Not started"),
    (TaskStatus.UPGRADING, "Upgrading"),
    (TaskStatus.DONE, "Done"),
    (TaskStatus.CANCELLED, "Cancelled"),
    (TaskStatus.ABORTED, "Aborted"),
    (RecordStatus.CONFIRM, "Awaiting confirmation"),
    (RecordStatus.QUEUED, "Queued"),
    (RecordStatus.QUEUED_OFFLINE, "Queued (device offline)"),
    (RecordStatus.QUEUED_RETRY, "Queued (retry)"),
    (RecordStatus.PUSHED, "Pushed"),
    (RecordStatus.UPGRADING, "Upgrading"),
    (RecordStatus.SUCCEEDED, "Succeeded"),
    (RecordStatus.FAILED, "Failed"),
    (RecordStatus.CANCELLED, "Cancelled"),
    (Step.FAILED, "Upgrade failed"),
    (Step.DOWNLOAD_FAILED, "Download failed"),
    (Step.VERIFY_FAILED, "Verification failed"),
    (Step.FLASH_FAILED, "Flashing failed"),
    (TaskType.ALL, "All devices"),
    (TaskType.TARGETED, "Selected devices"),
    (UpgradeType.STATIC, "Static"),
    (UpgradeType.DYNAMIC, "Dynamic"),
    (IsDiff.WHOLE, "Whole package"),
    (IsDiff.DIFF, "Difference package"),
    (ErrorCode.OTHER, "Error"),
    (ErrorCode.TOKEN_EXPIRED, "The token has expired"),
    (ErrorCode.TOKEN_NOT_VALID_YET, "The token is not valid yet"),
    (ErrorCode.TOKEN_MALFORMED, "The token is malformed"),
    (ErrorCode.TOKEN_INVALID, "The token is not valid"),
    (ErrorCode.PARAMETER, "Invalid parameter"),
    (ErrorCode.SYSTEM, "System error"),
    (ErrorCode.DATABASE, "Database error"),
    (ErrorCode.NOT_FOUND, "Not found"),
    (ErrorCode.DUPLICATE, "Already exists"),
    (ErrorCode.NOT_PERMITTED, "Not permitted"),
    (ErrorCode.TIMEOUT, "Timed out"),
    (ErrorCode.RETRY_NOT_ALLOWED, "Retry is not allowed"),
    (ErrorCode.ALREADY_FINISHED, "Already finished"),
])


def text(code: Enum) -> str:
    """The English text of a code (``TEXT``), e.g. ``text(RecordStatus.QUEUED_RETRY)``."""
    return TEXT[code]


def step_text(step: int) -> str:
    """What a failure step means ("Download failed"), or "" for a progress step."""
    try:
        return TEXT[Step(step)]
    except ValueError:
        return ""
