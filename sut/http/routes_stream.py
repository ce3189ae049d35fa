"""The odds stream WebSocket: ``/stream?token=...``."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from sut.domain import DomainError
from sut.http.context import AppContext

_POLICY_VIOLATION = 1008


async def stream(ctx: AppContext, websocket: WebSocket) -> None:
    """Authenticate, then read subscribe/unsubscribe messages while a task sends odds."""
    await websocket.accept()
    try:
        ctx.authorize(websocket.query_params.get("token", ""))
        hub = ctx.hub
    except DomainError as exc:
        frame = {"type": "error", "error": {"code": exc.code, "message": exc.message}}
        await websocket.send_text(orjson.dumps(frame).decode())
        await websocket.close(code=_POLICY_VIOLATION)
        return
    sub = hub.connect(websocket)
    sender = asyncio.create_task(hub.send_loop(sub))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            hub.handle(sub, message.get("text") or message.get("bytes") or b"")
            if sender.done():
                break
    except WebSocketDisconnect:
        pass
    finally:
        hub.disconnect(sub)
        sender.cancel()
        with contextlib.suppress(
            asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError
        ):
            await sender
