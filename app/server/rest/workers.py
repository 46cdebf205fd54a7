"""GET /api/v1/status and /api/v1/workers[/{id}]: the server, and who holds the accounts.

The workers are the engine's account holders (app/engine/holders.py): the local pool (shown
as the worker "local") and every remote worker connected. `worker_list` is the one place
that reads them, so when the engine keeps its own list of workers only it changes.
"""
from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ...cli import package_version
from ...engine.workers import ONLINE
from ..wire import seconds
from .table import V1, ApiError, Call, RouteTable

if TYPE_CHECKING:
    from ...engine.engine import Engine

__all__ = ["LOCAL", "STARTED", "Worker", "package_version", "routes", "worker_id", "worker_list"]

LOCAL = "local"  # the worker id the local pool has on the wire (its holder_id is None)
STARTED = web.AppKey("started_at", float)  # when the server started (time.time())

routes = RouteTable()


class Worker(BaseModel):
    id: str
    host: str | None
    port: int | None
    status: Literal["online", "offline"]
    assigned_accounts: int
    last_heartbeat: int | None  # s
    started_at: int | None  # s
    version: str | None
    capabilities: list[str]
    max_accounts: int | None  # None: no limit (the local pool)


class WorkersQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: Literal["online", "offline"] | None = None


class Counts(BaseModel):
    total: int
    online: int


class DataCounts(BaseModel):
    accounts: int
    messages: int
    unread: int


class Status(BaseModel):
    version: str
    uptime: int = Field(description="seconds since the server started")
    workers: Counts
    dataStore: DataCounts
    timestamp: int  # ms


def worker_id(holder_id: str | None) -> str:
    return LOCAL if holder_id is None else holder_id


async def worker_list(engine: "Engine") -> list[Worker]:
    """Every worker the engine knows (Engine.workers: the local pool, then the remote ones,
    connected or not), with how many accounts each holds."""
    held = Counter(worker_id(a.worker_id) for a in await engine.accounts.list())  # bound to it
    workers = []
    for info in engine.workers():
        local = not info.remote
        workers.append(Worker(
            id=info.id,
            host=info.host,
            port=info.port,
            status="online" if info.state == ONLINE else "offline",
            assigned_accounts=held.get(info.id, 0),
            last_heartbeat=int(time.time()) if local else seconds(info.last_heartbeat),
            started_at=None,
            version=package_version() if local else info.version,
            capabilities=sorted(engine.platforms.names()) if local else list(info.capabilities),
            max_accounts=info.max_accounts,
        ))
    return workers


@routes.get("/api/v1/status", "The server: version, uptime, workers and stored data", V1, answer=Status)
async def status(call: Call) -> Status:
    workers = await worker_list(call.engine)
    channels = await call.engine.views.channels()
    return Status(
        version=package_version(),
        uptime=int(time.time() - call.request.app[STARTED]),
        workers=Counts(total=len(workers), online=sum(w.status == "online" for w in workers)),
        dataStore=DataCounts(accounts=len(channels), messages=sum(c.message_count for c in channels),
                             unread=sum(c.unread_count for c in channels)),
        timestamp=int(time.time() * 1000),
    )


@routes.get("/api/v1/workers", "The workers (the local pool and remote workers)", V1, answer=list[Worker],
            query=WorkersQuery)
async def list_workers(call: Call) -> list[Worker]:
    workers = await worker_list(call.engine)
    return [w for w in workers if call.query.status in (None, w.status)]


@routes.get("/api/v1/workers/{id}", "One worker", V1, answer=Worker, errors=(404,))
async def one_worker(call: Call) -> Worker:
    wanted = call.param("id")
    for worker in await worker_list(call.engine):
        if worker.id == wanted:
            return worker
    raise ApiError(404, f"no worker {wanted!r} is connected")
