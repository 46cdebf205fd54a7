"""The pool's Chromium: one browser process shared by every account's context.

Launched lazily (the first account that needs a page), relaunched when it dies: whoever asks
for the browser after a disconnect gets a new one, and the pool is told so it can restart the
accounts whose contexts went down with it.

Which Chromium: the one named in the settings, else Playwright's own download when it is
installed, else the system's (Debian's /usr/bin/chromium, Chrome). The sandbox is switched off
only when running as root, where Chromium refuses to start with it.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Callable

from playwright.async_api import Browser, Playwright, async_playwright

from .priority import lower_browser_priority

log = logging.getLogger(__name__)

SYSTEM_BROWSERS = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "chrome")
# Every context is a headless window of its own, and Chromium gives each window the WebUI of
# its address bar's popups (chrome://omnibox-popup.top-chrome/ and its AI-mode page), loaded
# in a renderer of their own: 26-37 MB of private memory per open context (a quarter of an
# awake account's Chromium memory in bench/soak.py) for popups a headless page never shows.
UNSHOWN_WINDOW_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup")
# Chromium keeps only the last --disable-features switch, and ours comes after Playwright's:
# it must repeat Playwright's list (its chromiumSwitches, 1.65) or it switches them back on.
# tests/engine/pool/test_browser_memory.py checks it against the installed Playwright.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding",
    "ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect", "TcpPortRandomizationWin",
    "OptimizationHints", "NetworkTimeServiceQuerying", "AimEnabled", "PreconnectToSearch",
    "msForceBrowserSignIn", "msEdgeUpdateLaunchServicesPreferredVersion",
)
BASE_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--no-first-run",
    "--disable-features=" + ",".join(PLAYWRIGHT_DISABLED_FEATURES + UNSHOWN_WINDOW_FEATURES),
]
LAUNCH_TIMEOUT_MS = 30_000


class BrowserUnavailable(RuntimeError):
    """No Chromium could be started; the message says what was tried."""


def has_display() -> bool:
    """Whether a headed (visible) browser window can be shown."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class BrowserHost:
    def __init__(self, executable: str = "", *, headless: bool = True,
                 on_disconnect: Callable[[], None] | None = None) -> None:
        self._executable_setting = executable
        self._headless = headless
        self._on_disconnect = on_disconnect
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._lock = asyncio.Lock()
        self.launches = 0  # how many times the shared browser was (re)started

    @property
    def version(self) -> str:
        return self._browser.version if self._browser else ""

    @property
    def running(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def browser(self) -> Browser:
        """The shared browser, launched or relaunched as needed."""
        async with self._lock:
            if not self.running:
                self._browser = await self._launch(headless=self._headless)
                self._browser.on("disconnected", self._disconnected)
                self.launches += 1
            assert self._browser is not None
            return self._browser

    async def launch_visible(self) -> Browser:
        """A separate headed browser for a login the operator finishes by hand; the caller
        closes it."""
        if not has_display():
            raise BrowserUnavailable("a visible browser window needs a display (none found)")
        async with self._lock:
            return await self._launch(headless=False)

    async def stop(self) -> None:
        async with self._lock:
            browser, self._browser = self._browser, None
            if browser is not None:
                try:
                    await browser.close()
                except Exception as exc:  # already gone
                    log.debug("closing the browser: %s", exc)
            if self._playwright is not None:
                await self._playwright.stop()
                self._playwright = None

    # ---- Internals

    async def _launch(self, *, headless: bool) -> Browser:
        if self._playwright is None:
            self._playwright = await async_playwright().start()
        executable = self._executable()
        args = list(BASE_ARGS)
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")
        try:
            browser = await self._playwright.chromium.launch(
                executable_path=executable, headless=headless, args=args, timeout=LAUNCH_TIMEOUT_MS,
                # Playwright's driver kills the browser on these signals by default. Ctrl+C in a
                # terminal (or a stop signal sent to the process group) reaches the driver
                # too, so the browser went before the engine had saved the sessions. The
                # engine handles the signals and closes the browser itself, after saving; the
                # browser still dies with the driver when this process is gone.
                handle_sigint=False, handle_sigterm=False, handle_sighup=False,
            )
        except Exception as exc:
            raise BrowserUnavailable(f"cannot start Chromium ({executable or 'Playwright'}): {exc}") from exc
        log.info("browser started: %s %s", executable or "Playwright Chromium", browser.version)
        await asyncio.to_thread(lower_browser_priority)
        return browser

    def _executable(self) -> str | None:
        """The browser to launch; None means Playwright's own download."""
        if self._executable_setting:
            return self._executable_setting
        assert self._playwright is not None
        if Path(self._playwright.chromium.executable_path).exists():
            return None
        for candidate in SYSTEM_BROWSERS:
            found = shutil.which(candidate)
            if found:
                return found
        raise BrowserUnavailable(
            "no Chromium found: install Playwright's (`playwright install chromium`), a system "
            "Chromium/Chrome, or set browser_executable in the settings"
        )

    def _disconnected(self, browser: Browser) -> None:
        if browser is not self._browser:
            return
        log.warning("the browser disconnected (crashed or killed); it restarts on demand")
        self._browser = None
        if self._on_disconnect is not None:
            self._on_disconnect()
