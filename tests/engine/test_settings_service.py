"""The settings service: a change is validated, saved, applied to the running engine and
announced; the pool's limits follow at once; platform blocks are validated by their platform."""
import asyncio
import json

import pytest
from pydantic import ValidationError

from app.engine.engine import Engine
from app.engine.events import PoolStatusChanged, SettingsChanged
from app.engine.paths import app_paths
from app.engine.secrets import SecretBox
from app.engine.settings import Settings, SettingsError, load_settings
from app.platforms.sandbox import SandboxSettings


@pytest.fixture
async def engine(tmp_path):
    settings = Settings(first_run_done=True, max_active_pages=4, max_parallel_polls=2)
    settings.platforms["sandbox"] = {"enabled": False}
    engine = Engine.create(app_paths(tmp_path / "home"), settings, start_browsers=False,
                           secrets=SecretBox.generate())
    await engine.start()
    yield engine
    await engine.stop()


async def next_event(engine, kind):
    seen = asyncio.get_running_loop().create_future()
    unsubscribe = engine.bus.subscribe(kind, lambda e: seen.done() or seen.set_result(e))
    try:
        async with asyncio.timeout(5):
            return await seen
    finally:
        unsubscribe()


async def test_a_change_is_saved_applied_and_announced(engine):
    announced = asyncio.ensure_future(next_event(engine, SettingsChanged))
    await asyncio.sleep(0)
    engine.settings_service.update(poll_interval_min_s=40, poll_interval_max_s=90, notifications=False)
    event = await announced
    assert event.changed == {"poll_interval_min_s", "poll_interval_max_s", "notifications"}
    assert engine.settings.poll_interval_min_s == 40 and not engine.settings.notifications  # live
    saved = load_settings(engine.paths.settings_file)
    assert (saved.poll_interval_min_s, saved.poll_interval_max_s, saved.notifications) == (40, 90, False)


async def test_a_wrong_value_changes_nothing(engine):
    with pytest.raises(ValidationError):
        engine.settings_service.update(poll_interval_min_s=60, poll_interval_max_s=20)
    with pytest.raises(SettingsError, match="platforms.sandbox.port"):
        engine.settings_service.update_platform("sandbox", port=70000)
    assert not engine.paths.settings_file.exists()
    assert engine.settings.poll_interval_min_s == 15 and engine.settings.platforms["sandbox"] == {"enabled": False}


async def test_open_pages_and_poll_slots_follow_at_once(engine):
    """"Open pages at most" used to be read once, when the pool was built."""
    assert engine.pool.status().max_active_pages == 4
    announced = asyncio.ensure_future(next_event(engine, PoolStatusChanged))
    await asyncio.sleep(0)
    engine.settings_service.update(max_active_pages=12, max_parallel_polls=3)
    await announced  # the Workers view hears of it
    status = engine.pool.status()
    assert (status.max_active_pages, status.max_parallel_polls) == (12, 3)


async def test_platform_settings_are_validated_with_the_platform_model(engine):
    engine.settings_service.update_platform("sandbox", demo_traffic=False)
    config = engine.settings_service.platform_config("sandbox")
    assert isinstance(config, SandboxSettings) and not config.demo_traffic and not config.enabled
    assert json.loads(engine.paths.settings_file.read_text())["platforms"]["sandbox"] == {
        "enabled": False, "demo_traffic": False}


def test_a_wrong_platform_block_stops_the_start_with_its_reason(tmp_path):
    settings = Settings()
    settings.platforms["sandbox"] = {"port": "eighty"}
    with pytest.raises(SettingsError, match="platforms.sandbox.port"):
        Engine.create(app_paths(tmp_path), settings, start_browsers=False, secrets=SecretBox.generate())
