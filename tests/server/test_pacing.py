"""A crowd connecting at once (app/server/pacing.py): the handshakes start a few per turn of
the event loop, with everyone else's work running in between, and every one of them starts."""
from __future__ import annotations

import asyncio

from app.server.pacing import HandshakePacer

from .conftest import until


async def test_a_burst_of_handshakes_starts_a_few_per_turn_of_the_loop():
    pacer = HandshakePacer(per_turn=3)
    order: list[str] = []

    async def handshake(i: int) -> None:
        await pacer.admit()
        order.append(f"in{i}")

    async def heartbeat() -> None:
        while True:
            order.append("beat")
            await asyncio.sleep(0)

    beating = asyncio.create_task(heartbeat())
    crowd = [asyncio.create_task(handshake(i)) for i in range(30)]
    try:
        await asyncio.gather(*crowd)
    finally:
        beating.cancel()
    runs = "".join("b" if o == "beat" else "h" for o in order).split("b")
    assert max(len(run) for run in runs) <= 3
    assert sum(1 for run in runs if run) >= 10
    assert sorted(o for o in order if o != "beat") == sorted(f"in{i}" for i in range(30))
    assert [o for o in order if o != "beat"][:3] == ["in0", "in1", "in2"]  # in the order they came


async def test_a_handshake_given_up_while_waiting_does_not_hold_the_others():
    pacer = HandshakePacer(per_turn=1)
    await pacer.admit()
    waiting = [asyncio.create_task(pacer.admit()) for _ in range(3)]
    await asyncio.sleep(0)
    waiting[0].cancel()  # its client went away
    await until(lambda: all(t.done() for t in waiting[1:]), "the others let in")


async def test_a_crowd_of_clients_connecting_at_once_all_get_in(served):
    clients = await asyncio.gather(*(served.client() for _ in range(40)))
    await until(lambda: served.server.im_clients == 40, "every client connected")
    assert all(c.sio.connected for c in clients)
