"""Engine.self_check: a platform's page check runs on the account's own page, between polls."""
from __future__ import annotations

import pytest

from app.engine.platform import SELF_CHECK, PermanentError, SelfCheck
from app.platforms.sandbox import SandboxPlatform
from tests.engine.pool.harness import make_rig

pytestmark = pytest.mark.browser


class CheckedSandbox(SandboxPlatform):
    """The sandbox with a page check of its own: it reads the account's page it is given."""

    capabilities = SandboxPlatform.capabilities | {SELF_CHECK}

    async def self_check(self, page):
        return SelfCheck(True, (f"page: {page.url}", f"title: {await page.title()}"))


async def test_the_check_runs_on_the_account_s_logged_in_page(tmp_path):
    async with make_rig(tmp_path, platform=CheckedSandbox()) as rig:
        account_id = await rig.login("creator-check")
        found = await rig.engine.self_check(account_id)
        assert found.ok and found.lines[0].startswith("page: http://127.0.0.1:")  # the sandbox site, logged in
        await rig.until(lambda: rig.stat(account_id, "failures") == 0, what="monitoring going on after it")


async def test_a_platform_without_a_check_says_so(tmp_path):
    async with make_rig(tmp_path) as rig:
        account_id = await rig.login("creator-nocheck")
        with pytest.raises(PermanentError, match="has no self-check"):
            await rig.engine.self_check(account_id)
