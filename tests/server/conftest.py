"""Fixtures for the server tests: a real Engine (Engine.create, a SQLite file, no browsers)
with the embedded server listening on a free loopback port, and IM clients that are real
python-socketio AsyncClients recording what they receive."""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, AsyncIterator, Callable

import pytest
import socketio

from app.engine.engine import Engine
from app.engine.paths import app_paths
from app.engine.records import Batch
from app.engine.secrets import SecretBox
from app.engine.settings import Settings
from app.platforms.sandbox import SandboxPlatform
from app.server.app import EmbeddedServer, ServerOptions


async def until(predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Client:
    """A python-socketio client that keeps every event it receives, in order."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: list[tuple[str, Any]] = []
        self._arrived = asyncio.Event()
        self.sio.on("*", self._record)

    async def _record(self, event: str, *args: Any) -> None:
        self.received.append((event, args[0] if args else None))
        self._arrived.set()

    def of(self, event: str) -> list[Any]:
        return [data for name, data in self.received if name == event]

    async def next(self, event: str, where: Callable[[Any], bool] = lambda data: True, *,
                   after: int = 0, timeout: float = 10.0) -> Any:
        """The first `event` received from index `after` on matching `where`, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            for name, data in self.received[after:]:
                if name == event and where(data):
                    return data
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {event} within {timeout} s; received {[n for n, _ in self.received]}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()

    def mark(self) -> int:
        """A position in what was received, for `next(after=...)`."""
        return len(self.received)

    async def ask(self, event: str, data: Any = None, answer: str | None = None, *,
                  where: Callable[[Any], bool] = lambda data: True, timeout: float = 10.0) -> Any:
        """Emit and wait for the answer event (the event's own `answer`, `where` it matches: a
        push of the same event may come first)."""
        start = self.mark()
        if data is None:
            await self.sio.emit(event)
        else:
            await self.sio.emit(event, data)
        return await self.next(answer, where, after=start, timeout=timeout) if answer else None


class Served:
    def __init__(self, engine: Engine, server: EmbeddedServer) -> None:
        self.engine = engine
        self.server = server
        self._clients: list[Client] = []

    @property
    def token(self) -> str:
        return self.server.token

    async def client(self, *, auth: Any = "token", url_query: str = "", headers: dict | None = None) -> Client:
        client = Client()
        self._clients.append(client)
        await client.sio.connect(
            self.server.url + url_query,
            auth={"token": self.token} if auth == "token" else auth,
            headers=headers or {},
            transports=["websocket"],
            wait_timeout=10,
        )
        return client

    async def close_clients(self) -> None:
        for client in self._clients:
            if client.sio.connected:
                await client.sio.disconnect()

    async def account(self, name: str = "店铺", **records: Any) -> str:
        account_id = await self.engine.accounts.create("sandbox", name)
        if records:
            await self.feed(account_id, **records)
        return account_id

    async def feed(self, account_id: str, **records: Any) -> None:
        result = await self.engine.store.ingest(Batch(account_id=account_id, **records))
        assert not result.rejected, result.rejected


def quiet_engine(home, **settings: Any) -> Engine:
    """The engine of the console without browsers, on the sandbox platform (not started)."""
    return Engine.create(app_paths(home), Settings(**settings), start_browsers=False,
                         platforms=[SandboxPlatform()], secrets=SecretBox.generate())


@contextlib.asynccontextmanager
async def serving(engine: Engine, **options: Any) -> AsyncIterator[Served]:
    await engine.open()
    server = EmbeddedServer(engine, ServerOptions(port=0, **options))
    await server.start()
    served = Served(engine, server)
    try:
        yield served
    finally:
        await served.close_clients()
        await server.stop()


@pytest.fixture
async def served(tmp_path) -> AsyncIterator[Served]:
    engine = quiet_engine(tmp_path / "home")
    try:
        async with serving(engine) as s:
            yield s
    finally:
        await engine.stop()
