"""The Engine: builds every engine service from the settings and owns their lifecycle.

The desktop console, `hiscrm serve` and the tests all create one Engine and call its
services; nothing outside the engine opens the database or a browser itself.

    engine = Engine.create(paths, settings)
    await engine.start()        # migrations, platforms, pool, outbox dispatcher
    ...                          # engine.views / engine.accounts / engine.outbox / engine.logins
    await engine.stop()
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from .bus import EventBus
from .paths import AppPaths
from .platform import PlatformRegistry, PlatformRuntime
from .settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Engine:
    paths: AppPaths
    settings: Settings
    bus: EventBus
    platforms: PlatformRegistry
    db: "Database"
    store: "DataStore"
    views: "ImViews"
    accounts: "AccountService"
    pool: "WorkerPool"
    logins: "LoginManager"
    outbox: "Outbox"

    @classmethod
    def create(cls, paths: AppPaths, settings: Settings, *, start_browsers: bool = True) -> "Engine":
        from .accounts import AccountService
        from .im.views import ImViews
        from .login import LoginManager
        from .outbox import Outbox
        from .pool import WorkerPool
        from .secrets import SecretBox
        from .store.datastore import DataStore
        from .store.db import Database

        paths.ensure()
        bus = EventBus()
        platforms = PlatformRegistry()
        platforms.load_entry_points()
        db = Database(settings.database_url or paths.default_database_url)
        store = DataStore(db, bus)
        views = ImViews(db, bus)
        secrets = SecretBox.from_keyring(paths)
        accounts = AccountService(db, bus, secrets)
        pool = WorkerPool(settings, paths, platforms, accounts, store, bus, enabled=start_browsers)
        logins = LoginManager(pool, accounts, bus)
        outbox = Outbox(db, bus, pool)
        return cls(paths, settings, bus, platforms, db, store, views, accounts, pool, logins, outbox)

    async def start(self) -> None:
        """Bring the engine up: database first (so the UI can show data at once), then
        platforms, the browser pool and the outbox dispatcher."""
        from .store.backup import take_daily_backup

        await self.db.upgrade()
        await take_daily_backup(self.db)  # once a day, kept a week (SQLite)
        runtime = PlatformRuntime(data_dir=self.paths.data_dir, settings=self.settings)
        for platform in self.platforms.all():
            await platform.startup(runtime)
        await self.pool.start()
        await self.outbox.start()
        log.info("engine started: %s", self.db.redacted(self.db.url))

    async def stop(self) -> None:
        await self.logins.stop()  # a login in progress ends "cancelled", not half-way
        await self.outbox.stop()
        await self.pool.stop()
        for platform in self.platforms.all():
            await platform.shutdown()
        await self.db.close()
        log.info("engine stopped")
