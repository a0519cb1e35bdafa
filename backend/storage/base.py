"""The object store interface the rest of the backend uses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

TEMPORARY_BUCKET = "ithings-temporary"
PRIVATE_BUCKET = "ithings-private"
OSS_PREFIX = "/api/v1/oss"
PRESIGN_SECONDS = 86400


@dataclass(frozen=True)
class ObjectDigest:
    size: int
    md5: str
    sha256: str


class ObjectMissing(LookupError):
    pass


class ObjectStore(Protocol):
    def ensure_buckets(self) -> None: ...
    def presign(self, method: str, bucket: str, key: str, seconds: int = PRESIGN_SECONDS) -> str:
        """A relative URL `/api/v1/oss/<bucket>/<key>?X-Amz-...` signed for `method`."""
    def upstream(self, raw_path_and_query: str) -> tuple[str, str]:
        """(absolute upstream URL, Host header) for a `/api/v1/oss/...` request path."""
    def exists(self, bucket: str, key: str) -> bool: ...
    def copy(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None: ...
    def digest(self, bucket: str, key: str) -> ObjectDigest: ...
    def stream(self, bucket: str, key: str, chunk: int = ...) -> Iterator[bytes]: ...
    def put_stream(self, bucket: str, key: str, data: BinaryIO, length: int) -> None: ...
    def remove(self, bucket: str, key: str) -> None: ...
    def remove_prefix(self, bucket: str, prefix: str) -> int: ...
    def abort_uploads(self, bucket: str, prefix: str) -> int: ...
    def remove_older_than(self, bucket: str, seconds: float) -> int: ...


class StoreError(RuntimeError):
    """The object store could not do what was asked (it is not a missing object): the message
    names the cause for the client ("object store: disk full ...", "object store unreachable: ...");
    ``http_status`` is what an API answer should carry (507 disk full, 504 no answer, 502 else)."""

    def __init__(self, msg: str, http_status: int = 502):
        super().__init__(msg)
        self.msg, self.http_status = msg, http_status


#: a store write failing with less free space than it needs plus this is put down to a full disk
DISK_FULL_MARGIN = 1 << 20


def disk_full_message(free: int, need: int, where: str) -> str:
    return f"object store: disk full ({free} bytes free in {where}, {need} needed)"
