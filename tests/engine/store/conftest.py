"""Fixtures for the store tests: an account to ingest into, a DataStore and its events."""
import asyncio

import pytest

from app.engine.bus import EventBus
from app.engine.events import Event
from app.engine.store.datastore import DataStore
from app.engine.store.models import Account
from store_helpers import ACCOUNT


class Recorder:
    """Collects the events published on a bus; `await recorder.settle()` lets them arrive."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        bus.subscribe(Event, self.events.append)

    async def settle(self) -> None:
        for _ in range(3):
            await asyncio.sleep(0)

    def of(self, event_type):
        return [e for e in self.events if isinstance(e, event_type)]


@pytest.fixture
def bus():
    return EventBus()


@pytest.fixture
def events(bus):
    return Recorder(bus)


@pytest.fixture
async def account(db):
    await db.write(lambda s: s.add(Account(id=ACCOUNT, platform="sandbox", display_name="Shop")))
    return ACCOUNT


@pytest.fixture
def store(db, bus, account):
    return DataStore(db, bus)
