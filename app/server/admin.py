"""The `/admin` namespace (PROTOCOL.md §4): status, login sessions and the login flow.

An admin client logs an account in the way the console's login dialog does, through
`engine.logins`: the account's holder (the local pool, or the remote worker it is bound to)
runs the login, and every step comes back as a LoginProgress event, pushed to every admin
socket as `login:status:update` plus the matching `login:qrcode:ready`, `login:success`,
`login:failed`, …. Unlike the original, the token is checked at connect and again by
`admin:auth` (the original accepted any non-empty token, §8.11).

The session id an admin chose (`master:login:start {session_id}`) is kept: pushes and
`master:login:user_input` use it, mapped to the engine's own id.

`master:login:cancel {session_id}` (not in the original, which could not stop a login) ends
a session in progress: the worker is told to close its login page, and the session ends
`cancelled` (`login:failed` with error_type "cancelled").

With several servers on one Redis (app/server/peers.py), an account's worker may be attached
to another server: its login is started there (`login:start` asked of the peers; the server
holding the worker answers), and so are the typed SMS code (`login:input`) and the cancel
(`login:cancel`): each goes to the server the session runs on. That server's pushes reach
this server's admin sockets through the Redis manager, like every /admin push. The session
list and the status counts are every server's (`login:sessions` asked of all).
"""
from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, Literal

import socketio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..engine.events import LoginProgress
from ..engine.holders import NoHolder
from ..engine.login import FINAL_STATES, LoginSession, LoginSessionError
from ..engine.server_token import tokens_match
from .auth import REFUSED
from .rest.table import describe
from .rest.workers import package_version, worker_id, worker_list

if TYPE_CHECKING:
    from .app import EmbeddedServer

log = logging.getLogger(__name__)

NAMESPACE = "/admin"
RELAYED_START = "login:start"  # peers.py kinds: asked of the other servers
RELAYED_INPUT = "login:input"
RELAYED_CANCEL = "login:cancel"
RELAYED_SESSIONS = "login:sessions"

# The engine's login states in the worker protocol's words (§2.4).
WIRE_STATE = {
    "started": "pending", "qr_ready": "qrcode_ready", "qr_refreshed": "qrcode_refreshed", "scanned": "scanning",
    "verification_required": "sms_input_required", "success": "success", "failed": "failed",
    "timeout": "timeout", "expired": "expired", "cancelled": "failed",
}
STEP = {"sms_code": "verification_code", "phone_number": "phone_number"}


class Auth(BaseModel):
    model_config = ConfigDict(extra="ignore")
    token: str = Field(max_length=1000)
    userId: str | None = Field(None, max_length=200)


class LoginStart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    account_id: str = Field(min_length=1, max_length=64)
    worker_id: str | None = Field(None, max_length=64)
    session_id: str | None = Field(None, min_length=1, max_length=128)


class SessionRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    session_id: str = Field(min_length=1, max_length=128)


class UserInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    session_id: str = Field(min_length=1, max_length=128)
    input_type: Literal["phone_number", "verification_code"]
    value: str = Field(min_length=1, max_length=64)


def now_ms() -> int:
    return int(time.time() * 1000)


class AdminNamespace(socketio.AsyncNamespace):
    def __init__(self, server: "EmbeddedServer") -> None:
        super().__init__(NAMESPACE)
        self._server = server
        self._engine = server.engine
        # engine session id -> the id the admin chose, while the engine keeps the session
        self._client_ids: dict[str, str] = {}
        self._engine_ids: dict[str, str] = {}  # and back
        self._pushes: asyncio.Queue[LoginProgress] = asyncio.Queue()

    # ---- Connections

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        if not self._server.admits(environ, auth):
            raise socketio.exceptions.ConnectionRefusedError(REFUSED)
        await self.emit("admin:connected", {"sid": sid, "timestamp": now_ms()}, to=sid)

    async def on_auth(self, sid: str, data: Any) -> None:  # `admin:auth`, routed by trigger_event
        try:
            auth = Auth.model_validate(data)
        except ValidationError as exc:
            await self.emit("admin:auth:failed", {"error": describe(exc)}, to=sid)
            return
        if tokens_match(auth.token, self._server.token):
            await self.emit("admin:auth:success", {"userId": auth.userId, "timestamp": now_ms()}, to=sid)
        else:
            await self.emit("admin:auth:failed", {"error": "invalid token"}, to=sid)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Events have colons in their names; each goes to its handler, an unknown one gets
        `admin:error` (a client's typo is said, not ignored)."""
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid, data = args[0], args[1] if len(args) > 1 else None
        handler = _HANDLERS.get(event)
        if handler is None:
            await self._error(sid, "unknown event", f"{event!r} is not an /admin event")
            return None
        try:
            await getattr(self, handler)(sid, data)
        except Exception:  # a bug here must not end the connection
            log.exception("admin event %s failed", event)
            await self._error(sid, "internal error", "logged on the server")
        return None

    async def on_disconnect(self, sid: str, *args: Any) -> None:
        return None

    # ---- Requests

    async def on_status(self, sid: str, data: Any) -> None:
        engine = self._engine
        accounts = await engine.accounts.list()
        workers = await worker_list(engine)
        sessions = await self._every_session()
        await self.emit("admin:status:response", {
            "workers": {"total": len(workers), "online": sum(w.status == "online" for w in workers)},
            "accounts": {"total": len(accounts), **Counter(a.login_status for a in accounts)},
            "runtime": {"version": package_version(), "url": self._server.url},
            "loginSessions": {"total": len(sessions), "active": sum(not s["finished"] for s in sessions)},
            "platforms": engine.platforms.names(),
            "timestamp": now_ms(),
        }, to=sid)

    async def on_sessions(self, sid: str, data: Any) -> None:
        await self.emit("admin:login_sessions:list:response",
                        {"sessions": await self._every_session(), "timestamp": now_ms()}, to=sid)

    async def _every_session(self) -> list[dict[str, Any]]:
        """This server's login sessions, then the other servers' (each runs its own)."""
        answers = await self._server.peers.ask_all(RELAYED_SESSIONS, {})
        return [*(await self.own_sessions({}))["sessions"], *(s for a in answers for s in a.get("sessions", ()))]

    async def own_sessions(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"sessions": [self._session_body(s) for s in self._engine.logins.sessions()]}

    async def on_login_start(self, sid: str, data: Any) -> None:
        try:
            start = LoginStart.model_validate(data)
        except ValidationError as exc:
            await self._error(sid, "invalid payload", describe(exc))
            return
        try:
            await self._engine.holders.holder_of(start.account_id)
        except NoHolder as exc:
            ack = await self._server.peers.ask(RELAYED_START, start.model_dump())
            if ack is None:
                await self._error(sid, "Worker not available", str(exc))
            else:
                await self.emit("admin:login:start:ack", ack, to=sid)
            return
        except LookupError as exc:
            await self._error(sid, "Account not found", str(exc))
            return
        await self.emit("admin:login:start:ack", await self._start(start), to=sid)

    async def _start(self, start: LoginStart) -> dict[str, Any]:
        session_id = await self._engine.logins.start(start.account_id)
        for forgotten in [s for s in self._client_ids if self._engine.logins.session(s) is None]:
            self._engine_ids.pop(self._client_ids.pop(forgotten), None)
        if start.session_id:
            self._client_ids[session_id] = start.session_id
            self._engine_ids[start.session_id] = session_id
        account = await self._engine.accounts.get(start.account_id)
        return {
            "account_id": start.account_id, "worker_id": worker_id(account.worker_id if account else None),
            "session_id": self._client_ids.get(session_id, session_id), "status": "sent", "timestamp": now_ms(),
        }

    async def relayed_start(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Another server's admin asks to log in an account; answered only when its worker
        is connected here (the local pool's accounts are every server's own)."""
        start = LoginStart.model_validate(body)
        account = await self._engine.accounts.get(start.account_id)
        if account is None or account.worker_id is None:
            return None
        try:
            await self._engine.holders.holder_of(start.account_id)
        except LookupError:  # NoHolder too: not connected here either
            return None
        return await self._start(start)

    async def on_user_input(self, sid: str, data: Any) -> None:
        try:
            answer = UserInput.model_validate(data)
        except ValidationError as exc:
            await self._error(sid, "invalid payload", describe(exc))
            return
        session_id = self._engine_ids.get(answer.session_id, answer.session_id)
        if self._engine.logins.session(session_id) is None:  # perhaps another server's session
            relayed = await self._server.peers.ask(RELAYED_INPUT, answer.model_dump())
            if relayed is not None and relayed.get("error"):
                await self._error(sid, "Login session not waiting for input", relayed["error"])
            elif relayed is not None:
                await self.emit("admin:login:user_input:ack", relayed, to=sid)
            else:
                await self._error(sid, "Login session not waiting for input", f"no login session {answer.session_id}")
            return
        try:
            ack = await self._submit(session_id, answer)
        except (LoginSessionError, ValueError) as exc:
            await self._error(sid, "Login session not waiting for input", str(exc))
            return
        await self.emit("admin:login:user_input:ack", ack, to=sid)

    async def _submit(self, session_id: str, answer: UserInput) -> dict[str, Any]:
        await self._engine.logins.submit_input(session_id, answer.value)
        return {"session_id": answer.session_id, "input_type": answer.input_type, "status": "received",
                "timestamp": now_ms()}

    async def relayed_input(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Another server's admin typed the code of a session: answered where it runs."""
        answer = UserInput.model_validate(body)
        session_id = self._engine_ids.get(answer.session_id, answer.session_id)
        if self._engine.logins.session(session_id) is None:
            return None
        try:
            return await self._submit(session_id, answer)
        except (LoginSessionError, ValueError) as exc:
            return {"error": str(exc)}

    async def on_cancel(self, sid: str, data: Any) -> None:
        try:
            ref = SessionRef.model_validate(data)
        except ValidationError as exc:
            await self._error(sid, "invalid payload", describe(exc))
            return
        ack = await self.relayed_cancel(ref.model_dump()) or await self._server.peers.ask(RELAYED_CANCEL,
                                                                                           ref.model_dump())
        if ack is None:
            await self._error(sid, "Login session not found", f"no login session {ref.session_id}")
        else:
            await self.emit("admin:login:cancel:ack", ack, to=sid)

    async def relayed_cancel(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Cancel the session if it runs here (for this server's admin or another's)."""
        ref = SessionRef.model_validate(body)
        session_id = self._engine_ids.get(ref.session_id, ref.session_id)
        session = self._engine.logins.session(session_id)
        if session is None:
            return None
        await self._engine.logins.cancel(session_id)
        session = self._engine.logins.session(session_id) or session
        status = "cancelled" if session.state == "cancelled" else WIRE_STATE.get(session.state, session.state)
        return {"session_id": ref.session_id, "account_id": session.account_id, "status": status,
                "timestamp": now_ms()}

    async def _error(self, sid: str, error: str, message: str) -> None:
        await self.emit("admin:error", {"error": error, "message": message}, to=sid)

    # ---- Pushes: one bus subscriber, one task, so the steps arrive in order

    def progress(self, event: LoginProgress) -> None:
        self._pushes.put_nowait(event)

    async def push_forever(self) -> None:
        while True:
            event = await self._pushes.get()
            try:
                await self._push(event)
            except Exception:
                log.exception("could not push %r to /admin", event.state)

    async def _push(self, event: LoginProgress) -> None:
        body = await self._progress_body(event)
        await self.emit("login:status:update", body)
        common = {k: body[k] for k in ("session_id", "account_id", "worker_id")}
        if event.state in ("qr_ready", "qr_refreshed"):
            name = "login:qrcode:ready" if event.state == "qr_ready" else "login:qrcode:refreshed"
            await self.emit(name, {**common, "qr_code_data": body.get("qr_code_data"),
                                   "qr_code_url": event.qr_url, "expires_at": body.get("expires_at"),
                                   "refresh_count": event.refresh_count, "timestamp": body["timestamp"]})
        elif event.state == "expired":
            await self.emit("login:qrcode:expired", {"session_id": body["session_id"]})
        elif event.state == "success":
            account = await self._engine.accounts.get(event.account_id)
            await self.emit("login:success", {**common, "logged_in_at": int(time.time()),
                                              "user_info": dict(account.user_info or {}) if account else {},
                                              "timestamp": body["timestamp"]})
        elif event.state in FINAL_STATES:
            await self.emit("login:failed", {**common, "error_message": event.message,
                                             "error_type": body["error_type"], "timestamp": body["timestamp"]})

    async def _progress_body(self, event: LoginProgress) -> dict[str, Any]:
        account = await self._engine.accounts.get(event.account_id)
        body: dict[str, Any] = {
            "session_id": self._client_ids.get(event.session_id, event.session_id),
            "account_id": event.account_id,
            "worker_id": worker_id(account.worker_id if account else None),
            "status": WIRE_STATE.get(event.state, event.state),
            "message": event.message,
            "timestamp": now_ms(),
        }
        if event.qr_png is not None:
            body["qr_code_data"] = "data:image/png;base64," + base64.b64encode(event.qr_png).decode("ascii")
        if event.expires_at is not None:
            body["expires_at"] = int(event.expires_at.timestamp())
        if event.state == "verification_required":
            body.update(login_method="sms", step=STEP.get(event.input_kind or "", event.input_kind))
        if event.state in FINAL_STATES and event.state != "success":
            body["error_message"] = event.message
            body["error_type"] = event.error_code or {"timeout": "login_timeout", "expired": "qr_code_expired",
                                                      "cancelled": "cancelled"}.get(event.state, "unknown_error")
        return body

    def _session_body(self, session: LoginSession) -> dict[str, Any]:
        return {
            "session_id": self._client_ids.get(session.id, session.id),
            "account_id": session.account_id,
            "status": WIRE_STATE.get(session.state, session.state),
            "finished": session.finished,
            "message": session.message,
            "expires_at": int(session.expires_at.timestamp()) if session.expires_at else None,
            "error_code": session.error_code,
        }


_HANDLERS = {
    "admin:auth": "on_auth",
    "admin:status:request": "on_status",
    "admin:login_sessions:list": "on_sessions",
    "master:login:start": "on_login_start",
    "master:login:user_input": "on_user_input",
    "master:login:cancel": "on_cancel",
}


def install(server: "EmbeddedServer") -> None:
    namespace = AdminNamespace(server)
    server.sio.register_namespace(namespace)
    server.peers.on(RELAYED_START, namespace.relayed_start)
    server.peers.on(RELAYED_INPUT, namespace.relayed_input)
    server.peers.on(RELAYED_CANCEL, namespace.relayed_cancel)
    server.peers.on(RELAYED_SESSIONS, namespace.own_sessions)
    unsubscribe = server.engine.bus.subscribe(LoginProgress, namespace.progress)
    tasks: list[asyncio.Task[None]] = []

    async def started(app: Any) -> None:
        tasks.append(asyncio.create_task(namespace.push_forever(), name="admin-pushes"))

    async def stopped(app: Any) -> None:
        unsubscribe()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    server.web.on_startup.append(started)
    server.web.on_cleanup.append(stopped)
