"""The Engine: builds every engine service from the settings and owns their lifecycle.

The desktop console, `hiscrm serve` and the tests all create one Engine and call its
services; nothing outside the engine opens the database or a browser itself. The process
around it (the home lock, the modes, the first run) is composed in app/bootstrap.py.

    engine = Engine.create(paths, settings)    # services built, nothing started
    await engine.open()         # phase 1: the home's lock, the database migrated: data can be shown
    await engine.start()        # phase 2: platforms, pool, outbox dispatcher (opens first if needed)
    ...                          # engine.views / engine.accounts / engine.outbox / engine.logins
    await engine.stop()

Tests and tools inject what they replace (a platform, a throwaway secret key, shorter
timeouts) through `Engine.create`'s keyword arguments, so they get the same object graph
as the console, not one rebuilt by hand.

Replies and logins reach the browsers through `holders` (app/engine/holders.py), which
routes each call to the worker holding the account: the local `pool` is the first holder, a
remote worker registers as another. Front ends ask the engine (`wake_account`,
`restart_account`, `pool_status`), never a pool directly.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Protocol

from .bus import EventBus
from .events import ServerStatusChanged
from .home_lock import HomeLock
from .paths import AppPaths
from .platform import BatchSink, Platform, PlatformRegistry, PlatformRuntime, SelfCheck, TransientError
from .settings import Settings

if TYPE_CHECKING:  # imported in create(): the console builds the engine off its UI thread
    from .accounts import AccountService
    from .holders import AccountHolders
    from .im.views import ImViews
    from .login import LoginManager
    from .outbox import Outbox
    from .pool import PoolStatus, WorkerPool
    from .secrets import SecretBox
    from .server_token import ServerToken
    from .settings_service import SettingsService
    from .store.datastore import DataStore
    from .store.db import Database
    from .workers import WorkerDirectory, WorkerInfo

log = logging.getLogger(__name__)
SHARED_QUEUE_POLL_S = 2.0  # how soon a reply queued through another process on the same database leaves


class FrontEnd(Protocol):
    async def stop(self) -> None: ...


@dataclass
class Engine:
    paths: AppPaths
    settings: Settings  # the live settings every service reads; change them through settings_service
    bus: EventBus
    platforms: PlatformRegistry
    db: Database
    store: DataStore
    views: ImViews
    accounts: AccountService
    pool: WorkerPool  # the local pool: the first of the holders
    holders: AccountHolders  # which worker holds which account; replies and logins go through it
    logins: LoginManager
    outbox: Outbox
    settings_service: SettingsService
    home_lock: HomeLock  # held from open() to stop(): one engine per home, across processes
    server_token: ServerToken  # what remote clients and workers present (app/server)
    remote_workers: WorkerDirectory  # the remote workers seen (the server's worker link reports them)
    # The embedded server's last ServerStatusChanged (the console's settings show it).
    server_status: ServerStatusChanged = field(default_factory=lambda: ServerStatusChanged(running=False),
                                               init=False)
    _opened: bool = field(default=False, init=False, repr=False)
    _front_ends: list[FrontEnd] = field(default_factory=list, init=False, repr=False)

    @classmethod
    def create(
        cls,
        paths: AppPaths,
        settings: Settings,
        *,
        start_browsers: bool = True,
        platforms: PlatformRegistry | Iterable[Platform] | None = None,
        secrets: SecretBox | None = None,
        call_timeout_s: float | None = None,
        login_timeout_s: float | None = None,
        home_lock: HomeLock | None = None,
        forward_batches: BatchSink | None = None,
    ) -> Engine:
        """Build the services (nothing runs yet). The keyword arguments replace a part:
        `platforms` (a registry, or platform instances; default: a fresh instance of every
        installed platform), `secrets` (default: the key from the OS keyring or key file),
        the pool's platform-call timeout, the login timeout, the home's lock (the one the
        process took at start-up, app/bootstrap.py; default: a new one on the data folder),
        and where a remote worker also sends every batch it stores (`forward_batches`: its
        journal to the master, app/worker/journal.py; DataStore.ingest awaits it first)."""
        from .accounts import AccountService
        from .holders import AccountHolders
        from .im.views import ImViews
        from .login import LoginManager
        from .outbox import Outbox
        from .pool import WorkerPool
        from .secrets import SecretBox
        from .server_token import ServerToken
        from .settings_service import SettingsService
        from .store.datastore import DataStore
        from .store.db import Database
        from .workers import WorkerDirectory

        paths.ensure()
        bus = EventBus()
        if platforms is None:
            registry = PlatformRegistry.from_entry_points()
        elif isinstance(platforms, PlatformRegistry):
            registry = platforms
        else:
            registry = PlatformRegistry()
            for platform in platforms:
                registry.register(platform)
        settings_service = SettingsService(settings, paths.settings_file, bus, registry)
        db = Database(settings.database_url or paths.default_database_url)
        store = DataStore(db, bus, forward=forward_batches)
        views = ImViews(db, bus)
        box = secrets or SecretBox.from_keyring(paths)
        accounts = AccountService(db, bus, box, data_dir=paths.data_dir)
        pool_options = {} if call_timeout_s is None else {"call_timeout_s": call_timeout_s}
        pool = WorkerPool(settings, paths, registry, accounts, store, bus, enabled=start_browsers,
                          platform_config=settings_service.platform_config, **pool_options)
        login_options = {} if login_timeout_s is None else {"timeout_s": login_timeout_s}
        holders = AccountHolders(accounts, pool)
        logins = LoginManager(holders, accounts, bus, data_dir=paths.data_dir, **login_options)
        # A PostgreSQL database may be shared with other `hiscrm serve` processes: their
        # queued replies are read every few seconds (see Outbox).
        outbox = Outbox(db, bus, holders, poll_s=SHARED_QUEUE_POLL_S if db.dialect == "postgresql" else None)
        holders.on_change(outbox.wake)
        return cls(paths, settings, bus, registry, db, store, views, accounts, pool, holders, logins, outbox,
                   settings_service, home_lock or HomeLock(paths.data_dir),
                   ServerToken(db, box, settings.server.token, bus), WorkerDirectory(bus, db))

    def __post_init__(self) -> None:
        self.bus.subscribe(ServerStatusChanged, self._server_status_changed)

    def _server_status_changed(self, event: ServerStatusChanged) -> None:
        self.server_status = event

    async def open(self) -> None:
        """Phase 1, once: take the home's lock (HomeInUse when another process runs on this
        home: nothing here has written anything yet), create or migrate the database; the UI
        can show data from here on."""
        if not self._opened:
            self.home_lock.acquire()
            await self.db.upgrade()
            self._opened = True

    async def start(self) -> None:
        """Phase 2 (after `open`, which it does first if nobody did): the platforms, the
        browser pool and the outbox dispatcher."""
        from .store.backup import take_daily_backup

        await self.open()
        await take_daily_backup(self.db)  # once a day, kept a week (SQLite)
        for platform in self.platforms.all():
            config = self.settings_service.platform_config(platform.name)
            await platform.startup(PlatformRuntime(data_dir=self.paths.data_dir, settings=self.settings, config=config))
        await self.pool.start()
        await self.outbox.start()
        log.info("engine started: %s", self.db.redacted(self.db.url))

    # ---- What the front ends ask of the workers (they never reach into a pool)

    async def wake_account(self, account_id: str) -> None:
        """The operator opened this account: its holder polls it now."""
        await self.holders.wake(account_id)

    async def self_check(self, account_id: str) -> SelfCheck:
        """Check the account's platform pages against what its adapter expects (the account's
        menu: "Check the platform's pages"). It runs where the page is: this console's pool."""
        holder = await self.holders.holder_of(account_id)
        if holder is not self.pool:
            raise TransientError("this account's browser runs on another machine: check it there "
                                 "(hiscrm douyin check)")
        return await self.pool.self_check(account_id)

    async def restart_account(self, account_id: str) -> None:
        """Reopen the account's page now and forget its backoff (on whichever worker holds it)."""
        await self.holders.restart_account(account_id)

    def pool_status(self) -> PoolStatus:
        """What the local browser pool is doing (the Workers and Accounts views)."""
        return self.pool.status()

    def workers(self) -> list[WorkerInfo]:
        """Every worker: the local pool first, then the remote workers seen in this run
        (the Workers view, `monitor:request_workers`, the REST API)."""
        from .workers import local_worker

        return [local_worker(self.pool.status()), *self.remote_workers.list()]

    def attach(self, front_end: FrontEnd) -> None:
        """A front end the composition root added (the embedded server): stopped first, so
        no remote client calls a service that is shutting down."""
        self._front_ends.append(front_end)

    @property
    def front_ends(self) -> tuple[FrontEnd, ...]:
        return tuple(self._front_ends)

    async def stop(self) -> None:
        front_ends, self._front_ends = self._front_ends, []
        for front_end in reversed(front_ends):
            try:
                await front_end.stop()
            except Exception:
                log.exception("could not stop %r", front_end)
        await self.logins.stop()  # a login in progress ends "cancelled", not half-way
        await self.outbox.stop()
        await self.pool.stop()
        for platform in self.platforms.all():
            await platform.shutdown()
        await self.db.close()
        self.home_lock.release()
        log.info("engine stopped")
