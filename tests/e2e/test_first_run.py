"""The first run survives a kill -9 (issue 12 §14). `hiscrm serve` on a new home sets up the
sandbox demo workspace (two accounts logged in by the demo "phone"); killed right after, the
next start must find both accounts still logged in. Before, the sandbox site kept new login
sessions in memory for up to 5 s before saving its world: the engine had the cookies and had
noted the first run as done, the restarted site no longer knew the sessions, and both demo
accounts were expired for good (the first run does not repeat)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from app.engine.paths import app_paths
from app.engine.store.db import Database
from app.engine.store.models import Account

from .harness import FAST, until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]

ROOT = Path(__file__).resolve().parents[2]


def serve(home: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    with log.open("ab") as out:  # its own process group: the kill takes its Chromium too
        return subprocess.Popen([sys.executable, "-m", "app", "--home", str(home), "serve"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def first_run_done(home: Path) -> bool:
    try:
        return json.loads((home / "config" / "settings.json").read_text())["first_run_done"]
    except (OSError, ValueError, KeyError):
        return False


async def accounts(db: Database) -> list[tuple[str, str, datetime | None]]:
    def query(session):
        return [(a.display_name, a.login_status, a.last_crawl_at) for a in session.scalars(select(Account))]

    return await db.read(query)


async def test_a_kill_9_right_after_the_first_run_leaves_the_demo_accounts_logged_in(tmp_path):
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.json").write_text(json.dumps(
        {**FAST, "platforms": {"sandbox": {"demo_traffic": False}}}))
    log = tmp_path / "serve.log"
    first = serve(home, log)
    try:
        await until(lambda: first_run_done(home) or first.poll() is not None, timeout=90,
                    what="the first-run set-up")
        os.killpg(first.pid, signal.SIGKILL)  # right after: no shutdown code runs anywhere
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert first_run_done(home), log.read_text()[-3000:]

    restarted_at = datetime.now(timezone.utc)
    second = serve(home, log)
    db = Database(app_paths(home).default_database_url)
    try:
        def polled_since_restart(rows):
            return len(rows) == 2 and all(
                status != "logged_in" or (crawled and crawled.replace(tzinfo=crawled.tzinfo or timezone.utc)
                                          > restarted_at) for _, status, crawled in rows)

        rows = await until(lambda: _rows_if(db, polled_since_restart), timeout=60,
                           what="both demo accounts checked after the restart")
        assert sorted(status for _, status, _ in rows) == ["logged_in", "logged_in"], rows
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
        await db.close()


async def _rows_if(db, predicate):
    rows = await accounts(db)
    return rows if predicate(rows) else None


