"""Who runs the accounts' browsers: the local pool and the remote workers, for the operator.

The Workers view, `monitor:request_workers` and the REST API all list workers through
`Engine.workers()`: the console's own pool (from its status) first, then every remote worker
seen since the engine started, connected or not. A remote worker's entry is kept up to date
by the server's worker link (app/server/worker_link), which reports what the worker says
about itself (register, heartbeats) and what the master decided (its accounts, offline);
an offline worker stays listed, with the accounts still bound to it, so the operator can
see which accounts wait for it. What a worker said about itself is also kept in the
`workers` table when it registers and when it goes away (`save`), so a restarted master
lists the workers it knew, offline until they connect again (`load`).
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from .bus import EventBus
from .events import WorkersChanged
from .pool.status import PoolStatus
from .store.db import Database
from .store.models import Worker

LOCAL_ID = "local"  # the console's own pool in the list (its holder_id is None)

ONLINE = "online"
OFFLINE = "offline"  # disconnected or silent: its accounts wait (or were dealt to another)
SWITCHED_OFF = "switched_off"  # the local pool of a run without browsers (serve --no-browsers)


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    remote: bool
    state: str  # ONLINE | OFFLINE | SWITCHED_OFF
    host: str | None = None
    port: int | None = None
    version: str | None = None
    capabilities: tuple[str, ...] = ()
    max_accounts: int | None = None
    accounts: tuple[str, ...] = ()  # the account ids it holds (bound to it)
    account_states: dict[str, str] = field(default_factory=dict)  # account id -> monitor state (remote)
    memory_mb: float | None = None
    cpu_percent: float | None = None
    active_tasks: int | None = None
    last_heartbeat: datetime | None = None  # remote workers only
    protocol: str | None = None  # "hiscrm/1", or None for an original Node worker


def local_worker(status: PoolStatus) -> WorkerInfo:
    """The local pool as a worker entry."""
    return WorkerInfo(
        id=LOCAL_ID, remote=False, state=ONLINE if status.enabled else SWITCHED_OFF,
        host=socket.gethostname(), accounts=tuple(a.account_id for a in status.accounts),
        memory_mb=status.memory.rss_mb,
    )


class WorkerDirectory:
    """The remote workers seen in this run, by id (in memory: a worker registers again
    after every connect, so a restarted master learns them again within seconds)."""

    def __init__(self, bus: EventBus, db: Database) -> None:
        self._bus = bus
        self._db = db
        self._workers: dict[str, WorkerInfo] = {}

    async def load(self, accounts: dict[str, tuple[str, ...]] | None = None) -> None:
        """List the workers of the `workers` table not seen in this run yet, offline, with
        the accounts bound to them (`accounts`: worker id -> account ids)."""
        for info in await self._db.read(_stored_workers):
            if info.id not in self._workers:
                self.report(replace(info, accounts=(accounts or {}).get(info.id, ())))

    async def save(self, info: WorkerInfo) -> None:
        """Keep what the worker said about itself, and its state, in the `workers` table."""
        await self._db.write(_store_worker, info)

    async def alive_elsewhere(self, timeout_s: float, now: datetime) -> set[str]:
        """The workers that the `workers` table says are online with a heartbeat younger
        than `timeout_s`: connected to another server process on the same database (each
        process keeps its own workers' rows), so not gone for this one either."""
        rows = await self._db.read(_stored_beats)
        return {worker_id for worker_id, status, at in rows if status == ONLINE and at is not None
                and (now - _aware(at)).total_seconds() < timeout_s}

    def report(self, info: WorkerInfo) -> None:
        """A worker's new description (replaces the previous one)."""
        self._workers[info.id] = info
        self._bus.publish(WorkersChanged({"worker": info.id}))

    def get(self, worker_id: str) -> WorkerInfo | None:
        return self._workers.get(worker_id)

    def list(self) -> list[WorkerInfo]:
        """Online first, then by id."""
        return sorted(self._workers.values(), key=lambda w: (w.state != ONLINE, w.id))


def _aware(at: datetime) -> datetime:
    """SQLite hands a stored UTC time back without its zone."""
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def _stored_beats(session: Session) -> list[tuple[str, str | None, datetime | None]]:
    return list(session.execute(select(Worker.id, Worker.status, Worker.last_heartbeat_at)))


def _stored_workers(session: Session) -> list[WorkerInfo]:
    return [WorkerInfo(id=w.id, remote=True, state=OFFLINE, host=w.host, port=w.port, version=w.version,
                       capabilities=tuple(w.capabilities or ()), max_accounts=w.max_accounts,
                       last_heartbeat=w.last_heartbeat_at)
            for w in session.scalars(select(Worker).order_by(Worker.id))]


def _store_worker(session: Session, info: WorkerInfo) -> None:
    row = session.get(Worker, info.id) or Worker(id=info.id)
    row.host, row.port, row.version = info.host, info.port, info.version
    row.capabilities, row.max_accounts = list(info.capabilities), info.max_accounts or 0
    row.status, row.last_heartbeat_at = info.state, info.last_heartbeat
    session.add(row)
