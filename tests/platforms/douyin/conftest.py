"""Fixtures for the Douyin adapter tests: Chromium found by the app's own browser discovery
(one browser per module), a context per test with the fake creator centre routed in at the
real URLs, and an adapter that saves its page snapshots under the test's directory."""
from __future__ import annotations

import pytest
import pytest_asyncio

from app.engine.platform import AccountInfo
from app.engine.pool.browser import BrowserHost
from app.platforms.douyin.adapter import DouyinPlatform

from .fixtures_io import CREATOR
from .site import FakeDouyin

ACCOUNT = AccountInfo(id="acc-douyin", platform="douyin", display_name=CREATOR)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser():
    host = BrowserHost()
    yield await host.browser()
    await host.stop()


@pytest.fixture
def site():
    return FakeDouyin()


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser, site):
    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    await site.install(context)
    yield context
    await context.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(context):
    return await context.new_page()


@pytest_asyncio.fixture(loop_scope="module")
async def logged_in_page(context, page):
    await context.add_cookies([{"name": "sessionid", "value": "fake-session", "domain": ".douyin.com",
                                "path": "/", "secure": True, "expires": 2_000_000_000}])
    return page


@pytest.fixture
def platform(tmp_path):
    adapter = DouyinPlatform()
    adapter.data_dir = tmp_path
    adapter.pace_s = (0.0, 0.0)  # tests do not wait like a person
    adapter.login_timeout_s = 30
    return adapter


@pytest.fixture
def account():
    return ACCOUNT
