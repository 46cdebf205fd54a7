"""The IM client namespace `/` (PROTOCOL.md §3): the original crm-pc-im client and scripts.

    connect (token: auth {token}, ?token= or Bearer; resume: auth {resume} or ?resume=)
      -> every request of §3.1, validated (im/requests.py), answered from the engine (im/handlers.py)
      <- the broadcasts of one bus subscriber for all sockets (im/pushes.py), numbered `seq`

Whatever a client sends, it is answered and the server goes on serving everyone else: an
unknown event, a payload that does not fit its model, one over the size limit or over the
connection's rate gets the original's `error {message}` event (and, when the client asked
for an acknowledgement, `{success: false, error}`), a request the engine refuses the event's
own error answer where it has one. The count of connected clients is published on the bus
(ServerStatusChanged.im_clients), gathered so that a crowd connecting is one event; then the
connections' objects are frozen out of full garbage collections (heap.py).
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from pydantic import ValidationError
from socketio.exceptions import ConnectionRefusedError

from .auth import REFUSED
from .heap import HeapFreezer
from .im import requests as rq
from .im.handlers import Answer, ImRequests, Refused
from .im.limits import TokenBucket, too_big
from .im.pushes import NAMESPACE, PushHub

if TYPE_CHECKING:
    from .app import EmbeddedServer

log = logging.getLogger(__name__)

STATUS_GATHER_S = 0.2  # connected-clients count: one ServerStatusChanged per crowd


def install(server: EmbeddedServer) -> None:
    ImClients(server)


class ImClients:
    def __init__(self, server: EmbeddedServer) -> None:
        self._server = server
        self.hub = PushHub(server)
        self._requests = ImRequests(server.engine, self.hub)
        self._clients: dict[str, dict[str, Any]] = {}  # sid -> what it registered as
        self._buckets: dict[str, TokenBucket] = {}
        self._status_due: asyncio.TimerHandle | None = None
        self._resumes: set[asyncio.Task[None]] = set()
        self.heap = HeapFreezer()
        sio = server.sio
        sio.on("connect", self._connect, namespace=NAMESPACE)
        sio.on("disconnect", self._disconnect, namespace=NAMESPACE)
        sio.on("*", self._dispatch, namespace=NAMESPACE)
        server.on_stop(self._stop)
        server.im = self  # the benchmark and tests reach the hub through it

    async def _stop(self) -> None:
        if self._status_due is not None:
            self._status_due.cancel()
        await self.hub.stop()

    # ---- Connections

    async def _connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        if not self._server.admits(environ, auth):
            raise ConnectionRefusedError(REFUSED)
        self._clients[sid] = {}
        self._buckets[sid] = TokenBucket()
        self.heap.connected()
        self._count_changed()
        resume = _resume_from(environ, auth)
        if resume is not None:
            # A task, so that it runs after the handshake's answer: the client must be
            # connected to receive.
            task = asyncio.create_task(self._resume(sid, resume))
            self._resumes.add(task)
            task.add_done_callback(self._resumes.discard)

    async def _resume(self, sid: str, last_seq: int) -> None:
        try:
            await self.hub.resume(sid, last_seq)
        except Exception:
            log.exception("resuming IM client %s failed", sid)

    async def _disconnect(self, sid: str, *args: Any) -> None:
        if self._clients.pop(sid, None) is not None:
            self.heap.disconnected()
        self._buckets.pop(sid, None)
        self._count_changed()

    def _count_changed(self) -> None:
        self._server.im_clients = len(self._clients)
        if self._status_due is None:
            self._status_due = asyncio.get_running_loop().call_later(STATUS_GATHER_S, self._publish_count)

    def _publish_count(self) -> None:
        self._status_due = None
        if self._server.running:  # after stop, the switch has said so: no stale "running" behind it
            self._server.engine.bus.publish(self._server.status())
            self.heap.settle(len(self._clients))

    # ---- Requests

    async def _dispatch(self, event: str, sid: str, *args: Any) -> Any:
        """Every event of the namespace: checked, then handed to its handler."""
        sio = self._server.sio

        async def to_sender(name: str, data: dict[str, Any]) -> None:
            await sio.emit(name, data, to=sid, namespace=NAMESPACE)

        async def refuse(message: str, answer: tuple[str, dict[str, Any]] | None = None) -> dict[str, Any]:
            if answer is not None:
                await to_sender(*answer)
            await to_sender("error", {"message": message, "event": event})
            return {"success": False, "error": message}

        bucket = self._buckets.get(sid)
        if bucket is None:  # a request racing its own disconnect
            return None
        if not bucket.allow():
            return await refuse("too many requests: slow down")
        entry = self._requests.table.get(event)
        if entry is None:
            return await refuse(f"unknown event {str(event)[:64]!r}")
        if too_big(args):
            return await refuse("request too large")
        model, handler = entry
        payload = args[0] if args else {}
        if payload is None or payload == "":
            payload = {}
        try:
            request = model.model_validate(payload)
        except ValidationError as exc:
            return await refuse(f"invalid {event}: {rq.describe(exc)}")
        async def enter(room: str) -> None:
            await sio.enter_room(sid, room, namespace=NAMESPACE)

        answer = Answer(to_sender, self.hub.broadcast, self._clients.get(sid, {}), enter)
        try:
            await handler(request, answer)
        except Refused as exc:
            return await refuse(str(exc), exc.answer)
        except Exception:
            log.exception("IM request %s failed", event)
            return await refuse(f"{event} failed on the server")
        return {"success": True}


def _resume_from(environ: dict, auth: Any) -> int | None:
    """The last `seq` a reconnecting client saw (auth {resume} or ?resume=), if it says."""
    value: Any = auth.get("resume") if isinstance(auth, dict) else None
    if value is None:
        query = parse_qs(environ.get("QUERY_STRING", "") or "")
        value = query.get("resume", [None])[0]
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
