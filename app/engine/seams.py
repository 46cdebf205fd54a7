"""The seams between the engine and whoever runs an account's browser.

Today that is the local pool (app/engine/pool), next a remote worker: a process on another
machine speaking the worker protocol (PROTOCOL.md §2). The outbox, the login sessions and the
front ends are written against these Protocols, never against WorkerPool, so a remote worker
holds an account exactly as the local pool does:

- `ReplySender`: send a reply as the account and await the platform's answer
  (`master:reply:request` -> `worker:reply:result` for a remote worker);
- `LoginBackend`: drive the platform's login page, reporting each step to the login state
  machine through its LoginIO (a remote worker relays `worker:login:status` events into it);
- `AccountHolder`: both, plus restarting an account; `holder_id` is the value of
  the account's `worker_id` column it serves (None: the local pool);
- `ReplyRouter`: what the outbox sends through (AccountHolders): a ReplySender that also
  says when an account's replies must wait for their holder.

Which holder serves which account is AccountHolders' business (app/engine/holders.py).
"""
from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .platform import LoginIO, LoginOutcome, PlatformError, ReplyTarget, SentReply
from .records import Batch


@dataclass(frozen=True)
class LoginResult:
    """What a successful login hands back: who logged in, and the session to save."""

    outcome: LoginOutcome
    storage_state: dict[str, Any]  # Playwright's storage state: cookies and origins
    avatar: bytes | None = None  # the identity's avatar image, fetched in the login's context (avatars.py)


@dataclass(frozen=True)
class SendAttempt:
    """Which outbox reply, and which attempt at it, a `send_reply` call is (the outbox sets
    `CURRENT_SEND` around each attempt): a remote worker is told the reply id with the
    request, and its request id names the attempt (app/server/worker_link/remote.py)."""

    reply_id: str
    attempt: int


CURRENT_SEND: ContextVar[SendAttempt | None] = ContextVar("hiscrm_current_send", default=None)


class ReplySender(Protocol):
    """What the outbox needs to send replies (implemented by the local pool and AccountHolders)."""

    async def send_reply(self, account_id: str, target: ReplyTarget, text: str) -> SentReply: ...

    async def find_reply(
        self, account_id: str, target: ReplyTarget, text: str, since: datetime
    ) -> SentReply | None: ...

    async def store_created(self, account_id: str, batch: Batch) -> None:
        """Store the record a send's answer carried, as the account's crawl would."""

    def capabilities(self, platform: str) -> frozenset[str]:
        """What the platform can do (Platform.capabilities); empty for an unknown platform."""


class ReplyRouter(ReplySender, Protocol):
    """The outbox's sender (AccountHolders): sends through whichever worker holds the account."""

    def waiting_reason(self, worker_id: str | None) -> PlatformError | None:
        """Why replies of accounts bound to `worker_id` cannot be sent from this process now
        (no such worker connected here: its `code` for the console, its words for the log
        and the IM clients), or None: they can."""


class LoginBackend(Protocol):
    """What the login state machine (LoginManager) needs: a login run to its end."""

    async def log_in(self, account_id: str, io: LoginIO, *, visible: bool = False,
                     screen: tuple[int, int] | None = None) -> LoginResult:
        """Log the account in, reporting progress (and asking for codes) through `io`; a
        visible window fits in `screen` (the operator's available width, height);
        raises LoginFailed when the platform refuses. The session is not saved here: the
        caller saves it, so a login run by a remote worker lands in the same place."""

    async def wake(self, account_id: str) -> None:
        """Poll the account now (it just logged in, or the operator opened it)."""


class AccountHolder(ReplySender, LoginBackend, Protocol):
    """A worker that holds accounts: runs their pages, sends their replies, logs them in."""

    @property
    def holder_id(self) -> str | None:
        """The `worker_id` of the accounts it holds; None for the local pool."""

    async def restart_account(self, account_id: str) -> None:
        """Reopen the account's page now and forget its backoff."""
