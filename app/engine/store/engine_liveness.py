"""Which engines on this database are alive: so one never takes another's send for a crash.

A reply is `sending` while an engine has it at the platform; the engine that took it is named
on the row (`Reply.sending_by`). When HisCRM starts, and every `SWEEP_S` on a shared database,
the outbox puts back in the queue the `sending` replies whose engine is gone (a crash). With
two `hiscrm serve` processes on one PostgreSQL database (two homes, maybe two machines) the
other one's replies are not leftovers: the other process is sending them right now, and
requeueing them could send them twice (the look on the platform misses a copy the platform
has not stored yet).

Alive is what the database itself says, so it cannot go stale: on PostgreSQL each engine
holds a session-level advisory lock (keyed by its instance id) on a connection of its own for
its whole life; the server releases it when that connection ends, also when the process is
killed or its machine is lost. Any engine reads the held locks from `pg_locks`.

SQLite is one process per database: the home lock (home_lock.py) keeps a second process off a
home, and its database file is not meant to be shared by two homes (SQLite over a network
share is not safe anyway; teams share PostgreSQL). So on SQLite only this engine is alive,
and everything another left `sending` is a crash's.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import bindparam, exc, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

# The advisory locks' first key (the second is the instance's): HisCRM's locks apart from any
# other application's on the same database.
LOCK_NAMESPACE = 0x48434D  # "HCM"
SWEEP_S = 30.0  # how often a shared database's engine requeues the replies of a dead one

_LOCK = text("SELECT pg_try_advisory_lock(:namespace, :key)")
_HELD = text(
    "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2"
    " AND classid = :namespace AND objid::bigint IN :keys"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
).bindparams(bindparam("keys", expanding=True))


def lock_key(instance_id: str) -> int:
    """The advisory lock's second key: 28 bits of the instance id (a positive int4)."""
    return int(instance_id.replace("-", "")[:7], 16)


class EngineLiveness:
    """This engine's mark of life on the database (`hold` at start, `release` at stop) and
    the question which engines are alive (`alive`, inside a transaction)."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self.instance_id = str(uuid.uuid4())
        self.shared = db.dialect == "postgresql"  # other processes may be sending too
        self._connection: Connection | None = None

    async def hold(self) -> None:
        """Take the mark, or make sure it is still held: called at start and at every sweep,
        so a connection the server lost (restarted, a network cut) is replaced within a sweep.
        (Until then the others take this engine for gone: a reply it sends in that window
        may be requeued by another; the look on the platform is then the only guard.)"""
        if self.shared:
            await asyncio.to_thread(self._keep)

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await asyncio.to_thread(connection.close)  # ends the session: the lock goes with it

    def alive(self, session: Session, instance_ids: Collection[str]) -> set[str]:
        """The engines among `instance_ids` that are running now."""
        ids = set(instance_ids)
        if not self.shared:
            return ids & {self.instance_id}
        if not ids:
            return set()
        keys = {lock_key(i): i for i in ids}
        held = session.execute(_HELD, {"namespace": LOCK_NAMESPACE, "keys": list(keys)}).scalars()
        return {keys[k] for k in held}

    def _keep(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                self._connection.commit()
                return
            except exc.DBAPIError:
                log.warning("the connection that marks this engine alive was lost; taking a new one")
                self._connection.invalidate()
                self._connection = None
        connection = self._db.engine.connect()
        # Never back to the pool: closing it must end the session, and with it the lock.
        connection.detach()
        # An id whose 28 bits another live engine has (a chance in millions) is drawn again.
        while not connection.execute(_LOCK, {"namespace": LOCK_NAMESPACE,
                                             "key": lock_key(self.instance_id)}).scalar():
            self.instance_id = str(uuid.uuid4())
        connection.commit()
        self._connection = connection
