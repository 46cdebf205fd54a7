"""End to end: a master (the engine with its embedded server, its own browser pool off, as
`hiscrm serve --server --no-browsers` runs it) and two `hiscrm worker` processes on their own
homes, against the sandbox site the test runs.

An account is dealt to the first worker and logged in through the relayed QR flow (the
operator's login session on the master; the sandbox "phone" scans the QR code the master was
shown); a comment and a DM arrive at the master; a reply goes out and is confirmed. Then the
first worker dies (SIGKILL of its whole process group, browser included) while the site has
a second reply but its answer is held back: the master deals the account to the second
worker, which finds that reply on the platform instead of sending it again, and picks up
the traffic that arrived meanwhile. Nothing lost, nothing sent twice.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import AsyncIterator

import pytest

from app.bootstrap import HEARTBEAT_ENV, running_servers, switch_server
from app.engine.engine import Engine
from app.engine.paths import app_paths
from app.engine.settings import ServerSettings
from app.engine.store.models import ReplyStatus

from .harness import FAST, Console, e2e_settings, site_copies, until

pytestmark = pytest.mark.browser  # the workers' Chromium runs in their processes

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-worker-token"
HEARTBEAT_TIMEOUT_S = 6.0  # the master's (30 s by default): a dead worker's accounts move sooner


@contextlib.asynccontextmanager
async def running_master(home: Path, site_url: str) -> AsyncIterator[tuple[Engine, str]]:
    settings = e2e_settings()
    settings.first_run_done = True
    settings.server = ServerSettings(enabled=True, port=0, token=TOKEN)
    engine = Engine.create(app_paths(home), settings, start_browsers=False)
    engine.platforms.get("sandbox").use_site(site_url)
    await engine.start()
    try:
        await switch_server(engine, required=True)
        [server] = running_servers(engine)
        server.worker_link.heartbeat_timeout_s = HEARTBEAT_TIMEOUT_S
        yield engine, server.url
    finally:
        await engine.stop()


class WorkerProcess:
    """`hiscrm worker` in a child process of its own session (so a kill takes its browser too)."""

    def __init__(self, home: Path, worker_id: str) -> None:
        self.home = home
        self.worker_id = worker_id
        self.process: asyncio.subprocess.Process | None = None
        self.log = None

    async def start(self, master_url: str, site_url: str) -> None:
        (self.home / "config").mkdir(parents=True, exist_ok=True)
        (self.home / "config" / "settings.json").write_text(json.dumps(
            {**FAST, "first_run_done": True, "platforms": {"sandbox": {"demo_traffic": False}}}))
        self.log = open(self.home.parent / f"{self.worker_id}.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "--home", str(self.home), "worker", "--master", master_url,
            "--worker-id", self.worker_id, "--sandbox-url", site_url, cwd=ROOT, start_new_session=True,
            env={**os.environ, "HISCRM_MASTER_TOKEN": TOKEN, HEARTBEAT_ENV: "1",
                 "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
            stdout=asyncio.subprocess.PIPE, stderr=self.log)
        line = (await asyncio.wait_for(self.process.stdout.readline(), 60)).decode()
        assert "attached to" in line, (line, (self.home.parent / f"{self.worker_id}.log").read_text())

    def kill(self) -> None:
        """The machine died: the worker, its browser driver and its Chromium, at once."""
        os.killpg(self.process.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 60)
            except TimeoutError:
                self.kill()
        if self.log is not None:
            self.log.close()


async def test_a_remote_worker_logs_in_receives_and_replies_and_a_dead_ones_account_moves_on(
        tmp_path, site, control, slow_replies):
    creator = "Creator Remote"
    async with running_master(tmp_path / "master", site.base_url) as (master, url):
        console = Console(master, control)
        account_id = await master.accounts.create("sandbox", creator)
        first, second = WorkerProcess(tmp_path / "w1", "w1"), WorkerProcess(tmp_path / "w2", "w2")
        try:
            await first.start(url, site.base_url)
            await until(lambda: _worker_of(master, account_id, "w1"), what="the account dealt to w1")

            # The operator logs the account in from the master; the worker runs the page.
            await _relayed_login(console, account_id, creator)
            assert await master.accounts.load_storage_state(account_id)

            work, cid, dm = await console.receive(creator, account_id, tag=" #1")
            first_reply = await master.outbox.reply(work, "包邮，今天发货 #1", reply_to=cid)
            await until(lambda: _status(master, first_reply, ReplyStatus.CONFIRMED), timeout=30,
                        what="the first reply confirmed")

            await second.start(url, site.base_url)
            # The worst moment: the site has the reply, the worker dies before it hears so.
            slow_replies.hold()
            second_reply = await master.outbox.reply(dm, "Yes, we ship to Shanghai #2")
            await until(lambda: slow_replies.held == 1, timeout=30, what="the second reply on the site")
            first.kill()
            slow_replies.release()
            await control.inject_comment("小红", "还有货吗？ #3", creator=creator)  # while no worker holds it

            await until(lambda: _worker_of(master, account_id, "w2"), timeout=30, what="the account dealt to w2")
            await until(lambda: _status(master, second_reply, ReplyStatus.CONFIRMED), timeout=60,
                        what="the second reply confirmed (found, not sent again)")
            await until(lambda: _has(console, account_id, "还有货吗？ #3"), timeout=30, what="the comment w2 picked up")
        finally:
            await first.stop()
            await second.stop()
        texts = await console.stored_texts(account_id)
        for text in ("这个多少钱？How much? #1", "Do you ship to Shanghai? 🚚 #1", "还有货吗？ #3"):
            assert texts.count(text) == 1, (text, texts)
        assert await site_copies(control, creator, "包邮，今天发货 #1") == 1
        assert await site_copies(control, creator, "Yes, we ship to Shanghai #2") == 1


async def _relayed_login(console: Console, account_id: str, creator: str) -> None:
    from urllib.parse import parse_qs, urlparse

    from app.engine.events import LoginProgress

    engine = console.engine
    session_id = await engine.logins.start(account_id)
    [shown] = await until(lambda: console.seen(LoginProgress, session_id=session_id, state="qr_ready"),
                          timeout=60, what="the QR code relayed to the master")
    assert shown.qr_png.startswith(b"\x89PNG")
    token = parse_qs(urlparse(shown.qr_url).query)["token"][0]
    await console.control.scan(token)
    await console.control.confirm(token, creator)
    session = await until(lambda: (s := engine.logins.session(session_id)) is not None and s.finished and s,
                          timeout=30, what="the relayed login")
    assert session.state == "success", (session.state, session.message)


async def _worker_of(engine: Engine, account_id: str, worker_id: str) -> bool:
    account = await engine.accounts.get(account_id)
    return account.worker_id == worker_id and any(h.holder_id == worker_id for h in engine.holders.holders())


async def _status(engine: Engine, reply_id: str, status: ReplyStatus) -> bool:
    row = await engine.outbox.get(reply_id)
    assert row.status not in (ReplyStatus.FAILED.value, ReplyStatus.UNCERTAIN.value), (row.status, row.error_message)
    return row.status == status.value


async def _has(console: Console, account_id: str, text: str) -> bool:
    return text in await console.stored_texts(account_id)
