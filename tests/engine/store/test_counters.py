"""Topic and channel counters are recomputed from the messages, for the topics named only."""
from datetime import datetime, timezone

from sqlalchemy import update

from app.engine.records import Batch
from app.engine.store.counters import refresh_accounts, refresh_topics
from app.engine.store.models import Comment, Content
from store_helpers import (
    ACCOUNT,
    T0,
    channel,
    comment,
    content_ref,
    contents,
    conversation_ref,
    conversations,
    dm,
)


async def test_counters_follow_read_marks_and_ignore_our_own_messages(store, db):
    await store.ingest(Batch(ACCOUNT, comments=[
        comment("c1", t=1), comment("c2", t=2), comment("mine", t=3, direction="out"),
    ]))

    def read_c1(session):
        session.execute(update(Comment).where(Comment.platform_comment_id == "c1").values(is_read=True))
        refresh_topics(session, [content_ref("v1")])
        refresh_accounts(session, [ACCOUNT])

    await db.write(read_c1)
    video = (await contents(db))["v1"]
    assert (video.message_count, video.unread_count) == (3, 1)
    assert video.last_message_preview == "comment mine" and video.last_message_from == "fan mine"
    assert (await channel(db)).unread_count == 1


async def test_only_the_named_topics_are_recomputed(store, db):
    await store.ingest(Batch(ACCOUNT, comments=[comment("a", "v1"), comment("b", "v2")]))
    await db.write(lambda s: s.execute(update(Content).values(unread_count=42)))
    await db.write(lambda s: refresh_topics(s, [content_ref("v1")]))
    stored = await contents(db)
    assert stored["v1"].unread_count == 1 and stored["v2"].unread_count == 42


async def test_a_topic_without_a_row_is_left_alone(store, db):
    await db.write(lambda s: refresh_topics(s, [content_ref("nowhere"), conversation_ref("nobody")]))
    assert await contents(db) == {} and await conversations(db) == {}


async def test_the_channel_shows_the_newest_message_of_either_kind(store, db):
    await store.ingest(Batch(ACCOUNT, comments=[comment("c1", t=10)], messages=[dm("m1", t=20)]))
    shop = await channel(db)
    assert shop.last_message_preview == "message m1"
    assert shop.last_message_at == datetime.fromtimestamp(T0 + 20, timezone.utc)
    await store.ingest(Batch(ACCOUNT, comments=[comment("c2", t=30)]))
    shop = await channel(db)
    assert shop.last_message_preview == "comment c2" and shop.message_count == 3


async def test_a_channel_without_messages_has_empty_counters(store, db):
    await db.write(lambda s: refresh_accounts(s, [ACCOUNT]))
    shop = await channel(db)
    assert (shop.message_count, shop.unread_count, shop.last_message_at) == (0, 0, None)


async def test_previews_are_short(store, db):
    await store.ingest(Batch(ACCOUNT, comments=[comment("long", text="字" * 5000)]))
    assert len((await contents(db))["v1"].last_message_preview) == 120
