"""Fixtures for the sandbox platform tests: a fresh sandbox site per test, its control client,
an adapter pointed at it, and real Chromium (one browser per test module, one context per
test, found by the app's own browser discovery). The engine stand-ins are in harness.py."""
from __future__ import annotations

import pytest
import pytest_asyncio

from app.engine.pool.browser import BrowserHost
from app.platforms.sandbox.adapter import SandboxPlatform
from app.platforms.sandbox.control_client import SandboxControl
from app.platforms.sandbox.site import Faults, SandboxSite

from .harness import ACCOUNT


@pytest_asyncio.fixture(loop_scope="module")
async def site():
    sandbox = SandboxSite(faults=Faults())
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def control(site):
    async with SandboxControl(site.base_url) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="module")
async def platform(site):
    adapter = SandboxPlatform()
    adapter.use_site(site.base_url)
    yield adapter
    await adapter.shutdown()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser():
    host = BrowserHost()  # the app's own browser discovery and launch arguments
    yield await host.browser()
    await host.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser):
    context = await browser.new_context(locale="zh-CN")
    context.set_default_timeout(20_000)
    yield await context.new_page()
    await context.close()


@pytest.fixture
def account():
    return ACCOUNT
