"""MasterLink: the worker's Socket.IO connection to its master's `/worker` namespace.

    link = MasterLink(engine, journal, answered, LinkOptions(master_url, token, worker_id))
    await link.start()      # connected (retrying until the master answers); Refused: bad token
    ...
    await link.stop()

On every connect (python-socketio reconnects by itself, with a growing randomised delay):
`join_room`, then `worker:register` with the platforms this worker has, its capacity and
the last delta seq the master acknowledged; the ack's account list is what this worker
holds from then on (assignments.py). Once registered, four loops run while connected: the
heartbeat (10 s), the account statuses (on change and every 60 s), the saved sessions
(`worker:account:storage`, whenever the engine saves one) and the journal's deltas, sent
in seq order, one at a time, each deleted when the master answers for it (journal.py).
Nothing is lost while the master is away: deltas wait in the journal, sessions and
statuses are sent after the next registration.

Every payload from the master is validated (wire.py); a malformed one is logged and
answered where the protocol has an answer, and never stops the worker.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import socketio
from pydantic import ValidationError

from ..engine.events import AccountStatusChanged, SessionSaved
from . import wire
from .answered import AnsweredReplies
from .assignments import Assignments
from .journal import Delta, DeltaJournal
from .login_relay import LoginRelay
from .replies import ReplyDesk
from .reports import Reports

if TYPE_CHECKING:
    from ..engine.engine import Engine

log = logging.getLogger(__name__)

STATUS_COALESCE_S = 0.5


class Refused(Exception):
    """The master refused this worker at connect (a wrong or missing token)."""


@dataclass(frozen=True)
class LinkOptions:
    master_url: str
    token: str
    worker_id: str
    max_accounts: int = 10
    capabilities: tuple[str, ...] = ()
    version: str = "unknown"
    host: str = field(default_factory=socket.gethostname)
    port: int = 0  # a HisCRM worker listens on nothing
    heartbeat_s: float = 10.0
    status_s: float = 60.0
    ack_timeout_s: float = 30.0
    reconnect_delay_s: float = 1.0
    reconnect_delay_max_s: float = 30.0
    result_wait_s: float = 60.0  # an answer found no connection: how long it waits for one


class MasterLink:
    def __init__(self, engine: "Engine", journal: DeltaJournal, answered: AnsweredReplies,
                 options: LinkOptions) -> None:
        self._engine = engine
        self._journal = journal
        self.options = options
        self.sio = socketio.AsyncClient(
            reconnection=True, reconnection_delay=options.reconnect_delay_s,
            reconnection_delay_max=options.reconnect_delay_max_s, randomization_factor=0.5,
            logger=False, engineio_logger=False)
        self.registered = asyncio.Event()  # connected and registered: the loops may send
        self.registrations = 0
        self.assignments = Assignments(engine)
        self.replies = ReplyDesk(engine, answered, self._emit)
        self.logins = LoginRelay(engine, self._emit)
        self.reports = Reports(engine, options.worker_id)
        self._register_ack: asyncio.Future[dict[str, Any]] | None = None
        self._delta_acks: dict[int, asyncio.Future[wire.DeltaAck]] = {}
        self._refusal: str | None = None
        self._session_task: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: list[Any] = []
        self._deltas_due = asyncio.Event()
        self._statuses_due = asyncio.Event()
        self._status_of: set[str] | None = set()  # accounts whose status changed (None: all)
        self._sessions_due = asyncio.Event()
        self._sessions: set[str] = set()  # accounts whose saved session the master has not had
        journal.on_append(self._deltas_due.set)
        ns = wire.NAMESPACE
        self.sio.on("connect", self._connected, namespace=ns)
        self.sio.on("connect_error", self._connect_error, namespace=ns)
        self.sio.on("disconnect", self._disconnected, namespace=ns)
        self.sio.on("message", _guarded("message", self._message), namespace=ns)
        for event, handler in (("master:reply:request", self.replies.request), ("master:reply:find", self.replies.find),
                               ("master:login:start", self.logins.start),
                               ("master:login:user_input", self.logins.user_input),
                               ("master:login:cancel", self.logins.cancel)):
            self.sio.on(event, _guarded(event, self._once_held(handler)), namespace=ns)

    # ---- Lifecycle

    async def start(self) -> None:
        """Connect, retrying (with backoff) while the master cannot be reached; Refused
        when it refuses the token: retrying would not help."""
        bus = self._engine.bus
        self._unsubscribe = [bus.subscribe(AccountStatusChanged, self._account_changed),
                             bus.subscribe(SessionSaved, self._session_saved)]
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(coro, name=f"worker link {coro.__name__}") for coro in (
            self._heartbeats(), self._statuses(), self._saved_sessions(), self._deltas())]
        try:
            await self._connect(refused_ends=True)
        except Refused:
            await self.stop()
            raise

    async def _connect(self, *, refused_ends: bool) -> None:
        """Connect, retrying with a growing delay; a refusal raises Refused if `refused_ends`
        (at start: the token is wrong), else it is retried too (the master's operator may
        be fixing it)."""
        delay = self.options.reconnect_delay_s
        if not refused_ends:  # a reconnect: the old connection is still closing
            await asyncio.sleep(delay)
        while True:
            self._refusal = None
            try:
                await self.sio.connect(self.options.master_url, auth={"token": self.options.token},
                                       namespaces=[wire.NAMESPACE], transports=["websocket"], wait_timeout=10)
                return
            except (socketio.exceptions.ConnectionError, ValueError) as exc:  # ValueError: still closing
                if self._refusal is not None and refused_ends:
                    raise Refused(f"the master at {self.options.master_url} refused this worker: "
                                  f"{self._refusal}") from None
                log.warning("the master at %s cannot be reached (%s); trying again in %.0f s",
                            self.options.master_url, self._refusal or exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.options.reconnect_delay_max_s)

    async def stop(self) -> None:
        self._stopping = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        self.logins.close()
        tasks = [*self._tasks, *(t for t in (self._session_task, self._reconnect_task) if t is not None)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []
        await self.sio.disconnect()

    # ---- Connection events

    async def _connected(self) -> None:
        log.info("connected to the master at %s", self.options.master_url)
        self._session_task = asyncio.get_running_loop().create_task(self._register(), name="worker register")

    def _connect_error(self, data: Any = None, *_more: Any) -> None:
        """The master's refusal comes as `{message}`; a connection that failed before
        reaching it (nothing listens yet) is reported here too, as a bare string."""
        if isinstance(data, dict):
            self._refusal = str(data.get("message") or "refused")
            log.warning("the master refused the connection: %s", self._refusal)

    def _disconnected(self, *reason: Any) -> None:
        log.warning("disconnected from the master%s", f" ({reason[0]})" if reason else "")
        self.registered.clear()
        if reason and reason[0] == self.sio.reason.SERVER_DISCONNECT and not self._stopping:
            # python-socketio reconnects after a lost connection, not after the master closed
            # it (a master that stops says goodbye): come back when it is back.
            self._reconnect_task = asyncio.get_running_loop().create_task(
                self._connect(refused_ends=False), name="worker reconnect")
        if self._session_task is not None:
            self._session_task.cancel()
        for ack in self._delta_acks.values():
            if not ack.done():
                ack.set_exception(ConnectionError("disconnected"))

    async def _register(self) -> None:
        """join_room, then register until the master acknowledges; hold what it deals."""
        try:
            await self._join_and_register()
        except (ConnectionError, socketio.exceptions.SocketIOError) as exc:  # gone meanwhile: next connect
            log.info("registration interrupted: %s", exc)

    async def _join_and_register(self) -> None:
        worker_id = self.options.worker_id
        try:
            await self.sio.call("join_room", {"room": f"worker:{worker_id}", "workerId": worker_id},
                                namespace=wire.NAMESPACE, timeout=self.options.ack_timeout_s)
        except socketio.exceptions.TimeoutError:
            log.warning("the master did not acknowledge join_room; registering anyway")
        while True:
            self._register_ack = asyncio.get_running_loop().create_future()
            await self._send("worker:register", {
                "worker_id": worker_id, "host": self.options.host, "port": self.options.port,
                "version": self.options.version, "capabilities": list(self.options.capabilities),
                "max_accounts": self.options.max_accounts, "protocol": wire.PROTOCOL,
                "resume_seq": self._journal.acked_seq()})
            try:
                async with asyncio.timeout(self.options.ack_timeout_s):
                    payload = await self._register_ack
                ack = wire.RegisterAck.model_validate(payload)
            except TimeoutError:
                log.warning("the master did not acknowledge the registration; registering again")
                continue
            except ValidationError as exc:
                log.error("the master's registration ack is unusable (%s); registering again shortly",
                          wire.problem(exc))
            else:
                if ack.success:
                    break
                log.error("the master refused the registration: %s; trying again shortly", ack.error)
            await asyncio.sleep(self.options.reconnect_delay_max_s)
        await self._journal.applied_up_to(ack.acked_seq)
        held = await self.assignments.hold_only(ack.assigned_accounts)
        log.info("registered with the master as %s; holding %d accounts", worker_id, len(held))
        self.registrations += 1
        self._status_of = None
        for due in (self._statuses_due, self._sessions_due, self._deltas_due):
            due.set()
        self.registered.set()

    def _once_held(self, handler: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        """A direct event runs once the accounts dealt before it are held here: the master
        may send a login or a reply right after the registration ack or an assign, whose
        handling runs as a task of its own."""
        async def run(payload: Any = None, *_more: Any) -> None:
            try:
                async with asyncio.timeout(self.options.ack_timeout_s):
                    await self.registered.wait()
            except TimeoutError:
                pass  # answered all the same: "not held here" is the truth then
            await self.assignments.settled()
            await handler(payload)

        return run

    # ---- What the master sends (enveloped)

    async def _message(self, data: Any = None, *_more: Any) -> None:
        try:
            message = wire.Envelope.model_validate(data)
        except ValidationError as exc:
            log.warning("ignored a malformed message from the master: %s", wire.problem(exc))
            return
        kind, payload = message.type, message.payload
        if kind == "worker:register:ack":
            if self._register_ack is not None and not self._register_ack.done():
                self._register_ack.set_result(payload)
        elif kind == "worker:data:delta:ack":
            self._delta_answered(payload)
        elif kind == "master:task:assign":
            await self.assignments.hold(payload)
        elif kind == "master:task:revoke":
            await self.assignments.revoke(payload)
        elif kind in ("master:account:wake", "master:account:restart"):
            await self._operator_action(kind, payload)
        elif kind == "worker:account:storage:ack" and not payload.get("success", True):
            log.error("the master could not save the session of %s: %s", payload.get("account_id"),
                      payload.get("error"))
        elif kind.endswith(":error"):
            log.warning("the master answered %s: %s", kind, payload.get("error"))
        else:  # heartbeat and status acks; types this worker has no use for
            log.debug("from the master: %s", kind)

    async def _operator_action(self, kind: str, payload: dict[str, Any]) -> None:
        """The operator opened the account (poll it now) or asked for its page to restart."""
        try:
            account_id = wire.AccountRef.model_validate(payload).account_id
        except ValidationError as exc:
            log.warning("ignored a malformed %s: %s", kind, wire.problem(exc))
            return
        try:
            if kind == "master:account:wake":
                await self._engine.wake_account(account_id)
            else:
                await self._engine.restart_account(account_id)
        except LookupError:
            log.info("%s for %s, which this worker does not hold", kind, account_id)

    def _delta_answered(self, payload: dict[str, Any]) -> None:
        try:
            ack = wire.DeltaAck.model_validate(payload)
        except ValidationError as exc:
            log.warning("ignored a malformed delta ack: %s", wire.problem(exc))
            return
        waiting = self._delta_acks.get(ack.seq)
        if waiting is not None and not waiting.done():
            waiting.set_result(ack)

    # ---- The loops (each sends only while registered)

    async def _heartbeats(self) -> None:
        while True:
            await self.registered.wait()
            await self._send_quietly("worker:heartbeat", self.reports.heartbeat())
            await asyncio.sleep(self.options.heartbeat_s)

    async def _statuses(self) -> None:
        while True:
            await self.registered.wait()
            try:
                async with asyncio.timeout(self.options.status_s):
                    await self._statuses_due.wait()
            except TimeoutError:
                self._status_of = None  # the periodic report: every account
            await asyncio.sleep(STATUS_COALESCE_S)
            self._statuses_due.clear()
            wanted, self._status_of = self._status_of, set()
            for payload in await self.reports.account_statuses(wanted):
                if payload["account_statuses"]:
                    await self._send_quietly("worker:account:status", payload)

    async def _saved_sessions(self) -> None:
        while True:
            await self._sessions_due.wait()
            await self.registered.wait()
            self._sessions_due.clear()
            for account_id in sorted(self._sessions):
                state = await self._engine.accounts.load_storage_state(account_id)
                if state is not None and not await self._send_quietly("worker:account:storage", {
                        "worker_id": self.options.worker_id, "account_id": account_id, "storage_state": state}):
                    break  # disconnected: the rest go after the next registration
                self._sessions.discard(account_id)

    async def _deltas(self) -> None:
        while True:
            await self.registered.wait()
            self._deltas_due.clear()
            pending = await self._journal.pending()
            if not pending:
                await self._deltas_due.wait()
                continue
            for delta in pending:
                if not await self._send_delta(delta):
                    await asyncio.sleep(self.options.reconnect_delay_s)  # then from the oldest again
                    break

    async def _send_delta(self, delta: Delta) -> bool:
        """Send one delta and wait for the master's answer; whether it answered."""
        answer: asyncio.Future[wire.DeltaAck] = asyncio.get_running_loop().create_future()
        self._delta_acks[delta.seq] = answer
        try:
            await self._send("worker:data:delta", {"worker_id": self.options.worker_id, "account_id": delta.account_id,
                                                   "seq": delta.seq, "batch": delta.batch})
            async with asyncio.timeout(self.options.ack_timeout_s):
                ack = await answer
        except (TimeoutError, ConnectionError, socketio.exceptions.SocketIOError) as exc:
            log.info("delta %d not acknowledged (%s); it will be sent again", delta.seq, exc or type(exc).__name__)
            return False
        finally:
            self._delta_acks.pop(delta.seq, None)
        if not ack.success:
            log.error("the master refused delta %d of %s for good (%s); dropped", delta.seq, delta.account_id,
                      ack.error)
        await self._journal.acknowledged(delta.seq)
        return True

    # ---- Sending

    async def _send(self, kind: str, payload: dict[str, Any]) -> None:
        if not self.sio.connected:
            raise ConnectionError("not connected to the master")
        await self.sio.emit("message", wire.envelope(kind, payload), namespace=wire.NAMESPACE)

    async def _send_quietly(self, kind: str, payload: dict[str, Any]) -> bool:
        try:
            await self._send(kind, payload)
        except (ConnectionError, socketio.exceptions.SocketIOError) as exc:
            log.debug("%s not sent: %s", kind, exc)
            return False
        return True

    async def _emit(self, event: str, payload: dict[str, Any]) -> None:
        """A direct event (a reply's result, a login step): when the connection is down it
        waits a while for the next registration; the master looks again after its own
        timeout (`master:reply:find`), so a result it never got sends nothing twice."""
        try:
            async with asyncio.timeout(self.options.result_wait_s):
                await self.registered.wait()
            await self.sio.emit(event, payload, namespace=wire.NAMESPACE)
        except (TimeoutError, ConnectionError, socketio.exceptions.SocketIOError) as exc:
            log.warning("%s for %s not delivered: %s", event, payload.get("request_id") or payload.get("session_id"),
                        exc or "no connection")

    # ---- Engine events

    def _account_changed(self, event: AccountStatusChanged) -> None:
        if self._status_of is not None:
            self._status_of.add(event.account_id)
        self._statuses_due.set()

    def _session_saved(self, event: SessionSaved) -> None:
        self._sessions.add(event.account_id)
        self._sessions_due.set()


def _guarded(event: str, handler: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """The last line of defence: a handler that fails is logged, and the link goes on (the
    handlers answer bad input themselves; this is for what nobody foresaw)."""
    async def run(*args: Any) -> None:
        try:
            await handler(*args)
        except Exception:
            log.exception("handling %s from the master failed", event)

    return run


__all__ = ["LinkOptions", "MasterLink", "Refused"]
