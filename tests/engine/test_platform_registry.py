"""Platforms are found through entry points: built-ins and third-party packages alike, and a
broken plugin is skipped instead of stopping the app."""
import logging
import sys
import textwrap

import pytest

from app.engine.platform import PlatformRegistry

PLUGIN = textwrap.dedent(
    """
    from app.engine.platform import Platform

    class Other(Platform):
        name = "other"
        label = "Other"
        def home_url(self): return "http://127.0.0.1/"
        async def login(self, page, io): raise NotImplementedError
        async def check_session(self, page): return "expired"
        async def watch(self, page, account, io): pass
        async def poll(self, page, account, io): pass
        async def reply(self, page, account, target, text): raise NotImplementedError
        async def find_reply(self, page, account, target, text, since): return None

    PLATFORM = Other()
    """
)


@pytest.fixture
def third_party_plugins(tmp_path, monkeypatch):
    """Install two plugin distributions on sys.path: one good, one that fails to import."""
    (tmp_path / "other_platform.py").write_text(PLUGIN)
    (tmp_path / "broken_platform.py").write_text("raise ImportError('missing dependency')\n")
    for dist, module in (("other_platform", "other"), ("broken_platform", "broken")):
        info = tmp_path / f"{dist}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[hiscrm.platforms]\n{module} = {dist}:PLATFORM\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in ("other_platform", "broken_platform"):
        sys.modules.pop(name, None)


def test_builtin_and_third_party_platforms_are_registered(third_party_plugins, caplog):
    registry = PlatformRegistry()
    with caplog.at_level(logging.ERROR):
        registry.load_entry_points()
    assert {"sandbox", "other"} <= set(registry.names())
    assert "broken" not in registry.names()
    assert "broken" in caplog.text  # the operator can find out why it is missing


def test_unknown_platform_error_names_the_known_ones():
    registry = PlatformRegistry()
    registry.load_entry_points()
    with pytest.raises(KeyError, match="sandbox"):
        registry.get("nope")


def test_builtin_platforms_load_without_distribution_metadata(monkeypatch):
    """A frozen build or an uninstalled checkout has no entry points: the built-ins still load."""
    import app.engine.platform as platform_module

    monkeypatch.setattr(platform_module, "entry_points", lambda group: [])
    registry = PlatformRegistry()
    registry.load_entry_points()
    assert "sandbox" in registry.names()
