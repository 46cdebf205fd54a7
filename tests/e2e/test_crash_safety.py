"""kill -9 of the engine while replies are being sent (DESIGN.md §7: "no accepted message
lost, no reply sent twice or lost").

The engine runs in a child process (engine_process.py) against the sandbox site run by this
test, so the site and what it holds survive the kill. The site stores each reply at once but
holds its answer back, and the child is killed while it waits: the platform has the reply,
the engine's database says `sending`. After a restart on the same database every reply must
be on the site exactly once, and every comment and DM the audience wrote must be stored.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from app.engine.paths import app_paths
from app.engine.store.db import Database
from app.engine.store.models import Reply

from .harness import Console, running_engine, site_copies, stored_texts, until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]

ROOT = Path(__file__).resolve().parents[2]
CREATORS = ("kill-a", "kill-b")


class Child:
    """The engine in a child process of its own process group (its Chromium included)."""

    def __init__(self, home: Path, site_url: str, plan_file: Path, log_file: Path) -> None:
        self.args = [sys.executable, "-m", "tests.e2e.engine_process", str(home), site_url, str(plan_file)]
        self.log_file = log_file
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_file.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=log, start_new_session=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        assert line.strip() == b"queued", f"the engine did not start; see {self.log_file}"

    async def kill(self) -> None:
        """kill -9, the whole process group at once: no shutdown code runs anywhere."""
        os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()
        print("T", round(__import__("time").monotonic(),1), 'await self.process.wait()', flush=True)

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 20)
            print("T", round(__import__("time").monotonic(),1), 'await asyncio.wait_for(self.process.wait(), 20)', flush=True)
        except asyncio.TimeoutError:
            await self.kill()
            print("T", round(__import__("time").monotonic(),1), 'await self.kill()', flush=True)


async def _replies(db: Database) -> list[tuple[str, str, int, str | None]]:
    def query(session):
        return [
            (r.text, r.status, r.attempts, r.error_code)
            for r in session.scalars(select(Reply).order_by(Reply.created_at))
        ]

    return await db.read(query)


async def test_kill_9_while_sending_loses_nothing_and_sends_nothing_twice(tmp_path, site, control, slow_replies):
    home = tmp_path / "home"
    inbound: dict[str, list[str]] = {creator: [] for creator in CREATORS}

    # 1. The operator logs two accounts in and receives a comment and a DM on each.
    plan = []
    async with running_engine(home, site.base_url) as engine:
        console = Console(engine, control)
        print("T", round(__import__("time").monotonic(),1), "phase1 start", flush=True)
        accounts = {creator: await console.login(creator) for creator in CREATORS}
        print("T", round(__import__("time").monotonic(),1), "logged in", flush=True)
        for creator, account_id in accounts.items():
            work_ref, comment_id, dm_ref = await console.receive(creator, account_id, tag=f" [{creator}]")
            inbound[creator] += [f"这个多少钱？How much? [{creator}]", f"Do you ship to Shanghai? 🚚 [{creator}]"]
            plan += [
                _planned(work_ref, f"评论回复 reply 1 [{creator}]", reply_to=comment_id),
                _planned(dm_ref, f"DM answer 2 [{creator}]"),
                _planned(dm_ref, f"DM answer 3 [{creator}]"),
            ]
    print("T", round(__import__("time").monotonic(),1), "engine stopped", flush=True)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    db = Database(app_paths(home).default_database_url)
    child = Child(home, site.base_url, plan_file, tmp_path / "engine.log")
    try:
        # 2. A child engine sends the replies; the site takes them but holds its answers.
        slow_replies.hold()
        await child.start()
        print("T", round(__import__("time").monotonic(),1), 'await child.start()', flush=True)
        await until(lambda: slow_replies.held >= 2, timeout=30, what="both accounts' first replies in flight")
        print("T", round(__import__("time").monotonic(),1), 'await until(lambda: slow_replies.held >= 2, timeou', flush=True)
        for creator in CREATORS:  # traffic while the replies hang
            await control.inject_dm("Carol", f"still there? [{creator}]", creator=creator)
            print("T", round(__import__("time").monotonic(),1), 'await control.inject_dm("Carol", f"still there? [{', flush=True)
            inbound[creator].append(f"still there? [{creator}]")
        await until(lambda: _all_stored(db, accounts, inbound), timeout=20, what="the new DMs stored")
        print("T", round(__import__("time").monotonic(),1), 'await until(lambda: _all_stored(db, accounts, inbo', flush=True)
        assert {status for _, status, _, _ in await _replies(db)} == {"sending", "queued"}

        await child.kill()
        print("T", round(__import__("time").monotonic(),1), 'await child.kill()', flush=True)
        slow_replies.release()
        for creator in CREATORS:  # traffic while the engine is down
            await control.inject_comment("Dave", f"hello? [{creator}]", creator=creator)
            print("T", round(__import__("time").monotonic(),1), 'await control.inject_comment("Dave", f"hello? [{cr', flush=True)
            await control.inject_dm("Erin", f"anyone? [{creator}]", creator=creator)
            print("T", round(__import__("time").monotonic(),1), 'await control.inject_dm("Erin", f"anyone? [{creato', flush=True)
            inbound[creator] += [f"hello? [{creator}]", f"anyone? [{creator}]"]

        # 3. Restart on the same database, with the same plan (queued again: no duplicates).
        await child.start()
        print("T", round(__import__("time").monotonic(),1), 'await child.start()', flush=True)
        await until(lambda: _all_confirmed(db, len(plan)), timeout=40, what="every reply confirmed")
        print("T", round(__import__("time").monotonic(),1), 'await until(lambda: _all_confirmed(db, len(plan)),', flush=True)
        await until(lambda: _all_stored(db, accounts, inbound), timeout=20, what="every inbound message")
        print("T", round(__import__("time").monotonic(),1), 'await until(lambda: _all_stored(db, accounts, inbo', flush=True)
    finally:
        await child.stop()
        print("T", round(__import__("time").monotonic(),1), 'await child.stop()', flush=True)

    replies = await _replies(db)
    assert len(replies) == len(plan)  # queued once, although the plan was queued twice
    recovered = [text for text, _, attempts, code in replies if code == "interrupted"]
    assert len(recovered) >= 2 and all("reply 1" in text for text in recovered)
    for creator, account_id in accounts.items():
        texts = await stored_texts(db, account_id)
        for item in plan:
            if item["topic"]["account_id"] == account_id:
                assert await site_copies(control, creator, item["text"]) == 1, item["text"]
                assert texts.count(item["text"]) == 1, item["text"]
    await db.close()


def _planned(ref, text: str, reply_to: str | None = None) -> dict:
    topic = {"account_id": ref.account_id, "kind": ref.kind, "platform_id": ref.platform_id}
    return {"topic": topic, "text": text, "reply_to": reply_to, "request_id": f"plan:{text}"}


async def _all_confirmed(db: Database, expected: int) -> bool:
    replies = await _replies(db)
    return len(replies) == expected and all(status == "confirmed" for _, status, _, _ in replies)


async def _all_stored(db: Database, accounts: dict[str, str], inbound: dict[str, list[str]]) -> bool:
    for creator, account_id in accounts.items():
        if not set(inbound[creator]) <= set(await stored_texts(db, account_id)):
            return False
    return True
