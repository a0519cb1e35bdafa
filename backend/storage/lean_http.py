"""A lean HTTP/1.1 client for the object proxy's downloads from the store (GET only).

Devices download through ``/api/v1/oss`` thousands of times in a rollout. httpx's connection
pool checks every pooled connection on each request (a ``select`` and a ``getpeername`` per idle
connection): with a few dozen concurrent downloads that was most of the proxy's CPU. This client
keeps idle keep-alive connections in a list and takes the most recent one, and reads responses
with asyncio's stream reader. It raises httpx's exception types, so the proxy maps failures the
same way whichever client served the request: ``ConnectError`` / ``ConnectTimeout`` (502),
``ReadTimeout`` (504, the store sent nothing within the read timeout), ``ReadError`` /
``RemoteProtocolError`` (the store failed mid-answer).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx

MAX_HEADER_BYTES = 64 * 1024
MAX_IDLE = 64


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


class LeanResponse:
    """The parts of ``httpx.Response`` the proxy uses, body streamed."""

    def __init__(self, client: LeanClient, conn: _Conn, status: int, headers: httpx.Headers, head: bool):
        self._client, self._conn = client, conn
        self.status_code, self.headers = status, headers
        length = headers.get("content-length")
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._left: int | None = None if self._chunked or length is None else int(length)
        if head or status in (204, 304) or 100 <= status < 200:
            self._left = 0
        self._keep = headers.get("connection", "").lower() != "close" and (self._chunked or self._left is not None)
        self._done = self._left == 0 and not self._chunked

    async def _read(self, n: int) -> bytes:
        try:
            data = await asyncio.wait_for(self._conn.reader.read(n), self._client.read_timeout)
        except TimeoutError:
            raise httpx.ReadTimeout("object store: no data within the read timeout") from None
        except OSError as exc:
            raise httpx.ReadError(str(exc)) from exc
        return data

    async def _read_exactly(self, n: int) -> bytes:
        try:
            return await asyncio.wait_for(self._conn.reader.readexactly(n), self._client.read_timeout)
        except TimeoutError:
            raise httpx.ReadTimeout("object store: no data within the read timeout") from None
        except asyncio.IncompleteReadError:
            raise httpx.RemoteProtocolError("object store: connection closed mid-body") from None
        except OSError as exc:
            raise httpx.ReadError(str(exc)) from exc

    async def _read_line(self) -> bytes:
        try:
            return await asyncio.wait_for(self._conn.reader.readuntil(b"\r\n"), self._client.read_timeout)
        except TimeoutError:
            raise httpx.ReadTimeout("object store: no data within the read timeout") from None
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            raise httpx.RemoteProtocolError("object store: bad chunked body") from None
        except OSError as exc:
            raise httpx.ReadError(str(exc)) from exc

    async def aiter_raw(self, chunk_size: int = 1 << 16) -> AsyncIterator[bytes]:
        try:
            if self._chunked:
                while True:
                    size_line = await self._read_line()
                    try:
                        size = int(size_line.split(b";", 1)[0].strip(), 16)
                    except ValueError:
                        raise httpx.RemoteProtocolError("object store: bad chunk size") from None
                    if size == 0:
                        while (await self._read_line()) != b"\r\n":  # trailers
                            pass
                        break
                    data = await self._read_exactly(size)
                    await self._read_exactly(2)
                    yield data
            elif self._left is None:  # no length: the body ends with the connection
                while data := await self._read(chunk_size):
                    yield data
            else:
                while self._left > 0:
                    data = await self._read(min(chunk_size, self._left))
                    if not data:
                        raise httpx.RemoteProtocolError("object store: connection closed mid-body")
                    self._left -= len(data)
                    yield data
            self._done = True
        finally:
            if not self._done:
                self._keep = False

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self.aiter_raw()])

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None  # type: ignore[assignment]
        if conn is None:
            return
        if self._done and self._keep and conn.usable():
            self._client._release(conn)
        else:
            conn.close()


class LeanClient:
    """GETs against one store endpoint (http only), idle connections kept for reuse."""

    def __init__(self, connect_timeout: float, read_timeout: float):
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self._idle: dict[tuple[str, int], list[_Conn]] = {}

    def _release(self, conn: _Conn) -> None:
        peer = conn.writer.get_extra_info("peername")
        idle = self._idle.setdefault((peer[0], peer[1]) if peer else ("", 0), [])
        if len(idle) >= MAX_IDLE:
            conn.close()
        else:
            idle.append(conn)

    async def _connect(self, host: str, port: int) -> _Conn:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, limit=MAX_HEADER_BYTES),
                                                    self.connect_timeout)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"object store {host}:{port}: connect timeout") from None
        except OSError as exc:
            raise httpx.ConnectError(f"object store {host}:{port}: {exc}") from exc
        return _Conn(reader, writer)

    async def get(self, url: str, headers: dict[str, str]) -> LeanResponse:
        """Send a GET for ``url`` (its path and query sent byte for byte) with ``headers``
        (``host`` included); the response's body is left to stream."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"lean client: only http URLs ({url[:40]})")
        host, port = parts.hostname, parts.port or 80
        target = parts.path + ("?" + parts.query if parts.query else "")
        lines = [f"GET {target} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        idle = self._idle.get((host, port)) or []
        while idle:  # a kept connection first; one the store closed meanwhile is dropped
            conn = idle.pop()
            if not conn.usable():
                conn.close()
                continue
            try:
                return await self._exchange(conn, request)
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                conn.close()
                if not getattr(exc, "_nothing_received", False):
                    raise
                # the store had closed it before our request: try the next (or a new) one
        conn = await self._connect(host, port)
        try:
            return await self._exchange(conn, request)
        except BaseException:
            conn.close()
            raise

    async def _exchange(self, conn: _Conn, request: bytes) -> LeanResponse:
        try:
            conn.writer.write(request)
            await conn.writer.drain()
            head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), self.read_timeout)
        except TimeoutError:
            raise httpx.ReadTimeout("object store: no answer within the read timeout") from None
        except asyncio.IncompleteReadError as exc:
            err = httpx.RemoteProtocolError("object store: connection closed without an answer")
            err._nothing_received = not exc.partial  # type: ignore[attr-defined]
            raise err from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError("object store: answer headers too large") from None
        except OSError as exc:
            err2 = httpx.ReadError(f"object store: {exc}")
            err2._nothing_received = True  # type: ignore[attr-defined]
            raise err2 from exc
        status_line, _, rest = head[:-4].partition(b"\r\n")
        fields = status_line.split(b" ", 2)
        if len(fields) < 2 or not fields[0].startswith(b"HTTP/1.") or not fields[1].isdigit():
            raise httpx.RemoteProtocolError("object store: bad status line")
        raw: list[tuple[str, str]] = []
        for line in rest.split(b"\r\n") if rest else []:
            name, sep, value = line.partition(b":")
            if not sep:
                raise httpx.RemoteProtocolError("object store: bad header line")
            raw.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
        headers = httpx.Headers(raw)
        response = LeanResponse(self, conn, int(fields[1]), headers, head=False)
        if fields[0] == b"HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
            response._keep = False
        return response

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
