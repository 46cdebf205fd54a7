"""The tasks that read a page's intercepted responses and pushes, for platform adapters.

A Playwright response listener must not await (it would hold up the page's event stream), so
an adapter reads each body in a task of its own. Those tasks are kept referenced until they
end (asyncio keeps only weak references), a failure is logged rather than lost, and `settle`
waits for every one started so far: a crawl or a look for a reply concludes only from what
the page has actually delivered.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class PageTasks:
    """Mixed into an adapter's per-page watch (a dataclass): `spawn` and `settle`."""

    pending: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s: reading a page event failed", type(self).__module__, exc_info=task.exception())

    async def settle(self) -> None:
        """Wait until every response or push seen so far has been read and handed on."""
        while self.pending:
            await asyncio.gather(*list(self.pending), return_exceptions=True)
