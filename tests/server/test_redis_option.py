"""`hiscrm serve --server --redis URL` and `server.redis_url`: the server the switch starts
shares its clients through that Redis; a URL that is not redis:// is refused in one line."""
from __future__ import annotations

import pytest

from app.cli import _build_parser, _server_flags
from app.engine.settings import ServerSettings, Settings, SettingsError
from app.server.switch import ServerSwitch

from .conftest import quiet_engine


def test_the_redis_flag_sets_this_runs_server_setting():
    settings = Settings()
    _server_flags(_build_parser().parse_args(["serve", "--server", "--redis", "redis://10.0.0.5:6379/0"]), settings)
    assert settings.server.enabled and settings.server.redis_url == "redis://10.0.0.5:6379/0"
    with pytest.raises(SettingsError, match="redis_url"):
        _server_flags(_build_parser().parse_args(["serve", "--redis", "http://10.0.0.5"]), Settings())


async def test_the_switch_gives_the_server_the_redis_url_of_the_settings(tmp_path):
    engine = quiet_engine(tmp_path / "home", server=ServerSettings(enabled=True, port=0))
    await engine.open()
    switch = ServerSwitch(engine)
    try:
        assert switch._wanted().redis_url == ""
        engine.settings.server = ServerSettings(enabled=True, port=0, redis_url="redis://127.0.0.1:1/0")
        assert switch._wanted().redis_url == "redis://127.0.0.1:1/0"
    finally:
        await switch.stop()
        await engine.stop()
