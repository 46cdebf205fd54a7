"""PollSlots: how many scheduled polls run at once, and the operator's way past them
(pacing.py)."""
import asyncio

from app.engine.pool.pacing import PollSlots, default_parallel_polls


class Polls:
    """Accounts polling through the slots; each poll runs until `finish` is called."""

    def __init__(self, slots: PollSlots) -> None:
        self.slots = slots
        self.running: list[str] = []
        self._done: dict[str, asyncio.Event] = {}

    def start(self, account_id: str, *, urgent: bool = False) -> asyncio.Future:
        self._done[account_id] = asyncio.Event()

        async def poll():
            async with self.slots.slot(account_id, urgent=urgent):
                self.running.append(account_id)
                await self._done[account_id].wait()
                self.running.remove(account_id)

        return asyncio.ensure_future(poll())

    async def finish(self, account_id: str) -> None:
        self._done[account_id].set()
        for _ in range(3):
            await asyncio.sleep(0)


async def settle():
    for _ in range(3):
        await asyncio.sleep(0)


async def test_scheduled_polls_queue_for_the_slots_in_turn():
    polls = Polls(PollSlots(limit=2))
    tasks = [polls.start(a) for a in ("a", "b", "c", "d")]
    await settle()
    assert polls.running == ["a", "b"]
    await polls.finish("a")
    assert polls.running == ["b", "c"]
    await polls.finish("c")
    assert polls.running == ["b", "d"]
    for account_id in ("b", "d"):
        await polls.finish(account_id)
    await asyncio.gather(*tasks)


async def test_the_operator_is_never_queued_behind_the_rotation():
    polls = Polls(PollSlots(limit=1))
    tasks = [polls.start("rotating"), polls.start("queued"), polls.start("opened", urgent=True)]
    await settle()
    assert polls.running == ["rotating", "opened"]  # an urgent cycle takes no slot
    polls.slots.hurry("queued")  # the operator opens an account whose poll waits for a slot
    polls.slots.hurry("nobody")  # not waiting: nothing changes
    await settle()
    assert polls.running == ["rotating", "opened", "queued"]
    for account_id in ("opened", "queued"):
        await polls.finish(account_id)
    tasks.append(polls.start("next"))
    await settle()
    assert polls.running == ["rotating"]  # the hurried polls held no slot to give back
    await polls.finish("rotating")
    assert polls.running == ["next"]
    await polls.finish("next")
    await asyncio.gather(*tasks)


async def test_a_poll_cancelled_while_queued_leaves_no_slot_taken():
    polls = Polls(PollSlots(limit=1))
    first, queued = polls.start("a"), polls.start("b")
    await settle()
    queued.cancel()
    await asyncio.gather(queued, return_exceptions=True)
    await polls.finish("a")
    await first
    later = polls.start("c")
    await settle()
    assert polls.running == ["c"]
    await polls.finish("c")
    await later


def test_by_default_one_core_is_left_to_the_operator():
    assert PollSlots().limit == default_parallel_polls() >= 1


async def test_more_slots_start_queued_polls_at_once():
    polls = Polls(PollSlots(limit=1))
    first, second = polls.start("a"), polls.start("b")
    for _ in range(3):
        await asyncio.sleep(0)
    assert polls.running == ["a"]
    polls.slots.resize(2)
    for _ in range(3):
        await asyncio.sleep(0)
    assert polls.running == ["a", "b"]
    await polls.finish("a")
    await polls.finish("b")
    await asyncio.gather(first, second)
