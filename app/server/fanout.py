"""How one broadcast reaches thousands of sockets without stalling the loop or growing memory.

python-socketio's own fan-out encodes a broadcast once but then starts one task per socket at
once (5,000 tasks: a stall of a second), every socket's outgoing queue grows without bound
while its client does not read, and aiohttp deflates every message separately for every
socket that negotiated permessage-deflate (browsers and node's client all do), keeping a
268 kB zlib compressor per socket: 1.3 GB for 5,000 clients, and each list compressed
5,000 times. Here instead:

- `FanOut` (the client manager): the packet is encoded once and the same object is put on
  every socket's queue, in slices of FANOUT_SLICE sockets with the loop free between them
  (a turn of the loop then writes to one slice of sockets).
- `SocketQueue` (each socket's outgoing queue): a list broadcast (`list_key`) replaces the
  same list still waiting in the queue, so a slow client gets the newest list once instead of
  every superseded one; a client that stops reading altogether is cut off when its queue
  holds more than MAX_QUEUED_BYTES (it reconnects and resumes from the hub's ring).
- `_SharedRooms` (both managers): python-socketio finds the rooms of a client that leaves by
  looking into every room of the namespace, and every client has a room of its own (its sid):
  O(clients) for each disconnect, 0.1-0.3 s of the loop in one turn when 2,000 clients leave
  together. Here only the rooms clients share (a few: the lists' rooms) are looked into.
- `no_deflate`: the WebSocket handshake is answered without permessage-deflate.
- `WirePacket`: python-socketio looks for binary attachments by walking every value of a
  payload in Python before it encodes it (10 ms for a list of 500 topics, more than the
  query); the JSON encoder finds them for free, failing on bytes.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import socketio
from aiohttp import web
from engineio import packet as eio_packet
from socketio import packet as sio_packet

log = logging.getLogger(__name__)

# Sockets served between two yields to the loop. Putting the packet on a queue is cheap, but
# it wakes the socket's writer (engine.io's: a task, a wait_for, a write), ~0.1 ms of the
# loop's CPU each, and a slice's writers all run in the next turn: 40 sockets, ~5 ms a turn
# (250 made turns of 30-45 ms, bench/server.py's slowest loop turns).
FANOUT_SLICE = 40
MAX_QUEUED_BYTES = 4_000_000  # a socket's unsent packets; more: its client is not reading

_LIST_EVENTS = frozenset({"monitor:channels", "monitor:topics", "monitor:sending_queue"})


def list_key(event: str, data: Any) -> tuple | None:
    """Which list a broadcast is, if it is one: a later broadcast with the same key replaces it
    entirely (the channel list, one channel's topics, one topic's sending queue)."""
    if event not in _LIST_EVENTS or not isinstance(data, dict):
        return None
    if event == "monitor:channels":
        return (event,)
    if event == "monitor:topics":
        return (event, data.get("channelId"))
    return (event, data.get("channelId"), data.get("topicId"))


class WirePacket(sio_packet.Packet):
    """A Socket.IO packet whose payload is JSON-encoded once, when it is made: a payload the
    encoder refuses (bytes in it) is left to python-socketio's binary attachments."""

    def __init__(self, packet_type=sio_packet.EVENT, data=None, namespace=None, id=None, binary=None,
                 encoded_packet=None):
        self._text: str | None = None
        if binary is None and data is not None and encoded_packet is None:
            try:
                self._text = self.json.dumps(data, separators=(",", ":"))
                binary = False
            except TypeError:
                pass
        super().__init__(packet_type, data, namespace, id, binary, encoded_packet)

    def encode(self):
        if self._text is None:
            return super().encode()
        head = str(self.packet_type)
        if self.namespace is not None and self.namespace != "/":
            head += self.namespace + ","
        if self.id is not None:
            head += str(self.id)
        return head + self._text


class ListPacket(eio_packet.Packet):
    """An Engine.IO message that is a list broadcast: a queue drops it for a newer one."""

    def __init__(self, data: Any, key: tuple) -> None:
        super().__init__(eio_packet.MESSAGE, data)
        self.key = key


def _size(pkt: Any) -> int:
    data = getattr(pkt, "data", None)
    return len(data) if isinstance(data, (str, bytes)) else 16


class SocketQueue(asyncio.Queue):
    """A socket's outgoing packets (engine.io's writer takes them all at once when it can
    write). Counts its bytes; a ListPacket replaces the queued one of the same list."""

    def _init(self, maxsize: int) -> None:
        self._queue: deque = deque()
        self.bytes = 0
        self.cut = False  # its client stopped reading: nothing more is queued

    # asyncio.Queue counts unfinished items itself (put() adds one after _put): an item this
    # queue drops is uncounted here, or join() would wait for it forever.

    def _put(self, item: Any) -> None:
        if self.cut and item is not None:
            self._unfinished_tasks -= 1
            return
        key = getattr(item, "key", None)
        if key is not None:
            for i, queued in enumerate(self._queue):
                if getattr(queued, "key", None) == key:
                    del self._queue[i]
                    self.bytes -= _size(queued)
                    self._unfinished_tasks -= 1
                    break
        self._queue.append(item)
        self.bytes += _size(item)

    def _get(self) -> Any:
        item = self._queue.popleft()
        self.bytes -= _size(item)
        return item

    def cut_off(self) -> None:
        """Drop everything queued; the writer ends when it next takes from the queue."""
        self.cut = True
        while self._queue:
            self._get()
            self.task_done()
        self.put_nowait(None)

    @property
    def overfull(self) -> bool:
        return self.bytes > MAX_QUEUED_BYTES


class _FanOutMixin:
    """The local fan-out of a broadcast (no acknowledgement asked): see the module's text."""

    server: Any

    async def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        room = to or room
        if callback is not None or namespace not in self.rooms:
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid,  # type: ignore[misc]
                                      callback=callback, **kwargs)
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        encoded = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args]).encode()
        if isinstance(encoded, list):  # binary attachments: python-socketio's own way
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid,  # type: ignore[misc]
                                      callback=None, **kwargs)
        # A list sent to one socket (a request's answer) is never replaced: only broadcasts.
        to_one = isinstance(room, str) and room in self.rooms[namespace].get(None, ())  # a sid, even connecting
        key = None if to_one else list_key(event, args[0] if args else None)
        pkt = ListPacket(encoded, key) if key is not None else eio_packet.Packet(eio_packet.MESSAGE, encoded)
        eio = self.server.eio
        recipients = [eio_sid for sid, eio_sid in self.get_participants(namespace, room)  # type: ignore[attr-defined]
                      if sid not in skip]
        for start in range(0, len(recipients), FANOUT_SLICE):
            if start or not to_one:
                await asyncio.sleep(0)  # the writers run between broadcasts too: queues drain as they fill
            for eio_sid in recipients[start:start + FANOUT_SLICE]:
                socket = eio.sockets.get(eio_sid)
                if socket is None or socket.closed or socket.closing:
                    continue
                try:
                    await socket.send(pkt)
                except Exception:  # a socket closing under us: the others still get it
                    continue
                queue = socket.queue
                if isinstance(queue, SocketQueue) and queue.overfull:
                    self._cut(socket)

    def _cut(self, socket: Any) -> None:
        log.warning("client %s stopped reading (%d bytes unsent): disconnected", socket.sid, socket.queue.bytes)
        socket.queue.cut_off()
        task = asyncio.create_task(socket.close(wait=False, abort=True))
        _closing.add(task)
        task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task] = set()


class _SharedRooms:
    """The client manager's disconnect without a look into every client's own room (see the
    module's text). basic_disconnect is python-socketio's (5.18), but for where it looks."""

    rooms: dict
    callbacks: dict
    pending_connect: dict
    pending_disconnect: dict

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shared: dict[str, set] = {}  # namespace -> the rooms entered by name

    def basic_enter_room(self, sid, namespace, room, eio_sid=None):
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)  # type: ignore[misc]
        if room is not None and room != sid:
            self._shared.setdefault(namespace, set()).add(room)

    def basic_disconnect(self, sid, namespace, **kwargs):
        rooms = self.rooms.get(namespace)
        if rooms is None:
            return
        shared = self._shared.setdefault(namespace, set())
        shared.difference_update([r for r in shared if r not in rooms])  # emptied since
        for room in [*(r for r in shared if sid in rooms[r]), sid, None]:
            self.basic_leave_room(sid, namespace, room)  # type: ignore[attr-defined]
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            if sid in pending.get(namespace, ()):
                pending[namespace].remove(sid)
                if not pending[namespace]:
                    del pending[namespace]


class FanOut(_SharedRooms, _FanOutMixin, socketio.AsyncManager):
    pass


class _LocalFanOut(_FanOutMixin, socketio.AsyncManager):
    """A server's own sockets, as FanOut serves them."""


class RedisFanOut(_SharedRooms, socketio.AsyncRedisManager, _LocalFanOut):
    """Through Redis to every server; each server's own sockets as FanOut does: the pub/sub
    manager's local delivery calls the next emit in line after it, which this order makes
    the mixin's (AsyncRedisManager, AsyncPubSubManager, _LocalFanOut, _FanOutMixin,
    AsyncManager; with the mixin after AsyncManager, python-socketio's own fan-out ran)."""


def manager(redis_url: str) -> socketio.AsyncManager:
    return RedisFanOut(redis_url) if redis_url else FanOut()


class QueueingEngine:
    """What the Engine.IO server needs from us: SocketQueue as each socket's queue."""

    @staticmethod
    def create_queue(*args: Any, **kwargs: Any) -> SocketQueue:
        return SocketQueue(*args, **kwargs)


@web.middleware
async def no_deflate(request: web.Request, handler):
    """The Socket.IO WebSocket handshake without permessage-deflate (see the module's text):
    the client then sends and receives uncompressed frames, as it does when a server offers none."""
    if request.headers.get("Sec-WebSocket-Extensions") and request.path.startswith("/socket.io"):
        headers = request.headers.copy()
        del headers["Sec-WebSocket-Extensions"]
        request = request.clone(headers=headers)
    return await handler(request)
