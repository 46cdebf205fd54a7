"""Fixtures for the worker's tests: the real master side (the engine with its EmbeddedServer
and worker link, tests/server/worker_link/harness.py) with a tap on what reaches it, the
sandbox site (run by the test, as the master's process runs it), and a worker rig: the
engine the `hiscrm worker` command builds (Engine.create with the delta journal as its
DataStore's forward), its journal, its answered replies and its MasterLink, all real."""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest

from app.engine.engine import Engine
from app.engine.paths import app_paths
from app.engine.secrets import SecretBox
from app.engine.settings import Settings
from app.platforms.sandbox.control_client import SandboxControl
from app.platforms.sandbox.site import SandboxSite
from app.worker.answered import AnsweredReplies
from app.worker.journal import DeltaJournal
from app.worker.link import LinkOptions, MasterLink
from tests.e2e.harness import until
from tests.server.worker_link.harness import TOKEN, Master, envelope, make_master

FAST = dict(poll_interval_min_s=1.0, poll_interval_max_s=1.5, backoff_cap_s=2.0, hibernate_after_s=60.0)
QUICK_LINK = dict(heartbeat_s=0.2, status_s=1.0, ack_timeout_s=2.0, reconnect_delay_s=0.1,
                  reconnect_delay_max_s=0.5, result_wait_s=5.0)


@dataclass
class WorkerRig:
    engine: Engine
    link: MasterLink
    journal: DeltaJournal
    answered: AnsweredReplies


@contextlib.asynccontextmanager
async def running_worker(home: Path, master_url: str, *, token: str = TOKEN, site_url: str | None = None,
                         worker_id: str = "worker-test", secrets: SecretBox | None = None,
                         start_browsers: bool = True, **link_options: Any) -> AsyncIterator[WorkerRig]:
    paths = app_paths(home)
    settings = Settings(**FAST)
    settings.platforms["sandbox"] = {"demo_traffic": False, **({"site_url": site_url} if site_url else {"enabled": False})}
    folder = paths.ensure().data_dir / "worker"
    journal = DeltaJournal(folder / "deltas.db")
    answered = AnsweredReplies(folder / "answered.db")
    engine = Engine.create(paths, settings, secrets=secrets or SecretBox.generate(), call_timeout_s=20.0,
                           login_timeout_s=60.0, forward_batches=journal.append, start_browsers=start_browsers)
    await engine.start()
    options = LinkOptions(master_url, token, worker_id, capabilities=("sandbox",), version="test",
                          **{**QUICK_LINK, **link_options})
    link = MasterLink(engine, journal, answered, options)
    try:
        await link.start()
        yield WorkerRig(engine, link, journal, answered)
    finally:
        await link.stop()
        await engine.stop()
        journal.close()
        answered.close()


class TappedMaster:
    """The real master, and what reached its `/worker` namespace, in order: `(type, payload)`
    for an envelope, `(event, data)` for a direct event, `("connect" | "disconnect", None)`.
    `send`/`emit` speak to the worker through the master's own server (what the master's
    code would send, or what a broken master might); `hold_deltas` makes its database slow."""

    def __init__(self, master: Master) -> None:
        self.master = master
        self.engine = master.engine
        self.link = master.link
        self.url = master.url
        self.token = TOKEN
        self.received: list[tuple[str, Any]] = []
        self.sid: str | None = None
        self._gate: asyncio.Event | None = None
        self._stopped = False  # a held delta is then never stored (the master went first)
        sio = master.server.sio
        deliver = sio._trigger_event

        async def tapped(event: str, namespace: str, *args: Any) -> Any:
            if namespace == "/worker":
                self._record(event, args)
            return await deliver(event, namespace, *args)

        sio._trigger_event = tapped
        ingest = self.engine.store.ingest

        async def slow_ingest(batch: Any, *more: Any, **options: Any) -> Any:
            if self._gate is not None and str(batch.source).startswith("worker:"):
                await self._gate.wait()
                if self._stopped:
                    raise ConnectionError("the master stopped before it stored this")
            return await ingest(batch, *more, **options)

        self.engine.store.ingest = slow_ingest

    def _record(self, event: str, args: tuple[Any, ...]) -> None:
        data = args[1] if len(args) > 1 else None
        if event == "connect":
            self.sid = args[0]
            self.received.append(("connect", None))
        elif event == "disconnect":
            self.received.append(("disconnect", None))
        elif event == "message" and isinstance(data, dict) and isinstance(data.get("type"), str):
            self.received.append((data["type"], data.get("payload")))
        else:
            self.received.append((event, data))

    def of(self, kind: str) -> list[Any]:
        return [payload for k, payload in self.received if k == kind]

    async def until(self, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
        """Wait until predicate() (sync or async) is truthy; returns its value. A timeout
        lists what the master received."""
        return await until(predicate, timeout=timeout, what=what,
                           describe=lambda: f"received {[k for k, _ in self.received]}")

    async def account(self, name: str, *, worker_id: str | None = None) -> str:
        """An account on the master (bound to `worker_id`, else dealt at registration)."""
        accounts = self.engine.accounts
        account_id = await accounts.create("sandbox", name)
        if worker_id is not None:
            await accounts.set_worker(account_id, worker_id)
        return account_id

    def hold_deltas(self) -> None:
        """The master's database stalls on a worker's data until `release_deltas`."""
        self._gate = asyncio.Event()

    def stopping(self) -> None:
        """What the master still holds is never stored: as when it is killed, but without
        leaving its shutdown waiting for the held ingest until the worker times out."""
        self._stopped = True
        self.release_deltas()

    def release_deltas(self) -> None:
        if self._gate is not None:
            self._gate.set()
            self._gate = None

    async def send(self, type_: str, payload: Any) -> None:
        await self.master.server.sio.emit("message", envelope(type_, payload), to=self.sid, namespace="/worker")

    async def emit(self, event: str, payload: Any) -> None:
        await self.master.server.sio.emit(event, payload, to=self.sid, namespace="/worker")

    async def drop_worker(self) -> None:
        """Close the worker's connection from the master's side (a network cut)."""
        await self.master.server.sio.disconnect(self.sid, namespace="/worker")


@contextlib.asynccontextmanager
async def tapped_master(tmp_path: Path, **options: Any) -> AsyncIterator[TappedMaster]:
    async with make_master(tmp_path / "master", **options) as master:
        tapped = TappedMaster(master)
        try:
            yield tapped
        finally:
            tapped.stopping()


@pytest.fixture
async def master(tmp_path):
    async with tapped_master(tmp_path) as master:
        yield master


@pytest.fixture
async def site():
    site = SandboxSite(port=0)
    await site.start()
    yield site
    await site.stop()


@pytest.fixture
async def control(site):
    async with SandboxControl(site.base_url) as control:
        yield control
