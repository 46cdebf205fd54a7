"""Fixtures for the end-to-end tests: the sandbox site (run by the test, so it survives the
engine) with a switch that slows reply answers, and its control API."""
from __future__ import annotations

import pytest

from app.platforms.sandbox.control_client import SandboxControl

from .harness import SlowReplies, sandbox_site


@pytest.fixture
def slow_replies():
    return SlowReplies()


@pytest.fixture
async def site(slow_replies):
    async with sandbox_site(slow_replies) as site:
        yield site


@pytest.fixture
async def control(site):
    async with SandboxControl(site.base_url) as control:
        yield control
