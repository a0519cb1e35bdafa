"""/api/v1/oss/<bucket>/<key>: a streaming reverse proxy onto the S3 endpoint.

Authorisation is the SigV4 presigned query string alone, checked by the store itself: the
request goes upstream with the path prefix stripped and `Host` set to the store's host:port,
so a valid signature verifies and a wrong, tampered, expired or foreign one gets the store's
403. Bodies stream both ways in chunks; nothing is held in memory.
"""

from __future__ import annotations

import asyncio
import logging
import re

import httpx
from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from ota_protocol.codes import ErrorCode

from ..ota.outages import PROXY_5XX
from ..storage.base import OSS_PREFIX, PRIVATE_BUCKET, TEMPORARY_BUCKET
from ..storage.lean_http import LeanClient
from .common import error_response

router = APIRouter()
log = logging.getLogger(__name__)
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}
FORWARD_REQUEST = {"range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
                   "content-type", "content-md5", "x-amz-content-sha256"}
BUCKETS = {TEMPORARY_BUCKET, PRIVATE_BUCKET}
CHUNK = 1 << 20
_RANGE = re.compile(r"\s*bytes=([0-9]*)-([0-9]*)\s*", re.IGNORECASE)
_BEYOND = 10**18  # stands for any position past the end of any object


def parse_range(value: str) -> tuple[int | None, int | None] | None:
    """The one byte range a ``Range`` header asks for (RFC 9110 section 14.1.2).

    ``(first, last)`` for ``bytes=first-last``, ``(first, None)`` for ``bytes=first-``,
    ``(None, n)`` for the suffix ``bytes=-n``. None when the header is not valid syntax
    (``bytes=5-2``, ``items=0-1``, ``bytes=abc``) or asks for several ranges: such a Range is
    ignored and the whole object is served (200), as the RFC allows.
    """
    m = _RANGE.fullmatch(value)
    if m is None or m.group(1) == m.group(2) == "":
        return None
    first, last = (None if d == "" else (int(d) if len(d) <= 18 else _BEYOND) for d in m.groups())
    if first is not None and last is not None and last < first:
        return None
    return first, last


def resolve_range(rng: tuple[int | None, int | None], size: int) -> tuple[int, int] | None:
    """The byte positions ``(first, last)`` a parsed range selects of a ``size``-byte object;
    None when it is unsatisfiable (a first position at or past the end, an empty suffix, an
    empty object): answered with 416 and ``Content-Range: bytes */size``."""
    first, last = rng
    if size <= 0:
        return None
    if first is None:  # suffix: the last `last` bytes, or all of a shorter object
        return (max(0, size - last), size - 1) if last else None
    if first >= size:
        return None
    return first, size - 1 if last is None else min(last, size - 1)


def _raw_target(request: Request) -> str:
    raw = request.scope.get("raw_path") or request.url.path.encode()
    target = raw.decode("latin-1")
    qs = request.scope.get("query_string", b"")
    return f"{target}?{qs.decode('latin-1')}" if qs else target


async def asgi(scope, receive, send) -> None:  # noqa: ANN001
    """The object routes as a bare ASGI app: devices download through here thousands of times
    during a rollout, and FastAPI's routing and dependency machinery is not needed for it."""
    request = Request(scope, receive)
    if request.method not in ("GET", "HEAD", "PUT"):
        response: Response = error_response(405, ErrorCode.NOT_PERMITTED, f"method {request.method} not allowed")
    else:
        bucket, _, key = scope["path"][len(OSS_PREFIX) + 1:].partition("/")
        response = await proxy(bucket, key, request)
    await response(scope, receive, send)


# presigned object routes: an S3 surface (docs/protocol.md), not part of the JSON API document
@router.api_route(OSS_PREFIX + "/{bucket}/{key:path}", methods=["GET", "HEAD", "PUT"], include_in_schema=False)
async def proxy(bucket: str, key: str, request: Request) -> Response:
    if bucket not in BUCKETS or not key:
        return error_response(404, ErrorCode.NOT_FOUND, f"bucket {bucket!r} not found")
    if "X-Amz-Signature" not in request.query_params:
        return error_response(403, ErrorCode.NOT_PERMITTED, "object routes need a presigned URL")
    rt = request.app.state.runtime
    url, host = rt.store.upstream(_raw_target(request))
    headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARD_REQUEST}
    headers["host"] = host
    content = None
    if request.method == "PUT":
        length = request.headers.get("content-length")
        if length is None:
            return error_response(411, ErrorCode.PARAMETER, "Content-Length: required for uploads")
        headers["content-length"] = length
        content = request.stream()
    client: httpx.AsyncClient = rt.http_client
    # HEAD is answered from a GET upstream: file URLs are presigned for GET, and a HEAD with
    # the same URL must show the same status and headers
    method = "GET" if request.method == "HEAD" else request.method
    rng = parse_range(headers.pop("range")) if method == "GET" and "range" in headers else None
    need = int(headers.get("content-length") or 0) if method == "PUT" else 0
    send = _sender(rt, client, url) if method == "GET" else None
    try:
        if send is not None:
            upstream = await _ranged_get(send, headers, rng) if rng is not None else await send(headers)
        else:
            upstream = await client.send(client.build_request(method, url, headers=headers, content=content),
                                         stream=True)
    except httpx.TimeoutException as exc:
        if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout)):
            stall = client.timeout.read or client.timeout.write
            return await _store_failed(rt, 504, ErrorCode.TIMEOUT, f"object store: no answer within {stall:g} s", need)
        return await _store_failed(rt, 502, ErrorCode.SYSTEM, f"object store unreachable: {exc.__class__.__name__}", need)
    except httpx.HTTPError as exc:
        return await _store_failed(rt, 502, ErrorCode.SYSTEM, f"object store unreachable: {exc.__class__.__name__}", need)
    if isinstance(upstream, Response):
        return upstream
    if request.method == "PUT" and upstream.status_code >= 500:
        # a file-system store cannot hold "a/b" and "a/b/c" at once: a clean 409, not its 500
        other = await asyncio.to_thread(_nesting_clash, rt.store, bucket, key)
        if other is not None:
            await upstream.aclose()
            return error_response(409, ErrorCode.DUPLICATE, f"filePath: {key!r} clashes with the stored object "
                                  f"{other!r}: a key cannot also be a folder of other keys")
    if upstream.status_code >= 500:
        try:
            body = await upstream.aread()
        except httpx.HTTPError:
            body = b""
        finally:
            await upstream.aclose()
        return await _store_failed(rt, 502, ErrorCode.SYSTEM, "object store error: " + _s3_error(body, upstream), need)
    if upstream.status_code == 400:
        body = await upstream.aread()
        await upstream.aclose()
        if b"Authoriz" in body:  # a presigned query the store cannot even parse is a forged one
            return Response(body, status_code=403, media_type="application/xml")
        return Response(body, status_code=400, media_type=upstream.headers.get("content-type"))
    out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
    if "content-length" in upstream.headers:
        out_headers["content-length"] = upstream.headers["content-length"]
    if request.method == "HEAD":
        await upstream.aclose()
        return Response(status_code=upstream.status_code, headers=out_headers)
    return StreamingResponse(_relay(upstream, rt), status_code=upstream.status_code,
                             headers=out_headers, background=BackgroundTask(upstream.aclose))


def _sender(rt, client: httpx.AsyncClient, url: str):  # noqa: ANN001, ANN202
    """``send(headers)``: a GET of ``url`` from the store, streamed. Plain-http stores get the lean
    client (``storage.lean_http``, one per runtime, made on the server's loop, timeouts as the
    httpx client's); anything else (https) goes through httpx."""
    if url.startswith("http://"):
        lean = getattr(rt, "lean_store_client", None)
        if lean is None:
            t = client.timeout
            lean = LeanClient(connect_timeout=t.connect or 10.0, read_timeout=t.read or 30.0)
            rt.lean_store_client = lean

        async def send_lean(headers: dict[str, str]):  # noqa: ANN202
            return await lean.get(url, headers)
        return send_lean

    async def send_httpx(headers: dict[str, str]) -> httpx.Response:
        return await client.send(client.build_request("GET", url, headers=headers), stream=True)
    return send_httpx


async def _relay(upstream, rt):  # noqa: ANN001, ANN202
    """The store's body as it comes. Once headers are sent a failure cannot be answered any more:
    it is noted as an outage and the connection is dropped (the client sees a short body)."""
    try:
        async for chunk in upstream.aiter_raw(CHUNK):
            yield chunk
    except httpx.HTTPError as exc:
        _note(rt, f"object store failed mid-body: {exc.__class__.__name__}")
        log.warning("object proxy: the store failed mid-body (%s); dropping the connection", exc.__class__.__name__)
        raise


def _note(rt, detail: str) -> None:  # noqa: ANN001
    outages = getattr(rt, "outages", None)
    if outages is not None:
        outages.note(PROXY_5XX, detail)


async def _store_failed(rt, status: int, code: int, msg: str, need: int = 0) -> Response:  # noqa: ANN001
    """The envelope for a store failure, naming a full disk under an embedded store when that is
    the cause (507); noted as a proxy outage."""
    disk_full = getattr(rt.store, "disk_full", None)
    full = await asyncio.to_thread(disk_full, need) if disk_full is not None else None
    if full is not None:
        status, code, msg = 507, ErrorCode.SYSTEM, full
    _note(rt, f"{status} {msg}")
    return error_response(status, code, msg)


def _s3_error(body: bytes, upstream: httpx.Response) -> str:
    """``<Code>: <Message>`` of an S3 XML error, else the HTTP status and a bit of the body."""
    code = re.search(rb"<Code>([^<]{1,100})</Code>", body)
    message = re.search(rb"<Message>([^<]{1,300})</Message>", body)
    if code:
        text = code.group(1).decode(errors="replace")
        return text + (": " + message.group(1).decode(errors="replace") if message else "")
    snippet = body[:100].decode(errors="replace").strip()
    return f"HTTP {upstream.status_code}" + (f" {snippet}" if snippet else "")


async def _ranged_get(send, headers: dict, rng: tuple[int | None, int | None]):  # noqa: ANN001, ANN202
    """A GET for one byte range, answered as RFC 9110 says whatever ranges the store supports.

    The store is asked for the range as is first (``first-`` / ``first-last``); when it cannot
    serve it (a suffix, a last position past the end, a first one past it), the object's size is
    taken from a plain GET's headers and the range resolved here: 206 with the bytes, or a 416
    Response with ``Content-Range: bytes */size``. ``send(headers)`` is the streamed GET (``_sender``).
    """
    first, last = rng
    if first is not None:
        headers["range"] = f"bytes={first}-{'' if last is None else last}"
        upstream = await send(headers)
        if upstream.status_code not in (400, 416):
            return upstream
        await upstream.aclose()
        del headers["range"]
    probe = await send(headers)
    length = probe.headers.get("content-length", "")
    if probe.status_code != 200 or not length.isdigit():
        return probe  # refused (403, 404...) or of unknown size: answered as the store answers
    await probe.aclose()
    size = int(length)
    span = resolve_range(rng, size)
    if span is None:
        response = error_response(416, ErrorCode.PARAMETER, f"Range: no byte of the {size}-byte object selected")
        response.headers["content-range"] = f"bytes */{size}"
        return response
    headers["range"] = f"bytes={span[0]}-{span[1]}"
    return await send(headers)


def _nesting_clash(store, bucket: str, key: str) -> str | None:  # noqa: ANN001
    """A stored key that is a folder of ``key`` or has ``key`` as its folder, if there is one."""
    try:
        parts = key.split("/")
        for i in range(1, len(parts)):
            if store.exists(bucket, "/".join(parts[:i])):
                return "/".join(parts[:i])
        for obj in store.client.list_objects(bucket, prefix=key + "/", recursive=True):
            return obj.object_name
    except Exception:  # noqa: BLE001 - only a diagnosis: the store's own answer stands
        return None
    return None
