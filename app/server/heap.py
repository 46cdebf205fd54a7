"""HeapFreezer: connected clients' objects left out of Python's full garbage collections.

Each connection is ~150 objects that live as long as it does (its request, transport, tasks,
queues, session). A full collection walks every tracked object while holding the GIL: with
5,000 IM clients that is 550 ms of CPU on the event loop, every time one comes (and bursts of
broadcasts make them come every few seconds). The console freezes what exists after start-up
once (bootstrap.freeze_long_lived_objects); a server does the same after each wave of
connections: gc.freeze() moves the objects of the connections made so far out of the
collector's sight.

Frozen objects are still freed by reference counting, but garbage in reference cycles among
them is not: it waits for a full collection over the whole heap (gc.unfreeze, gc.collect:
100-800 ms of CPU with the engine loaded, a stall of the loop and of the console's window).
A departed client used to leave ~83 objects in cycles; websocket.py frees those, and what
is left is ~0.5 kB a client (on Python 3.11: asyncio's selector transport keeps a bound
method of itself, `_write_ready`, CPython gh-106503, fixed in 3.12). So the heap is
unfrozen and collected once REFRESH_GONE clients have left since the last time (~10 MB
waiting by then), not after every turnover of the clients.
"""
from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

STEP = 200  # new connections since the last freeze that make the next one
REFRESH_GONE = 20_000  # clients gone since the last full collection that make the next one


class HeapFreezer:
    def __init__(self, step: int = STEP, refresh_gone: int = REFRESH_GONE) -> None:
        self._step = step
        self._refresh_gone = refresh_gone
        self._new = 0  # connections since the last freeze
        self._gone = 0  # disconnections since the last full collection

    def connected(self) -> None:
        self._new += 1

    def disconnected(self) -> None:
        self._gone += 1

    def settle(self, clients: int) -> None:
        """Called when the count of clients has settled (a wave of connections is over)."""
        if self._gone >= self._refresh_gone:
            gc.unfreeze()
            gc.collect()
            self._gone = 0
            self._freeze(clients)
        elif self._new >= self._step:
            gc.collect(1)  # the young garbage first: frozen, it would stay
            self._freeze(clients)

    def _freeze(self, clients: int) -> None:
        # (gc.get_freeze_count() walks every frozen object: 25-50 ms with thousands of clients)
        gc.freeze()
        self._new = 0
        log.debug("heap frozen with %d clients", clients)
