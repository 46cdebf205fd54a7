"""Every test that drives real Chromium is marked `@pytest.mark.browser`, so `-m "not browser"`
runs exactly the tests that need no browser (a machine without one, a quick loop).

The check is made where Chromium starts: every launch in the test process goes through
Playwright's `BrowserType.launch` (the pool's BrowserHost, the adapter tests' fixtures). A
launch during a test without the mark, or during the set-up of a fixture it uses, fails that
test with a message naming the mark it lacks (the launch itself goes ahead: raising there
would be swallowed by the engine task that launched, and show as an unrelated timeout). Engines run as separate processes (tests/e2e) are not seen
here; those modules are marked as a whole.
"""
from __future__ import annotations

import functools

import pytest
from playwright.async_api import BrowserType

_current: list[pytest.Item] = []
_unmarked: set[str] = set()  # node ids of unmarked tests that started Chromium


def pytest_configure(config: pytest.Config) -> None:
    original = BrowserType.launch
    if getattr(original, "_checks_browser_mark", False):
        return

    @functools.wraps(original)
    async def launch(self, *args, **kwargs):
        if _current and _current[-1].get_closest_marker("browser") is None:
            _unmarked.add(_current[-1].nodeid)
        return await original(self, *args, **kwargs)

    launch._checks_browser_mark = True
    BrowserType.launch = launch


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current.append(item)
    try:
        return (yield)
    finally:
        _current.pop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    # Told in the test's own result (a launch in a fixture's set-up counts), or at teardown
    # when the test itself did not run.
    if item.nodeid in _unmarked and report.when in ("call", "teardown"):
        _unmarked.discard(item.nodeid)
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} starts Chromium but is not marked @pytest.mark.browser"
    return report
