"""Fixtures for the IM view tests: views and a DataStore over the shared `db` fixture (a real
SQLite file or PostgreSQL), and `feed`, which stores records the way a crawl does."""
from __future__ import annotations

import pytest

from app.engine.bus import EventBus
from app.engine.im.views import ImViews
from app.engine.records import Batch
from app.engine.store.datastore import DataStore
from app.engine.store.models import Account


@pytest.fixture
def bus():
    return EventBus()


@pytest.fixture
def views(db, bus):
    return ImViews(db, bus)


@pytest.fixture
def accounts(db):
    """`await accounts("acc-a", "acc-b")` adds channels (accounts) in that order."""

    async def add(*ids: str) -> None:
        def insert(session):
            for i, account_id in enumerate(ids):
                session.add(Account(id=account_id, platform="sandbox", display_name=f"账号 {account_id}"))
                session.flush()

        await db.write(insert)

    return add


@pytest.fixture
def feed(db, bus):
    """`await feed(account_id, comments=[...], messages=[...], ...)`: one crawl batch through
    DataStore.ingest, which must accept every record."""
    store = DataStore(db, bus)

    async def ingest(account_id: str, **records) -> None:
        result = await store.ingest(Batch(account_id=account_id, **records))
        assert not result.rejected, result.rejected

    return ingest
