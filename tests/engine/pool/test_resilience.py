"""Failures stay inside one account and heal by themselves: a crashed renderer, a killed
browser, a hung page."""
import asyncio
import signal

import pytest

from app.platforms.sandbox import SandboxPlatform

from tests.engine.pool.harness import chromium_processes, make_rig

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]


async def stored(rig, account_id, text):
    return text in await rig.texts(account_id)


async def test_a_crashed_renderer_restarts_the_account(tmp_path):
    async with make_rig(tmp_path) as rig:
        account_id = await rig.login("creator-crash")
        await rig.until(lambda: rig.state_of(account_id) == "active", what="an open page")
        renderers = chromium_processes("renderer")
        assert renderers
        for proc in renderers:
            proc.send_signal(signal.SIGKILL)
        await rig.until(lambda: rig.stat(account_id, "restarts", 0) >= 1, what="a restart")
        await rig.control.inject_dm("Carol", "still there?", creator="creator-crash")
        await rig.until(lambda: stored(rig, account_id, "still there?"), what="traffic after the restart")
        account = await rig.accounts.get(account_id)
        assert account.login_status == "logged_in"  # the saved session survived the crash


async def test_a_killed_browser_is_relaunched(tmp_path):
    async with make_rig(tmp_path) as rig:
        account_id = await rig.login("creator-kill")
        await rig.until(lambda: rig.state_of(account_id) == "active", what="an open page")
        [browser] = chromium_processes(None, exclude=rig.stale_pids)
        browser.send_signal(signal.SIGKILL)
        await rig.until(lambda: rig.pool.status().browser_launches >= 2, what="a new browser")
        await rig.control.inject_dm("Dan", "hello again", creator="creator-kill")
        await rig.until(lambda: stored(rig, account_id, "hello again"), what="traffic after the relaunch")
        assert (await rig.accounts.get(account_id)).login_status == "logged_in"


class HangingPlatform(SandboxPlatform):
    """The sandbox, except that polling one account's page never returns (a hung page)."""

    def __init__(self):
        super().__init__()
        self.hang_account: str | None = None

    async def poll(self, page, account, io):
        if account.id == self.hang_account:
            await asyncio.Event().wait()
        await super().poll(page, account, io)


async def test_a_hung_account_does_not_stall_another(tmp_path):
    hanging = HangingPlatform()
    async with make_rig(tmp_path, platform=hanging, call_timeout_s=4, max_active_pages=4) as rig:
        stuck = await rig.login("creator-stuck")
        fine = await rig.login("creator-fine")
        hanging.hang_account = stuck
        await rig.control.inject_comment("Eve", "first comment for fine", creator="creator-fine")
        await rig.until(lambda: stored(rig, fine, "first comment for fine"), what="the healthy account's comment")
        await rig.until(lambda: rig.state_of(stuck) == "backoff", what="the hung account backing off")
        assert "made no progress for 4 s" in rig.stat(stuck, "last_error")
        await rig.control.inject_comment("Eve", "second comment for fine", creator="creator-fine")
        await rig.until(lambda: stored(rig, fine, "second comment for fine"), what="more traffic meanwhile")
        assert (await rig.accounts.get(stuck)).last_error  # visible in the channel list
        hanging.hang_account = None
        await rig.pool.restart_account(stuck)
        await rig.until(lambda: rig.stat(stuck, "failures") == 0, what="the hung account recovering")
