"""The local worker pool: one Chromium, one context per account, one monitor per account.

The pool follows the accounts table: every account bound to it (worker_id equal to its
`holder_id`: empty for the console's own pool) that is logged in on a known platform gets an
AccountMonitor, whose loop runs while monitoring is switched on.
Account edits and login changes arrive as bus events and are reconciled in the background, so
the UI and the login flow never start or stop monitors themselves.

The browser starts lazily, when the first account needs a page (so the window comes first at
start-up), and is relaunched on demand after a crash; the accounts it took down restart.
Pages are limited and rotated by the PageBudget (budget.py explains the hibernation policy).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, AsyncIterator, Callable

from ..bus import EventBus
from ..events import AccountsChanged, AccountStatusChanged, PoolStatusChanged, SettingsChanged
from ..paths import AppPaths
from ..platform_state import PlatformStateStore
from ..records import Batch
from ..platform import (
    LoginIO,
    Platform,
    PlatformError,
    PlatformRegistry,
    PlatformSettings,
    ReplyTarget,
    SelfCheck,
    SentReply,
    SessionExpired,
    TransientError,
)
from ..seams import LoginResult
from ..settings import Settings
from ..store.models import LoginStatus
from . import status as st
from .browser import BrowserHost, BrowserUnavailable
from .budget import PageBudget
from .context import AccountContext
from .monitor import AccountMonitor, MonitorEnv, account_status_event
from .pacing import PollSlots

if TYPE_CHECKING:
    from datetime import datetime

    from playwright.async_api import Page

    from ..accounts import AccountRow, AccountService
    from ..store.datastore import DataStore

log = logging.getLogger(__name__)

DEFAULT_CALL_TIMEOUT_S = 45.0
MEMORY_SAMPLE_S = 5.0
STATUS_COALESCE_S = 0.5
ROUTINE_STATES = (st.ACTIVE, st.HIBERNATING)


class WorkerPool:
    def __init__(
        self,
        settings: Settings,
        paths: AppPaths,
        platforms: PlatformRegistry,
        accounts: "AccountService",
        store: "DataStore",
        bus: EventBus,
        enabled: bool = True,
        *,
        call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
        holder_id: str | None = None,
        platform_config: Callable[[str], PlatformSettings] | None = None,
    ) -> None:
        self.enabled = enabled
        self.holder_id = holder_id  # it holds the accounts whose worker_id is this (app/engine/holders.py)
        self._settings = settings
        self._paths = paths
        self._platforms = platforms
        self._accounts = accounts
        self._bus = bus
        self._host = BrowserHost(
            settings.browser_executable, headless=settings.headless_browser, on_disconnect=self._browser_lost
        )
        self._budget = PageBudget(settings.max_active_pages, settings.hibernate_after_s)
        self._polls = PollSlots(settings.max_parallel_polls)
        self._env = MonitorEnv(
            settings, self._host, self._budget, self._polls, accounts, store, bus, call_timeout_s,
            self._monitor_changed, PlatformStateStore(store.db),
            platform_config or (lambda name: PlatformSettings()),  # the settings service's, in an engine
        )
        self._monitors: dict[str, AccountMonitor] = {}
        self._logging_in: set[str] = set()
        self._dirty = asyncio.Event()
        self._reconcile_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: list = []
        self._memory = st.MemorySample()
        self._status_pending: dict[str, str] = {}
        self._started = False
        bus.subscribe(SettingsChanged, self._settings_changed)

    # ---- Lifecycle

    async def start(self) -> None:
        """Start monitoring the logged-in accounts (the browser itself starts on first use)."""
        if not self.enabled or self._started:
            return
        self._started = True
        self._unsubscribe = [
            self._bus.subscribe(AccountsChanged, self._accounts_changed),
            self._bus.subscribe(AccountStatusChanged, self._accounts_changed),
        ]
        await self._reconcile()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._reconciler(), name="pool reconciler"),
            loop.create_task(self._memory_sampler(), name="pool memory sampler"),
        ]

    async def stop(self) -> None:
        """Stop every monitor (sessions saved) and the browser."""
        if not self._started:
            return
        self._started = False
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        monitors, self._monitors = list(self._monitors.values()), {}
        await asyncio.gather(*(m.stop() for m in monitors), return_exceptions=True)
        await self._host.stop()

    # ---- Operator actions

    async def wake(self, account_id: str) -> None:
        """The operator opened this account: poll it now and keep its page open for a while."""
        self._budget.touch(account_id, operator=True)
        monitor = self._monitors.get(account_id)
        if monitor is not None:
            monitor.wake()

    async def restart_account(self, account_id: str) -> None:
        """Reopen the account's context now and forget its backoff."""
        monitor = self._monitors.get(account_id)
        if monitor is not None:
            monitor.restart()
        else:
            self._dirty.set()

    async def send_reply(self, account_id: str, target: ReplyTarget, text: str) -> SentReply:
        """Type and send `text` through the account's page; returns the platform's reply id
        (and the created record, when the platform's answer carries it)."""
        monitor = await self._monitor_for(account_id)
        return await self._platform_action(
            monitor, lambda page: monitor.platform.reply(page, monitor.info, target, text), "reply"
        )

    async def find_reply(
        self, account_id: str, target: ReplyTarget, text: str, since: "datetime"
    ) -> SentReply | None:
        """Our reply with this text sent since `since`, if the platform has it."""
        monitor = await self._monitor_for(account_id)
        return await self._platform_action(
            monitor,
            lambda page: monitor.platform.find_reply(page, monitor.info, target, text, since),
            "find_reply",
        )

    async def self_check(self, account_id: str) -> SelfCheck:
        """Check the platform's pages with the account's page (between its polls)."""
        monitor = await self._monitor_for(account_id)
        return await self._platform_action(monitor, monitor.platform.self_check, "self-check")

    async def store_created(self, account_id: str, batch: Batch) -> None:
        """Store the record a send's answer carried, like the account's crawl stores what it
        sees (the outbox calls this once the reply's id is recorded, so it confirms the reply)."""
        batch.account_id = account_id  # a platform can only ever write into its own account
        result = await self._env.store.ingest(batch)
        if result.rejected:
            log.warning("%s: the sent reply's record was rejected: %s", account_id, result.rejected[0])

    def capabilities(self, platform: str) -> frozenset[str]:
        """What the platform can do; nothing for a platform that is not installed."""
        try:
            return self._platforms.get(platform).capabilities
        except KeyError:
            return frozenset()

    async def log_in(self, account_id: str, io: LoginIO, *, visible: bool = False,
                     screen: tuple[int, int] | None = None) -> LoginResult:
        """Run the platform's login flow on a fresh page (a visible window fits in `screen`);
        the session it ends with is returned for the caller (LoginManager) to save."""
        async with self.login_page(account_id, visible=visible, screen=screen) as (page, platform):
            outcome = await platform.login(page, io)
            state = await page.context.storage_state()
        return LoginResult(outcome, state)

    @contextlib.asynccontextmanager
    async def login_page(
        self, account_id: str, *, visible: bool = False, screen: tuple[int, int] | None = None
    ) -> AsyncIterator[tuple["Page", Platform]]:
        """A fresh context (no saved session) for the account's login flow. The account's
        monitor is paused meanwhile and resumes afterwards if the account is logged in.
        A visible window fits in `screen` (the operator's available width, height)."""
        if not self.enabled:
            raise BrowserUnavailable("the browser pool is switched off")
        account = await self._account(account_id)
        platform = self._platforms.get(account.platform)
        self._logging_in.add(account_id)
        monitor = self._monitors.pop(account_id, None)
        try:
            if monitor is not None:
                await monitor.stop()
            browser = await (self._host.launch_visible() if visible else self._host.browser())
            try:
                proxy = await self._accounts.browser_proxy(account.proxy_id) if account.proxy_id else None
                ctx = await AccountContext.open(
                    browser, account_id, account.fingerprint, storage_state=None, proxy=proxy,
                    screen=screen if visible else None,
                )
                try:
                    yield ctx.page, platform
                finally:
                    await ctx.close()
            finally:
                if visible:
                    await browser.close()
        finally:
            self._logging_in.discard(account_id)
            self._budget.touch(account_id, operator=True)
            self._dirty.set()

    # ---- Status

    def status(self) -> st.PoolStatus:
        return st.PoolStatus(
            enabled=self.enabled,
            browser_running=self._host.running,
            browser_version=self._host.version,
            browser_launches=self._host.launches,
            open_pages=self._budget.in_use,
            max_active_pages=self._budget.limit,
            max_parallel_polls=self._env.polls.limit,
            memory=self._memory,
            accounts=tuple(m.snapshot() for m in self._monitors.values()),
        )

    async def sample_memory(self) -> st.MemorySample:
        """Measure the browser processes now (also done every few seconds in the background)."""
        self._memory = await asyncio.to_thread(st.sample_browser_memory)
        return self._memory

    # ---- Internals

    async def _platform_action(self, monitor: AccountMonitor, action, what: str):
        """Run a page action, reporting every failure as a platform error (the outbox's
        vocabulary): anything unexpected (a page that died mid-way) is transient."""
        try:
            return await monitor.use_page(action, what)
        except PlatformError:
            raise
        except Exception as exc:
            raise TransientError(f"{what} failed: {type(exc).__name__}: {exc}") from exc

    async def _monitor_for(self, account_id: str) -> AccountMonitor:
        if not self._started:
            raise TransientError("the browser pool is not running")
        monitor = self._monitors.get(account_id)
        if monitor is None:
            await self._reconcile()  # the account may have logged in a moment ago
            monitor = self._monitors.get(account_id)
        if monitor is not None:
            return monitor
        account = await self._account(account_id)
        if account_id in self._logging_in:
            raise TransientError("a login of this account is in progress")
        if account.worker_id != self.holder_id:
            raise TransientError(f"the account is served by worker {account.worker_id or 'local'}")
        if account.login_status != LoginStatus.LOGGED_IN.value:
            raise SessionExpired(f"the account is not logged in ({account.login_status})")
        raise TransientError(f"no platform {account.platform!r} is installed")

    async def _account(self, account_id: str) -> "AccountRow":
        from ..accounts import AccountNotFound

        account = await self._accounts.get(account_id)
        if account is None:
            raise AccountNotFound(account_id)
        return account

    def _wanted(self, account: "AccountRow") -> bool:
        return (
            account.worker_id == self.holder_id
            and account.login_status == LoginStatus.LOGGED_IN.value
            and account.id not in self._logging_in
            and account.platform in self._platforms.names()
        )

    async def _reconcile(self) -> None:
        """Make the monitors match the accounts table."""
        async with self._reconcile_lock:
            if not self._started:
                return
            wanted = {a.id: a for a in await self._accounts.list() if self._wanted(a)}
            gone = [self._monitors.pop(i) for i in list(self._monitors) if i not in wanted]
            for monitor in gone:
                self._budget.forget(monitor.id)
            await asyncio.gather(*(m.stop() for m in gone), return_exceptions=True)
            for account_id, account in wanted.items():
                monitor = self._monitors.get(account_id)
                if monitor is None:
                    platform = self._platforms.get(account.platform)
                    monitor = self._monitors[account_id] = AccountMonitor(self._env, account, platform)
                else:
                    monitor.update(account)
                if account.monitor_enabled and not monitor.monitoring:
                    monitor.start()
                elif not account.monitor_enabled and monitor.monitoring:
                    await monitor.stop()

    async def _reconciler(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self._reconcile()
            except Exception:
                log.exception("updating the monitored accounts failed; retrying on the next change")

    def _settings_changed(self, event: SettingsChanged) -> None:
        """Limits and intervals the operator changed apply now, not at the next start."""
        settings = event.settings
        if "max_active_pages" in event.changed:
            self._budget.resize(settings.max_active_pages)
        if "hibernate_after_s" in event.changed:
            self._budget.hibernate_after_s = settings.hibernate_after_s
        if "max_parallel_polls" in event.changed:
            self._polls.resize(settings.max_parallel_polls)
        if event.changed & {"poll_interval_min_s", "poll_interval_max_s"}:
            for monitor in self._monitors.values():
                monitor.retime()
        if event.changed & {"max_active_pages", "max_parallel_polls"}:
            self._bus.publish(PoolStatusChanged({"limits": True}))

    def _accounts_changed(self, event: AccountsChanged | AccountStatusChanged) -> None:
        if isinstance(event, AccountStatusChanged) and event.monitor_state is not None:
            return  # our own monitor-state announcements
        self._dirty.set()

    async def _memory_sampler(self) -> None:
        while True:
            if self._host.running:
                try:
                    await self.sample_memory()
                except Exception:
                    log.exception("measuring the browser's memory failed")
            else:
                self._memory = st.MemorySample()
            await asyncio.sleep(MEMORY_SAMPLE_S)

    def _browser_lost(self) -> None:
        for monitor in list(self._monitors.values()):
            monitor.browser_lost()
        self._bus.publish(PoolStatusChanged({"browser": "disconnected"}))

    def _monitor_changed(self, monitor: AccountMonitor, previous: str) -> None:
        """A monitor changed state: a notable change is announced on the account; routine
        rotation is batched into one PoolStatusChanged every half second."""
        if monitor.state not in ROUTINE_STATES or previous not in ROUTINE_STATES:
            self._bus.publish(account_status_event(monitor))
        if not self._status_pending:
            asyncio.get_running_loop().call_later(STATUS_COALESCE_S, self._publish_status)
        self._status_pending[monitor.id] = monitor.state

    def _publish_status(self) -> None:
        states, self._status_pending = self._status_pending, {}
        self._bus.publish(PoolStatusChanged({"accounts": states}))
