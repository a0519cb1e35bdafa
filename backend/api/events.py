"""GET /api/v1/things/ota/events: Server-Sent Events (spec section 8)."""

from __future__ import annotations

import asyncio
import re

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

router = APIRouter()
KEEPALIVE_S = 15.0
_EVENT_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only ("²".isdigit() is true); fits an int64
UNKNOWN_ID = -1  # older than any event: the stream starts with a resync


def last_event_id(header: str) -> int | None:
    """The client's Last-Event-ID: None when absent, UNKNOWN_ID when it cannot be one of ours."""
    header = header.strip()
    if not header:
        return None
    return int(header) if _EVENT_ID.fullmatch(header) else UNKNOWN_ID


@router.get("/api/v1/things/ota/events")
async def events(request: Request) -> StreamingResponse:
    bus = request.app.state.runtime.events
    start = last_event_id(request.headers.get("last-event-id", ""))

    async def stream():  # noqa: ANN202
        flag = bus.subscribe()
        try:
            last = bus.last_id if start is None else start
            yield "retry: 1000\n\n"
            while not bus.closed:
                items, missed = bus.since(last)
                if missed:  # the client reloads after this; whatever comes later is streamed
                    last = bus.last_id
                    yield f'id: {last}\ndata: {{"type":"resync"}}\n\n'
                    continue
                if items:
                    yield "".join(f"id: {i}\ndata: {d}\n\n" for i, d in items)
                    last = items[-1][0]
                    continue
                flag.clear()
                if bus.since(last)[0] or bus.closed:
                    continue
                try:
                    await asyncio.wait_for(flag.wait(), KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": ping\n\n"
        finally:
            bus.unsubscribe(flag)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
