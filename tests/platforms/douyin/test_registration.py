"""Douyin is a built-in platform: listed in pyproject's entry points and in the registry's
own list (for builds without distribution metadata), the two in step."""
from __future__ import annotations

import tomllib
from pathlib import Path

import app.engine.platform as platform_module
from app.engine.platform import BUILTIN_PLATFORMS, PlatformRegistry
from app.platforms.douyin import DouyinPlatform

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def test_douyin_is_listed_in_the_entry_points_and_the_builtins():
    entry_points = tomllib.loads(PYPROJECT.read_text("utf-8"))["project"]["entry-points"]["hiscrm.platforms"]
    assert entry_points["douyin"] == BUILTIN_PLATFORMS["douyin"]


def test_douyin_loads_without_distribution_metadata(monkeypatch):
    monkeypatch.setattr(platform_module, "entry_points", lambda group: [])
    registry = PlatformRegistry()
    registry.load_entry_points()
    douyin = registry.get("douyin")
    assert isinstance(douyin, DouyinPlatform) and douyin.label == "抖音"
    assert {"comments", "direct_messages", "qr_login"} <= douyin.capabilities
