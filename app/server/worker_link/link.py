"""WorkerLink: the `/worker` namespace, master side (PROTOCOL.md §2, /work/shared worker brief).

A worker connects with the token, emits `join_room` and registers (`worker:register`, on
every connect; idempotent). From then on it holds the accounts bound to its id (RemoteHolder,
registered in engine.holders while it is connected), beats every 10 s and sends its data.
A worker that disconnects is unregistered at once; its accounts stay bound to it. Once its
last heartbeat is older than `heartbeat_timeout_s` (30 s; a connected worker that stops
beating is disconnected then), its accounts are dealt to another connected worker with room
and their platform (`master:task:assign`), else they stay bound and wait.

Changes made elsewhere reach the workers too: the link follows AccountsChanged and tells
the old worker `master:task:revoke` and the new one `master:task:assign` when an account
moves (the console moving it, an IM client deleting it); an account edited in place
(monitoring switched off, another proxy) or logged out by the operator is assigned again to
its worker, which updates what it holds.

Every handler answers bad input with an error (`<type>:error` for an envelope,
`<event>:error` for a direct event) and never lets an exception through: one worker's bad
message never stops the others being served. Each connection keeps within the IM
namespace's rate (app/server/im/limits.py, the same TokenBucket); a message over it is
answered with that error unread. A hiscrm/1 worker sends one delta at a time and keeps it
until acknowledged, so a refused delta is sent again, not lost.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable

from pydantic import BaseModel, ValidationError
from socketio.exceptions import ConnectionRefusedError

from app.engine.events import AccountsChanged, AccountStatusChanged, MessageStatusChanged
from app.engine.store.models import LoginStatus as AccountLoginStatus
from app.engine.workers import LOCAL_ID, OFFLINE, ONLINE, WorkerInfo

from ..app import MAX_PAYLOAD, packet_size
from ..auth import REFUSED
from ..im.limits import BURST, RATE_PER_S, TokenBucket
from . import data
from .dealing import account_for_worker
from .elsewhere import Elsewhere
from .envelope import describe, envelope, error_envelope, parse, type_of
from .payloads import (
    AccountStatuses,
    Delta,
    Heartbeat,
    JoinRoom,
    LoginStatus,
    Register,
    ReplyFound,
    ReplyResult,
    Storage,
)
from .remote import REPLY_TIMEOUT_S, RemoteHolder, RemoteWorker

if TYPE_CHECKING:
    from app.engine.accounts import AccountRow

    from ..app import EmbeddedServer

log = logging.getLogger(__name__)

NAMESPACE = "/worker"
HEARTBEAT_TIMEOUT_S = 30.0
LIVENESS_ENV = "HISCRM_WORKER_TIMEOUT_S"  # another timeout for this process (tests: a few seconds)
SYNC_ACK = "WORKER_DATA_SYNC_ACK"  # the original's literal ack type (§2.1)
MONITOR_STATES = frozenset({"active", "hibernating", "backoff", "stopped", "crashed"})
LOGIN_STATUSES = frozenset(s.value for s in AccountLoginStatus)
# The original worker's legacy messages (§2.1, §2.2): known, and ignored without an error.
LEGACY_TYPES = frozenset({"worker:messages:update", "worker:comments:update", "worker:contents:update",
                          "worker:conversations:update", "worker:notifications:update",
                          "worker:account-restarted", "master:account:config_update:ack",
                          "worker:account:logout:ack"})
LEGACY_EVENTS = frozenset({"worker:login:qrcode", "worker:login:error", "worker:message:detected",
                           "worker:bulk_insert_comments", "worker:bulk_insert_messages",
                           "worker:bulk_insert_contents", "worker:push_new_comments", "worker:push_new_messages",
                           "worker:notification:push"})
# Legacy login events handled like the status they stand for (§2.2).
LEGACY_LOGIN = {"worker:login:qrcode:ready": "qrcode_ready", "worker:login:qrcode:refreshed": "qrcode_refreshed",
                "worker:login:failed": "failed"}


class BadInput(ValueError):
    """What a worker sent cannot be used; the message says why (sent back to it)."""


class WorkerLink:
    def __init__(self, server: EmbeddedServer, *, heartbeat_timeout_s: float | None = None,
                 reply_timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self.server = server
        self.engine = server.engine
        self.sio = server.sio
        if heartbeat_timeout_s is None:
            heartbeat_timeout_s = float(os.environ.get(LIVENESS_ENV) or HEARTBEAT_TIMEOUT_S)
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self.workers: dict[str, RemoteWorker] = {}
        self._sids: dict[str, str] = {}  # socket id -> worker id
        self._buckets: dict[str, TokenBucket] = {}  # socket id -> its rate
        self.rate: tuple[float, int] = (RATE_PER_S, BURST)  # per connection: sustained per second, burst
        self._bound: dict[str, str] = {}  # account id -> remote worker id, as last told to workers
        self._echoes = _Echoes()  # events of changes the link made itself: the worker knows them
        self.elsewhere = Elsewhere(self)  # the workers of the other servers on the same Redis
        self._lock = asyncio.Lock()  # dealing and reassigning: one account, one worker
        self._started_at = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._install()

    # ---- Lifecycle (the server's aiohttp application starts and stops it)

    def _install(self) -> None:
        on = self.sio.on
        on("connect", self._connect, namespace=NAMESPACE)
        on("disconnect", self._disconnect, namespace=NAMESPACE)
        on("join_room", self._guarded("join_room", self._join_room), namespace=NAMESPACE)
        on("message", self._message, namespace=NAMESPACE)
        on("worker:reply:result", self._guarded("worker:reply:result", self._reply_result), namespace=NAMESPACE)
        on("worker:reply:found", self._guarded("worker:reply:found", self._reply_found), namespace=NAMESPACE)
        on("worker:login:status", self._guarded("worker:login:status", self._login_status), namespace=NAMESPACE)
        for event, status in LEGACY_LOGIN.items():
            on(event, self._guarded(event, self._legacy_login(status)), namespace=NAMESPACE)
        on("worker:login:success", self._guarded("worker:login:success", self._legacy_success), namespace=NAMESPACE)
        on("worker:get_history_ids", self._guarded("worker:get_history_ids", self._history_ids), namespace=NAMESPACE)
        on("*", self._other_event, namespace=NAMESPACE)
        self.server.web.on_startup.append(self._startup)
        self.server.web.on_cleanup.append(self._cleanup)

    async def _startup(self, _app: Any) -> None:
        self._started_at = time.monotonic()
        self._bound = {a.id: a.worker_id for a in await self.engine.accounts.list() if a.worker_id}
        held: dict[str, tuple[str, ...]] = {}
        for account_id, worker_id in sorted(self._bound.items()):
            held[worker_id] = (*held.get(worker_id, ()), account_id)
        await self.engine.remote_workers.load(held)  # the workers known before: offline until they connect
        self.elsewhere.ask()  # those connected to the other servers: live
        unsubscribe = [self.engine.bus.subscribe(AccountsChanged, self._accounts_changed),
                       self.engine.bus.subscribe(AccountStatusChanged, self._logged_out),
                       self.engine.bus.subscribe(MessageStatusChanged, self.elsewhere.replies_waiting)]
        self._unsubscribe = lambda: [u() for u in unsubscribe]
        self._tasks = [asyncio.create_task(self._sweeper(), name="worker liveness")]

    async def _cleanup(self, _app: Any) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for worker in self.workers.values():
            if worker.connected:
                self._went_away(worker)

    # ---- Connection, room, registration

    async def _connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        if not self.server.admits(environ, auth):
            raise ConnectionRefusedError(REFUSED)
        self._buckets[sid] = TokenBucket(*self.rate)

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        self._buckets.pop(sid, None)
        worker = self._worker_of(sid)
        if worker is not None:
            log.info("worker %s disconnected (%s)", worker.id, reason or "gone")
            self._went_away(worker)
            await self._save(worker)

    async def _join_room(self, sid: str, raw: Any) -> bool:
        join = _parse(JoinRoom, raw)
        await self.sio.enter_room(sid, f"worker:{join.workerId}", namespace=NAMESPACE)
        await self._bind(sid, join.workerId)
        return True

    async def _bind(self, sid: str, worker_id: str) -> RemoteWorker:
        """The socket speaks for this worker (from join_room, register or a heartbeat: an
        original worker does not register again after a reconnect)."""
        if worker_id == LOCAL_ID:
            raise BadInput(f"a worker cannot be called {LOCAL_ID!r} (the console's own pool is)")
        known = self._sids.get(sid)
        if known is not None and known != worker_id:
            raise BadInput(f"this connection is worker {known}, not {worker_id}")
        worker = self.workers.get(worker_id)
        if worker is None:
            worker = self.workers[worker_id] = RemoteWorker(worker_id)
            worker.capabilities = frozenset(a.platform for a in await self._accounts_of(worker_id))
        if worker.sid != sid:
            if worker.sid is not None:  # the same worker on a new socket: the old one is stale
                old, worker.sid = worker.sid, None
                self._sids.pop(old, None)
                await self.sio.disconnect(old, namespace=NAMESPACE)
            worker.sid = sid
            self._sids[sid] = worker_id
            worker.last_heartbeat, worker.last_heartbeat_at = time.monotonic(), _now()
            if worker.holder is None:
                worker.holder = RemoteHolder(worker, self.engine, self._emitter(worker),
                                             reply_timeout_s=self.reply_timeout_s)
            worker.holder.reply_timeout_s = self.reply_timeout_s
            self.engine.holders.register(worker.holder)
            log.info("worker %s connected", worker_id)
            self.report(worker)
        return worker

    def _went_away(self, worker: RemoteWorker) -> None:
        """Unregistered at once; its accounts stay bound (reassigned after the timeout)."""
        if worker.sid is not None:
            self._sids.pop(worker.sid, None)
        worker.sid = None
        self.engine.holders.unregister(worker.id)
        if worker.holder is not None:
            worker.holder.disconnected()
        self.report(worker)

    async def _register(self, sid: str, raw: dict[str, Any]) -> dict[str, Any]:
        reg = _parse(Register, raw)
        worker = await self._bind(sid, reg.worker_id)
        worker.host, worker.port, worker.version = reg.host, reg.port, reg.version
        worker.capabilities, worker.max_accounts = frozenset(reg.capabilities), reg.max_accounts
        worker.protocol = reg.protocol
        worker.applied_seq = max(worker.applied_seq, reg.resume_seq)  # acked: applied (ack after commit)
        accounts = await self._deal(worker)
        items = [await account_for_worker(self.engine, a, hiscrm=worker.hiscrm) for a in accounts]
        self.report(worker)
        await self._save(worker)
        log.info("worker %s registered (%s, %d accounts)", worker.id, worker.protocol or "original", len(items))
        return {"success": True, "assigned_accounts": items, "acked_seq": worker.applied_seq}

    async def _deal(self, worker: RemoteWorker) -> list[AccountRow]:
        """Its accounts; with the local pool switched off, also unbound monitored accounts
        of its platforms up to max_accounts (bound to it now)."""
        async with self._lock:
            accounts = await self.engine.accounts.list()
            mine = [a for a in accounts if a.worker_id == worker.id]
            if not self.engine.pool.enabled:
                for account in accounts:
                    if len(mine) >= worker.max_accounts:
                        break
                    if account.worker_id is None and account.monitor_enabled and account.platform in worker.capabilities:
                        await self._bind_account(account.id, worker.id)
                        mine.append(account)
            return mine

    async def _bind_account(self, account_id: str, worker_id: str) -> None:
        """Bind it here; the worker is told by the caller (register ack or task:assign), so
        the AccountsChanged this publishes is not told again. The other servers are (a
        worker of theirs may still hold it)."""
        self._bound[account_id] = worker_id
        async with self._echoes.expect(("moved", account_id)):
            await self.engine.holders.assign(account_id, worker_id)
        self.elsewhere.account_changed(account_id)

    # ---- Liveness and reassignment

    async def _heartbeat(self, sid: str, raw: dict[str, Any]) -> dict[str, Any]:
        beat = _parse(Heartbeat, raw)
        worker = await self._bind(sid, beat.worker_id)
        worker.last_heartbeat, worker.last_heartbeat_at = time.monotonic(), _now()
        worker.memory_mb, worker.cpu_percent, worker.active_tasks = beat.memory_usage, beat.cpu_usage, beat.active_tasks
        self.report(worker)
        if worker.last_heartbeat - worker.saved_at >= self.heartbeat_timeout_s / 3:
            await self._save(worker)  # other servers on this database see it alive (_reassign)
        return {"success": True}

    async def _sweeper(self) -> None:
        while True:
            # Ticks of at most a second, read anew each time: a timeout changed while the
            # link runs (tests, a setting) applies at once. A tick reads the database only
            # when some account waits for a worker that is away.
            await asyncio.sleep(max(0.05, min(1.0, self.heartbeat_timeout_s / 3)))
            try:
                await self.check_liveness()
            except Exception:
                log.exception("worker liveness check failed; trying again")

    async def check_liveness(self) -> None:
        """Drop workers silent for longer than the timeout; deal the accounts of workers
        gone that long to connected ones."""
        now = time.monotonic()
        for worker in list(self.workers.values()):
            if worker.connected and now - worker.last_heartbeat > self.heartbeat_timeout_s:
                log.warning("worker %s sent no heartbeat for %.0f s: dropped", worker.id, now - worker.last_heartbeat)
                sid = worker.sid
                self._went_away(worker)
                await self.sio.disconnect(sid, namespace=NAMESPACE)
                await self._save(worker)
        self.elsewhere.expire(self.heartbeat_timeout_s)
        await self._reassign(now)

    async def _reassign(self, now: float) -> None:
        if not any(self._gone_since(w, now) for w in set(self._bound.values())):
            return  # nothing waits for a worker gone longer than the timeout
        async with self._lock:
            # A worker connected to another server on the same database is not gone: that
            # server keeps its row in the workers table beating (see _heartbeat).
            elsewhere = await self.engine.remote_workers.alive_elsewhere(self.heartbeat_timeout_s, _now())
            accounts = await self.engine.accounts.list()
            load: dict[str, int] = {}
            for account in accounts:
                if account.worker_id:
                    load[account.worker_id] = load.get(account.worker_id, 0) + 1
            for account in accounts:
                gone = account.worker_id and self._gone_since(account.worker_id, now)
                if not gone or account.worker_id in elsewhere or self.elsewhere.connected_elsewhere(account.worker_id):
                    continue
                target = self._with_room(account.platform, load)
                if target is None:
                    continue  # it waits (for its worker, or one with room)
                log.warning("account %s: worker %s is gone; dealt to worker %s", account.id, account.worker_id, target.id)
                await self._bind_account(account.id, target.id)
                load[target.id] = load.get(target.id, 0) + 1
                load[account.worker_id] -= 1
                await self._assign_message(target, account.id)
                self.report(target)
                if account.worker_id in self.workers:
                    self.report(self.workers[account.worker_id])

    def _gone_since(self, worker_id: str, now: float) -> bool:
        """Whether the account's worker is away for longer than the timeout (a worker never
        seen in this run: counted from the link's start)."""
        worker = self.workers.get(worker_id)
        if worker is not None and worker.connected:
            return False
        silent_since = worker.last_heartbeat if worker is not None else self._started_at
        return now - silent_since > self.heartbeat_timeout_s

    def _with_room(self, platform: str, load: dict[str, int]) -> RemoteWorker | None:
        candidates = [w for w in self.workers.values()
                      if w.connected and platform in w.capabilities and load.get(w.id, 0) < w.max_accounts]
        return min(candidates, key=lambda w: (load.get(w.id, 0), w.id), default=None)

    async def _accounts_changed(self, event: AccountsChanged) -> None:
        """Tell workers about bindings changed elsewhere (moved, deleted), and the other
        servers, whose workers may hold the account."""
        if event.account_id is None:
            return
        if self._echoes.heard(("moved", event.account_id)):
            return
        self.elsewhere.account_changed(event.account_id)
        await self.reconcile(event.account_id)

    async def reconcile(self, account_id: str) -> None:
        """Tell this server's workers what the database now says of the account: moved away
        (`master:task:revoke`), moved to one of them, or edited in place (assigned again).
        Under the dealing lock: a binding read before a deal's commit and compared after it
        would revoke the account just dealt."""
        async with self._lock:
            before = self._bound.get(account_id)
            account = await self.engine.accounts.get(account_id)
            now_bound = account.worker_id if account is not None else None
            if now_bound == before:  # edited in place: its worker updates what it holds
                await self._update(account_id)
                return
            if now_bound is None:
                self._bound.pop(account_id, None)
            else:
                self._bound[account_id] = now_bound
            old, new = self.workers.get(before or ""), self.workers.get(now_bound or "")
            if old is not None and old.connected:
                await self._send(old, "master:task:revoke", {"account_id": account_id})
                self.report(old)
            if new is not None and new.connected:
                await self._assign_message(new, account_id)
                self.report(new)

    async def _logged_out(self, event: AccountStatusChanged) -> None:
        """The operator logged the account out (its session forgotten): its worker too,
        wherever it is connected."""
        if self._echoes.heard(("status", event.account_id)):
            return  # what its worker reported
        if event.login_status == AccountLoginStatus.NOT_LOGGED_IN.value:
            self.elsewhere.account_changed(event.account_id)
            await self._update(event.account_id)

    async def _update(self, account_id: str) -> None:
        worker = self.workers.get(self._bound.get(account_id) or "")
        if worker is not None and worker.connected:
            await self._assign_message(worker, account_id)

    async def _assign_message(self, worker: RemoteWorker, account_id: str) -> None:
        account = await self.engine.accounts.get(account_id)
        if account is not None:
            await self._send(worker, "master:task:assign", await account_for_worker(self.engine, account,
                                                                                   hiscrm=worker.hiscrm))

    # ---- What workers report

    async def _account_status(self, sid: str, raw: dict[str, Any]) -> dict[str, Any]:
        report = _parse(AccountStatuses, raw)
        worker = self._registered(sid)
        updated = failed = 0
        for entry in report.account_statuses:
            account = await self.engine.accounts.get(entry.account_id)
            if account is None or account.worker_id != worker.id:  # not its account (any more)
                failed += 1
                continue
            state = entry.status.get("monitor_state")
            if state in MONITOR_STATES:
                worker.account_states[entry.account_id] = state
            login = entry.status.get("login_status")
            logging_in = AccountLoginStatus.LOGGING_IN.value  # the master's login session owns it meanwhile
            if login in LOGIN_STATUSES and login != account.login_status and logging_in not in (login, account.login_status):
                error = entry.status.get("last_error_message")
                async with self._echoes.expect(("status", entry.account_id)):
                    await self.engine.accounts.set_login_status(entry.account_id, login,
                                                                error=error[:2000] if isinstance(error, str) else None)
            updated += 1
        self.report(worker)
        return {"success": True, "updated": updated, "failed": failed}

    async def _delta(self, sid: str, raw: dict[str, Any]) -> dict[str, Any] | None:
        try:
            delta = _parse(Delta, raw)
        except BadInput as exc:
            seq = raw.get("seq")
            if type(seq) is int and seq >= 1:  # it can never be stored: the worker drops it
                return {"seq": seq, "success": False, "error": str(exc)}
            raise
        try:
            return await data.apply_delta(self.engine, self._registered(sid), delta)
        except data.NotStored as exc:
            log.error("delta %d of worker %s not stored (%s); it will be sent again", delta.seq,
                      self._sids.get(sid), exc)
            return None

    async def _storage(self, sid: str, raw: dict[str, Any]) -> dict[str, Any]:
        return await data.save_storage(self.engine, self._registered(sid), _parse(Storage, raw))

    async def _reply_result(self, sid: str, raw: Any) -> None:
        result = _parse(ReplyResult, raw)
        if not self._registered(sid).holder.answer(result.request_id, result):
            log.info("worker %s answered reply request %s, which nobody waits for any more",
                     self._sids.get(sid), result.request_id)

    async def _reply_found(self, sid: str, raw: Any) -> None:
        found = _parse(ReplyFound, raw)
        self._registered(sid).holder.answer(found.request_id, found)

    async def _login_status(self, sid: str, raw: Any) -> None:
        status = _parse(LoginStatus, raw)
        relay = self._registered(sid).holder.logins.get(status.session_id)
        if relay is None:
            raise BadInput(f"no login session {status.session_id} on this worker")
        relay.status(status)

    def _legacy_login(self, status: str) -> Callable[[str, Any], Awaitable[None]]:
        async def handle(sid: str, raw: Any) -> None:
            await self._login_status(sid, {**raw, "status": status} if isinstance(raw, dict) else raw)
        return handle

    async def _legacy_success(self, sid: str, raw: Any) -> None:
        """With a session id: the original's login success; without: a profile refresh,
        which is not applied (the next login records the profile)."""
        if isinstance(raw, dict) and raw.get("session_id"):
            await self._login_status(sid, {**raw, "status": "success"})

    async def _history_ids(self, sid: str, raw: Any = None, *_more: Any) -> dict[str, Any]:
        """The original worker asks which ids the master has, and waits 10 s for an answer
        its master never gave (§8.15). Answered at once: not kept here (it sends what it
        finds, and the merge keeps what is known)."""
        return {"success": False, "error": "this master does not hand out history ids",
                "commentIds": [], "videoIds": [], "messageIds": []}

    async def _snapshot(self, sid: str, raw: dict[str, Any]) -> dict[str, Any]:
        self._registered(sid)
        answer = await data.apply_snapshot(self.engine, raw)
        return {**answer, "timestamp": int(time.time() * 1000)}

    # ---- Dispatch

    async def _message(self, sid: str, raw: Any = None, *_more: Any) -> Any:
        type_ = type_of(raw)
        request_id = raw.get("requestId") if isinstance(raw, dict) and isinstance(raw.get("requestId"), str) else None
        try:
            self._check_limits(sid, "message")
            message = parse(raw)
            handler = self._types.get(message.type)
            if handler is None:
                if message.type in LEGACY_TYPES:
                    return None
                raise BadInput(f"unknown message type {message.type!r}")
            answer_type, handle = handler
            answer = await handle(self, sid, message.payload)
        except (BadInput, ValueError) as exc:
            await self._answer(sid, error_envelope(type_, str(exc), request_id))
            return None
        except Exception:
            log.exception("worker message %s failed", type_)
            await self._answer(sid, error_envelope(type_, "the master could not handle the message", request_id))
            return None
        if answer is not None and answer_type is not None:
            await self._answer(sid, envelope(answer_type, answer, message.requestId))
        return None

    _types: dict[str, tuple[str | None, Callable[..., Awaitable[Any]]]] = {
        "worker:register": ("worker:register:ack", _register),
        "worker:heartbeat": ("worker:heartbeat:ack", _heartbeat),
        "worker:account:status": ("worker:account:status:ack", _account_status),
        "worker:data:delta": ("worker:data:delta:ack", _delta),
        "worker:data:sync": (SYNC_ACK, _snapshot),
        "worker:account:storage": ("worker:account:storage:ack", _storage),
    }

    def _guarded(self, event: str, handle: Callable[[str, Any], Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """A direct event's handler: bad input answered `<event>:error` (and in the ack)."""
        async def guarded(sid: str, raw: Any = None, *_more: Any) -> Any:
            try:
                self._check_limits(sid, "event")
                return await handle(sid, raw)
            except (BadInput, ValueError) as exc:
                error = str(exc)
            except Exception:
                log.exception("worker event %s failed", event)
                error = "the master could not handle the event"
            await self.sio.emit(f"{event}:error", {"success": False, "error": error}, to=sid, namespace=NAMESPACE)
            return {"success": False, "error": error}
        return guarded

    async def _other_event(self, event: str, sid: str, *args: Any) -> Any:
        try:
            self._check_limits(sid, "event")
        except BadInput as exc:
            error = str(exc)
        else:
            if event in LEGACY_EVENTS:
                return None
            error = f"unknown event {event[:64]!r}"
        await self.sio.emit(f"{event[:64]}:error", {"success": False, "error": error}, to=sid, namespace=NAMESPACE)
        return {"success": False, "error": error}

    def _check_limits(self, sid: str, what: str) -> None:
        """BadInput when the connection is over its rate or the packet over MAX_PAYLOAD."""
        bucket = self._buckets.get(sid)
        if bucket is not None and not bucket.allow():
            raise BadInput(f"too many messages from this connection: slow down (at most {bucket.rate:g} a second)")
        if packet_size() > MAX_PAYLOAD:
            raise BadInput(f"the {what} is too large ({packet_size():,} bytes; at most {MAX_PAYLOAD:,})")

    # ---- Helpers

    def _worker_of(self, sid: str) -> RemoteWorker | None:
        worker_id = self._sids.get(sid)
        return self.workers.get(worker_id) if worker_id else None

    def _registered(self, sid: str) -> RemoteWorker:
        worker = self._worker_of(sid)
        if worker is None or worker.holder is None:
            raise BadInput("join_room or worker:register first")
        return worker

    async def _accounts_of(self, worker_id: str) -> list[AccountRow]:
        return [a for a in await self.engine.accounts.list() if a.worker_id == worker_id]

    def _emitter(self, worker: RemoteWorker) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
        async def emit(event: str, payload: dict[str, Any]) -> None:
            if worker.sid is not None:
                await self.sio.emit(event, payload, to=worker.sid, namespace=NAMESPACE)
        return emit

    async def _send(self, worker: RemoteWorker, type_: str, payload: dict[str, Any]) -> None:
        if worker.sid is not None:
            await self._answer(worker.sid, envelope(type_, payload))

    async def _answer(self, sid: str, message: dict[str, Any]) -> None:
        await self.sio.emit("message", message, to=sid, namespace=NAMESPACE)

    async def _save(self, worker: RemoteWorker) -> None:
        """Its entry in the workers table (a restarted master lists it; another server on the
        same database sees it alive); a failure is logged: the worker is served all the same."""
        info = self.engine.remote_workers.get(worker.id)
        if info is None:
            return
        worker.saved_at = time.monotonic()
        try:
            await self.engine.remote_workers.save(info)
        except Exception:
            log.warning("could not keep worker %s in the workers table", worker.id, exc_info=True)

    def report(self, worker: RemoteWorker) -> None:
        """Its entry in the engine's worker list (Workers view, monitor:request_workers), and
        the connected count the console's server section shows."""
        connected = sum(1 for w in self.workers.values() if w.connected)
        if connected != self.server.workers:
            self.server.workers = connected
            if self.server.running:
                self.engine.bus.publish(self.server.status())
        accounts = tuple(sorted(a for a, w in self._bound.items() if w == worker.id))
        info = WorkerInfo(
            id=worker.id, remote=True, state=ONLINE if worker.connected else OFFLINE, host=worker.host,
            port=worker.port, version=worker.version, capabilities=tuple(sorted(worker.capabilities)),
            max_accounts=worker.max_accounts, accounts=accounts, memory_mb=worker.memory_mb,
            cpu_percent=worker.cpu_percent, active_tasks=worker.active_tasks,
            last_heartbeat=worker.last_heartbeat_at, protocol=worker.protocol,
            account_states={a: s for a, s in worker.account_states.items() if a in accounts},
        )
        self.engine.remote_workers.report(info)
        self.elsewhere.tell(info)

    def bound_elsewhere(self, worker_id: str, accounts: tuple[str, ...]) -> tuple[str, ...]:
        """Another server says which accounts its worker holds now (elsewhere.py): this
        server's workers that held one of them are listed without it. Not an account one
        of this server's connected workers holds: that report is older than the move here
        (a move there reaches `reconcile` first, through `account_changed`). Returns the
        accounts taken."""
        accounts = tuple(a for a in accounts if not self._held_here(a))
        moved = {self._bound.get(a) for a in accounts} - {worker_id, None}
        for account_id, bound in list(self._bound.items()):
            if bound == worker_id and account_id not in accounts:
                del self._bound[account_id]
        self._bound.update(dict.fromkeys(accounts, worker_id))
        for moved_from in moved:
            if moved_from in self.workers:
                self.report(self.workers[moved_from])
        return accounts

    def _held_here(self, account_id: str) -> bool:
        worker = self.workers.get(self._bound.get(account_id) or "")
        return worker is not None and worker.connected


class _Echoes:
    """Bus events of changes the link made itself, to be heard once and not acted on (the
    worker concerned already knows): each change publishes exactly one event."""

    def __init__(self) -> None:
        self._expected: Counter[tuple[str, str]] = Counter()

    @contextlib.asynccontextmanager
    async def expect(self, key: tuple[str, str]) -> AsyncIterator[None]:
        self._expected[key] += 1
        try:
            yield
        except BaseException:  # nothing changed, nothing will be heard
            self._consume(key)
            raise

    def heard(self, key: tuple[str, str]) -> bool:
        """Whether this event is the echo of such a change (then it is consumed)."""
        return self._consume(key)

    def _consume(self, key: tuple[str, str]) -> bool:
        if self._expected[key] <= 0:
            self._expected.pop(key, None)
            return False
        self._expected[key] -= 1
        if not self._expected[key]:
            del self._expected[key]
        return True


def _parse(model: type[BaseModel], raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise BadInput(f"the payload must be an object, not {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise BadInput(describe(exc)) from None


def _now() -> datetime:
    return datetime.now(timezone.utc)
