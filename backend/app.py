"""The FastAPI application: routes per resource, wired to a Runtime. Wiring only."""

from __future__ import annotations

import logging
import time
from collections import deque
from contextlib import asynccontextmanager

import anyio
import httpx
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from ota_protocol.codes import ErrorCode

from . import __version__
from .api import audit, capsules, devices, events, firmware, history, oss, products, tasks, uploads
from .api.common import ApiError, check_token, error_response, install_error_handlers, ok
from .api.openapi import install_openapi
from .runtime import Runtime

log = logging.getLogger(__name__)


def create_app(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        # read/write: a store that neither sends nor takes a byte for this long is given up on
        # (the proxy answers 504 when nothing was sent yet); a slow device is not affected
        stall = float(getattr(runtime.settings, "proxy_read_timeout_s", 30.0))
        runtime.http_client = httpx.AsyncClient(
            timeout=httpx.Timeout(connect=10.0, read=stall, write=stall, pool=30.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
        try:
            yield
        finally:
            await runtime.http_client.aclose()

    app = FastAPI(title="OTA Desktop backend", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    install_error_handlers(app)

    @app.get("/api/v1/health")
    def health() -> dict:
        # a plain def: runs in the thread pool, and its checks in their own threads with timeouts,
        # so a hung store or database never blocks the event loop; always 200 (the desktop reads
        # a non-200 as "backend lost"), with healthy: false and the failing checks named
        checks = getattr(runtime, "health", None)
        if checks is None:  # a bare runtime (in-process tests)
            from .storage.health import HealthChecks
            checks = runtime.health = HealthChecks(runtime)
        report = checks.report()
        return ok({"version": __version__, "mqttConnected": bool(runtime.link and runtime.link.connected),
                   "dispatcherAlive": bool(runtime.dispatcher is not None and runtime.dispatcher.alive),
                   "healthy": report["healthy"], "checks": report["checks"]})

    install_docs(app)
    install_openapi(app)
    app.include_router(oss.router)  # presigned URLs are the only authorisation here
    for module in (uploads, products, devices, firmware, tasks, history, events, capsules):
        app.include_router(module.router)
    app.add_middleware(Gate, runtime=runtime)
    return app


def install_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the installed ``fastapi-offline`` package, no CDN (runs offline)."""
    from pathlib import Path

    import fastapi_offline
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/docs/static", StaticFiles(directory=static), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs():  # noqa: ANN202
        return get_swagger_ui_html(openapi_url="/openapi.json", title="OTA Desktop backend API",
                                   swagger_js_url="/docs/static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/static/swagger-ui.css",
                                   swagger_favicon_url="/docs/static/favicon.png")


#: routes anyone may call: health, the API's own description, and the object routes
#: (authorised by their presigned signature)
OPEN_PATHS = ("/api/v1/health", "/openapi.json", "/docs")


class Gate:
    """What every request passes before a route sees it.

    - header block larger than ``max_header_bytes``: 431;
    - the admin token on every route but the open ones, checked before the body is read, so an
      unauthenticated request is a 401 whatever it carries; on a LAN-facing backend a client
      that keeps sending wrong tokens is slowed down with 429s (see :class:`FailedLogins`);
    - management bodies larger than ``max_body_bytes``: 413, before the route reads any of it.
    Every refusal is the API's envelope naming the limit.
    """

    def __init__(self, app, runtime: Runtime):  # noqa: ANN001
        self.app, self.runtime = app, runtime
        self.failed_logins = FailedLogins() if runtime.settings.lan else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.runtime.settings
        header_bytes = sum(len(k) + len(v) + 4 for k, v in scope["headers"])
        if header_bytes > settings.max_header_bytes:
            await _refuse(scope, receive, send, 431, ErrorCode.PARAMETER,
                          f"headers: {header_bytes} bytes, more than the limit of {settings.max_header_bytes}")
            return
        path = scope["path"]
        if path.startswith(oss.OSS_PREFIX + "/"):
            await oss.asgi(scope, receive, send)  # presigned: authorised by the store itself
            return
        if path.startswith(OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        if self.failed_logins is not None and self.failed_logins.blocked(client):
            await _refuse(scope, receive, send, 429, ErrorCode.TOKEN_INVALID,
                          "token: too many wrong tokens from this address; wait a minute")
            return
        try:
            check_token(Headers(scope=scope), self.runtime.admin_token)
        except ApiError as exc:
            if self.failed_logins is not None:
                self.failed_logins.failed(client)
            await _refuse(scope, receive, send, exc.http_status, exc.code, exc.msg)
            return
        if scope["method"] == "POST" and path in capsules.RAW_BODY_PATHS:
            # a capsule or evidence file: streamed to the route, never buffered here
            length = Headers(scope=scope).get("content-length", "?")
            await self._audited(scope, receive, send, client, path, f'{{"file bytes": "{length}"}}'.encode())
            return
        if scope["method"] == "POST":
            body = await _read_body(receive, Headers(scope=scope), settings.max_body_bytes)
            if body is None:
                await error_response(413, ErrorCode.PARAMETER,
                                     f"body: larger than the limit of {settings.max_body_bytes} bytes")(scope, receive, send)
                return
            # Management bodies are JSON whatever the client labels them (curl -d says form).
            scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k != b"content-type"]
                         + [(b"content-type", b"application/json")])
            receive = _replay(body, receive)
            if audit.audited(path):
                await self._audited(scope, receive, send, client, path, body)
                return
        await self.app(scope, receive, send)

    async def _audited(self, scope: Scope, receive: Receive, send: Send, client: str, path: str,
                       body: bytes) -> None:
        """Run the route, then keep the call in the audit log with its HTTP status."""
        status = [500]

        async def send_status(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)
        try:
            await self.app(scope, receive, send_status)
        finally:
            db = getattr(self.runtime, "db", None)
            if db is not None:
                try:
                    await anyio.to_thread.run_sync(audit.record, db, client, path, body, status[0])
                except Exception:  # the call itself went through: say so in the log
                    log.exception("could not write the audit entry for %s", path)


async def _refuse(scope, receive, send, status: int, code: int, msg: str) -> None:  # noqa: ANN001
    await error_response(status, code, msg)(scope, receive, send)


async def _read_body(receive, headers: Headers, limit: int) -> bytes | None:  # noqa: ANN001
    """The whole request body, or None once it is larger than ``limit`` (stops reading there)."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive):  # noqa: ANN001, ANN202
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the client's disconnect as usual
    return replay


class FailedLogins:
    """Wrong admin tokens per client address: after ``limit`` within ``window_s``, refuse the
    address until the window has passed (a LAN-facing backend's brute-force brake)."""

    def __init__(self, limit: int = 10, window_s: float = 60.0, clock=time.monotonic) -> None:  # noqa: ANN001
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        now = self.clock()
        times = self._failures.get(client)
        if times is None:
            if len(self._failures) > 10_000:  # many addresses: forget the quiet ones
                self._failures = {c: t for c, t in self._failures.items() if t and now - t[-1] < self.window_s}
            times = self._failures[client] = deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def blocked(self, client: str) -> bool:
        return len(self._recent(client)) >= self.limit

    def failed(self, client: str) -> None:
        self._recent(client).append(self.clock())
