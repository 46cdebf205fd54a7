"""What travels between a remote worker and its master (/work/shared/PROTOCOL.md §2 and the
HisCRM additions, `hiscrm/1`): envelopes, the master's payloads as pydantic models (anything
else is answered with an error, never a crash), and the platform errors by class name, so
the master's outbox raises the same exception the local pool would have raised.
"""
from __future__ import annotations

import time
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..engine.accounts import PROXY_PROTOCOLS, AssignedAccount, AssignedProxy
from ..engine.holders import NoHolder
from ..engine.platform import (
    AccountBlocked,
    LoginFailed,
    NeedsVerification,
    PermanentError,
    PlatformError,
    ReplyBlocked,
    ReplyTarget,
    ReplyUncertain,
    SessionExpired,
    TransientError,
)
from ..engine.records import MAX_ID_LEN, MAX_TEXT_LEN
from ..engine.store.models import LoginStatus

PROTOCOL = "hiscrm/1"
NAMESPACE = "/worker"
VERSION = "v1"
MAX_STORAGE_STATE_CHARS = 5_000_000  # a browser session is some kB; the socket's limit is 10 MB


def now_ms() -> int:
    return int(time.time() * 1000)


def envelope(type_: str, payload: dict[str, Any]) -> dict[str, Any]:
    """§2's envelope around a payload (the `message` event on /worker)."""
    return {"type": type_, "version": VERSION, "payload": payload, "timestamp": now_ms()}


class Envelope(BaseModel):
    type: str = Field(min_length=1, max_length=100)
    version: Literal["v1"]
    payload: dict[str, Any]
    timestamp: float
    requestId: str | None = None


# ---- Errors by class name (worker:reply:result / worker:reply:found `error_class`)

ERROR_CLASSES: tuple[type[PlatformError], ...] = (
    NeedsVerification, AccountBlocked, SessionExpired, TransientError, ReplyBlocked, PermanentError,
    ReplyUncertain, LoginFailed, PlatformError,
)
"""Most specific first: an error is named by the first of these it is an instance of."""

# §2.5's error codes, for an original master reading `error_code`.
_ERROR_CODES = ((ReplyBlocked, "REPLY_BLOCKED"), (SessionExpired, "LOGIN_EXPIRED"),
                (TransientError, "NETWORK_ERROR"), (PermanentError, "TARGET_NOT_FOUND"))


def error_class(exc: BaseException) -> str:
    """The name the master raises again: a platform error's class (or the nearest one the
    protocol names); anything else that stopped a page action is transient, as in the pool."""
    if isinstance(exc, (LookupError, NoHolder)):  # not held here (revoked, not assigned yet)
        return TransientError.__name__
    for cls in ERROR_CLASSES:
        if isinstance(exc, cls):
            return cls.__name__
    return TransientError.__name__


def error_code(exc: BaseException) -> str:
    for cls, code in _ERROR_CODES:
        if isinstance(exc, cls):
            return code
    return "UNKNOWN_ERROR"


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


# ---- The master's payloads


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


AccountId = Annotated[str, Field(min_length=1, max_length=64)]


class ProxyIn(_Payload):
    server: str = Field(min_length=1, max_length=512)  # "http://host:port" (Playwright's form)
    username: str | None = Field(None, max_length=256)
    password: str | None = Field(None, max_length=256)

    def assigned(self) -> AssignedProxy:
        parts = urlsplit(self.server if "://" in self.server else f"http://{self.server}")
        if parts.scheme not in PROXY_PROTOCOLS or not parts.netloc:
            raise ValueError(f"unusable proxy server {self.server!r}")
        return AssignedProxy(parts.scheme, parts.netloc, self.username or None, self.password or None)


class HiscrmExtras(_Payload):
    monitor_interval_s: int | None = Field(None, ge=1, le=3600)
    proxy: ProxyIn | None = None


class AccountForWorker(_Payload):
    """§2.1's AccountForWorker (`id || account_id`), with hiscrm/1's storage_state and extras."""

    id: str | None = Field(None, max_length=64)
    account_id: str | None = Field(None, max_length=64)
    platform: str = Field(min_length=1, max_length=32)
    account_name: str | None = Field(None, max_length=200)
    platform_username: str | None = Field(None, max_length=128)
    platform_user_id: str | None = Field(None, max_length=128)
    login_status: str | None = Field(None, max_length=32)
    status: str | None = Field(None, max_length=32)  # "inactive": monitoring switched off
    monitor_interval: int | None = None  # s, the original's field
    storage_state: dict[str, Any] | None = None
    hiscrm: HiscrmExtras = Field(default_factory=HiscrmExtras)

    @property
    def key(self) -> str:
        key = self.id or self.account_id
        if not key:
            raise ValueError("the account has no id")
        return key

    def assigned(self) -> AssignedAccount:
        try:
            status = LoginStatus(self.login_status or LoginStatus.NOT_LOGGED_IN.value).value
        except ValueError:  # an original master's own words: only "logged_in" means logged in
            status = LoginStatus.NOT_LOGGED_IN.value
        if status == LoginStatus.LOGGING_IN.value:  # the login runs here, when it is relayed
            status = LoginStatus.NOT_LOGGED_IN.value
        interval = self.hiscrm.monitor_interval_s
        proxy = self.hiscrm.proxy
        return AssignedAccount(
            id=self.key, platform=self.platform,
            display_name=(self.account_name or self.platform_username or self.key)[:100],
            login_status=status, platform_user_id=self.platform_user_id or None,
            platform_username=self.platform_username or None,
            monitor_interval_s=interval, storage_state=self.storage_state,
            proxy=proxy.assigned() if proxy else None, monitor_enabled=self.status != "inactive",
        )

    @field_validator("storage_state")
    @classmethod
    def _not_huge(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(str(value)) > MAX_STORAGE_STATE_CHARS:
            raise ValueError("the storage state is too big")
        return value


class RegisterAck(_Payload):
    success: bool
    error: str | None = None
    assigned_accounts: list[dict[str, Any]] = Field(default_factory=list)
    acked_seq: int = Field(0, ge=0)


class AccountRef(_Payload):
    """`master:task:revoke`, and the operator's `master:account:wake` / `:restart`."""

    account_id: AccountId


class DeltaAck(_Payload):
    seq: int = Field(ge=1)
    success: bool
    error: str | None = None
    stats: dict[str, Any] = Field(default_factory=dict)


class TargetIn(_Payload):
    """app/engine/platform.py ReplyTarget, every field."""

    kind: Literal["comment", "direct_message"]
    topic_platform_id: str = Field(min_length=1, max_length=MAX_ID_LEN)
    target_platform_id: str | None = Field(None, max_length=MAX_ID_LEN)
    topic_title: str | None = Field(None, max_length=MAX_TEXT_LEN)
    target_text: str | None = Field(None, max_length=MAX_TEXT_LEN)
    target_author: str | None = Field(None, max_length=MAX_ID_LEN)
    target_author_id: str | None = Field(None, max_length=MAX_ID_LEN)
    thread_platform_id: str | None = Field(None, max_length=MAX_ID_LEN)
    peer_name: str | None = Field(None, max_length=MAX_ID_LEN)
    peer_platform_id: str | None = Field(None, max_length=MAX_ID_LEN)

    def target(self) -> ReplyTarget:
        return ReplyTarget(**self.model_dump())


class ReplyRequest(_Payload):
    """§2.5's master:reply:request, plus `target`."""

    reply_id: str | None = Field(None, max_length=MAX_ID_LEN)
    request_id: str = Field(min_length=1, max_length=MAX_ID_LEN)
    platform: str | None = Field(None, max_length=32)
    account_id: AccountId
    reply_content: str = Field(min_length=1, max_length=MAX_TEXT_LEN)
    target: TargetIn


class ReplyFind(_Payload):
    request_id: str = Field(min_length=1, max_length=MAX_ID_LEN)
    account_id: AccountId
    target: TargetIn
    text: str = Field(min_length=1, max_length=MAX_TEXT_LEN)
    since: float  # ms


class LoginStart(_Payload):
    account_id: AccountId
    session_id: str = Field(min_length=1, max_length=MAX_ID_LEN)
    platform: str | None = Field(None, max_length=32)
    visible: bool = False


class LoginInput(_Payload):
    session_id: str = Field(min_length=1, max_length=MAX_ID_LEN)
    input_type: Literal["phone_number", "verification_code"]
    value: str = Field(min_length=1, max_length=64)


class LoginCancel(_Payload):
    session_id: str = Field(min_length=1, max_length=MAX_ID_LEN)


def problem(exc: ValidationError) -> str:
    """pydantic's complaint in one line, for the error the worker answers or logs."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}"
                     for e in exc.errors(include_url=False, include_input=False))
