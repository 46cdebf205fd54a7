"""What `hiscrm serve` prints while it runs (app/headless_report.py), counted on a real
database: the comments and DMs the platforms' batches stored, not our own replies' rows, and
the replies that reached the platform. (The printing process itself: tests/test_cli.py.)"""
from datetime import datetime, timezone

import pytest

from app.engine.engine import Engine
from app.engine.events import MessageStatusChanged
from app.engine.im.types import TopicRef
from app.engine.paths import app_paths
from app.engine.records import Batch, CommentRecord, ContentRecord, ConversationRecord, MessageRecord
from app.engine.secrets import SecretBox
from app.engine.settings import Settings
from app.headless_report import HeadlessReport


@pytest.fixture
async def engine(tmp_path):
    settings = Settings(first_run_done=True)
    settings.platforms["sandbox"] = {"enabled": False}
    engine = Engine.create(app_paths(tmp_path / "home"), settings, start_browsers=False,
                           secrets=SecretBox.generate())
    await engine.open()  # no outbox dispatcher: the replies below stay queued
    yield engine
    await engine.stop()


def batch(account_id: str, n: int) -> Batch:
    now = datetime.now(timezone.utc)
    return Batch(
        account_id=account_id,
        contents=[ContentRecord(platform_content_id="v-1", title="新品开箱")],
        comments=[CommentRecord(platform_comment_id=f"c-{n}-{i}", platform_content_id="v-1",
                                author_name="小王", text=f"多少钱？{i}", created_at=now) for i in range(2)],
        conversations=[ConversationRecord(platform_conversation_id="d-1", peer_name="Li")],
        messages=[MessageRecord(platform_message_id=f"m-{n}", platform_conversation_id="d-1",
                                sender_name="Li", text="在吗", created_at=now)],
    )


def status(reply_id: str, account_id: str, state: str) -> MessageStatusChanged:
    return MessageStatusChanged(reply_id, account_id, TopicRef(account_id, "content", "v-1"), f"local:{reply_id}",
                                state)


async def test_the_summary_names_the_accounts_and_the_log_and_each_line_what_came_since(engine, tmp_path):
    account_id = await engine.accounts.create("sandbox", "演示账号 A")
    await engine.store.ingest(batch(account_id, 0))  # before the start: not counted
    lines: list[str] = []
    report = HeadlessReport(engine, log_file=tmp_path / "hiscrm.log", interval_s=60, write=lines.append)
    await report.start()
    try:
        label = engine.platforms.get("sandbox").label
        assert lines == ["hiscrm: 1 account", f"  演示账号 A · {label} · not logged in",
                         f"hiscrm: log file {tmp_path / 'hiscrm.log'}"]
        await engine.store.ingest(batch(account_id, 1))
        await engine.outbox.reply(TopicRef(account_id, "content", "v-1"), "99 元")  # our row: not "stored"
        for reply_id, states in (("r-1", ("sending", "sent", "confirmed")),  # sent once, confirmed later
                                 ("r-2", ("sending", "confirmed")),  # its copy was stored first
                                 ("r-3", ("sending", "queued")),  # failed, will retry: not sent
                                 ("r-4", ("confirmed",))):  # the operator confirmed an uncertain one
            for state in states:
                engine.bus.publish(status(reply_id, account_id, state))
        await engine.store.ingest(batch(account_id, 1))  # the same records again: nothing new
        assert await report.report() == "hiscrm: last minute: stored 2 comments, 1 DM; sent 2 replies"
        assert await report.report() == "hiscrm: last minute: stored 0 comments, 0 DMs; sent 0 replies"
    finally:
        await report.stop()
