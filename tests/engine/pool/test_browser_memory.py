"""What the pool's Chromium costs per awake account: nothing but the page's own renderer."""
import pytest
from playwright.async_api import async_playwright

from app.engine.pool import monitor
from app.engine.pool.browser import BrowserHost

from tests.engine.pool.harness import chromium_processes, make_rig

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def disabled_features(proc) -> set[str]:
    """The features a Chromium process runs without: its last --disable-features switch, the
    only one Chromium reads."""
    switches = [a.split("=", 1)[1] for a in proc.cmdline() if a.startswith("--disable-features=")]
    return set(switches[-1].split(",")) if switches else set()


async def test_an_open_context_costs_one_renderer_after_recycles(tmp_path, monkeypatch):
    """Each context is a headless window, and Chromium gave every window a renderer for its
    address bar's popups (the top-chrome WebUI): 26-37 MB of private memory per awake
    account for nothing shown."""
    async with make_rig(tmp_path) as rig:
        account_id = await rig.login("creator-renderers")
        monkeypatch.setattr(monitor, "CONTEXT_RECYCLE_S", 0.5)  # every cycle reopens the context
        await rig.until(lambda: rig.stat(account_id, "cycles", 0) >= 4, timeout=40, what="recycled contexts")
        monkeypatch.setattr(monitor, "CONTEXT_RECYCLE_S", 3600.0)
        cycles = rig.stat(account_id, "cycles")
        await rig.until(lambda: rig.stat(account_id, "cycles", 0) >= cycles + 2 and rig.state_of(account_id) == "active",
                        timeout=30, what="a context open for two cycles")
        renderers = chromium_processes("renderer", exclude=rig.stale_pids)
        window_ui = [p for p in renderers if "--top-chrome-webui" in p.cmdline()]
        assert window_ui == []
        # The page's renderer, and at most the spare one Chromium keeps for the next page: none
        # left behind by the closed contexts.
        assert 1 <= len(renderers) <= rig.pool.status().open_pages + 1


async def test_the_browser_keeps_playwright_s_disabled_features(tmp_path):
    """Chromium reads only the last --disable-features: the pool's list, which comes after
    Playwright's, has to carry every feature the installed Playwright switches off."""
    stale = {p.pid for p in chromium_processes(None)}
    host = BrowserHost()
    try:
        await host.browser()
        [ours] = chromium_processes(None, exclude=stale)
        pool_disabled = disabled_features(ours)
    finally:
        await host.stop()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=_system_chromium(playwright))
        try:
            [plain] = chromium_processes(None, exclude=stale)
            playwright_disabled = disabled_features(plain)
        finally:
            await browser.close()
    assert playwright_disabled, "Playwright passed no --disable-features"
    assert playwright_disabled <= pool_disabled, playwright_disabled - pool_disabled
    assert {"WebUIOmniboxPopup", "WebUIOmniboxAimPopup"} <= pool_disabled


def _system_chromium(playwright) -> str | None:
    """The Chromium BrowserHost picks when there is no setting (Playwright's download first)."""
    host = BrowserHost()
    host._playwright = playwright  # noqa: SLF001 - its discovery, not a copy of it
    return host._executable()  # noqa: SLF001
