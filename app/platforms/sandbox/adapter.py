"""The sandbox platform adapter: drives the sandbox site through a real browser page, the way a
real platform's adapter drives its creator site.

- Data comes only from what the page itself fetches (response interception) and what its IM
  websocket pushes (frame listeners). The adapter never calls the site's data API itself; it
  navigates and clicks, the page fetches.
- Replies are typed into the page's reply box with keyboard input and sent with its button;
  the platform id comes from the page's own send request's response.
- Listeners are attached before the page's first navigation (`watch`), so the first load's
  fetches and its IM websocket are seen.
- Crawls (crawl.py) are streamed and incremental: each page's records are stored as it is
  read, the position is kept in the account's PlatformState, and only works whose comment
  count moved, reply threads that grew and conversations whose last message moved are opened
  again, after hibernation and restarts too.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable
from urllib.parse import quote, urlsplit

from playwright.async_api import Error as PlaywrightError

from app.engine.page_tasks import PageTasks
from app.engine.platform import (
    AccountBlocked,
    AccountInfo,
    BatchSink,
    LoginFailed,
    LoginIO,
    LoginOutcome,
    MonitorIO,
    NeedsVerification,
    PermanentError,
    Platform,
    PlatformError,
    PlatformRuntime,
    ReplyBlocked,
    ReplyTarget,
    ReplyUncertain,
    SentReply,
    SessionExpired,
    SessionStatus,
    TransientError,
    session_status_of,
)
from app.engine.reply_text import text_key

from . import parsers
from .control_client import SandboxControl
from .crawl import MAX_PAGES_PER_LIST, Crawl
from .parsers import Parsed
from .settings import SandboxSettings

if TYPE_CHECKING:
    from playwright.async_api import Page, Response, WebSocket

    from .site import SandboxSite

log = logging.getLogger(__name__)

STEP_TIMEOUT_MS = 15_000  # one navigation or one fetch the page makes
LOGIN_TIMEOUT_S = 300.0  # the QR login gives up after this (the engine may stop it sooner)
LOGIN_POLL_S = 0.25
MAX_SMS_ATTEMPTS = 3
OPEN_CONVERSATION_CLICKS = 3  # a push moving the inbox list can make a click miss its row

# Read the login card in one round trip.
_LOGIN_SNAPSHOT_JS = """() => {
  const qr = document.getElementById('qr');
  const status = document.getElementById('login-status');
  const error = document.getElementById('login-error');
  const sms = document.getElementById('sms-box');
  return {
    token: qr ? qr.dataset.token || null : null,
    src: qr ? qr.getAttribute('src') : null,
    url: qr ? qr.dataset.url || null : null,
    expiresAt: qr ? Number(qr.dataset.expiresAt || 0) : 0,
    state: status ? status.dataset.state : null,
    error: error && !error.hidden ? error.textContent : null,
    smsVisible: !!sms && !sms.hidden,
  };
}"""


_SendKey = tuple[str, str, "str | None", str]  # target kind, topic, comment, text key
_Found = Callable[[], "dict[str, Any] | None"]  # the matching record a look has seen so far


@dataclass
class _PageWatch(PageTasks):
    """What the adapter knows about one account's live page: its listeners' sink, the crawl in
    progress and which thread each reply seen is in. What must outlive the page (the crawl's
    position) is in the account's PlatformState instead (crawl.py)."""

    account_id: str
    sink: BatchSink | None = None
    io: MonitorIO | None = None  # the monitor's, once `watch` was called
    crawl: Parsed | None = None  # responses go here while a crawl runs, else straight to `sink`
    crashed: bool = False
    push_open: bool = False  # an IM websocket we listen to is open
    comment_roots: dict[str, str] = field(default_factory=dict)  # reply cid → thread root cid
    # Sends whose answer did not come in time, by (target, text key): the answer, when it comes.
    late_sends: dict[_SendKey, asyncio.Future[tuple[int, Any]]] = field(default_factory=dict)

    def session_lost(self, status: SessionStatus, message: str) -> None:
        """A push or a fetch saw the session end: tell the pool now."""
        if self.io is not None:
            self.io.session_changed(status, message)

    def remember_thread(self, comment: dict[str, Any]) -> None:
        """Note which thread a second-level comment is in (replying to it opens that thread)."""
        if str(comment.get("reply_id", "0")) != "0":
            self.comment_roots[str(comment["cid"])] = str(comment["reply_id"])

    async def emit(self, parsed: Parsed, source: str) -> None:
        if parsed and self.sink is not None:
            await self.sink(parsed.to_batch(self.account_id, source))


class SandboxPlatform(Platform):
    name = "sandbox"
    label = "沙盒 Sandbox"
    capabilities = frozenset({"comments", "direct_messages", "qr_login", "sms_verification"})
    settings_model = SandboxSettings

    def __init__(self) -> None:
        self.config = SandboxSettings()  # this engine's `platforms.sandbox` block, from startup
        self.site: SandboxSite | None = None
        self.control: SandboxControl | None = None
        self._base_url: str | None = None
        self._watches: weakref.WeakKeyDictionary[Page, _PageWatch] = weakref.WeakKeyDictionary()

    # ---- lifecycle ---------------------------------------------------------------------
    async def startup(self, runtime: PlatformRuntime) -> None:
        """Start the local site (unless `platforms.sandbox.enabled` is off), or drive the one
        at `site_url`."""
        from .site import SandboxSite

        self.config = SandboxSettings.model_validate(runtime.config.model_dump())
        if self.config.site_url:
            log.info("sandbox platform drives the site at %s", self.config.site_url)
            self.use_site(self.config.site_url)
            return
        if not self.config.enabled:
            log.info("sandbox platform disabled in settings; its site is not started")
            return
        self.site = SandboxSite(
            host=self.config.host, port=self.config.port,
            world_file=Path(runtime.data_dir) / "sandbox" / "world.json" if runtime.data_dir else None,
        )
        self.use_site(await self.site.start())
        if self.config.demo_traffic:
            from .demo import resume_demo_traffic

            resume_demo_traffic(self.site)

    async def shutdown(self) -> None:
        if self.control is not None:
            await self.control.close()
            self.control = None
        if self.site is not None:
            await self.site.stop()
            self.site = None
        self._base_url = None

    def use_site(self, base_url: str) -> None:
        """Drive the site at `base_url` (the one `startup` started, or another one)."""
        self._base_url = base_url.rstrip("/")
        self.control = SandboxControl(self._base_url)

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise TransientError("the sandbox site is not running (disabled in settings or not started)")
        return self._base_url

    def home_url(self) -> str:
        return f"{self.base_url}/creator/home"

    # ---- login -------------------------------------------------------------------------
    async def login(self, page: Page, io: LoginIO) -> LoginOutcome:
        async with self._guard(page):
            await page.goto(f"{self.base_url}/login", timeout=STEP_TIMEOUT_MS)
            await self._follow_qr_login(page, io)
            await page.wait_for_url("**/creator/**", timeout=STEP_TIMEOUT_MS)
            return await self._read_profile(page)

    async def _follow_qr_login(self, page: Page, io: LoginIO) -> None:
        """Report the QR (and each refresh), the scan, ask for the SMS code when the page
        wants one; return once the page leaves for the creator pages."""
        shown_token: str | None = None
        scanned = False
        sms_attempts = 0
        sms_error: str | None = None  # the site's answer to the last wrong code
        deadline = time.monotonic() + LOGIN_TIMEOUT_S
        while time.monotonic() < deadline:
            if urlsplit(page.url).path.startswith(("/login/complete", "/creator/")):
                if not scanned:  # scanned and confirmed between two looks: still a scan
                    await io.report("scanned", message="已扫码 scanned")
                return
            try:
                snap = await page.evaluate(_LOGIN_SNAPSHOT_JS)
            except PlaywrightError as exc:
                if "context was destroyed" in str(exc) or "navigat" in str(exc):
                    continue  # the page is leaving for the creator home
                raise
            if snap["token"] and snap["token"] != shown_token and snap["src"]:
                await io.report(
                    "qr_ready" if shown_token is None else "qr_refreshed",
                    qr_png=_data_url_bytes(snap["src"]), qr_url=snap["url"],
                    expires_at=datetime.fromtimestamp(snap["expiresAt"] / 1000, tz=timezone.utc),
                )
                shown_token, scanned = snap["token"], False
            state = snap["state"]
            if state in ("scanned", "sms_required", "confirmed") and not scanned:
                await io.report("scanned", message="已扫码 scanned")
                scanned = True
            if state == "failed":
                raise LoginFailed(snap["error"] or "the site refused the login")
            if state == "sms_required" and snap["smsVisible"]:
                if sms_attempts >= MAX_SMS_ATTEMPTS:
                    raise LoginFailed("too many wrong verification codes")
                sms_attempts += 1
                sms_error = await self._answer_sms(page, io, retry_reason=sms_error)
                if sms_error is None:  # accepted: the card hides the code field and moves on
                    await page.wait_for_selector("#sms-box", state="hidden", timeout=STEP_TIMEOUT_MS)
                continue
            await asyncio.sleep(LOGIN_POLL_S)
        raise LoginFailed("the QR code was not scanned in time")

    async def _answer_sms(self, page: Page, io: LoginIO, *, retry_reason: str | None) -> str | None:
        """Ask the operator for the SMS code and enter it; returns the site's complaint about
        the code, or None when it was accepted."""
        prompt = "请输入手机收到的短信验证码 Enter the SMS code the sandbox phone shows"
        if retry_reason:
            prompt = f"{retry_reason}. {prompt}"
        code = await io.ask("sms_code", prompt)
        await page.click("#sms-code")
        await page.keyboard.type(code.strip())
        async with page.expect_response(lambda r: urlsplit(r.url).path == "/api/login/sms",
                                        timeout=STEP_TIMEOUT_MS) as answered:
            await page.click("#sms-submit")
        try:
            body = await (await answered.value).json()
        except PlaywrightError:  # the card accepted the code and already left for the home page
            return None
        return None if body.get("status_code") == parsers.STATUS_OK else body.get("status_msg") or "wrong code"

    async def _read_profile(self, page: Page) -> LoginOutcome:
        await self._settled(page)
        profile = await page.eval_on_selector("#profile", "node => ({...node.dataset})")
        if not profile.get("uid"):
            raise LoginFailed("logged in, but the home page shows no profile")
        return LoginOutcome(
            platform_user_id=profile["uid"], username=profile.get("nickname"),
            avatar_url=profile.get("avatar"), user_info={"unique_id": profile.get("uniqueId")},
        )

    async def check_session(self, page: Page) -> SessionStatus:
        async with self._guard(page):
            try:
                await self._open(page, self.home_url())
            except SessionExpired as exc:
                return session_status_of(exc)
            uid = await page.get_attribute("#profile", "data-uid")
            return SessionStatus.LOGGED_IN if uid else SessionStatus.EXPIRED

    # ---- monitoring --------------------------------------------------------------------
    async def watch(self, page: Page, account: AccountInfo, io: MonitorIO) -> None:
        """Intercept the page's data responses and IM pushes, from its first load on (every
        creator page, the home page included, keeps the IM websocket open)."""
        watch = self._watch(page, account)
        watch.io, watch.sink = io, io.sink

    def _watch(self, page: Page, account: AccountInfo) -> _PageWatch:
        """The page's watch, attaching the listeners the first time."""
        watch = self._watches.get(page)
        if watch is None:
            watch = self._watches[page] = _PageWatch(account.id)
            page.on("response", lambda response: self._on_response(watch, response))
            page.on("websocket", lambda ws: self._on_websocket(watch, ws))
            page.on("crash", lambda _page: setattr(watch, "crashed", True))
        return watch

    def _on_response(self, watch: _PageWatch, response: Response) -> None:
        if not response.url.startswith(self.base_url):
            return
        if response.status == 401:
            watch.session_lost(SessionStatus.EXPIRED, "the site answered 401")
            return
        if parsers.is_data_url(response.url):
            watch.spawn(self._read_response(watch, response, watch.crawl))

    async def _read_response(self, watch: _PageWatch, response: Response, crawl: Parsed | None) -> None:
        try:
            body = await response.json()
        except (PlaywrightError, ValueError):
            if crawl is not None:  # a look that missed an answer must not conclude from the rest
                crawl.unreadable += 1
            return  # the page went away before its body was read; the next crawl sees it
        if isinstance(body, dict) and body.get("status_code") in _HELD:
            watch.session_lost(_HELD[body["status_code"]], str(body.get("status_msg") or ""))
        for c in body.get("comments", []) if isinstance(body, dict) else []:
            watch.remember_thread(c)
        parsed = parsers.parse_response(response.url, body)
        if crawl is not None:
            crawl.extend(parsed)
        else:
            await watch.emit(parsed, "intercept")

    def _on_websocket(self, watch: _PageWatch, ws: WebSocket) -> None:
        if urlsplit(ws.url).path != "/api/im/ws":
            return
        watch.push_open = True
        ws.on("close", lambda _ws: setattr(watch, "push_open", False))

        def on_frame(payload: str | bytes) -> None:
            frame = parsers.read_frame(payload)
            if parsers.is_session_expired_frame(frame):
                watch.session_lost(SessionStatus.EXPIRED, "the IM push says the session expired")
            if (comment := parsers.pushed_comment(frame)) is not None:
                watch.remember_thread(comment)
            parsed = parsers.parse_push_frame(frame)
            if parsed:
                watch.spawn(watch.emit(parsed, "push"))

        ws.on("framereceived", on_frame)

    async def poll(self, page: Page, account: AccountInfo, io: MonitorIO) -> None:
        """One crawl cycle (crawl.py): streamed to the sink page by page, continued from the
        position kept in `io.state`."""
        async with self._guard(page):
            watch = self._watch(page, account)
            if watch.io is None:
                watch.io, watch.sink = io, io.sink
            await Crawl(self, page, watch, io.state).run()

    async def _expand_thread(self, page: Page, cid: str) -> None:
        row = f'.comment[data-cid="{cid}"]'
        view = page.locator(f"{row} > .body > .view-replies")
        if await view.is_visible():
            await view.click()
            await self._settled(page)
        await self._load_all(page, f"{row} > .body > .more-replies")

    async def _load_all(self, page: Page, button_selector: str) -> None:
        """Click a list's "load more" button until the list is complete."""
        button = page.locator(button_selector)
        for _ in range(MAX_PAGES_PER_LIST):
            if not await button.is_visible():
                return
            await button.click()
            await self._settled(page)

    async def _show_conversation(self, page: Page, conversation_id: str) -> None:
        """The inbox with the conversation open. Every poll ends on the inbox and its pushes
        keep it current, so an awake page already showing the conversation's row is used as
        it is: a reply then costs no page load."""
        row = page.locator(f'.conversation[data-conversation-id="{conversation_id}"]')
        if urlsplit(page.url).path == "/creator/inbox" and await row.count():
            await self._settled(page)
            if await page.get_attribute("#chat-header", "data-conversation-id") == conversation_id:
                return
        else:
            await self._open(page, f"{self.base_url}/creator/inbox")
        await self._open_conversation(page, conversation_id)

    async def _open_conversation(self, page: Page, conversation_id: str) -> None:
        """Click the conversation's row until the pane shows it. The list moves under the
        pointer whenever a push brings a message (its conversation goes to the top): a push
        between the press and the release makes the click land on no row, and nothing opens.
        Clicking again is safe, nothing is typed yet; the pane's header is the check a real
        DM sender needs too."""
        row = page.locator(f'.conversation[data-conversation-id="{conversation_id}"]')
        for _ in range(OPEN_CONVERSATION_CLICKS):
            if not await row.count():
                raise PermanentError("this conversation is not in the inbox (deleted?)")
            await row.click()
            await self._settled(page)
            if await page.get_attribute("#chat-header", "data-conversation-id") == conversation_id:
                return
        raise TransientError("the inbox opened another conversation than the one asked for")

    # ---- replies -----------------------------------------------------------------------
    async def reply(self, page: Page, account: AccountInfo, target: ReplyTarget, text: str) -> SentReply:
        async with self._guard(page):
            watch = self._watch(page, account)
            if target.kind == "comment":
                editor, send, path = await self._open_comment_box(page, watch, target)
            else:
                await self._show_conversation(page, target.topic_platform_id)
                await self._check_peer(page, target)
                editor, send, path = "#dm-editor", "#dm-send", "/api/im/send"
            await page.click(editor)
            await page.keyboard.press("ControlOrMeta+A")
            await page.keyboard.press("Delete")
            await page.keyboard.type(text)
            answer = _send_answer(page, path)
            await page.click(send)
            try:
                http_status, body = await asyncio.wait_for(asyncio.shield(answer), STEP_TIMEOUT_MS / 1000)
            except TimeoutError:
                # It may be stored already: keep listening, so that the look before the next
                # attempt can take the created id from the answer when it comes.
                watch.late_sends[_send_key(self, target, text)] = answer
                raise TransientError(
                    f"the site did not answer the send within {STEP_TIMEOUT_MS / 1000:g} s; it may have been sent"
                ) from None
            return _sent_reply(account.id, http_status, body)

    async def _open_comment_box(self, page: Page, watch: _PageWatch, target: ReplyTarget) -> tuple[str, str, str]:
        """Open the work's comments and the reply box under the target comment (or the work's
        own comment box), once the page shows the target the engine described; returns
        (editor, send button, send request path)."""
        await self._open(page, f"{self.base_url}/creator/comments?work={quote(target.topic_platform_id)}")
        title = await page.text_content("#work-title")
        if target.topic_title is not None and not self.same_text(target.topic_title, title or ""):
            raise PermanentError(f"the work on the page is {title!r}, not {target.topic_title!r}; nothing was sent")
        if target.target_platform_id is None:
            return "#comment-editor", "#comment-send", "/api/comments/reply"
        cid = target.target_platform_id
        await self._find_comment(page, watch, cid, target.thread_platform_id)
        await self._check_comment(page, target)
        await page.click(f'.comment[data-cid="{cid}"] > .body > .meta > .reply-btn')
        await page.wait_for_selector("#reply-box:not([hidden])", timeout=STEP_TIMEOUT_MS)
        return "#reply-editor", "#reply-send", "/api/comments/reply"

    async def _check_comment(self, page: Page, target: ReplyTarget) -> None:
        """The comment row on the page is the one the operator answers (its author and text)."""
        row = page.locator(f'.comment[data-cid="{target.target_platform_id}"]')
        shown = await row.evaluate(
            "r => ({author: r.dataset.author, text: r.querySelector(':scope > .body > .text').textContent})")
        if target.target_author is not None and shown["author"] != target.target_author:
            raise PermanentError(
                f"the comment on the page is by {shown['author']!r}, not {target.target_author!r}; nothing was sent")
        if target.target_text is not None and not self.same_text(target.target_text, shown["text"]):
            raise PermanentError(
                f"the comment on the page says {shown['text'][:40]!r}, not {target.target_text[:40]!r}; "
                "nothing was sent")

    async def _check_peer(self, page: Page, target: ReplyTarget) -> None:
        """The open conversation is with the person the operator answers."""
        shown = (await page.text_content("#chat-header") or "").strip()
        if target.peer_name is not None and shown != target.peer_name.strip():
            raise PermanentError(
                f"the conversation on the page is with {shown!r}, not {target.peer_name!r}; nothing was sent")

    async def _find_comment(self, page: Page, watch: _PageWatch, cid: str, thread: str | None) -> None:
        """Bring the comment's row onto the page: page through first-level comments to it or
        to its thread (as the engine or earlier crawls know it), else open threads until it
        shows."""
        row = page.locator(f'.comment[data-cid="{cid}"]')
        root = thread or watch.comment_roots.get(cid, cid)
        root_row = page.locator(f'.comment[data-cid="{root}"]')
        for _ in range(MAX_PAGES_PER_LIST):
            if await root_row.count() or not await page.locator("#load-more").is_visible():
                break
            await page.click("#load-more")
            await self._settled(page)
        if await row.count():
            return
        if await root_row.count():
            await self._expand_thread(page, root)
        else:
            for thread_cid in await page.eval_on_selector_all(
                    '.comment[data-level="1"]', "rows => rows.map(r => r.dataset.cid)"):
                await self._expand_thread(page, thread_cid)
                if await row.count():
                    break
        if not await row.count():
            raise PermanentError("评论已删除 the comment to reply to is gone")

    async def find_reply(self, page: Page, account: AccountInfo, target: ReplyTarget, text: str,
                         since: datetime) -> SentReply | None:
        """Our reply with this text, looked for where it lands: the late answer to our own
        send if one came, else the newest end of the work, thread or conversation, back to
        `since` (see Platform.find_reply for what None and the errors mean)."""
        async with self._guard(page):
            watch = self._watch(page, account)
            marked = await self._late_answer(watch, target, text)
            if marked is not None:
                return marked
            # Comment times have whole seconds: what is older than this was posted before `since`.
            floor = since.replace(microsecond=0) - timedelta(seconds=1)
            seen = watch.crawl = Parsed()
            found = lambda: self._matching_reply(seen, target, text, floor)  # noqa: E731
            try:
                if target.kind == "direct_message":
                    covered = await self._look_in_conversation(page, watch, target, seen, floor, found)
                elif target.target_platform_id is None:
                    covered = await self._look_in_work(page, watch, target, seen, floor, found)
                else:
                    covered = await self._look_in_thread(page, watch, target, seen, floor, found)
                await watch.settle()
            finally:
                watch.crawl = None
            if (record := found()) is not None:
                return _found_reply(account.id, target, record)
            if seen.unreadable:
                raise TransientError(
                    f"{seen.unreadable} answer(s) of the page could not be read; looking again later")
            if not covered:
                raise ReplyUncertain(
                    f"the page shows only the newest {MAX_PAGES_PER_LIST} pages there, and the reply may be older")
            return None

    async def _late_answer(self, watch: _PageWatch, target: ReplyTarget, text: str) -> SentReply | None:
        """The created id from the answer to our earlier send of this text, if it came late:
        an unambiguous marker, better than any look at the page."""
        key = _send_key(self, target, text)
        answer = watch.late_sends.pop(key, None)
        if answer is None:
            return None
        try:
            http_status, body = await asyncio.wait_for(asyncio.shield(answer), STEP_TIMEOUT_MS / 1000)
        except TimeoutError:
            watch.late_sends[key] = answer  # still no answer: look at the page meanwhile
            return None
        except PlaywrightError:
            return None  # the answer could not be read: look at the page instead
        try:
            return _sent_reply(watch.account_id, http_status, body)
        except PlatformError:
            return None  # the site refused that send: nothing was created by it

    async def _look_in_work(self, page: Page, watch: _PageWatch, target: ReplyTarget, seen: Parsed,
                            floor: datetime, found: _Found) -> bool:
        """A new comment on the work is on the first page of its (newest first) comments;
        returns whether every comment since `floor` was seen."""
        await self._open(page, f"{self.base_url}/creator/comments?work={quote(target.topic_platform_id)}")
        top = lambda: [c for c in seen.comments if c["parent_platform_comment_id"] is None]  # noqa: E731
        return await self._page_back(page, watch, top, floor, "#load-more", found)

    async def _look_in_thread(self, page: Page, watch: _PageWatch, target: ReplyTarget, seen: Parsed,
                              floor: datetime, found: _Found) -> bool:
        """A reply in a thread is at the thread's newest end: open the thread newest first."""
        cid = target.target_platform_id
        assert cid is not None
        root = target.thread_platform_id or watch.comment_roots.get(cid, cid)
        await self._open(page, f"{self.base_url}/creator/comments?work={quote(target.topic_platform_id)}")
        root_row = page.locator(f'.comment[data-cid="{root}"]')
        for _ in range(MAX_PAGES_PER_LIST):
            if await root_row.count() or not await page.locator("#load-more").is_visible():
                break
            await page.click("#load-more")
            await self._settled(page)
        if not await root_row.count():
            # Not on the page: gone (deleted, so no reply can be under it), or beyond the pages.
            return not await page.locator("#load-more").is_visible()
        newest = root_row.locator(":scope > .body > .newest-replies")
        if not await newest.is_visible():
            return True  # the thread is empty
        await watch.settle()
        before = len(seen.comments)
        await newest.click()
        await self._settled(page)
        # Only the thread's replies read since (each page of it also names its root comment).
        thread = lambda: [c for c in seen.comments[before:] if c["platform_comment_id"] != root]  # noqa: E731
        return await self._page_back(
            page, watch, thread, floor, f'.comment[data-cid="{root}"] > .body > .more-replies', found)

    async def _look_in_conversation(self, page: Page, watch: _PageWatch, target: ReplyTarget, seen: Parsed,
                                    floor: datetime, found: _Found) -> bool:
        """A DM is at the conversation's newest end, which opens first."""
        await self._open(page, f"{self.base_url}/creator/inbox")
        await self._open_conversation(page, target.topic_platform_id)
        mine = lambda: [m for m in seen.messages  # noqa: E731
                        if m["platform_conversation_id"] == target.topic_platform_id]
        return await self._page_back(page, watch, mine, floor, "#load-older", found)

    async def _page_back(self, page: Page, watch: _PageWatch, items: Callable[[], list[dict[str, Any]]],
                         floor: datetime, more_selector: str, found: _Found) -> bool:
        """Load older pages of a newest-first list until the reply is found, an item older
        than `floor` shows (so all newer ones were seen) or the list ends: True; False when
        the page bound came first."""
        more = page.locator(more_selector)
        for _ in range(MAX_PAGES_PER_LIST):
            await watch.settle()
            if found() is not None or any(item["created_at"] < floor for item in items()):
                return True
            if not await more.is_visible():
                return True
            await more.click()
            await self._settled(page)
        await watch.settle()
        return any(item["created_at"] < floor for item in items())

    def _matching_reply(self, found: Parsed, target: ReplyTarget, text: str,
                        floor: datetime) -> dict[str, Any] | None:
        """Our newest record with this text (as the platform stores it) and parent, since `floor`."""
        if target.kind == "comment":
            candidates = [
                c for c in found.comments
                if c["direction"] == "out" and c["platform_content_id"] == target.topic_platform_id
                and c["parent_platform_comment_id"] == target.target_platform_id
                and self.same_text(text, c["text"])
            ]
        else:
            candidates = [
                m for m in found.messages
                if m["direction"] == "out" and m["platform_conversation_id"] == target.topic_platform_id
                and self.same_text(text, m["text"])
            ]
        recent = [c for c in candidates if c["created_at"] >= floor]
        return max(recent, key=lambda c: c["created_at"]) if recent else None

    # ---- page helpers ------------------------------------------------------------------
    async def _open(self, page: Page, url: str) -> None:
        """Navigate and wait for the page's own fetches; SessionExpired if it lands on login."""
        await page.goto(url, timeout=STEP_TIMEOUT_MS)
        if urlsplit(page.url).path.startswith("/login"):
            raise SessionExpired("the sandbox site asks to log in again")
        await self._settled(page)

    async def _settled(self, page: Page) -> None:
        """Wait until the page's fetches are done (body[data-state] leaves "loading")."""
        handle = await page.wait_for_function(
            "() => document.body && document.body.dataset.state !== 'loading'",
            timeout=STEP_TIMEOUT_MS, polling=50,
        )
        await handle.dispose()  # else the driver keeps every one for as long as the page lives
        state = await page.evaluate("document.body.dataset.state")
        if state == "login":
            raise SessionExpired("the sandbox site says the session expired")
        if state == "verify":
            raise NeedsVerification(await page.text_content("#page-error") or "the site asks for a verification")
        if state == "blocked":
            raise AccountBlocked(await page.text_content("#page-error") or "the site says the account is blocked")
        if state == "error":
            message = await page.text_content("#page-error")
            raise TransientError(f"the page shows an error: {message}")

    @contextlib.asynccontextmanager
    async def _guard(self, page: Page) -> AsyncIterator[None]:
        """Browser failures (timeouts, a crashed renderer, a closed page) become
        TransientError: the pool restarts the page and the outbox retries."""
        try:
            yield
        except PlatformError:
            raise
        except PlaywrightError as exc:
            watch = self._watches.get(page)
            if watch is not None and watch.crashed:
                raise TransientError("the browser page crashed") from exc
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TransientError(f"browser page failed: {first_line}") from exc


_HELD = {parsers.STATUS_VERIFY_REQUIRED: SessionStatus.NEEDS_VERIFICATION,
         parsers.STATUS_ACCOUNT_BLOCKED: SessionStatus.BLOCKED}


def _data_url_bytes(src: str) -> bytes:
    header, _, data = src.partition(",")
    if not header.startswith("data:image/png;base64"):
        raise LoginFailed("the login page shows no QR image")
    return base64.b64decode(data)


def _send_answer(page: Page, path: str) -> asyncio.Future[tuple[int, Any]]:
    """The (HTTP status, JSON body) of the page's next POST to `path`, read as soon as it
    comes (a body is gone once the page navigates)."""
    answer: asyncio.Future[tuple[int, Any]] = asyncio.get_running_loop().create_future()

    async def read(response: Response) -> None:
        try:
            body = await response.json()
        except (PlaywrightError, ValueError) as exc:
            if not answer.done():
                answer.set_exception(PlaywrightError(f"the send's answer could not be read: {exc}"))
            return
        if not answer.done():
            answer.set_result((response.status, body))

    def on_response(response: Response) -> None:
        if urlsplit(response.url).path == path and response.request.method == "POST":
            asyncio.ensure_future(read(response))
            forget()

    def on_gone(_page: Page) -> None:  # a crashed or closed page never answers
        if not answer.done():
            answer.set_exception(PlaywrightError("the page crashed or closed before the send's answer came"))
        forget()

    def forget() -> None:
        page.remove_listener("response", on_response)
        page.remove_listener("crash", on_gone)
        page.remove_listener("close", on_gone)

    page.on("response", on_response)
    page.on("crash", on_gone)
    page.on("close", on_gone)
    answer.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "never retrieved"
    return answer


def _found_reply(account_id: str, target: ReplyTarget, record: dict[str, Any]) -> SentReply:
    """A reply the look found: its id and the record the page showed."""
    if target.kind == "comment":
        return SentReply(record["platform_comment_id"], Parsed(comments=[record]).to_batch(account_id, "reply"))
    return SentReply(record["platform_message_id"], Parsed(messages=[record]).to_batch(account_id, "reply"))


def _send_key(platform: Platform, target: ReplyTarget, text: str) -> _SendKey:
    key = text_key(platform.normalize_text(text))
    return target.kind, target.topic_platform_id, target.target_platform_id, key


def _sent_reply(account_id: str, http_status: int, body: Any) -> SentReply:
    """The platform id and created record from the site's answer to a send, or the matching
    platform error."""
    if http_status == 401:
        raise SessionExpired("the sandbox site asks to log in again")
    if not isinstance(body, dict):
        raise TransientError(f"unexpected answer to a send (HTTP {http_status})")
    code, message = body.get("status_code"), body.get("status_msg") or "no reason given"
    if code == parsers.STATUS_OK:
        item = body.get("comment") or body.get("message") or {}
        platform_id = item.get("cid") or item.get("msg_id")
        if not platform_id:
            raise TransientError("the site accepted the reply but returned no id")
        try:
            created = parsers.parse_sent(body).to_batch(account_id, "reply")
        except (KeyError, TypeError, ValueError):
            created = None  # the id is what matters; the crawl brings the record later
        return SentReply(str(platform_id), created)
    if code == parsers.STATUS_RATE_LIMITED:
        raise ReplyBlocked(message)
    if code in (parsers.STATUS_NOT_FOUND, parsers.STATUS_TEXT_REJECTED):
        raise PermanentError(message)
    if code == parsers.STATUS_LOGIN_REQUIRED:
        raise SessionExpired(message)
    raise TransientError(f"the site refused the reply ({code}): {message}")
