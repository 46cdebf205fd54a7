"""The master's logins, run by this worker's own LoginManager and relayed step by step
(PROTOCOL.md §2.4): `master:login:start` → a local login session on the account's page;
each LoginProgress it publishes → `worker:login:status`; `master:login:user_input` answers
its SMS step; `master:login:cancel` ends it.

The local LoginManager does what it does in the console: it checks the platform identity
against the one the master knows (mirrored with the assignment), saves the session and
starts monitoring. The relayed `success` then carries that session (`storage_state`) for
the master to save, and the operator, in the console's login dialog on the master, saw the
QR code as a data URL PNG.
"""
from __future__ import annotations

import asyncio
import base64
import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from pydantic import ValidationError

from ..engine.avatars import read_avatar, to_data_url
from ..engine.events import LoginProgress
from ..engine.login import LoginSessionError
from . import wire

if TYPE_CHECKING:
    from ..engine.engine import Engine

log = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]

# A local session's end, as §2.4's `failed` error_type (snake_case, as the original's).
_ENDED = {"timeout": "login_timeout", "expired": "qr_code_expired", "cancelled": "cancelled"}
_STEPS = {"sms_code": "verification_code", "phone_number": "phone_number"}


class LoginRelay:
    def __init__(self, engine: "Engine", emit: Emit) -> None:
        self._engine = engine
        self._emit = emit
        self._local: dict[str, str] = {}  # the master's session id -> ours
        self._master: dict[str, tuple[str, str]] = {}  # ours -> (the master's, account id)
        self._in_order = asyncio.Lock()  # the bus runs each event's handler as a task: keep their order
        self._unsubscribe = engine.bus.subscribe(LoginProgress, self._progress)

    def close(self) -> None:
        self._unsubscribe()

    async def start(self, payload: Any) -> None:
        try:
            start = wire.LoginStart.model_validate(payload)
        except ValidationError as exc:
            session_id = payload.get("session_id") if isinstance(payload, dict) else None
            account_id = payload.get("account_id") if isinstance(payload, dict) else None
            await self._failed(session_id, account_id, f"bad master:login:start: {wire.problem(exc)}", "bad_request")
            return
        if await self._engine.accounts.get(start.account_id) is None:
            await self._failed(start.session_id, start.account_id,
                               "this worker does not hold the account (not assigned here)", "not_assigned")
            return
        ours = await self._engine.logins.start(start.account_id, visible=start.visible)
        previous = self._master.get(ours)
        if previous is not None:  # the master started again while ours runs: it follows this one
            self._local.pop(previous[0], None)
        self._local[start.session_id] = ours
        self._master[ours] = (start.session_id, start.account_id)

    async def user_input(self, payload: Any) -> None:
        try:
            answer = wire.LoginInput.model_validate(payload)
            ours = self._local[answer.session_id]
            await self._engine.logins.submit_input(ours, answer.value)
        except (ValidationError, KeyError, LoginSessionError, ValueError) as exc:
            log.warning("login input not used: %s", wire.problem(exc) if isinstance(exc, ValidationError) else exc)

    async def cancel(self, payload: Any) -> None:
        try:
            ours = self._local[wire.LoginCancel.model_validate(payload).session_id]
            await self._engine.logins.cancel(ours)
        except (ValidationError, KeyError, LoginSessionError) as exc:
            log.info("nothing to cancel: %s", exc)

    async def _progress(self, event: LoginProgress) -> None:
        async with self._in_order:
            await self._relay(event)

    async def _relay(self, event: LoginProgress) -> None:
        relayed = self._master.get(event.session_id)
        if relayed is None:
            return
        session_id, account_id = relayed
        body: dict[str, Any]
        if event.state in ("qr_ready", "qr_refreshed"):
            body = {"status": "qrcode_ready" if event.state == "qr_ready" else "qrcode_refreshed",
                    "login_method": "qrcode", "qr_url": event.qr_url, "message": event.message,
                    "qr_code_data": _data_url(event.qr_png) if event.qr_png else None,
                    "expires_at": event.expires_at.timestamp() if event.expires_at else None}
        elif event.state == "scanned":
            body = {"status": "scanning", "message": event.message}
        elif event.state == "verification_required":
            body = {"status": "sms_input_required", "login_method": "sms",
                    "step": _STEPS.get(event.input_kind or "", "verification_code"), "message": event.message}
        elif event.state == "success":
            self._forget(event.session_id)
            body = await self._success(account_id)
        elif event.state in ("failed", *_ENDED):
            self._forget(event.session_id)
            body = {"status": "failed", "error_message": event.message,
                    "error_type": _ENDED.get(event.state) or event.error_code or "unknown_error"}
        else:  # started: nothing the master waits for
            return
        await self._emit("worker:login:status", {"session_id": session_id, "account_id": account_id, **body,
                                                 "timestamp": wire.now_ms()})

    async def _success(self, account_id: str) -> dict[str, Any]:
        accounts = self._engine.accounts
        account = await accounts.get(account_id)
        if account is None:  # revoked meanwhile
            return {"status": "failed", "error_message": "the account was revoked during the login",
                    "error_type": "not_assigned"}
        user_info = {**(account.user_info or {}), "nickname": account.platform_username, "avatar": account.avatar_url,
                     "platform_user_id": account.platform_user_id}
        avatar = read_avatar(self._engine.paths.data_dir, account_id)  # kept by this login, if it had one
        return {"status": "success", "platform_user_id": account.platform_user_id, "user_info": user_info,
                "storage_state": await accounts.load_storage_state(account_id),
                "avatar_data": to_data_url(avatar) if avatar else None}

    async def _failed(self, session_id: Any, account_id: Any, message: str, error_type: str) -> None:
        log.warning("relayed login refused: %s", message)
        await self._emit("worker:login:status", {
            "session_id": session_id if isinstance(session_id, str) else None,
            "account_id": account_id if isinstance(account_id, str) else None,
            "status": "failed", "error_message": message, "error_type": error_type, "timestamp": wire.now_ms()})

    def _forget(self, ours: str) -> None:
        master, _account = self._master.pop(ours, (None, None))
        if master is not None:
            self._local.pop(master, None)


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")

