"""What the Workers view shows: the browser processes, their memory and each account's state.

Memory is read from the operating system (psutil) for the whole browser process tree: the
browser process, its GPU/utility helpers and one renderer per open page. RSS counts memory
shared between those processes once per process, so the sum overstates the real cost; PSS
(Linux only) shares it out fairly and is the better figure where it exists.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime

import psutil

log = logging.getLogger(__name__)

# Monitor states, as shown to operators.
ACTIVE = "active"  # page open: polling, sending, or awake receiving pushes
HIBERNATING = "hibernating"  # context closed with its session saved; wakes for the next poll
BACKOFF = "backoff"  # the last cycle failed; waiting longer before the next try
STOPPED = "stopped"  # not monitored: switched off, logged out or expired
CRASHED = "crashed"  # the page or browser died; restarting


@dataclass(frozen=True)
class AccountState:
    account_id: str
    state: str
    monitoring: bool
    last_error: str | None = None
    last_error_code: str | None = None  # PlatformError.code, or the monitor's own (monitor.py)
    failures: int = 0  # consecutive failed cycles
    restarts: int = 0  # contexts reopened after a crash or error
    cycles: int = 0
    last_cycle_at: datetime | None = None
    next_poll_in_s: float | None = None


@dataclass(frozen=True)
class MemorySample:
    browser_pids: tuple[int, ...] = ()
    processes: int = 0
    rss_mb: float | None = None
    pss_mb: float | None = None  # Linux only


@dataclass(frozen=True)
class PoolStatus:
    enabled: bool
    browser_running: bool
    browser_version: str
    browser_launches: int
    open_pages: int
    max_active_pages: int
    max_parallel_polls: int  # scheduled polls at once (pacing.py)
    memory: MemorySample
    accounts: tuple[AccountState, ...] = field(default_factory=tuple)

    @property
    def browser_pids(self) -> tuple[int, ...]:
        return self.memory.browser_pids

    @property
    def rss_mb(self) -> float | None:
        return self.memory.rss_mb

    def account(self, account_id: str) -> AccountState | None:
        return next((a for a in self.accounts if a.account_id == account_id), None)


def sample_browser_memory() -> MemorySample:
    """Measure the browser processes started by this process (blocking: call it off the
    event loop). Browsers are the children named chrome/chromium; their helpers and renderers
    are the browsers' descendants."""
    try:
        children = psutil.Process(os.getpid()).children(recursive=True)
    except psutil.Error as exc:
        log.debug("cannot list child processes: %s", exc)
        return MemorySample()
    browsers, tree = [], []
    for proc in children:
        try:
            if not is_chromium(proc):
                continue
            tree.append(proc)
            parent = proc.parent()
            if parent is None or not is_chromium(parent):
                browsers.append(proc.pid)
        except psutil.Error:
            continue  # exited meanwhile
    rss = pss = 0.0
    pss_known = True
    for proc in tree:
        try:
            if pss_known and hasattr(proc, "memory_full_info"):
                info = proc.memory_full_info()
                rss += info.rss
                if getattr(info, "pss", None) is None:
                    pss_known = False
                else:
                    pss += info.pss
            else:
                rss += proc.memory_info().rss
        except psutil.AccessDenied:
            pss_known = False
            rss += _rss_or_zero(proc)
        except psutil.Error:
            continue
    mb = 1024 * 1024
    return MemorySample(
        browser_pids=tuple(sorted(browsers)),
        processes=len(tree),
        rss_mb=round(rss / mb, 1) if tree else None,
        pss_mb=round(pss / mb, 1) if tree and pss_known else None,
    )


def is_chromium(proc: psutil.Process) -> bool:
    """Whether a process is a Chromium (browser, renderer, helper or Playwright's shell)."""
    name = proc.name().lower()
    return "chrom" in name or name.startswith("headless_shell")


def _rss_or_zero(proc: psutil.Process) -> int:
    try:
        return proc.memory_info().rss
    except psutil.Error:
        return 0
