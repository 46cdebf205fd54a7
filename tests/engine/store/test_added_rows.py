"""The rows `MessagesAdded` carries are the rows a view reads right after the commit, although
the DataStore makes them from what it has just written instead of reading them back."""
import uuid

from app.engine.events import MessagesAdded
from app.engine.im.views import ImViews
from app.engine.records import Batch
from app.engine.store.models import Reply
from store_helpers import ACCOUNT, comment, content_ref, conversation_ref, dm


async def added_and_shown(store, db, bus, events, batch, refs):
    """The new messages of each topic as the event tells them and as the view shows them."""
    await events.settle()
    events.events.clear()
    await store.ingest(batch)
    await events.settle()
    (added,) = events.of(MessagesAdded)
    views = ImViews(db, bus)
    told = {ref: added.messages.in_topic(ref) for ref in refs}
    shown = {ref: [m for m in (await views.messages(ref)).items if m.id in set(added.message_ids)]
             for ref in refs}
    return told, shown


async def test_new_comments_and_dms_are_told_as_the_view_shows_them(store, db, bus, events):
    await store.ingest(Batch(ACCOUNT, comments=[comment("old", text="asked before")]))
    batch = Batch(ACCOUNT, comments=[
        comment("c1", t=1, parent_platform_comment_id="old"),  # answers a stored comment
        comment("c2", t=2, parent_platform_comment_id="c1"),  # answers one of the same batch
        comment("c3", t=3, parent_platform_comment_id="gone"),  # its parent is unknown
        comment("c4", t=3, direction="out", author_avatar="https://cdn.example/me.png"),
        comment("c5", "v2", t=4, is_read=True),
    ], messages=[
        dm("m1", t=1, message_type="image"),
        dm("m2", t=1, direction="out", text="thanks!"),  # the same second: row order decides
        dm("m3", "peer-2", t=2, sender_name=None),
    ])
    refs = [content_ref("v1"), content_ref("v2"), conversation_ref(), conversation_ref("peer-2")]
    told, shown = await added_and_shown(store, db, bus, events, batch, refs)
    assert told == shown
    assert [m.id for m in told[content_ref("v1")]] == ["c1", "c2", "c3", "c4"]
    assert [m.reply_to_text for m in told[content_ref("v1")]] == ["asked before", "comment c1", None, None]
    assert [m.message_type for m in told[conversation_ref()]] == ["image", "text"]


async def test_a_new_copy_that_confirms_a_reply_is_told_with_its_reply(store, db, bus, events):
    """A reply whose placeholder is gone (or never stored) is confirmed by a new row: that row
    is linked to the reply after it was written, and the event says so."""
    reply_id = str(uuid.uuid4())
    await db.write(lambda s: s.add(Reply(
        id=reply_id, account_id=ACCOUNT, text="thank you!", status="sent", target_type="comment",
        topic_platform_id="v1", target_platform_id="c1", platform_reply_id="r-1", attempts=1)))
    batch = Batch(ACCOUNT, comments=[comment("c1"), comment("r-1", t=1, text="thank you!")])
    told, shown = await added_and_shown(store, db, bus, events, batch, [content_ref("v1")])
    assert told == shown
    mine = told[content_ref("v1")][-1]
    assert (mine.id, mine.reply_id, mine.reply_status, mine.direction) == ("r-1", reply_id, "confirmed", "out")


async def test_the_topic_rows_told_are_the_rows_the_topic_list_shows(store, db, bus, events):
    """The writer takes them from its counter refresh (UPDATE ... RETURNING) instead of reading
    them again: counters, preview, title and the topic's failed replies as a view reads them."""
    await store.ingest(Batch(ACCOUNT, contents=[dict(platform_content_id="v1", title="新品")],
                             comments=[comment("old", text="asked before")]))
    await db.write(lambda s: s.add(Reply(
        id=str(uuid.uuid4()), account_id=ACCOUNT, text="sorry", status="failed", target_type="comment",
        topic_platform_id="v1", target_platform_id="old", attempts=3)))
    events.events.clear()
    await store.ingest(Batch(ACCOUNT, comments=[
        comment("c1", t=1), comment("c2", "v2", t=2, direction="out"), comment("old", text="asked again")],
        messages=[dm("m1", t=3, text="在吗")]))
    await events.settle()
    (added,) = events.of(MessagesAdded)
    views = ImViews(db, bus)
    refs = [content_ref("v1"), content_ref("v2"), conversation_ref()]
    assert sorted(added.topic_rows, key=lambda t: (t.ref.kind, t.ref.platform_id)) == [await views.topic(r) for r in refs]
    told = {t.ref: t for t in added.topic_rows}
    assert (told[content_ref("v1")].message_count, told[content_ref("v1")].unread_count) == (2, 2)
    assert told[content_ref("v1")].failed_replies == 1 and told[content_ref("v1")].title == "新品"
    assert told[conversation_ref()].last_message_preview == "在吗"
