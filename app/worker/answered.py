"""The replies a remote worker has sent, by request id, with the result it answered, on its
disk for a day.

`request_id` is the master's outbox reply id: the idempotency key of one reply. A request
that arrives again (the master re-sent it after a reconnect, or an original master's
retry) is answered with the stored result: it never goes out twice, across a restart of
the worker too. A failed attempt is not kept: nothing went out, and the next request for
it is the master's outbox retrying (or the operator pressing Retry), which has already
looked on the platform for an earlier copy when one could exist. A request still being
sent is joined, not started a second time (replies.py).

One SQLite file (`worker/answered.db`), synchronous=FULL; entries older than 24 h are
dropped when the file is opened and then hourly.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

KEEP_S = 24 * 3600.0


class AnsweredReplies:
    def __init__(self, path: Path, *, keep_s: float = KEEP_S) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.keep_s = keep_s
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS answered (request_id TEXT PRIMARY KEY, "
                         "result TEXT NOT NULL, answered_at REAL NOT NULL)")
        self._forget_old()
        self._purged_at = time.time()

    async def result(self, request_id: str) -> dict[str, Any] | None:
        """The result answered when the reply of this request id was sent, if it was."""
        return await asyncio.to_thread(self._result, request_id)

    async def remember(self, request_id: str, result: dict[str, Any]) -> None:
        """The reply was sent: store the result (durably, before it is answered)."""
        await asyncio.to_thread(self._remember, request_id, json.dumps(result, ensure_ascii=False))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- On a worker thread

    def _result(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT result FROM answered WHERE request_id = ?", (request_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def _remember(self, request_id: str, text: str) -> None:
        if time.time() - self._purged_at > 3600:
            self._forget_old()
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO answered (request_id, result, answered_at) VALUES (?, ?, ?)",
                             (request_id, text, time.time()))

    def _forget_old(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM answered WHERE answered_at < ?", (time.time() - self.keep_s,))
        self._purged_at = time.time()
