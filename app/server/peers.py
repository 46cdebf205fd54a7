"""Peers: the other `hiscrm serve` processes on the same Redis, for what only one of them knows.

python-socketio's Redis manager shares the IM clients' broadcasts; it has no room for the
servers' own business. Some things are known only to the process a remote worker is connected
to: the worker itself (state, the accounts it holds now) and the login sessions it runs. So
each server tells the others what changed (`tell`: its workers' reports, an account moved),
and a server asked for something it cannot do itself (an /admin login of an account whose
worker is attached elsewhere) asks the others: `ask` takes the first server able to answer,
`ask_all` gathers what every server answers (each one's login sessions).

Messages go on their own Redis channel beside the manager's, as JSON objects
`{from, kind, body[, ask][, to]}`; a server ignores its own. Every server answers every ask,
with a null body when it has nothing to say, and PUBLISH says how many servers heard the
question: an ask ends as soon as all of them answered, not on a timeout. Without a Redis URL
(one server) `tell` does nothing and an ask answers at once (None, no answers). A message
that cannot be sent or read is logged, never raised: the server keeps serving its own clients.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

CHANNEL = "hiscrm:peers"
ASK_TIMEOUT_S = 3.0
STOP_DRAIN_S = 1.0

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]


@dataclass
class _Asking:
    """An ask waiting for the other servers' answers."""

    first: bool  # `ask`: done at the first answer that is not None
    answers: list[dict[str, Any] | None] = field(default_factory=list)
    expected: int | None = None  # how many other servers heard it (known once it is published)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def heard(self, answer: dict[str, Any] | None) -> None:
        self.answers.append(answer)
        self._check(found=answer is not None)

    def published(self, receivers: int) -> None:
        self.expected = receivers
        self._check(found=False)

    def _check(self, *, found: bool) -> None:
        if (self.first and found) or (self.expected is not None and len(self.answers) >= self.expected):
            self.done.set()


class Peers:
    def __init__(self, redis_url: str, channel: str = CHANNEL) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self.id = uuid.uuid4().hex
        self._handlers: dict[str, Handler] = {}
        self._asked: dict[str, _Asking] = {}
        # What to publish, in order, with the ask (if any) to tell how many servers heard it.
        self._outgoing: asyncio.Queue[tuple[dict[str, Any], _Asking | None]] = asyncio.Queue()
        self._redis: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def shared(self) -> bool:
        return bool(self.redis_url)

    def on(self, kind: str, handler: Handler) -> None:
        """`handler(body)` answers an ask of this kind (None: nothing to say) or hears a
        `tell` (its answer is dropped)."""
        self._handlers[kind] = handler

    def tell(self, kind: str, body: dict[str, Any]) -> None:
        """Tell the other servers, in order, without waiting."""
        if self._redis is not None:
            self._outgoing.put_nowait(({"from": self.id, "kind": kind, "body": body}, None))

    async def ask(self, kind: str, body: dict[str, Any], timeout: float = ASK_TIMEOUT_S) -> dict[str, Any] | None:
        """The first answer of another server that is not None; None when every server
        answered None, or none answered in time."""
        answers = await self._ask(kind, body, timeout, first=True)
        return next((a for a in answers if a is not None), None)

    async def ask_all(self, kind: str, body: dict[str, Any],
                      timeout: float = ASK_TIMEOUT_S) -> list[dict[str, Any]]:
        """Every other server's answer that is not None (those that answered in time)."""
        return [a for a in await self._ask(kind, body, timeout, first=False) if a is not None]

    async def _ask(self, kind: str, body: dict[str, Any], timeout: float, *,
                   first: bool) -> list[dict[str, Any] | None]:
        if self._redis is None:
            return []
        ask_id = uuid.uuid4().hex
        asking = self._asked[ask_id] = _Asking(first)
        try:
            self._outgoing.put_nowait(({"from": self.id, "kind": kind, "body": body, "ask": ask_id}, asking))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await asking.done.wait()
            return list(asking.answers)
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
            message, asking = await self._outgoing.get()
            receivers = 1  # this server's own subscription, when the publish fails
            try:
                receivers = await self._redis.publish(self.channel, json.dumps(message, separators=(",", ":")))
            except Exception:
                log.warning("could not tell the other servers %s", message.get("kind"), exc_info=True)
            finally:
                if asking is not None:
                    asking.published(max(0, receivers - 1))  # PUBLISH counts this server too
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
            asking = self._asked.get(message.get("ask") or "")
            if message.get("to") == self.id and asking is not None:
                asking.heard(body)
            return
        handler = self._handlers.get(kind)
        answer = None
        try:
            if handler is not None:
                answer = await handler(body)
        except Exception:
            log.exception("answering the other server's %s failed", kind)
        if message.get("ask"):  # answered even with nothing to say: the asker need not wait
            self._outgoing.put_nowait(({"from": self.id, "kind": "answer", "body": answer,
                                        "ask": message["ask"], "to": sender}, None))


async def _closed(connection: Any) -> None:
    """Close a Redis client or subscription, giving up after STOP_DRAIN_S (a connection
    cut mid-command may never answer): the server is stopping either way."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(STOP_DRAIN_S):
            await connection.aclose()
