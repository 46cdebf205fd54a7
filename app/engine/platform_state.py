"""The engine's store behind `PlatformState`: each account's crawl position, in the database.

A platform keeps here what lets its next cycle continue instead of starting over: paging
cursors, the comment count a work was read at, how far into each reply thread, the last
message of each conversation. It used to live in dicts keyed by the browser page, so every
hibernation and restart forgot it (the next cycle re-read everything) and a crawl cut short
started from the top again, for ever when it never fitted into one cycle.

Reads come from a copy of the account's values loaded once per monitor (the monitor is the
only writer of its account's state); writes go through to the database and are committed
before `set` returns.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .platform import PlatformState
from .store.models import PlatformStateValue

if TYPE_CHECKING:
    from .store.db import Database


class PlatformStateStore:
    """Hands out each account's `PlatformState`."""

    def __init__(self, db: "Database") -> None:
        self._db = db

    def account(self, account_id: str, *, on_write: Callable[[], None] | None = None) -> "StoredPlatformState":
        """The account's state; `on_write` is called after each committed `set` (the monitor
        counts it as progress of the cycle)."""
        return StoredPlatformState(self._db, account_id, on_write)


class StoredPlatformState(PlatformState):
    def __init__(self, db: "Database", account_id: str, on_write: Callable[[], None] | None) -> None:
        self._db = db
        self._account_id = account_id
        self._on_write = on_write
        self._values: dict[str, str] | None = None  # key → JSON text, loaded on first use

    async def get(self, key: str, default: Any = None) -> Any:
        values = await self._loaded()
        return json.loads(values[key]) if key in values else default

    async def set(self, key: str, value: Any) -> None:
        text = None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        account_id = self._account_id

        def apply(s: Session) -> None:
            row = s.get(PlatformStateValue, (account_id, key))
            if text is None:
                if row is not None:
                    s.delete(row)
            elif row is None:
                s.add(PlatformStateValue(account_id=account_id, key=key, value=json.loads(text)))
            else:
                row.value = json.loads(text)

        values = await self._loaded()
        await self._db.write(apply)
        if text is None:
            values.pop(key, None)
        else:
            values[key] = text
        if self._on_write is not None:
            self._on_write()

    async def _loaded(self) -> dict[str, str]:
        if self._values is None:
            account_id = self._account_id

            def query(s: Session) -> dict[str, str]:
                rows = s.execute(select(PlatformStateValue.key, PlatformStateValue.value)
                                 .where(PlatformStateValue.account_id == account_id))
                return {key: json.dumps(value, ensure_ascii=False) for key, value in rows}

            self._values = await self._db.read(query)
        return self._values
