"""Harness for the outbox state-machine tests: a real database (SQLite file and PostgreSQL,
the `db` fixture) and `FakePlatform`, a small stand-in for the worker pool's two methods.

FakePlatform keeps the replies "on the platform" in a list, so a test can count copies: the
property the outbox guarantees is that every reply ends up there exactly once.
"""
from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import pytest

from app.engine.bus import EventBus
from app.engine.events import Event
from app.engine.im.types import TopicRef
from app.engine.outbox import Outbox
from app.engine.platform import ReplyTarget, SentReply
from app.engine.records import Batch
from app.engine.store.counters import refresh_accounts, refresh_topics
from app.engine.store.models import Account, Comment, Content, Conversation, DirectMessage

ACCOUNT = "acc-outbox-test"
OTHER_ACCOUNT = "acc-outbox-other"
WORK = "work-1"
CONVERSATION = "conv-1"
COMMENT = "c-100"
CONTENT_REF = TopicRef(ACCOUNT, "content", WORK)
CONVERSATION_REF = TopicRef(ACCOUNT, "conversation", CONVERSATION)
OTHER_REF = TopicRef(OTHER_ACCOUNT, "content", WORK)


@dataclass
class Posted:
    account_id: str
    target: ReplyTarget
    text: str
    platform_id: str
    at: datetime


@dataclass
class FakePlatform:
    """Implements the worker pool's reply methods like a platform would answer them.

    `script` holds what the next send calls do, in order: a callable run before posting
    (it may raise, or await a gate), or an exception to raise instead of posting. Once the
    script is used up, sends post and return a new id.
    """

    posted: list[Posted] = field(default_factory=list)
    script: list[Any] = field(default_factory=list)
    find_errors: list[BaseException] = field(default_factory=list)
    sends: list[tuple[str, str]] = field(default_factory=list)  # (account, text) per call
    finds: int = 0
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)
    on_posted: Callable[[Posted], Any] | None = None
    capable: frozenset[str] = frozenset({"comments", "direct_messages"})
    created: Callable[[Posted], Batch] | None = None  # the record a send's answer (or a look) carries
    store: Any = None  # where store_created puts it (a DataStore)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    async def send_reply(self, account_id: str, target: ReplyTarget, text: str) -> SentReply:
        self.sends.append((account_id, text))
        self.in_flight[account_id] = self.in_flight.get(account_id, 0) + 1
        self.max_in_flight[account_id] = max(self.max_in_flight.get(account_id, 0), self.in_flight[account_id])
        try:
            step = self.script.pop(0) if self.script else None
            if isinstance(step, BaseException):
                raise step
            if step is not None:
                result = step()
                if asyncio.iscoroutine(result):
                    await result
            platform_id = await self.post(account_id, target, text)
            record = self.created(self.posted[-1]) if self.created is not None else None
            return SentReply(platform_id, record)
        finally:
            self.in_flight[account_id] -= 1

    async def store_created(self, account_id: str, batch: Batch) -> None:
        batch.account_id = account_id
        await self.store.ingest(batch)

    def capabilities(self, platform: str) -> frozenset[str]:
        return self.capable

    def waiting_reason(self, worker_id: str | None) -> None:
        return None  # as the outbox's sender: it serves every account

    async def post(self, account_id: str, target: ReplyTarget, text: str) -> str:
        item = Posted(account_id, target, text, f"p-{next(self._ids)}", datetime.now(timezone.utc))
        self.posted.append(item)
        if self.on_posted is not None:
            result = self.on_posted(item)
            if asyncio.iscoroutine(result):
                await result
        return item.platform_id

    async def find_reply(self, account_id: str, target: ReplyTarget, text: str, since: datetime) -> SentReply | None:
        self.finds += 1
        if self.find_errors:
            raise self.find_errors.pop(0)
        for item in self.posted:
            if (item.account_id, _where(item.target), item.text) == (account_id, _where(target), text) \
                    and item.at >= since:
                return SentReply(item.platform_id, self.created(item) if self.created is not None else None)
        return None

    def copies(self, text: str) -> int:
        return sum(1 for p in self.posted if p.text == text)


def _where(target: ReplyTarget) -> tuple:
    return target.kind, target.topic_platform_id, target.target_platform_id


def _seed(session) -> None:
    now = datetime.now(timezone.utc)
    for account_id in (ACCOUNT, OTHER_ACCOUNT):
        session.add(Account(id=account_id, platform="sandbox", display_name=f"Shop {account_id[-5:]}",
                            platform_user_id=f"u-{account_id}", login_status="logged_in"))
        session.add(Content(account_id=account_id, platform_content_id=WORK, title="A video"))
    session.add(Conversation(account_id=ACCOUNT, platform_conversation_id=CONVERSATION, peer_name="Li"))
    session.flush()
    session.add(Comment(account_id=ACCOUNT, platform_comment_id=COMMENT, platform_content_id=WORK,
                        author_id="fan-1", author_name="Fan", text="How much is it?", created_at=now))
    session.add(DirectMessage(account_id=ACCOUNT, platform_message_id="m-1", platform_conversation_id=CONVERSATION,
                              sender_id="li", sender_name="Li", text="Hello", created_at=now))
    session.flush()
    refresh_topics(session, [CONTENT_REF, CONVERSATION_REF, OTHER_REF])
    refresh_accounts(session, [ACCOUNT, OTHER_ACCOUNT])


@pytest.fixture
async def seeded_db(db):
    """The `db` with two accounts: a work with one inbound comment, a conversation with one DM."""
    await db.write(_seed)
    return db


class Recorder:
    """Collects the events published on a bus."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        bus.subscribe(Event, self.events.append)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def until(self, predicate: Callable[[], Any], timeout: float = 5.0) -> None:
        """Wait until predicate() holds over the events delivered so far (the bus delivers
        on a later turn of the loop than the commit the test may have seen)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.01)


@pytest.fixture
def bus():
    return EventBus()


@pytest.fixture
def events(bus):
    return Recorder(bus)


@pytest.fixture
def platform():
    return FakePlatform()


@pytest.fixture
async def outbox(seeded_db, bus, platform):
    """An outbox over the seeded database, NOT started (tests start it when they need it),
    with short backoffs so retries happen within the test."""
    box = Outbox(seeded_db, bus, platform, max_attempts=3, backoff_base_s=0.05, send_timeout_s=5)
    yield box
    await box.stop()


async def wait_for_status(outbox: Outbox, reply_id: str, *statuses: str, timeout: float = 10.0):
    """Wait until the reply reaches one of `statuses`; return its row."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        row = await outbox.get(reply_id)
        if row is not None and row.status in statuses:
            return row
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"reply {reply_id} is {row.status if row else None}, expected {statuses}")
        await asyncio.sleep(0.01)
