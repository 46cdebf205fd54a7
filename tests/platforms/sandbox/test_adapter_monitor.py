"""The adapter's monitoring (push + crawl) and its session handling, in real Chromium."""
from __future__ import annotations

import time

import pytest

from app.engine.platform import SessionExpired, SessionStatus, TransientError
from app.engine.records import Batch, CommentRecord, ContentRecord, ConversationRecord, MessageRecord

from .harness import ACCOUNT, CREATOR, CollectingSink, crash_renderer, log_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60), pytest.mark.asyncio(loop_scope="module")]


async def test_a_dm_arrives_by_websocket_push_without_a_crawl(platform, page, control):
    await log_in(platform, page, control)
    sink = CollectingSink()
    await platform.watch(page, ACCOUNT, sink.io)
    await page.goto(platform.home_url())  # as the pool does: listeners first, then the first load
    sent = time.monotonic()
    injected = await control.inject_dm("Lucas", "在吗？Is the blue one still available? 💙", creator=CREATOR)
    batch, message = await sink.wait_for(
        "messages", lambda m: m["platform_message_id"] == injected["message"]["msg_id"], timeout=5)
    print(f"push latency: {(time.monotonic() - sent) * 1000:.0f} ms")
    assert batch.source == "push" and batch.account_id == ACCOUNT.id
    assert message["text"] == "在吗？Is the blue one still available? 💙"
    assert message["direction"] == "in" and message["sender_name"] == "Lucas"
    assert message["platform_conversation_id"] == injected["conversation_id"]
    assert [c["peer_name"] for c in batch.conversations] == ["Lucas"]
    MessageRecord.model_validate(message)


async def test_a_dm_sent_while_the_page_navigates_is_caught_up_on_the_next_page(platform, page, control):
    await log_in(platform, page, control)
    sink = CollectingSink()
    await platform.watch(page, ACCOUNT, sink.io)
    await page.goto(platform.home_url())
    await page.goto(f"{platform.base_url}/creator/works")  # the websocket closes for a moment
    injected = await control.inject_dm("Mia Chen", "hello again", creator=CREATOR)
    await sink.wait_for("messages", lambda m: m["platform_message_id"] == injected["message"]["msg_id"], timeout=5)


async def test_a_crawl_collects_works_comments_threads_and_conversations(platform, page, control):
    await log_in(platform, page, control)
    sink = CollectingSink()
    await platform.poll(page, ACCOUNT, sink.io)
    assert sink.batches and {b.source for b in sink.batches} == {"crawl"}
    works = await control.works(CREATOR)
    on_site = await control.comments(CREATOR)
    batch = _merged(sink.batches)
    assert {c["platform_content_id"] for c in batch.contents} == {w["work_id"] for w in works}
    assert {c["platform_comment_id"] for c in batch.comments} == {c["cid"] for c in on_site}
    assert len(batch.conversations) == 2 and len(batch.messages) >= 2
    for record in batch.contents:
        ContentRecord.model_validate(record)
    for record in batch.comments:
        CommentRecord.model_validate(record)
    for record in batch.conversations:
        ConversationRecord.model_validate(record)
    ours = [c for c in batch.comments if c["direction"] == "out"]
    assert ours and all(c["parent_platform_comment_id"] for c in ours)  # the seeded thanks are replies


async def test_the_next_crawl_brings_new_comments_across_pages_and_new_replies(platform, page, control):
    await log_in(platform, page, control)
    sink = CollectingSink()
    await platform.poll(page, ACCOUNT, sink.io)
    work_id = (await control.works(CREATOR))[0]["work_id"]
    old = (await control.comments(CREATOR, work_id))[0]
    injected = [await control.inject_comment(f"viewer {i}", f"评论 {i} 🎉", creator=CREATOR, work_id=work_id)
                for i in range(25)]  # more than one page of 20
    reply = await control.inject_comment("Emma Zhang", "同问！", creator=CREATOR, reply_to=old["cid"])
    first_poll = len(sink.batches)
    await platform.poll(page, ACCOUNT, sink.io)
    second = _merged([b for b in sink.batches[first_poll:] if b.source == "crawl"])  # pushes may come between
    got = {c["platform_comment_id"]: c for c in second.comments}
    assert {i["comment"]["cid"] for i in injected} <= set(got)
    assert got[reply["comment"]["cid"]]["parent_platform_comment_id"] == old["cid"]
    # Incremental: works whose comment count did not move were not opened again.
    assert {c["platform_content_id"] for c in second.comments} == {work_id}


async def test_session_expiry_raises_session_expired_on_the_next_crawl(platform, page, control):
    await log_in(platform, page, control)
    sink = CollectingSink()
    await platform.poll(page, ACCOUNT, sink.io)
    assert await control.expire_sessions(CREATOR) == 1
    with pytest.raises(SessionExpired):
        await platform.poll(page, ACCOUNT, sink.io)
    assert await platform.check_session(page) is SessionStatus.EXPIRED


async def test_an_open_page_shows_session_expiry_on_its_next_fetch(platform, page, control):
    await log_in(platform, page, control)
    await page.goto(f"{platform.base_url}/creator/works")
    await control.expire_sessions()
    await page.evaluate("Sbx.api('/api/works').catch(() => null)")  # the page's own next fetch
    await page.wait_for_selector('body[data-state="login"]')
    assert "expired" in await page.text_content("#page-error")


async def test_a_slow_site_is_still_crawled(platform, page, control):
    await log_in(platform, page, control)
    await control.set_faults(delay_ms=300)
    sink = CollectingSink()
    await platform.poll(page, ACCOUNT, sink.io)
    assert sink.records("comments")


async def test_a_crashed_renderer_turns_a_crawl_into_a_transient_error(platform, page, control):
    await log_in(platform, page, control)
    sink = CollectingSink()
    await platform.watch(page, ACCOUNT, sink.io)
    await page.goto(platform.home_url())
    await crash_renderer(page)
    with pytest.raises(TransientError, match="crash"):
        await platform.poll(page, ACCOUNT, sink.io)


def _merged(batches: list[Batch]) -> Batch:
    """The records of several batches as one (a crawl streams one batch per page)."""
    merged = Batch(ACCOUNT.id, source="crawl")
    for b in batches:
        merged.contents += b.contents
        merged.comments += b.comments
        merged.conversations += b.conversations
        merged.messages += b.messages
    return merged
