"""/api/v1/oss/<bucket>/<key>: a streaming reverse proxy onto the S3 endpoint.

Authorisation is the SigV4 presigned query string alone, checked by the store itself: the
request goes upstream with the path prefix stripped and `Host` set to the store's host:port,
so a valid signature verifies and a wrong, tampered, expired or foreign one gets the store's
403. Bodies stream both ways in chunks; nothing is held in memory.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from ..ota.status import ErrorCode
from ..storage.base import OSS_PREFIX, PRIVATE_BUCKET, TEMPORARY_BUCKET
from .common import error_response

router = APIRouter()
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}
FORWARD_REQUEST = {"range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
                   "content-type", "content-md5", "x-amz-content-sha256"}
BUCKETS = {TEMPORARY_BUCKET, PRIVATE_BUCKET}
CHUNK = 1 << 20


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


@router.api_route(OSS_PREFIX + "/{bucket}/{key:path}", methods=["GET", "HEAD", "PUT"])
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
    upstream_req = client.build_request(method, url, headers=headers, content=content)
    try:
        upstream = await client.send(upstream_req, stream=True)
    except httpx.HTTPError as exc:
        return error_response(502, ErrorCode.SYSTEM, f"object store unreachable: {exc.__class__.__name__}")
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
    return StreamingResponse(upstream.aiter_raw(CHUNK), status_code=upstream.status_code,
                             headers=out_headers, background=BackgroundTask(upstream.aclose))
