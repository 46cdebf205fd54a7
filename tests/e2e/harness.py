"""End-to-end harness: the real Engine (Engine.create) against a sandbox site run by the test.

The site runs in the test's own process (not inside the engine) so that it outlives an engine
that is killed: `engine_process.py` runs the same engine in a child process for the kill -9
test. The sandbox control API plays the audience and the creator's phone (QR scans); the
engine only ever sees the site through Chromium.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable
from urllib.parse import parse_qs, urlparse

from aiohttp import web
from sqlalchemy import select

from app.engine.engine import Engine
from app.engine.events import Event, LoginProgress
from app.engine.im.types import TopicRef
from app.engine.paths import app_paths
from app.engine.reply_text import text_key
from app.engine.settings import Settings
from app.engine.store.models import Comment, DirectMessage
from app.platforms.sandbox.control_client import SandboxControl
from app.platforms.sandbox.site import SandboxSite

# Small poll intervals so a crawl (and so a confirmation) follows within a second or two.
FAST = dict(poll_interval_min_s=1.0, poll_interval_max_s=1.5, backoff_cap_s=2.0, hibernate_after_s=60.0)
REPLY_PATHS = ("/api/comments/reply", "/api/im/send")


def e2e_settings() -> Settings:
    """Settings for an engine that drives the test's site instead of starting its own."""
    settings = Settings(**FAST)
    settings.platforms["sandbox"] = {"enabled": False, "demo_traffic": False}
    return settings


@contextlib.asynccontextmanager
async def running_engine(home: Path, site_url: str) -> AsyncIterator[Engine]:
    """Engine.create + start on `home`, its sandbox platform pointed at `site_url`."""
    engine = Engine.create(app_paths(home), e2e_settings())
    engine.platforms.get("sandbox").use_site(site_url)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


class SlowReplies:
    """A site middleware: while holding, a reply/DM send is stored by the site at once but its
    answer is held back until `release()`, the worst moment for the sender to die (the
    platform has the reply, the sender does not know its id)."""

    MAX_HOLD_S = 30.0

    def __init__(self) -> None:
        self.held = 0  # answers being held back right now
        self._release: asyncio.Event | None = None

    def hold(self) -> None:
        self._release = asyncio.Event()

    def release(self) -> None:
        if self._release is not None:
            self._release.set()
            self._release = None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        release = self._release
        if release is not None and request.method == "POST" and request.path in REPLY_PATHS:
            self.held += 1
            try:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(release.wait(), self.MAX_HOLD_S)
            finally:
                self.held -= 1
        return response


@contextlib.asynccontextmanager
async def sandbox_site(slow_replies: SlowReplies) -> AsyncIterator[SandboxSite]:
    """The sandbox site on a free port, its reply answers under `slow_replies`' control."""
    site = SandboxSite(port=0)
    site.app.middlewares.append(slow_replies.middleware)
    await site.start()
    try:
        yield site
    finally:
        slow_replies.release()
        await site.stop()


async def until(predicate: Callable[[], Any], *, timeout: float = 20.0, what: str = "condition",
                describe: Callable[[], str] | None = None) -> Any:
    """Wait until predicate() (sync or async) is truthy; returns its value. On a timeout the
    message says what was awaited, and `describe()` what was seen instead."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            seen = f"; {describe()}" if describe is not None else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{seen}")
        await asyncio.sleep(0.05)


@dataclass
class Console:
    """What an operator does with the engine, and what they would see."""

    engine: Engine
    control: SandboxControl
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.engine.bus.subscribe(Event, self.events.append)

    def seen(self, kind: type[Event], **match: Any) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items())]

    async def login(self, creator: str) -> str:
        """Add a sandbox account and log it in by QR code, the sandbox "phone" scanning it."""
        account_id = await self.engine.accounts.create("sandbox", creator)
        session_id = await self.engine.logins.start(account_id)
        shown = await until(
            lambda: self.seen(LoginProgress, session_id=session_id, state="qr_ready"), what="the QR code"
        )
        assert shown[0].qr_png.startswith(b"\x89PNG")
        token = parse_qs(urlparse(shown[0].qr_url).query)["token"][0]
        await self.control.scan(token)
        await self.control.confirm(token, creator)
        session = await until(
            lambda: (s := self.engine.logins.session(session_id)) is not None and s.finished and s,
            timeout=30, what=f"the login of {creator}",
        )
        assert session.state == "success", (session.state, session.message)
        return account_id

    async def receive(self, creator: str, account_id: str, tag: str = "") -> tuple[TopicRef, str, TopicRef]:
        """Inject a comment and a DM from the audience; wait until the console shows both.
        Returns the comment's topic, the comment's id and the DM's topic."""
        comment_text, dm_text = f"这个多少钱？How much?{tag}", f"Do you ship to Shanghai? 🚚{tag}"
        comment = (await self.control.inject_comment("小红", comment_text, creator=creator))["comment"]
        dm = await self.control.inject_dm("Bob", dm_text, creator=creator)
        work_ref = TopicRef(account_id, "content", comment["work_id"])
        dm_ref = TopicRef(account_id, "conversation", dm["conversation_id"])
        views = self.engine.views

        async def shown() -> bool:
            comments = [m.text for m in (await views.messages(work_ref)).items]
            dms = [m.text for m in (await views.messages(dm_ref)).items]
            return comment_text in comments and dm_text in dms

        await until(shown, timeout=20, what="the injected comment and DM in the console")
        return work_ref, comment["cid"], dm_ref

    async def stored_texts(self, account_id: str) -> list[str]:
        return await stored_texts(self.engine.db, account_id)


async def stored_texts(db: Any, account_id: str) -> list[str]:
    """The texts of every comment and DM stored for the account (with repeats)."""

    def query(session: Any) -> list[str]:
        comments = session.scalars(select(Comment.text).where(Comment.account_id == account_id))
        messages = session.scalars(select(DirectMessage.text).where(DirectMessage.account_id == account_id))
        return list(comments) + list(messages)

    return await db.read(query)


async def site_texts(control: SandboxControl, creator: str) -> list[str]:
    """Every text the creator wrote on the site (comments and DMs), as the site stores it."""
    comments = await control.comments(creator)
    conversations = await control.conversations(creator)
    me = next(c["uid"] for c in (await control.state())["creators"] if c["name"] == creator)
    ours = [c["text"] for c in comments if c["user"]["uid"] == me]
    return ours + [m["content"]["text"] for conv in conversations for m in conv["messages"] if m["is_from_me"]]


async def site_copies(control: SandboxControl, creator: str, text: str) -> int:
    """How many times the site holds `text` written by the creator (comments and DMs), as
    the site stores it (its reply boxes change line breaks: compared by the engine's key)."""
    return [text_key(t) for t in await site_texts(control, creator)].count(text_key(text))
