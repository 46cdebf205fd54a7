"""The composition root: the phases every mode starts the engine in."""
from __future__ import annotations

import os

import pytest

from app.bootstrap import StartupError, claim_home, open_engine, start_engine
from app.engine.home_lock import HomeLock
from app.engine.paths import app_paths
from app.engine.settings import Settings
from app.engine.store.db import Database


def quiet_settings() -> Settings:
    settings = Settings(first_run_done=True)
    settings.platforms["sandbox"] = {"enabled": False}
    return settings


async def test_the_database_is_migrated_once_and_data_comes_before_the_browsers(tmp_path, monkeypatch):
    """The console used to migrate twice (once itself, once in Engine.start)."""
    upgrades = []
    original = Database.upgrade

    async def counted(self):
        upgrades.append(self.url)
        await original(self)

    monkeypatch.setattr(Database, "upgrade", counted)
    engine = await open_engine(app_paths(tmp_path), quiet_settings(), start_browsers=False)
    try:
        assert len(upgrades) == 1
        assert await engine.views.channels() == []  # data can be shown: phase 1 is enough
        ready = []
        await start_engine(engine, started=lambda: ready.append(True))
        assert ready == [True] and len(upgrades) == 1
    finally:
        await engine.stop()


async def test_the_process_lock_is_the_engines_and_a_second_engine_is_refused(tmp_path):
    paths = app_paths(tmp_path).ensure()
    lock = claim_home(paths)
    engine = await open_engine(paths, quiet_settings(), start_browsers=False)
    try:
        assert engine.home_lock is lock and lock.held
        # Another engine with a lock of its own (as in another process) is refused.
        with pytest.raises(StartupError, match=f"already running.*process {os.getpid()}"):
            await open_engine(paths, quiet_settings(), start_browsers=False, home_lock=HomeLock(paths.data_dir))
    finally:
        await engine.stop()
    assert not lock.held
