"""Channel list and topic lists, as the operator sees them in the left-hand panes."""
import pytest

from app.engine.im.types import TopicRef
from app.engine.store.models import Account

from .helpers import at, comment, content, conversation, dm


async def test_channel_list_shows_every_account_most_recent_activity_first(views, accounts, feed):
    await accounts("acc-quiet", "acc-old", "acc-new")
    await feed("acc-old", comments=[comment("c1", "v1", "早上好", 1)])
    await feed("acc-new", messages=[dm("m1", "peer-1", "在吗", 5), dm("m2", "peer-1", "急", 6)])

    channels = await views.channels()

    assert [c.account_id for c in channels] == ["acc-new", "acc-old", "acc-quiet"]
    new, old, quiet = channels
    assert (new.unread_count, new.message_count, new.last_message_at) == (2, 2, at(6))
    assert new.last_message_preview == "急"
    assert (old.unread_count, old.message_count) == (1, 1)
    assert (quiet.unread_count, quiet.message_count, quiet.last_message_at) == (0, 0, None)
    assert quiet.name == "账号 acc-quiet" and quiet.platform == "sandbox"


async def test_topics_newest_activity_first_and_works_without_comments_last(views, accounts, feed):
    await accounts("acc-a")
    await feed(
        "acc-a",
        contents=[content("v-silent", "没人评论的视频"), content("v-busy", "热门视频")],
        comments=[comment("c1", "v-busy", "好看", 3), comment("c2", "v-busy", "再来一个", 7)],
        conversations=[conversation("peer-1", "小王")],
        messages=[dm("m1", "peer-1", "你好", 5)],
    )

    page = await views.topics("acc-a")

    assert [t.ref.platform_id for t in page.items] == ["v-busy", "peer-1", "v-silent"]
    busy, chat, silent = page.items
    assert (busy.title, busy.unread_count, busy.message_count, busy.last_message_at) == ("热门视频", 2, 2, at(7))
    assert busy.last_message_preview == "再来一个" and not busy.is_private
    assert (chat.title, chat.is_private, chat.last_message_from) == ("小王", True, "李四")
    assert (silent.message_count, silent.last_message_at) == (0, None)
    assert page.after is None


async def test_paging_through_topics_visits_each_once_in_order(views, accounts, feed):
    await accounts("acc-a")
    # Ties on the activity time across kinds, and quiet topics of both kinds.
    comments = [comment(f"c{i}", f"v{i}", "评论", minute=i // 2) for i in range(9)]
    messages = [dm(f"m{i}", f"p{i}", "私信", minute=i // 2) for i in range(7)]
    await feed(
        "acc-a",
        contents=[content(f"v{i}") for i in range(12)],
        comments=comments,
        conversations=[conversation(f"p{i}") for i in range(9)],
        messages=messages,
    )
    everything = (await views.topics("acc-a", limit=500)).items
    assert len(everything) == 21

    seen, cursor = [], None
    while True:
        page = await views.topics("acc-a", limit=2, cursor=cursor)
        seen += page.items
        if page.after is None:
            break
        cursor = page.after

    assert [t.ref for t in seen] == [t.ref for t in everything]
    active = [t.last_message_at for t in seen if t.last_message_at is not None]
    assert active == sorted(active, reverse=True) and len(active) == 16
    assert all(t.last_message_at is None for t in seen[16:])


async def test_topic_filters_by_kind_and_unread(views, accounts, feed):
    await accounts("acc-a")
    await feed(
        "acc-a",
        comments=[comment("c1", "v1", "a", 1), comment("c2", "v2", "b", 2)],
        messages=[dm("m1", "p1", "c", 3), dm("m2", "p2", "ours", 4, direction="out")],
    )
    await views.mark_read(TopicRef("acc-a", "content", "v2"))

    works = await views.topics("acc-a", kind="content")
    chats = await views.topics("acc-a", kind="conversation")
    unread = await views.topics("acc-a", unread_only=True)

    assert [t.ref.platform_id for t in works.items] == ["v2", "v1"]
    assert [t.ref.platform_id for t in chats.items] == ["p2", "p1"]
    assert [t.ref.platform_id for t in unread.items] == ["p1", "v1"]


async def test_topic_lookup(views, accounts, feed):
    await accounts("acc-a")
    await feed("acc-a", conversations=[conversation("p1", None)], messages=[dm("m1", "p1", "hi", 1)])

    topic = await views.topic(TopicRef("acc-a", "conversation", "p1"))
    assert topic is not None and topic.title == "peer-p1"  # no name: the peer's id, never blank
    assert await views.topic(TopicRef("acc-a", "conversation", "nobody")) is None


async def test_bad_requests_get_clear_errors(views, accounts):
    await accounts("acc-a")
    with pytest.raises(ValueError, match="topic cursor"):
        await views.topics("acc-a", cursor="garbage")
    with pytest.raises(ValueError, match="topic kind"):
        await views.topics("acc-a", kind="video")
    with pytest.raises(ValueError, match="limit"):
        await views.topics("acc-a", limit=0)


async def test_a_channel_says_who_the_account_is_and_which_worker_holds_it(views, db):
    def insert(session):
        session.add(Account(id="acc-w", platform="sandbox", display_name="账号", platform_username="小店",
                            platform_user_id="u1", worker_id="worker-2", user_info={"followers": 3}))

    await db.write(insert)
    (channel,) = await views.channels()
    assert (channel.platform_username, channel.platform_user_id, channel.worker_id, channel.user_info) == (
        "小店", "u1", "worker-2", {"followers": 3})
