"""The pool monitors logged-in accounts: traffic is stored, replies go out through the page,
expired sessions are reported."""
import sys
from datetime import datetime, timedelta, timezone

import pytest

from app.engine.events import AccountStatusChanged, Notification
from app.engine.platform import ReplyTarget, SessionExpired
from app.engine.pool.pacing import default_parallel_polls

from tests.engine.pool.harness import chromium_processes, make_rig

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]


async def test_injected_comments_and_dms_are_stored(tmp_path):
    async with make_rig(tmp_path) as rig:
        account_id = await rig.login("creator-m")
        await rig.control.inject_dm("小明", "你好，请问还有货吗？", creator="creator-m")
        await rig.control.inject_comment("Alice", "Love this video 😍", creator="creator-m")
        await rig.until(
            lambda: _has(rig.texts(account_id), {"你好，请问还有货吗？", "Love this video 😍"}),
            what="the injected DM and comment in the database",
        )
        # Pushes may bring the records before the first poll has finished and been recorded.
        account = await rig.until(lambda: _crawled(rig, account_id), what="the first crawl recorded")
        assert account.last_error is None
        memory = await rig.pool.sample_memory()
        assert memory.rss_mb and memory.processes >= 2
        status = rig.pool.status()
        assert status.browser_running and status.browser_pids and status.open_pages == 1
        assert status.max_parallel_polls == default_parallel_polls()  # the setting's 0: automatic
        assert status.account(account_id).cycles >= 1


async def test_a_reply_goes_out_through_the_page(tmp_path):
    async with make_rig(tmp_path) as rig:
        account_id = await rig.login("creator-r")
        injected = await rig.control.inject_dm("Bob", "Is shipping free?", creator="creator-r")
        target = ReplyTarget("direct_message", injected["conversation_id"])
        reply_id = (await rig.pool.send_reply(account_id, target, "Yes, shipping is free 🚚")).platform_id
        assert reply_id
        [conversation] = [c for c in await rig.control.conversations("creator-r")
                          if c["conversation_id"] == injected["conversation_id"]]
        assert "Yes, shipping is free 🚚" in [m["content"]["text"] for m in conversation["messages"]]
        found = await rig.pool.find_reply(account_id, target, "Yes, shipping is free 🚚", since=_an_hour_ago())
        assert found.platform_id == reply_id
        # The next crawl stores our reply in the conversation.
        await rig.until(lambda: _has(rig.texts(account_id), {"Yes, shipping is free 🚚"}), what="the reply stored")


async def test_session_expiry_marks_the_account_expired_and_notifies(tmp_path):
    async with make_rig(tmp_path) as rig:
        account_id = await rig.login("creator-x")
        await rig.until(lambda: rig.state_of(account_id) == "active", what="monitoring")
        assert await rig.control.expire_sessions("creator-x") >= 1
        await rig.until(
            lambda: rig.seen(AccountStatusChanged, account_id=account_id, login_status="expired"),
            what="the expired status",
        )
        assert (await rig.accounts.get(account_id)).login_status == "expired"
        [note] = rig.seen(Notification, account_id=account_id)
        assert note.level == "warning" and "log in again" in note.body.lower()
        await rig.until(lambda: rig.state_of(account_id) is None, what="monitoring to stop")
        with pytest.raises(SessionExpired):
            await rig.pool.send_reply(account_id, ReplyTarget("direct_message", "c1"), "hi")


def _an_hour_ago():
    return datetime.now(timezone.utc) - timedelta(hours=1)


async def _crawled(rig, account_id):
    """The account row once a crawl of it has been recorded, else None."""
    account = await rig.accounts.get(account_id)
    return account if account.last_crawl_at else None


async def _has(texts_coro, wanted):
    return wanted <= await texts_coro


async def test_comments_and_dms_arrive_by_push_between_polls(tmp_path):
    """With polls minutes apart, new traffic still arrives at once: the page's push."""
    async with make_rig(tmp_path, poll_interval_min_s=600, poll_interval_max_s=600) as rig:
        account_id = await rig.login("creator-p")
        await rig.until(lambda: rig.stat(account_id, "cycles", 0) >= 1, what="the first crawl")
        await rig.control.inject_comment("小红", "第一次来，支持一下！", creator="creator-p")
        await rig.control.inject_dm("Zoe", "Do you ship to Canada?", creator="creator-p")
        await rig.until(
            lambda: _has(rig.texts(account_id), {"第一次来，支持一下！", "Do you ship to Canada?"}),
            timeout=5, what="the pushed comment and DM in the database",
        )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX niceness")
async def test_the_browser_runs_below_the_console_s_priority(tmp_path):
    """Renderers busy on every core must not starve the window: Chromium runs niced."""
    async with make_rig(tmp_path) as rig:
        await rig.login("creator-n")
        processes = chromium_processes(None) + chromium_processes("renderer")
        assert processes and all(p.nice() >= 10 for p in processes)


async def test_a_shorter_poll_interval_applies_to_the_next_poll_at_once(tmp_path):
    """Saved in the settings, a shorter interval used to wait for the poll already scheduled
    with the old one (up to its length)."""
    async with make_rig(tmp_path, poll_interval_min_s=300, poll_interval_max_s=300) as rig:
        account_id = await rig.login("creator-interval")
        await rig.until(lambda: rig.stat(account_id, "cycles", 0) >= 1, what="the first poll")
        assert rig.stat(account_id, "next_poll_in_s") > 200
        rig.engine.settings_service.update(poll_interval_min_s=1, poll_interval_max_s=1.5)
        await rig.until(lambda: rig.stat(account_id, "cycles", 0) >= 2, timeout=15, what="a poll on the new interval")
