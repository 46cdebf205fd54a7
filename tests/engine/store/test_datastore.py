"""The DataStore: what a crawl batch does to the stored messages, counters and events."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from app.engine.events import MessagesAdded, MessagesUpdated
from app.engine.records import Batch, CommentRecord
from app.engine.store.counters import refresh_accounts, refresh_topics
from app.engine.store.datastore import DataStore
from app.engine.store.models import Comment, DirectMessage
from store_helpers import (
    ACCOUNT,
    T0,
    channel,
    comment,
    comments,
    content_ref,
    contents,
    conversation_ref,
    conversations,
    dm,
    messages,
)


async def mark_all_read(db):
    def mark(session):
        for model in (Comment, DirectMessage):
            session.execute(update(model).values(is_read=True))
        refresh_topics(session, [content_ref("v1"), content_ref("v2"), conversation_ref()])
        refresh_accounts(session, [ACCOUNT])

    await db.write(mark)


async def test_a_batch_is_stored_with_its_counters(store, db, events):
    result = await store.ingest(Batch(
        ACCOUNT,
        contents=[dict(platform_content_id="v1", title="Unboxing", publish_at=T0 - 3600)],
        comments=[comment("c1", t=1), comment("c2", t=2), comment("c3", "v2", t=3)],
        conversations=[dict(platform_conversation_id="peer-1", peer_name="Peer One")],
        messages=[dm("m1", t=4), dm("m2", t=5, direction="out", text="thanks!")],
    ))
    assert result.accepted == 7 and result.rejected == []
    assert sorted(result.added_message_ids) == ["c1", "c2", "c3", "m1", "m2"]
    stored = await contents(db)
    assert stored["v1"].title == "Unboxing" and stored["v1"].message_count == 2
    assert stored["v1"].unread_count == 2 and stored["v1"].last_message_preview == "comment c2"
    assert stored["v2"].message_count == 1  # created for its comment, no record of its own
    peer = (await conversations(db))["peer-1"]
    assert (peer.peer_name, peer.message_count, peer.unread_count) == ("Peer One", 2, 1)
    assert peer.last_message_preview == "thanks!"
    shop = await channel(db)
    assert (shop.message_count, shop.unread_count) == (5, 4)
    assert shop.last_message_at == datetime.fromtimestamp(T0 + 5, timezone.utc)
    await events.settle()
    (added,) = events.of(MessagesAdded)
    assert added.inbound_new == 4  # our own reply is not news
    assert set(added.topics) == {content_ref("v1"), content_ref("v2"), conversation_ref()}


async def test_ingesting_the_same_batch_again_changes_nothing(store, db, events):
    batch = Batch(ACCOUNT, comments=[comment("c1"), comment("c2", t=1)], messages=[dm("m1")])
    await store.ingest(batch)
    before = {k: (r.text, r.is_read, r.detected_at) for k, r in (await comments(db)).items()}
    await events.settle()
    events.events.clear()
    again = await store.ingest(batch)
    assert again.accepted == 3
    assert again.added_message_ids == [] and again.updated_message_ids == []
    after = {k: (r.text, r.is_read, r.detected_at) for k, r in (await comments(db)).items()}
    assert after == before
    await events.settle()
    assert events.events == []  # nothing changed, nobody is bothered


async def test_a_recrawl_never_resets_read_marks_or_our_direction(store, db):
    await store.ingest(Batch(ACCOUNT, comments=[comment("c1"), comment("ours", direction="out")],
                             messages=[dm("m1")]))
    await mark_all_read(db)
    # The page shows an edited text and no longer flags our comment as the author's.
    await store.ingest(Batch(ACCOUNT, comments=[comment("c1", text="edited"), comment("ours")],
                             messages=[dm("m1", text="edited too")]))
    stored = await comments(db)
    assert stored["c1"].text == "edited" and stored["c1"].is_read
    assert stored["ours"].direction == "out"
    assert (await messages(db))["m1"].is_read
    shop = await channel(db)
    assert shop.unread_count == 0 and shop.message_count == 3


async def test_edits_likes_and_recalls_are_updated_and_announced(store, db, events):
    await store.ingest(Batch(ACCOUNT, comments=[comment("c1", like_count=1)], messages=[dm("m1")]))
    await events.settle()
    events.events.clear()
    result = await store.ingest(Batch(
        ACCOUNT, comments=[comment("c1", like_count=7)], messages=[dm("m1", is_recalled=True)]
    ))
    assert sorted(result.updated_message_ids) == ["c1", "m1"]
    assert (await comments(db))["c1"].like_count == 7
    assert (await messages(db))["m1"].is_recalled
    await events.settle()
    (updated,) = events.of(MessagesUpdated)
    assert set(updated.message_ids) == {"c1", "m1"}
    assert events.of(MessagesAdded) == []


async def test_a_partial_record_does_not_erase_what_is_known(store, db):
    await store.ingest(Batch(
        ACCOUNT,
        contents=[dict(platform_content_id="v1", title="Unboxing", stats={"likes": 10})],
        comments=[comment("c1", author_avatar="https://cdn.example/a.png")],
    ))
    # A push carries only the essentials: no title, no author avatar, no stats.
    await store.ingest(Batch(
        ACCOUNT,
        contents=[dict(platform_content_id="v1")],
        comments=[dict(platform_comment_id="c1", platform_content_id="v1", text="comment c1",
                       created_at=T0, author_avatar=None)],
    ))
    video = (await contents(db))["v1"]
    assert video.title == "Unboxing" and video.stats == {"likes": 10}
    stored = (await comments(db))["c1"]
    assert stored.author_avatar == "https://cdn.example/a.png" and stored.author_name == "fan c1"


async def test_a_message_of_an_unknown_topic_is_visible_at_once(store, db):
    await store.ingest(Batch(ACCOUNT, comments=[comment("c1", "v9")], messages=[dm("m1", "peer-9")]))
    assert (await contents(db))["v9"].message_count == 1
    assert (await conversations(db))["peer-9"].unread_count == 1
    # The topic's own record arrives later and fills the row in; the counters stay.
    await store.ingest(Batch(
        ACCOUNT,
        contents=[dict(platform_content_id="v9", title="Late title")],
        conversations=[dict(platform_conversation_id="peer-9", peer_name="Nine")],
    ))
    assert (await contents(db))["v9"].title == "Late title"
    assert (await contents(db))["v9"].message_count == 1
    assert (await conversations(db))["peer-9"].peer_name == "Nine"


async def test_an_orphan_reply_is_kept_and_joins_its_parent_later(store, db):
    await store.ingest(Batch(ACCOUNT, comments=[comment("r1", parent_platform_comment_id="p1")]))
    assert (await comments(db))["r1"].parent_platform_comment_id == "p1"
    await store.ingest(Batch(ACCOUNT, comments=[comment("p1", t=-10)]))
    stored = await comments(db)
    assert set(stored) == {"p1", "r1"} and stored["r1"].parent_platform_comment_id == "p1"


async def test_the_same_message_twice_in_one_batch_is_stored_once(store, db):
    result = await store.ingest(Batch(ACCOUNT, comments=[comment("c1"), comment("c1", text="later")]))
    assert result.added_message_ids == ["c1"]
    assert (await comments(db))["c1"].text == "later"
    assert (await contents(db))["v1"].message_count == 1


async def test_times_are_normalised_to_utc(store, db):
    instant = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)
    beijing = instant.astimezone(timezone(timedelta(hours=8)))
    seconds = instant.timestamp()
    await store.ingest(Batch(ACCOUNT, comments=[
        comment("seconds", created_at=seconds),
        comment("millis", created_at=int(seconds * 1000)),
        comment("aware", created_at=beijing),
        comment("iso", created_at="2024-05-01T20:00:00.250+08:00"),
        comment("numeric-text", created_at=str(int(seconds * 1000))),
    ]))
    stored = await comments(db)
    assert {row.created_at for row in stored.values()} == {instant}
    assert all(row.created_at.tzinfo is not None for row in stored.values())


async def test_record_objects_are_accepted_as_well_as_dicts(store, db):
    record = CommentRecord(platform_comment_id="c1", platform_content_id="v1", text="hi",
                           created_at=datetime.now(timezone.utc))
    result = await store.ingest(Batch(ACCOUNT, comments=[record]))
    assert result.added_message_ids == ["c1"]


async def test_events_are_published_only_after_the_commit(store, db, bus):
    seen = []

    async def on_added(event):
        # A subscriber that reads at once finds what it was told about.
        seen.append(set(await comments(db)))

    bus.subscribe(MessagesAdded, on_added)
    await store.ingest(Batch(ACCOUNT, comments=[comment("c1")]))
    for _ in range(50):
        if seen:
            break
        await __import__("asyncio").sleep(0.01)
    assert seen == [{"c1"}]


async def test_batches_of_other_accounts_stay_apart(store, db):
    from app.engine.store.models import Account

    await db.write(lambda s: s.add(Account(id="acc-2", platform="sandbox", display_name="Two")))
    await store.ingest(Batch(ACCOUNT, comments=[comment("c1")]))
    await store.ingest(Batch("acc-2", comments=[comment("c1", text="same id, other account")]))
    first = await comments(db, account_id=ACCOUNT)
    second = await comments(db, account_id="acc-2")
    assert first["c1"].text == "comment c1" and second["c1"].text == "same id, other account"
    assert (await channel(db, "acc-2")).unread_count == 1 and (await channel(db)).unread_count == 1


async def test_a_forwarded_batch_is_stored_only_once_the_forward_took_it(db, bus, account):
    """A remote worker's journal (`forward`) gets every batch first: one it could not take
    (a full disk) is not stored either, so the crawl retries it instead of moving past it."""
    forwarded = []

    async def forward(batch):
        if batch.comments[0]["platform_comment_id"] == "c2":
            raise OSError("disk full")
        forwarded.append(batch)

    store = DataStore(db, bus, forward=forward)
    await store.ingest(Batch(ACCOUNT, comments=[comment("c1")]))
    with pytest.raises(OSError):
        await store.ingest(Batch(ACCOUNT, comments=[comment("c2")]))
    assert [b.comments[0]["platform_comment_id"] for b in forwarded] == ["c1"]
    assert set(await comments(db)) == {"c1"}
