"""Douyin's own settings block (limits and pace) and its text rule."""
from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from app.engine.platform import PlatformRuntime, PlatformSettings
from app.platforms.douyin import DouyinPlatform
from app.platforms.douyin.settings import DouyinSettings


def test_the_settings_block_sets_the_crawl_limits_and_pace(tmp_path):
    platform = DouyinPlatform()
    assert platform.settings_model is DouyinSettings
    config = PlatformSettings(max_works=50, max_works_per_poll=3, max_scrolls=5, pause_min_s=1, pause_max_s=2)
    asyncio.run(platform.startup(PlatformRuntime(data_dir=tmp_path, settings=None, config=config)))
    assert (platform.max_works, platform.max_works_per_poll, platform.max_scrolls) == (50, 3, 5)
    assert platform.pace_s == (1.0, 2.0)


def test_defaults_without_a_block():
    platform = DouyinPlatform()
    assert (platform.max_works, platform.max_works_per_poll, platform.max_scrolls) == (300, 20, 30)
    assert platform.pace_s == (2.0, 6.0)


@pytest.mark.parametrize("block, wrong", [
    ({"pause_min_s": 5, "pause_max_s": 1}, "pause_max_s"),
    ({"max_works": 0}, "max_works"),
    ({"max_scrolls": "many"}, "max_scrolls"),
])
def test_a_wrong_value_is_reported_by_name(block, wrong):
    with pytest.raises(ValidationError, match=wrong):
        DouyinSettings.model_validate(block)


@pytest.mark.parametrize("sent, stored", [
    ("好的\n\n谢谢", "好的 谢谢"),  # Douyin keeps one line
    ("谢谢\u200b喜欢", "谢谢喜欢"),  # a zero-width mark the editor left
    ("  谢谢喜欢！ ", "谢谢喜欢！"),
    ("好的😊", "好的[微笑]"),  # an emoji typed, Douyin's code stored (the engine's rule)
])
def test_douyins_copy_of_a_reply_is_recognised(sent, stored):
    assert DouyinPlatform().same_text(sent, stored)


def test_emoji_codes_stay_as_they_are_for_matching_a_comment_on_screen():
    platform = DouyinPlatform()
    assert platform.normalize_text(" 很不错[比心]\r\n真的 ") == "很不错[比心] 真的"
    assert platform.normalize_text("很不错[比心]") != platform.normalize_text("很不错[赞]")
    assert not platform.same_text("好的", "好的呀")
