"""Two engine processes on one home (issue 12 §3): the second must not start. Before the home
lock it ran its own pool on the same accounts, took the first one's replies in flight
(`sending`) for leftovers of a crash, requeued them and sent some twice."""
from __future__ import annotations

import asyncio
import os
import sys

import pytest

from app.engine.paths import app_paths
from app.engine.store.db import Database

from .engine_process import ROOT, EngineProcess
from .harness import site_copies, stored_texts, until
from .test_crash_safety import _planned, _replies

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


async def test_a_second_engine_on_the_same_home_leaves_the_replies_in_flight_alone(
        tmp_path, site, control, slow_replies):
    home = tmp_path / "home"
    db = Database(app_paths(home).default_database_url)
    first = EngineProcess(home, site.base_url, tmp_path / "first.log")
    try:
        await first.start()
        login = asyncio.ensure_future(first.ask({"login": "solo"}, timeout=50))
        ticket = await control.wait_for_qr(timeout_s=30)
        await control.scan(ticket["token"])
        await control.confirm(ticket["token"], "solo")
        account_id = (await login)["account"]
        dm = await control.inject_dm("Bob", "Do you ship?", creator="solo")
        await until(lambda: _has(db, account_id, "Do you ship?"), timeout=30, what="the DM stored")
        item = _planned(account_id, "conversation", dm["conversation_id"], "Yes, everywhere")
        slow_replies.hold()
        await first.ask({"reply": item})
        await until(lambda: slow_replies.held >= 1, timeout=30, what="the reply in flight")

        second_log = tmp_path / "second.log"
        with second_log.open("wb") as log:
            second = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.e2e.engine_process", str(home), site.base_url, cwd=ROOT,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                env={**os.environ, "PYTHONPATH": str(ROOT)})
            out, _ = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 1 and b"ready" not in out
        assert f"already running on this data folder (process {first.process.pid}" in second_log.read_text()
        assert [(status, code) for _, status, code in await _replies(db)] == [("sending", None)]

        slow_replies.release()
        await until(lambda: _sent(db), timeout=30, what="the reply sent")
        assert await site_copies(control, "solo", "Yes, everywhere") == 1
    finally:
        slow_replies.release()
        await first.stop()
        await db.close()


async def _sent(db: Database) -> bool:
    return [status for _, status, _ in await _replies(db)] in (["sent"], ["confirmed"])


async def _has(db: Database, account_id: str, text: str) -> bool:
    return text in await stored_texts(db, account_id)
