"""The search key, and SQLite's full-text index (FTS5, migrations 0002 and 0004) kept up with
the stored messages.

Search lists hits newest first by the *search key* (migration 0004): one integer per message
that sorts like its time and says which row it is, so it serves as the FTS5 rowid and as the
paging cursor, and both databases index it. `key_sql` is that expression; it must equal the
indexed one to the letter (the databases match index expressions by their text).

FTS5 flushes its pending terms at the end of every statement, so indexing each new message
from an INSERT trigger (the DataStore writes a batch with one executemany, a statement per row)
would cost more than storing the message itself. Instead new rows are indexed in bulk, one
INSERT ... SELECT per pass, shortly after each batch: `SearchIndexer` listens for
`MessagesAdded`, notes the highest new row of each table from the rows the event carries, and
queues one pass up to there on the database's writer thread, half a second later (never more
than one waiting). The pass reads the texts from the tables, not from the events: a row
edited meanwhile is indexed as it is now (the edit triggers leave rows above the mark alone).
`search_index_state.indexed_upto` marks how far each table is indexed; search reads the few
rows above the mark directly, so it never misses a message, indexed yet or not.

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
from .tables import BOTH, TopicTables

log = logging.getLogger(__name__)

PASS_ROWS = 20_000  # ids per table per pass: bounds how long one pass holds the writer
# New rows are gathered this long before a pass: during a flood one pass indexes many batches
# (FTS5 merges its segments per statement, so fewer, larger passes cost less in all), and a
# search never waits for it (it reads unindexed rows directly).
GATHER_S = 0.5
STATE = table("search_index_state", column("table_name"), column("indexed_upto"))
EPOCH_S = 1577836800  # 2020-01-01T00:00:00Z: the key's seconds fit 31 bits until 2088
KIND_BIT = {"comment": 0, "direct_message": 1}
# Appended to every text in the index (migration 0004): with it every occurrence of a word
# of one or two characters begins a trigram, so search can find such words in the index.
PAD = "\x01\x01"
PAD_SQL = "char(1, 1)"


def key_sql(t: TopicTables, alias: str | None = None) -> str:
    """SQL for the search key of a row of `t`'s message table (as migration 0004 indexes it):
    seconds since EPOCH_S in the high 32 bits, then the row id and the kind bit."""
    prefix = f"{alias}." if alias else ""
    return (f"(({prefix}created_at / 1000 - {EPOCH_S}) * 4294967296 "
            f"+ CAST({prefix}id AS BIGINT) * 2 + {KIND_BIT[t.message_kind]})")


def split_key(key: int) -> tuple[str, int]:
    """The message kind and row id a search key stands for."""
    low = key & 0xFFFFFFFF
    return ("direct_message" if low & 1 else "comment"), low >> 1


def indexed_upto(session: Session, table_name: str) -> int:
    """The highest row id of `table_name` already in the search index."""
    stmt = select(STATE.c.indexed_upto).where(STATE.c.table_name == table_name)
    return int(session.execute(stmt).scalar_one())


def index_new_rows(session: Session, through: dict[str, int] | None = None) -> bool:
    """Index the next rows of each message table (at most PASS_ROWS ids' worth) up to its
    highest row id, or up to `through[table name]` when given (what the events told; a table
    it leaves out has nothing new); True when more remain for another pass.

    One statement for both tables, in key order: FTS5 appends each term's rowids in
    ascending order and writes out what it holds whenever a lower rowid arrives, so rows in
    storage order (which is not time order once history is crawled late, and never across
    the two tables) would leave a pile of tiny segments to merge."""
    parts, params, marks = [], {}, {}
    for i, t in enumerate(BOTH):
        name = t.message.__tablename__
        start = indexed_upto(session, name)
        if through is None:
            last = session.execute(select(func.max(t.message.id))).scalar() or 0
        else:
            last = through.get(name, 0)
        if last <= start:
            continue
        stop = min(last, start + PASS_ROWS)
        parts.append(f"SELECT {key_sql(t)} AS key, text || {PAD_SQL} AS text FROM {name} "
                     f"WHERE id > :a{i} AND id <= :b{i}")
        params.update({f"a{i}": start, f"b{i}": stop})
        marks[name] = (stop, stop < last)
    if not parts:
        return False
    session.execute(text("INSERT INTO message_search(rowid, text) SELECT key, text FROM ("
                         + " UNION ALL ".join(parts) + ") ORDER BY key"), params)
    for name, (stop, _) in marks.items():
        session.execute(update(STATE).where(STATE.c.table_name == name).values(indexed_upto=stop))
    return any(more for _, more in marks.values())


class SearchIndexer:
    """Runs `index_new_rows` after new messages arrive (SQLite only)."""

    def __init__(self, db: Database, bus: EventBus) -> None:
        self._db = db
        self._queued: asyncio.Task[None] | None = None
        self._again = False
        self._through: dict[str, int] = {}  # the highest new row of each table the events told
        if db.dialect == "sqlite":
            bus.subscribe(MessagesAdded, self._on_messages_added)

    async def catch_up(self) -> None:
        """Index everything stored so far (a pass at a time)."""
        if self._db.dialect != "sqlite":
            return
        while await self._db.write(index_new_rows):
            pass

    def _on_messages_added(self, event: MessagesAdded) -> None:
        for name, row_id in event.messages.highest_rows().items():
            self._through[name] = max(self._through.get(name, 0), row_id)
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
                while await self._db.write(index_new_rows, dict(self._through)):
                    pass
        except DatabaseError:
            pass  # the database was closed (shutdown); the next batch catches up
        except Exception:
            log.exception("indexing new messages for search failed; search reads them unindexed")
