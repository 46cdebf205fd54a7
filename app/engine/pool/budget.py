"""How many pages may be open at once, and which accounts stay awake between polls.

An open page costs ~50-60 MB of browser memory, so a machine serving 100 accounts cannot keep
100 pages open. The pool therefore limits open pages to `settings.max_active_pages` and lets
most accounts *rotate*: open the context, check the session, poll, save the session, close
(hibernate) until the next poll.

Policy (who stays awake, i.e. keeps its page open between polls, receiving pushes):
- At most `awake_quota` accounts stay awake: the limit minus a reserve of a quarter of it (at
  least one page), so rotating accounts always find a free page and are never starved by the
  awake ones.
- An account that finishes a cycle stays awake while there is room in the quota.
- An account the operator touched (opened it, replied, just logged in) takes a place even when
  the quota is full, by sending to sleep the awake account with the oldest operator interest
  (accounts awake only by chance go first). New traffic alone does not evict anyone, so a busy
  workspace does not churn contexts.
- Accounts awake only by chance (no operator interest) give their page up as soon as another
  account waits for one: with many accounts, pages go to the rotation, which is what keeps
  every account's poll on schedule; with few, everyone stays awake and gets pushes at once.
- An awake account hibernates after `hibernate_after_s` without operator interest or new
  messages, making room for others.
Operator actions (a reply, waking an account) jump the queue for a free page, also when the
account was already queued for its scheduled poll.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Callable


class PageBudget:
    def __init__(self, limit: int, hibernate_after_s: float) -> None:
        self.limit = limit
        self.awake_quota = _awake_quota(limit)
        self.hibernate_after_s = hibernate_after_s
        self._holders: set[str] = set()
        self._waiters: deque[tuple[str, asyncio.Future[None]]] = deque()
        self._awake: dict[str, Callable[[], None]] = {}  # idle awake account -> its evict call
        self._awake_since: dict[str, float] = {}
        self._touched: dict[str, float] = {}  # last operator interest or new messages
        self._operator: dict[str, float] = {}  # last operator interest

    def resize(self, limit: int) -> None:
        """The operator changed "open pages at most": a larger budget hands its new pages to
        the waiting accounts now; a smaller one sends idle awake accounts to sleep until the
        pages in use fit (accounts in a cycle give their page back when it ends)."""
        self.limit = limit
        self.awake_quota = _awake_quota(limit)
        excess = max(len(self._awake) - self.awake_quota, len(self._holders) - self.limit)
        for _ in range(min(excess, len(self._awake))):  # evicted accounts release their page soon after
            victim = min(self._awake, key=lambda a: (self._operator_interest(a) or float("-inf"),
                                                     self._touched.get(a, 0.0)))
            self._awake.pop(victim)()
        self._grant()

    # ---- Pages

    @property
    def in_use(self) -> int:
        return len(self._holders)

    def holds(self, account_id: str) -> bool:
        return account_id in self._holders

    async def acquire(self, account_id: str, *, urgent: bool = False) -> None:
        """Wait for a free page for this account (at once when it already holds one)."""
        if account_id in self._holders:
            return
        if len(self._holders) < self.limit and not self._waiters:
            self._holders.add(account_id)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (account_id, future)
        self._waiters.appendleft(entry) if urgent else self._waiters.append(entry)
        self._wake_chance_sleeper()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(account_id)  # granted just as we were cancelled: give it back
            elif entry in self._waiters:
                self._waiters.remove(entry)
            raise

    def hurry(self, account_id: str) -> None:
        """The operator wants this account now: if it is already waiting for a page (its
        scheduled poll, queued behind the rotation), it moves to the front of the queue."""
        for entry in self._waiters:
            if entry[0] == account_id:
                self._waiters.remove(entry)
                self._waiters.appendleft(entry)
                self._wake_chance_sleeper()
                return

    def release(self, account_id: str) -> None:
        self._holders.discard(account_id)
        self._awake.pop(account_id, None)
        self._awake_since.pop(account_id, None)
        self._grant()

    def _grant(self) -> None:
        """Hand free pages to the waiting accounts, in queue order."""
        while self._waiters and len(self._holders) < self.limit:
            waiter, future = self._waiters.popleft()
            if not future.done():
                self._holders.add(waiter)
                future.set_result(None)

    # ---- Interest and staying awake

    def touch(self, account_id: str, *, operator: bool) -> None:
        """The operator looked at the account (operator=True) or it received new messages."""
        now = time.monotonic()
        self._touched[account_id] = now
        if operator:
            self._operator[account_id] = now

    def forget(self, account_id: str) -> None:
        """The account left the pool (deleted, logged out)."""
        self.release(account_id)
        self._touched.pop(account_id, None)
        self._operator.pop(account_id, None)

    def busy(self, account_id: str) -> None:
        """The account is using its page now: it is not idle-awake (and not evictable)."""
        self._awake.pop(account_id, None)

    def claim_awake(self, account_id: str, on_evict: Callable[[], None]) -> bool:
        """After a cycle: may this account keep its page open? `on_evict` is called if another
        account takes its place later."""
        if account_id not in self._holders or self.awake_quota == 0:
            return False
        if len(self._awake) >= self.awake_quota:
            victim = self._eviction_candidate(account_id)
            if victim is None:
                return False
            self._awake.pop(victim)()
        self._awake[account_id] = on_evict
        self._awake_since[account_id] = time.monotonic()
        return True

    def awake_left(self, account_id: str) -> float | None:
        """Seconds this idle-awake account may stay awake; None when it is not awake (any
        more: evicted)."""
        if account_id not in self._awake:
            return None
        last = max(self._awake_since.get(account_id, 0.0), self._touched.get(account_id, 0.0))
        return self.hibernate_after_s - (time.monotonic() - last)

    def _wake_chance_sleeper(self) -> None:
        """Someone waits for a page: the awake account with no operator interest that was
        touched longest ago hibernates to free one."""
        idle = [a for a in self._awake if self._operator_interest(a) is None]
        if idle and len(self._holders) >= self.limit:
            victim = min(idle, key=lambda a: self._touched.get(a, 0.0))
            self._awake.pop(victim)()

    def _eviction_candidate(self, claimant: str) -> str | None:
        """The awake account to send to sleep for `claimant`, if the claimant's operator
        interest is fresher than someone's (never evict for traffic alone)."""
        mine = self._operator_interest(claimant)
        if mine is None:
            return None
        weakest = min(self._awake, key=lambda a: self._operator_interest(a) or float("-inf"))
        theirs = self._operator_interest(weakest)
        return weakest if theirs is None or theirs < mine else None

    def _operator_interest(self, account_id: str) -> float | None:
        """When the operator last touched the account, if within hibernate_after_s."""
        at = self._operator.get(account_id)
        if at is None or time.monotonic() - at > self.hibernate_after_s:
            return None
        return at


def _awake_quota(limit: int) -> int:
    """The limit minus a reserve of a quarter of it (at least one page) for the rotation."""
    return max(0, limit - max(1, limit // 4))
