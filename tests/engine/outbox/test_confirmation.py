"""The outbox together with the DataStore and the IM views: what the operator sees in the
topic while a reply goes queued → sent → confirmed, and that the crawl's copy of our reply
merges with it instead of showing the text twice."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.engine.events import MessageStatusChanged
from app.engine.im.views import ImViews
from app.engine.platform import ReplyBlocked
from app.engine.records import Batch
from app.engine.store.datastore import DataStore

from .conftest import ACCOUNT, COMMENT, CONTENT_REF, CONVERSATION, CONVERSATION_REF, WORK, wait_for_status


@pytest.fixture
def store(seeded_db, bus):
    return DataStore(seeded_db, bus)


@pytest.fixture
def views(seeded_db, bus):
    return ImViews(seeded_db, bus)


def _crawled_comment(platform_id: str, text: str, parent: str | None = COMMENT) -> dict:
    return {
        "platform_comment_id": platform_id,
        "platform_content_id": WORK,
        "parent_platform_comment_id": parent,
        "author_id": "u-" + ACCOUNT,
        "author_name": "Shop",
        "text": text,
        "created_at": datetime.now(timezone.utc),
        "direction": "out",
    }


async def _ours(views: ImViews, ref):
    page = await views.messages(ref)
    return [m for m in page.items if m.direction == "out"]


async def test_reply_goes_queued_sent_confirmed_in_the_topic(outbox, store, views, platform, events):
    reply_id = await outbox.reply(CONTENT_REF, "We ship tomorrow", reply_to=COMMENT)
    [queued] = await _ours(views, CONTENT_REF)
    assert (queued.id, queued.reply_status, queued.reply_to_id) == (f"local:{reply_id}", "queued", COMMENT)
    assert queued.reply_to_text == "How much is it?"

    await outbox.start()
    sent = await wait_for_status(outbox, reply_id, "sent")
    [shown] = await _ours(views, CONTENT_REF)
    assert (shown.id, shown.reply_status) == (sent.platform_reply_id, "sent")

    # The next crawl sees our reply on the platform.
    result = await store.ingest(Batch(ACCOUNT, comments=[_crawled_comment(sent.platform_reply_id, "We ship tomorrow")]))
    assert not result.rejected
    confirmed = await outbox.get(reply_id)
    assert confirmed.status == "confirmed" and confirmed.confirmed_at is not None
    [shown] = await _ours(views, CONTENT_REF)
    assert (shown.id, shown.reply_status, shown.reply_id) == (sent.platform_reply_id, "confirmed", reply_id)
    topic = await views.topic(CONTENT_REF)
    assert topic.message_count == 2 and topic.unread_count == 1
    await events.until(lambda: [e.status for e in events.of(MessageStatusChanged)
                                if e.reply_id == reply_id][-1:] == ["confirmed"])


async def test_the_page_pushing_our_dm_before_send_returns_shows_it_once(outbox, store, views, platform):
    """The sandbox inbox pushes every new message over its websocket, ours included, so the
    DataStore may store our DM before `send_reply` has returned its id."""

    async def push_back(item):
        await store.ingest(Batch(ACCOUNT, messages=[{
            "platform_message_id": item.platform_id,
            "platform_conversation_id": CONVERSATION,
            "sender_id": "u-" + ACCOUNT,
            "text": item.text,
            "created_at": item.at,
            "direction": "out",
        }]))

    platform.on_posted = push_back
    await outbox.start()
    reply_id = await outbox.reply(CONVERSATION_REF, "Thanks for writing!")
    row = await wait_for_status(outbox, reply_id, "confirmed")
    ours = await _ours(views, CONVERSATION_REF)
    assert [(m.id, m.text, m.reply_status) for m in ours] == [
        (row.platform_reply_id, "Thanks for writing!", "confirmed")
    ]
    assert (await views.topic(CONVERSATION_REF)).message_count == 2


async def test_failed_and_cancelled_replies_show_their_state_and_reason(outbox, views, platform):
    platform.script = [ReplyBlocked("rate limited")]
    await outbox.start()
    blocked = await outbox.reply(CONTENT_REF, "first")
    await wait_for_status(outbox, blocked, "blocked")
    await outbox.stop()
    cancelled = await outbox.reply(CONTENT_REF, "second")
    await outbox.cancel(cancelled)

    shown = {m.text: (m.reply_status, m.reply_error) for m in await _ours(views, CONTENT_REF)}
    assert shown == {"first": ("blocked", "rate limited"), "second": ("cancelled", None)}


async def test_search_finds_a_queued_reply(outbox, views):
    await outbox.reply(CONTENT_REF, "包邮到北京")
    hits = (await views.search("北京")).items
    assert [h.message.text for h in hits] == ["包邮到北京"]
