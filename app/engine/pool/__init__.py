"""The Playwright worker pool: browsers, one context per account, monitors, login pages.

    pool = WorkerPool(settings, paths, platforms, accounts, store, bus)
    await pool.start()          # monitors the logged-in accounts
    await pool.send_reply(account_id, target, text)
    pool.status()               # for the Workers view
"""
from .browser import BrowserUnavailable
from .status import AccountState, MemorySample, PoolStatus
from .workerpool import WorkerPool

__all__ = ["AccountState", "BrowserUnavailable", "MemorySample", "PoolStatus", "WorkerPool"]
