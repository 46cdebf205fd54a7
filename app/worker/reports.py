"""What a worker tells its master about itself: the heartbeat (§2.1: liveness, load) and
each account's status (§2.1 `worker:account:status`, with hiscrm/1's `monitor_state` and
`login_status`), read from the engine's pool and accounts as the console's views read them.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import psutil

from ..engine.pool import status as st

if TYPE_CHECKING:
    from ..engine.accounts import AccountRow
    from ..engine.engine import Engine

MB = 1024 * 1024
STATUSES_PER_MESSAGE = 50  # §2.1


class Reports:
    def __init__(self, engine: "Engine", worker_id: str) -> None:
        self._engine = engine
        self._worker_id = worker_id
        self._process = psutil.Process(os.getpid())
        self._process.cpu_percent(None)  # the first reading starts the measurement

    def heartbeat(self) -> dict[str, Any]:
        """This process and its browsers: memory in MB, CPU in % since the last heartbeat."""
        pool = self._engine.pool_status()
        own = self._process.memory_info().rss / MB
        return {"worker_id": self._worker_id, "status": "online",
                "active_tasks": sum(1 for a in pool.accounts if a.state == st.ACTIVE),
                "memory_usage": round(own + (pool.memory.rss_mb or 0.0), 1),
                "cpu_usage": round(self._process.cpu_percent(None), 1)}

    async def account_statuses(self, account_ids: set[str] | None = None) -> list[dict[str, Any]]:
        """`worker:account:status` payloads (at most 50 accounts each) for these accounts
        (None: every account this worker holds)."""
        pool = self._engine.pool_status()
        rows = [a for a in await self._engine.accounts.list() if account_ids is None or a.id in account_ids]
        statuses = [{"account_id": a.id, "status": _status(a, pool.account(a.id))} for a in rows]
        return [{"worker_id": self._worker_id, "account_statuses": statuses[i:i + STATUSES_PER_MESSAGE]}
                for i in range(0, len(statuses), STATUSES_PER_MESSAGE)]


def _status(account: "AccountRow", monitor: st.AccountState | None) -> dict[str, Any]:
    return {
        "worker_status": "online",
        "login_status": account.login_status,
        "monitor_state": monitor.state if monitor else st.STOPPED,
        "last_crawl_time": int(account.last_crawl_at.timestamp()) if account.last_crawl_at else None,
        "error_count": monitor.failures if monitor else 0,
        "last_error_message": (monitor.last_error if monitor else None) or account.last_error,
    }
