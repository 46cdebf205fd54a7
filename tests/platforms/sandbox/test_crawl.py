"""The crawl streams and resumes: every page's records are handed on as they are read, the
position is kept in the platform state (not in the page), bounds limit one cycle's work but
never what is eventually stored, and listeners see the first page load."""
from __future__ import annotations

import pytest

from app.engine.platform import SessionStatus
from app.platforms.sandbox import crawl

from .harness import ACCOUNT, CREATOR, CollectingSink, log_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240), pytest.mark.asyncio(loop_scope="module")]


def _comment_ids(sink: CollectingSink, since: int = 0) -> set[str]:
    return {c["platform_comment_id"] for b in sink.batches[since:] if b.source == "crawl" for c in b.comments}


async def _site_comment_ids(control, work_id: str) -> set[str]:
    return {c["cid"] for c in await control.comments(CREATOR, work_id)}


async def test_a_long_thread_is_stored_whole(platform, page, control):
    """600 replies: more than the 50 "more replies" pages a list may take per cycle (510)."""
    await log_in(platform, page, control)
    work_id = (await control.works(CREATOR))[0]["work_id"]
    [root] = await control.inject_bulk(CREATOR, work_id, threads=1, replies=600)
    sink = CollectingSink()
    await platform.poll(page, ACCOUNT, sink.io)
    on_site = await _site_comment_ids(control, work_id)
    assert len(on_site) > 601 and on_site <= _comment_ids(sink)
    assert sink.state.values[f"threads:{work_id}"][root]["read"] == 600


async def _a_thread_read_whole(platform, page, control, *, replies: int) -> tuple[str, str, list[str], CollectingSink]:
    """A new thread of `replies` replies on the first work, read whole by a cycle: the work id,
    the thread's first-level comment, its replies (oldest first) and the sink."""
    await log_in(platform, page, control)
    work_id = (await control.works(CREATOR))[0]["work_id"]
    [root] = await control.inject_bulk(CREATOR, work_id, threads=1, replies=replies)
    sink = CollectingSink()
    await platform.poll(page, ACCOUNT, sink.io)
    thread = [c["cid"] for c in await control.comments(CREATOR, work_id) if c["reply_id"] == root]
    assert len(thread) == replies and set(thread) <= _comment_ids(sink)
    return work_id, root, thread, sink


async def test_replies_deleted_in_a_read_thread_do_not_make_its_continuation_skip_new_ones(platform, page, control):
    """A thread is read whole; then two of its replies are deleted and three new ones written.
    The next pass continues the thread after the last reply it read, not at an offset that
    now lies past two of the new ones."""
    work_id, root, thread, sink = await _a_thread_read_whole(platform, page, control, replies=10)
    for cid in thread[:2]:
        await control.delete_comment(CREATOR, cid)
    new = [(await control.inject_comment("fan", f"late {n}", creator=CREATOR, work_id=work_id,
                                         reply_to=root))["comment"]["cid"] for n in range(3)]
    for _ in range(3):
        await platform.poll(page, ACCOUNT, sink.io)
    assert set(new) - _comment_ids(sink) == set()  # read by the crawl (not only pushed)


async def test_a_crawl_cut_short_by_its_budget_continues_on_another_page(platform, page, browser, control,
                                                                          monkeypatch):
    """A work too big for one cycle: each cycle stores what it read and the next, on a new
    page (after a hibernation), continues from the saved position until everything is in."""
    await log_in(platform, page, control)
    work_id = (await control.works(CREATOR))[1]["work_id"]
    await control.inject_bulk(CREATOR, work_id, threads=60, replies=2)
    monkeypatch.setattr(crawl, "MAX_STEPS_PER_CYCLE", 25)
    sink = CollectingSink()
    await platform.poll(page, ACCOUNT, sink.io)
    first = _comment_ids(sink)
    on_site = await _site_comment_ids(control, work_id)
    assert first and not on_site <= first  # the budget stopped it, and what it read is handed on
    storage = await page.context.storage_state()
    cycles = 1
    while not on_site <= _comment_ids(sink):
        context = await browser.new_context(storage_state=storage)  # a fresh page: the position is in the state
        try:
            fresh = await context.new_page()
            before = len(sink.batches)
            await platform.poll(fresh, ACCOUNT, sink.io)
            assert _comment_ids(sink, before) - first, "a cycle that stored nothing new"
            first |= _comment_ids(sink, before)
        finally:
            await context.close()
        cycles += 1
        assert cycles < 20
    assert cycles >= 3
    # Once the other works are read too, a cycle opens no work's comments at all.
    for _ in range(5):
        before = len(sink.batches)
        await platform.poll(page, ACCOUNT, sink.io)
        if not _comment_ids(sink, before):
            break
    else:
        raise AssertionError("the crawl never settled")


async def test_a_long_conversation_is_stored_whole(platform, page, control):
    """1,600 new DMs in one conversation: more than the 50 "older" pages (30 each) a list may
    take per cycle. The next cycles continue from the oldest message read, until all are in."""
    await log_in(platform, page, control)
    texts = [f"long talk {n}" for n in range(1600)]
    for text in texts:
        await control.inject_dm("Chatty Cathy", text, creator=CREATOR)
    sink = CollectingSink()
    for cycle in range(1, 6):
        await platform.poll(page, ACCOUNT, sink.io)
        stored = {m["text"] for b in sink.batches for m in b.messages}
        if set(texts) <= stored:
            break
    assert set(texts) <= stored, f"{len(set(texts) - stored)} messages never stored"
    assert cycle >= 2  # the bound did stop the first cycle
    before = len(sink.batches)
    await platform.poll(page, ACCOUNT, sink.io)
    again = {m["text"] for b in sink.batches[before:] for m in b.messages} & set(texts)
    assert again <= {texts[-1]}  # the conversation is not read again (the inbox list shows its last message)


async def test_comments_deleted_between_cycles_do_not_make_a_pass_skip_any(platform, page, control, monkeypatch):
    """A pass over a work's comments (newest first) stops at its budget; before the next cycle
    the creator deletes some of the comments already read (and the audience replies in a
    thread, so the comment count is as before). The pass continues where it stopped in the
    list, not at an offset that now lies further down: every first-level comment is read."""
    await log_in(platform, page, control)
    work_id = (await control.works(CREATOR))[0]["work_id"]
    roots = await control.inject_bulk(CREATOR, work_id, threads=90)
    monkeypatch.setattr(crawl, "MAX_STEPS_PER_CYCLE", 3)
    sink = CollectingSink()
    for _ in range(30):
        await platform.poll(page, ACCOUNT, sink.io)
        if await sink.state.get(f"work:{work_id}") is not None:
            break
    else:
        raise AssertionError("no pass over the work was ever cut short")
    read = [cid for cid in reversed(roots) if cid in _all_comment_ids(sink)]  # newest first, as listed
    assert 5 < len(read) < len(roots)
    for cid in read[:5]:
        await control.delete_comment(CREATOR, cid)
    for n in range(5):
        await control.inject_comment("fan", f"+{n}", creator=CREATOR, work_id=work_id, reply_to=read[-1])
    for _ in range(30):
        await platform.poll(page, ACCOUNT, sink.io)
        if await sink.state.get(f"work:{work_id}") is None:
            break
    for _ in range(3):  # and a few more cycles: what the pass skipped would stay skipped
        await platform.poll(page, ACCOUNT, sink.io)
    live = {c["cid"] for c in await control.comments(CREATOR, work_id) if c["reply_id"] == "0"}
    assert live - _all_comment_ids(sink) == set()


async def _comment_count(control, work_id: str) -> int:
    return next(w["comment_count"] for w in await control.works(CREATOR) if w["work_id"] == work_id)


async def _swap_while_asleep(platform, page, control, sink: CollectingSink, work: str, deleted: str,
                             **where: str) -> None:
    """With the account asleep (no page open: no IM websocket, no comment notice), delete one
    comment and write one (on the work, or `reply_to`), which leaves the work's comment count
    as it was. The next cycle reads the new comment all the same, and the one after no work."""
    count = await _comment_count(control, work)
    await page.goto("about:blank")
    await control.delete_comment(CREATOR, deleted)
    new = (await control.inject_comment("fan", "written while asleep", creator=CREATOR, **where))["comment"]["cid"]
    assert await _comment_count(control, work) == count
    before = len(sink.batches)
    await platform.poll(page, ACCOUNT, sink.io)
    assert new in _comment_ids(sink, before)
    before = len(sink.batches)
    await platform.poll(page, ACCOUNT, sink.io)
    assert _comment_ids(sink, before) == set()  # nothing moved since: no work is read again


async def test_a_comment_deleted_and_one_written_while_asleep_is_read(platform, page, control):
    """A work read whole loses a comment and gets a new one between two cycles."""
    await log_in(platform, page, control)
    work_id = (await control.works(CREATOR))[0]["work_id"]
    [old, _] = await control.inject_bulk(CREATOR, work_id, threads=2)
    sink = CollectingSink()
    await platform.poll(page, ACCOUNT, sink.io)
    await _swap_while_asleep(platform, page, control, sink, work_id, old, work_id=work_id)


async def test_a_reply_deleted_and_one_written_while_asleep_is_read(platform, page, control):
    """The same in a thread read whole: its last reply is deleted and a new one written, so
    the thread's reply count is as it was too."""
    work_id, root, thread, sink = await _a_thread_read_whole(platform, page, control, replies=3)
    await _swap_while_asleep(platform, page, control, sink, work_id, thread[-1], reply_to=root)


def _all_comment_ids(sink: CollectingSink) -> set[str]:
    return {c["platform_comment_id"] for b in sink.batches for c in b.comments}


async def test_listeners_see_the_first_page_load_without_a_second_navigation(platform, page, control):
    await log_in(platform, page, control)
    sink = CollectingSink()
    navigations = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url))
    await platform.watch(page, ACCOUNT, sink.io)
    assert navigations == []  # the hook comes before the first navigation and makes none
    await page.goto(f"{platform.base_url}/creator/works")
    await sink.wait_for("contents", lambda c: True)  # the first load's JSON
    injected = await control.inject_dm("Lucas", "first load push", creator=CREATOR)
    await sink.wait_for("messages", lambda m: m["platform_message_id"] == injected["message"]["msg_id"], timeout=5)
    assert len(navigations) == 1


async def test_check_session_tells_verification_and_blocking_apart(platform, page, control):
    await log_in(platform, page, control)
    try:
        await control.set_standing(CREATOR, "verify")
        assert await platform.check_session(page) is SessionStatus.NEEDS_VERIFICATION
        await control.set_standing(CREATOR, "blocked")
        assert await platform.check_session(page) is SessionStatus.BLOCKED
    finally:
        await control.set_standing(CREATOR, "ok")
    assert await platform.check_session(page) is SessionStatus.LOGGED_IN


async def test_a_pushed_session_expiry_is_reported_at_once(platform, page, control):
    await log_in(platform, page, control)
    sink = CollectingSink()
    await platform.watch(page, ACCOUNT, sink.io)
    await page.goto(platform.home_url())
    await page.wait_for_function("() => document.body.dataset.state === 'ready'")
    await control.expire_sessions(CREATOR)
    await page.wait_for_selector('body[data-state="login"]')
    assert sink.sessions and sink.sessions[0][0] is SessionStatus.EXPIRED
