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
import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

# The advisory locks' first key (the second is the instance's): HisCRM's locks apart from any
# other application's on the same database.
LOCK_NAMESPACE = 0x48434D  # "HCM"
SWEEP_S = 30.0  # how often a shared database's engine requeues the replies of a dead one

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
        if self.shared and self._connection is None:
            await asyncio.to_thread(self._lock)

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

    def _lock(self) -> None:
        connection = self._db.engine.connect()
        # Never back to the pool: closing it must end the session, and with it the lock.
        connection.detach()
        connection.execute(text("SELECT pg_advisory_lock(:namespace, :key)"),
                           {"namespace": LOCK_NAMESPACE, "key": lock_key(self.instance_id)})
        connection.commit()
        self._connection = connection
