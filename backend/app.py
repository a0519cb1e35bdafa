"""The FastAPI application: routes per resource, wired to a Runtime. Wiring only."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.datastructures import Headers

from . import __version__
from .api import devices, events, firmware, oss, products, tasks, uploads
from .api.common import ApiError, check_token, error_response, install_error_handlers, ok
from .runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        runtime.http_client = httpx.AsyncClient(
            timeout=httpx.Timeout(connect=10.0, read=None, write=None, pool=30.0),
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
        return ok({"version": __version__, "mqttConnected": bool(runtime.link and runtime.link.connected)})

    app.include_router(oss.router)  # presigned URLs are the only authorisation here
    for module in (uploads, products, devices, firmware, tasks, events):
        app.include_router(module.router)
    app.add_middleware(TokenMiddleware, runtime=runtime)
    return app


OPEN_PATHS = ("/api/v1/health", "/api/v1/oss/")


class TokenMiddleware:
    """Every route but health and the presigned object routes needs the admin token.

    Checked before the body is read, so an unauthenticated request is a 401 whatever it carries.
    """

    def __init__(self, app, runtime: Runtime):  # noqa: ANN001
        self.app, self.runtime = app, runtime

    async def __call__(self, scope, receive, send):  # noqa: ANN001
        if scope["type"] == "http" and scope["path"].startswith(oss.OSS_PREFIX + "/"):
            await oss.asgi(scope, receive, send)  # presigned: authorised by the store itself
            return
        if scope["type"] == "http" and not scope["path"].startswith(OPEN_PATHS):
            try:
                check_token(Headers(scope=scope), self.runtime.admin_token)
            except ApiError as exc:
                await error_response(exc.http_status, exc.code, exc.msg)(scope, receive, send)
                return
            if scope["method"] == "POST":
                # Management bodies are JSON whatever the client labels them (curl -d says form).
                scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k != b"content-type"]
                             + [(b"content-type", b"application/json")])
        await self.app(scope, receive, send)
