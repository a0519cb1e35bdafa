"""Downloading one firmware file the way a device does: stream, hash on the fly, resume.

Nothing is written to disk: the bytes are hashed as they arrive (a device simulator needs
the digest, not the file). After an interruption the transfer keeps its byte count and
hash state, and the next request asks for the rest with ``Range: bytes=<received>-``; a
server that answers 200 instead of 206 makes it start over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ota_protocol.device import ReceivedFile

from .lean_http import LeanClient


class DownloadError(Exception):
    """The file could not be fetched (HTTP error, connection error, short body)."""


class Interrupted(Exception):
    """The caller's ``on_chunk`` asked to stop; the transfer can be resumed."""


def resolve_url(base_url: str, url: str) -> str:
    """Absolute URLs are used as they are; others are relative to the backend's base URL.

    The query string (a presigned signature) is kept byte for byte.
    """
    if "://" in url.split("?", 1)[0]:
        return url
    return base_url.rstrip("/") + "/" + url.lstrip("/")


@dataclass
class FileTransfer:
    """One file of one upgrade attempt, as the device saw it."""

    name: str
    url: str
    size: int
    signature: str
    sign_method: str = "md5"
    #: bytes received so far (kept across an interruption)
    received: int = 0
    #: True once the whole body arrived
    complete: bool = False
    #: hex digest of what was received (set when complete)
    digest: str | None = None
    #: verification results (None until checked)
    size_ok: bool | None = None
    digest_ok: bool | None = None
    #: number of GET requests sent, and how many carried a Range header
    requests: int = 0
    range_requests: int = 0
    #: a Range request was answered with 206 and the download continued from ``received``
    resumed: bool = False
    #: HTTP status of every response
    statuses: list[int] = field(default_factory=list)
    _hasher: Any = field(default=None, repr=False)

    @classmethod
    def from_push(cls, f: ReceivedFile, sign_method: str) -> FileTransfer:
        return cls(name=f.name, url=f.url, size=f.size, signature=f.signature, sign_method=sign_method)

    @property
    def verified(self) -> bool:
        return bool(self.size_ok and self.digest_ok)

    def verify(self) -> None:
        self.size_ok = self.received == self.size
        self.digest_ok = self.digest is not None and self.digest == self.signature.lower()

    def fetch(
        self,
        http: httpx.Client | LeanClient,
        base_url: str,
        chunk_size: int,
        on_chunk: Callable[[FileTransfer], None] | None = None,
        corrupt: bool = False,
    ) -> None:
        """Fetch the rest of the file. ``on_chunk(self)`` is called after each chunk and may
        raise :class:`Interrupted` (state kept for a resume) or :class:`DownloadError`.

        ``corrupt`` flips the first byte before hashing, so the digest is wrong.
        """
        if self.complete:
            return
        if self._hasher is None:
            self._hasher = hashlib.new(self.sign_method)
        url = resolve_url(base_url, self.url)
        headers = {}
        if self.received:
            headers["Range"] = f"bytes={self.received}-"
            self.range_requests += 1
        self.requests += 1
        try:
            with http.stream("GET", url, headers=headers) as resp:
                self.statuses.append(resp.status_code)
                if resp.status_code == 206 and self.received:
                    self.resumed = True
                elif resp.status_code == 200:
                    if self.received:  # no Range support: start over
                        self.received = 0
                        self._hasher = hashlib.new(self.sign_method)
                else:
                    raise DownloadError(f"HTTP {resp.status_code} for {self.name}")
                for chunk in resp.iter_bytes(chunk_size):
                    if corrupt and self.received == 0 and chunk:
                        chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                    self._hasher.update(chunk)
                    self.received += len(chunk)
                    if on_chunk is not None:
                        on_chunk(self)
        except httpx.HTTPError as exc:
            raise DownloadError(f"{type(exc).__name__} fetching {self.name}: {exc}") from None
        self.complete = True
        self.digest = self._hasher.hexdigest()
