"""Login sessions: the state machine between a platform's login page and the operator.

    started -> qr_ready -> (qr_refreshed)* -> scanned -> (verification_required)* -> success
                                                         any state -> failed | timeout |
                                                                      expired | cancelled

The account's holder (a LoginBackend: the local pool, whose platform drives a login page with
`Platform.login`, or a remote worker relaying its `worker:login:status` events) reports
progress through the session's LoginIO; every step is published as a `LoginProgress` event (with the QR image), which
the login dialog and remote IM clients show. When the platform needs the operator (an SMS
code), the session waits in `verification_required` until `submit_input` answers.

A session has one overall deadline (`timeout_s`). On success the page's session (cookies,
storage) is saved encrypted, the platform identity recorded, the account turns `logged_in` and
the pool starts monitoring it. A login confirmed as another platform identity than the
account's is refused (`failed`, error code `identity_mismatch`): another creator's history must
never merge into the account. On any other end the account returns to the login status it had
before, and its previously saved session is kept. A failure's `error_code` (the exception's
`code`) lets a client word the reason itself.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .avatars import save_avatar
from .bus import EventBus
from .events import LoginProgress
from .holders import NoHolder
from .platform import LoginIO, PlatformError
from .store.models import LoginStatus

if TYPE_CHECKING:
    from .accounts import AccountService
    from .seams import LoginBackend

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0
PROGRESS_STATES = ("qr_ready", "qr_refreshed", "scanned")
FINAL_STATES = ("success", "failed", "timeout", "expired", "cancelled")


class LoginSessionError(LookupError):
    """No such login session, or it is not waiting for input."""


@dataclass(frozen=True)
class LoginSession:
    """A session's current state, as the dialog shows it."""

    id: str
    account_id: str
    state: str
    visible: bool = False
    screen: tuple[int, int] | None = None  # room for the visible window (width, height)
    qr_png: bytes | None = None
    qr_url: str | None = None
    expires_at: datetime | None = None
    input_kind: str | None = None  # while verification_required
    message: str | None = None
    refresh_count: int = 0
    error_code: str | None = None  # when failed: LoginFailed.code ("identity_mismatch", …)

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES


class _Run(LoginIO):
    """One session in progress: its state, its task and the operator's pending answer."""

    def __init__(self, manager: "LoginManager", session: LoginSession) -> None:
        self._manager = manager
        self.session = session
        self.task: asyncio.Task[None] | None = None
        self.answer: asyncio.Future[str] | None = None
        self.qr_expired = False
        self.cancelling = False  # cancel() asked for the end; start() does not hand this one out

    def move(self, state: str, **changes) -> None:
        self.session = replace(self.session, state=state, **changes)
        self._manager._publish(self.session)

    async def report(self, state, *, qr_png=None, qr_url=None, expires_at=None, message=None) -> None:
        if state == "expired":  # the QR code expired and the platform gives up on it
            self.qr_expired = True
            return
        if state not in PROGRESS_STATES:
            raise ValueError(f"a platform cannot report login state {state!r}")
        refreshes = self.session.refresh_count + (state == "qr_refreshed")
        changes = {"input_kind": None, "message": message, "refresh_count": refreshes}
        if qr_png is not None or qr_url is not None:
            changes.update(qr_png=qr_png, qr_url=qr_url, expires_at=expires_at)
        self.move(state, **changes)

    async def ask(self, kind: Literal["sms_code", "phone_number"], prompt: str) -> str:
        self.answer = asyncio.get_running_loop().create_future()
        self.move("verification_required", input_kind=kind, message=prompt)
        try:
            return await self.answer
        finally:
            self.answer = None


class LoginManager:
    def __init__(
        self,
        backend: "LoginBackend",
        accounts: "AccountService",
        bus: EventBus,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        data_dir: Path | None = None,
    ) -> None:
        self._backend = backend  # AccountHolders: the account's holder runs the login
        self._data_dir = data_dir  # where accepted logins' avatars are kept (None: not kept)
        self._accounts = accounts
        self._bus = bus
        self.timeout_s = timeout_s
        self._runs: dict[str, _Run] = {}

    async def start(self, account_id: str, *, visible: bool = False,
                    screen: tuple[int, int] | None = None) -> str:
        """Begin logging the account in; returns the session id (the running one, if this
        account already has a session in progress). A visible browser window fits in
        `screen` (the available width and height of the operator's screen)."""
        for run in list(self._runs.values()):
            if run.session.account_id == account_id and not run.session.finished:
                if not run.cancelling:
                    return run.session.id
                # Closed and opened again at once: the new session starts once the old one ends.
                await asyncio.gather(run.task, return_exceptions=True)
        account = await self._accounts.get(account_id)
        if account is None:
            raise LookupError(f"no account {account_id!r}")
        if account.login_status == LoginStatus.LOGGING_IN.value:  # left over from a crash
            account = replace(account, login_status=LoginStatus.NOT_LOGGED_IN.value)
        session = LoginSession(f"login-{uuid.uuid4()}", account_id, "started", visible=visible,
                               screen=screen)
        run = _Run(self, session)
        self._runs[session.id] = run
        await self._accounts.set_login_status(account_id, LoginStatus.LOGGING_IN.value)
        self._publish(session)
        run.task = asyncio.get_running_loop().create_task(
            self._drive(run, previous_status=account.login_status), name=f"login {account_id}"
        )
        return session.id

    async def submit_input(self, session_id: str, value: str) -> None:
        """The operator's answer to `verification_required` (an SMS code, a phone number)."""
        run = self._run(session_id)
        value = (value or "").strip()
        if run.answer is None or run.answer.done():
            raise LoginSessionError(f"login session {session_id} is not waiting for input")
        if not value:
            raise ValueError("the answer is empty")
        run.answer.set_result(value)

    async def cancel(self, session_id: str) -> None:
        run = self._run(session_id)
        if run.task is not None and not run.task.done():
            run.cancelling = True
            run.task.cancel()
            await asyncio.gather(run.task, return_exceptions=True)

    def session(self, session_id: str) -> LoginSession | None:
        run = self._runs.get(session_id)
        return run.session if run else None

    def sessions(self) -> list[LoginSession]:
        """The sessions in progress and those finished in the last minutes, oldest first
        (what a remote admin lists)."""
        return [run.session for run in self._runs.values()]

    async def stop(self) -> None:
        """Cancel the sessions in progress (engine shutdown)."""
        for session_id in list(self._runs):
            await self.cancel(session_id)

    # ---- Internals

    def _keep_avatar(self, account_id: str, avatar: bytes) -> None:
        """Save the avatar of the login just recorded; a full disk costs the picture, not the login."""
        try:
            save_avatar(self._data_dir, account_id, avatar)
        except OSError as exc:
            log.warning("the avatar of %s could not be saved: %s", account_id, exc)

    def _run(self, session_id: str) -> _Run:
        run = self._runs.get(session_id)
        if run is None:
            raise LoginSessionError(f"no login session {session_id}")
        return run

    async def _drive(self, run: _Run, *, previous_status: str) -> None:
        account_id = run.session.account_id
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await self._backend.log_in(
                    account_id, run, visible=run.session.visible, screen=run.session.screen)
                # The identity is checked and the session saved in one step: a refused login
                # (another platform identity) changes nothing.
                await self._accounts.record_login(account_id, result.outcome, storage_state=result.storage_state)
                if result.avatar and self._data_dir is not None:  # only an accepted identity's
                    self._keep_avatar(account_id, result.avatar)
        except asyncio.CancelledError:
            await self._finish(run, "cancelled", "The login was cancelled.", previous_status)
            raise
        except TimeoutError:
            await self._finish(run, "timeout", f"No login within {self.timeout_s:g} s.", previous_status)
        except NoHolder as exc:  # the account's worker is not connected: nothing was tried
            await self._finish(run, "failed", str(exc), previous_status)
        except PlatformError as exc:  # refused, or held for a check (NeedsVerification): said, not traced
            state = "expired" if run.qr_expired else "failed"
            if exc.code == "identity_mismatch":
                log.warning("login of %s refused: %s", account_id, exc)
            await self._finish(run, state, str(exc) or "The platform refused the login.", previous_status,
                               error_code=exc.code)
        except Exception as exc:
            log.exception("login of %s failed", account_id)
            await self._finish(run, "failed", f"{type(exc).__name__}: {exc}", previous_status)
        else:
            run.move("success", input_kind=None, message=None)
            await self._backend.wake(account_id)
        finally:
            self._forget_later(run.session.id)

    async def _finish(
        self, run: _Run, state: str, message: str, previous_status: str, *, error_code: str | None = None
    ) -> None:
        # The status first: whoever sees the session end (a dialog, a remote client) and then
        # reads the account finds it as it was before the login.
        try:
            await self._accounts.set_login_status(run.session.account_id, previous_status)
        except Exception:  # the account was deleted meanwhile
            log.debug("could not restore the login status of %s", run.session.account_id)
        run.move(state, input_kind=None, message=message, error_code=error_code)

    def _forget_later(self, session_id: str) -> None:
        """Keep a finished session readable a while (a dialog may ask), then drop it."""
        asyncio.get_running_loop().call_later(600, self._runs.pop, session_id, None)

    def _publish(self, session: LoginSession) -> None:
        self._bus.publish(
            LoginProgress(
                session_id=session.id,
                account_id=session.account_id,
                state=session.state,
                qr_png=session.qr_png,
                qr_url=session.qr_url,
                expires_at=session.expires_at,
                input_kind=session.input_kind,
                message=session.message,
                refresh_count=session.refresh_count,
                error_code=session.error_code,
            )
        )
