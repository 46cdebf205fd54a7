"""What `hiscrm serve` tells the terminal: with no window, this is all the operator sees.

At start: the sandbox site's address (when the sandbox platform runs), every account with its
platform and login state, and the log file. Then one line per interval (a minute) saying what
was stored and sent meanwhile, so a glance at the terminal shows whether traffic is flowing.

Comments and DMs are counted in the database, by row id past the last report's mark: the
bus's `MessagesAdded` names the topics of a batch but not which of its messages are comments
and which DMs, and the rows are what was durably stored. Our own replies' rows (made by the
outbox when the operator sends) are not counted as stored; replies sent are counted from the
outbox's `MessageStatusChanged` events: a reply that went from `sending` to `sent` (or straight
to `confirmed`, when the platform's copy was stored first).
"""
from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from sqlalchemy import func, select

from .engine.events import MessageStatusChanged
from .engine.store.models import Comment, DirectMessage, ReplyStatus

if TYPE_CHECKING:
    from .engine.engine import Engine

DEFAULT_INTERVAL_S = 60.0
_ARRIVED = frozenset({ReplyStatus.SENT.value, ReplyStatus.CONFIRMED.value})


def _print(line: str) -> None:
    print(line, file=sys.stdout, flush=True)


@dataclass(frozen=True)
class Stored:
    """Rows stored since a mark: comments and DMs from the platforms (not our outbox's)."""

    comments: int
    dms: int


def _marks(session) -> tuple[int, int]:
    return (session.scalar(select(func.max(Comment.id))) or 0,
            session.scalar(select(func.max(DirectMessage.id))) or 0)


def _stored_since(session, marks: tuple[int, int]) -> tuple[Stored, tuple[int, int]]:
    new_marks = _marks(session)
    comments = session.scalar(select(func.count()).select_from(Comment).where(
        Comment.id > marks[0], Comment.id <= new_marks[0], Comment.reply_id.is_(None)))
    dms = session.scalar(select(func.count()).select_from(DirectMessage).where(
        DirectMessage.id > marks[1], DirectMessage.id <= new_marks[1], DirectMessage.reply_id.is_(None)))
    return Stored(comments, dms), new_marks


class HeadlessReport:
    """Prints the start-up summary, then a line per `interval_s`; `start()` / `stop()`."""

    def __init__(self, engine: Engine, *, log_file: Path | None = None,
                 interval_s: float = DEFAULT_INTERVAL_S, write: Callable[[str], None] = _print) -> None:
        self._engine = engine
        self._log_file = log_file
        self.interval_s = interval_s
        self._write = write
        self._marks = (0, 0)
        self._sending: set[str] = set()  # reply ids on their way to the platform
        self._sent = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._marks = await self._engine.db.read(_marks)
        self._unsubscribe = self._engine.bus.subscribe(MessageStatusChanged, self._on_status)
        for line in await self.summary():
            self._write(line)
        self._task = asyncio.create_task(self._every_interval(), name="headless-report")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def summary(self) -> list[str]:
        """The start-up lines: sandbox address, accounts, log file."""
        lines = []
        url = self._sandbox_url()
        if url:
            lines.append(f"hiscrm: sandbox site at {url}")
        accounts = await self._engine.accounts.list()
        lines.append(f"hiscrm: {len(accounts)} account{'' if len(accounts) == 1 else 's'}")
        for account in accounts:
            lines.append(f"  {account.display_name} · {self._platform_label(account.platform)} · "
                         f"{account.login_status.replace('_', ' ')}")
        if self._log_file is not None:
            lines.append(f"hiscrm: log file {self._log_file}")
        return lines

    async def report(self) -> str:
        """The line for the interval since the last one (or since start)."""
        stored, self._marks = await self._engine.db.read(_stored_since, self._marks)
        sent, self._sent = self._sent, 0
        span = "minute" if self.interval_s == 60 else f"{self.interval_s:g} s"
        return (f"hiscrm: last {span}: stored {stored.comments} comment{_s(stored.comments)}, "
                f"{stored.dms} DM{_s(stored.dms)}; sent {sent} repl{'y' if sent == 1 else 'ies'}")

    def _on_status(self, event: MessageStatusChanged) -> None:
        if event.status == ReplyStatus.SENDING.value:
            self._sending.add(event.reply_id)
        elif event.reply_id in self._sending:
            self._sending.discard(event.reply_id)
            if event.status in _ARRIVED:
                self._sent += 1

    async def _every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                self._write(await self.report())
            except Exception as exc:  # the database, briefly: the next line tries again
                self._write(f"hiscrm: cannot count what was stored: {exc}")

    def _sandbox_url(self) -> str | None:
        if "sandbox" not in self._engine.platforms.names():
            return None
        from .platforms.sandbox.adapter import SandboxPlatform

        sandbox = self._engine.platforms.get("sandbox")
        if isinstance(sandbox, SandboxPlatform) and sandbox.site is not None:
            return f"{sandbox.base_url}/"
        return None

    def _platform_label(self, name: str) -> str:
        try:
            return self._engine.platforms.get(name).label
        except KeyError:
            return name


def _s(count: int) -> str:
    return "" if count == 1 else "s"
