"""The delta journal: every batch a remote worker stores, kept on its disk until the master
has acknowledged it (worker-protocol: `worker:data:delta` with sequence numbers).

The worker's DataStore hands each batch here before storing it locally
(`DataStore.forward`), so a batch the crawl has moved past is on disk, numbered, whatever
happens next: the link sends the journal in seq order, one delta at a time, and deletes a
delta only when the master answers for it (stored, or refused as malformed, which a retry
cannot mend). After a reconnect everything still here is sent again; the master ignores a
seq it has already applied.

One SQLite file (`worker/deltas.db` in the data folder), written with synchronous=FULL:
an append is durable when it returns. AUTOINCREMENT numbers never repeat, even after the
journal was emptied, so `seq` only grows, starting at 1.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..engine.records import Batch


@dataclass(frozen=True)
class Delta:
    seq: int
    account_id: str
    batch: dict[str, list[dict[str, Any]]]


class DeltaJournal:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS deltas (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                         "account_id TEXT NOT NULL, batch TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        self._listeners: list[Callable[[], None]] = []

    def on_append(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after each append (the link wakes its sender)."""
        self._listeners.append(listener)

    async def append(self, batch: Batch) -> int | None:
        """Journal the batch (durably); its seq, or None when it holds no valid record."""
        records = batch.to_json()
        if not any(records.values()):
            return None
        text = json.dumps(records, ensure_ascii=False, separators=(",", ":"))
        seq = await asyncio.to_thread(self._insert, batch.account_id, text)
        for listener in self._listeners:
            listener()
        return seq

    async def pending(self, limit: int = 100) -> list[Delta]:
        """The oldest unacknowledged deltas, in seq order."""
        return await asyncio.to_thread(self._pending, limit)

    async def acknowledged(self, seq: int) -> None:
        """The master answered for `seq`: forget it, remember the highest seq answered."""
        await asyncio.to_thread(self._acknowledge_one, seq)

    async def applied_up_to(self, seq: int) -> None:
        """The master says it applied every delta up to `seq` (its register ack). A master
        that counts further than this journal ever did knew this worker id before the
        journal (a home set up again under the same id): this journal's deltas are renumbered
        after the master's count, or the master would take them for ones it has."""
        await asyncio.to_thread(self._applied_up_to, seq)

    def acked_seq(self) -> int:
        """The highest seq the master answered for (0 at first): register's `resume_seq`."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'acked_seq'").fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM deltas").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- On a worker thread

    def _insert(self, account_id: str, text: str) -> int:
        with self._lock:
            return int(self._db.execute("INSERT INTO deltas (account_id, batch) VALUES (?, ?)",
                                        (account_id, text)).lastrowid)

    def _pending(self, limit: int) -> list[Delta]:
        with self._lock:
            rows = self._db.execute("SELECT seq, account_id, batch FROM deltas ORDER BY seq LIMIT ?",
                                    (limit,)).fetchall()
        return [Delta(seq, account_id, json.loads(text)) for seq, account_id, text in rows]

    def _applied_up_to(self, seq: int) -> None:
        with self._lock:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'deltas'").fetchone()
            last = int(row[0]) if row else 0
            if seq <= last:
                return self._acknowledge(seq, every_earlier=True)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("UPDATE deltas SET seq = seq + ?", (seq,))  # above every old seq: no clash
                self._db.execute("DELETE FROM sqlite_sequence WHERE name = 'deltas'")
                self._db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('deltas', ?)", (last + seq,))
                self._set_acked(seq)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _acknowledge_one(self, seq: int) -> None:
        with self._lock:
            self._acknowledge(seq, every_earlier=False)

    def _acknowledge(self, seq: int, *, every_earlier: bool) -> None:
        """Forget `seq` (and every earlier one): lock held."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("DELETE FROM deltas WHERE seq <= ?" if every_earlier else
                             "DELETE FROM deltas WHERE seq = ?", (seq,))
            self._set_acked(seq)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _set_acked(self, seq: int) -> None:
        self._db.execute("INSERT INTO meta (key, value) VALUES ('acked_seq', ?) ON CONFLICT(key) "
                         "DO UPDATE SET value = max(value, excluded.value)", (seq,))
