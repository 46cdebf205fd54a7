"""ServerSwitch and the token: the server follows the settings, says how it is doing
(engine.server_status follows ServerStatusChanged), and a new token restarts it so that the
old one stops working at once."""
from __future__ import annotations

import asyncio
import socket

import aiohttp

from app.server.switch import ServerSwitch

from .rest.conftest import engine  # noqa: F401  (the fixture)


async def _until(predicate, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def _status(url: str, token: str) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/api/v1/status", headers={"Authorization": f"Bearer {token}"}) as response:
            return response.status


async def test_a_new_token_restarts_the_server_and_the_old_one_is_refused(engine):  # noqa: F811
    switch = ServerSwitch(engine)
    try:
        engine.settings_service.update(server={"enabled": True, "host": "127.0.0.1", "port": 0})
        await _until(lambda: engine.server_status.running)
        url, old = engine.server_status.url, switch.server.token
        assert url == switch.server.url and await _status(url, old) == 200
        first = switch.server
        new = await engine.server_token.renew()
        await _until(lambda: switch.server is not None and switch.server is not first)
        url = switch.server.url
        assert new != old and switch.server.token == new
        assert await _status(url, old) == 401 and await _status(url, new) == 200
    finally:
        await switch.stop()


async def test_a_port_in_use_is_said_not_raised(engine):  # noqa: F811
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    switch = ServerSwitch(engine)
    try:
        engine.settings_service.update(server={"enabled": True, "host": "127.0.0.1", "port": port})
        await _until(lambda: engine.server_status.error is not None)
        assert not engine.server_status.running and switch.server is None
        assert str(port) in engine.server_status.error or "in use" in engine.server_status.error
    finally:
        await switch.stop()
        taken.close()
