"""The Douyin creator-centre adapter: drives creator.douyin.com in the account's Chromium page.

- Data comes only from the JSON the pages fetch themselves (response interception) and from
  the state they hold (React props of their nodes). The pages sign their requests; we never
  build, sign or replay one.
- Pages are described as data (anatomy/): when one no longer matches, a PageChanged error
  names what is missing and a snapshot of the page is saved; nothing silently returns empty.
- Crawls are paced like a person and open the works whose comment count moved: accounts
  polled continuously on one video have been blocked. They are streamed: each list's records
  go to the sink as soon as it is read, and what was read (each work's comment count, each
  conversation's list row, the works' encrypted ids) is kept in the account's PlatformState,
  so a crawl cut short, a hibernated page or a restart goes on from there. Limits and pace
  are settings (settings.py).
- A count alone misses one comment deleted and one written between cycles. Its notice stores
  the new one while the account's www.douyin.com page is open, not while the account sleeps
  or when the push is lost (nothing reads the notice list back; one read on the phone app is
  gone from it anyway). The works lists show no newest comment (item/list and janus
  work_list carry the count only), so the one change signal is the comment list, newest
  first: a work commented on lately (`recheck_active_s`) has its newest page read again at a
  low cadence (`recheck_interval_s`). That page holds whatever was written since, unless a
  whole page was: then the work is read whole (`_check_newest_page`). Reading every work's
  newest page every cycle would be a page load per work and cycle, the pace that gets
  accounts blocked.
- New DMs and comment notices arrive between crawls through the www.douyin.com page an
  awake account keeps open beside the creator centre (realtime.py): its own websocket fills
  its stores' push buffers, which are read in the page and stored at once.
- Replies are typed into the page's own boxes after the target is verified on screen
  (comment text and author, the conversation's peer name in the header); the platform id
  comes, with the reply's record, from the publish response (comments) or the new "from me"
  row (DMs), so the reply is confirmed at once.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
import re
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Iterable

from playwright.async_api import Error as PlaywrightError

from app.engine.page_tasks import PageTasks
from app.engine.platform import (
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
    PlatformState,
    ReplyBlocked,
    ReplyTarget,
    ReplyUncertain,
    SELF_CHECK,
    STABLE_ID,
    SelfCheck,
    SentReply,
    SessionExpired,
    SessionStatus,
    TransientError,
    session_status_of,
)

from . import parsers
from .anatomy import (
    API,
    CHAT,
    COMMENTS,
    HOME,
    LOGIN,
    WORKS,
    Anatomy,
    snapshot_page_change,
)
from .errors import ApiRefused, BadResponse, PageChanged
from .parsers import Parsed, Raw
from .realtime import lost_error, open_realtime_page
from .settings import DouyinSettings

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page, Response

log = logging.getLogger(__name__)

STEP_TIMEOUT_MS = 20_000  # one navigation, or one fetch the page makes
MAX_SMS_ATTEMPTS = 3
LIST_ENDPOINTS = {"item_list", "janus_work_list", "web_comment_list", "web_comment_reply_list",
                  "creator_comment_list", "creator_comment_reply_list"}
WORK_ENDPOINTS = ("janus_work_list", "item_list")
COMMENT_ENDPOINTS = ("web_comment_list", "creator_comment_list")


# The login card in one round trip: which of the anatomy's selectors and texts are showing.
_LOGIN_SNAPSHOT_JS = """(a) => {
  const shown = (sels) => sels.some(s => [...document.querySelectorAll(s)].some(e => {
    const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; }));
  const text = document.body ? document.body.innerText : '';
  const has = (texts) => texts.some(t => text.includes(t));
  let qr = null;
  for (const sel of a.qr) {
    const el = document.querySelector(sel);
    if (!el) continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    if (el.tagName === 'CANVAS') {
      try { qr = {selector: sel, src: el.toDataURL('image/png'), data: true}; }
      catch (e) { qr = {selector: sel, src: 'canvas', data: false}; }
    } else {
      const src = el.currentSrc || el.getAttribute('src') || '';
      qr = {selector: sel, src, data: src.startsWith('data:image/png')};
    }
    break;
  }
  return {qr, scanned: has(a.scanned), expired: has(a.expired), verification: has(a.verification),
          sms: shown(a.sms), phone: shown(a.phone), slider: shown(a.slider)};
}"""

# The creator home's identity block: 抖音号, nickname, avatar.
_PROFILE_JS = """(a) => {
  const first = (sels) => { for (const s of sels) { const e = document.querySelector(s); if (e) return e; } return null; };
  const idNode = first(a.unique_id);
  const idText = idNode ? idNode.innerText : '';
  const at = idText.indexOf(a.prefix);
  const uniqueId = at >= 0 ? idText.slice(at + a.prefix.length).trim().split(/\\s/)[0] : null;
  let nickname = null;
  for (const s of a.nickname) {
    for (const e of document.querySelectorAll(s)) {
      const t = (e.innerText || '').trim();
      if (t && !a.skip.some(x => t.includes(x))) { nickname = t; break; }
    }
    if (nickname) break;
  }
  const img = first(a.avatar);
  return {uniqueId, nickname, avatar: img ? img.getAttribute('src') : null};
}"""

# React keeps each node's component props on a "__reactFiber$…" (older: "__reactProps$…" /
# "__reactInternalInstance$…") property; walk up from the node to the first props object
# having every wanted key. This is where the original read message state on the chat page.
_FIBER_PROPS_JS = """([nodes, wanted, levels]) => nodes.map(node => {
  const key = Object.keys(node).find(k => k.startsWith('__reactFiber$') || k.startsWith('__reactInternalInstance$'));
  let fiber = key ? node[key] : null;
  const has = (p) => p && typeof p === 'object' && wanted.every(w => w in p);
  for (let i = 0; fiber && i < levels; i++, fiber = fiber.return) {
    const props = fiber.memoizedProps;
    if (has(props)) return props;
    if (props) for (const v of Object.values(props)) if (has(v)) return v;
  }
  return null;
})"""


# A virtualised list has rendered where it is scrolled to: rows reach both edges of its view,
# within the gap between two rows. The rows of the last position do not: they were rendered
# for a view a scroll away, and their overscan ends short of this one's edge.
_LIST_RENDERED_JS = """([scrollerSel, rowsSel]) => {
  const scroller = document.querySelector(scrollerSel);
  if (!scroller) return true;
  const view = scroller.getBoundingClientRect(), gap = 12;
  const rows = [...scroller.querySelectorAll(rowsSel)].map(row => row.getBoundingClientRect());
  return rows.some(r => r.top <= view.top + gap && r.bottom > view.top)
      && rows.some(r => r.top < view.bottom && r.bottom >= view.bottom - gap);
}"""


# Scroll a virtualised list so the named row is wholly in its view; true when it moved (its
# rows are then rendered anew). One evaluate: no node is held across the re-render.
_ROW_INTO_VIEW_JS = """([scrollerSel, rowsSel, nameSel, name]) => {
  const scroller = document.querySelector(scrollerSel);
  const row = [...document.querySelectorAll(rowsSel)].find(r => {
    const n = r.querySelector(nameSel); return n && n.innerText.trim() === name; });
  if (!scroller || !row) return false;
  const view = scroller.getBoundingClientRect(), box = row.getBoundingClientRect();
  const by = box.top < view.top ? box.top - view.top : Math.max(0, box.bottom - view.bottom);
  const top = scroller.scrollTop;
  scroller.scrollTop = top + by;
  return scroller.scrollTop !== top;
}"""


@dataclass
class _PageWatch(PageTasks):
    """What the adapter knows about one account's live page: where intercepted records go,
    the crawl in progress and the records seen (to find a target again). What must outlive
    the page is in the account's PlatformState (see `poll`)."""

    account_id: str
    sink: BatchSink | None = None
    io: MonitorIO | None = None  # the monitor's, once `watch` was called
    crawl: Parsed | None = None  # responses go here while a crawl runs, else straight to `sink`
    failures: list[PlatformError] = field(default_factory=list)  # bad list bodies this crawl
    session_error: SessionExpired | None = None  # an answer said the session is not usable
    bounded: bool = False  # a list was left unfinished at the scroll bound (this look or crawl)
    self_uid: str | None = None
    item_ids: dict[str, str] = field(default_factory=dict)  # encrypted item id → numeric id
    works: dict[str, dict[str, Any]] = field(default_factory=dict)  # work id → its record
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)  # cid → its record
    peers: dict[str, parsers.Peer] = field(default_factory=dict)  # sec_uid → profile
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    works_more: bool | None = None  # the works list's last page said has_more
    comments_more: bool | None = None  # the open work's last comment page said has_more
    comments_page: list[dict[str, Any]] = field(default_factory=list)  # its records, in list order
    realtime: Page | None = None  # the www.douyin.com page whose pushes we read (realtime.py)
    realtime_failure: PlatformError | None = None  # what stopped it, raised by the next poll

    def session_lost(self, error: SessionExpired) -> None:
        """An answer the page received says the session is not usable: remember it for the
        crawl or look in progress, and tell the pool now."""
        self.session_error = error
        if self.io is not None:
            self.io.session_changed(session_status_of(error), str(error))

    async def flush(self) -> None:
        """Hand what the crawl read so far to the sink (committed when this returns)."""
        await self.settle()
        parsed, self.crawl = self.crawl, Parsed()
        if parsed and self.sink is not None:
            await self.sink(parsed.to_batch(self.account_id, "crawl"))

    def learn(self, parsed: Parsed) -> None:
        self.self_uid = self.self_uid or parsed.self_uid
        for work in parsed.contents:
            self.works[work["platform_content_id"]] = work
            if "item_id" in work.get("aliases", {}):
                self.item_ids[work["aliases"]["item_id"]] = work["platform_content_id"]
        for comment in parsed.comments:
            self.comments[comment["platform_comment_id"]] = comment
        for peer in parsed.peers:
            if peer.sec_uid:
                self.peers[peer.sec_uid] = peer
        for conversation in parsed.conversations:
            self.conversations[conversation["platform_conversation_id"]] = conversation


class DouyinPlatform(Platform):
    name = "douyin"
    label = "抖音"
    capabilities = frozenset({"comments", "direct_messages", "qr_login", "sms_verification", SELF_CHECK})
    settings_model = DouyinSettings

    def __init__(self) -> None:
        self.data_dir: Path | None = None
        self.login_timeout_s = LOGIN.timing("give_up_s")
        self.qr_wait_s = LOGIN.timing("qr_wait_s")  # no QR on the card this long: the page changed
        self.configure(DouyinSettings())
        self._watches: weakref.WeakKeyDictionary[Page, _PageWatch] = weakref.WeakKeyDictionary()

    def configure(self, config: DouyinSettings) -> None:
        """Take this engine's `platforms.douyin` settings."""
        self.max_works = config.max_works  # newest first; older ones are not crawled
        self.max_works_per_poll = config.max_works_per_poll
        self.max_scrolls = config.max_scrolls
        self.max_comment_pages = config.max_comment_pages  # how deep a work's comments are backfilled
        self.max_dm_pages = config.max_dm_pages  # how far back a conversation's history is
        self.max_conversation_pages = config.max_conversation_pages  # how deep the conversation list is
        self.recheck_interval_s = config.recheck_interval_s  # an active work's newest page, this often
        self.recheck_active_s = config.recheck_active_s  # active: its newest comment is this recent
        # Seconds between two navigations of one account, drawn at random: a person's pace.
        self.pace_s: tuple[float, float] = (config.pause_min_s, config.pause_max_s)

    async def startup(self, runtime: PlatformRuntime) -> None:
        self.data_dir = Path(runtime.data_dir) if runtime.data_dir else None
        self.configure(DouyinSettings.model_validate(runtime.config.model_dump()))

    def normalize_text(self, text: str) -> str:
        return parsers.douyin_text(text)

    async def self_check(self, page: Page) -> SelfCheck:
        """selfcheck.py with the account's own page; the report goes to the data folder."""
        from .selfcheck import passed, run_self_check, summary, write_report

        report = await run_self_check(page)
        saved = write_report(report, self.data_dir) if self.data_dir is not None else None
        return SelfCheck(passed(report), tuple(summary(report)), saved)

    def home_url(self) -> str:
        return HOME.url

    # ---- login -------------------------------------------------------------------------
    async def login(self, page: Page, io: LoginIO) -> LoginOutcome:
        async with self._guard(page):
            await page.goto(LOGIN.url, timeout=STEP_TIMEOUT_MS)
            if not self._logged_in_url(page.url):
                await self._follow_qr_login(page, io)
            if not await self._has_session_cookie(page):
                raise LoginFailed("the creator centre opened but Douyin set no session cookie")
            return await self._read_profile(page)

    async def _follow_qr_login(self, page: Page, io: LoginIO) -> None:
        """Report the QR (and each refresh), the scan, answer SMS checks; return once the
        page is under /creator-micro/."""
        spec = {"qr": LOGIN.selectors("qr"), "scanned": LOGIN.texts("scanned"), "expired": LOGIN.texts("expired"),
                "verification": LOGIN.texts("verification"), "sms": LOGIN.selectors("sms_code_input"),
                "phone": LOGIN.selectors("phone_input"), "slider": LOGIN.selectors("slider")}
        shown: str | None = None
        scanned = False
        sms_attempts = 0
        tab_clicked = False
        no_qr_since = time.monotonic()
        deadline = time.monotonic() + self.login_timeout_s
        while time.monotonic() < deadline:
            if self._logged_in_url(page.url):
                if not scanned:
                    await io.report("scanned", message="已扫码")
                return
            try:
                snap = await page.evaluate(_LOGIN_SNAPSHOT_JS, spec)
            except PlaywrightError as exc:
                if "context was destroyed" in str(exc) or "navigat" in str(exc):
                    continue  # the card is leaving for the creator centre
                raise
            if snap["slider"]:
                raise NeedsVerification("Douyin asks for a slider or identity check: finish the login in a visible browser")
            if snap["sms"] and (scanned or snap["verification"]):
                if sms_attempts >= MAX_SMS_ATTEMPTS:
                    raise LoginFailed("too many wrong verification codes")
                sms_attempts += 1
                await self._answer_sms(page, io, retry=sms_attempts > 1)
                continue
            qr = snap["qr"]
            if qr and qr["src"] != shown:
                await io.report("qr_ready" if shown is None else "qr_refreshed",
                                qr_png=await self._qr_png(page, qr),
                                expires_at=datetime.now(timezone.utc) + timedelta(seconds=LOGIN.timing("qr_lifetime_s")))
                shown, scanned = qr["src"], False
            if qr is None and shown is None:
                if not tab_clicked:  # another login method's tab is open
                    tab_clicked = await self._click_text(page, LOGIN.texts("qr_tab"))
                elif time.monotonic() - no_qr_since > self.qr_wait_s:
                    raise await self._page_changed(page, LOGIN, "the QR code")
            if snap["scanned"] and not scanned:
                await io.report("scanned", message="已扫码，请在手机上确认")
                scanned = True
            if snap["expired"] and not snap["scanned"]:
                await self._click_text(page, LOGIN.texts("refresh"))  # brings a new code
            await asyncio.sleep(LOGIN.timing("poll_s"))
        raise LoginFailed("the QR code was not scanned in time")

    async def _qr_png(self, page: Page, qr: dict[str, Any]) -> bytes:
        if qr["data"]:
            return base64.b64decode(qr["src"].partition(",")[2])
        return await page.locator(qr["selector"]).first.screenshot(type="png")

    async def _answer_sms(self, page: Page, io: LoginIO, *, retry: bool) -> None:
        """Ask the operator for the code Douyin sent and submit it."""
        phone = page.locator(LOGIN.selector("phone_input")).first
        if await phone.count() and await phone.is_visible() and not await phone.input_value():
            await phone.fill((await io.ask("phone_number", "抖音要求验证手机号，请输入手机号")).strip())
        await self._click_text(page, LOGIN.texts("send_code"))
        prompt = "请输入抖音发送到手机的短信验证码"
        if retry:
            prompt = "验证码错误，请重新输入。" + prompt
        code = (await io.ask("sms_code", prompt)).strip()
        box = page.locator(LOGIN.selector("sms_code_input")).first
        await box.fill(code)
        previous = page.url
        await self._click_text(page, LOGIN.texts("submit"), exact=True)
        # Either the page moves on, or the box stays with an error (then we ask again).
        with contextlib.suppress(PlaywrightError):
            await page.wait_for_function(
                "([sel, url, code]) => location.href !== url || !document.querySelector(sel)"
                " || document.querySelector(sel).value !== code",
                arg=[LOGIN.selector("sms_code_input"), previous, code], timeout=STEP_TIMEOUT_MS, polling=100)

    async def _read_profile(self, page: Page) -> LoginOutcome:
        if not page.url.startswith(HOME.url):
            await self._open(page, HOME)
        await self._wait_for(page, HOME, "logged_in")
        profile = await page.evaluate(_PROFILE_JS, {
            "unique_id": HOME.selectors("unique_id"), "prefix": HOME.text("unique_id_prefix"),
            "nickname": HOME.selectors("nickname"), "skip": HOME.texts("not_a_nickname"),
            "avatar": HOME.selectors("avatar")})
        if not profile["uniqueId"]:
            raise await self._page_changed(page, HOME, "the 抖音号")
        info = {"douyin_id": profile["uniqueId"]}
        uid = await self._own_uid(page)
        if uid:
            info[STABLE_ID] = uid
        return LoginOutcome(platform_user_id=profile["uniqueId"], username=profile["nickname"],
                            avatar_url=profile["avatar"], user_info=info)

    async def _own_uid(self, page: Page) -> str | None:
        """Our numeric uid, the identity the creator cannot change (the 抖音号 can): the
        author of our works in the works list the works page fetches. None when that list
        shows no work or cannot be read (the identity is then compared by 抖音号)."""
        try:
            async with page.expect_response(lambda r: API.endpoint_of(r.url) in WORK_ENDPOINTS,
                                            timeout=STEP_TIMEOUT_MS) as answer:
                await self._open(page, WORKS)
            response = await answer.value
            name = API.endpoint_of(response.url) or ""
            body = parsers.decode_body(name, await response.body(), response.headers.get("content-type"))
            return parsers.parse_endpoint(name, response.url, body).self_uid
        except (PlaywrightError, BadResponse, ApiRefused, PageChanged) as exc:
            log.warning("douyin: our uid could not be read from the works list: %s", exc)
            return None

    async def check_session(self, page: Page) -> SessionStatus:
        """Logged in when the session cookie is there and the home page shows the account
        (not the login card, not a slider check)."""
        async with self._guard(page):
            if not await self._has_session_cookie(page):
                return SessionStatus.EXPIRED
            try:
                await self._open(page, HOME)
                await self._wait_for(page, HOME, "logged_in")
            except SessionExpired as exc:
                return session_status_of(exc)
            return SessionStatus.LOGGED_IN

    async def _has_session_cookie(self, page: Page) -> bool:
        names = set(HOME.data["cookies"]["session"])
        now = time.time()
        for cookie in await page.context.cookies(["https://creator.douyin.com/"]):
            if cookie["name"] in names and cookie.get("value") and (cookie.get("expires", -1) in (-1, None)
                                                                    or cookie["expires"] > now):
                return True
        return False

    # ---- monitoring --------------------------------------------------------------------
    async def watch(self, page: Page, account: AccountInfo, io: MonitorIO) -> None:
        """Read every JSON body the page fetches from its first load on; an answer saying
        the session is gone is reported through `io` at once. (The creator pages push
        nothing: the www.douyin.com page that does is opened by `poll`, see
        `_keep_realtime`.)"""
        await self._watch_with(page, account, io)

    async def _watch_with(self, page: Page, account: AccountInfo, io: MonitorIO) -> _PageWatch:
        watch = self._watch(page, account)
        if watch.io is None:
            watch.io, watch.sink = io, io.sink
            watch.item_ids.update(await io.state.get("item_ids", {}))
            watch.self_uid = watch.self_uid or await io.state.get("self_uid")
        return watch

    def _watch(self, page: Page, account: AccountInfo) -> _PageWatch:
        watch = self._watches.get(page)
        if watch is None:
            watch = self._watches[page] = _PageWatch(account.id)
            page.on("response", lambda response: self._on_response(watch, response))
        return watch

    def _on_response(self, watch: _PageWatch, response: Response) -> None:
        name = API.endpoint_of(response.url)
        if name is None or name == "comment_reply_publish" or response.request.method == "OPTIONS":
            return
        watch.spawn(self._read_response(watch, name, response, watch.crawl))

    async def _read_response(self, watch: _PageWatch, name: str, response: Response, crawl: Parsed | None) -> None:
        try:
            raw = await response.body()
        except PlaywrightError:
            return  # the page went away before the body was read; the next crawl sees it again
        try:
            body = parsers.decode_body(name, raw, response.headers.get("content-type"))
            parsed = parsers.parse_endpoint(name, response.url, body, self_uid=watch.self_uid,
                                            item_ids=watch.item_ids, known_comments=watch.comments)
        except SessionExpired as exc:
            watch.session_lost(exc)
            return
        except (BadResponse, ApiRefused) as exc:
            log.warning("douyin: %s", exc)
            if name in LIST_ENDPOINTS:
                watch.failures.append(exc)
            return
        for problem in parsed.problems[:10]:
            log.warning("douyin: skipped %s", problem)
        if name in ("web_comment_list", "web_comment_reply_list"):
            # A comment seen before through the V1 API (encrypted id) gets linked to its cid.
            v1 = [c for c in watch.comments.values() if c["platform_comment_id"].startswith("@")]
            if v1:
                parsers.link_comment_aliases(v1, parsed.comments, "v1")
        watch.learn(parsed)
        if name in WORK_ENDPOINTS:
            watch.works_more = parsed.has_more
        elif name in COMMENT_ENDPOINTS:
            watch.comments_more = parsed.has_more
            watch.comments_page = parsed.comments
        if crawl is not None:
            crawl.extend(parsed)
        elif parsed and watch.sink is not None:
            await watch.sink(parsed.to_batch(watch.account_id, "intercept"))

    async def poll(self, page: Page, account: AccountInfo, io: MonitorIO) -> None:
        """One crawl: the works list, the comments of the works whose count moved and the
        newest page of active works whose count did not (at most `max_works_per_poll` in
        all: the next cycle goes on), the conversations whose list row changed. Each list
        goes to the sink as soon as it is read; what was read is then saved in `io.state`:

          "works"     {work id: the comment count its comments were fully read at}
          "work:<id>" {"count": the count when this pass over the work began, "pages": the
                      comment pages read so far} while a pass is under way
          "threads:<id>" {a thread's page id: the reply count it was read at}
          "dm_rows"   {peer name: the conversation's list row when it was read}
          "dm_list"   {"pages": how deep the conversation list was walked, "done": it was
                      walked to its end or to max_conversation_pages}
          "item_ids"  {encrypted item id: numeric work id} (the V1 comment list names its
                      work only by the encrypted id, also on a fresh page)
          "self_uid"  our numeric uid
          "due_works" [work id] works a pushed comment notice asked to read (a reply
                      naming no parent, a notice without its comment; the next cycle is
                      asked for early), or whose newest page showed only new comments:
                      opened first
          "recent_works" {work id: {"newest": when its newest first-level comment read was
                      written, "checked": when its comments were last read}} (epoch s):
                      a work whose count did not move has its newest page read again when
                      "newest" is within `recheck_active_s` and "checked" older than
                      `recheck_interval_s`, after the works whose count moved

        After a crawl that went well, the account's www.douyin.com page is kept open for
        its pushes (`_keep_realtime`).

        The lists themselves cannot be resumed at a cursor: the page fetches (and signs)
        its own pages as it scrolls, from the top. So a work whose comments go beyond one
        cycle's `max_scrolls` pages is read `max_scrolls` pages deeper each cycle, newest
        first, until its list ends or `max_comment_pages` (the backfill limit) is reached;
        only then is it counted read. Its reply threads are opened at most `max_scrolls` a
        cycle, each thread once per reply count (the next cycle opens the ones left). A
        comment row shows no newest reply, so one reply deleted and one written in a thread
        wait for its count to move, or come with their notice.
        When a step fails (a changed page, an expired session, a bad body), what was read
        before it is stored, then the failure is raised."""
        async with self._guard(page):
            watch = await self._watch_with(page, account, io)
            watch.crawl = Parsed()
            watch.failures.clear()
            watch.session_error = None
            failed: Exception | None = None
            try:
                await self._crawl(page, watch, io.state)
            except (PlatformError, PlaywrightError) as exc:
                failed = exc
            finally:
                try:
                    await watch.flush()
                finally:
                    watch.crawl = None
            if failed is not None:
                raise failed
            self._raise_for_crawl(watch)
            await self._keep_realtime(page, watch)

    async def _crawl(self, page: Page, watch: _PageWatch, state: PlatformState) -> None:
        counts = await self._crawl_works(page, watch)
        await watch.flush()
        await self._remember_ids(watch, state)
        done: dict[str, int] = await state.get("works", {})
        recent: dict[str, dict[str, float]] = await state.get("recent_works", {})
        due = [w for w in await state.get("due_works", []) if w in counts]
        opened = 0
        unchanged: list[str] = []  # read at this count before: only their newest page may be checked
        for work_id in due + [w for w in counts if w not in due]:
            comment_count = counts[work_id]
            progress = await state.get(f"work:{work_id}")
            if (work_id not in due and progress is None
                    and (done.get(work_id) == comment_count or comment_count == 0)):
                if comment_count:
                    unchanged.append(work_id)
                continue
            if opened >= self.max_works_per_poll:
                break  # this cycle's share; the works left are not marked read
            opened += 1
            await self._pace()
            progress = progress or {"count": comment_count, "pages": 0}
            pages = min(progress["pages"] + self.max_scrolls, self.max_comment_pages)
            threads_key = f"threads:{work_id}"
            threads: dict[str, int] = await state.get(threads_key, {})
            failures = len(watch.failures)
            complete = await self._crawl_comments(page, watch, work_id, pages=pages, threads=threads,
                                                  save_threads=lambda: state.set(threads_key, threads))
            await watch.flush()
            if len(watch.failures) != failures or watch.session_error is not None:
                continue  # read again from where it was next cycle
            if not complete:  # the next cycle goes deeper
                await state.set(f"work:{work_id}", {**progress, "pages": pages})
                continue
            done[work_id] = progress["count"]
            await state.set("works", done)
            await state.set(f"work:{work_id}", None)
            newest = max(_first_level_times(watch.comments.values(), work_id), default=None)
            recent.pop(work_id, None)
            if newest is not None:  # when its newest first-level comment read was written
                recent[work_id] = {"newest": newest, "checked": time.time()}
            await state.set("recent_works", recent)
            if work_id in due:  # read again, keeping what pushes asked for meanwhile
                await state.set("due_works", [w for w in await state.get("due_works", []) if w != work_id])
        for work_id in unchanged:
            if opened >= self.max_works_per_poll:
                break
            kept = recent.get(work_id)
            now = time.time()
            if (kept is None or now - kept["newest"] > self.recheck_active_s
                    or now - kept["checked"] < self.recheck_interval_s):
                continue
            opened += 1
            await self._pace()
            await self._check_newest_page(page, watch, state, work_id, recent)
        await self._pace()
        await self._crawl_dms(page, watch, state)

    async def _check_newest_page(self, page: Page, watch: _PageWatch, state: PlatformState, work_id: str,
                                 recent: dict[str, dict[str, float]]) -> None:
        """Read the newest comment page of a work whose count did not move (with the reply
        threads on it that moved, as a pass does): the list is newest first, so a comment
        written since the work was read is on it unless a whole page of them was. When the
        page's last first-level comment is still newer than the newest read before, and the
        list goes on, the work is due: the next cycle reads it whole."""
        threads_key = f"threads:{work_id}"
        threads: dict[str, int] = await state.get(threads_key, {})
        failures = len(watch.failures)
        complete = await self._crawl_comments(page, watch, work_id, pages=0, threads=threads,
                                              save_threads=lambda: state.set(threads_key, threads))
        await watch.flush()
        if len(watch.failures) != failures or watch.session_error is not None:
            return  # checked again next cycle
        shown = _first_level_times(watch.comments_page, work_id)
        kept = recent[work_id]
        if not complete and not (shown and shown[-1] <= kept["newest"]):
            known = await state.get("due_works", [])
            if work_id not in known:
                await state.set("due_works", known + [work_id])
        recent[work_id] = {"newest": max([kept["newest"], *shown]), "checked": time.time()}
        await state.set("recent_works", recent)

    async def _keep_realtime(self, page: Page, watch: _PageWatch) -> None:
        """Keep the account's www.douyin.com page open beside this one (realtime.py), in the
        same context; raise what stopped the last one or stops this one (its page drifted:
        PageChanged). A page that does not load is tried again next cycle. It opens only once
        our uid is known: imStore messages say who sent them only by uid."""
        if watch.realtime_failure is not None:
            failure, watch.realtime_failure = watch.realtime_failure, None
            raise failure
        if watch.io is None or not watch.self_uid or (watch.realtime is not None and not watch.realtime.is_closed()):
            return
        try:
            realtime = await open_realtime_page(page.context, lambda payload: watch.spawn(self._on_push(watch, payload)),
                                                self.data_dir)
        except PlaywrightError as exc:  # slow or unreachable: the crawl still works; the next cycle tries again
            log.warning("douyin: the www.douyin.com page for pushes did not open: %s", str(exc).strip().splitlines()[0])
            return
        watch.realtime = realtime
        realtime.on("close", lambda closed: setattr(watch, "realtime", None) if watch.realtime is closed else None)

    async def _on_push(self, watch: _PageWatch, payload: str) -> None:
        """What the www.douyin.com page's buffers brought: DMs and the comments notices
        carry are stored at once; the works of notices that lack what a record needs are
        due for the next crawl, which is asked for early (`MonitorIO.poll_soon`)."""
        pushed = json.loads(payload)
        if pushed.get("lost") and watch.realtime is not None:
            watch.realtime_failure = await lost_error(watch.realtime, pushed["lost"], self.data_dir)
            with contextlib.suppress(PlaywrightError):
                await watch.realtime.close()
            return
        parsed = Parsed()
        if pushed.get("imStore"):
            parsed.extend(parsers.parse_im_store(pushed["imStore"], self_uid=watch.self_uid))
        notices = (pushed.get("noticeStore") or {}).get("noticePushList") or []
        if notices:
            parsed.extend(parsers.parse_notices(notices, self_uid=watch.self_uid, endpoint="noticeStore"))
            due = parsers.notice_works_to_crawl(notices)
            if due and watch.io is not None:
                known = await watch.io.state.get("due_works", [])
                await watch.io.state.set("due_works", known + [w for w in due if w not in known])
                watch.io.poll_soon()
        for problem in parsed.problems[:10]:
            log.warning("douyin: skipped pushed %s", problem)
        watch.learn(parsed)
        if parsed and watch.sink is not None:
            await watch.sink(parsed.to_batch(watch.account_id, "push"))

    async def _remember_ids(self, watch: _PageWatch, state: PlatformState) -> None:
        if watch.item_ids != await state.get("item_ids", {}):
            await state.set("item_ids", dict(watch.item_ids))
        if watch.self_uid and watch.self_uid != await state.get("self_uid"):
            await state.set("self_uid", watch.self_uid)

    def _raise_for_crawl(self, watch: _PageWatch) -> None:
        if watch.session_error is not None:
            error, watch.session_error = watch.session_error, None
            raise error
        if watch.failures:
            raise watch.failures[0]

    async def _crawl_works(self, page: Page, watch: _PageWatch) -> dict[str, int]:
        """Open the works page and scroll while it says there are more (newest first, up to
        `max_works`); {work id: comment count} of the works seen in a crawl."""
        watch.works_more = None
        async with self._expect_endpoint(page, WORK_ENDPOINTS):
            await self._open(page, WORKS)
        await watch.settle()
        def seen() -> int:
            return len(watch.crawl.contents) if watch.crawl is not None else len(watch.works)

        for _ in range(self.max_scrolls):
            if not watch.works_more or seen() >= self.max_works:
                break
            if await self._text_showing(page, WORKS.texts("end_of_list")):
                break
            try:
                async with self._expect_endpoint(page, WORK_ENDPOINTS, timeout_ms=5_000):
                    await page.mouse.wheel(0, 10_000)
                    await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            except PlaywrightError:
                break  # scrolling brought nothing more
            await watch.settle()
        crawl = watch.crawl or Parsed()
        return {w["platform_content_id"]: int(w.get("stats", {}).get("comment_count", 0)) for w in crawl.contents}

    async def _crawl_comments(self, page: Page, watch: _PageWatch, work_id: str, *, pages: int | None = None,
                              threads: dict[str, int] | None = None,
                              save_threads: Callable[[], Awaitable[None]] | None = None) -> bool:
        """Open one work's comments through the picker (`pages` pages deep) and its reply
        threads; note each comment's page id (the rows' own `@i/…` cid) as its "page" alias.
        True when the list ended (or the backfill limit was reached) and no thread was left."""
        ended = await self._open_work_comments(page, watch, work_id, pages=pages)
        saved = None
        if save_threads is not None:
            async def saved() -> None:  # a thread's replies are stored, then that it was read
                await self._link_page_ids(page, watch, work_id)
                await watch.flush()
                await save_threads()
        expanded = await self._expand_replies(page, watch, threads, saved)
        await watch.settle()
        await self._link_page_ids(page, watch, work_id)
        return (ended or pages == self.max_comment_pages) and expanded

    async def _link_page_ids(self, page: Page, watch: _PageWatch, work_id: str) -> None:
        """Give the work's comments read by this crawl (and not yet stored) their rows' page
        ids as "page" aliases."""
        if watch.crawl is None:
            return
        shown = [parsers.page_comment(props, work_id) for _, props in await self._comment_rows_props(page)]
        crawled = [c for c in watch.crawl.comments if c["platform_content_id"] == work_id]
        parsers.link_comment_aliases(shown, crawled, "page", by_time=False)

    async def _comment_rows_props(self, page: Page, nodes: Locator | None = None) -> list[tuple[int, Raw]]:
        """(index, React props) of the comment text nodes that carry them (cid, text, user)."""
        nodes = nodes or page.locator(COMMENTS.selector("comment_text"))
        handles = await nodes.element_handles()
        if not handles:
            return []
        props = await page.evaluate(_FIBER_PROPS_JS, [handles, COMMENTS.get("react", "comment_keys"),
                                                      COMMENTS.get("react", "levels")])
        return [(i, p) for i, p in enumerate(props) if isinstance(p, dict) and p.get("cid")]

    async def _open_work_comments(self, page: Page, watch: _PageWatch, work_id: str, *,
                                  pages: int | None = None) -> bool:
        """The work's comments, `pages` scrolls deep (`max_scrolls` by default); True when
        the list ended."""
        work = watch.works.get(work_id)
        title = (work or {}).get("title")
        if not title:
            raise PermanentError(f"work {work_id} is not in the works list (deleted?)")
        await self._open(page, COMMENTS)
        if not await self._click_text(page, [COMMENTS.text("pick_work")]):
            raise await self._page_changed(page, COMMENTS, f"the 「{COMMENTS.text('pick_work')}」 button")
        card = await self._find_work_card(page, title)
        async with self._expect_endpoint(page, COMMENT_ENDPOINTS):
            await card.click()
        await watch.settle()
        return await self._load_all_comments(page, watch, self.max_scrolls if pages is None else pages)

    async def _find_work_card(self, page: Page, title: str) -> Locator:
        """The picker's title node showing exactly the work's title (scrolling the picker);
        refuses when two works have that title."""
        first = " ".join(title.split())
        titles = page.locator(COMMENTS.selector("work_title"), has_text=_whole_text(title))
        try:
            await page.locator(COMMENTS.selector("work_title")).first.wait_for(timeout=STEP_TIMEOUT_MS)
        except PlaywrightError:
            raise await self._page_changed(page, COMMENTS, "the work picker's cards") from None
        for _ in range(self.max_scrolls):
            found = await titles.count()
            if found > 1:
                raise PermanentError(f"two works are titled 「{first}」 in the picker: refusing to guess")
            if found == 1:
                return titles.first
            if not await self._scroll_down(page, COMMENTS.selectors("picker_scroller")):
                break
            await asyncio.sleep(0.3)  # the picker loads the next works
        raise PermanentError(f"the work 「{first}」 is not in the comment page's picker")

    async def _scroll_down(self, page: Page, scrollers: list[str]) -> bool:
        """Scroll the first scrollable of these elements to its end (where lists load their
        next page); False when it was there already."""
        return await page.evaluate("""(sels) => {
          for (const sel of sels) for (const node of document.querySelectorAll(sel)) {
            if (node.scrollHeight <= node.clientHeight) continue;
            const top = node.scrollTop;
            node.scrollTop = node.scrollHeight;
            return node.scrollTop !== top;
          }
          return false; }""", scrollers)

    async def _load_all_comments(self, page: Page, watch: _PageWatch, pages: int) -> bool:
        """Scroll the comment list `pages` times at most while the last page said has_more
        (each scroll to the bottom fetches the next page), up to 没有更多评论. True when the
        list ended; else `watch.bounded`."""
        for _ in range(pages):
            if not watch.comments_more or await self._text_showing(page, [COMMENTS.text("end_of_comments")]):
                return True
            try:
                async with self._expect_endpoint(page, COMMENT_ENDPOINTS, timeout_ms=5_000):
                    if not await self._scroll_down(page, [COMMENTS.selector("comment_list")]):
                        await page.mouse.wheel(0, 5_000)
            except PlaywrightError:
                return True  # scrolling brought nothing more
            await watch.settle()
        watch.bounded = watch.bounded or bool(watch.comments_more)
        return not watch.comments_more

    async def _expand_replies(self, page: Page, watch: _PageWatch, threads: dict[str, int] | None = None,
                              saved: Callable[[], Awaitable[None]] | None = None) -> bool:
        """Click the "查看N条回复" under the comments (each fetches one reply list), at most
        `max_scrolls`, skipping the threads `threads` says were read at N replies ({thread
        page id: N}, updated as each is read; `saved` is awaited after each). True when none
        was left; else `watch.bounded`."""
        links = page.locator(COMMENTS.selector("load_more"), has_text=re.compile(COMMENTS.text("view_replies")))
        clicks = 0
        for link in await links.element_handles():
            size, thread = await self._thread_of(page, link)
            if threads is not None and thread is not None and threads.get(thread) == size:
                continue  # read at this size before
            if clicks >= self.max_scrolls:
                watch.bounded = True
                return False
            clicks += 1
            async with self._expect_endpoint(page, ("web_comment_reply_list", "creator_comment_reply_list")):
                await link.click()
            await watch.settle()
            if threads is not None and thread is not None:
                threads[thread] = size
                if saved is not None:
                    await saved()
            await self._pace(short=True)
        return True

    async def _thread_of(self, page: Page, link: Any) -> tuple[int, str | None]:
        """A "查看N条回复" link's N and its thread's page id (the `cid` of the comment row it
        is under; None when the row's props cannot be read)."""
        match = re.match(COMMENTS.text("view_replies"), (await link.inner_text()).strip())
        size = int(match.group(1)) if match else 0
        text_node = await link.evaluate_handle(
            "(link, sel) => { let row = link.parentElement;"
            " while (row && !row.querySelector(sel)) row = row.parentElement;"
            " return row ? row.querySelector(sel) : null; }", COMMENTS.selector("comment_text"))
        element = text_node.as_element()
        if element is None:
            return size, None
        [props] = await page.evaluate(_FIBER_PROPS_JS, [[element], COMMENTS.get("react", "comment_keys"),
                                                        COMMENTS.get("react", "levels")])
        return size, (props or {}).get("cid") or None

    # ---- replies -----------------------------------------------------------------------
    async def reply(self, page: Page, account: AccountInfo, target: ReplyTarget, text: str) -> SentReply:
        """Send through the page's own box; the reply's record (from the publish response, or
        the new "from me" row) comes with its id, so it is confirmed at once."""
        async with self._guard(page):
            watch = self._watch(page, account)
            if target.kind == "comment":
                comment = await self._reply_to_comment(page, watch, target, text)
                return SentReply(comment["platform_comment_id"],
                                 Parsed(comments=[comment]).to_batch(account.id, "reply"))
            message = await self._send_dm(page, watch, target, text)
            return SentReply(message["platform_message_id"], Parsed(messages=[message]).to_batch(account.id, "reply"))

    async def _reply_to_comment(self, page: Page, watch: _PageWatch, target: ReplyTarget, text: str) -> Raw:
        if target.target_platform_id is None:
            raise PermanentError("a new top-level comment on a work is not supported on Douyin yet")
        expected = self._comment_context(watch, target)
        if target.topic_title:
            watch.works.setdefault(target.topic_platform_id, {"title": target.topic_title})
        elif target.topic_platform_id not in watch.works:
            await self._crawl_works(page, watch)  # the picker is searched by the work's title
        await self._open_work_comments(page, watch, target.topic_platform_id)
        row = await self._find_comment_row(page, watch, expected)
        await row.locator(COMMENTS.prefix_selector("operations")).get_by_text(COMMENTS.text("reply"), exact=True).first.click()
        editors = page.locator(COMMENTS.selector("editor")).filter(visible=True)
        try:
            await editors.first.wait_for(timeout=STEP_TIMEOUT_MS)
        except PlaywrightError:
            raise await self._page_changed(page, COMMENTS, "the reply box") from None
        # The box must be the one answering that person (the work's own box may show too).
        placeholder = COMMENTS.text("reply_placeholder").format(nickname=expected["author"])
        shown = [await editors.nth(i).get_attribute("placeholder") or "" for i in range(await editors.count())]
        if shown.count(placeholder) != 1:
            boxes = "、".join(f"「{p}」" for p in shown)
            raise PermanentError(f"the reply boxes say {boxes}, not 「{placeholder}」 once: refusing to send")
        editor = editors.nth(shown.index(placeholder))
        await editor.fill(text)
        # Its own send button: in the nearest block around the box that has a button.
        button = editor.locator("xpath=ancestor::*[.//button][1]").locator(
            COMMENTS.selector("send_button"), has_text=COMMENTS.text("send")).first
        if not await button.count():
            raise await self._page_changed(page, COMMENTS, f"the 「{COMMENTS.text('send')}」 button")
        async with page.expect_response(lambda r: API.endpoint_of(r.url) == "comment_reply_publish",
                                        timeout=COMMENTS.timing("publish_wait_s") * 1000) as answer:
            await button.click()
        response = await answer.value
        body = parsers.decode_body("comment/reply", await response.body(), response.headers.get("content-type"))
        return parsers.published_comment(body, content_id=target.topic_platform_id,
                                         parent_id=target.target_platform_id, text=text)

    def _comment_context(self, watch: _PageWatch, target: ReplyTarget) -> dict[str, str]:
        """The comment's text and author as the page shows them: from the target's context
        (what the operator saw) or, without it, from what this page's crawls saw."""
        known = watch.comments.get(target.target_platform_id or "") or {}
        text = target.target_text or known.get("text")
        author = target.target_author or known.get("author_name")
        if not text or not author:
            raise TransientError("the comment's text and author are not known yet: it cannot be found on the page "
                                 "safely (the next crawl learns them)")
        return {"text": text, "author": author, "page_id": known.get("aliases", {}).get("page", "")}

    async def _find_comment_row(self, page: Page, watch: _PageWatch, expected: dict[str, str]) -> Locator:
        """The one comment row whose text and author are the expected ones. When two rows
        match, the comment's page id (its "page" alias, from a crawl) tells which; refuses
        when the comment is not on the page or cannot be told apart."""
        text_nodes = page.locator(COMMENTS.selector("comment_text"), has_text=expected["text"])
        for attempt in range(2):
            rows: list[tuple[int, Locator]] = []
            for i in range(await text_nodes.count()):
                node = text_nodes.nth(i)
                if self.normalize_text(await node.inner_text()) != self.normalize_text(expected["text"]):
                    continue
                row = node.locator(f"xpath=ancestor::*[.//{COMMENTS.prefix_xpath('operations')}][1]")
                author = (await row.locator(COMMENTS.selector("comment_author")).first.inner_text()).strip()
                if author == expected["author"]:
                    rows.append((i, row))
            if len(rows) > 1 and expected.get("page_id"):
                ids = dict(await self._comment_rows_props(page, text_nodes))
                rows = [(i, row) for i, row in rows if (ids.get(i) or {}).get("cid") == expected["page_id"]]
            if len(rows) == 1:
                return rows[0][1]
            if len(rows) > 1:
                raise PermanentError("two comments on the page have this text and author: refusing to guess")
            if attempt == 0:
                await self._expand_replies(page, watch)  # it may be a reply in a closed thread
        raise PermanentError(f"no comment by 「{expected['author']}」 saying 「{expected['text'][:40]}」 on the page "
                             "(deleted, or the wrong comment): refusing to send")

    async def _send_dm(self, page: Page, watch: _PageWatch, target: ReplyTarget, text: str) -> Raw:
        """Open the conversation by its peer's name, check the header and the rows' own
        conversation id, type and send; the reply is the new "from me" row."""
        await self._open_conversation(page, watch, target)
        before = {m["platform_message_id"] for m in (await self._shown_messages(page, watch)).messages}
        editor = page.locator(CHAT.selector("editor")).filter(visible=True).first
        if not await editor.count():
            raise await self._page_changed(page, CHAT, "the message box")
        await editor.fill(text)
        await editor.dispatch_event("input")
        if not await self._click_text(page, [CHAT.text("send")], exact=True):
            await editor.press("Enter")
        deadline = time.monotonic() + CHAT.timing("sent_wait_s")
        while time.monotonic() < deadline:
            refusal = await self._refusal_note(page)
            if refusal:
                raise ReplyBlocked(refusal)
            for message in (await self._shown_messages(page, watch)).messages:
                if (message["direction"] == "out" and message["platform_message_id"] not in before
                        and self.same_text(text, message["text"])):
                    return message
            await asyncio.sleep(0.2)
        # It may have gone out: the outbox looks for it (find_reply) before sending again.
        raise TransientError("the message was sent but did not appear in the conversation")

    def _peer_name(self, watch: _PageWatch, target: ReplyTarget) -> str:
        name = target.peer_name or watch.conversations.get(target.topic_platform_id, {}).get("peer_name")
        if not name:
            raise TransientError("the conversation's peer name is not known yet: it cannot be opened safely "
                                 "(the next crawl learns it)")
        return name

    async def _open_conversation(self, page: Page, watch: _PageWatch, target: ReplyTarget) -> None:
        """The chat page showing the target's conversation, verified twice: the header names
        the peer, and the message rows' own conversation id is the target's."""
        name = self._peer_name(watch, target)
        await self._open(page, CHAT)
        if not await self._click_conversation(page, name):
            header = page.locator(CHAT.selector("header_name")).first
            shown = (await header.inner_text()).strip() if await header.count() else "nothing"
            raise PermanentError(f"the chat opened 「{shown}」, not 「{name}」: refusing to send")
        shown = await self._shown_messages(page, watch)
        others = {m["platform_conversation_id"] for m in shown.messages} - {target.topic_platform_id}
        if others:
            raise PermanentError(f"the chat with 「{name}」 is conversation {others.pop()}, not "
                                 f"{target.topic_platform_id}: refusing to send")

    async def _click_conversation(self, page: Page, name: str, attempts: int = 3) -> bool:
        """Click the peer's row and wait for the header to name them. A virtualised list
        re-renders its rows on every scroll, so the list is scrolled here (the row wholly in
        view) and the click lands on the row rendered after it; a click can still land on a
        neighbour: the header tells, and the click is tried again. False when the header
        never named the peer."""
        for _ in range(attempts):
            row = await self._find_conversation_row(page, name)
            if await page.evaluate(_ROW_INTO_VIEW_JS, [CHAT.selector("list_scroller"), CHAT.selector("list_rows"),
                                                       CHAT.selector("row_name"), name]):
                await self._list_rendered(page)
            try:
                await row.click(timeout=5_000)
                await page.wait_for_function(
                    "([sel, name]) => { const h = document.querySelector(sel); return h && h.innerText.trim() === name; }",
                    arg=[CHAT.selector("header_name"), name], timeout=5_000, polling=100)
                return True
            except PlaywrightError:  # re-rendered away meanwhile, or a neighbour opened: find it again
                continue
        return False

    async def _find_conversation_row(self, page: Page, name: str) -> Locator:
        """Scroll the virtualised conversation list from its top until the peer's row is
        rendered (as deep as the crawl reads it, `max_conversation_pages`)."""
        scroller = page.locator(CHAT.selector("list_scroller")).first
        if not await scroller.count():
            raise await self._page_changed(page, CHAT, "the conversation list")
        if await scroller.evaluate("node => { const top = node.scrollTop; node.scrollTop = 0; return top > 0; }"):
            await self._list_rendered(page)  # the rows shown are still those of where it was
        for _ in range(max(self.max_conversation_pages, self.max_scrolls)):
            rows = page.locator(CHAT.selector("list_rows")).filter(
                has=page.locator(CHAT.selector("row_name"), has_text=_whole_text(name)))
            if await rows.count() == 1:
                return rows.first
            if await rows.count() > 1:
                raise PermanentError(f"two conversations are with someone named 「{name}」: refusing to guess")
            moved = await scroller.evaluate(
                "node => { const top = node.scrollTop; node.scrollTop = top + node.clientHeight / 2;"
                " return node.scrollTop !== top; }")
            if not moved:
                break
            await self._list_rendered(page)
        raise PermanentError(f"no conversation with 「{name}」 in the chat list")

    async def _list_rendered(self, page: Page) -> None:
        """Wait (a little) until the virtualised conversation list has rendered the rows where
        it is now scrolled to: it renders on its scroll event, which a busy machine delivers
        late, and until then the rows shown are those of the last position."""
        with contextlib.suppress(PlaywrightError):  # then the rows are read as they are
            await page.wait_for_function(_LIST_RENDERED_JS, arg=[CHAT.selector("list_scroller"),
                                                                 CHAT.selector("list_rows")],
                                         timeout=CHAT.timing("list_render_wait_s") * 1000, polling=50)

    async def _shown_messages(self, page: Page, watch: _PageWatch) -> Parsed:
        """The open conversation's messages, read from the rows' React props."""
        nodes = page.locator(f"{CHAT.selector('message_pane')} > :first-child > *")
        handles = await nodes.element_handles()
        if not handles:
            return Parsed()
        props = await page.evaluate(_FIBER_PROPS_JS, [handles, ["serverId", "content", "sender", "conversationId"], 25])
        found = [p for p in props if p]
        if not found:
            raise await self._page_changed(page, CHAT, "the messages' React props (serverId, content, sender)")
        parsed = parsers.parse_chat_messages(found, self_uid=watch.self_uid, peers=list(watch.peers.values()))
        watch.self_uid = watch.self_uid or parsed.self_uid
        return parsed

    async def _refusal_note(self, page: Page) -> str | None:
        notes = await page.evaluate(
            "(sels) => sels.flatMap(s => [...document.querySelectorAll(s)]).map(n => n.innerText || '')",
            CHAT.selectors("error_notes"))
        return next((n.strip() for n in notes if any(t in n for t in CHAT.texts("refused"))), None)

    async def _crawl_dms(self, page: Page, watch: _PageWatch, state: PlatformState) -> None:
        """Open each conversation whose list row changed since it was last read and stored
        (state "dm_rows"), or whose older history is still being read (state "dm_history":
        {peer name: {"pages": older pages read, "done": reached its start or the backfill
        limit}}), and read its messages, storing each conversation before the next. The pane
        opens at the newest messages, so each cycle scrolls `max_scrolls` pages further back
        than the last, up to `max_dm_pages`.

        The list itself is walked from the top in half-page scrolls, `max_scrolls` a cycle
        once it was walked (a conversation with a new message comes to the top); until then
        each cycle goes `max_scrolls` deeper than the last (state "dm_list"), to the list's
        end or `max_conversation_pages`, so older conversations are reached too."""
        walk: dict[str, Any] = await state.get("dm_list") or {"pages": 0, "done": False}
        depth = self.max_scrolls if walk["done"] else min(walk["pages"] + self.max_scrolls,
                                                          self.max_conversation_pages)
        await self._open(page, CHAT)
        await watch.flush()  # the peers' profiles the page fetched
        stored: dict[str, str] = await state.get("dm_rows", {})
        histories: dict[str, dict[str, Any]] = await state.get("dm_history", {})
        scroller = page.locator(CHAT.selector("list_scroller")).first
        seen: set[str] = set()
        ended = False
        for _ in range(depth):
            rows = await page.eval_on_selector_all(
                CHAT.selector("list_rows"),
                "(rows, sel) => rows.map(r => [(r.querySelector(sel) || {}).innerText || '', r.innerText])",
                CHAT.selector("row_name"))
            for name, preview in rows:
                name = name.strip()
                if not name or name in seen:
                    continue
                seen.add(name)
                history = histories.get(name) or {"pages": 0, "done": False}
                if stored.get(name) == preview and history["done"]:
                    continue
                top = await scroller.evaluate("node => node.scrollTop")
                if not await self._click_conversation(page, name):
                    raise TransientError(f"the chat list did not open the conversation with 「{name}」")
                await scroller.evaluate("(node, top) => { node.scrollTop = top; }", top)
                await self._list_rendered(page)
                if not history["done"]:
                    pages = min(history["pages"] + self.max_scrolls, self.max_dm_pages)
                    started = await self._load_older_messages(page, pages)
                    history = {"pages": pages, "done": started or pages >= self.max_dm_pages}
                parsed = await self._shown_messages(page, watch)
                for conversation in parsed.conversations:
                    conversation["peer_name"] = conversation.get("peer_name") or name
                watch.learn(parsed)
                if watch.crawl is not None:
                    watch.crawl.extend(parsed)
                await watch.flush()
                stored[name], histories[name] = preview, history
                await state.set("dm_rows", stored)
                await state.set("dm_history", histories)
                await self._pace(short=True)
            if not await scroller.count() or not await scroller.evaluate(
                    "node => { const top = node.scrollTop; node.scrollTop = top + node.clientHeight / 2;"
                    " return node.scrollTop !== top; }"):
                ended = True
                break
            await self._list_rendered(page)
        if not walk["done"]:
            await state.set("dm_list", {"pages": depth, "done": ended or depth >= self.max_conversation_pages})

    async def _load_older_messages(self, page: Page, pages: int) -> bool:
        """Scroll the open conversation's pane to its top up to `pages` times, each loading
        an older page of messages; True when its start is shown (a pane with nothing to
        scroll, or a scroll that brought nothing)."""
        rows = f"{CHAT.selector('message_pane')} > :first-child > *"
        for _ in range(pages):
            before = await page.locator(rows).count()
            moved = await page.evaluate("""(sel) => { const pane = document.querySelector(sel);
              for (const node of pane ? [pane, pane.firstElementChild] : [])
                if (node && node.scrollHeight > node.clientHeight && node.scrollTop > 0) {
                  node.scrollTop = 0; return true; }
              return false; }""", CHAT.selector("message_pane"))
            if not moved:
                return True
            try:
                await page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length > n",
                                             arg=[rows, before], timeout=CHAT.timing("older_wait_s") * 1000,
                                             polling=100)
            except PlaywrightError:
                return True  # nothing older came
        return False

    async def find_reply(self, page: Page, account: AccountInfo, target: ReplyTarget, text: str,
                         since: datetime) -> SentReply | None:
        """Our reply with this text where the page shows it, with its record: the work's
        comments and threads, or the conversation's rows. An answer that could not be read
        raises TransientError (the outbox asks again later); ReplyUncertain when the reply
        may be beyond what the page showed (the scroll bound, or a conversation whose shown
        messages all came after `since`). Neither ever counts as "not sent"."""
        async with self._guard(page):
            watch = self._watch(page, account)
            if target.kind != "comment":
                await self._open_conversation(page, watch, target)
                messages = [m for m in (await self._shown_messages(page, watch)).messages
                            if m["platform_conversation_id"] == target.topic_platform_id]
                cutoff = since - timedelta(seconds=1)
                ours = [m for m in messages if m["direction"] == "out" and m["created_at"] >= cutoff
                        and self.same_text(text, m["text"])]
                if ours:
                    found = max(ours, key=lambda m: m["created_at"])
                    return SentReply(found["platform_message_id"], Parsed(messages=[found]).to_batch(account.id, "reply"))
                if not any(m["created_at"] < cutoff for m in messages):
                    raise ReplyUncertain("the conversation shows no message from before the send: "
                                         "the reply may be among older ones the page did not show")
                return None
            if watch.works.get(target.topic_platform_id) is None:
                await self._crawl_works(page, watch)
            seen = watch.crawl = Parsed()
            watch.failures.clear()
            watch.session_error = None
            watch.bounded = False
            try:
                await self._crawl_comments(page, watch, target.topic_platform_id)
                await watch.settle()
            finally:
                watch.crawl = None
            self._raise_for_crawl(watch)  # an unreadable answer is "unknown", never "not sent"
            cutoff = since.replace(microsecond=0) - timedelta(seconds=1)
            ours = [c for c in seen.comments
                    if c["direction"] == "out" and self.same_text(text, c["text"])
                    and c["parent_platform_comment_id"] in (target.target_platform_id, None)
                    and c["created_at"] >= cutoff]
            if ours:
                found = max(ours, key=lambda c: c["created_at"])
                return SentReply(found["platform_comment_id"], Parsed(comments=[found]).to_batch(account.id, "reply"))
            if watch.bounded:
                raise ReplyUncertain(f"the comments were read only to the scroll bound ({self.max_scrolls} pages "
                                     "per list): the reply may be beyond it")
            return None

    # ---- page helpers ------------------------------------------------------------------
    async def _open(self, page: Page, anatomy: Anatomy) -> None:
        """Navigate to a creator page and wait until it shows its `ready` marker; the creator
        centre is a single-page app that sends a logged-out visitor to the login from script,
        after the load, so leaving /creator-micro/ meanwhile is a SessionExpired, and a
        verification check laid over the page is a NeedsVerification."""
        await page.goto(anatomy.url, timeout=STEP_TIMEOUT_MS)
        ready = anatomy.selectors("ready") if "ready" in anatomy.data.get("selectors", {}) else []
        if ready:
            with contextlib.suppress(PlaywrightError):  # decided below from what the page shows
                await page.wait_for_function(
                    "([sels, pattern]) => !new RegExp(pattern).test(location.href)"
                    " || sels.some(s => document.querySelector(s))",
                    arg=[ready, LOGIN.data["urls"]["logged_in"]], timeout=STEP_TIMEOUT_MS, polling=100)
        if not self._logged_in_url(page.url):
            raise SessionExpired(f"Douyin sent the {anatomy.name} page to the login ({page.url})")
        if await page.locator(LOGIN.selector("captcha")).filter(visible=True).count():
            raise NeedsVerification(f"Douyin shows a verification check over the {anatomy.name} page: "
                                    "finish it in a visible browser")
        if ready and not await page.locator(", ".join(ready)).count():
            raise await self._page_changed(page, anatomy, f"the page itself ({', '.join(ready)})")

    @staticmethod
    def _logged_in_url(url: str) -> bool:
        return bool(LOGIN.url_pattern("logged_in").search(url)) and not LOGIN.url_pattern("logged_out").search(
            url.split("?")[0])

    async def _wait_for(self, page: Page, anatomy: Anatomy, key: str) -> None:
        try:
            await page.locator(anatomy.selector(key)).first.wait_for(timeout=STEP_TIMEOUT_MS)
        except PlaywrightError:
            if not self._logged_in_url(page.url):
                raise SessionExpired(f"Douyin shows the login instead of the {anatomy.name} page") from None
            raise await self._page_changed(page, anatomy, f"{key} ({anatomy.selector(key)})") from None

    @contextlib.asynccontextmanager
    async def _expect_endpoint(self, page: Page, names: tuple[str, ...],
                               timeout_ms: float = STEP_TIMEOUT_MS) -> AsyncIterator[None]:
        """Run the block and wait for the page to receive one of these endpoints' responses;
        PageChanged when it never comes (the page no longer calls that API)."""
        try:
            async with page.expect_response(lambda r: API.endpoint_of(r.url) in names, timeout=timeout_ms):
                yield
        except PlaywrightError as exc:
            if "Timeout" not in str(exc) or timeout_ms < STEP_TIMEOUT_MS:
                raise
            if not self._logged_in_url(page.url):
                raise SessionExpired("Douyin sent the page to the login") from None
            raise await self._page_changed(page, _anatomy_of(page.url), f"the {' or '.join(names)} response") from None

    async def _click_text(self, page: Page, texts: list[str], *, exact: bool = False) -> bool:
        """Click the first visible element showing one of these texts; False if none shows."""
        for text in texts:
            target = page.get_by_text(text, exact=exact).filter(visible=True)
            if await target.count():
                await target.first.click()
                return True
        return False

    async def _text_showing(self, page: Page, texts: list[str]) -> bool:
        body = await page.evaluate("() => document.body ? document.body.innerText : ''")
        return any(t in body for t in texts)

    async def _page_changed(self, page: Page, anatomy: Anatomy, what: str) -> PlatformError:
        return await snapshot_page_change(page, anatomy, what, self.data_dir)

    async def _pace(self, *, short: bool = False) -> None:
        low, high = self.pace_s
        if high > 0:
            await asyncio.sleep(random.uniform(low, high) / (4 if short else 1))

    @contextlib.asynccontextmanager
    async def _guard(self, page: Page) -> AsyncIterator[None]:
        """Browser failures (timeouts, a crashed renderer, a closed page) become
        TransientError: the pool restarts the page and the outbox retries. The page is
        brought to the front first: the www.douyin.com page opened beside it takes the front,
        and a page behind it gets its scroll events late (the conversation list then renders
        about a second after each scroll)."""
        try:
            await page.bring_to_front()
            yield
        except PlatformError:
            raise
        except PlaywrightError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TransientError(f"browser page failed: {first_line}") from exc


def _anatomy_of(url: str) -> Anatomy:
    for anatomy in (WORKS, COMMENTS, CHAT, HOME):
        if url.startswith(anatomy.url):
            return anatomy
    return LOGIN


def _whole_text(text: str) -> re.Pattern[str]:
    """Matches a node showing exactly `text`, however its whitespace (titles carry \\r and
    line breaks) is rendered."""
    return re.compile(r"^\s*" + r"\s+".join(re.escape(word) for word in text.split()) + r"\s*$")


def _first_level_times(comments: Iterable[Raw], work_id: str) -> list[float]:
    """When each of the work's first-level comments among these was written (epoch s), in
    their order."""
    return [c["created_at"].timestamp() for c in comments
            if c["platform_content_id"] == work_id and c.get("parent_platform_comment_id") is None]
