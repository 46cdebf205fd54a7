"""A crawl that finds one of our sent replies on the platform confirms it: the placeholder
message becomes the platform's message, never a duplicate."""
import uuid

from app.engine.events import MessageStatusChanged
from app.engine.records import Batch
from app.engine.store.models import Comment, DirectMessage, Reply, utcnow
from store_helpers import ACCOUNT, T0, comment, comments, content_ref, contents, dm, messages


async def queue_reply(db, *, kind="comment", platform_reply_id=None, placeholder_id=None,
                      status="sent"):
    """A reply as the outbox leaves it: the outbox row and its placeholder message."""
    reply_id = str(uuid.uuid4())
    now = utcnow()

    def write(session):
        session.add(Reply(
            id=reply_id, account_id=ACCOUNT, text="thank you!", status=status,
            target_type="comment" if kind == "comment" else "direct_message",
            topic_platform_id="v1" if kind == "comment" else "peer-1",
            target_platform_id="c1" if kind == "comment" else None,
            platform_reply_id=platform_reply_id, attempts=1,
        ))
        common = dict(account_id=ACCOUNT, text="thank you!", created_at=now, direction="out",
                      is_read=True, reply_id=reply_id)
        pid = placeholder_id or f"local:{reply_id}"
        if kind == "comment":
            session.add(Comment(platform_comment_id=pid, platform_content_id="v1",
                                parent_platform_comment_id="c1", **common))
        else:
            session.add(DirectMessage(platform_message_id=pid, platform_conversation_id="peer-1",
                                      **common))

    await db.write(write)
    return reply_id


async def reply_row(db, reply_id):
    return await db.read(lambda s: s.get(Reply, reply_id))


async def test_the_placeholder_takes_the_platform_id_when_the_crawl_sees_the_reply(store, db, events):
    await store.ingest(Batch(ACCOUNT, comments=[comment("c1")]))
    reply_id = await queue_reply(db, platform_reply_id="r-777")
    result = await store.ingest(Batch(ACCOUNT, comments=[
        comment("c1"),
        comment("r-777", t=5, text="thank you!", parent_platform_comment_id="c1", author_name="Shop"),
    ]))
    assert result.added_message_ids == []  # not a new message: our placeholder, confirmed
    stored = await comments(db)
    assert set(stored) == {"c1", "r-777"}
    mine = stored["r-777"]
    assert (mine.reply_id, mine.direction, mine.is_read) == (reply_id, "out", True)
    assert mine.created_at.timestamp() == T0 + 5  # the platform's time replaces ours
    reply = await reply_row(db, reply_id)
    assert reply.status == "confirmed" and reply.confirmed_at is not None
    video = (await contents(db))["v1"]
    assert (video.message_count, video.unread_count) == (2, 1)
    await events.settle()
    (status,) = events.of(MessageStatusChanged)
    assert (status.reply_id, status.status, status.message_id) == (reply_id, "confirmed", "r-777")
    assert status.topic == content_ref("v1")


async def test_a_placeholder_the_outbox_already_renamed_is_confirmed(store, db):
    reply_id = await queue_reply(db, platform_reply_id="r-1", placeholder_id="r-1")
    await store.ingest(Batch(ACCOUNT, comments=[comment("r-1", text="thank you!")]))
    stored = await comments(db)
    assert list(stored) == ["r-1"] and stored["r-1"].reply_id == reply_id
    assert stored["r-1"].direction == "out"  # the page did not say so; it stays ours
    assert (await reply_row(db, reply_id)).status == "confirmed"


async def test_a_placeholder_gives_way_to_a_copy_crawled_earlier(store, db):
    # The crawl stored the platform's copy before the outbox learnt its id.
    await store.ingest(Batch(ACCOUNT, messages=[dm("m-9", text="thank you!", direction="out")]))
    reply_id = await queue_reply(db, kind="dm", platform_reply_id="m-9")
    await store.ingest(Batch(ACCOUNT, messages=[dm("m-9", text="thank you!", direction="out")]))
    stored = await messages(db)
    assert list(stored) == ["m-9"] and stored["m-9"].reply_id == reply_id
    assert (await reply_row(db, reply_id)).status == "confirmed"


async def test_replies_still_in_flight_are_left_alone(store, db):
    reply_id = await queue_reply(db, status="queued")
    await store.ingest(Batch(ACCOUNT, comments=[comment("c1")]))
    assert (await reply_row(db, reply_id)).status == "queued"
    assert f"local:{reply_id}" in await comments(db)


async def test_a_reply_the_operator_confirmed_by_looking_becomes_its_crawled_copy(store, db, events):
    """An uncertain reply confirmed by the operator has no platform id; when the crawl later
    reaches its copy, that copy replaces the placeholder instead of showing the text twice."""
    import time

    await store.ingest(Batch(ACCOUNT, comments=[comment("c1")]))
    reply_id = await queue_reply(db, status="confirmed")
    now = time.time() - T0
    await store.ingest(Batch(ACCOUNT, comments=[
        comment("c1"),
        comment("r-other", t=now, text="thank you!", parent_platform_comment_id="c1"),  # a fan's, same words
        comment("r-900", t=now, text="thank you!\n", parent_platform_comment_id="c1", direction="out"),
    ]))
    stored = await comments(db)
    assert set(stored) == {"c1", "r-other", "r-900"}  # the placeholder gave way; no second copy of ours
    assert stored["r-900"].reply_id == reply_id and stored["r-other"].reply_id is None
    reply = await reply_row(db, reply_id)
    assert (reply.status, reply.platform_reply_id) == ("confirmed", "r-900")
    await events.settle()
    assert [(e.reply_id, e.message_id) for e in events.of(MessageStatusChanged)] == [(reply_id, "r-900")]
