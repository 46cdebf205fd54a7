"""CycleFreeWebSocket: a closed connection's objects freed at once, not by a full collection.

When a client goes away, engine.io's WebSocket wrapper for aiohttp (engineio.async_drivers.
aiohttp.WebSocket) raises OSError from `wait()` to tell its socket handler the connection is
over. That exception leaves a reference cycle: the handler keeps the failed read task in its
frame while `asyncio.wait_for` re-raises the task's exception, whose traceback holds that
frame (task -> exception -> traceback -> frame -> task). And aiohttp's WebSocketResponse
keeps the exception of the close frame it could not write to the gone client
(`ws.exception()`, a ClientConnectionResetError over an EofStream) with a traceback holding
its own frames (ws -> exception -> traceback -> frame -> ws). Together they hold ~83 objects
per departed client (its request, transport, tasks, queues) that only a full garbage
collection frees; a server freezes its connections out of full collections (heap.py), so
without this they stayed until a collection over the whole heap, ~800 ms of CPU on the loop
after 5,000 clients left.

Here `wait()` answers a closed connection with None, which engine.io's handler already
reads as "connection closed by client" (it ends exactly as after the exception), and drops
the traceback of the exception aiohttp kept: its type and message stay for `ws.exception()`,
but it no longer holds the connection's frames. Nothing is left in a cycle (the test:
tests/server/test_im_fanout.py, a departed client's objects freed by reference counting).

engine.io has no public switch for its WebSocket class: it is the `websocket` entry of the
server's async driver table (`_async`), which `install_on` replaces for one server. Checked
against python-engineio 4.15 and aiohttp 3.14.
"""
from __future__ import annotations

from typing import Any

from engineio.async_drivers import aiohttp as eio_aiohttp


class CycleFreeWebSocket(eio_aiohttp.WebSocket):
    async def wait(self) -> Any:
        msg = await self._sock.receive()
        if isinstance(msg.data, (str, bytes)):
            return msg.data
        drop_tracebacks(self._sock.exception())
        drop_tracebacks(msg.data if isinstance(msg.data, BaseException) else None)
        return None  # closed: the socket handler ends as it does for a client that closed


def drop_tracebacks(exc: BaseException | None) -> None:
    """Forget where an exception (and those it was raised over) came from: its frames go."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        e.__traceback__ = None
        stack += [e.__context__, e.__cause__]


def install_on(engineio_server: Any) -> None:
    """Use CycleFreeWebSocket for this engine.io server's WebSocket connections."""
    engineio_server._async = {**engineio_server._async, "websocket": CycleFreeWebSocket}
