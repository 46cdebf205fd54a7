"""The www.douyin.com page an awake account keeps open: its pushed DMs and comment notices
reach the sink as they come, between polls; a notice that cannot be stored as it is makes
its work due for the next crawl; a drifted page is a "page changed" error."""
from __future__ import annotations

import asyncio
import copy
import json

import pytest

from sandbox.harness import MemoryState

from app.engine.platform import MonitorIO
from app.platforms.douyin.errors import PageChanged

from .conftest import ACCOUNT
from .fixtures_io import SELF_UID, body
from .site import WWW_HEAVY

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90), pytest.mark.asyncio(loop_scope="module")]

PUSH_WAIT_S = 10  # how long a test waits for a push to be stored (it comes well within a second)


class PushSink:
    """Keeps every batch; `pushed(pred)` waits for a pushed batch that satisfies `pred`;
    `early_polls` counts the early polls asked for."""

    def __init__(self) -> None:
        self.batches = []
        self.arrived = asyncio.Event()
        self.early_polls = 0
        self.io = MonitorIO(self, MemoryState(), poll_soon=self._poll_soon)

    def _poll_soon(self) -> None:
        self.early_polls += 1

    async def __call__(self, batch) -> None:
        self.batches.append(batch)
        self.arrived.set()

    async def pushed(self, pred):
        async def wait():
            while True:
                found = [b for b in self.batches if b.source == "push" and pred(b)]
                if found:
                    return found[0]
                self.arrived.clear()
                await self.arrived.wait()
        return await asyncio.wait_for(wait(), PUSH_WAIT_S)


def realtime_page(context):
    return next(p for p in context.pages if p.url.startswith("https://www.douyin.com/"))


def pushed_dm(server_id: str, text: str, sender: str = "2000000000000002") -> dict:
    message = copy.deepcopy(body("page_state/im_store.json")["msgListToPush"][0])
    content = json.loads(message["content"])
    content["text"] = text
    message.update(serverId=server_id, sender=sender, content=json.dumps(content, ensure_ascii=False))
    return message


async def polled(platform, page):
    sink = PushSink()
    await platform.watch(page, ACCOUNT, sink.io)
    await platform.poll(page, ACCOUNT, sink.io)
    return sink


async def test_a_pushed_dm_is_stored_between_polls(platform, logged_in_page, context):
    sink = await polled(platform, logged_in_page)
    www = realtime_page(context)  # opened beside the creator centre, in the same context
    await www.evaluate("m => window.__ws.dm(m)", pushed_dm("7440000000000005000", "周六几点开门？"))
    batch = await sink.pushed(lambda b: b.messages)
    message = batch.messages[0]
    assert (message["platform_message_id"], message["text"], message["direction"]) == (
        "7440000000000005000", "周六几点开门？", "in")
    assert message["sender_name"] == "测试用户02"
    assert batch.conversations == [{"platform_conversation_id": "0:1:1000000000000001:2000000000000002",
                                    "peer_id": "2000000000000002", "peer_name": "测试用户02",
                                    "peer_avatar": "https://example.invalid/avatar/2.jpg"}]
    assert "FAKE-IM-TOKEN" not in repr(sink.batches)  # the store's __internal_ctx never leaves the page

    # one we sent from the phone is ours; each pushed message is stored once
    await www.evaluate("m => window.__ws.dm(m)", pushed_dm("7440000000000005001", "九点", sender=SELF_UID))
    ours = await sink.pushed(lambda b: any(m["platform_message_id"] == "7440000000000005001" for m in b.messages))
    assert ours.messages[0]["direction"] == "out"
    pushed = [m["platform_message_id"] for b in sink.batches if b.source == "push" for m in b.messages]
    assert sorted(pushed) == ["7440000000000005000", "7440000000000005001"]


async def test_the_www_page_loads_no_video_images_or_fonts_and_still_brings_pushes(
        platform, logged_in_page, context, site):
    """The feed plays a video as it opens: that page alone gets no media, images or fonts
    (its scripts and fetches, which fill the stores, still load)."""
    failed: dict[str, str] = {}
    all_failed = asyncio.Event()

    def on_failed(request) -> None:
        if request.url in WWW_HEAVY.values():
            failed[request.resource_type] = request.failure or ""
            if len(failed) == len(WWW_HEAVY):
                all_failed.set()

    context.on("requestfailed", on_failed)
    sink = await polled(platform, logged_in_page)
    await asyncio.wait_for(all_failed.wait(), PUSH_WAIT_S)
    assert set(failed) == set(WWW_HEAVY) and all("BLOCKED_BY_CLIENT" in why for why in failed.values())
    assert not set(WWW_HEAVY.values()) & set(site.requests)  # never fetched
    www = realtime_page(context)
    await www.evaluate("m => window.__ws.dm(m)", pushed_dm("7440000000000005002", "还有货吗"))
    batch = await sink.pushed(lambda b: b.messages)
    assert batch.messages[0]["text"] == "还有货吗"


async def test_a_pushed_comment_notice_is_stored_and_a_reply_notice_makes_its_work_due(
        platform, logged_in_page, context, site):
    sink = await polled(platform, logged_in_page)
    www = realtime_page(context)
    notice = body("page_state/notice_push_list.json")[0]
    await www.evaluate("n => window.__ws.notice(n)", notice)
    batch = await sink.pushed(lambda b: b.comments)
    comment = batch.comments[0]
    assert (comment["platform_comment_id"], comment["platform_content_id"], comment["text"]) == (
        "7410000000000000014", "7400000000000000003", "[赞]讲得很清楚")
    assert await sink.io.state.get("due_works", []) == []  # the notice had all a record needs
    assert sink.early_polls == 0

    # A reply to someone names no parent: stored at once, and its work is read by the next
    # cycle, which is asked for early, although the works list shows no new comment count.
    reply = copy.deepcopy(notice)
    reply.update(nid=None, nid_str="7430000000000000005")
    reply["comment"]["comment"].update(cid="7420000000000000099", text="同意楼上", aweme_id="7400000000000000001",
                                       reply_to_username="测试用户01", reply_to_userid="100000000001")
    reply["comment"]["aweme"]["aweme_id"] = "7400000000000000001"
    await www.evaluate("n => window.__ws.notice(n)", reply)
    await sink.pushed(lambda b: any(c["platform_comment_id"] == "7420000000000000099" for c in b.comments))
    await platform._watches[logged_in_page].settle()
    assert await sink.io.state.get("due_works") == ["7400000000000000001"]
    assert sink.early_polls == 1
    site.requests.clear()
    await platform.poll(logged_in_page, ACCOUNT, sink.io)
    opened = {u.split("aweme_id=")[1].split("&")[0] for u in site.requests if "/comment/list/select/" in u}
    assert opened == {"7400000000000000001"}
    assert await sink.io.state.get("due_works") == []


async def test_a_notice_of_a_new_comment_stores_it_although_a_deletion_left_the_count_equal(
        platform, logged_in_page, context, site):
    """One comment deleted and one written between cycles: work 0001's count did not move,
    so the crawl does not open it; the notice the new comment brought stored it."""
    sink = await polled(platform, logged_in_page)
    site.remove_comment("7410000000000000001")
    site.add_comment("7410000000000000004", "7410000000000000005")
    notice = copy.deepcopy(body("page_state/notice_push_list.json")[0])
    notice["comment"]["comment"].update(cid="7410000000000000005", text="新的评论", aweme_id="7400000000000000001")
    notice["comment"]["aweme"]["aweme_id"] = "7400000000000000001"
    await realtime_page(context).evaluate("n => window.__ws.notice(n)", notice)
    batch = await sink.pushed(lambda b: b.comments)
    assert [(c["platform_comment_id"], c["platform_content_id"], c["parent_platform_comment_id"])
            for c in batch.comments] == [("7410000000000000005", "7400000000000000001", None)]
    assert await sink.io.state.get("due_works", []) == []
    site.requests.clear()
    await platform.poll(logged_in_page, ACCOUNT, sink.io)
    assert not [u for u in site.requests if "/comment/list/select/" in u]  # nothing left to read


async def test_a_www_page_without_the_stores_is_a_page_change(platform, logged_in_page, site, tmp_path):
    site.www_page_html = ('<!doctype html><html><body><header><div data-e2e="im-entry">私信</div></header>'
                          '</body></html>')  # no React state reaches the stores any more
    sink = PushSink()
    await platform.watch(logged_in_page, ACCOUNT, sink.io)
    with pytest.raises(PageChanged, match=r"page changed: the imStore \(React props above .*im-entry.*\) and the "
                                          r"noticeStore .* not found on realtime") as caught:
        await platform.poll(logged_in_page, ACCOUNT, sink.io)
    assert caught.value.snapshot and "im-entry" in (tmp_path.joinpath(caught.value.snapshot, "page.html")
                                                    .read_text(encoding="utf-8"))
    assert [c for b in sink.batches for c in b.contents]  # the crawl before it was stored


async def test_a_buffer_that_disappears_later_fails_the_next_poll(platform, logged_in_page, context):
    sink = await polled(platform, logged_in_page)
    www = realtime_page(context)
    closed = asyncio.ensure_future(www.wait_for_event("close"))
    await www.evaluate("window.__ws.drift()")
    await asyncio.wait_for(closed, PUSH_WAIT_S)  # the reader saw it and the page was given up
    with pytest.raises(PageChanged, match=r"page changed: the imStore\.msgListToPush buffer not found on realtime"):
        await platform.poll(logged_in_page, ACCOUNT, sink.io)
    # and the cycle after that opens a new www.douyin.com page
    await platform.poll(logged_in_page, ACCOUNT, sink.io)
    assert realtime_page(context) is not www


async def test_an_unreachable_www_page_leaves_the_crawl_alone(platform, logged_in_page, context):
    async def unreachable(route):
        await route.abort("connectionrefused")

    await context.route("https://www.douyin.com/**", unreachable)
    sink = await polled(platform, logged_in_page)  # no error: the creator centre was read
    assert [c for b in sink.batches for c in b.contents]
    await context.unroute("https://www.douyin.com/**", unreachable)
    await platform.poll(logged_in_page, ACCOUNT, sink.io)  # the next cycle opens it
    assert realtime_page(context)
