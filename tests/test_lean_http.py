"""The object proxy's lean store client (backend/storage/lean_http.py), against a tiny local server."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from backend.procs import free_port
from backend.storage.lean_http import LeanClient


async def _serve(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def test_keep_alive_chunked_and_a_connection_the_store_closed() -> None:
    async def main() -> None:
        connections = []

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(writer)
            n = 0
            while True:
                try:
                    req = await _read_request(reader)
                except asyncio.IncompleteReadError:
                    break
                n += 1
                assert b"host: store\r\n" in req.lower() and req.startswith(b"GET /b/k?X-Amz-Signature=s%2F HTTP/1.1")
                if b"range: chunked" in req.lower():
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"e\"\r\n\r\nhello")
                await writer.drain()
                if n == 2:  # the store drops a kept connection after two answers
                    writer.close()
                    break
        server, port = await _serve(handler)
        client = LeanClient(connect_timeout=2, read_timeout=2)
        url = f"http://127.0.0.1:{port}/b/k?X-Amz-Signature=s%2F"
        bodies = []
        for rng in ("", "chunked", "", ""):
            r = await client.get(url, {"host": "store", **({"range": rng} if rng else {})})
            assert r.status_code == 200
            bodies.append(await r.aread())
            await r.aclose()
            await asyncio.sleep(0.05)
        assert bodies == [b"hello", b"abcde", b"hello", b"hello"]
        assert len(connections) == 2  # reused, and a new one once the store closed the first
        assert r.headers["etag"] == '"e"'
        client.close()
        server.close()
    asyncio.run(main())


def test_failures_are_httpx_errors_the_proxy_maps() -> None:
    async def main() -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _read_request(reader)
            await asyncio.sleep(5)

        async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
            await writer.drain()
            writer.close()
        client = LeanClient(connect_timeout=1, read_timeout=0.3)
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{free_port()}/b/k", {"host": "x"})
        server, port = await _serve(silent)
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"http://127.0.0.1:{port}/b/k", {"host": "x"})
        server.close()
        server, port = await _serve(short)
        r = await client.get(f"http://127.0.0.1:{port}/b/k", {"host": "x"})
        with pytest.raises(httpx.HTTPError):
            await r.aread()
        await r.aclose()
        assert not any(client._idle.values())  # a broken connection is never kept
        server.close()
    asyncio.run(main())
