"""One account's open browser context: its own cookies, fingerprint and proxy, and one page.

Opening restores the account's saved session (storage state); closing saves it back first, so
a context can be closed at any time (hibernation, stop, restart) and reopened later without a
new login. A renderer crash or a closed page marks the context dead; its owner reopens it.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from typing import Any, Awaitable, Callable

from playwright.async_api import Browser, BrowserContext, Page

from .fingerprint import context_options, fit_viewport
from .priority import lower_browser_priority

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 10.0
NAVIGATION_TIMEOUT_MS = 30_000


class AccountContext:
    def __init__(self, account_id: str, context: BrowserContext, page: Page, saved_digest: str | None) -> None:
        self.account_id = account_id
        self.context = context
        self.page = page
        self.dead_reason: str | None = None  # set when the page crashed or closed under us
        self._saved_digest = saved_digest
        self._on_dead: Callable[[str], None] | None = None
        self._opened_at = time.monotonic()
        self.requests = 0  # requests the page made: the driver keeps an object for each
        page.on("request", self._count_request)
        page.on("crash", lambda _page: self._died("the page crashed"))
        page.on("close", lambda _page: self._died("the page was closed"))

    @classmethod
    async def open(
        cls,
        browser: Browser,
        account_id: str,
        fingerprint: dict[str, Any],
        *,
        storage_state: dict[str, Any] | None,
        proxy: dict[str, str] | None = None,
        on_dead: Callable[[str], None] | None = None,
        screen: tuple[int, int] | None = None,
    ) -> "AccountContext":
        """`screen`: the room on the operator's screen for a visible window (its page fits)."""
        options = context_options(fingerprint, browser.version)
        if screen is not None:
            options["viewport"] = fit_viewport(options["viewport"], screen)
        context = await browser.new_context(storage_state=storage_state, proxy=proxy, **options)
        try:
            context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
            page = await context.new_page()
        except BaseException:
            await _close_quietly(context.close())
            raise
        # The page's renderer is new: Chromium forks it from a process that may have started
        # before the browser was reniced (its zygote, a helper), so renice what is there now.
        await asyncio.to_thread(lower_browser_priority)
        opened = cls(account_id, context, page, _digest(storage_state) if storage_state else None)
        opened._on_dead = on_dead
        return opened

    @property
    def alive(self) -> bool:
        return self.dead_reason is None

    def age_s(self) -> float:
        """Seconds since the context was opened."""
        return time.monotonic() - self._opened_at

    def _count_request(self, _request: object) -> None:
        self.requests += 1

    async def save(self, save_state: Callable[[str, dict[str, Any]], Awaitable[None]]) -> None:
        """Hand the current storage state to `save_state` when it changed since the last save
        (cookies rarely change between polls; this spares the database a write per cycle)."""
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            state = await self.context.storage_state()
        digest = _digest(state)
        if digest != self._saved_digest:
            await save_state(self.account_id, state)
            self._saved_digest = digest

    async def close(
        self, save_state: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
    ) -> Exception | None:
        """Close the context, saving its session first when `save_state` is given and the page
        is healthy (a crashed page's state may be incomplete; the last save stands). Returns
        why the session could not be saved, if it could not: the context is closed anyway,
        and the caller tells the operator."""
        self._on_dead = None  # closing on purpose is not a death
        try:
            if save_state is not None and self.alive:
                await self.save(save_state)
        except Exception as exc:
            log.warning("%s: could not save the session before closing: %s", self.account_id, exc)
            return exc
        finally:
            await _close_quietly(self.context.close())
        return None

    def _died(self, reason: str) -> None:
        if self.dead_reason is None:
            self.dead_reason = reason
            if self._on_dead is not None:
                self._on_dead(reason)


def _digest(state: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode("utf-8")).hexdigest()


async def _close_quietly(closing: Awaitable[Any]) -> None:
    """Close without letting a hung or already-dead browser stall the caller."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await closing
    except Exception as exc:
        log.debug("closing a context: %s", exc)
