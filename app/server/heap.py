"""HeapFreezer: connected clients' objects left out of Python's full garbage collections.

Each connection is ~150 objects that live as long as it does (its request, transport, tasks,
queues, session). A full collection walks every tracked object while holding the GIL: with
5,000 IM clients that is 550 ms of CPU on the event loop, every time one comes (and bursts of
broadcasts make them come every few seconds). The console freezes what exists after start-up
once (bootstrap.freeze_long_lived_objects); a server does the same after each wave of
connections: gc.freeze() moves the objects of the connections made so far out of the
collector's sight.

Frozen objects are still freed by reference counting, but garbage in reference cycles among
them is not: when as many clients have left since the last freeze as REFRESH_SHARE of those
then frozen (at least STEP), the heap is unfrozen, collected once and frozen again. That one
collection is the stall the freezing avoids, paid once per turnover of the clients instead of
every few seconds.
"""
from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

STEP = 200  # new connections since the last freeze that make the next one
REFRESH_SHARE = 0.5  # of the connections at the last freeze: gone since, and cycles among them are collected


class HeapFreezer:
    def __init__(self, step: int = STEP) -> None:
        self._step = step
        self._frozen_clients = 0  # connected when the heap was last frozen
        self._new = 0  # connections since
        self._gone = 0  # disconnections since

    def connected(self) -> None:
        self._new += 1

    def disconnected(self) -> None:
        self._gone += 1

    def settle(self, clients: int) -> None:
        """Called when the count of clients has settled (a wave of connections is over)."""
        if self._gone >= max(self._step, REFRESH_SHARE * self._frozen_clients):
            gc.unfreeze()
            gc.collect()
            self._freeze(clients)
        elif self._new >= self._step:
            gc.collect(1)  # the young garbage first: frozen, it would stay
            self._freeze(clients)

    def _freeze(self, clients: int) -> None:
        gc.freeze()
        self._frozen_clients, self._new, self._gone = clients, 0, 0
        log.debug("heap frozen with %d clients (%d objects)", clients, gc.get_freeze_count())
