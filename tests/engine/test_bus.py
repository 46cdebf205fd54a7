"""The event bus delivers after publish returns, to sync and async subscribers, and one
failing subscriber does not stop the others."""
import asyncio

from app.engine.bus import EventBus
from app.engine.events import AccountsChanged, Event, MessagesUpdated


async def test_publish_does_not_run_handlers_inline_and_delivers_to_all():
    bus = EventBus()
    seen: list[str] = []
    done = asyncio.Event()

    def broken(event):
        raise RuntimeError("boom")

    async def async_handler(event):
        seen.append("async")
        done.set()

    bus.subscribe(AccountsChanged, broken)
    bus.subscribe(AccountsChanged, lambda e: seen.append("sync"))
    bus.subscribe(AccountsChanged, async_handler)
    bus.publish(AccountsChanged("acc-1"))
    assert seen == []  # the publisher is never blocked by subscribers
    await asyncio.wait_for(done.wait(), 1)
    assert sorted(seen) == ["async", "sync"]


async def test_subscribers_get_only_their_event_types_and_can_unsubscribe():
    bus = EventBus()
    got: list[Event] = []
    every: list[Event] = []
    unsubscribe = bus.subscribe(MessagesUpdated, got.append)
    bus.subscribe(Event, every.append)
    bus.publish(AccountsChanged())
    bus.publish(MessagesUpdated("acc-1", (), ("m1",)))
    await asyncio.sleep(0)
    assert [type(e) for e in got] == [MessagesUpdated]
    assert len(every) == 2
    unsubscribe()
    bus.publish(MessagesUpdated("acc-1", (), ("m2",)))
    await asyncio.sleep(0)
    assert len(got) == 1


async def test_publish_threadsafe_from_a_worker_thread():
    bus = EventBus()
    loop = asyncio.get_running_loop()
    got = asyncio.Event()
    bus.subscribe(AccountsChanged, lambda e: got.set())
    await asyncio.to_thread(bus.publish_threadsafe, loop, AccountsChanged())
    await asyncio.wait_for(got.wait(), 1)
