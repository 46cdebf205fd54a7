"""A remote worker as the engine sees it: RemoteWorker (what it said about itself, its
socket) and RemoteHolder, the AccountHolder (app/engine/seams.py) registered in
engine.holders while it is connected, so the outbox and the login sessions use it exactly
as they use the local pool.

Replies go out as `master:reply:request` and come back as `worker:reply:result`; looks for
an earlier copy as `master:reply:find` / `worker:reply:found`. A request unanswered after
`reply_timeout_s` (120 s), or cut by the worker's disconnect, is a TransientError: the outbox
then looks for the reply (on whichever worker holds the account by then) before it sends it
again, as after a crash. Never twice.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from app.engine.platform import LoginFailed, LoginIO, ReplyTarget, ReplyUncertain, SentReply, TransientError
from app.engine.records import Batch
from app.engine.seams import CURRENT_SEND, LoginResult

from .dealing import HISCRM_PROTOCOL
from .errors import error_for
from .login_relay import LoginRelay
from .payloads import BatchLists, ReplyFound, ReplyResult

if TYPE_CHECKING:
    from app.engine.engine import Engine

log = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 120.0
Emit = Callable[[str, dict[str, Any]], Awaitable[None]]  # (event, data) to the worker's socket


@dataclass
class RemoteWorker:
    """One worker id, connected or not; kept while the link runs (it may come back)."""

    id: str
    host: str | None = None
    port: int | None = None
    version: str | None = None
    capabilities: frozenset[str] = frozenset()
    max_accounts: int = 10
    protocol: str | None = None  # "hiscrm/1"; None for an original Node worker
    sid: str | None = None  # its socket while connected
    last_heartbeat: float = field(default_factory=time.monotonic)  # monotonic
    last_heartbeat_at: datetime | None = None  # the same, for people
    saved_at: float = 0.0  # monotonic: when its row in the workers table was last written
    memory_mb: float | None = None
    cpu_percent: float | None = None
    active_tasks: int | None = None
    applied_seq: int = 0  # the highest delta seq ingested from it
    delta_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # its deltas in seq order
    account_states: dict[str, str] = field(default_factory=dict)  # account id -> monitor state
    holder: RemoteHolder | None = None

    @property
    def connected(self) -> bool:
        return self.sid is not None

    @property
    def hiscrm(self) -> bool:
        return self.protocol == HISCRM_PROTOCOL


class RemoteHolder:
    """AccountHolder for the accounts bound to one remote worker."""

    def __init__(self, worker: RemoteWorker, engine: Engine, emit: Emit, *,
                 reply_timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self.worker = worker
        self._engine = engine
        self._emit = emit
        self.reply_timeout_s = reply_timeout_s
        self._pending: dict[str, asyncio.Future[Any]] = {}  # request id -> its answer
        self.logins: dict[str, LoginRelay] = {}  # session id -> relay

    @property
    def holder_id(self) -> str:
        return self.worker.id

    @property
    def host(self) -> str | None:
        return self.worker.host

    @property
    def port(self) -> int | None:
        return self.worker.port

    # ---- Replies

    async def send_reply(self, account_id: str, target: ReplyTarget, text: str) -> SentReply:
        attempt = CURRENT_SEND.get()
        reply_id = attempt.reply_id if attempt else _request_id("reply")
        # One request id per call: the worker answers a request it sees twice from what it
        # stored, never sends it twice; a new attempt (after the outbox looked for the last
        # one, or the operator's Retry, which counts attempts from 1 again) is a new request.
        request_id = f"{reply_id}#{attempt.attempt}-{secrets.token_hex(4)}" if attempt else _request_id("req")
        account = await self._engine.accounts.get(account_id)
        payload = reply_request(reply_id, request_id, account_id, account.platform if account else "",
                                self.worker.id, target, text)
        result: ReplyResult = await self._ask("master:reply:request", payload, request_id, "the reply")
        if result.status == "success" and result.platform_reply_id:
            return SentReply(result.platform_reply_id, self._batch(account_id, result.created))
        if result.status == "success":  # sent, but with no id: the outbox looks before resending
            return SentReply("", None)
        raise error_for(result.error_class, result.error_code, result.error_message)

    async def find_reply(self, account_id: str, target: ReplyTarget, text: str, since: datetime) -> SentReply | None:
        if not self.worker.hiscrm:
            raise ReplyUncertain(f"worker {self.worker.id} (an original worker) cannot look for a sent reply")
        request_id = _request_id("find")
        payload = {"request_id": request_id, "account_id": account_id, "target": asdict(target), "text": text,
                   "since": int(since.timestamp() * 1000)}
        found: ReplyFound = await self._ask("master:reply:find", payload, request_id, "the look for the reply")
        if found.error_class:
            raise error_for(found.error_class, None, found.error_message)
        if not found.found:
            return None
        if not found.platform_reply_id:
            raise ReplyUncertain(f"worker {self.worker.id} found the reply but not its id")
        return SentReply(found.platform_reply_id, self._batch(account_id, found.created))

    async def _ask(self, event: str, payload: dict[str, Any], request_id: str, what: str) -> Any:
        if not self.worker.connected:
            raise TransientError(f"worker {self.worker.id} is not connected")
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._emit(event, payload)
            async with asyncio.timeout(self.reply_timeout_s):
                return await future
        except TimeoutError:
            raise TransientError(f"no answer from worker {self.worker.id} to {what} within "
                                 f"{self.reply_timeout_s:g} s") from None
        finally:
            self._pending.pop(request_id, None)

    def answer(self, request_id: str, answer: Any) -> bool:
        """A worker's answer to a request (False: nobody waits for it any more)."""
        future = self._pending.get(request_id)
        if future is None or future.done():
            return False
        future.set_result(answer)
        return True

    def disconnected(self) -> None:
        """The worker's socket went away: what waits on it fails now (the outbox looks
        before it sends again; a login ends failed)."""
        error = TransientError(f"worker {self.worker.id} disconnected before it answered")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        for relay in list(self.logins.values()):
            relay.worker_lost(self.worker.id)

    async def store_created(self, account_id: str, batch: Batch) -> None:
        """Stored here at once (the reply is confirmed now); the worker also sends it in a
        delta, which merges into the same rows."""
        batch.account_id = account_id
        await self._engine.store.ingest(batch)

    def _batch(self, account_id: str, lists: BatchLists | None) -> Batch | None:
        if lists is None:
            return None
        return Batch(account_id, contents=lists.contents, comments=lists.comments,
                     conversations=lists.conversations, messages=lists.messages, source=f"worker:{self.worker.id}")

    def capabilities(self, platform: str) -> frozenset[str]:
        if platform not in self.worker.capabilities:
            return frozenset()
        try:
            return self._engine.platforms.get(platform).capabilities
        except KeyError:
            return frozenset()

    # ---- Logins, wakes, restarts

    async def log_in(self, account_id: str, io: LoginIO, *, visible: bool = False,
                     screen: tuple[int, int] | None = None) -> LoginResult:
        """Relayed: the worker runs the login page, the operator sees its QR code here."""
        if not self.worker.connected:
            raise LoginFailed(f"worker {self.worker.id} is not connected")
        account = await self._engine.accounts.get(account_id)
        proxy = await self._engine.accounts.browser_proxy(account.proxy_id) if account and account.proxy_id else None
        relay = LoginRelay(_request_id("login"), account_id, io, self._emit)
        self.logins[relay.session_id] = relay
        try:
            return await relay.run(platform=account.platform if account else "", proxy=_login_proxy(proxy))
        finally:
            self.logins.pop(relay.session_id, None)

    async def wake(self, account_id: str) -> None:
        await self._tell("master:account:wake", account_id)

    async def restart_account(self, account_id: str) -> None:
        await self._tell("master:account:restart", account_id)

    async def _tell(self, type_: str, account_id: str) -> None:
        from .envelope import envelope

        if self.worker.connected:
            await self._emit("message", envelope(type_, {"account_id": account_id}))


def reply_request(reply_id: str, request_id: str, account_id: str, platform: str, worker_id: str,
                  target: ReplyTarget, text: str) -> dict[str, Any]:
    """§2.5's `master:reply:request`, plus `target` (every ReplyTarget field)."""
    now = int(time.time() * 1000)
    if target.kind == "direct_message":
        target_type, target_id = "direct_message", target.target_platform_id or target.topic_platform_id
    elif target.target_platform_id:
        target_type, target_id = "comment", target.target_platform_id
    else:
        target_type, target_id = "work", None
    return {
        "reply_id": reply_id, "request_id": request_id, "platform": platform, "account_id": account_id,
        "target_type": target_type, "target_id": target_id,
        "conversation_id": target.topic_platform_id if target.kind == "direct_message" else None,
        "platform_message_id": target.target_platform_id if target.kind == "direct_message" else None,
        "reply_content": text, "assigned_worker_id": worker_id, "created_at": now, "submit_time": now,
        "context": {
            "reply_to_content": target.target_text,
            "video_id": target.topic_platform_id if target.kind == "comment" else None,
            "user_id": target.peer_platform_id if target.kind == "direct_message" else target.target_author_id,
            "channel_name": None, "monitor_client_id": None, "video_content": None, "target_comment": None,
        },
        "target": asdict(target),
    }


def _login_proxy(proxy: dict[str, str] | None) -> dict[str, str] | None:
    """§2.2's proxy `{server, protocol, username?, password?}` from Playwright's option."""
    if proxy is None:
        return None
    protocol, _, _ = proxy["server"].partition("://")
    return {**proxy, "protocol": protocol}


def _request_id(prefix: str) -> str:
    """The original's id shape: `<prefix>_<ms>_<random>`."""
    return f"{prefix}_{int(time.time() * 1000)}_{secrets.token_hex(5)}"
