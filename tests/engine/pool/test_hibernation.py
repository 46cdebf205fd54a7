"""Hibernation: contexts close between polls with their session saved, wake without a new
login, and never more pages are open than the limit allows."""
import asyncio

import pytest

from app.engine.events import LoginProgress

from tests.engine.pool.harness import make_rig

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]


async def stored(rig, account_id, text):
    return text in await rig.texts(account_id)


async def test_hibernate_then_wake_keeps_the_session(tmp_path):
    # One page for everyone: nobody stays awake; slow polls, so only wake() brings news early.
    async with make_rig(tmp_path, max_active_pages=1, poll_interval_min_s=40, poll_interval_max_s=50) as rig:
        account_id = await rig.login("creator-sleepy")
        await rig.until(lambda: rig.stat(account_id, "cycles", 0) >= 1, what="the first cycle")
        await rig.until(lambda: rig.state_of(account_id) == "hibernating", what="hibernation")
        assert rig.pool.status().open_pages == 0
        logins_before = len(rig.seen(LoginProgress))

        await rig.control.inject_dm("Frank", "are you awake?", creator="creator-sleepy")
        await rig.control.inject_comment("Grace", "a comment while asleep", creator="creator-sleepy")
        # Asleep: no page is open that could bring them (the next poll is 40 s away); only the
        # wake below does, well within that.
        assert rig.state_of(account_id) == "hibernating" and rig.pool.status().open_pages == 0
        assert not await stored(rig, account_id, "are you awake?")
        await rig.pool.wake(account_id)
        await rig.until(lambda: stored(rig, account_id, "are you awake?"), timeout=15, what="the DM after wake")
        await rig.until(lambda: stored(rig, account_id, "a comment while asleep"), timeout=15,
                        what="the comment after wake")
        assert len(rig.seen(LoginProgress)) == logins_before  # no new login was needed
        assert (await rig.accounts.get(account_id)).login_status == "logged_in"


async def test_pages_are_limited_and_every_account_still_gets_its_turn(tmp_path):
    async with make_rig(tmp_path, max_active_pages=1) as rig:
        creators = ["creator-p1", "creator-p2", "creator-p3"]
        accounts = [await rig.login(c) for c in creators]
        most_open = 0

        async def watch_pages():
            nonlocal most_open
            while True:
                most_open = max(most_open, rig.pool.status().open_pages)
                await asyncio.sleep(0.02)

        watcher = asyncio.ensure_future(watch_pages())
        try:
            for creator in creators:
                await rig.control.inject_comment("Heidi", f"hi {creator}", creator=creator)
            for account_id, creator in zip(accounts, creators):
                await rig.until(lambda: stored(rig, account_id, f"hi {creator}"), timeout=30,
                                what=f"the comment of {creator}")
        finally:
            watcher.cancel()
        assert most_open == 1


async def test_the_account_the_operator_opens_stays_awake_and_gets_pushes(tmp_path):
    # Two pages: one rotates, one may stay awake (the operator's account).
    async with make_rig(tmp_path, max_active_pages=2, poll_interval_min_s=40, poll_interval_max_s=50) as rig:
        first = await rig.login("creator-w1")
        second = await rig.login("creator-w2")
        await rig.pool.wake(second)
        await rig.until(lambda: rig.state_of(second) == "active" and rig.state_of(first) == "hibernating",
                        what="the operator's account awake, the other asleep")
        await asyncio.sleep(0.5)
        await rig.control.inject_dm("Ivan", "pushed at once", creator="creator-w2")
        # No poll is due for 40 s: only the page's websocket push can bring it this soon.
        await rig.until(lambda: stored(rig, second, "pushed at once"), timeout=5, what="the pushed DM")


async def test_an_awake_context_is_recycled_without_a_restart_or_a_new_login(tmp_path, monkeypatch):
    """A page that never closes grows without bound (the driver keeps every request and
    handle it saw): an awake context is reopened on a schedule, its session kept."""
    from app.engine.pool import monitor as monitor_module

    monkeypatch.setattr(monitor_module, "CONTEXT_RECYCLE_S", 2.0)
    async with make_rig(tmp_path) as rig:
        account_id = await rig.login("creator-recycled")
        await rig.until(lambda: rig.state_of(account_id) == "active", what="awake")
        monitor = rig.pool._monitors[account_id]
        contexts = set()
        await rig.until(lambda: contexts.add(id(monitor._ctx)) or len(contexts - {id(None)}) >= 2,
                        what="a second context")
        logins_before = len(rig.seen(LoginProgress))
        await rig.control.inject_dm("Hana", "after the recycle", creator="creator-recycled")
        await rig.until(lambda: stored(rig, account_id, "after the recycle"), what="the DM after the recycle")
        assert rig.stat(account_id, "restarts") == 0
        assert len(rig.seen(LoginProgress)) == logins_before
        assert (await rig.accounts.get(account_id)).login_status == "logged_in"
