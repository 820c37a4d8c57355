"""Live notifications: a server-sent-events stream per unit.

``GET /api/v1/units/{code}/events`` streams the instruction events (issued, upgraded,
overdue, closed, updated) of the unit and, for a district or the city, of every unit below
it — within the caller's jurisdiction (another unit's stream is 404). Each event is
``event: <kind>`` with the JSON of :class:`~fanzha.dispatch.events.InstructionEvent`; a
comment line every ``KEEPALIVE`` seconds keeps proxies from closing the connection, and
``event: resync`` tells a client that fell behind to reload.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from fanzha.api.auth import require
from fanzha.auth import Permission, Principal
from fanzha.bus import Subscription
from fanzha.instructing import InstructionService

router = APIRouter(prefix="/api/v1", tags=["instructions"])
KEEPALIVE = 15.0


async def _stream(
    request: Request, sub: Subscription, max_seconds: float | None
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    end = None if max_seconds is None else loop.time() + max_seconds
    try:
        yield "retry: 3000\n: connected\n\n"
        while not await request.is_disconnected():
            left = KEEPALIVE if end is None else min(KEEPALIVE, end - loop.time())
            if left <= 0:
                break
            event = await sub.get(left)
            if sub.lost:
                sub.lost = False
                yield "event: resync\ndata: {}\n\n"
            if event is None:
                yield ": keep-alive\n\n"
                continue
            data = json.dumps(event.to_json(), ensure_ascii=False)
            yield f"event: {event.kind.value}\ndata: {data}\n\n"
    finally:
        sub.close()


@router.get(
    "/units/{code}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Event stream."}},
)
async def unit_events(
    request: Request,
    code: Annotated[str, Path(max_length=32)],
    principal: Annotated[Principal, Depends(require(Permission.INSTRUCTIONS_READ))],
    max_seconds: Annotated[
        float | None,
        Query(
            ge=0, le=86_400, description="End the stream after this long (the client reconnects)."
        ),
    ] = None,
) -> StreamingResponse:
    """Instruction events of a unit and the units below it, as server-sent events."""
    service: InstructionService = request.app.state.fz.instruction_service
    units = await run_in_threadpool(service.units_below, principal, code)  # 404 outside
    sub = request.app.state.fz.bus.subscribe(units)
    return StreamingResponse(
        _stream(request, sub, max_seconds),
        media_type="text/event-stream",
        headers={"x-accel-buffering": "no"},  # no proxy buffering of the stream
    )
