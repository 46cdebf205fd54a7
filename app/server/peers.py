"""Peers: the other `hiscrm serve` processes on the same Redis, for what only one of them knows.

python-socketio's Redis manager shares the IM clients' broadcasts; it has no room for the
servers' own business. Two things are known only to the process a remote worker is connected
to: the worker itself (state, the accounts it holds now) and the login sessions it runs. So
each server tells the others about its workers as they change (`tell`), and a server asked
for something it cannot do itself (an /admin login of an account whose worker is attached
elsewhere) asks the others (`ask`): the one that can answers, the rest stay silent.

Messages go on their own Redis channel beside the manager's, as JSON objects
`{from, kind, body[, ask][, to]}`; a server ignores its own. Without a Redis URL (one server)
`tell` does nothing and `ask` answers None at once. A message that cannot be sent or read is
logged, never raised: the server keeps serving its own clients.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

CHANNEL = "hiscrm:peers"
ASK_TIMEOUT_S = 3.0
STOP_DRAIN_S = 1.0

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]


class Peers:
    def __init__(self, redis_url: str, channel: str = CHANNEL) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self.id = uuid.uuid4().hex
        self._handlers: dict[str, Handler] = {}
        self._asked: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._redis: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def shared(self) -> bool:
        return bool(self.redis_url)

    def on(self, kind: str, handler: Handler) -> None:
        """`handler(body)` answers an `ask` of this kind (None: not this server's to answer)
        or hears a `tell` (its answer is dropped)."""
        self._handlers[kind] = handler

    def tell(self, kind: str, body: dict[str, Any]) -> None:
        """Tell the other servers, in order, without waiting."""
        if self._redis is not None:
            self._outgoing.put_nowait({"from": self.id, "kind": kind, "body": body})

    async def ask(self, kind: str, body: dict[str, Any], timeout: float = ASK_TIMEOUT_S) -> dict[str, Any] | None:
        """The first answer of another server, or None when none answers in time."""
        if self._redis is None:
            return None
        ask_id = uuid.uuid4().hex
        answer = self._asked[ask_id] = asyncio.get_running_loop().create_future()
        try:
            self._outgoing.put_nowait({"from": self.id, "kind": kind, "body": body, "ask": ask_id})
            async with asyncio.timeout(timeout):
                return await answer
        except TimeoutError:
            return None
        finally:
            self._asked.pop(ask_id, None)

    async def start(self) -> None:
        if not self.shared:
            return
        import redis.asyncio as redis

        client = redis.Redis.from_url(self.redis_url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
        except Exception:  # the manager says so too; this server still serves its own clients
            log.warning("cannot reach the other servers through %s", self.redis_url, exc_info=True)
            await client.aclose()
            return
        self._redis = client
        self._tasks = [asyncio.create_task(self._listen(pubsub), name="peers-listen"),
                       asyncio.create_task(self._send_forever(), name="peers-send")]

    async def stop(self) -> None:
        """What is still to be told is sent first (a stopping server's workers going offline),
        for at most STOP_DRAIN_S."""
        if self._redis is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_DRAIN_S):
                    await self._outgoing.join()
        for task in self._tasks:
            task.cancel()
        # A command cancelled half-way may wait on its connection for good: not the server's stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_DRAIN_S):
                await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._redis is not None:
            redis_client, self._redis = self._redis, None
            await _closed(redis_client)

    async def _send_forever(self) -> None:
        while True:
            message = await self._outgoing.get()
            try:
                await self._redis.publish(self.channel, json.dumps(message, separators=(",", ":")))
            except Exception:
                log.warning("could not tell the other servers %s", message.get("kind"), exc_info=True)
            finally:
                self._outgoing.task_done()

    async def _listen(self, pubsub: Any) -> None:
        while True:
            try:
                async for item in pubsub.listen():
                    await self._heard(item.get("data"))
            except asyncio.CancelledError:
                await _closed(pubsub)
                raise
            except Exception:
                log.warning("listening to the other servers failed; listening again", exc_info=True)
                await asyncio.sleep(1.0)

    async def _heard(self, data: Any) -> None:
        try:
            message = json.loads(data)
            sender, kind, body = message["from"], message["kind"], message["body"]
        except (TypeError, ValueError, KeyError):
            log.warning("a message on %s that is not a peer's: ignored", self.channel)
            return
        if sender == self.id:
            return
        if kind == "answer":
            future = self._asked.get(message.get("ask") or "")
            if message.get("to") == self.id and future is not None and not future.done():
                future.set_result(body)
            return
        handler = self._handlers.get(kind)
        if handler is None:
            return
        try:
            answer = await handler(body)
        except Exception:
            log.exception("answering the other server's %s failed", kind)
            return
        if answer is not None and message.get("ask"):
            self._outgoing.put_nowait({"from": self.id, "kind": "answer", "body": answer,
                                       "ask": message["ask"], "to": sender})


async def _closed(connection: Any) -> None:
    """Close a Redis client or subscription, giving up after STOP_DRAIN_S (a connection
    cut mid-command may never answer): the server is stopping either way."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(STOP_DRAIN_S):
            await connection.aclose()
