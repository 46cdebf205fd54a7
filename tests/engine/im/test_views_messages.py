"""A topic's messages: the newest page first, scrolling back and forth, replies in context."""
from datetime import datetime, timezone

import pytest

from app.engine.im.types import MessageCursor, TopicRef
from app.engine.outbox_store import enqueue, mark_unsent
from app.engine.store.models import ReplyStatus

from .helpers import at, comment, dm

WORK = TopicRef("acc-a", "content", "v1")


async def test_scrolling_back_then_forward_shows_every_message_once_in_order(views, accounts, feed):
    await accounts("acc-a")
    # 23 comments, several sharing a timestamp (ordered by arrival), stored in shuffled batches.
    comments = [comment(f"c{i:02}", "v1", f"第{i}条", minute=i // 3) for i in range(23)]
    await feed("acc-a", comments=comments[10:])
    await feed("acc-a", comments=comments[:10])
    await feed("acc-a", comments=[comment("x1", "v2", "another work", 0)])
    expected = await _all_in_db_order(views)
    times = [i[1] for i in expected]
    assert times == sorted(times) and len(expected) == 23

    newest = await views.messages(WORK, limit=5)
    assert newest.after is None
    assert [m.created_at for m in newest.items] == sorted(m.created_at for m in newest.items)

    backwards, page = [], newest
    while True:
        backwards = [m.id for m in page.items] + backwards
        if page.before is None:
            break
        page = await views.messages(WORK, before=page.before, limit=5)
    assert backwards == [i[0] for i in expected]
    assert len(backwards) == 23 and len(set(backwards)) == 23

    forwards = [m.id for m in page.items]  # the oldest page
    while page.after is not None:
        page = await views.messages(WORK, after=page.after, limit=5)
        forwards += [m.id for m in page.items]
    assert forwards == backwards


async def test_new_messages_show_on_the_newest_page_and_when_scrolling_forward(views, accounts, feed):
    await accounts("acc-a")
    await feed("acc-a", comments=[comment(f"c{i}", "v1", str(i), i) for i in range(1, 7)])
    older = await views.messages(WORK, before=(await views.messages(WORK, limit=3)).before, limit=3)
    assert [m.id for m in older.items] == ["c1", "c2", "c3"] and older.before is None

    await feed("acc-a", comments=[comment("c7", "v1", "7", 7)])

    assert [m.id for m in (await views.messages(WORK, limit=3)).items] == ["c5", "c6", "c7"]
    newer = await views.messages(WORK, after=older.after, limit=3)
    assert [m.id for m in newer.items] == ["c4", "c5", "c6"] and newer.after is not None
    newest = await views.messages(WORK, after=MessageCursor.decode(newer.after), limit=3)
    assert [m.id for m in newest.items] == ["c7"] and newest.after is None


async def _all_in_db_order(views):
    page = await views.messages(WORK, limit=500)
    return [(m.id, m.created_at) for m in page.items]


async def test_a_reply_shows_the_comment_it_answers_even_when_the_parent_comes_later(views, accounts, feed):
    await accounts("acc-a")
    await feed("acc-a", comments=[comment("c2", "v1", "同意楼上", 2, parent="c1")])
    orphan = (await views.messages(WORK)).items[0]
    assert (orphan.reply_to_id, orphan.reply_to_text) == ("c1", None)

    await feed("acc-a", comments=[comment("c1", "v1", "这个多少钱？", 1)])
    first, reply = (await views.messages(WORK)).items
    assert (first.id, first.reply_to_id) == ("c1", None)
    assert (reply.reply_to_id, reply.reply_to_text) == ("c1", "这个多少钱？")
    assert (reply.author_name, reply.kind, reply.direction, reply.is_read) == ("张三", "comment", "in", False)


async def test_our_reply_shows_its_outbox_status_and_error(views, accounts, feed, db):
    await accounts("acc-a")
    await feed("acc-a", comments=[comment("c1", "v1", "发货了吗", 1)])
    now = datetime.now(timezone.utc)
    row, _ = await db.write(enqueue, WORK, "已经发货了", "c1", "小美", None, now)

    queued = (await views.messages(WORK)).items[-1]
    assert (queued.text, queued.direction, queued.reply_id) == ("已经发货了", "out", row.id)
    assert (queued.reply_status, queued.reply_error, queued.reply_to_text) == ("queued", None, "发货了吗")

    await db.write(mark_unsent, row.id, ReplyStatus.FAILED, "rate_limited", "平台限流，请稍后重试", None, now)
    failed = (await views.messages(WORK)).items[-1]
    assert (failed.reply_status, failed.reply_error) == ("failed", "平台限流，请稍后重试")


async def test_direct_messages_page(views, accounts, feed):
    await accounts("acc-a")
    await feed("acc-a", messages=[dm("m1", "p1", "在吗", 1), dm("m2", "p1", "在的", 2, direction="out", sender="客服")])

    page = await views.messages(TopicRef("acc-a", "conversation", "p1"))

    assert [(m.id, m.kind, m.direction, m.author_name) for m in page.items] == [
        ("m1", "direct_message", "in", "李四"), ("m2", "direct_message", "out", "客服")]
    assert page.items[0].created_at == at(1)
    assert page.before is None and page.after is None


async def test_a_direct_message_says_its_kind_and_a_comment_has_none(views, accounts, feed):
    await accounts("acc-a")
    await feed("acc-a", messages=[dm("m1", "p1", "[图片]", 1) | {"message_type": "image"}, dm("m2", "p1", "你好", 2)],
               comments=[comment("c1", "v1", "评论", 1)])

    dms = (await views.messages(TopicRef("acc-a", "conversation", "p1"))).items
    assert [m.message_type for m in dms] == ["image", "text"]
    assert (await views.messages(TopicRef("acc-a", "content", "v1"))).items[0].message_type is None


async def test_bad_cursors_get_clear_errors(views, accounts):
    await accounts("acc-a")
    with pytest.raises(ValueError, match="message cursor"):
        await views.messages(WORK, before="yesterday")
    with pytest.raises(ValueError, match="either before or after"):
        await views.messages(WORK, before="1:1", after="2:2")


async def test_the_page_around_a_message_ends_with_it_and_pages_both_ways(views, accounts, feed):
    await accounts("acc-a")
    # c3 shares its millisecond with c4 to c8, stored after it: the page still ends at c3.
    await feed("acc-a", comments=[comment(f"c{i}", "v1", str(i), min(i, 3)) for i in range(1, 9)])
    page = await views.messages_around(WORK, "c3", limit=2)
    assert [m.id for m in page.items] == ["c2", "c3"]
    older = await views.messages(WORK, before=page.before, limit=5)
    newer = await views.messages(WORK, after=page.after, limit=5)
    assert [m.id for m in older.items] == ["c1"] and older.before is None
    assert [m.id for m in newer.items] == ["c4", "c5", "c6", "c7", "c8"]

    gone = await views.messages_around(WORK, "no-such-comment", limit=2)
    assert [m.id for m in gone.items] == ["c7", "c8"]  # the newest page


async def test_the_cursors_beyond_a_message_include_its_whole_millisecond(views, accounts, feed):
    await accounts("acc-a")
    await feed("acc-a", comments=[comment(f"c{i}", "v1", str(i), minute) for i, minute in enumerate([1, 2, 3, 3, 4], 1)])
    c3, c4 = [m for m in (await views.messages(WORK)).items if m.id in ("c3", "c4")]
    through = await views.messages(WORK, before=views.cursor_through(c3), limit=10)
    assert [m.id for m in through.items] == ["c1", "c2", "c3", "c4"]  # c4: same millisecond
    start = await views.messages(WORK, after=views.cursor_from(c4), limit=10)
    assert [m.id for m in start.items] == ["c3", "c4", "c5"]
