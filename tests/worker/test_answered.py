"""The replies a worker sent, remembered on its disk by request id for a day."""
from __future__ import annotations

from app.worker.answered import AnsweredReplies


async def test_a_sent_reply_is_remembered_across_a_restart(tmp_path):
    answered = AnsweredReplies(tmp_path / "answered.db")
    assert await answered.result("reply-1") is None
    await answered.remember("reply-1", {"status": "success", "platform_reply_id": "p1"})
    await answered.remember("reply-1", {"status": "success", "platform_reply_id": "other"})  # the first stays
    answered.close()

    answered = AnsweredReplies(tmp_path / "answered.db")
    assert await answered.result("reply-1") == {"status": "success", "platform_reply_id": "p1"}
    answered.close()


async def test_entries_older_than_the_keeping_time_are_dropped(tmp_path):
    answered = AnsweredReplies(tmp_path / "answered.db")
    await answered.remember("reply-1", {"status": "success"})
    answered.close()
    answered = AnsweredReplies(tmp_path / "answered.db", keep_s=0)
    assert await answered.result("reply-1") is None
    answered.close()
