"""What keeps a reply from going twice or to the wrong place: the uncertain state the
operator resolves, the target's context built from the database, the platform's
capabilities, and the send's created record confirming the reply at once."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.engine.events import MessageStatusChanged
from app.engine.im.views import ImViews
from app.engine.outbox import ReplyRejected, ReplyStateError
from app.engine.outbox_store import claim_next
from app.engine.platform import ReplyTarget, ReplyUncertain, TransientError
from app.engine.records import Batch
from app.engine.store.datastore import DataStore
from app.engine.store.models import Comment, Reply, utcnow

from .conftest import ACCOUNT, COMMENT, CONTENT_REF, CONVERSATION, CONVERSATION_REF, WORK, wait_for_status


async def _leave_sending(outbox, db, ref, text, reply_to=None) -> str:
    """A reply marked `sending` by a process that then died."""
    reply_id = await outbox.reply(ref, text, reply_to=reply_to)
    await db.write(claim_next, ref.account_id, utcnow())
    return reply_id


# ---- Uncertain: the look cannot tell ---------------------------------------------------------
async def test_a_look_that_cannot_decide_waits_for_the_operator_and_sends_nothing(outbox, seeded_db, platform, events):
    reply_id = await _leave_sending(outbox, seeded_db, CONTENT_REF, "Is it there?", COMMENT)
    platform.find_errors = [ReplyUncertain("the thread has more replies than the page shows")]
    await outbox.start()
    row = await wait_for_status(outbox, reply_id, "uncertain")
    assert platform.sends == [] and platform.finds == 1
    assert "more replies than the page shows" in row.error_message and "confirm" in row.error_message
    # The dispatcher leaves it alone (it is not queued): a younger reply of the account is
    # sent, and the uncertain one was neither looked for again nor sent.
    await wait_for_status(outbox, await outbox.reply(CONTENT_REF, "Meanwhile"), "sent")
    assert platform.sends == [(ACCOUNT, "Meanwhile")] and platform.finds == 1
    assert (await outbox.get(reply_id)).status == "uncertain"
    shown = [e for e in events.of(MessageStatusChanged) if e.reply_id == reply_id]
    assert shown[-1].status == "uncertain" and shown[-1].error == row.error_message
    with pytest.raises(ReplyStateError):
        await outbox.retry(reply_id)  # "retry" would look again and be uncertain again


async def test_the_operator_confirms_an_uncertain_reply_was_sent(outbox, seeded_db, platform):
    reply_id = await _leave_sending(outbox, seeded_db, CONTENT_REF, "Seen it there", COMMENT)
    platform.find_errors = [ReplyUncertain("cannot see the whole thread")]
    await outbox.start()
    await wait_for_status(outbox, reply_id, "uncertain")
    await outbox.confirm_sent(reply_id)
    row = await outbox.get(reply_id)
    assert (row.status, row.error_code, row.error_message) == ("confirmed", None, None)
    assert row.confirmed_at is not None and platform.sends == []


async def test_the_operator_sends_an_uncertain_reply_again_without_another_look(outbox, seeded_db, platform):
    reply_id = await _leave_sending(outbox, seeded_db, CONTENT_REF, "Not there after all", COMMENT)
    platform.find_errors = [ReplyUncertain("cannot see the whole thread")]
    await outbox.start()
    await wait_for_status(outbox, reply_id, "uncertain")
    await outbox.send_again(reply_id)
    row = await wait_for_status(outbox, reply_id, "sent")
    assert platform.finds == 1 and len(platform.sends) == 1 and platform.copies("Not there after all") == 1
    assert row.error_code is None


async def test_a_look_that_failed_is_repeated_never_taken_as_not_sent(outbox, seeded_db, platform):
    reply_id = await _leave_sending(outbox, seeded_db, CONTENT_REF, "Look again", COMMENT)
    platform.find_errors = [TransientError("an answer of the page could not be read")]
    await outbox.start()
    await wait_for_status(outbox, reply_id, "sent")
    assert platform.finds == 2 and len(platform.sends) == 1


# ---- The target's context --------------------------------------------------------------------
def _add_thread(session) -> None:
    """A reply (c-200) to the seeded comment, and a reply to that reply (c-300)."""
    now = datetime.now(timezone.utc)
    session.add(Comment(account_id=ACCOUNT, platform_comment_id="c-200", platform_content_id=WORK,
                        parent_platform_comment_id=COMMENT, author_id="fan-2", author_name="Bo",
                        text="Me too", created_at=now))
    session.add(Comment(account_id=ACCOUNT, platform_comment_id="c-300", platform_content_id=WORK,
                        parent_platform_comment_id="c-200", author_id="fan-3", author_name="Cy",
                        text="Same  here\n\n", created_at=now))


async def test_the_target_carries_what_the_engine_stored_about_it(outbox, seeded_db):
    await seeded_db.write(_add_thread)
    await outbox.reply(CONTENT_REF, "To the top comment", reply_to=COMMENT)
    await outbox.reply(CONTENT_REF, "Deep in the thread", reply_to="c-300")
    await outbox.reply(CONTENT_REF, "On the work")
    await outbox.reply(CONVERSATION_REF, "To Li")
    targets = []
    for _ in range(4):
        row, target = await seeded_db.write(claim_next, ACCOUNT, utcnow())
        targets.append(target)
        await seeded_db.write(_settle, row.id)
    top, deep, work, dm = targets
    assert (top.topic_title, top.target_text, top.target_author, top.target_author_id, top.thread_platform_id) == (
        "A video", "How much is it?", "Fan", "fan-1", COMMENT)
    assert (deep.target_platform_id, deep.target_text, deep.target_author, deep.thread_platform_id) == (
        "c-300", "Same  here\n\n", "Cy", COMMENT)
    assert (work.target_platform_id, work.topic_title, work.target_text) == (None, "A video", None)
    assert (dm.kind, dm.topic_platform_id, dm.peer_name, dm.peer_platform_id) == (
        "direct_message", CONVERSATION, "Li", None)


def _settle(session, reply_id) -> None:
    """Mark a claimed reply sent so the next claim takes the next one (the test's dispatcher)."""
    session.get(Reply, reply_id).status = "sent"


# ---- Capabilities ----------------------------------------------------------------------------
async def test_a_dm_on_a_platform_without_direct_messages_is_refused(outbox, seeded_db, platform):
    platform.capable = frozenset({"comments"})
    assert await outbox.refusal(CONVERSATION_REF) == "the sandbox platform cannot send direct messages"
    assert await outbox.refusal(CONTENT_REF) is None
    with pytest.raises(ReplyRejected, match="cannot send direct messages"):
        await outbox.reply(CONVERSATION_REF, "hello")
    assert await outbox.list() == []
    await outbox.reply(CONTENT_REF, "comments still work")


# ---- The created record ----------------------------------------------------------------------
def _record_of(item) -> Batch:
    """The platform's record of a posted reply (with the line break its reply box adds)."""
    return Batch(ACCOUNT, comments=[{
        "platform_comment_id": item.platform_id, "platform_content_id": WORK,
        "parent_platform_comment_id": COMMENT, "author_id": "u-" + ACCOUNT, "author_name": "Shop",
        "text": item.text + "\n", "created_at": item.at, "direction": "out",
    }])


async def test_a_reply_found_by_the_look_is_confirmed_by_the_record_it_saw(outbox, seeded_db, bus, platform):
    """A copy in a thread longer than the crawl reads would otherwise stay `sent` for ever."""
    platform.store, platform.created = DataStore(seeded_db, bus), _record_of
    reply_id = await _leave_sending(outbox, seeded_db, CONTENT_REF, "Found in a long thread", COMMENT)
    await platform.post(ACCOUNT, ReplyTarget("comment", WORK, COMMENT), "Found in a long thread")
    await outbox.start()
    row = await wait_for_status(outbox, reply_id, "confirmed")
    assert platform.sends == [] and row.platform_reply_id == platform.posted[0].platform_id


async def test_the_send_answer_s_record_confirms_the_reply_right_after_sent(outbox, seeded_db, bus, platform, events):
    store = DataStore(seeded_db, bus)
    platform.store, platform.created = store, _record_of
    ingested = []
    real_ingest = store.ingest

    async def ingest(batch):
        ingested.append(batch.source)
        return await real_ingest(batch)

    store.ingest = ingest
    await outbox.start()
    reply_id = await outbox.reply(CONTENT_REF, "Confirmed at once", reply_to=COMMENT)
    row = await wait_for_status(outbox, reply_id, "confirmed")

    def statuses():
        return [e.status for e in events.of(MessageStatusChanged) if e.reply_id == reply_id]
    await events.until(lambda: "confirmed" in statuses())
    assert statuses() == ["queued", "sending", "sent", "confirmed"]
    assert len(ingested) == 1  # only the send's answer was stored: no crawl in between
    views = ImViews(seeded_db, bus)
    ours = [m for m in (await views.messages(CONTENT_REF)).items if m.direction == "out"]
    assert [(m.id, m.reply_status, m.reply_id) for m in ours] == [(row.platform_reply_id, "confirmed", reply_id)]
