"""The server follows the settings, and nobody attaches without the token."""
from __future__ import annotations

import asyncio
import socket

import pytest
import socketio

from app.bootstrap import StartupError, open_engine, start_engine
from app.engine.events import ServerStatusChanged
from app.engine.paths import app_paths
from app.engine.secrets import SecretBox
from app.engine.settings import Settings
from app.server.app import EmbeddedServer
from app.server.switch import ServerSwitch


def quiet_settings(**server) -> Settings:
    settings = Settings(first_run_done=True, server={"port": 0, **server})
    settings.platforms["sandbox"] = {"enabled": False}
    return settings


@pytest.fixture
async def engine(tmp_path):
    engine = await open_engine(app_paths(tmp_path), quiet_settings(), start_browsers=False, secrets=SecretBox.generate())
    yield engine
    await engine.stop()


async def server_of(engine) -> EmbeddedServer | None:
    switches = [f for f in engine.front_ends if isinstance(f, ServerSwitch)]
    return switches[0].server if switches else None


async def test_the_server_starts_when_switched_on_and_stops_when_switched_off(engine):
    seen: list[ServerStatusChanged] = []
    engine.bus.subscribe(ServerStatusChanged, seen.append)
    await start_engine(engine)
    assert await server_of(engine) is None  # off by default: nothing listens

    engine.settings_service.update(server=engine.settings.server.model_copy(update={"enabled": True}))
    switch = next(f for f in engine.front_ends if isinstance(f, ServerSwitch))
    await _settled(switch, lambda s: s.server is not None)
    server = switch.server
    assert server.url.startswith("http://127.0.0.1:") and server.port != 0

    token = await engine.server_token.get()
    for auth, query in ((None, ""), ({"token": "wrong"}, ""), (None, "?token=wrong")):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):  # refused at connect
            await client.connect(server.url + query, auth=auth, transports=["websocket"], wait_timeout=5)
    for auth, query in (({"token": token}, ""), (None, f"?token={token}")):  # Socket.IO auth, or the URL's query
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(server.url + query, auth=auth, transports=["websocket"], wait_timeout=5)
        assert client.connected
        await client.disconnect()

    engine.settings_service.update(server=engine.settings.server.model_copy(update={"enabled": False}))
    await _settled(switch, lambda s: s.server is None)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    server.im._publish_count()  # the count the last disconnect gathered, coming after the stop...
    await asyncio.sleep(0)  # (the bus delivers on the next turn of the loop)
    assert [e.running for e in seen][-2:] == [True, False]  # ... says nothing: it is not running


async def test_a_taken_port_stops_serve_with_a_clear_error_and_the_console_is_told(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        engine = await open_engine(app_paths(tmp_path / "a"), quiet_settings(enabled=True, port=port),
                                   start_browsers=False, secrets=SecretBox.generate())
        with pytest.raises(StartupError, match=f"the server cannot start: cannot listen on 127.0.0.1:{port}"):
            await start_engine(engine)  # `hiscrm serve --server`: no server, no serve

        console = await open_engine(app_paths(tmp_path / "b"), quiet_settings(enabled=True, port=port),
                                    start_browsers=False, secrets=SecretBox.generate())
        seen: list[ServerStatusChanged] = []
        console.bus.subscribe(ServerStatusChanged, seen.append)
        try:
            await start_engine(console, require_server=False)  # the console runs, and says why
            switch = next(f for f in console.front_ends if isinstance(f, ServerSwitch))
            assert switch.server is None and f"127.0.0.1:{port}" in switch.error
            await _settled(switch, lambda s: seen)
            assert not seen[-1].running and f"127.0.0.1:{port}" in seen[-1].error
        finally:
            await console.stop()
    finally:
        taken.close()


async def test_the_token_is_generated_once_kept_and_renewed_on_request(engine):
    first = await engine.server_token.get()
    assert len(first) >= 40 and await engine.server_token.get() == first
    renewed = await engine.server_token.renew()
    assert renewed != first and await engine.server_token.get() == renewed
    engine.server_token.configured = "given-on-the-command-line"
    assert await engine.server_token.get() == "given-on-the-command-line"


async def test_a_new_token_restarts_the_server_and_the_old_one_is_refused(engine):
    """engine.server_status follows the server too (the console's settings read it)."""
    switch = ServerSwitch(engine)
    try:
        engine.settings_service.update(server={"enabled": True, "host": "127.0.0.1", "port": 0})
        await _settled(switch, lambda s: engine.server_status.running)
        url, old = engine.server_status.url, switch.server.token
        assert url == switch.server.url and await _rest_status(url, old) == 200
        first = switch.server
        new = await engine.server_token.renew()
        await _settled(switch, lambda s: s.server is not None and s.server is not first)
        url = switch.server.url
        assert new != old and switch.server.token == new
        assert await _rest_status(url, old) == 401 and await _rest_status(url, new) == 200
    finally:
        await switch.stop()


async def _rest_status(url: str, token: str) -> int:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/api/v1/status", headers={"Authorization": f"Bearer {token}"}) as response:
            return response.status


async def _settled(switch, condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition(switch):
            await asyncio.sleep(0.02)


async def test_a_stopping_server_closes_its_clients_connections_at_once(engine):
    """Socket.IO's shutdown stops only its own tasks: a client still attached kept the web
    server's shutdown waiting (a remote worker until its heartbeat timed out, 30 s)."""
    switch = ServerSwitch(engine)
    try:
        engine.settings_service.update(server={"enabled": True, "host": "127.0.0.1", "port": 0})
        await _settled(switch, lambda s: engine.server_status.running)
        token = switch.server.token
        gone = asyncio.Event()
        clients = []
        for namespace in ("/", "/worker"):
            client = socketio.AsyncClient(reconnection=False)
            client.on("disconnect", lambda *_: gone.set(), namespace=namespace)
            await client.connect(switch.server.url, auth={"token": token}, namespaces=[namespace],
                                 transports=["websocket"], wait_timeout=5)
            clients.append(client)
        await asyncio.wait_for(switch.server.stop(), 10)  # not the web server's 60 s shutdown timeout
        await asyncio.wait_for(gone.wait(), 5)
    finally:
        await switch.stop()
