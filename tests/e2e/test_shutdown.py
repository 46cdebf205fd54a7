"""Ctrl+C in a terminal: the terminal sends SIGINT to the whole foreground process group, so
the engine, Playwright's driver and (unless it is kept out) the browser get it at once. The
sessions must be saved before the browser goes."""
from __future__ import annotations

import asyncio
import os
import signal

import pytest

from app.engine.accounts import AccountService
from app.engine.bus import EventBus
from app.engine.paths import app_paths
from app.engine.secrets import KEY_FILE_NAME, SecretBox
from app.engine.store.db import Database

from .engine_process import EngineProcess
from .harness import stored_texts, until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


async def test_sigint_to_the_process_group_saves_every_session_first(tmp_path, site, control):
    home = tmp_path / "home"
    log_file = tmp_path / "engine.log"
    child = EngineProcess(home, site.base_url, log_file)
    db = Database(app_paths(home).default_database_url)
    try:
        await child.start()
        login = asyncio.ensure_future(child.ask({"login": "ctrl-c"}, timeout=50))
        ticket = await control.wait_for_qr(timeout_s=30)
        await control.scan(ticket["token"])
        await control.confirm(ticket["token"], "ctrl-c")
        account_id = (await login)["account"]
        # A push moves what the page keeps (its last sync time): closing must save it.
        await control.inject_dm("Bob", "before ctrl-c", creator="ctrl-c")
        await until(lambda: _stored(db, account_id, "before ctrl-c"), timeout=30, what="the DM stored")
        os.killpg(child.process.pid, signal.SIGINT)  # what Ctrl+C in the terminal does
        assert await asyncio.wait_for(child.process.wait(), 30) == 0
    finally:
        await child.stop()
    log = log_file.read_text(encoding="utf-8", errors="replace")
    assert "could not save" not in log, log[-3000:]
    # The session saved at shutdown holds the page's state from after the push.
    key = (app_paths(home).config_dir / KEY_FILE_NAME).read_bytes().strip()  # the child's (no keyring)
    accounts = AccountService(db, EventBus(), SecretBox(key, source="file"))
    state = await accounts.load_storage_state(account_id)
    synced = [item["value"] for origin in state["origins"] for item in origin["localStorage"]
              if item["name"] == "sbx.lastSync"]
    assert synced
    await db.close()


async def _stored(db, account_id, text):
    return text in await stored_texts(db, account_id)
