"""HandshakePacer: a crowd of clients connecting at once does not stall the event loop.

Thousands of IM clients connect within seconds (after a server restart they all reconnect
at once). Each Socket.IO handshake costs the loop ~0.3-0.5 ms of CPU in aiohttp, engine.io
and python-socketio (the server's own part, the token and the client's records, is ~0.1 ms),
in one step of its request's task; a burst of 100 connections makes 100 such steps ready
together, and the loop runs all ready steps in one turn: turns of 40-80 ms, in which no
heartbeat, request or broadcast of anyone else runs (bench/server.py, "while the clients
connected"). Here at most PER_TURN Socket.IO requests start in one turn of the loop (twice
that in the turn a burst ends: the last ones woken and a newcomer's); the others wait, in
the order they came, for the next turns.
"""
from __future__ import annotations

import asyncio
from collections import deque

from aiohttp import web

PER_TURN = 10  # Socket.IO requests started in one turn of the loop (~5 ms of handshakes)
PATH = "/socket.io"


class HandshakePacer:
    def __init__(self, per_turn: int = PER_TURN) -> None:
        self._per_turn = per_turn
        self._started = 0  # requests let through in this turn
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def admit(self) -> None:
        """Return in a turn of the loop in which fewer than PER_TURN requests have started."""
        if self._started < self._per_turn and not self._waiting:
            self._start()
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        await turn  # cancelled (the client went): _next_turn skips it

    def _start(self) -> None:
        if self._started == 0:
            asyncio.get_running_loop().call_soon(self._next_turn)
        self._started += 1

    def _next_turn(self) -> None:
        self._started = 0
        while self._waiting and self._started < self._per_turn:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                self._start()

    def middleware(self):
        """The aiohttp middleware that paces the Socket.IO requests (REST is not paced)."""
        @web.middleware
        async def paced(request: web.Request, handler):
            if request.path.startswith(PATH):
                await self.admit()
            return await handler(request)

        return paced
