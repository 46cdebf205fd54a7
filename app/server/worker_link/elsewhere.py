"""The remote workers connected to the other server processes (app/server/peers.py).

Each server lists only the workers connected to it from what they say; a worker attached to
another server on the same database was known here only from the `workers` table at start,
offline, with the accounts bound to it then. Now every server tells the others each report
of its own workers (register, heartbeats, accounts dealt or moved, gone), and a server that
starts asks for them: the Workers view, `monitor:request_workers` and REST list them, live,
on every server. A worker not heard of for the heartbeat timeout (its server stopped or
died) is listed offline.

A report about a worker connected here is not taken: this server knows better (a report
from the server it just left may arrive after it connected here).

An account moved, deleted, edited or logged out through one server is told to the others
(`account_changed`): each tells its own workers what the database now says (WorkerLink
.reconcile), so the worker that held it on another server lets it go (`master:task:revoke`)
and no account is run by two workers at once.

A reply queued through a server whose outbox cannot send it (the account's worker is
connected to another server) is sent by the server that has the worker; that server reads
the shared queue every few seconds anyway (Outbox.poll_s), and is told at once
(`replies_waiting`), so the reply leaves now. Taking a reply is atomic: one server sends it.
"""
from __future__ import annotations

import time
from dataclasses import asdict, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.engine.events import MessageStatusChanged
from app.engine.holders import NoHolder
from app.engine.store.models import ReplyStatus
from app.engine.workers import OFFLINE, ONLINE, WorkerInfo

if TYPE_CHECKING:
    from .link import WorkerLink

WORKER = "worker"  # a server's report of one of its workers
WHO = "workers?"  # a server started: the others tell it their workers
ACCOUNT = "account"  # an account changed through a server: the others' workers hear of it
REPLIES = "replies"  # a server's outbox left replies for want of a worker: the others look now


def info_body(info: WorkerInfo) -> dict[str, Any]:
    body = asdict(info)
    body["last_heartbeat"] = info.last_heartbeat.isoformat() if info.last_heartbeat else None
    return body


def info_from(body: dict[str, Any]) -> WorkerInfo:
    at = body.get("last_heartbeat")
    return WorkerInfo(**{**body, "capabilities": tuple(body.get("capabilities") or ()),
                         "accounts": tuple(body.get("accounts") or ()),
                         "last_heartbeat": datetime.fromisoformat(at) if at else None})


class Elsewhere:
    def __init__(self, link: WorkerLink) -> None:
        self._link = link
        self._peers = link.server.peers
        self._heard: dict[str, float] = {}  # worker id -> when another server last reported it
        self._peers.on(WORKER, self._reported)
        self._peers.on(WHO, self._asked)
        self._peers.on(ACCOUNT, self._account_changed)
        self._peers.on(REPLIES, self._replies_waiting)

    def tell(self, info: WorkerInfo) -> None:
        """One of this server's workers, as it was just reported here."""
        self._heard.pop(info.id, None)
        self._peers.tell(WORKER, info_body(info))

    def ask(self) -> None:
        self._peers.tell(WHO, {})

    def account_changed(self, account_id: str) -> None:
        self._peers.tell(ACCOUNT, {"account_id": account_id})

    def replies_waiting(self, event: MessageStatusChanged) -> None:
        """This server's outbox left a reply queued: no worker here holds its account."""
        if event.status == ReplyStatus.QUEUED.value and event.wait_code == NoHolder.code:
            self._peers.tell(REPLIES, {"account_id": event.account_id})

    def connected_elsewhere(self, worker_id: str) -> bool:
        info = self._link.engine.remote_workers.get(worker_id)
        return worker_id in self._heard and info is not None and info.state == ONLINE

    def expire(self, timeout_s: float) -> None:
        """Workers of other servers not heard of for `timeout_s`: offline."""
        now = time.monotonic()
        for worker_id, heard in list(self._heard.items()):
            if now - heard > timeout_s:
                del self._heard[worker_id]
                info = self._link.engine.remote_workers.get(worker_id)
                if info is not None and info.state == ONLINE:
                    self._link.engine.remote_workers.report(replace(info, state=OFFLINE))

    async def _reported(self, body: dict[str, Any]) -> None:
        info = info_from(body)
        local = self._link.workers.get(info.id)
        if local is not None and local.connected:
            return
        self._heard[info.id] = time.monotonic()
        accounts = self._link.bound_elsewhere(info.id, info.accounts)
        self._link.engine.remote_workers.report(replace(info, accounts=accounts))

    async def _asked(self, body: dict[str, Any]) -> None:
        for worker in list(self._link.workers.values()):
            if worker.connected:
                self._link.report(worker)

    async def _account_changed(self, body: dict[str, Any]) -> None:
        if isinstance(body.get("account_id"), str):
            await self._link.reconcile(body["account_id"])

    async def _replies_waiting(self, body: dict[str, Any]) -> None:
        self._link.engine.outbox.wake()
