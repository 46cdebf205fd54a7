"""Platforms are found through entry points: built-ins and third-party packages alike, and a
broken plugin is skipped instead of stopping the app. Every registry (every engine) gets its
own platform instances."""
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

    SHARED = Other()  # what a plugin must not export: one instance for every engine
    """
)


@pytest.fixture
def third_party_plugins(tmp_path, monkeypatch):
    """Install two plugin distributions on sys.path: one good, one that fails to import."""
    (tmp_path / "other_platform.py").write_text(PLUGIN)
    (tmp_path / "broken_platform.py").write_text("raise ImportError('missing dependency')\n")
    plugins = (("other_platform", "other", "Other"), ("broken_platform", "broken", "Broken"),
               ("shared_platform", "other", "SHARED"))
    (tmp_path / "shared_platform.py").write_text("from other_platform import SHARED\n")
    for dist, name, attribute in plugins:
        info = tmp_path / f"{dist}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[hiscrm.platforms]\n{name} = {dist}:{attribute}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in ("other_platform", "broken_platform", "shared_platform"):
        sys.modules.pop(name, None)


def test_builtin_and_third_party_platforms_are_registered(third_party_plugins, caplog):
    registry = PlatformRegistry()
    with caplog.at_level(logging.ERROR):
        registry.load_entry_points()
    assert {"sandbox", "other"} <= set(registry.names())
    assert "broken" not in registry.names()
    assert "broken" in caplog.text  # the operator can find out why it is missing
    assert "names a platform instance" in caplog.text  # the shared one is refused, with the reason
    assert type(registry.get("other")).__name__ == "Other"


def test_each_registry_has_its_own_platform_instances(third_party_plugins):
    """Two engines in one process (tests, tools) never share a platform's state (its site,
    its pages)."""
    first, second = PlatformRegistry.from_entry_points(), PlatformRegistry.from_entry_points()
    for name in ("sandbox", "other"):
        assert first.get(name) is not second.get(name)
    first.get("sandbox").use_site("http://127.0.0.1:1")
    assert second.get("sandbox").control is None


def test_a_stale_entry_point_of_a_builtin_platform_does_not_hide_it(monkeypatch):
    """An editable install keeps the entry points of the day it was installed: the built-in
    platforms are loaded from the code's own list whatever those say."""
    import app.engine.platform as platform_module
    from importlib.metadata import EntryPoint

    stale = EntryPoint(name="sandbox", value="app.platforms.sandbox:PLATFORM", group="hiscrm.platforms")
    monkeypatch.setattr(platform_module, "entry_points", lambda group: [stale])
    assert "sandbox" in PlatformRegistry.from_entry_points().names()


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
