"""The pace of polls (pacing.py): how many scheduled polls run at once and the operator's way
past them; how far apart they are, per platform, outside the quiet hours, and after "too fast"."""
import asyncio
from datetime import datetime

import pytest

from app.engine.platform import PlatformSettings, RateLimited
from app.engine.pool.pacing import (
    QUIET_END_SPREAD_S,
    PollSlots,
    default_parallel_polls,
    early_poll_delay,
    past_quiet_hours,
    poll_delay,
)
from app.engine.settings import Settings
from app.platforms.sandbox import SandboxPlatform
from tests.engine.pool.harness import make_rig


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


# ---- The pace of scheduled polls -----------------------------------------------------------
LOCAL = datetime.now().astimezone().tzinfo


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=LOCAL)


def test_a_platform_s_own_pace_is_a_floor_under_the_global_one():
    fast = Settings(poll_interval_min_s=15, poll_interval_max_s=30)
    careful = PlatformSettings(poll_interval_min_s=60, poll_interval_max_s=120)
    delays = [poll_delay(fast, careful, None) for _ in range(200)]
    assert 60 <= min(delays) and max(delays) <= 120 and max(delays) - min(delays) > 20  # jittered
    slow = Settings(poll_interval_min_s=600, poll_interval_max_s=900)  # the operator's slower pace wins
    assert all(600 <= poll_delay(slow, careful, None) <= 900 for _ in range(50))
    # An account's own interval cannot go under its platform's floor either.
    assert all(60 <= poll_delay(fast, careful, 10) <= 75 for _ in range(50))
    assert all(15 <= poll_delay(fast, PlatformSettings(), None) <= 30 for _ in range(50))  # no pace of its own


@pytest.mark.parametrize("now, delay, expected_hours", [
    (at(23, 0), 3600, 8.0),    # would land at 00:00, inside 23:30-07:00: moved to 07:00
    (at(23, 0), 60, None),     # 23:01: still before the quiet hours
    (at(3, 0), 60, 4.0),       # in the middle of the night
    (at(7, 0), 60, None),      # they ended
])
def test_no_scheduled_poll_falls_in_the_quiet_hours(now, delay, expected_hours):
    got = past_quiet_hours("23:30-07:00", delay, now)
    if expected_hours is None:
        assert got == delay
    else:
        assert expected_hours * 3600 <= got <= expected_hours * 3600 + QUIET_END_SPREAD_S


def test_an_early_poll_waits_for_the_floor_after_the_last_and_for_the_quiet_hours_end():
    pace = PlatformSettings(early_poll_after_s=20)
    assert early_poll_delay(pace, since_last_s=5, now=at(12)) == 15
    assert early_poll_delay(pace, since_last_s=60, now=at(12)) == 0
    night = PlatformSettings(early_poll_after_s=20, quiet_hours="23:30-07:00")
    assert 4 * 3600 <= early_poll_delay(night, since_last_s=60, now=at(3)) <= 4 * 3600 + QUIET_END_SPREAD_S


@pytest.mark.parametrize("bad", ["late", "23:30", "25:00-07:00", "07:00-07:00"])
def test_bad_quiet_hours_are_refused_with_the_form_expected(bad):
    with pytest.raises(ValueError, match="quiet_hours"):
        PlatformSettings(quiet_hours=bad)


class TooFastPlatform(SandboxPlatform):
    """A platform that says the account goes too fast, and how long to stay away (and has
    something due all the same: it asks for an early poll)."""

    async def watch(self, page, account, io):
        self.io = io
        await super().watch(page, account, io)

    async def poll(self, page, account, io):
        io.poll_soon()
        raise RateLimited("操作太频繁，请稍后再试", retry_after_s=900)


@pytest.mark.browser
async def test_an_account_the_platform_calls_too_fast_is_left_alone_as_long_as_it_asks(tmp_path):
    async with make_rig(tmp_path, platform=TooFastPlatform()) as rig:  # backoff capped at 2 s there
        account_id = await rig.login("creator-fast")
        await rig.until(lambda: rig.state_of(account_id) == "backoff", what="the account backing off")
        assert rig.stat(account_id, "next_poll_in_s") > 800
        assert "操作太频繁" in rig.stat(account_id, "last_error")
        rig.platform.io.poll_soon()  # a push during the cool-down brings nothing forward
        assert rig.stat(account_id, "next_poll_in_s") > 800


class DueSoonPlatform(SandboxPlatform):
    """Its first poll learns of something due (as a pushed notice would) and asks for an
    early poll; each poll's start and end are noted (loop time)."""

    def __init__(self) -> None:
        super().__init__()
        self.polls: list[tuple[float, float]] = []

    async def poll(self, page, account, io):
        started = asyncio.get_running_loop().time()
        await super().poll(page, account, io)
        if not self.polls:
            io.poll_soon()
        self.polls.append((started, asyncio.get_running_loop().time()))


@pytest.mark.browser
async def test_a_platform_with_something_due_gets_an_early_poll_after_the_floor(tmp_path):
    async with make_rig(tmp_path, platform=DueSoonPlatform()) as rig:
        rig.engine.settings_service.update(platforms={"sandbox": {
            "demo_traffic": False, "poll_interval_min_s": 300, "poll_interval_max_s": 360, "early_poll_after_s": 2}})
        account_id = await rig.login("creator-due")
        await rig.until(lambda: len(rig.platform.polls) >= 2, what="the early poll")
        (_, first_ended), (second_started, _) = rig.platform.polls[:2]
        assert second_started - first_ended >= 2 - 0.05  # not before the floor
        await rig.until(lambda: rig.stat(account_id, "cycles") >= 2, what="the early cycle's end")
        assert rig.stat(account_id, "next_poll_in_s") > 250  # asked once: back to the platform's pace


@pytest.mark.browser
async def test_the_platform_s_pace_from_the_settings_applies_from_the_next_poll(tmp_path):
    async with make_rig(tmp_path) as rig:  # polls 1-1.5 s apart
        account_id = await rig.login("creator-pace")
        await rig.until(lambda: rig.stat(account_id, "cycles", 0) >= 1, what="the first poll")
        rig.engine.settings_service.update(
            platforms={"sandbox": {"demo_traffic": False, "poll_interval_min_s": 300, "poll_interval_max_s": 360}})
        cycles = rig.stat(account_id, "cycles")
        await rig.until(lambda: rig.stat(account_id, "cycles") > cycles, what="the poll already scheduled")
        assert rig.stat(account_id, "next_poll_in_s") > 250
