"""One poll cycle of the sandbox site, streamed and resumable.

The crawl walks what a creator would: the works list, the comments of each work that changed
(first-level comments page by page, each reply thread that changed), then the inbox (each
conversation whose last message moved). It is written for works far bigger than one cycle can
read:

- What changed is told by the lists themselves, at no extra page load: the works list shows
  each work's comment count and newest comment (as creator centres show the latest comment),
  a work's comment list each thread's reply count and newest reply. A count alone misses a
  change that leaves it equal (one comment deleted, one written), and with no push (an
  account asleep, a lost frame) such a comment would wait until the count moved again, maybe
  for ever. Ids grow with time, so the newest id moves with every new comment, whatever was
  deleted: a work (a thread) is read again when its count or its newest id moved. Checking
  the newest page of every unchanged work instead would cost a page load per work and cycle,
  and would still miss a reply in an old thread.

- Every list page's and every thread's records go to the sink as soon as they have settled
  (committed before the crawl goes on), and the position reached is saved in the account's
  PlatformState right after: a crawl cut short (a timeout, a crash, a restart) loses at most
  the page in progress, and a retried cycle never redoes a thread it has read.
- The position outlives the page: the next cycle, after a hibernation or a restart too,
  continues a work's list after the last comment read (the page's ?cursor= link), a thread
  after the last reply read (the ?thread=&reply_cursor= link) and a conversation before the
  oldest message read (the inbox's ?conversation=&before= link), instead of starting at the
  top. Positions are ids, not offsets: comments deleted before one, or new ones on top, do not
  make the next page skip any. A thread that changed is continued after the last reply read
  (the list is oldest first, so whatever was written since comes after it).
- Bounds limit one cycle's work (MAX_STEPS_PER_CYCLE page loads and clicks, MAX_PAGES_PER_LIST
  "more" clicks per list), never what is eventually stored: what a bound left is read by the
  next cycle.

State kept (all JSON, per account):
  "works"               {work id: {"count", "newest"}: the comment count and newest comment id
                        the works list showed when the work's last full pass began}
  "work:<id>"           {"count", "newest" when this pass began, "cursor": id of the last
                        first-level comment read, "0" for none} while a pass over the work
                        is under way
  "threads:<work id>"   {first-level cid: {"read": replies read, "last": id of the last
                        reply read, "newest": the thread's newest reply id the list showed when
                        it was read to its end, None when it was not}}; threads are oldest
                        first, continued after "last"
  "conversations"       {conversation id: last message id read up to}
  "conversation:<id>"   {"last": its last message id when this pass began, "before": the
                        oldest message id read} while a pass over the conversation is under way
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from app.engine.platform import PlatformState, TransientError

from .parsers import Parsed

if TYPE_CHECKING:
    from playwright.async_api import Page

    from .adapter import SandboxPlatform, _PageWatch

MAX_STEPS_PER_CYCLE = 500  # page loads and "more" clicks of one cycle; the next one continues
MAX_PAGES_PER_LIST = 50  # "more" clicks per list and cycle


class BudgetSpent(Exception):
    """This cycle has done its share; the saved position lets the next one continue."""


class Crawl:
    def __init__(self, adapter: "SandboxPlatform", page: "Page", watch: "_PageWatch", state: PlatformState) -> None:
        self.adapter = adapter
        self.page = page
        self.watch = watch
        self.state = state
        self.steps_left = MAX_STEPS_PER_CYCLE

    async def run(self) -> None:
        """Crawl until done or until this cycle's budget is spent."""
        self.watch.crawl = Parsed()
        try:
            await self._all()
        except BudgetSpent:
            pass
        finally:
            self.watch.crawl = None

    async def _all(self) -> None:
        works = await self._works()
        # An older version kept the count alone: such a work is read once more.
        done: dict[str, dict] = await self.state.get("works", {})
        for work_id, shown in works:
            if done.get(work_id) == shown and await self.state.get(f"work:{work_id}") is None:
                continue
            done[work_id] = await self._work(work_id, shown)
            await self.state.set("works", done)
        await self._inbox()

    # ---- steps ---------------------------------------------------------------------------
    async def _step(self) -> None:
        """Count a page load or click against the cycle's budget."""
        if self.steps_left <= 0:
            raise BudgetSpent()
        self.steps_left -= 1

    async def _open(self, path: str) -> None:
        await self._step()
        await self.adapter._open(self.page, f"{self.adapter.base_url}{path}")

    async def _click(self, selector: str) -> None:
        await self._step()
        await self.page.click(selector)
        await self.adapter._settled(self.page)

    async def _more(self, selector: str, *, until: str | None = None) -> bool:
        """Click a list's "more" button up to MAX_PAGES_PER_LIST times, or until `until` (a
        selector) shows; True when the list ended there (or the button went away), False
        when a bound stopped it: this list's, or the cycle's budget (then what was loaded
        stays on the page for the caller to keep, and its next step ends the cycle)."""
        button = self.page.locator(selector)
        for _ in range(MAX_PAGES_PER_LIST):
            if (until and await self.page.locator(until).count()) or not await button.is_visible():
                return True
            if self.steps_left <= 0:
                return False
            await self._click(selector)
        return bool(until and await self.page.locator(until).count()) or not await button.is_visible()

    async def _flush(self) -> None:
        """Hand what the page fetched so far to the sink (committed when this returns)."""
        await self.watch.settle()
        parsed, self.watch.crawl = self.watch.crawl, Parsed()
        if parsed:
            await self.watch.emit(parsed, "crawl")

    # ---- works ---------------------------------------------------------------------------
    async def _works(self) -> list[tuple[str, dict]]:
        """Each work's id and what the list shows of its comments: {"count", "newest"}."""
        await self._open("/creator/works")
        while await self.page.locator("#load-more").is_visible():
            await self._click("#load-more")
        works = await self.page.eval_on_selector_all(".work", """rows => rows.map(r => [r.dataset.workId,
            {count: Number(r.dataset.commentCount), newest: r.dataset.newestCommentId}])""")
        await self._flush()
        return [(work_id, shown) for work_id, shown in works]

    async def _work(self, work_id: str, shown: dict) -> dict:
        """Read the work's comments from the saved position on; returns the count and newest
        id the pass began at (the next pass starts from the top when they have moved since)."""
        key, threads_key = f"work:{work_id}", f"threads:{work_id}"
        progress = await self.state.get(key) or {**shown, "cursor": "0"}
        if not isinstance(progress["cursor"], str):  # an offset, kept by an older version: start over
            progress["cursor"] = "0"
        threads: dict[str, dict] = await self.state.get(threads_key, {})
        start = progress["cursor"]
        await self._open(f"/creator/comments?work={quote(work_id)}" + (f"&cursor={start}" if start != "0" else ""))
        handled: set[str] = set()
        unfinished: list[tuple[str, int, str]] = []  # threads to continue through their own link
        while True:
            rows = await self.page.eval_on_selector_all('.comment[data-level="1"]', """rows => rows.map(r =>
                [r.dataset.cid, Number(r.dataset.replyTotal), r.dataset.newestReplyId])""")
            for cid, size, newest in rows:
                if cid in handled:
                    continue
                handled.add(cid)
                position = _thread_position(threads.get(cid))
                if _thread_unchanged(position, size, newest):
                    continue
                if position["last"] == "0":  # nothing read yet: here in the list
                    position = threads[cid] = await self._expand(cid, size, newest)
                    await self._flush()  # a thread is a page too: a list page of big
                    await self.state.set(threads_key, threads)  # threads may outlast a step
                if not _thread_unchanged(position, size, newest):  # the bound stopped it, or it changed
                    threads[cid] = position
                    unfinished.append((cid, size, newest))
            await self._flush()
            if rows:
                progress["cursor"] = rows[-1][0]
            await self.state.set(threads_key, threads)
            await self.state.set(key, progress)
            if not await self.page.locator("#load-more").is_visible():
                break
            await self._click("#load-more")
        for cid, size, newest in unfinished:
            await self._continue_thread(work_id, cid, size, newest, threads)
            await self._flush()
            await self.state.set(threads_key, threads)
        await self.state.set(key, None)
        # A pass kept by an older version has no "newest": the work is read once more.
        return {"count": progress["count"], "newest": progress.get("newest")}

    async def _expand(self, cid: str, size: int, newest: str) -> dict:
        """Open a thread in the list and load its replies (bounded); returns its position."""
        row = f'.comment[data-cid="{cid}"]'
        if await self.page.locator(f"{row} > .body > .view-replies").is_visible():
            await self._click(f"{row} > .body > .view-replies")
        ended = await self._more(f"{row} > .body > .more-replies")
        return await self._thread_read(cid, size, newest, ended, {"read": 0, "last": "0"})

    async def _continue_thread(self, work_id: str, cid: str, size: int, newest: str,
                               threads: dict[str, dict]) -> None:
        """Read a thread on after the last reply read, through the thread's own link."""
        position = threads[cid]
        await self._open(f"/creator/comments?work={quote(work_id)}&thread={quote(cid)}"
                         f"&reply_cursor={position['last']}")
        ended = await self._more(f'.comment[data-cid="{cid}"] > .body > .more-replies')
        threads[cid] = await self._thread_read(cid, size, newest, ended, position)

    async def _thread_read(self, cid: str, size: int, newest: str, ended: bool, before: dict) -> dict:
        """The thread's position once the replies on the page are read: a thread read to its
        end holds its whole `size` up to `newest`, as the list showed them (the replies deleted
        since were read before)."""
        shown = await self.page.eval_on_selector_all(
            f'.comment[data-cid="{cid}"] > .body > .replies > .comment', "rows => rows.map(r => r.dataset.cid)")
        return {"read": size if ended else before["read"] + len(shown),
                "last": shown[-1] if shown else before["last"], "newest": newest if ended else None}

    # ---- inbox ---------------------------------------------------------------------------
    async def _inbox(self) -> None:
        await self._open("/creator/inbox")
        conversations = await self.page.eval_on_selector_all(
            ".conversation", "rows => rows.map(r => [r.dataset.conversationId, r.dataset.lastMsgId])")
        await self._flush()
        for conversation_id, last_msg_id in conversations:
            await self._conversation(conversation_id, last_msg_id)

    async def _conversation(self, conversation_id: str, last_msg_id: str) -> None:
        """Read the conversation's new messages, newest first, down to the last one read
        before; a pass the bound stops continues next cycle before the oldest one it read."""
        seen: dict[str, str] = await self.state.get("conversations", {})
        key = f"conversation:{conversation_id}"
        progress = await self.state.get(key)
        if progress is None:
            if seen.get(conversation_id) == last_msg_id:
                return
            progress = {"last": last_msg_id, "before": "0"}
        if progress["before"] == "0":
            await self._step()
            await self.adapter._open_conversation(self.page, conversation_id)
        else:
            await self._open(f"/creator/inbox?conversation={quote(conversation_id)}&before={progress['before']}")
            if await self.page.get_attribute("#chat-header", "data-conversation-id") != conversation_id:
                raise TransientError("the inbox link opened another conversation than the one asked for")
        stop_at = seen.get(conversation_id)
        ended = await self._more("#load-older", until=f'.message[data-msg-id="{stop_at}"]' if stop_at else None)
        oldest = await self.page.evaluate("() => document.querySelector('#messages .message')?.dataset.msgId ?? null")
        await self._flush()
        if ended or oldest is None:
            seen[conversation_id] = progress["last"]
            await self.state.set("conversations", seen)
            await self.state.set(key, None)
        else:
            progress["before"] = oldest
            await self.state.set(key, progress)


def _thread_position(kept: dict | int | None) -> dict:
    """A thread's saved position: {"read": replies read, "last": id of the last one read, "0"
    for none, "newest"}. An older version kept the count alone: such a thread is read again."""
    return kept if isinstance(kept, dict) else {"read": 0, "last": "0"}


def _thread_unchanged(position: dict, size: int, newest: str) -> bool:
    """Whether a thread the list shows with `size` replies, the newest `newest`, was read to
    its end as it is. A position kept by an older version has no "newest": its last reply
    read was the newest then."""
    return size == position["read"] and newest == position.get("newest", position["last"])
