"""Replying through the page's reply boxes, and finding a reply again after a crash."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest

from app.engine.platform import PermanentError, ReplyBlocked, ReplyTarget, TransientError

from .harness import ACCOUNT, CREATOR, CollectingSink, crash_renderer, log_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60), pytest.mark.asyncio(loop_scope="module")]

TEXT = "谢谢支持！Thanks a lot 🙏 下周见～"


async def _first_comment(control) -> dict:
    return next(c for c in await control.comments(CREATOR) if c["level"] == 1 and not c["is_author"])


async def test_a_reply_to_a_comment_returns_its_id_and_appears_on_the_site(platform, page, control):
    await log_in(platform, page, control)
    comment = await _first_comment(control)
    target = ReplyTarget("comment", comment["work_id"], comment["cid"])
    platform_id = (await platform.reply(page, ACCOUNT, target, TEXT)).platform_id
    on_site = {c["cid"]: c for c in await control.comments(CREATOR, comment["work_id"])}
    assert on_site[platform_id]["text"] == TEXT
    assert on_site[platform_id]["is_author"] is True
    assert on_site[platform_id]["reply_id"] == comment["cid"]


async def test_a_reply_to_a_reply_deep_in_a_thread_on_a_later_page(platform, page, control):
    await log_in(platform, page, control)
    work_id = (await control.works(CREATOR))[0]["work_id"]
    root = await control.inject_comment("Grace", "first!", creator=CREATOR, work_id=work_id)
    for i in range(22):  # push the thread's first comment onto the second page
        await control.inject_comment(f"viewer {i}", f"newer comment {i}", creator=CREATOR, work_id=work_id)
    for i in range(12):  # and the answered reply onto the thread's second page
        await control.inject_comment(f"fan {i}", f"reply {i}", creator=CREATOR, reply_to=root["comment"]["cid"])
    deep = (await control.comments(CREATOR, work_id))
    target_cid = [c for c in deep if c["reply_id"] == root["comment"]["cid"]][-1]["cid"]
    platform_id = (await platform.reply(page, ACCOUNT, ReplyTarget("comment", work_id, target_cid), "回复你啦 ✅")).platform_id
    reply = {c["cid"]: c for c in await control.comments(CREATOR, work_id)}[platform_id]
    assert reply["reply_to_reply_id"] == target_cid and reply["reply_id"] == root["comment"]["cid"]


async def test_a_new_comment_on_a_work(platform, page, control):
    await log_in(platform, page, control)
    work_id = (await control.works(CREATOR))[-1]["work_id"]
    platform_id = (await platform.reply(page, ACCOUNT, ReplyTarget("comment", work_id), "置顶说明 Pinned note 📌")).platform_id
    reply = {c["cid"]: c for c in await control.comments(CREATOR, work_id)}[platform_id]
    assert reply["level"] == 1 and reply["is_author"] is True


async def test_a_dm_reply_returns_its_id_and_appears_in_the_conversation(platform, page, control):
    await log_in(platform, page, control)
    injected = await control.inject_dm("Oliver", "Do you ship to Canada?", creator=CREATOR)
    target = ReplyTarget("direct_message", injected["conversation_id"])
    platform_id = (await platform.reply(page, ACCOUNT, target, "Yes! 是的，全球包邮 🌍")).platform_id
    conv = next(c for c in await control.conversations(CREATOR) if c["conversation_id"] == injected["conversation_id"])
    mine = {m["msg_id"]: m for m in conv["messages"]}[platform_id]
    assert mine["is_from_me"] and mine["content"]["text"] == "Yes! 是的，全球包邮 🌍"


async def test_a_dm_reply_on_a_page_already_showing_the_inbox_loads_no_page(platform, page, control):
    await log_in(platform, page, control)
    await platform.poll(page, ACCOUNT, CollectingSink().io)  # a poll ends on the inbox
    injected = await control.inject_dm("Mia", "还在吗？", creator=CREATOR)  # pushed into the list
    row = page.locator(f'.conversation[data-conversation-id="{injected["conversation_id"]}"]')
    await row.wait_for(timeout=5_000)
    loads = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and loads.append(frame.url))
    target = ReplyTarget("direct_message", injected["conversation_id"])
    first = (await platform.reply(page, ACCOUNT, target, "在的 👋")).platform_id
    second = (await platform.reply(page, ACCOUNT, target, "有什么可以帮你？")).platform_id
    assert loads == []  # the pushed conversation was opened in place, the second reply reused it
    conv = next(c for c in await control.conversations(CREATOR) if c["conversation_id"] == injected["conversation_id"])
    mine = {m["msg_id"]: m["content"]["text"] for m in conv["messages"] if m["is_from_me"]}
    assert mine[first] == "在的 👋" and mine[second] == "有什么可以帮你？"


# Run before the page's own scripts: the IM push of the message with this text is held back,
# and handed to the page the moment a mouse button goes down on the conversation list. The
# page's own handler then moves that conversation to the top, under the pointer, between the
# press and the release, as a push arriving at that moment does.
_PUSH_ON_PRESS_JS = """(() => {
  const text = %s;
  let held = null;
  window.addEventListener("sbx-push", (event) => {
    if (held === null && event.detail.message.content.text === text) {
      event.stopImmediatePropagation();
      held = event.detail;
      window.pushHeld = true;
    }
  }, true);
  document.addEventListener("mousedown", (event) => {
    if (held && event.target.closest("#conversations")) {
      const frame = held;
      held = undefined;
      window.dispatchEvent(new CustomEvent("sbx-push", {detail: frame}));
    }
  }, true);
})()"""


async def test_a_push_between_press_and_release_does_not_fail_the_opening_of_a_conversation(
        platform, page, control):
    """A push that moves a conversation to the top of the inbox while the row asked for is
    being clicked makes the click land on no row (pressed on one, released on another):
    the adapter clicks again rather than fail the reply (or the crawl, which opens a
    conversation the same way)."""
    await log_in(platform, page, control)
    moved, asked, top = [(await control.inject_dm(peer, "你好", creator=CREATOR))["conversation_id"]
                         for peer in ("Ana", "Ben", "Cai")]
    await page.add_init_script(_PUSH_ON_PRESS_JS % json.dumps("还有一个问题"))
    await page.goto(f"{platform.base_url}/creator/inbox")
    await page.wait_for_function("() => document.body.dataset.state === 'ready'")
    await control.inject_dm("Ana", "还有一个问题", creator=CREATOR)
    await page.wait_for_function("() => window.pushHeld === true")
    rows = "() => [...document.querySelectorAll('.conversation')].map(r => r.dataset.conversationId)"
    assert (await page.evaluate(rows))[:3] == [top, asked, moved]
    platform_id = (await platform.reply(page, ACCOUNT, ReplyTarget("direct_message", asked), "请说")).platform_id
    assert (await page.evaluate(rows))[:3] == [moved, top, asked]  # the push did come during the click
    sent = {c["conversation_id"]: [m["msg_id"] for m in c["messages"] if m["is_from_me"]]
            for c in await control.conversations(CREATOR)}
    assert (sent[moved], sent[asked], sent[top]) == ([], [platform_id], [])


async def test_a_rate_limited_reply_is_blocked_and_nothing_is_posted(platform, page, control):
    await log_in(platform, page, control)
    comment = await _first_comment(control)
    await control.set_faults(rate_limit=True)
    before = len(await control.comments(CREATOR))
    with pytest.raises(ReplyBlocked, match="rate limited"):
        await platform.reply(page, ACCOUNT, ReplyTarget("comment", comment["work_id"], comment["cid"]), TEXT)
    injected = await control.inject_dm("Ava", "hi", creator=CREATOR)
    with pytest.raises(ReplyBlocked):
        await platform.reply(page, ACCOUNT, ReplyTarget("direct_message", injected["conversation_id"]), "hello")
    assert len(await control.comments(CREATOR)) == before


async def test_a_reply_to_a_deleted_comment_is_a_permanent_error(platform, page, control):
    await log_in(platform, page, control)
    comment = await _first_comment(control)
    await control.delete_comment(CREATOR, comment["cid"])
    with pytest.raises(PermanentError):
        await platform.reply(page, ACCOUNT, ReplyTarget("comment", comment["work_id"], comment["cid"]), TEXT)
    with pytest.raises(PermanentError):
        await platform.reply(page, ACCOUNT, ReplyTarget("direct_message", "0:1:1:2"), TEXT)


async def test_a_comment_deleted_while_the_reply_is_typed_is_a_permanent_error(platform, page, control):
    await log_in(platform, page, control)
    comment = await _first_comment(control)
    await control.set_faults(delay_ms=400)
    target = ReplyTarget("comment", comment["work_id"], comment["cid"])
    reply = asyncio.create_task(platform.reply(page, ACCOUNT, target, TEXT))
    await page.wait_for_selector("#reply-box:not([hidden])", timeout=20_000)
    await control.delete_comment(CREATOR, comment["cid"])
    with pytest.raises(PermanentError, match="deleted"):
        await reply


async def test_a_renderer_crash_while_sending_is_a_transient_error(platform, page, control):
    await log_in(platform, page, control)
    comment = await _first_comment(control)
    await control.set_faults(delay_ms=1500)  # the send request hangs long enough to crash meanwhile
    target = ReplyTarget("comment", comment["work_id"], comment["cid"])
    async with page.expect_request("**/api/comments/reply", timeout=30_000):
        reply = asyncio.create_task(platform.reply(page, ACCOUNT, target, TEXT))
    await crash_renderer(page)
    with pytest.raises(TransientError, match="crash"):
        await asyncio.wait_for(reply, 20)


async def test_find_reply_sees_our_reply_and_only_ours(platform, page, control):
    await log_in(platform, page, control)
    comment = await _first_comment(control)
    target = ReplyTarget("comment", comment["work_id"], comment["cid"])
    since = datetime.now(timezone.utc)
    platform_id = (await platform.reply(page, ACCOUNT, target, TEXT)).platform_id
    assert (await platform.find_reply(page, ACCOUNT, target, TEXT, since)).platform_id == platform_id
    assert await platform.find_reply(page, ACCOUNT, target, "another text", since) is None
    assert await platform.find_reply(page, ACCOUNT, target, TEXT, since + timedelta(minutes=5)) is None

    injected = await control.inject_dm("Zoe", "ping", creator=CREATOR)
    dm_target = ReplyTarget("direct_message", injected["conversation_id"])
    assert await platform.find_reply(page, ACCOUNT, dm_target, "pong 🏓", since) is None
    dm_id = (await platform.reply(page, ACCOUNT, dm_target, "pong 🏓")).platform_id
    assert (await platform.find_reply(page, ACCOUNT, dm_target, "pong 🏓", since)).platform_id == dm_id
