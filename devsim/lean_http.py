"""A lean blocking HTTP/1.1 keep-alive client for the simulator's plain-HTTP downloads.

A rollout makes tens of thousands of small GETs from a few dozen threads; httpx spends more
time in its connection pool and header models than the transfer takes. This client keeps idle
connections per host in a list (the most recent one first), writes one request, and reads the
status line and headers from a buffer: a small file is usually one ``recv``. Bodies with
``Content-Length``, ``Transfer-Encoding: chunked`` or read to the end of the connection.

Only ``http://`` URLs; anything else (``https://`` to an external store) goes to the fallback
``httpx.Client``. Failures raise httpx's exception types, so callers treat both alike.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from urllib.parse import SplitResult, urlsplit

import httpx

MAX_HEADER_BYTES = 64 * 1024
MAX_IDLE_PER_HOST = 256
_RECV = 65536


class _Conn:
    __slots__ = ("buf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""  # read and not yet consumed

    def fill(self) -> bool:
        try:
            data = self.sock.recv(_RECV)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no data within the timeout: {exc}") from None
        except OSError as exc:
            raise httpx.ReadError(str(exc)) from None
        if not data:
            return False
        self.buf = self.buf + data if self.buf else data
        return True

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class LeanResponse:
    """What the simulator uses of ``httpx.Response``: ``status_code``, ``headers``, ``iter_bytes``."""

    def __init__(self, status_code: int, headers: dict[str, str], conn: _Conn, length: int | None,
                 chunked: bool, head: bool) -> None:
        self.status_code, self.headers = status_code, headers
        self._conn, self._length, self._chunked = conn, length, chunked
        self._left = 0 if head or status_code in (204, 304) or 100 <= status_code < 200 else length
        self.complete = self._left == 0 and not chunked

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        size = chunk_size or _RECV
        c = self._conn
        if self._chunked:
            yield from self._iter_chunked(size)
            return
        left = self._left
        while left is None or left > 0:
            if not c.buf and not c.fill():
                if left is None:  # read to the end of the connection
                    self._left = 0
                    return
                raise httpx.RemoteProtocolError(f"connection closed with {left} bytes of the body missing")
            take = len(c.buf) if left is None else min(left, len(c.buf))
            take = min(take, size)
            chunk, c.buf = c.buf[:take], c.buf[take:]
            if left is not None:
                left -= take
                self._left = left
            yield chunk
        self.complete = True

    def _line(self) -> bytes:
        c = self._conn
        while True:
            i = c.buf.find(b"\r\n")
            if i >= 0:
                line, c.buf = c.buf[:i], c.buf[i + 2:]
                return line
            if len(c.buf) > MAX_HEADER_BYTES or not c.fill():
                raise httpx.RemoteProtocolError("bad chunked body")

    def _iter_chunked(self, size: int) -> Iterator[bytes]:
        c = self._conn
        while True:
            try:
                n = int(self._line().split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise httpx.RemoteProtocolError("bad chunk size") from None
            if n == 0:
                while self._line():  # trailers, up to the empty line
                    pass
                self.complete = True
                return
            while n > 0:
                if not c.buf and not c.fill():
                    raise httpx.RemoteProtocolError("connection closed inside a chunk")
                take = min(n, len(c.buf), size)
                chunk, c.buf = c.buf[:take], c.buf[take:]
                n -= take
                yield chunk
            self._line()  # the CRLF after the chunk


class LeanClient:
    """``stream("GET", url, headers=...)`` as ``httpx.Client.stream``; thread-safe."""

    def __init__(self, timeout: float = 30.0, fallback: httpx.Client | None = None) -> None:
        self.timeout = timeout
        self.fallback = fallback or httpx.Client(timeout=timeout)
        self._idle: dict[tuple[str, int], list[_Conn]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _take(self, key: tuple[str, int]) -> _Conn | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def _give(self, key: tuple[str, int], conn: _Conn) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if not self._closed and len(idle) < MAX_IDLE_PER_HOST and not conn.buf:
                idle.append(conn)
                return
        conn.close()

    def _connect(self, key: tuple[str, int]) -> _Conn:
        try:
            sock = socket.create_connection(key, timeout=self.timeout)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc)) from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc)) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Conn(sock)

    def stream(self, method: str, url: str,
               headers: dict[str, str] | None = None) -> AbstractContextManager[LeanResponse | httpx.Response]:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            return self.fallback.stream(method, url, headers=headers)
        return self._stream(method, parts, headers)

    @contextmanager
    def _stream(self, method: str, parts: SplitResult, headers: dict[str, str] | None) -> Iterator[LeanResponse]:
        assert parts.hostname is not None  # checked by stream
        key = (parts.hostname, parts.port or 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rsplit("@", 1)[-1]
        head = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept: */*", "User-Agent: ota-devsim"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        attempt = 0
        while True:
            taken = self._take(key) if attempt == 0 else None  # a retry never takes another idle one
            conn = taken if taken is not None else self._connect(key)
            try:
                conn.sock.sendall(request)
                resp = self._read_head(conn, method == "HEAD")
                break
            except (OSError, httpx.HTTPError) as exc:
                conn.close()
                attempt += 1
                if taken is not None and attempt == 1 and not isinstance(exc, httpx.TimeoutException):
                    continue  # the server closed an idle connection: once more, on a fresh one
                if isinstance(exc, httpx.HTTPError):
                    raise
                raise httpx.WriteError(str(exc)) from None
        keep = resp.headers.get("connection", "").lower() != "close" and (resp._length is not None or resp._chunked)
        try:
            yield resp
        except BaseException:
            conn.close()
            raise
        if resp.complete and keep:
            self._give(key, conn)
        else:  # the caller stopped early (the rest of the body is in the way), or the server closes
            conn.close()

    def _read_head(self, conn: _Conn, head: bool) -> LeanResponse:
        while True:
            end = conn.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(conn.buf) > MAX_HEADER_BYTES:
                raise httpx.RemoteProtocolError("response headers too long")
            if not conn.fill():
                raise httpx.RemoteProtocolError("connection closed before the response")
        lines = conn.buf[:end].decode("latin-1").split("\r\n")
        conn.buf = conn.buf[end + 4:]
        status = lines[0].split(" ", 2)
        if len(status) < 2 or not status[0].startswith("HTTP/1.") or not status[1].isdigit():
            raise httpx.RemoteProtocolError(f"bad status line {lines[0][:100]!r}")
        headers: dict[str, str] = {}
        for ln in lines[1:]:
            k, sep, v = ln.partition(":")
            if sep:
                headers[k.strip().lower()] = v.strip()
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = None
        if not chunked and "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise httpx.RemoteProtocolError("bad Content-Length") from None
        return LeanResponse(int(status[1]), headers, conn, length, chunked, head)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for c in conns:
            c.close()
        self.fallback.close()

    def __enter__(self) -> LeanClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
