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

import pytest
from sqlalchemy import select

from app.engine.paths import app_paths
from app.engine.reply_text import text_key
from app.engine.store.db import Database
from app.engine.store.models import Reply

from .engine_process import EngineProcess
from .harness import site_copies, stored_texts, until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]

CREATORS = ("kill-a", "kill-b")


async def test_kill_9_while_sending_loses_nothing_and_sends_nothing_twice(tmp_path, site, control, slow_replies):
    home = tmp_path / "home"
    db = Database(app_paths(home).default_database_url)
    child = EngineProcess(home, site.base_url, tmp_path / "engine.log")
    inbound: dict[str, list[str]] = {creator: [] for creator in CREATORS}
    try:
        # 1. The operator logs two accounts in (the phone scans each QR code), and the
        #    audience writes a comment and a DM to each.
        await child.start()
        accounts, plan = {}, []
        for n, creator in enumerate(CREATORS):
            login = asyncio.ensure_future(child.ask({"login": creator}, timeout=50))
            ticket = await control.wait_for_qr(timeout_s=30)
            await control.scan(ticket["token"])
            await control.confirm(ticket["token"], creator)
            account_id = accounts[creator] = (await login)["account"]
            comment = (await control.inject_comment("小红", f"多少钱？ [{creator}]", creator=creator))["comment"]
            dm = await control.inject_dm("Bob", f"Do you ship? [{creator}]", creator=creator)
            inbound[creator] += [f"多少钱？ [{creator}]", f"Do you ship? [{creator}]"]
            replies = [
                _planned(account_id, "content", comment["work_id"], f"评论回复 [{creator}]", comment["cid"]),
                # A blank line: the site's reply box stores it with one more line break.
                _planned(account_id, "conversation", dm["conversation_id"], f"DM answer\n\n[{creator}]"),
            ]
            # Each account's first reply will be in flight at the kill, its second still queued:
            # a comment reply for one account, a DM for the other.
            plan += replies if n % 2 == 0 else replies[::-1]
        await until(lambda: _all_stored(db, accounts, inbound), timeout=30, what="the comments and DMs stored")

        # 2. The operator answers them; the site takes the replies but holds its answers back.
        slow_replies.hold()
        for item in plan:
            await child.ask({"reply": item})
        await until(lambda: slow_replies.held >= 2, timeout=30, what="both accounts' first replies in flight")
        for creator in CREATORS:  # traffic while the replies hang
            await control.inject_dm("Carol", f"still there? [{creator}]", creator=creator)
            inbound[creator].append(f"still there? [{creator}]")
        await until(lambda: _all_stored(db, accounts, inbound), timeout=20, what="the new DMs stored")
        assert sorted(status for _, status, _ in await _replies(db)) == ["queued", "queued", "sending", "sending"]

        await child.kill()
        slow_replies.release()
        for creator in CREATORS:  # traffic while the engine is down
            await control.inject_comment("Dave", f"hello? [{creator}]", creator=creator)
            await control.inject_dm("Erin", f"anyone? [{creator}]", creator=creator)
            inbound[creator] += [f"hello? [{creator}]", f"anyone? [{creator}]"]

        # 3. Restart on the same database; the replies are queued again (nothing doubles).
        await child.start()
        for item in plan:
            await child.ask({"reply": item})
        await until(lambda: _all_sent(db, len(plan)), timeout=40, what="every reply sent")
        await until(lambda: _all_stored(db, accounts, inbound), timeout=20, what="every inbound message")
    finally:
        await child.stop()

    replies = await _replies(db)
    assert len(replies) == len(plan)
    # The replies in flight at the kill were found on the site, not resent (a sent reply keeps
    # no error code, so the engine's log says which were found).
    log = (tmp_path / "engine.log").read_text(encoding="utf-8", errors="replace")
    texts_by_id = await db.read(lambda s: {r.id: r.text for r in s.scalars(select(Reply))})
    recovered = sorted(text for reply_id, text in texts_by_id.items()
                       if f"reply {reply_id} was already on the platform" in log)
    assert recovered == sorted([plan[0]["text"], plan[2]["text"]])
    for creator, account_id in accounts.items():
        texts = await stored_texts(db, account_id)
        for item in plan:
            if item["topic"]["account_id"] == account_id:
                assert await site_copies(control, creator, item["text"]) == 1, item["text"]
                assert [text_key(t) for t in texts].count(text_key(item["text"])) == 1, item["text"]
    await db.close()


def _planned(account_id: str, kind: str, topic_id: str, text: str, reply_to: str | None = None) -> dict:
    topic = {"account_id": account_id, "kind": kind, "platform_id": topic_id}
    return {"topic": topic, "text": text, "reply_to": reply_to, "request_id": f"plan:{text}"}


async def _replies(db: Database) -> list[tuple[str, str, str | None]]:
    def query(session):
        return [(r.text, r.status, r.error_code) for r in session.scalars(select(Reply).order_by(Reply.created_at))]

    return await db.read(query)


async def _all_sent(db: Database, expected: int) -> bool:
    replies = await _replies(db)
    return len(replies) == expected and all(status in ("sent", "confirmed") for _, status, _ in replies)


async def _all_stored(db: Database, accounts: dict[str, str], inbound: dict[str, list[str]]) -> bool:
    for creator, account_id in accounts.items():
        if not set(inbound[creator]) <= set(await stored_texts(db, account_id)):
            return False
    return True
