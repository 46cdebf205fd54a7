"""A running EmbeddedServer on 127.0.0.1 (a free port) over a real engine, and an HTTP
client for it: `api.get(path)` sends the server's token, `api.raw` sends what a test says."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from app.engine.engine import Engine
from app.engine.paths import app_paths
from app.engine.records import Batch
from app.engine.secrets import SecretBox
from app.engine.settings import Settings
from app.server.app import EmbeddedServer, ServerOptions

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
async def engine(tmp_path):
    settings = Settings(first_run_done=True)
    settings.platforms["sandbox"] = {"enabled": False}
    engine = Engine.create(app_paths(tmp_path / "home"), settings, start_browsers=False,
                           secrets=SecretBox.generate())
    await engine.open()  # no outbox dispatcher: replies stay as the API queued them
    yield engine
    await engine.stop()


@pytest.fixture
async def server(engine):
    server = EmbeddedServer(engine, ServerOptions(host="127.0.0.1", port=0))
    await server.start()
    yield server
    await server.stop()


class Api:
    def __init__(self, server: EmbeddedServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.raw = session
        self.headers = {"Authorization": f"Bearer {server.token}"}

    def url(self, path: str) -> str:
        return f"{self.server.url}{path}"

    async def call(self, method: str, path: str, *, expect: int | None = None, **options: Any) -> Any:
        async with self.raw.request(method, self.url(path), headers=self.headers, **options) as response:
            body = await response.json()
            if expect is not None:
                assert response.status == expect, (response.status, body)
            return body

    async def get(self, path: str, expect: int | None = 200, **options: Any) -> Any:
        return await self.call("GET", path, expect=expect, **options)

    async def post(self, path: str, body: Any = None, expect: int | None = None, **options: Any) -> Any:
        return await self.call("POST", path, json=body, expect=expect, **options)

    async def patch(self, path: str, body: Any, expect: int | None = 200) -> Any:
        return await self.call("PATCH", path, json=body, expect=expect)

    async def delete(self, path: str, expect: int | None = 200) -> Any:
        return await self.call("DELETE", path, expect=expect)


@pytest.fixture
async def api(server):
    async with aiohttp.ClientSession() as session:
        yield Api(server, session)


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


async def ingest(engine: Engine, account_id: str, **records: list[dict[str, Any]]) -> None:
    result = await engine.store.ingest(Batch(account_id, **records))
    assert not result.rejected, result.rejected
