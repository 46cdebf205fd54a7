"""Never twice, never to the wrong place: finding a reply whose answer was lost (text the site
stores differently, an answer slower than the step timeout, a thread longer than the page
bound, an answer the adapter could not read), and refusing a target the page does not show."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Response

from app.engine.platform import PermanentError, ReplyTarget, ReplyUncertain, TransientError
from app.platforms.sandbox import adapter as adapter_module

from .harness import ACCOUNT, CREATOR, log_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120), pytest.mark.asyncio(loop_scope="module")]


async def _first_comment(control) -> dict:
    return next(c for c in await control.comments(CREATOR) if c["level"] == 1 and not c["is_author"])


def _target(comment: dict) -> ReplyTarget:
    return ReplyTarget("comment", comment["work_id"], comment["cid"], thread_platform_id=comment["cid"],
                       target_text=comment["text"], target_author=comment["user"]["nickname"])


def _loads(page) -> list[str]:
    loads: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and loads.append(frame.url))
    return loads


async def test_a_reply_the_site_stores_with_another_line_break_is_found(platform, page, control):
    await log_in(platform, page, control)
    target = _target(await _first_comment(control))
    since = datetime.now(timezone.utc)
    sent = await platform.reply(page, ACCOUNT, target, "a\n\nb")
    on_site = {c["cid"]: c["text"] for c in await control.comments(CREATOR)}[sent.platform_id]
    assert on_site != "a\n\nb"  # the contenteditable box added a line break
    found = await platform.find_reply(page, ACCOUNT, target, "a\n\nb", since)
    assert found.platform_id == sent.platform_id
    assert [c["text"] for c in found.created.comments] == [on_site]  # the record as the page showed it


async def test_a_send_answer_slower_than_the_step_timeout_is_found_by_its_created_id(
        platform, page, control, monkeypatch):
    await log_in(platform, page, control)
    comment = await _first_comment(control)
    target = _target(comment)
    since = datetime.now(timezone.utc)
    monkeypatch.setattr(adapter_module, "STEP_TIMEOUT_MS", 2_000)
    await control.set_faults(send_answer_delay_ms=3_000)
    answered = asyncio.ensure_future(page.wait_for_event(
        "response", lambda r: r.url.endswith("/api/comments/reply"), timeout=20_000))
    with pytest.raises(TransientError, match="may have been sent"):
        await platform.reply(page, ACCOUNT, target, "slow 🐢 answer")
    await answered  # the answer came after the adapter gave up on it
    [stored] = [c for c in await control.comments(CREATOR) if c["text"] == "slow 🐢 answer"]
    loads = _loads(page)
    assert (await platform.find_reply(page, ACCOUNT, target, "slow 🐢 answer", since)).platform_id == stored["cid"]
    assert loads == []  # the late answer said it: no page had to be searched


async def test_a_reply_at_the_end_of_a_thread_longer_than_the_page_bound_is_found(platform, page, site, control):
    await log_in(platform, page, control)
    comment = await _first_comment(control)
    for i in range(600):
        _, reply = site.world.inject_comment(CREATOR, f"fan {i}", f"me too {i}", reply_to=comment["cid"])
        reply.create_time -= 3600  # written an hour ago
    target = _target(comment)
    since = datetime.now(timezone.utc)
    sent = await platform.reply(page, ACCOUNT, target, "Thanks, all 600 of you!")
    found = await platform.find_reply(page, ACCOUNT, target, "Thanks, all 600 of you!", since)
    assert found.platform_id == sent.platform_id
    assert await platform.find_reply(page, ACCOUNT, target, "never sent", since) is None


async def test_a_look_that_cannot_reach_back_far_enough_is_uncertain(platform, page, site, control, monkeypatch):
    await log_in(platform, page, control)
    comment = await _first_comment(control)
    target = _target(comment)
    since = datetime.now(timezone.utc)
    await platform.reply(page, ACCOUNT, target, "buried reply")
    for i in range(40):  # newer replies push ours beyond what two pages show
        site.world.inject_comment(CREATOR, f"fan {i}", f"later {i}", reply_to=comment["cid"])
    monkeypatch.setattr(adapter_module, "MAX_PAGES_PER_LIST", 2)
    with pytest.raises(ReplyUncertain):
        await platform.find_reply(page, ACCOUNT, target, "not this one", since)


async def test_an_answer_the_adapter_cannot_read_makes_the_look_unknown_not_negative(
        platform, page, control, monkeypatch):
    await log_in(platform, page, control)
    injected = await control.inject_dm("Noa", "Hello?", creator=CREATOR)
    target = ReplyTarget("direct_message", injected["conversation_id"], peer_name="Noa")
    since = datetime.now(timezone.utc)
    await platform.reply(page, ACCOUNT, target, "Hi Noa")
    await control.inject_dm("Noa", "Thanks!", creator=CREATOR)  # ours is no longer the last message

    read_body = Response.json

    async def body_gone(response):  # what Playwright says when the page dropped the body first
        if "/api/im/messages?" in response.url:
            raise PlaywrightError("Network.getResponseBody: No resource with given identifier found")
        return await read_body(response)

    monkeypatch.setattr(Response, "json", body_gone)
    with pytest.raises(TransientError, match="could not be read"):
        await platform.find_reply(page, ACCOUNT, target, "Hi Noa", since)


async def test_a_comment_that_does_not_match_the_target_is_refused_and_nothing_sent(platform, page, control):
    await log_in(platform, page, control)
    comment = await _first_comment(control)
    before = len(await control.comments(CREATOR))
    wrong_author = ReplyTarget("comment", comment["work_id"], comment["cid"], target_author="Someone Else",
                               target_text=comment["text"])
    with pytest.raises(PermanentError, match="not 'Someone Else'; nothing was sent"):
        await platform.reply(page, ACCOUNT, wrong_author, "to the wrong person")
    wrong_text = ReplyTarget("comment", comment["work_id"], comment["cid"],
                             target_author=comment["user"]["nickname"], target_text="a different comment")
    with pytest.raises(PermanentError, match="nothing was sent"):
        await platform.reply(page, ACCOUNT, wrong_text, "to the wrong comment")
    wrong_work = ReplyTarget("comment", comment["work_id"], topic_title="Another video")
    with pytest.raises(PermanentError, match="not 'Another video'"):
        await platform.reply(page, ACCOUNT, wrong_work, "on the wrong work")
    injected = await control.inject_dm("Ivy", "hi", creator=CREATOR)
    wrong_peer = ReplyTarget("direct_message", injected["conversation_id"], peer_name="Jack")
    with pytest.raises(PermanentError, match="with 'Ivy', not 'Jack'"):
        await platform.reply(page, ACCOUNT, wrong_peer, "to the wrong peer")
    assert len(await control.comments(CREATOR)) == before
    conv = next(c for c in await control.conversations(CREATOR) if c["conversation_id"] == injected["conversation_id"])
    assert [m["is_from_me"] for m in conv["messages"]] == [False]


async def test_a_reply_returns_the_created_record(platform, page, control):
    await log_in(platform, page, control)
    comment = await _first_comment(control)
    sent = await platform.reply(page, ACCOUNT, _target(comment), "Record me 📝")
    [record] = sent.created.comments
    assert (record["platform_comment_id"], record["parent_platform_comment_id"], record["direction"]) == (
        sent.platform_id, comment["cid"], "out")
    assert sent.created.account_id == ACCOUNT.id and record["text"] == "Record me 📝"
