"""Fixtures for the end-to-end tests: the sandbox site (run by the test, so it survives the
engine) with a switch that slows reply answers, and its control API."""
from __future__ import annotations

import pytest

from app.platforms.sandbox.control_client import SandboxControl
from app.platforms.sandbox.site import SandboxSite

from .harness import SlowReplies


@pytest.fixture
def slow_replies():
    return SlowReplies()


@pytest.fixture
async def site(slow_replies):
    site = SandboxSite(port=0)
    site.app.middlewares.append(slow_replies.middleware)
    await site.start()
    yield site
    slow_replies.release()
    await site.stop()


@pytest.fixture
async def control(site):
    async with SandboxControl(site.base_url) as control:
        yield control
