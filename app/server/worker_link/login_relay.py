"""A login run by a remote worker, relayed into the engine's login session (§2.4).

The LoginManager calls RemoteHolder.log_in with the session's LoginIO; the relay sends
`master:login:start` to the worker and turns each `worker:login:status` into what the local
pool's platform code would have done with that LoginIO: the QR image (`qrcode_ready`,
`qrcode_refreshed`), `scanning`, an SMS code or phone number asked of the operator and typed
back as `master:login:user_input`, `success` as a LoginResult with the session to save, and
`failed` / `timeout` / `expired` as LoginFailed with the worker's reason and its failure code
(`error_type`: "identity_mismatch", …), so the console's dialog words it as after a local
login. The operator closing the dialog cancels the login: the worker is told
(`master:login:cancel`).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from app.engine.avatars import from_data_url
from app.engine.platform import LoginFailed, LoginIO, LoginOutcome
from app.engine.seams import LoginResult

from .payloads import LoginStatus

log = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]
QR_STATES = {"qrcode_ready": "qr_ready", "qrcode_refreshed": "qr_refreshed"}
INPUT_KINDS = {"phone_number": "phone_number", "verification_code": "sms_code"}
DATA_URL = "data:image/png;base64,"


class LoginRelay:
    def __init__(self, session_id: str, account_id: str, io: LoginIO, emit: Emit) -> None:
        self.session_id = session_id
        self.account_id = account_id
        self._io = io
        self._emit = emit
        self._statuses: asyncio.Queue[LoginStatus | Exception] = asyncio.Queue()

    def status(self, status: LoginStatus) -> None:
        """The worker reported a step (handled in order by `run`)."""
        self._statuses.put_nowait(status)

    def worker_lost(self, worker_id: str) -> None:
        self._statuses.put_nowait(LoginFailed(f"worker {worker_id} disconnected during the login"))

    async def run(self, *, platform: str, proxy: dict[str, str] | None) -> LoginResult:
        await self._emit("master:login:start", {"account_id": self.account_id, "session_id": self.session_id,
                                                "platform": platform, "proxy": proxy, "visible": False})
        asking: asyncio.Task[tuple[str, str]] | None = None
        try:
            while True:
                waiting = asyncio.ensure_future(self._statuses.get())
                done, _ = await asyncio.wait({waiting, *([asking] if asking else [])},
                                             return_when=asyncio.FIRST_COMPLETED)
                if asking in done:
                    input_type, value = asking.result()
                    asking = None
                    await self._emit("master:login:user_input",
                                     {"session_id": self.session_id, "input_type": input_type, "value": value})
                if waiting not in done:
                    waiting.cancel()
                    continue
                item = waiting.result()
                if isinstance(item, Exception):
                    raise item
                if item.status == "sms_input_required":
                    if asking is not None:
                        asking.cancel()
                    asking = asyncio.ensure_future(self._ask(item))
                    continue
                result = await self._step(item)
                if result is not None:
                    return result
        except asyncio.CancelledError:
            await self._emit("master:login:cancel", {"session_id": self.session_id})
            raise
        finally:
            if asking is not None:
                asking.cancel()

    async def _ask(self, status: LoginStatus) -> tuple[str, str]:
        input_type = status.step if status.step in INPUT_KINDS else "verification_code"
        kind = INPUT_KINDS[input_type]
        prompt = status.message or ("Enter your phone number" if kind == "phone_number" else "Enter the SMS code")
        return input_type, await self._io.ask(kind, prompt)  # type: ignore[arg-type]

    async def _step(self, status: LoginStatus) -> LoginResult | None:
        """Apply one reported step; the result when the login ended well."""
        if status.status in QR_STATES:
            await self._io.report(QR_STATES[status.status], qr_png=_png(status.qr_code_data), qr_url=status.qr_url,
                                  expires_at=_instant(status.expires_at), message=status.message)
        elif status.status == "scanning":
            await self._io.report("scanned", message=status.message)
        elif status.status == "success":
            return _result(status)
        elif status.status == "expired":
            await self._io.report("expired")
            raise WorkerLoginFailed(status.message or "the QR code expired", status.error_type)
        elif status.status in ("failed", "timeout"):
            raise WorkerLoginFailed(status.error_message or status.message or f"the worker's login {status.status}",
                                    status.error_type)
        else:
            log.debug("login %s: status %r ignored", self.session_id, status.status)
        return None


class WorkerLoginFailed(LoginFailed):
    """A login the worker reports failed; its code is the worker's (the engine's code there,
    §2.4's error_type), LoginFailed's when it gave none."""

    def __init__(self, message: str, code: str | None) -> None:
        super().__init__(message)
        if code:
            self.code = code


def _result(status: LoginStatus) -> LoginResult:
    info = dict(status.user_info or {})
    user_id = status.platform_user_id or _first(info, "platform_user_id", "douyin_id", "uid")
    if not user_id:
        raise LoginFailed("the worker's login succeeded but did not say who logged in (platform_user_id)")
    if status.storage_state is not None:
        state = status.storage_state.model_dump()
    else:  # the original sends the cookies only
        state = {"cookies": list(status.cookies or []), "origins": []}
    outcome = LoginOutcome(platform_user_id=str(user_id), username=_first(info, "nickname", "platform_username"),
                           avatar_url=_first(info, "avatar"), user_info=info)
    return LoginResult(outcome, state, from_data_url(status.avatar_data))


def _first(info: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        if isinstance(info.get(key), (str, int)) and str(info[key]):
            return str(info[key])
    return None


def _png(data_url: str | None) -> bytes | None:
    if not data_url:
        return None
    encoded = data_url[len(DATA_URL):] if data_url.startswith(DATA_URL) else data_url.partition(",")[2]
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        log.warning("a worker's QR code is not base64 PNG data; not shown")
        return None


def _instant(seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds if seconds < 1e11 else seconds / 1000, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
