"""The container of capsules and evidence packs: a POSIX tar stream (pax where a name needs
it), written and read member by member so a 1 GiB file is never held in memory.

Reading accepts only what we write: regular files and pax extended headers (bounded), in the
order the caller expects, each of a bounded or announced size. Anything else is refused with
the member named, so a hostile archive cannot make us allocate, seek or write elsewhere."""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator

BLOCK = 512
#: a pax extended header we accept is at most this long (it only carries a long or non-ASCII name)
MAX_PAX = 64 * 1024
END = b"\0" * (2 * BLOCK)


class ArchiveError(ValueError):
    """The stream is not a capsule as we write them; the message says where it broke."""


def padding(size: int) -> int:
    return -size % BLOCK


def header(name: str, size: int, mtime: int) -> bytes:
    """The header block(s) of a regular file ``name`` of ``size`` bytes (pax for long/non-ASCII names)."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o644
    info.uname = info.gname = ""
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="strict")


def member_length(name: str, size: int, mtime: int) -> int:
    """Bytes this member takes in the archive: header(s), data, padding."""
    return len(header(name, size, mtime)) + size + padding(size)


def member(name: str, data: bytes, mtime: int) -> bytes:
    return header(name, len(data), mtime) + data + b"\0" * padding(len(data))


class Reader:
    """Members of a tar stream, read from ``read(n)`` (which returns b"" at the end)."""

    def __init__(self, read: Callable[[int], bytes]):
        self._read = read
        self._buf = bytearray()
        self.offset = 0  # bytes consumed, for messages

    def _exact(self, n: int) -> bytes:
        """n bytes, or fewer only at the end of the stream."""
        while len(self._buf) < n:
            chunk = self._read(max(n - len(self._buf), 1 << 16))
            if not chunk:
                break
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        self.offset += len(out)
        return out

    def _block(self) -> bytes:
        block = self._exact(BLOCK)
        if len(block) < BLOCK:
            raise ArchiveError(f"truncated at byte {self.offset} (inside a header)")
        return block

    def next(self) -> tuple[str, int] | None:
        """The next member's (name, size), or None at the end-of-archive marker."""
        pax_name: str | None = None
        pax_size: int | None = None
        while True:
            block = self._block()
            if block == b"\0" * BLOCK:
                return None
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "strict")
            except tarfile.HeaderError as exc:
                raise ArchiveError(f"damaged header at byte {self.offset - BLOCK} ({exc})") from None
            if info.type == tarfile.XHDTYPE:
                if info.size > MAX_PAX:
                    raise ArchiveError(f"extended header of {info.size} bytes at byte {self.offset - BLOCK} "
                                       f"(at most {MAX_PAX})")
                data = self.read_data(info.size)
                self.skip_padding(info.size)
                pax_name, pax_size = _pax(data, pax_name, pax_size)
                continue
            if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
                raise ArchiveError(f"member {info.name!r} is not a regular file")
            name = pax_name if pax_name is not None else info.name
            size = pax_size if pax_size is not None else info.size
            return name, size

    def read_data(self, size: int) -> bytes:
        data = self._exact(size)
        if len(data) < size:
            raise ArchiveError(f"truncated at byte {self.offset}")
        return data

    def chunks(self, size: int, chunk: int = 1 << 20) -> Iterator[bytes]:
        """A member's ``size`` bytes in chunks; ends early (short) when the stream does."""
        left = size
        while left > 0:
            data = self._exact(min(chunk, left))
            if not data:
                return
            left -= len(data)
            yield data

    def skip_padding(self, size: int) -> None:
        pad = padding(size)
        if pad and len(self._exact(pad)) < pad:
            raise ArchiveError(f"truncated at byte {self.offset}")

    def at_end(self) -> bool:
        """After the end-of-archive block: nothing but zero blocks follows."""
        while True:
            data = self._exact(1 << 16)
            if not data:
                return True
            if data.strip(b"\0"):
                return False


def _pax(data: bytes, name: str | None, size: int | None) -> tuple[str | None, int | None]:
    """Records "<len> <key>=<value>\\n" of a pax header: the path and size we use."""
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space])
        except ValueError:
            raise ArchiveError("damaged extended header") from None
        if space < 0 or length <= 0 or pos + length > len(data):
            raise ArchiveError("damaged extended header")
        record = data[space + 1:pos + length - 1]
        key, _, value = record.partition(b"=")
        try:
            if key == b"path":
                name = value.decode("utf-8")
            elif key == b"size":
                size = int(value)
        except (UnicodeDecodeError, ValueError):
            raise ArchiveError(f"damaged extended header field {key.decode('ascii', 'replace')!r}") from None
        pos += length
    return name, size
