"""The reply outbox's state machine on real databases (SQLite file and PostgreSQL).

What an operator notices: the reply shows in the topic at once, it reaches the platform
exactly once, failures say why and can be retried or cancelled, and a crash in the middle of
a send neither loses the reply nor posts it twice.
"""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.engine.events import MessagesAdded, MessagesUpdated, MessageStatusChanged
from app.engine.im.types import TopicRef
from app.engine.outbox import Outbox, ReplyNotFound, ReplyRejected, ReplyStateError
from app.engine.outbox_store import claim_next
from app.engine.platform import PermanentError, ReplyBlocked, ReplyTarget, SessionExpired, TransientError
from app.engine.records import MAX_TEXT_LEN
from app.engine.store.models import Account, Comment, Content, Conversation, DirectMessage, Reply, utcnow

from .conftest import (
    ACCOUNT,
    COMMENT,
    CONTENT_REF,
    CONVERSATION_REF,
    OTHER_REF,
    WORK,
    wait_for_status,
)


def _plain(row):
    """A detached copy of an ORM row's columns (read sessions end with a rollback)."""
    return SimpleNamespace(**{c.key: getattr(row, c.key) for c in row.__table__.columns})


def _comments(session, account_id=ACCOUNT):
    query = select(Comment).where(Comment.account_id == account_id).order_by(Comment.id)
    return [_plain(r) for r in session.scalars(query)]


def _dms(session):
    return [_plain(r) for r in session.scalars(select(DirectMessage).order_by(DirectMessage.id))]


def _content(session, account_id=ACCOUNT):
    query = select(Content).where(Content.account_id == account_id, Content.platform_content_id == WORK)
    return _plain(session.scalars(query).one())


# ---- Queueing ------------------------------------------------------------------------------
async def test_reply_shows_in_the_topic_at_once(outbox, seeded_db, events):
    reply_id = await outbox.reply(CONTENT_REF, "  Thanks, it is 99 元 😊\n", reply_to=COMMENT, operator="amy")

    row = await outbox.get(reply_id)
    assert row.status == "queued" and row.attempts == 0 and row.operator == "amy"
    assert row.text == "Thanks, it is 99 元 😊"  # what is sent is what is shown
    comments = await seeded_db.read(_comments)
    mine = comments[-1]
    assert (mine.platform_comment_id, mine.reply_id) == (f"local:{reply_id}", reply_id)
    assert (mine.direction, mine.is_read, mine.parent_platform_comment_id) == ("out", True, COMMENT)
    assert mine.text == "Thanks, it is 99 元 😊"
    content = await seeded_db.read(_content)
    assert content.message_count == 2 and content.unread_count == 1  # our reply is never unread
    assert content.last_message_preview == "Thanks, it is 99 元 😊"
    await events.until(lambda: events.of(MessageStatusChanged))
    added = events.of(MessagesAdded)
    assert added and added[-1].message_ids == (f"local:{reply_id}",) and added[-1].inbound_new == 0
    assert [e.status for e in events.of(MessageStatusChanged)] == ["queued"]


async def test_dm_reply_is_a_direct_message_of_the_conversation(outbox, seeded_db):
    reply_id = await outbox.reply(CONVERSATION_REF, "See you")
    dms = await seeded_db.read(_dms)
    assert [(d.text, d.direction, d.reply_id) for d in dms] == [("Hello", "in", None), ("See you", "out", reply_id)]
    conversation = await seeded_db.read(lambda s: _plain(s.scalars(select(Conversation)).one()))
    assert conversation.message_count == 2 and conversation.last_message_preview == "See you"


async def test_repeated_request_id_gives_the_same_reply(outbox, seeded_db, events):
    first = await outbox.reply(CONTENT_REF, "once", request_id="client-42")
    second = await outbox.reply(CONTENT_REF, "once", request_id="client-42")
    assert first == second
    assert len(await outbox.list()) == 1
    assert [c.text for c in await seeded_db.read(_comments)].count("once") == 1


async def test_a_request_id_reused_for_another_reply_is_refused(outbox, seeded_db):
    first = await outbox.reply(CONTENT_REF, "once", request_id="client-43")
    with pytest.raises(ReplyRejected, match="another reply") as refused:
        await outbox.reply(CONTENT_REF, "a different text", request_id="client-43")
    assert refused.value.code == "request_id_reused"
    with pytest.raises(ReplyRejected, match="another reply"):
        await outbox.reply(CONVERSATION_REF, "once", request_id="client-43")
    assert [r.id for r in await outbox.list()] == [first]


async def test_in_flight_lists_the_topics_queued_replies_oldest_first(outbox, seeded_db):
    first = await outbox.reply(CONTENT_REF, "first")
    second = await outbox.reply(CONTENT_REF, "second", reply_to=COMMENT)
    await outbox.reply(CONVERSATION_REF, "elsewhere")
    assert [r.id for r in await outbox.in_flight(CONTENT_REF)] == [first, second]
    await outbox.cancel(first)
    assert [r.id for r in await outbox.in_flight(CONTENT_REF)] == [second]


async def test_submit_says_whether_it_queued_the_reply_or_saw_its_request_id_before(outbox):
    first = await outbox.submit(CONTENT_REF, "once", request_id="client-43")
    again = await outbox.submit(CONTENT_REF, "once", request_id="client-43")
    assert first.created and not again.created  # REST answers the repeat with 409
    assert again.reply_id == first.reply_id and len(await outbox.list()) == 1


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty"),
        (" \n\t ", "empty"),
        ("x" * (MAX_TEXT_LEN + 1), "too long"),
        ("bad \ud800 half", "lone surrogate"),
        ("nul \x00 inside", "control"),
        (None, "must be a string"),
    ],
)
async def test_bad_text_is_refused_with_a_reason_and_nothing_stored(outbox, seeded_db, text, reason):
    with pytest.raises(ReplyRejected, match=reason):
        await outbox.reply(CONTENT_REF, text)
    assert await outbox.list() == []
    assert len(await seeded_db.read(_comments)) == 1


@pytest.mark.parametrize(
    "ref, reply_to, reason",
    [
        (TopicRef(ACCOUNT, "content", "no-such-work"), None, "unknown topic"),
        (TopicRef("acc-nobody", "content", WORK), None, "unknown account"),
        (CONTENT_REF, "c-unknown", "unknown comment"),
        (CONVERSATION_REF, COMMENT, "cannot reply to a comment"),
        (CONTENT_REF, "local:abc", "not on the platform yet"),
    ],
)
async def test_bad_target_is_refused(outbox, ref, reply_to, reason):
    with pytest.raises(ReplyRejected, match=reason):
        await outbox.reply(ref, "hello", reply_to=reply_to)
    assert await outbox.list() == []


# ---- Sending -------------------------------------------------------------------------------
async def test_started_outbox_sends_and_the_message_takes_the_platform_id(outbox, seeded_db, platform, events):
    await outbox.start()
    reply_id = await outbox.reply(CONTENT_REF, "On its way", reply_to=COMMENT)
    row = await wait_for_status(outbox, reply_id, "sent")

    assert platform.copies("On its way") == 1
    assert row.platform_reply_id == platform.posted[0].platform_id and row.attempts == 1
    assert row.sent_at is not None and row.error_message is None
    assert platform.posted[0].target.target_platform_id == COMMENT
    comments = await seeded_db.read(_comments)
    assert [c.platform_comment_id for c in comments] == [COMMENT, row.platform_reply_id]
    assert row.message_id == row.platform_reply_id
    await events.until(lambda: any(e.status == "sent" for e in events.of(MessageStatusChanged)))
    statuses = [e.status for e in events.of(MessageStatusChanged) if e.reply_id == reply_id]
    assert statuses == ["queued", "sending", "sent"]
    assert events.of(MessagesUpdated)[-1].message_ids == (row.platform_reply_id,)


async def test_transient_errors_are_retried_with_backoff_then_sent_once(outbox, platform):
    platform.script = [TransientError("network down"), TransientError("network down")]
    await outbox.start()
    reply_id = await outbox.reply(CONTENT_REF, "Third time lucky")
    row = await wait_for_status(outbox, reply_id, "sent")
    assert row.attempts == 3 and platform.copies("Third time lucky") == 1
    assert platform.finds == 2  # looked on the platform before each resend


async def test_retry_shows_the_attempt_count_and_reason(outbox, platform, events):
    platform.script = [TransientError("page timed out"), asyncio.Event().wait]  # 2nd attempt hangs
    await outbox.start()
    reply_id = await outbox.reply(CONTENT_REF, "Patience")
    await wait_for_status(outbox, reply_id, "sending")
    await events.until(lambda: [e for e in events.of(MessageStatusChanged) if e.status == "queued" and e.error])
    waiting = [e for e in events.of(MessageStatusChanged) if e.status == "queued" and e.error]
    assert waiting and waiting[0].attempts == 1
    assert "attempt 1/3 failed: page timed out" in waiting[0].error


async def test_gives_up_after_the_attempt_limit_then_operator_retries(outbox, platform):
    platform.script = [TransientError("slow page")] * 3
    await outbox.start()
    reply_id = await outbox.reply(CONTENT_REF, "Stubborn")
    failed = await wait_for_status(outbox, reply_id, "failed")
    assert failed.attempts == 3 and failed.error_code == "transient"
    assert failed.error_message == "gave up after 3 attempts: slow page"
    assert platform.copies("Stubborn") == 0

    await outbox.retry(reply_id)
    sent = await wait_for_status(outbox, reply_id, "sent")
    assert sent.attempts == 1 and platform.copies("Stubborn") == 1


async def test_blocked_reply_stops_with_the_reason_until_retried(outbox, platform):
    platform.script = [ReplyBlocked("rate limited: 20 replies per minute")]
    await outbox.start()
    reply_id = await outbox.reply(CONTENT_REF, "Too fast")
    blocked = await wait_for_status(outbox, reply_id, "blocked")
    assert blocked.error_message == "rate limited: 20 replies per minute" and blocked.error_code == "blocked"
    # A younger reply of the account is sent: the dispatcher went over the account's queue,
    # oldest first, and the blocked reply was not in it.
    await wait_for_status(outbox, await outbox.reply(CONTENT_REF, "Later"), "sent")
    assert [text for _, text in platform.sends] == ["Too fast", "Later"]  # not retried by itself

    await outbox.retry(reply_id)
    await wait_for_status(outbox, reply_id, "sent")
    assert platform.copies("Too fast") == 1


@pytest.mark.parametrize(
    "error, code",
    [(PermanentError("the comment was deleted"), "permanent"), (SessionExpired("logged out"), "session_expired")],
)
async def test_permanent_errors_fail_at_once(outbox, platform, error, code):
    platform.script = [error]
    await outbox.start()
    reply_id = await outbox.reply(CONTENT_REF, "Never mind")
    failed = await wait_for_status(outbox, reply_id, "failed")
    assert (failed.error_code, failed.error_message, failed.attempts) == (code, str(error), 1)


async def test_a_send_whose_answer_was_lost_is_found_not_resent(outbox, platform):
    """The platform posted the reply, but the answer never came back (timeout)."""

    async def post_then_fail():
        await platform.post(CONTENT_REF.account_id, _target(), "Hello again")
        raise TransientError("connection reset after send")

    platform.script = [post_then_fail]
    await outbox.start()
    reply_id = await outbox.reply(CONTENT_REF, "Hello again")
    row = await wait_for_status(outbox, reply_id, "sent")
    assert platform.copies("Hello again") == 1
    assert row.platform_reply_id == platform.posted[0].platform_id and len(platform.sends) == 1


async def test_same_text_of_another_reply_is_not_taken_for_ours(outbox, platform):
    await outbox.start()
    first = await outbox.reply(CONTENT_REF, "ok")
    await wait_for_status(outbox, first, "sent")
    platform.script = [TransientError("flaky")]
    second = await outbox.reply(CONTENT_REF, "ok")
    row = await wait_for_status(outbox, second, "sent")
    assert platform.copies("ok") == 2 and row.platform_reply_id != (await outbox.get(first)).platform_reply_id


async def test_a_timeout_is_a_transient_failure_and_the_later_success_clears_it(seeded_db, bus, platform, events):
    platform.script = [asyncio.Event().wait]  # the first send never answers
    box = Outbox(seeded_db, bus, platform, max_attempts=3, backoff_base_s=0.05, send_timeout_s=0.2)
    await box.start()
    try:
        reply_id = await box.reply(CONTENT_REF, "Anyone there?")
        row = await wait_for_status(box, reply_id, "sent")
        retried = [e for e in events.of(MessageStatusChanged) if e.status == "queued" and e.error]
        assert retried and "did not answer in time" in retried[0].error
        # Sent at the second attempt: the first attempt's error is no longer the reply's state.
        assert (row.attempts, row.error_code, row.error_message) == (2, None, None)
        assert platform.copies("Anyone there?") == 1
    finally:
        await box.stop()


# ---- Operator actions ----------------------------------------------------------------------
async def test_cancel_keeps_the_message_marked_and_never_sends(outbox, seeded_db, platform, events):
    reply_id = await outbox.reply(CONTENT_REF, "Oops, wrong topic")
    await outbox.cancel(reply_id)
    await outbox.start()
    later = await outbox.reply(CONTENT_REF, "The right one")  # sent after the queue was gone over
    await wait_for_status(outbox, later, "sent")
    assert (await outbox.get(reply_id)).status == "cancelled"
    assert platform.sends == [(CONTENT_REF.account_id, "The right one")]
    assert "Oops, wrong topic" in [c.text for c in await seeded_db.read(_comments)]
    assert [e.status for e in events.of(MessageStatusChanged) if e.reply_id == reply_id] == ["queued", "cancelled"]
    with pytest.raises(ReplyStateError):
        await outbox.retry(reply_id)


async def test_sent_replies_cannot_be_cancelled_and_unknown_ids_are_reported(outbox):
    await outbox.start()
    reply_id = await outbox.reply(CONTENT_REF, "Done")
    await wait_for_status(outbox, reply_id, "sent")
    with pytest.raises(ReplyStateError, match="sent"):
        await outbox.cancel(reply_id)
    with pytest.raises(ReplyNotFound):
        await outbox.retry("no-such-reply")
    assert await outbox.get("no-such-reply") is None


async def test_list_filters_by_account_and_status(outbox):
    a = await outbox.reply(CONTENT_REF, "first")
    b = await outbox.reply(OTHER_REF, "other account")
    await outbox.cancel(a)
    assert [r.id for r in await outbox.list(account_id=CONTENT_REF.account_id)] == [a]
    assert [r.id for r in await outbox.list(status="queued")] == [b]
    assert {r.id for r in await outbox.list()} == {a, b}
    assert {r.id for r in await outbox.list(status=("queued", "cancelled"))} == {a, b}


# ---- Ordering and parallelism --------------------------------------------------------------
async def test_one_reply_at_a_time_per_account_in_order_accounts_in_parallel(outbox, platform):
    gate = asyncio.Event()
    platform.script = [gate.wait]  # the account's first send waits for the gate
    await outbox.start()
    first = await outbox.reply(CONTENT_REF, "first")
    await wait_for_status(outbox, first, "sending")
    second = await outbox.reply(CONVERSATION_REF, "second")
    other = await outbox.reply(OTHER_REF, "other account")

    await wait_for_status(outbox, other, "sent")  # not held up by the slow account
    assert (await outbox.get(second)).status == "queued"
    gate.set()
    await wait_for_status(outbox, second, "sent")
    assert [text for acc, text in platform.sends if acc == CONTENT_REF.account_id] == ["first", "second"]
    assert platform.max_in_flight[CONTENT_REF.account_id] == 1


async def test_a_younger_reply_waits_for_the_older_ones_backoff(seeded_db, bus, platform):
    platform.script = [TransientError("flaky")]
    box = Outbox(seeded_db, bus, platform, max_attempts=3, backoff_base_s=0.5, send_timeout_s=5)
    await box.start()
    try:
        older = await box.reply(CONTENT_REF, "older")
        await wait_for_status(box, older, "queued", "sending")
        younger = await box.reply(CONVERSATION_REF, "younger")
        await wait_for_status(box, younger, "sent")
        # Held while "older" backed off: sent only after the older one's second attempt.
        assert [text for _, text in platform.sends] == ["older", "older", "younger"]
        assert platform.finds == 1  # the resend of "older" looked on the platform first
    finally:
        await box.stop()


async def test_a_new_reply_is_dispatched_without_waiting_for_a_poll(outbox, platform):
    await outbox.start()
    await asyncio.sleep(0.1)  # the dispatcher is idle
    loop = asyncio.get_running_loop()
    started = loop.time()
    reply_id = await outbox.reply(CONTENT_REF, "quick")
    await wait_for_status(outbox, reply_id, "sent")
    # Informative, not a timing assert: sent well within a second on any machine.
    assert loop.time() - started < 5


# ---- Crash recovery ------------------------------------------------------------------------
async def _leave_sending(outbox: Outbox, db, text: str) -> str:
    """A reply marked `sending` by a process that then died (exactly the dispatcher's step)."""
    reply_id = await outbox.reply(CONTENT_REF, text)
    claimed, _ = await db.write(claim_next, CONTENT_REF.account_id, utcnow())
    assert claimed.id == reply_id and claimed.status == "sending"
    return reply_id


async def test_recovery_finds_a_reply_that_reached_the_platform(outbox, seeded_db, platform, events):
    reply_id = await _leave_sending(outbox, seeded_db, "Sent just before the crash")
    await platform.post(CONTENT_REF.account_id, _target(), "Sent just before the crash")

    await outbox.start()
    row = await wait_for_status(outbox, reply_id, "sent")
    assert platform.sends == [] and platform.copies("Sent just before the crash") == 1
    assert row.platform_reply_id == platform.posted[0].platform_id
    comments = await seeded_db.read(_comments)
    assert [c.platform_comment_id for c in comments] == [COMMENT, row.platform_reply_id]


async def test_recovery_sends_a_reply_that_never_reached_the_platform(outbox, seeded_db, platform):
    reply_id = await _leave_sending(outbox, seeded_db, "Lost in the crash")
    await outbox.start()
    await wait_for_status(outbox, reply_id, "sent")
    assert platform.finds == 1 and platform.copies("Lost in the crash") == 1


async def test_recovery_never_resends_while_the_platform_cannot_be_checked(outbox, seeded_db, platform):
    reply_id = await _leave_sending(outbox, seeded_db, "Check first")
    await platform.post(CONTENT_REF.account_id, _target(), "Check first")
    platform.find_errors = [TransientError("browser still starting")]
    await outbox.start()
    row = await wait_for_status(outbox, reply_id, "sent")
    assert platform.sends == [] and platform.copies("Check first") == 1
    assert row.attempts == 3  # the interrupted attempt, the failed check, the check that found it


# ---- Merging with what the platform shows --------------------------------------------------
async def test_a_copy_stored_before_the_send_returned_is_merged_and_confirmed(outbox, seeded_db, platform):
    """The page pushed our own reply (websocket/XHR) and it was stored before send_reply
    returned its id: the topic must still show it once."""

    async def store_crawled_copy(item):
        def insert(session):
            session.add(Comment(account_id=item.account_id, platform_comment_id=item.platform_id,
                                platform_content_id=WORK, text=item.text, direction="out",
                                created_at=item.at))
        await seeded_db.write(insert)

    platform.on_posted = store_crawled_copy
    await outbox.start()
    reply_id = await outbox.reply(CONTENT_REF, "Pushed back at once")
    row = await wait_for_status(outbox, reply_id, "confirmed")
    comments = await seeded_db.read(_comments)
    assert [(c.text, c.reply_id) for c in comments if c.text == "Pushed back at once"] == [
        ("Pushed back at once", reply_id)
    ]
    assert row.message_id == row.platform_reply_id
    assert (await seeded_db.read(_content)).message_count == 2


async def test_a_reply_of_a_deleted_account_is_dropped_quietly(outbox, seeded_db, platform):
    gate = asyncio.Event()
    platform.script = [gate.wait]
    await outbox.start()
    reply_id = await outbox.reply(CONTENT_REF, "Goodbye")
    await wait_for_status(outbox, reply_id, "sending")

    def delete_account(session):
        session.delete(session.get(Account, CONTENT_REF.account_id))

    await seeded_db.write(delete_account)
    gate.set()
    # Another account's reply goes out after it: the outbox carried on, nothing crashed.
    await wait_for_status(outbox, await outbox.reply(OTHER_REF, "Still here"), "sent")
    assert platform.copies("Goodbye") == 1
    assert await outbox.get(reply_id) is None
    mine = select(Reply).where(Reply.account_id == CONTENT_REF.account_id)
    assert await seeded_db.read(lambda s: s.scalars(mine).all()) == []


def _target():
    return ReplyTarget("comment", WORK, None)
