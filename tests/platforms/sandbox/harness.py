"""Stand-ins for the engine in the sandbox tests: a LoginIO that records what the platform
reports and answers its questions, a sink that collects batches (with the MonitorIO around
it: the platform state in a dict, the session reports in a list), and a login helper that
plays the phone through the control API."""
from __future__ import annotations

import asyncio
import copy
import time
from typing import Any, Awaitable, Callable

from app.engine.platform import AccountInfo, LoginIO, MonitorIO, PlatformState, SessionStatus
from app.engine.records import Batch
from app.platforms.sandbox.adapter import SandboxPlatform
from app.platforms.sandbox.control_client import SandboxControl

CREATOR = "测试创作者"


class RecordingLoginIO(LoginIO):
    """Records reports; answers questions with `answer(kind, prompt)`."""

    def __init__(self, answer: Callable[[str, str], Awaitable[str]] | None = None) -> None:
        self.reports: list[tuple[str, dict[str, Any]]] = []
        self.questions: list[tuple[str, str]] = []
        self._answer = answer
        self._changed = asyncio.Event()

    async def report(self, state, *, qr_png=None, qr_url=None, expires_at=None, message=None) -> None:
        self.reports.append((state, {"qr_png": qr_png, "qr_url": qr_url, "expires_at": expires_at,
                                     "message": message}))
        self._changed.set()

    async def ask(self, kind, prompt) -> str:
        self.questions.append((kind, prompt))
        if self._answer is None:
            raise AssertionError(f"unexpected question {kind}: {prompt}")
        return await self._answer(kind, prompt)

    def states(self) -> list[str]:
        return [state for state, _ in self.reports]

    async def wait_for(self, state: str, count: int = 1, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = [info for s, info in self.reports if s == state]
            if len(found) >= count:
                return found[count - 1]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {state!r} report #{count} in {timeout} s; got {self.states()}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass


class MemoryState(PlatformState):
    """The platform state in a dict (the engine keeps it in its database)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def get(self, key: str, default: Any = None) -> Any:
        return copy.deepcopy(self.values.get(key, default))

    async def set(self, key: str, value: Any) -> None:
        if value is None:
            self.values.pop(key, None)
        else:
            self.values[key] = copy.deepcopy(value)


class CollectingSink:
    """A BatchSink that keeps every batch and can wait for a record to show up; `io` is the
    MonitorIO around it."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self._changed = asyncio.Event()
        self.state = MemoryState()
        self.sessions: list[tuple[SessionStatus, str]] = []
        self.io = MonitorIO(self, self.state, lambda status, message: self.sessions.append((status, message)))

    async def __call__(self, batch: Batch) -> None:
        self.batches.append(batch)
        self._changed.set()

    def records(self, kind: str) -> list[dict[str, Any]]:
        return [r for b in self.batches for r in getattr(b, kind)]

    async def wait_for(self, kind: str, predicate: Callable[[dict[str, Any]], bool],
                       timeout: float = 10.0) -> tuple[Batch, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            for batch in self.batches:
                for record in getattr(batch, kind):
                    if predicate(record):
                        return batch, record
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching {kind} record within {timeout} s")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass


ACCOUNT = AccountInfo(id="acc-test", platform="sandbox", display_name=CREATOR)


async def log_in(platform: SandboxPlatform, page, control: SandboxControl, creator: str = CREATOR):
    """Log `page` in through the adapter, confirming the QR code through the control API."""

    async def phone() -> None:
        ticket = await control.wait_for_qr()
        await control.confirm(ticket["token"], creator)

    io = RecordingLoginIO()
    outcome, _ = await asyncio.gather(platform.login(page, io), phone())
    return outcome


async def crash_renderer(page) -> None:
    """Crash the page's renderer process for real. Web content cannot crash its own renderer
    and Chromium refuses to open chrome://crash from Playwright; the DevTools command
    Page.crash does what chrome://crash does. Returns once the page reports the crash."""
    crashed = asyncio.get_running_loop().create_future()
    page.once("crash", lambda _page: crashed.done() or crashed.set_result(None))
    cdp = await page.context.new_cdp_session(page)
    command = asyncio.ensure_future(cdp.send("Page.crash"))  # never answered: the target dies
    await asyncio.wait_for(crashed, 10)
    command.cancel()
