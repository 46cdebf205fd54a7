"""One account in the pool: its monitor loop and its page, shared with replies.

The loop, per cycle: take a page from the budget and a poll slot (pacing.py), open the
context if it is closed (restore the session, attach the platform's push/interception
listeners with `watch` before anything loads, open the platform's home page), check the
session, `poll`, then either stay awake or hibernate (see budget.py), and sleep a jittered
interval until the next cycle or until woken (or until the platform asks for an early one,
`MonitorIO.poll_soon`, which brings the next scheduled cycle forward as far as its pace allows
and never during a backoff). An awake context is recycled (closed with its
session saved, reopened at the next cycle) once it has been open for CONTEXT_RECYCLE_S or its
page has made CONTEXT_RECYCLE_REQUESTS requests: Playwright keeps a Request and a Response
object (with their headers) for every request of a page until the page closes, so a page
that never closes grew the engine by about 7 MB a minute under 5 messages a second.

The platform streams a crawl: each page's records go to the sink (committed at once) and its
position to the account's PlatformState (platform_state.py), which outlives the page. The
poll's time limit is therefore per step: it restarts whenever a batch is stored or state is
saved, so a big crawl is never cut off as a whole, while a hung page still costs only one
call timeout.

Failures stay inside the account:
- every platform call has a timeout, so a hung page costs this account a cycle, not the pool;
- an error closes the context and retries with exponential backoff (capped);
- a renderer crash or a browser disconnect marks the context dead and wakes the loop, which
  reopens it (a restart) at once;
- a page that is not logged in (check_session, a SessionExpired raised by the platform, or a
  push that saw the session end, which wakes the loop at once) turns the account `expired`,
  `needs_verification` or `blocked` with a notification and ends the loop: polling it
  achieves nothing. When that status cannot be written, the monitor keeps the database's view
  (still logged in), backs off and finds out again on the next cycle;
- a session that cannot be saved when its context closes (hibernation, shutdown) is an
  error on the account and a notification, never only a log line.

Replies and reply look-ups (`use_page`) run between cycles under the same page lock, so a
poll never navigates away under a half-typed reply.

Timeouts use `asyncio.timeout`, never `asyncio.wait_for`: on Python 3.11, wait_for can swallow
a cancellation that arrives just as the awaited thing finishes (CPython gh-86296), and the
monitor loop then outlived `stop()`, hanging the pool's shutdown.
"""
from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Awaitable, Callable, TypeVar

from ..bus import EventBus
from ..events import FINISH_VERIFICATION, AccountStatusChanged, Notification
from ..platform import (
    SESSION_ERRORS,
    AccountInfo,
    MonitorIO,
    Platform,
    PlatformError,
    PlatformSettings,
    RateLimited,
    SessionExpired,
    SessionStatus,
    TransientError,
    session_status_of,
)
from ..platform_state import PlatformStateStore
from ..records import Batch
from ..settings import Settings
from ..store.models import utcnow
from . import status as st
from .browser import BrowserHost
from .budget import PageBudget
from .context import AccountContext
from .pacing import PollSlots, early_poll_delay, poll_delay

if TYPE_CHECKING:
    from playwright.async_api import Page

    from ..accounts import AccountRow, AccountService
    from ..store.datastore import DataStore

log = logging.getLogger(__name__)
T = TypeVar("T")

FIRST_CYCLE_SPREAD_S = 2.0  # accounts starting together spread their first cycles over this
STOP_TIMEOUT_S = 15.0
CONTEXT_RECYCLE_S = 20 * 60.0  # an awake context is reopened after this long (memory stays flat)
CONTEXT_RECYCLE_REQUESTS = 1000  # ... or after its page made this many requests (about 15 MB)

# What the operator is told when the platform stops serving the account.
SESSION_ENDED = {
    SessionStatus.EXPIRED: (
        "Login expired", "the platform logged this account out. Log in again to resume monitoring.",
        "The login expired; log in again."),
    SessionStatus.NEEDS_VERIFICATION: (
        "Verification needed", "the platform asks to verify this account. Log in again in a visible "
        "browser and finish the check to resume monitoring.",
        "The platform asks for a verification; log in again in a visible browser."),
    SessionStatus.BLOCKED: (
        "Account blocked", "the platform has blocked this account. Monitoring has stopped.",
        "The platform has blocked this account."),
}


@dataclass
class MonitorEnv:
    """What every account's monitor shares (the pool's parts)."""

    settings: Settings
    host: BrowserHost
    budget: PageBudget
    polls: PollSlots
    accounts: "AccountService"
    store: "DataStore"
    bus: EventBus
    call_timeout_s: float
    on_change: Callable[["AccountMonitor", str], None]  # (monitor, previous state)
    platform_state: PlatformStateStore
    pace: Callable[[str], PlatformSettings]  # a platform's settings block, for its pace (pacing.py)


class AccountMonitor:
    def __init__(self, env: MonitorEnv, account: "AccountRow", platform: Platform) -> None:
        self.env = env
        self.account = account
        self.platform = platform
        self.state = st.HIBERNATING
        self.last_error: str | None = None  # the engine's sentence, for the log and a tooltip
        self.last_error_code: str | None = None  # what kind of problem, for the operator's words
        self.failures = 0
        self.restarts = 0
        self.cycles = 0
        self.last_cycle_at = None
        self._ctx: AccountContext | None = None
        self._page_lock = asyncio.Lock()
        self._signal = asyncio.Event()  # something changed: re-evaluate the wait
        self._cycle_requested = False
        self._due = 0.0  # loop time of the next cycle
        self._early_wanted = False  # the platform asked for the next poll early (poll_soon)
        self._polled_at: float | None = None  # loop time the last poll that went well ended
        self._task: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()
        self._reopen = False  # settings changed: reopen the context at the next cycle
        self._progressed: Callable[[], None] = _nothing  # a poll stored something (see _poll)
        self._io = MonitorIO(
            self._sink, env.platform_state.account(account.id, on_write=self._on_progress), self._session_changed,
            self._poll_soon,
        )

    @property
    def id(self) -> str:
        return self.account.id

    @property
    def monitoring(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def info(self) -> AccountInfo:
        a = self.account
        return AccountInfo(a.id, a.platform, a.display_name, a.platform_user_id)

    # ---- Control (called by the pool)

    def start(self) -> None:
        if self.monitoring:
            return
        self._due = self._loop.time() + random.uniform(0, FIRST_CYCLE_SPREAD_S)
        self._task = self._loop.create_task(self._run(), name=f"monitor {self.id}")

    async def stop(self) -> None:
        """End the loop and close the context, saving the session."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await asyncio.gather(task, return_exceptions=True)
            except TimeoutError:
                log.warning("%s: the monitor loop did not end when cancelled", self.id)
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                async with self._page_lock:
                    await self._hibernate(state=st.STOPPED)
        except TimeoutError:
            log.warning("%s: a page action did not finish; closing without waiting", self.id)
            self._drop_context_now()
        self._set_state(st.STOPPED)

    def update(self, account: "AccountRow") -> None:
        """The account row changed (name, proxy, ...): a new proxy needs a new context."""
        if account.proxy_id != self.account.proxy_id or account.fingerprint != self.account.fingerprint:
            self._reopen = True
        self.account = account

    def wake(self) -> None:
        """Run a cycle now (the operator opened the account, a restart was asked)."""
        self._cycle_requested = True
        self._jump_queues()
        self._signal.set()

    def _jump_queues(self) -> None:
        """The operator is waiting: a poll of this account already queued for a poll slot
        goes without one, one queued for a page goes first."""
        self.env.polls.hurry(self.id)
        self.env.budget.hurry(self.id)

    def restart(self) -> None:
        self._reopen = True
        self.failures = 0
        self.wake()

    def retime(self) -> None:
        """The poll interval settings changed: a next poll further away than the new interval
        allows comes sooner (a longer interval applies from the next cycle; a backoff keeps
        its delay)."""
        if self.failures or not self.monitoring:
            return
        sooner = self._loop.time() + self._interval()
        if sooner < self._due:
            self._due = sooner
            self._signal.set()

    def browser_lost(self) -> None:
        if self._ctx is not None:
            self._context_died("the browser disconnected")

    def snapshot(self) -> st.AccountState:
        next_in = None
        if self.monitoring:
            next_in = max(0.0, self._due - self._loop.time())
        return st.AccountState(
            account_id=self.id,
            state=self.state,
            monitoring=self.monitoring,
            last_error=self.last_error,
            last_error_code=self.last_error_code,
            failures=self.failures,
            restarts=self.restarts,
            cycles=self.cycles,
            last_cycle_at=self.last_cycle_at,
            next_poll_in_s=next_in,
        )

    async def use_page(self, action: Callable[["Page"], Awaitable[T]], what: str) -> T:
        """Run `action(page)` on this account's page (opening it if hibernating), between
        cycles, with the platform call timeout."""
        self._jump_queues()  # the loop may hold the page lock while it waits
        async with self._page_lock:
            self.env.budget.busy(self.id)
            self.env.budget.touch(self.id, operator=True)
            try:
                if self._needs_open():
                    await self._take_page(urgent=True)
                    await self._open()
                assert self._ctx is not None
                return await self._call(action(self._ctx.page), what)
            except Exception:
                if self.monitoring:
                    self.wake()  # let the monitor see what state the page is in
                raise
            finally:
                await self._settle()

    # ---- The loop

    async def _run(self) -> None:
        while True:
            await self._wait_until_due()
            # A cycle someone asked for (the operator opened the account, a restart) jumps
            # the queue for a page and takes no poll slot; a scheduled poll waits its turn
            # behind the rotation.
            urgent, self._cycle_requested = self._cycle_requested, False
            self._early_wanted = False  # this cycle reads what was due; a later ask comes after it
            async with self._page_lock:
                try:
                    await self._cycle(urgent=urgent)
                except SessionExpired as exc:
                    if await self._session_ended(session_status_of(exc), str(exc)):
                        return
                    continue
                except Exception as exc:  # noqa: BLE001 - any failure stays in this account
                    await self._failed(exc)
                    continue
                self.failures = 0
                self.last_error = self.last_error_code = None
                self._polled_at = self._loop.time()
                self._due = self._polled_at + self._interval()
                self._bring_poll_forward()
                await self._settle()
            await self._record_crawl(None)

    async def _cycle(self, *, urgent: bool) -> None:
        self.env.budget.busy(self.id)
        # The page first, then the poll slot: a poll holding a slot never waits for a page, so
        # awake accounts queued for a slot can always be sent to sleep to free their page.
        await self._take_page(urgent=urgent)
        try:
            async with self.env.polls.slot(self.id, urgent=urgent):
                if self._ctx is None:
                    await self._open()
                assert self._ctx is not None
                self._set_state(st.ACTIVE)
                page = self._ctx.page
                session = SessionStatus(await self._call(self.platform.check_session(page), "check_session"))
                if session is not SessionStatus.LOGGED_IN:
                    raise SESSION_ERRORS[session](f"the platform says: {session.value}")
                await self._poll(page)
        except BaseException:
            if self._ctx is None:
                self.env.budget.release(self.id)  # taken, never opened (cancelled meanwhile)
            raise
        self.cycles += 1
        self.last_cycle_at = utcnow()

    async def _wait_until_due(self) -> None:
        while True:
            self._signal.clear()
            now = self._loop.time()
            if self._cycle_requested or now >= self._due:
                return
            timeout = self._due - now
            if self._ctx is not None:  # awake between polls
                left = self.env.budget.awake_left(self.id)
                if left is None or left <= 0:
                    async with self._page_lock:
                        await self._hibernate()
                    continue
                timeout = min(timeout, left + 0.01)
            try:
                async with asyncio.timeout(timeout):
                    await self._signal.wait()
            except TimeoutError:
                pass

    # ---- Steps

    def _needs_open(self) -> bool:
        return self._ctx is None or not self._ctx.alive or self._reopen

    async def _take_page(self, *, urgent: bool) -> None:
        """Hold a page (at once while the context is open); a dead or outdated context is
        closed first: a restart. One worn out (CONTEXT_RECYCLE_S, CONTEXT_RECYCLE_REQUESTS)
        is closed too (its session saved) and reopened fresh: not a failure, so not counted as
        a restart."""
        if self._ctx is not None and self._needs_open():
            await self._close_context(save=self._ctx.alive)
            self.restarts += 1
        elif self._ctx is not None and (self._ctx.age_s() >= CONTEXT_RECYCLE_S
                                        or self._ctx.requests >= CONTEXT_RECYCLE_REQUESTS):
            log.info("%s: recycling a context open for %.0f s after %d requests",
                     self.id, self._ctx.age_s(), self._ctx.requests)
            await self._close_context(save=True)
        await self.env.budget.acquire(self.id, urgent=urgent)

    async def _open(self) -> None:
        """Open the context on the page taken (`_take_page`); on failure the page is given
        back."""
        self._reopen = False
        try:
            browser = await self.env.host.browser()
            accounts = self.env.accounts
            proxy = await accounts.browser_proxy(self.account.proxy_id) if self.account.proxy_id else None
            self._ctx = await AccountContext.open(
                browser,
                self.id,
                self.account.fingerprint,
                storage_state=await accounts.load_storage_state(self.id),
                proxy=proxy,
                on_dead=self._context_died,
            )
            page = self._ctx.page
            if self.monitoring:  # before the first load, so its fetches and websocket are seen
                await self._call(self.platform.watch(page, self.info, self._io), "watch")
            await self._call(page.goto(self.platform.home_url()), "opening the home page")
        except BaseException:
            await self._close_context(save=False)
            raise

    async def _settle(self) -> None:
        """After a cycle or a page action (page lock held): stay awake or hibernate."""
        if self._ctx is None:
            return
        if self.monitoring and self._ctx.alive and self.env.budget.claim_awake(self.id, self._signal.set):
            self._set_state(st.ACTIVE)
        else:
            await self._hibernate(st.HIBERNATING if self.monitoring else st.STOPPED)

    async def _hibernate(self, state: str = st.HIBERNATING) -> None:
        """Close the context, saving the session (page lock held)."""
        if self._ctx is not None:
            await self._close_context(save=self._ctx.alive)
        self._set_state(state)

    async def _close_context(self, *, save: bool) -> None:
        ctx, self._ctx = self._ctx, None
        try:
            if ctx is not None:
                not_saved = await ctx.close(self.env.accounts.save_storage_state if save else None)
                if not_saved is not None:
                    self._session_not_saved(not_saved)
        finally:
            self.env.budget.release(self.id)

    def _session_not_saved(self, error: Exception) -> None:
        """The login could not be saved as the context closed: the next opening restores an
        older session (or none). The operator has to know: it may mean a new login."""
        self.last_error = f"could not save the login session: {_describe(error)}"
        self.last_error_code = "session_not_saved"
        log.error("%s: %s", self.id, self.last_error)
        self.env.bus.publish(account_status_event(self))
        self.env.bus.publish(
            Notification(
                title="Session not saved",
                body=f"{self.account.display_name}: the login session could not be saved ({_describe(error)}). "
                     "If the account shows as logged out later, log in again.",
                account_id=self.id,
                level="error",
            )
        )

    def _drop_context_now(self) -> None:
        """Forget the context without waiting (shutdown of a stuck account)."""
        ctx, self._ctx = self._ctx, None
        self.env.budget.release(self.id)
        if ctx is not None:
            asyncio.ensure_future(ctx.close())

    def _context_died(self, reason: str) -> None:
        log.warning("%s: %s; restarting the account's context", self.id, reason)
        if self._ctx is not None and self._ctx.dead_reason is None:
            self._ctx.dead_reason = reason
        self.last_error, self.last_error_code = reason, "page_died"
        self._set_state(st.CRASHED)
        if self.monitoring:
            self.wake()

    async def _failed(self, exc: Exception) -> None:
        """A cycle failed (page lock held): close the context, back off."""
        crashed = self._ctx is not None and not self._ctx.alive
        self.failures += 1
        self.last_error = _describe(exc)
        self.last_error_code = exc.code if isinstance(exc, PlatformError) else "unexpected"
        log.warning("%s: monitor cycle failed (%d in a row): %s", self.id, self.failures, self.last_error)
        if self._ctx is not None:  # the next cycle starts from a fresh context: a restart
            self.restarts += 1
            await self._close_context(save=not crashed)
        # A crash restarts at once the first time; repeated failures wait longer and longer.
        delay = 0.0 if crashed and self.failures == 1 else self._backoff()
        if isinstance(exc, RateLimited):  # the platform said how long to stay away
            delay = max(delay, exc.retry_after_s)
        self._due = self._loop.time() + delay
        self._set_state(st.CRASHED if crashed and delay == 0 else st.BACKOFF)
        await self._record_crawl(self.last_error)

    async def _session_ended(self, status: SessionStatus, message: str) -> bool:
        """The page is not logged in (page lock held): record the account's new status and
        stop polling it. False when the status could not be written: the monitor then keeps
        the database's view, backs off and checks again next cycle."""
        log.warning("%s: session %s (%s)", self.id, status.value, message)
        await self._close_context(save=False)
        title, body, error = SESSION_ENDED[status]
        try:
            await self.env.accounts.set_login_status(self.id, status.value, error=error)
        except Exception as exc:
            log.exception("%s: could not mark the account %s", self.id, status.value)
            self.failures += 1
            self.last_error = f"the login is {status.value}, but recording it failed: {_describe(exc)}"
            self.last_error_code = "status_not_recorded"
            self._due = self._loop.time() + self._backoff()
            self._set_state(st.BACKOFF)
            return False
        self.last_error, self.last_error_code = error, status.value
        self.account = replace(self.account, login_status=status.value)
        self._set_state(st.STOPPED)
        action = FINISH_VERIFICATION if status == SessionStatus.NEEDS_VERIFICATION else None
        self.env.bus.publish(Notification(title=title, body=f"{self.account.display_name}: {body}",
                                          account_id=self.id, level="warning", action=action))
        return True

    def _session_changed(self, status: SessionStatus, message: str) -> None:
        """A push saw the session end: check it now rather than at the next scheduled poll."""
        if SessionStatus(status) is not SessionStatus.LOGGED_IN and self.monitoring:
            log.info("%s: a push says the session is %s (%s); checking now", self.id, status, message)
            self.wake()

    def _poll_soon(self) -> None:
        """The platform has something due that a crawl reads (MonitorIO.poll_soon)."""
        self._early_wanted = True
        self._bring_poll_forward()

    def _bring_poll_forward(self) -> None:
        """A scheduled poll asked for early comes once the platform's pace allows (pacing.py),
        still through the poll slots. Never during a backoff: after a failure, and above all
        after the platform said "too fast", the account is left alone as long as it asks.
        Asked during a cycle, it comes after that cycle (`_run` calls this again)."""
        if not self._early_wanted or self.failures or not self.monitoring:
            return
        now = self._loop.time()
        since = now - self._polled_at if self._polled_at is not None else float("inf")
        due = now + early_poll_delay(self.env.pace(self.platform.name), since)
        if due < self._due:
            self._due = due
            self._signal.set()

    async def _poll(self, page: "Page") -> None:
        """The platform's crawl, with the call timeout per step: it restarts whenever the crawl
        stores a batch or saves its position (see the module docstring)."""
        budget = self.env.call_timeout_s
        try:
            async with asyncio.timeout(budget) as deadline:
                self._progressed = lambda: deadline.reschedule(self._loop.time() + budget)
                await self.platform.poll(page, self.info, self._io)
        except TimeoutError:
            raise TransientError(f"poll made no progress for {budget:g} s") from None
        finally:
            self._progressed = _nothing

    def _on_progress(self) -> None:
        self._progressed()

    async def _sink(self, batch: Batch) -> None:
        """Where the platform's records go: stored (committed) before this returns."""
        batch.account_id = self.id  # a platform can only ever write into its own account
        result = await self.env.store.ingest(batch)
        self._progressed()
        if result.rejected:
            log.warning("%s: %d records rejected, e.g. %s", self.id, len(result.rejected), result.rejected[0])
        if result.added_message_ids:
            self.env.budget.touch(self.id, operator=False)

    async def _call(self, awaitable: Awaitable[T], what: str) -> T:
        """A platform/page call with the pool's timeout: a hung page must not hang the account."""
        try:
            async with asyncio.timeout(self.env.call_timeout_s):
                return await awaitable
        except TimeoutError:
            raise TransientError(f"{what} did not finish within {self.env.call_timeout_s:g} s") from None

    async def _record_crawl(self, error: str | None) -> None:
        try:
            await self.env.accounts.record_crawl(self.id, error=error)
        except Exception as exc:  # the database being closed at shutdown, a deleted account
            log.debug("%s: could not record the crawl: %s", self.id, exc)

    # ---- Timing

    def _interval(self) -> float:
        return poll_delay(self.env.settings, self.env.pace(self.platform.name), self.account.monitor_interval_s)

    def _backoff(self) -> float:
        base = self.env.settings.poll_interval_min_s
        delay = base * 2 ** min(self.failures - 1, 16) * random.uniform(0.8, 1.2)
        return min(self.env.settings.backoff_cap_s, delay)

    def _set_state(self, state: str) -> None:
        previous, self.state = self.state, state
        if previous != state:
            self.env.on_change(self, previous)


def _nothing() -> None:
    pass


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def account_status_event(monitor: AccountMonitor) -> AccountStatusChanged:
    return AccountStatusChanged(
        monitor.id, monitor.account.login_status, monitor_state=monitor.state, error=monitor.last_error
    )
