"""A master for the worker-link tests: the engine the console runs (Engine.create, a real
SQLite file, the sandbox platform registered), its EmbeddedServer on 127.0.0.1 with a free
port, and python-socketio AsyncClients acting as hiscrm/1 workers."""
from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

import socketio
from hypothesis import strategies as st

from app.engine.engine import Engine
from app.engine.paths import app_paths
from app.engine.secrets import SecretBox
from app.engine.settings import Settings
from app.platforms.sandbox import SandboxPlatform
from app.server.app import EmbeddedServer, ServerOptions
from app.server.worker_link import WorkerLink
from tests.e2e.harness import until as e2e_until

# Any JSON value a broken or hostile peer may send, for the link's fuzz tests (both sides).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**63, max_value=2**63) | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)


TOKEN = "worker-link-test-token"


@dataclass
class Master:
    engine: Engine
    server: EmbeddedServer

    @property
    def link(self) -> WorkerLink:
        return self.server.worker_link

    @property
    def url(self) -> str:
        return self.server.url


@contextlib.asynccontextmanager
async def make_master(tmp_path, *, browsers: bool = False, start: bool = True,
                      heartbeat_timeout_s: float | None = None, reply_timeout_s: float | None = None,
                      database_url: str = "", port: int = 0, redis_url: str = "") -> AsyncIterator[Master]:
    """`browsers=False`: the local pool is off (`serve --no-browsers`), so registering
    workers are dealt unbound accounts. The timeouts replace the link's 30 s / 120 s."""
    settings = Settings(database_url=database_url)  # empty: a SQLite file in the home
    settings.platforms["sandbox"] = {"demo_traffic": False}
    engine = Engine.create(app_paths(tmp_path / "home"), settings, platforms=[SandboxPlatform()],
                           secrets=SecretBox.generate(), start_browsers=browsers)
    await (engine.start() if start else engine.open())
    server = EmbeddedServer(engine, ServerOptions(host="127.0.0.1", port=port, token=TOKEN, redis_url=redis_url))
    engine.server_token.configured = TOKEN
    if heartbeat_timeout_s is not None:
        server.worker_link.heartbeat_timeout_s = heartbeat_timeout_s
    if reply_timeout_s is not None:
        server.worker_link.reply_timeout_s = reply_timeout_s
    await server.start()
    try:
        yield Master(engine, server)
    finally:
        await server.stop()
        await engine.stop()


def envelope(type_: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": type_, "version": "v1", "payload": payload, "timestamp": int(time.time() * 1000), **extra}


@dataclass
class FakeWorkerSocket:
    """A python-socketio client on /worker that records what the master sends it (the
    protocol side of a worker only: the tests play the worker's part by hand)."""

    worker_id: str
    sio: socketio.AsyncClient = field(default_factory=lambda: socketio.AsyncClient(reconnection=False))
    messages: list[dict[str, Any]] = field(default_factory=list)  # enveloped, in arrival order
    events: list[tuple[str, Any]] = field(default_factory=list)  # direct events
    refusals: list[Any] = field(default_factory=list)  # connect_error data

    def __post_init__(self) -> None:
        self.sio.on("message", self.messages.append, namespace="/worker")
        self.sio.on("connect_error", self.refusals.append, namespace="/worker")
        self.sio.on("*", lambda event, data=None: self.events.append((event, data)), namespace="/worker")

    async def connect(self, url: str, token: str = TOKEN) -> None:
        await self.sio.connect(url, namespaces=["/worker"], auth={"token": token}, transports=["websocket"],
                               wait_timeout=10)

    async def join(self) -> Any:
        return await self.sio.call("join_room", {"room": f"worker:{self.worker_id}", "workerId": self.worker_id},
                                   namespace="/worker", timeout=10)

    async def send(self, type_: str, payload: dict[str, Any], **extra: Any) -> None:
        await self.sio.emit("message", envelope(type_, payload, **extra), namespace="/worker")

    async def ask(self, type_: str, payload: dict[str, Any], answer: str | None = None, **extra: Any) -> dict:
        """Send an envelope and wait for the answer of type `answer` (default `<type>:ack`)."""
        seen = len(self.messages)
        await self.send(type_, payload, **extra)
        return (await self.next_message(answer or f"{type_}:ack", after=seen))

    async def register(self, *, capabilities=("sandbox",), max_accounts=10, resume_seq=0,
                       protocol: str | None = "hiscrm/1") -> dict:
        payload = {"worker_id": self.worker_id, "host": "127.0.0.1", "port": 4000, "version": "test",
                   "capabilities": list(capabilities), "max_accounts": max_accounts, "resume_seq": resume_seq}
        if protocol:
            payload["protocol"] = protocol
        assert await self.join() is True
        return (await self.ask("worker:register", payload))["payload"]

    async def heartbeat(self, memory: float = 100.0) -> dict:
        return await self.ask("worker:heartbeat", {"worker_id": self.worker_id, "status": "online",
                                                   "active_tasks": 1, "memory_usage": memory, "cpu_usage": 3.0})

    async def next_message(self, type_: str, *, after: int = 0, timeout: float = 10.0,
                           where: Callable[[dict], bool] = lambda m: True) -> dict:
        return await until(lambda: next((m for m in self.messages[after:] if m.get("type") == type_ and where(m)),
                                        None), timeout=timeout, what=f"{type_} for {self.worker_id}")

    async def next_event(self, name: str, *, after: int = 0, timeout: float = 10.0) -> Any:
        found = await until(lambda: next((e for e in self.events[after:] if e[0] == name), None),
                            timeout=timeout, what=f"{name} for {self.worker_id}")
        return found[1]

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


# The e2e rigs' wait, with a shorter default: these masters answer within a few ms.
until = functools.partial(e2e_until, timeout=10.0)
