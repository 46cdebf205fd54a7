"""AccountHolders: which worker holds which account, and the calls routed to it.

An account is held by the worker named in its `worker_id` column: empty for the local pool
(the first holder, registered at start), or a remote worker's id (PROTOCOL.md §2: the worker
it was dealt to). The binding lives in the database, so it survives restarts and every pool
reads the same answer: a pool monitors exactly the accounts bound to it.

The outbox sends replies and the login sessions log accounts in through this router, never
through a pool directly: a call for an account goes to its holder. An account bound to a
worker that is not connected has no holder: the call fails with NoHolder, a transient error,
so a reply waits in the outbox (retried with backoff, then `failed` with that reason) until
the worker is back, and is never sent by another worker behind the operator's back.

The outbox asks `waiting_reason` before it takes a reply: a reply whose account has no
serving holder in this process stays queued, its attempts untouched, with the reason shown,
and leaves as soon as a holder is registered or the account is dealt to one (`on_change`
wakes the outbox). With several `hiscrm serve` processes on one database this is also the
rule that says who sends: only the process the account's worker is connected to.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Callable

from .platform import LoginIO, ReplyTarget, SentReply, TransientError
from .records import Batch
from .seams import AccountHolder, LoginResult

if TYPE_CHECKING:
    from .accounts import AccountService

log = logging.getLogger(__name__)


class NoHolder(TransientError):
    """The account is bound to a worker that is not connected."""

    code = "no_worker"


class AccountHolders:
    """The registry of account holders and the router to them (a ReplySender, a LoginBackend)."""

    def __init__(self, accounts: "AccountService", local: AccountHolder) -> None:
        self._accounts = accounts
        self._holders: dict[str | None, AccountHolder] = {}
        self._listeners: list[Callable[[], None]] = []
        self.register(local)

    # ---- The registry

    def register(self, holder: AccountHolder) -> None:
        """A worker connected (or the local pool, at construction): it serves the accounts
        bound to its id from now on."""
        if holder.holder_id in self._holders and self._holders[holder.holder_id] is not holder:
            raise ValueError(f"worker {holder.holder_id!r} is already registered")
        self._holders[holder.holder_id] = holder
        self._changed()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` when a holder registers or an account is bound (the outbox: what
        waited for a holder may go now)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def waiting_reason(self, worker_id: str | None) -> NoHolder | None:
        """The local pool is always registered: with its browsers switched off, its
        replies fail with that reason (the operator sees why) instead of waiting."""
        if worker_id in self._holders:
            return None
        return NoHolder(f"waiting for worker {worker_id}: it is not connected to this server")

    def unregister(self, holder_id: str) -> None:
        """A worker went away; its accounts stay bound to it, without a holder until it returns."""
        if holder_id is None:
            raise ValueError("the local pool cannot be unregistered")
        self._holders.pop(holder_id, None)

    def holders(self) -> list[AccountHolder]:
        return list(self._holders.values())

    async def assign(self, account_id: str, holder_id: str | None) -> None:
        """Bind the account to a registered holder (None: the local pool); the previous
        holder stops monitoring it and the new one starts (both reconcile on AccountsChanged)."""
        if holder_id not in self._holders:
            raise LookupError(f"no worker {holder_id!r} is connected")
        await self._accounts.set_worker(account_id, holder_id)
        self._changed()

    async def release(self, account_id: str) -> None:
        """Unbind the account from its worker: the local pool holds it again."""
        await self._accounts.set_worker(account_id, None)
        self._changed()

    async def holder_of(self, account_id: str) -> AccountHolder:
        """The holder serving this account; NoHolder when its worker is not connected,
        AccountNotFound for an unknown account."""
        from .accounts import AccountNotFound

        account = await self._accounts.get(account_id)
        if account is None:
            raise AccountNotFound(account_id)
        holder = self._holders.get(account.worker_id)
        if holder is None:
            raise NoHolder(f"no worker holds this account (worker {account.worker_id} is not connected)")
        return holder

    # ---- Routed calls (ReplySender, LoginBackend, and the operator's wake/restart)

    async def send_reply(self, account_id: str, target: ReplyTarget, text: str) -> SentReply:
        return await (await self.holder_of(account_id)).send_reply(account_id, target, text)

    async def find_reply(
        self, account_id: str, target: ReplyTarget, text: str, since: datetime
    ) -> SentReply | None:
        return await (await self.holder_of(account_id)).find_reply(account_id, target, text, since)

    async def store_created(self, account_id: str, batch: Batch) -> None:
        await (await self.holder_of(account_id)).store_created(account_id, batch)

    def capabilities(self, platform: str) -> frozenset[str]:
        """What any connected holder can do on the platform."""
        return frozenset().union(*(h.capabilities(platform) for h in self._holders.values()))

    async def log_in(self, account_id: str, io: LoginIO, *, visible: bool = False,
                     screen: tuple[int, int] | None = None) -> LoginResult:
        return await (await self.holder_of(account_id)).log_in(account_id, io, visible=visible, screen=screen)

    async def wake(self, account_id: str) -> None:
        """Poll the account now; nothing to wake when its worker is away."""
        try:
            holder = await self.holder_of(account_id)
        except (NoHolder, LookupError):  # its worker is away, or it was deleted meanwhile
            return
        await holder.wake(account_id)

    async def restart_account(self, account_id: str) -> None:
        await (await self.holder_of(account_id)).restart_account(account_id)
