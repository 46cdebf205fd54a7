"""Read marks and unread badges: they drop when the operator reads, and come back on request."""
import asyncio

from app.engine.events import UnreadChanged
from app.engine.im.types import TopicRef, UnreadTotals

from .helpers import comment, dm

WORK = TopicRef("acc-a", "content", "v1")
CHAT = TopicRef("acc-a", "conversation", "p1")


async def _two_accounts(accounts, feed):
    await accounts("acc-a", "acc-b")
    await feed(
        "acc-a",
        comments=[comment("c1", "v1", "一", 1), comment("c2", "v1", "二", 2), comment("c3", "v2", "三", 3),
                  comment("r1", "v1", "我们的回复", 4, direction="out")],
        messages=[dm("m1", "p1", "在吗", 1), dm("m2", "p1", "？", 2)],
    )
    await feed("acc-b", messages=[dm("m1", "p9", "你好", 1)])


async def _badges(views):
    channels = {c.account_id: c.unread_count for c in await views.channels()}
    topics = {t.ref.platform_id: t.unread_count for t in (await views.topics("acc-a")).items}
    return channels, topics


async def test_unread_totals_count_inbound_comments_and_dms(views, accounts, feed):
    await _two_accounts(accounts, feed)

    assert await views.unread_totals("acc-a") == UnreadTotals(comments=3, direct_messages=2)
    assert await views.unread_totals("acc-b") == UnreadTotals(comments=0, direct_messages=1)
    assert (await views.unread_totals()).total == 6


async def test_reading_messages_lowers_the_badges_and_mark_unread_restores_them(views, accounts, feed):
    await _two_accounts(accounts, feed)

    assert await views.mark_read(WORK, ["c1", "r1", "no-such-id"]) >= 1  # r1 (ours) may be read already

    assert await _badges(views) == ({"acc-a": 4, "acc-b": 1}, {"v1": 1, "v2": 1, "p1": 2})
    assert [m.is_read for m in (await views.messages(WORK)).items] == [True, False, True]

    assert await views.mark_unread(WORK, "c1") == 1
    assert await views.mark_unread(WORK, "r1") == 0  # our own reply is never unread

    assert await _badges(views) == ({"acc-a": 5, "acc-b": 1}, {"v1": 2, "v2": 1, "p1": 2})
    assert await views.unread_totals("acc-a") == UnreadTotals(comments=3, direct_messages=2)


async def test_reading_a_topic_a_channel_and_everything(views, accounts, feed):
    await _two_accounts(accounts, feed)

    assert await views.mark_read(CHAT) == 2
    assert await _badges(views) == ({"acc-a": 3, "acc-b": 1}, {"v1": 2, "v2": 1, "p1": 0})

    assert await views.mark_channel_read("acc-a") >= 3
    assert await _badges(views) == ({"acc-a": 0, "acc-b": 1}, {"v1": 0, "v2": 0, "p1": 0})
    assert all(m.is_read for m in (await views.messages(WORK)).items)

    assert await views.mark_all_read() == 1
    assert (await views.unread_totals()).total == 0
    assert [c.unread_count for c in await views.channels()] == [0, 0]


async def test_marks_tell_the_views_what_changed(views, accounts, feed, bus):
    await _two_accounts(accounts, feed)
    events = []
    bus.subscribe(UnreadChanged, events.append)

    await views.mark_read(WORK, ["c2"])
    assert await views.mark_read(WORK, ["c2"]) == 0  # nothing left to change: no event
    await views.mark_all_read()
    await asyncio.sleep(0)  # the bus delivers on the next loop turn

    assert events[0] == UnreadChanged(account_id="acc-a", topics=(WORK,))
    assert len(events) == 2
    assert events[1].account_id is None
    assert set(events[1].topics) == {WORK, TopicRef("acc-a", "content", "v2"), CHAT,
                                      TopicRef("acc-b", "conversation", "p9")}


async def test_marking_all_read_can_be_undone_exactly(views, accounts, feed):
    await _two_accounts(accounts, feed)
    await views.mark_read(WORK, ["c1"])  # read before: stays read after the undo
    before = await _badges(views)
    marked = await views.mark_all_read_undoably()
    assert marked.count == sum(before[0].values()) and (await views.unread_totals()).total == 0

    assert await views.restore_unread(marked) == marked.count
    assert await _badges(views) == before
    assert {m.id: m.is_read for m in (await views.messages(WORK)).items}["c1"] is True
    assert await views.restore_unread(marked) == 0  # nothing left to undo


async def test_mark_all_read_marks_what_was_counted_not_what_came_after(views, accounts, feed):
    await _two_accounts(accounts, feed)
    channels, up_to = await views.unread_snapshot()
    counted = sum(c.unread_count for c in channels)
    await feed("acc-b", messages=[dm("m2", "p9", "刚到 just arrived", 5)])  # while the operator reads the question
    marked = await views.mark_all_read_undoably(up_to)
    assert marked.count == counted == 6
    assert (await views.unread_totals()).total == 1  # the new message is still unread


async def test_messages_named_by_id_alone_are_marked_in_their_own_topics_and_account(views, accounts, feed, bus):
    await _two_accounts(accounts, feed)
    changed = []
    bus.subscribe(UnreadChanged, changed.append)

    # c1 is in v1, c3 in v2; acc-b's m1 (same id as acc-a's) stays unread
    assert await views.mark_messages_read("acc-a", "comment", ["c1", "c3", "c1", "unknown"]) == 2
    assert await views.mark_messages_read("acc-a", "direct_message", ["m1"]) == 1

    assert await _badges(views) == ({"acc-a": 2, "acc-b": 1}, {"v1": 1, "v2": 0, "p1": 1})
    await asyncio.sleep(0)
    assert {r.platform_id for e in changed for r in e.topics} == {"v1", "v2", "p1"}
    assert all(e.account_id == "acc-a" for e in changed)


async def test_topics_are_found_by_their_platform_id_in_every_account(views, accounts, feed):
    await _two_accounts(accounts, feed)
    await feed("acc-b", comments=[comment("x1", "v1", "也在 v1", 1)])

    assert await views.find_topics("v1") == [TopicRef("acc-a", "content", "v1"), TopicRef("acc-b", "content", "v1")]
    assert await views.find_topics("v1", account_id="acc-b") == [TopicRef("acc-b", "content", "v1")]
    assert await views.find_topics("p1", kind="content") == []
    assert await views.find_topics("p1") == [CHAT]
    assert await views.find_topics("nothing") == []

    # Found and read at once (an IM client's request_messages): a page only when one account has it.
    found, page = await views.find_newest("v1", account_id="acc-b", limit=10)
    assert found == [TopicRef("acc-b", "content", "v1")] and [m.id for m in page.items] == ["x1"]
    assert all(m.topic == found[0] for m in page.items)
    assert await views.find_newest("v1", limit=10) == (await views.find_topics("v1"), None)
    assert await views.find_newest("nothing") == ([], None)
