"""The protocol's numeric codes, defined once. Persisted as-is: never renumber."""

from enum import IntEnum


class TaskType(IntEnum):
    ALL = 1
    TARGETED = 2


class UpgradeType(IntEnum):
    STATIC = 1
    DYNAMIC = 2


class IsDiff(IntEnum):
    WHOLE = 1
    DIFF = 2


class TaskStatus(IntEnum):
    NOT_STARTED = 1
    UPGRADING = 2
    DONE = 3
    CANCELLED = 4


class RecordStatus(IntEnum):
    CONFIRM = 101
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
    FAILED = -1
    DOWNLOAD_FAILED = -2
    VERIFY_FAILED = -3
    FLASH_FAILED = -4


class ErrorCode(IntEnum):
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
