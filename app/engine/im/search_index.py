"""Keeps SQLite's full-text index (FTS5, migration 0002) up with the stored messages.

FTS5 flushes its pending terms at the end of every statement, so indexing each new message
from an INSERT trigger (the DataStore writes a batch with one executemany, a statement per row)
would cost more than storing the message itself. Instead new rows are indexed in bulk, one
INSERT ... SELECT per table, shortly after each batch: `SearchIndexer` listens for
`MessagesAdded` and queues one catch-up pass on the database's writer thread, half a second
later (never more than one waiting). `search_index_state.indexed_upto` marks how far each
table is indexed; search reads the few rows above the mark directly, so it never misses a
message, indexed yet or not.

PostgreSQL needs none of this: its trigram GIN indexes are maintained by the server.
"""
from __future__ import annotations

import asyncio
import logging

from sqlalchemy import column, func, select, table, text, update
from sqlalchemy.orm import Session

from ..bus import EventBus
from ..events import MessagesAdded
from ..store.db import Database, DatabaseError
from .tables import BOTH

log = logging.getLogger(__name__)

PASS_ROWS = 20_000  # ids per table per pass: bounds how long one pass holds the writer
# New rows are gathered this long before a pass: during a flood one pass indexes many batches
# (FTS5 merges its segments per statement, so fewer, larger passes cost less in all), and a
# search never waits for it (it reads unindexed rows directly).
GATHER_S = 0.5
STATE = table("search_index_state", column("table_name"), column("indexed_upto"))


def indexed_upto(session: Session, table_name: str) -> int:
    """The highest row id of `table_name` already in its FTS index."""
    stmt = select(STATE.c.indexed_upto).where(STATE.c.table_name == table_name)
    return int(session.execute(stmt).scalar_one())


def index_new_rows(session: Session) -> bool:
    """Index the next rows of each message table (at most PASS_ROWS ids' worth); True when
    more remain for another pass."""
    more = False
    for t in BOTH:
        name = t.message.__tablename__
        start = indexed_upto(session, name)
        last = session.execute(select(func.max(t.message.id))).scalar() or 0
        if last <= start:
            continue
        stop = min(last, start + PASS_ROWS)
        session.execute(
            text(f"INSERT INTO {name}_fts(rowid, text) SELECT id, text FROM {name} WHERE id > :a AND id <= :b"),
            {"a": start, "b": stop},
        )
        session.execute(update(STATE).where(STATE.c.table_name == name).values(indexed_upto=stop))
        more = more or stop < last
    return more


class SearchIndexer:
    """Runs `index_new_rows` after new messages arrive (SQLite only)."""

    def __init__(self, db: Database, bus: EventBus) -> None:
        self._db = db
        self._queued: asyncio.Task[None] | None = None
        self._again = False
        if db.dialect == "sqlite":
            bus.subscribe(MessagesAdded, self._on_messages_added)

    async def catch_up(self) -> None:
        """Index everything stored so far (a pass at a time)."""
        if self._db.dialect != "sqlite":
            return
        while await self._db.write(index_new_rows):
            pass

    def _on_messages_added(self, event: MessagesAdded) -> None:
        if self._queued is not None and not self._queued.done():
            self._again = True  # the running pass may have started before these rows
            return
        self._queued = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            self._again = True
            while self._again:
                await asyncio.sleep(GATHER_S)
                self._again = False
                await self.catch_up()
        except DatabaseError:
            pass  # the database was closed (shutdown); the next batch catches up
        except Exception:
            log.exception("indexing new messages for search failed; search reads them unindexed")
