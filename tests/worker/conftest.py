"""Fixtures for the worker's tests: the contract-speaking master (master.py), the sandbox
site (run by the test, as the master's process runs it), and a worker rig: the engine the
`hiscrm worker` command builds (Engine.create with the delta journal as its DataStore's
forward), its journal, its answered replies and its MasterLink, all real."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

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

from .master import FakeMaster

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
async def running_worker(home: Path, master_url: str, *, token: str = "secret-token", site_url: str | None = None,
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


@pytest.fixture
async def master():
    master = await FakeMaster().start()
    yield master
    await master.stop()


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
