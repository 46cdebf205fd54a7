"""How often and how many: the pace of scheduled polls.

`poll_delay` says when an account's next scheduled poll is due: a random interval (never a
steady beat) within the slower of the global and the platform's own range, moved past the
platform's quiet hours. A platform that says "too fast" (RateLimited) is left alone for as long
as it asks, whatever the backoff would be. `early_poll_delay` says when a poll the platform
asked for early (a push named something due) may come: after a floor, outside quiet hours.

How many scheduled polls run at once:

A poll renders several pages (works, comments, the inbox), and rendering is CPU work. Once as
many polls run as the machine has cores, more at once do not poll any faster: they only share
the same CPUs, and slow down everything else that needs them, above all the operator's reply
being typed into an awake page, the pushes those pages receive, and the console itself.

So scheduled polls queue for one of a few slots (by default one less than the cores, at least
one). Cycles the operator asked for (opening an account) and replies take no slot: they are
what the headroom is kept for.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, AsyncIterator

from ..platform import PlatformSettings, parse_quiet_hours

if TYPE_CHECKING:
    from ..settings import Settings

QUIET_END_SPREAD_S = 15 * 60.0  # accounts wake within this after quiet hours, not all at once


def poll_delay(settings: Settings, pace: PlatformSettings, custom_s: float | None,
               now: datetime | None = None) -> float:
    """Seconds until the next scheduled poll. `custom_s`: the account's own interval (still no
    faster than its platform allows); `now`: local time (tests pass one)."""
    floor = pace.poll_interval_min_s or 0.0
    if custom_s:
        low = max(custom_s, floor)
        delay = random.uniform(low, low * 1.25)
    else:
        low = max(settings.poll_interval_min_s, floor)
        high = max(low, settings.poll_interval_max_s, pace.poll_interval_max_s or 0.0)
        delay = random.uniform(low, high)
    if pace.quiet_hours:
        delay = past_quiet_hours(pace.quiet_hours, delay, now or datetime.now().astimezone())
    return delay


def early_poll_delay(pace: PlatformSettings, since_last_s: float, now: datetime | None = None) -> float:
    """Seconds until an early poll the platform asked for may start, `since_last_s` after the
    last poll ended: not before `early_poll_after_s` since then, and never in the quiet hours."""
    delay = max(0.0, pace.early_poll_after_s - since_last_s)
    if pace.quiet_hours:
        delay = past_quiet_hours(pace.quiet_hours, delay, now or datetime.now().astimezone())
    return delay


def past_quiet_hours(quiet_hours: str, delay_s: float, now: datetime) -> float:
    """`delay_s`, or, when it would fall in the quiet hours, the delay to their end (plus a
    spread so that accounts do not all start at that minute)."""
    start, end = parse_quiet_hours(quiet_hours)
    due = now + timedelta(seconds=delay_s)
    for day in (due.date() - timedelta(days=1), due.date()):
        begins = datetime.combine(day, start, due.tzinfo)
        ends = datetime.combine(day if end > start else day + timedelta(days=1), end, due.tzinfo)
        if begins <= due < ends:
            return (ends - now).total_seconds() + random.uniform(0, QUIET_END_SPREAD_S)
    return delay_s


def default_parallel_polls() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


class PollSlots:
    def __init__(self, limit: int = 0) -> None:
        self.limit = limit or default_parallel_polls()
        self._running = 0
        self._waiters: dict[str, asyncio.Future[bool]] = {}  # account -> its wait, in order

    def resize(self, limit: int = 0) -> None:
        """The setting changed: more slots start queued polls now; with fewer, running polls
        finish and the next ones wait until they fit."""
        self.limit = limit or default_parallel_polls()
        self._grant()

    @contextlib.asynccontextmanager
    async def slot(self, account_id: str, *, urgent: bool) -> AsyncIterator[None]:
        """Hold a slot for one poll of the account; `urgent` (the operator is waiting): none."""
        took = False if urgent else await self._take(account_id)
        try:
            yield
        finally:
            if took:
                self._give_back()

    def hurry(self, account_id: str) -> None:
        """The operator wants this account now: if it waits for a slot, it goes without one."""
        waiting = self._waiters.pop(account_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(False)

    async def _take(self, account_id: str) -> bool:
        """Wait for a slot: True when one was taken, False when hurried past the queue."""
        if self._running < self.limit and not self._waiters:
            self._running += 1
            return True
        waiting = asyncio.get_running_loop().create_future()
        self._waiters[account_id] = waiting
        try:
            return await waiting
        except asyncio.CancelledError:
            if waiting.done() and not waiting.cancelled() and waiting.result():
                self._give_back()  # granted just as we were cancelled
            raise
        finally:
            if self._waiters.get(account_id) is waiting:
                del self._waiters[account_id]

    def _give_back(self) -> None:
        self._running -= 1
        self._grant()

    def _grant(self) -> None:
        while self._waiters and self._running < self.limit:
            account_id = next(iter(self._waiters))
            waiting = self._waiters.pop(account_id)
            if not waiting.done():
                self._running += 1
                waiting.set_result(True)
