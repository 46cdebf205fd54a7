"""A real engine around the sandbox platform, for the pool and login tests.

The rig is the engine the console runs, built by `Engine.create` (the composition root's
object graph) with a throwaway secret key, shorter timeouts and, where a test needs one, its
own platform instance. Everything is real: a SQLite file, the DataStore, AccountService, the
WorkerPool with Chromium, the LoginManager and the sandbox site driven through its pages; the
sandbox's control API plays the audience and the creator's phone (scanning QR codes).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable
from urllib.parse import parse_qs, urlparse

import psutil
from sqlalchemy import select

from app.engine.accounts import AccountService
from app.engine.bus import EventBus
from app.engine.engine import Engine
from app.engine.events import Event, LoginProgress
from app.engine.login import LoginManager
from app.engine.paths import app_paths
from app.engine.platform import Platform
from app.engine.pool import WorkerPool
from app.engine.secrets import SecretBox
from app.engine.settings import Settings
from app.engine.store.db import Database
from app.engine.store.models import Comment, DirectMessage
from app.platforms.sandbox import SandboxPlatform
from tests.e2e.harness import until

FAST = dict(poll_interval_min_s=1.0, poll_interval_max_s=1.5, backoff_cap_s=2.0, hibernate_after_s=30.0)


@dataclass
class Rig:
    engine: Engine
    settings: Settings
    bus: EventBus
    db: Database
    accounts: AccountService
    pool: WorkerPool
    logins: LoginManager
    platform: Platform
    control: Any  # SandboxControl
    events: list[Event] = field(default_factory=list)
    # Browsers an earlier, failed test left running: not this rig's.
    stale_pids: set[int] = field(default_factory=lambda: {p.pid for p in chromium_processes(None)})

    def seen(self, kind: type[Event], **match: Any) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items())]

    async def delivered(self) -> None:
        """Let the bus deliver the events published so far (it calls handlers on the next turn
        of the loop), so `seen` includes them."""
        await asyncio.sleep(0)

    async def until(self, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
        """Wait until predicate() (sync or async) is truthy; returns its value, once the events
        published meanwhile are delivered."""
        value = await until(predicate, timeout=timeout, what=what)
        await self.delivered()
        return value

    async def qr_token(self, session_id: str) -> str:
        """The token in the QR code the login page shows (read from the LoginProgress event)."""
        event = await self.until(
            lambda: next(iter(self.seen(LoginProgress, session_id=session_id, state="qr_ready")), None),
            what="the QR code",
        )
        return parse_qs(urlparse(event.qr_url).query)["token"][0]

    async def login(self, creator: str, account_id: str | None = None) -> str:
        """Log an account in through the LoginManager, scanning with the sandbox 'phone'."""
        account_id = account_id or await self.accounts.create("sandbox", creator)
        session_id = await self.logins.start(account_id)
        token = await self.qr_token(session_id)
        await self.control.scan(token)
        await self.control.confirm(token, creator)
        await self.until(
            lambda: self.logins.session(session_id).finished, timeout=30, what=f"the login of {creator}"
        )
        session = self.logins.session(session_id)
        assert session.state == "success", (session.state, session.message)
        return account_id

    def stat(self, account_id: str, name: str, default: Any = None) -> Any:
        """A field of the account's monitor state (`default` until the pool has picked the
        account up, which happens a moment after its login)."""
        account = self.pool.status().account(account_id)
        return getattr(account, name) if account else default

    def state_of(self, account_id: str) -> str | None:
        return self.stat(account_id, "state")

    async def texts(self, account_id: str) -> set[str]:
        """The texts of every comment and DM stored for the account."""

        def query(s: Any) -> set[str]:
            comments = s.scalars(select(Comment.text).where(Comment.account_id == account_id))
            messages = s.scalars(select(DirectMessage.text).where(DirectMessage.account_id == account_id))
            return set(comments) | set(messages)

        return await self.db.read(query)


@contextlib.asynccontextmanager
async def make_rig(tmp_path, *, platform: Platform | None = None, call_timeout_s: float = 20.0,
                   login_timeout_s: float = 60.0, **overrides: Any) -> AsyncIterator[Rig]:
    platform = platform or SandboxPlatform()
    settings = Settings(**{**FAST, **overrides})
    settings.platforms["sandbox"] = {"demo_traffic": False}
    engine = Engine.create(app_paths(tmp_path / "home"), settings, platforms=[platform],
                           secrets=SecretBox.generate(), call_timeout_s=call_timeout_s,
                           login_timeout_s=login_timeout_s)
    rig = Rig(engine, settings, engine.bus, engine.db, engine.accounts, engine.pool, engine.logins, platform, None)
    engine.bus.subscribe(Event, rig.events.append)
    await engine.start()
    rig.control = platform.control
    try:
        yield rig
    finally:
        await engine.stop()


def chromium_processes(kind: str | None, *, exclude: set[int] = frozenset()):
    """Our Chromium processes of a --type (None: the browser process itself), except the
    `exclude`d ones."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        if proc.pid in exclude:
            continue
        try:
            cmdline = proc.cmdline()
        except psutil.Error:
            continue
        if not cmdline or "chrom" not in os.path.basename(cmdline[0]):
            continue
        types = [a.split("=", 1)[1] for a in cmdline if a.startswith("--type=")]
        if (types[0] if types else None) == kind:
            found.append(proc)
    return found
