"""The first-run demo workspace on a real engine: SQLite, the worker pool's Chromium, the
engine's login flow; the sandbox plays the phone and the audience."""
from __future__ import annotations

import asyncio
import time

import pytest

from app.engine.engine import Engine
from app.engine.paths import app_paths
from app.engine.settings import Settings
from app.platforms.sandbox.demo import DEMO_ACCOUNTS, setup_demo_workspace

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


async def test_the_demo_workspace_logs_two_accounts_in_and_traffic_arrives(tmp_path):
    engine = Engine.create(app_paths(tmp_path).ensure(), Settings())
    await engine.start()
    try:
        started = time.monotonic()
        account_ids = await setup_demo_workspace(engine)
        accounts = [await engine.accounts.get(account_id) for account_id in account_ids]
        assert [a.display_name for a in accounts] == list(DEMO_ACCOUNTS)
        assert all(a.login_status == "logged_in" and a.platform_user_id for a in accounts)

        print(f"demo workspace ready in {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        control = engine.platforms.get("sandbox").control
        assert (await control.state())["simulator"]["running"]
        # A DM to each demo account reaches the console (pushed, or at the latest crawled).
        for name in DEMO_ACCOUNTS:
            await control.inject_dm("Lucas", f"hello {name} 👋", creator=name)
        for _ in range(120):
            previews = {
                name: {t.last_message_preview for t in (await engine.views.topics(account_id, kind="conversation")).items}
                for name, account_id in zip(DEMO_ACCOUNTS, account_ids)
            }
            if all(f"hello {name} 👋" in previews[name] for name in DEMO_ACCOUNTS):
                break
            await asyncio.sleep(0.25)
        else:
            pytest.fail(f"the DMs did not reach the demo accounts: {previews}")
        print(f"injected DMs visible in the console after {time.monotonic() - started:.1f} s")
        channels = await engine.views.channels()
        assert all(c.unread_count > 0 for c in channels)

        assert await setup_demo_workspace(engine) == account_ids  # a second run reuses them
    finally:
        await engine.stop()
