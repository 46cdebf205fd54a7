"""Many IM clients (app/server/fanout.py, im/pushes.py, heap.py): lists only to the clients
that asked for them, no per-socket deflate, a client that stops reading neither stalls nor
bloats the others (superseded lists are dropped from its queue; past a bound it is cut off
and resumes from the ring), and the connections' objects out of full garbage collections."""
from __future__ import annotations

import asyncio
import gc
import json
import socket
import time
import weakref

import aiohttp
import pytest

from app.server import fanout, websocket
from app.server.heap import HeapFreezer

from .conftest import until
from .test_im_clients import comment, listen

pytestmark = pytest.mark.timeout(90)


async def test_the_websocket_is_not_deflated_per_socket(served):
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{served.server.url}/socket.io/?EIO=4&transport=websocket&token={served.token}",
                                      compress=15) as ws:
            assert ws.compress == 0  # offered permessage-deflate, answered without it
            opened = await ws.receive_str()
            assert opened.startswith("0{")


async def test_lists_go_to_the_clients_that_asked_for_them_and_hints_to_everyone(served):
    asker, script = await served.client(), await served.client()
    a = await served.account("店铺 A")
    await listen(asker, a)
    start = asker.mark(), script.mark()

    await served.feed(a, comments=[comment("c1", "v1", "还有吗", 0.1)])
    await asker.next("monitor:topics", lambda d: d["channelId"] == a and d["topics"], after=start[0])
    assert (await script.next("monitor:new_message_hint", after=start[1]))["topicId"] == "v1"
    await asker.next("monitor:channels", lambda d: d["channels"][0]["unreadCount"] == 1, after=start[0])
    # a later broadcast to both: whatever was sent to the script before it has arrived too
    await served.server.im.hub.broadcast("channel:status_update", {"channel": {"id": a}})
    await script.next("channel:status_update", after=start[1])
    assert not script.of("monitor:topics") and not script.of("monitor:channels")

    # asking for the topics (as the original client does after a hint) brings their pushes
    await listen(script, a)
    mark = script.mark()
    await served.feed(a, comments=[comment("c2", "v1", "在吗", 0.1)])
    pushed = await script.next("monitor:topics", lambda d: "seq" in d, after=mark)
    assert pushed["topics"][0]["unreadCount"] == 2


async def test_a_hint_is_made_from_the_event_s_rows_without_a_query_per_topic(served):
    """5,000 clients wait on hints: the hub counts them from the rows MessagesAdded carries,
    not from a page of each topic read back (a query per topic per burst, on the loop)."""
    script = await served.client()
    a = await served.account("店铺 A")
    views = served.server.engine.views
    asked: list[str] = []
    for name in ("topic", "messages"):
        real = getattr(views, name)

        async def counted(*args, _real=real, _name=name, **kwargs):
            asked.append(_name)
            return await _real(*args, **kwargs)

        setattr(views, name, counted)
    mark = script.mark()
    await served.feed(a, comments=[comment("c1", "v1", "还有吗", 0.1), comment("c2", "v2", "在吗", 0.1),
                                   comment("c3", "v1", "多少钱", 0.1)])
    hints = [await script.next("monitor:new_message_hint", lambda d: d["topicId"] == v, after=mark)
             for v in ("v1", "v2")]
    assert [h["commentCount"] for h in hints] == [2, 1]
    assert hints[0]["totalUnreadCount"] == 3
    assert asked == []


async def test_a_broadcast_writes_to_a_slice_of_the_sockets_per_turn_of_the_loop(served, monkeypatch):
    """Each socket's writer costs the loop ~0.1 ms to wake and write; a slice's writers run
    together in the next turn of the loop. A heartbeat task beats between slices: no turn
    writes the broadcast to more than FANOUT_SLICE sockets."""
    monkeypatch.setattr(fanout, "FANOUT_SLICE", 3)
    clients = [await served.client() for _ in range(10)]
    order: list[str] = []
    send = websocket.CycleFreeWebSocket.send

    async def counted(self, message):
        if "the-broadcast" in str(message):
            order.append("send")
        await send(self, message)

    monkeypatch.setattr(websocket.CycleFreeWebSocket, "send", counted)

    async def heartbeat() -> None:
        while True:
            order.append("beat")
            await asyncio.sleep(0)

    beating = asyncio.create_task(heartbeat())
    try:
        await served.server.im.hub.broadcast("channel:status_update", {"channel": {"id": "the-broadcast"}})
        await until(lambda: order.count("send") == 10, "the broadcast written to every socket")
    finally:
        beating.cancel()
    for client in clients:
        await client.next("channel:status_update")
    runs = "".join("s" if o == "send" else "|" for o in order).split("|")
    assert max(len(run) for run in runs) <= 3
    assert sum(1 for run in runs if run) >= 4  # 10 sockets: at least 4 turns wrote


def test_a_client_that_leaves_is_taken_out_of_its_rooms_without_a_look_into_every_client_s():
    """python-socketio looks into every room for a departing client's: with a room per client,
    O(clients) a disconnect, O(clients²) for a crowd leaving (0.1-0.3 s in one turn of the
    loop for 2,000). The manager looks into the shared rooms only."""
    manager = fanout.FanOut()
    for i in range(1000):
        manager.basic_enter_room(f"s{i}", "/", None, eio_sid=f"e{i}")
        manager.basic_enter_room(f"s{i}", "/", f"s{i}", eio_sid=f"e{i}")
    for sid in ("s1", "s2"):
        manager.basic_enter_room(sid, "/", "lists:channels")
    manager.basic_enter_room("s1", "/", "lists:topics:a")
    rooms = manager.rooms["/"]

    class NotLookedInto(type(rooms["s3"])):  # python-socketio's bidict
        def __contains__(self, sid):
            raise AssertionError("another client's own room looked into")

    for i in range(3, 1000):
        rooms[f"s{i}"] = NotLookedInto(rooms[f"s{i}"])

    manager.basic_disconnect("s1", "/")
    assert "s1" not in rooms[None] and "s1" not in rooms and "lists:topics:a" not in rooms
    assert dict(rooms["lists:channels"]) == {"s2": "e2"}
    manager.basic_disconnect("s2", "/")
    assert "lists:channels" not in rooms and len(rooms[None]) == 998


class Stalled:
    """A raw Socket.IO client on a tiny receive buffer that stops reading after it connected."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session, self.ws = session, ws

    @classmethod
    async def connect(cls, served) -> "Stalled":
        def small_socket(addr_info):
            family, kind, proto, _, _ = addr_info
            s = socket.socket(family, kind, proto)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            return s

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(socket_factory=small_socket))
        ws = await session.ws_connect(f"{served.server.url}/socket.io/?EIO=4&transport=websocket"
                                      f"&token={served.token}", max_msg_size=0)
        assert (await ws.receive_str()).startswith("0")
        await ws.send_str("40")
        assert (await ws.receive_str()).startswith("40")
        return cls(session, ws)

    async def read_all(self) -> list[tuple[str, dict]]:
        """Read again: every event still coming, until a quiet moment."""
        events = []
        while True:
            try:
                message = await self.ws.receive(timeout=2)
            except TimeoutError:
                return events
            if message.type != aiohttp.WSMsgType.TEXT:
                return events
            if message.data.startswith("42"):
                name, data = json.loads(message.data[2:])
                events.append((name, data))

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


def queue_of(served):
    return [s.queue for s in served.server.sio.eio.sockets.values()]


async def test_a_client_that_stops_reading_gets_only_the_newest_list_and_memory_stays_flat(served):
    reader = await served.client()
    stalled = await Stalled.connect(served)
    try:
        hub = served.server.im.hub
        filler = [{"id": f"t{i}", "title": "作品" * 40} for i in range(300)]  # ~50 kB a list
        worst = 0
        for i in range(150):  # 7.5 MB of lists: far more than the stalled socket's buffers hold
            await hub.broadcast("monitor:topics", {"channelId": "acc-1", "topics": filler, "n": i})
            worst = max(worst, *(q.bytes for q in queue_of(served)))
        await until(lambda: any(d.get("n") == 149 for d in reader.of("monitor:topics")), "the newest list read")
        assert worst < 200_000  # one waiting list per socket, not 150

        got = [d["n"] for name, d in await stalled.read_all() if name == "monitor:topics"]
        assert got[-1] == 149 and len(got) < 150  # the newest, superseded ones dropped
    finally:
        await stalled.close()


async def test_a_client_that_stops_reading_is_cut_off_and_the_others_are_not_held_up(served, monkeypatch):
    monkeypatch.setattr(fanout, "MAX_QUEUED_BYTES", 1_000_000)
    reader = await served.client()
    stalled = await Stalled.connect(served)
    try:
        hub = served.server.im.hub
        padding = "x" * 50_000  # 50 kB hints: each one is kept, none replaces another
        t0 = time.perf_counter()
        for i in range(300):  # 15 MB, a burst every 10 ms
            await hub.broadcast("monitor:new_message_hint", {"topicId": f"v{i}", "padding": padding})
            assert max(q.bytes for q in queue_of(served)) <= fanout.MAX_QUEUED_BYTES + 100_000
            await asyncio.sleep(0.01)
        await until(lambda: len(reader.of("monitor:new_message_hint")) == 300, "every hint read", timeout=30)
        assert time.perf_counter() - t0 < 30
        await until(lambda: served.server.im_clients == 1, "the stalled client disconnected")
        assert reader.sio.connected
    finally:
        await stalled.close()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


async def test_connections_are_frozen_out_of_full_collections_and_their_cycles_collected_once_they_left(served):
    served.server.im.heap = HeapFreezer(step=3, refresh_gone=3)
    before = gc.get_freeze_count()
    kept = _Cycle()  # stands for a connection's objects in a reference cycle
    ref = weakref.ref(kept)
    clients = [await served.client() for _ in range(3)]
    await until(lambda: gc.get_freeze_count() > before, "the heap frozen after the wave of connections")
    del kept  # garbage now, but frozen: a full collection does not walk it
    gc.collect()
    assert ref() is not None

    for client in clients:
        await client.sio.disconnect()
    await until(lambda: ref() is None, "the cycles of the clients that left collected")
    assert gc.get_freeze_count() > 0  # and the heap frozen again



def test_the_heap_is_collected_once_many_clients_have_left_not_at_every_turnover():
    """A full collection walks the whole heap (100-800 ms): what departed clients leave in
    cycles (~0.5 kB each since websocket.py) waits for refresh_gone of them."""
    heap = HeapFreezer(step=2, refresh_gone=4)
    kept = _Cycle()
    ref = weakref.ref(kept)
    heap.connected()
    heap.connected()
    heap.settle(2)  # frozen with the wave
    del kept
    for _ in range(3):
        heap.disconnected()
    heap.settle(0)
    gc.collect()
    assert ref() is not None  # three gone: the heap stays frozen
    heap.disconnected()
    heap.settle(0)
    assert ref() is None  # the fourth: unfrozen, collected, frozen again
    assert gc.get_freeze_count() > 0


async def _leaving_gracefully(served):
    client = await served.client()
    return client.sio.disconnect


async def _dropping_the_connection(served):
    """As a client whose process died: its TCP connection ends without a goodbye."""
    stalled = await Stalled.connect(served)

    async def drop() -> None:
        stalled.ws._response.connection.transport.abort()
        await stalled.session.close()

    return drop


@pytest.mark.parametrize("connect", [_leaving_gracefully, _dropping_the_connection])
async def test_a_client_that_left_is_freed_at_once_not_by_a_full_collection(served, connect):
    """Connections are frozen out of full collections (heap.py): what a departed client leaves
    in reference cycles stays until the whole heap is collected, ~800 ms for 5,000 clients.
    Its WebSocket, request and tasks are freed by reference counting (websocket.py)."""
    gc.collect()
    gc.disable()
    try:
        before = {id(o) for o in gc.get_objects() if isinstance(o, aiohttp.web.WebSocketResponse)}
        leave = await connect(served)
        await until(lambda: served.server.im_clients == 1, "the client connected")
        ws = [weakref.ref(o) for o in gc.get_objects()
              if isinstance(o, aiohttp.web.WebSocketResponse) and id(o) not in before]
        assert len(ws) == 1
        await leave()
        await until(lambda: served.server.im_clients == 0, "the client gone")
        await until(lambda: ws[0]() is None, "its WebSocket freed without a collection")
    finally:
        gc.enable()
