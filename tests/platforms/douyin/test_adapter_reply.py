"""Replying to a comment through the routed comment page: the target is verified on screen
before anything is typed, the id comes from the publish response, refusals are `blocked`,
and find_reply finds our reply after a crash."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.engine.platform import (
    PermanentError,
    ReplyBlocked,
    ReplyTarget,
    ReplyUncertain,
    TransientError,
)

from .fixtures_io import body
from .test_adapter_monitor import KeptBatches

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90), pytest.mark.asyncio(loop_scope="module")]

WORK = "7400000000000000001"
COMMENT = "7410000000000000002"  # 测试用户02: 这个地方看起来很不错[比心]
TEXT = "感谢留言，已私信回复您"


async def crawled(platform, page, account):
    """The page after a crawl: the adapter knows the comments' texts and authors."""
    await platform.poll(page, account, KeptBatches().io)
    return page


async def test_a_reply_is_typed_under_the_verified_comment_and_gets_the_published_id(
        platform, logged_in_page, account, site):
    page = await crawled(platform, logged_in_page, account)
    sent = await platform.reply(page, account, ReplyTarget("comment", WORK, COMMENT), TEXT)
    assert sent.platform_id == "7420000000000000009"
    # the publish answer's record comes with it: the reply is confirmed without a crawl
    [created] = sent.created.comments
    assert created["parent_platform_comment_id"] == COMMENT and created["direction"] == "out"
    assert created["platform_content_id"] == WORK and sent.created.account_id == account.id
    assert site.published == [{"aweme_id": WORK, "reply_to_comment_id": COMMENT, "text": TEXT}]
    # typed into the box answering 测试用户02, not the work's own comment box below the list
    assert await page.evaluate("window.__topLevelSent") is None
    assert await page.locator('[placeholder="有爱评论，说点好听的~"]').inner_text() == ""


async def test_the_engines_context_lets_a_fresh_page_reply_without_a_crawl(platform, logged_in_page, account, site):
    target = ReplyTarget("comment", WORK, COMMENT, topic_title="测试作品标题一 #测试话题 #示例",
                         target_text="这个地方看起来很不错[比心]", target_author="测试用户02")
    assert (await platform.reply(logged_in_page, account, target, TEXT)).platform_id == "7420000000000000009"
    assert not [u for u in site.requests if "/creator-micro/content/manage" in u]  # no works crawl needed


async def test_a_fresh_page_without_context_does_not_guess(platform, logged_in_page, account, site):
    with pytest.raises(TransientError, match="not known yet"):
        await platform.reply(logged_in_page, account, ReplyTarget("comment", WORK, COMMENT), TEXT)
    assert site.published == [] and site.requests == []


async def test_a_reply_to_a_reply_opens_its_thread_first(platform, logged_in_page, account, site):
    page = await crawled(platform, logged_in_page, account)
    await platform.reply(page, account, ReplyTarget("comment", WORK, "7420000000000000003"), "一起去吧")
    assert site.published[-1]["reply_to_comment_id"] == "7420000000000000003"


async def test_a_row_with_the_text_but_another_author_is_refused(platform, logged_in_page, account, site):
    page = await crawled(platform, logged_in_page, account)
    # Between the crawl and the reply the page shows that text under someone else's name.
    site.with_comment(COMMENT, user={"nickname": "测试用户09"})
    with pytest.raises(PermanentError, match="refusing to send"):
        await platform.reply(page, account, ReplyTarget("comment", WORK, COMMENT), TEXT)
    assert site.published == []


async def test_two_identical_comments_are_told_apart_by_the_rows_page_id(platform, logged_in_page, account, site):
    page = await crawled(platform, logged_in_page, account)  # links 0002 to its row's page id
    site.add_comment(COMMENT, "7410000000000000009")  # the same person posts the same text again
    await platform.reply(page, account, ReplyTarget("comment", WORK, COMMENT), TEXT)
    assert site.published[-1]["reply_to_comment_id"] == COMMENT


async def test_two_identical_comments_without_a_page_id_are_refused(platform, logged_in_page, account, site):
    site.add_comment(COMMENT, "7410000000000000009")  # both there at the crawl: not linkable
    page = await crawled(platform, logged_in_page, account)
    with pytest.raises(PermanentError, match="refusing to guess"):
        await platform.reply(page, account, ReplyTarget("comment", WORK, COMMENT), TEXT)
    assert site.published == []


async def test_a_refused_publish_is_blocked_with_douyins_message(platform, logged_in_page, account, site):
    page = await crawled(platform, logged_in_page, account)
    site.publish = body("comment_reply_publish_error.json")
    with pytest.raises(ReplyBlocked, match="评论失败，请稍后重试"):
        await platform.reply(page, account, ReplyTarget("comment", WORK, COMMENT), TEXT)
    assert len(site.published) == 1


async def test_find_reply_finds_our_reply_in_the_thread_and_only_since_the_send(platform, logged_in_page, account):
    target = ReplyTarget("comment", WORK, COMMENT)
    # the thread holds our "谢谢喜欢！", sent at 1736750000 (2025-01-13 06:33:20 UTC)
    sent = datetime(2025, 1, 13, 6, 33, 20, tzinfo=timezone.utc)
    found = await platform.find_reply(logged_in_page, account, target, "谢谢喜欢！", sent)
    assert found.platform_id == "7420000000000000001" and found.created.comments[0]["text"] == "谢谢喜欢！"
    # Douyin's copy of a text typed with other whitespace or an emoji in place of its code
    assert (await platform.find_reply(logged_in_page, account, target, " 谢谢喜欢！\n", sent)).platform_id \
        == "7420000000000000001"
    assert await platform.find_reply(logged_in_page, account, target, "谢谢喜欢！", datetime(2025, 1, 14, tzinfo=timezone.utc)) is None
    assert await platform.find_reply(logged_in_page, account, target, "别的话", sent) is None


# ---- DMs -----------------------------------------------------------------------------------
FIRST = "0:1:100000000001:1000000000000001"  # with 测试用户01, third in the virtualised list


async def test_a_dm_is_sent_in_the_verified_conversation_and_gets_the_new_rows_id(platform, logged_in_page, account):
    page = await crawled(platform, logged_in_page, account)
    since = datetime.now(timezone.utc)
    sent = await platform.reply(page, account, ReplyTarget("direct_message", FIRST), "您好，周末正常营业")
    message_id = sent.platform_id
    assert message_id == "7440000000000009001" and sent.created.messages[0]["direction"] == "out"
    header = await page.locator('[class*="box-header-name"]').inner_text()
    assert header == "测试用户01"
    # after a crash the outbox asks first: the message is found, so it is not sent again
    target = ReplyTarget("direct_message", FIRST)
    assert (await platform.find_reply(page, account, target, "您好，周末正常营业", since)).platform_id == message_id
    assert await platform.find_reply(page, account, target, "您好，周末正常营业",
                                     datetime.now(timezone.utc) + timedelta(minutes=1)) is None
    assert (await platform.find_reply(page, account, ReplyTarget("direct_message", FIRST), "您好，请问有什么可以帮您？",
                                      datetime(2025, 1, 15, 2, 4, tzinfo=timezone.utc))).platform_id == "7440000000000001100"
    # a look whose shown messages all came after `since` cannot say "not sent"
    with pytest.raises(ReplyUncertain):
        await platform.find_reply(page, account, target, "没发过的话", datetime(2020, 1, 1, tzinfo=timezone.utc))


async def test_a_conversation_row_with_the_name_but_another_conversation_is_refused(
        platform, logged_in_page, account, site):
    page = await crawled(platform, logged_in_page, account)
    # 测试用户01's conversation left the list and 测试用户02 renamed themselves 测试用户01
    conversations = site.chat["conversations"]
    site.chat["conversations"] = [c for c in conversations if c["id"] != FIRST]
    next(c for c in site.chat["conversations"] if c["nickname"] == "测试用户02")["nickname"] = "测试用户01"
    with pytest.raises(PermanentError, match="refusing to send"):
        await platform.reply(page, account, ReplyTarget("direct_message", FIRST), "您好")
    assert await page.locator('[id="editor"]').inner_text() == ""  # nothing was typed


async def test_a_dm_the_page_refuses_is_blocked_with_its_note(platform, logged_in_page, account, site):
    page = await crawled(platform, logged_in_page, account)
    site.dm_refusal = "发送失败，消息发送频繁受限"
    with pytest.raises(ReplyBlocked, match="频繁受限"):
        await platform.reply(page, account, ReplyTarget("direct_message", FIRST), "您好")


async def test_find_reply_is_uncertain_when_the_comments_were_read_only_to_the_scroll_bound(
        platform, logged_in_page, account, site):
    site.comments_page_size = 1
    platform.max_scrolls = 1  # the work's four comments come one per scroll
    with pytest.raises(ReplyUncertain, match="scroll bound"):
        await platform.find_reply(logged_in_page, account, ReplyTarget("comment", WORK, COMMENT), "别的话",
                                  datetime(2025, 1, 13, tzinfo=timezone.utc))
