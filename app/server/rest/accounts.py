"""/api/v1/accounts: list, read, add, edit and remove accounts (PROTOCOL.md §5).

An account goes out as a SafeAccount: never its saved session, cookies or any credential
(the original sent them to every client, §8.11). Edits go through AccountService and
AccountHolders, as the console's account manager does.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ...engine.accounts import AccountRow
from ...engine.store.models import LoginStatus
from ..wire import login_status, seconds
from .table import V1, ApiError, Call, RouteTable
from .workers import LOCAL, Worker, worker_id, worker_list

if TYPE_CHECKING:
    from ...engine.engine import Engine

routes = RouteTable()

AccountState = Literal["active", "paused", "error", "expired"]


class SafeAccount(BaseModel):
    id: str
    platform: str
    account_name: str
    account_id: str | None = Field(description="the platform's user id (known after the first login)")
    status: AccountState
    login_status: str
    worker_status: Literal["online", "offline"]
    monitor_interval: int = Field(description="seconds between polls")
    last_check_time: int | None  # s
    last_login_time: int | None  # s
    cookies_valid_until: int | None = None  # s; not known for our sessions
    assigned_worker_id: str
    created_at: int | None  # s
    updated_at: int | None  # s
    user_info: dict[str, Any]
    credentials: None = Field(None, description="always null: a session never leaves the server (§8.11)")
    platform_user_id: str | None
    platform_username: str | None
    avatar: str | None
    proxy_id: int | None
    last_error: str | None


class RuntimeStats(BaseModel):
    message_count: int
    unread_count: int
    last_message_time: int | None  # ms
    last_error: str | None


class WorkerBrief(BaseModel):
    id: str
    status: Literal["online", "offline"]
    host: str | None
    port: int | None


class AccountStatus(SafeAccount):
    worker: WorkerBrief
    runtime_stats: RuntimeStats


class AccountDeleted(BaseModel):
    id: str
    deleted: bool = True


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: AccountState | None = None
    platform: str | None = Field(None, max_length=32)


SortKey = Literal["account_name", "created_at", "last_check_time", "last_login_time", "login_status",
                  "platform", "status", "worker_status"]


class StatusQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    worker_status: Literal["online", "offline"] | None = None
    login_status: str | None = Field(None, max_length=32)
    platform: str | None = Field(None, max_length=32)
    sort: SortKey = "created_at"
    order: Literal["asc", "desc"] = "asc"


class Credentials(BaseModel):
    """A browser session to log in with (Playwright's storage state: cookies and origins)."""

    model_config = ConfigDict(extra="ignore")
    cookies: list[dict[str, Any]] = Field(default_factory=list, max_length=5000)
    origins: list[dict[str, Any]] = Field(default_factory=list, max_length=500)


class NewAccount(BaseModel):
    model_config = ConfigDict(extra="ignore")
    platform: str = Field(min_length=1, max_length=32)
    account_name: str = Field(min_length=1, max_length=50)
    account_id: str | None = Field(None, max_length=128,
                                   description="ignored: the platform identity comes from the first login")
    credentials: Credentials | None = None
    monitor_interval: int | None = Field(None, ge=10, le=300)
    assigned_worker_id: str | None = Field(None, max_length=64, description='"" or absent: the local pool')
    proxy_id: int | None = None


class AccountEdit(BaseModel):
    model_config = ConfigDict(extra="ignore")
    account_name: str | None = Field(None, min_length=1, max_length=50)
    credentials: Credentials | None = None
    status: Literal["active", "paused"] | None = None
    monitor_interval: int | None = Field(None, ge=10, le=300)
    assigned_worker_id: str | None = Field(None, max_length=64, description='"": the local pool')
    proxy_id: int | None = None


def account_state(row: AccountRow) -> AccountState:
    if not row.monitor_enabled:
        return "paused"
    if row.login_status == LoginStatus.EXPIRED.value:
        return "expired"
    return "error" if row.last_error else "active"


def safe_account(engine: Engine, row: AccountRow, online: set[str]) -> SafeAccount:
    """An account as clients see it (REST, and the IM client's create_account): never its
    credentials (PROTOCOL.md §8 defect 11: the original sent cookies)."""
    wid = worker_id(row.worker_id)
    return SafeAccount(
        id=row.id, platform=row.platform, account_name=row.display_name, account_id=row.platform_user_id,
        status=account_state(row), login_status=login_status(row.login_status),
        worker_status="online" if wid in online else "offline",
        monitor_interval=row.monitor_interval_s or round(engine.settings.poll_interval_min_s),
        last_check_time=seconds(row.last_crawl_at), last_login_time=seconds(row.last_login_at),
        assigned_worker_id=wid, created_at=seconds(row.created_at), updated_at=seconds(row.updated_at),
        user_info=row.user_info or {}, platform_user_id=row.platform_user_id,
        platform_username=row.platform_username, avatar=row.avatar_url, proxy_id=row.proxy_id,
        last_error=row.last_error,
    )


async def _workers(call: Call) -> dict[str, Worker]:
    return {w.id: w for w in await worker_list(call.engine)}


async def _one(call: Call, account_id: str) -> SafeAccount:
    row = await call.engine.accounts.get(account_id)
    if row is None:
        raise ApiError(404, f"no account {account_id!r}")
    return safe_account(call.engine, row, set(await _workers(call)))


@routes.get("/api/v1/accounts/status/all", "Every account with its worker and runtime figures", V1,
            answer=list[AccountStatus], query=StatusQuery)
async def status_all(call: Call) -> list[AccountStatus]:
    q: StatusQuery = call.query
    workers = await _workers(call)
    channels = {c.account_id: c for c in await call.engine.views.channels()}
    answers = []
    for row in await call.engine.accounts.list():
        account = safe_account(call.engine, row, set(workers))
        if (q.worker_status not in (None, account.worker_status) or q.login_status not in (None, account.login_status)
                or q.platform not in (None, row.platform)):
            continue
        worker = workers.get(account.assigned_worker_id)
        channel = channels.get(row.id)
        answers.append(AccountStatus(
            **account.model_dump(),
            worker=WorkerBrief(id=account.assigned_worker_id, status=account.worker_status,
                               host=worker.host if worker else None, port=worker.port if worker else None),
            runtime_stats=RuntimeStats(
                message_count=channel.message_count if channel else 0,
                unread_count=channel.unread_count if channel else 0,
                last_message_time=int(channel.last_message_at.timestamp() * 1000)
                if channel and channel.last_message_at else None,
                last_error=row.last_error),
        ))
    answers.sort(key=lambda a: (getattr(a, q.sort) is None, getattr(a, q.sort) or 0), reverse=q.order == "desc")
    return answers


@routes.get("/api/v1/accounts", "The accounts", V1, answer=list[SafeAccount], query=ListQuery)
async def list_accounts(call: Call) -> list[SafeAccount]:
    online = set(await _workers(call))
    accounts = [safe_account(call.engine, row, online) for row in await call.engine.accounts.list()]
    return [a for a in accounts if call.query.status in (None, a.status) and call.query.platform in (None, a.platform)]


@routes.get("/api/v1/accounts/{id}", "One account", V1, answer=SafeAccount, errors=(404,))
async def one_account(call: Call) -> SafeAccount:
    return await _one(call, call.param("id"))


@routes.post("/api/v1/accounts", "Add an account", V1, answer=SafeAccount, body=NewAccount, status=201)
async def add_account(call: Call) -> SafeAccount:
    body: NewAccount = call.body
    engine = call.engine
    if body.platform not in engine.platforms.names():
        known = ", ".join(engine.platforms.names())
        raise ApiError(400, f"platform: unknown platform {body.platform!r} (known: {known})")
    worker = await _wanted_worker(call, body.assigned_worker_id)  # before anything is written
    account_id = await engine.accounts.create(body.platform, body.account_name, proxy_id=body.proxy_id)
    try:
        await _apply(call, account_id, body, worker)
    except Exception:
        await engine.accounts.delete(account_id)  # all or nothing: no half-made account stays
        raise
    return await _one(call, account_id)


@routes.patch("/api/v1/accounts/{id}", "Change an account (fields not given stay)", V1, answer=SafeAccount,
              body=AccountEdit, errors=(400, 404))
async def edit_account(call: Call) -> SafeAccount:
    account_id = call.param("id")
    body: AccountEdit = call.body
    await _one(call, account_id)  # 404 before anything changes
    given = body.model_fields_set
    worker = await _wanted_worker(call, body.assigned_worker_id) if "assigned_worker_id" in given else None
    changes: dict[str, Any] = {}
    if "account_name" in given and body.account_name is not None:
        changes["display_name"] = body.account_name
    if "proxy_id" in given:
        changes["proxy_id"] = body.proxy_id
    if changes:
        await call.engine.accounts.update(account_id, **changes)
    if "status" in given and body.status is not None:
        await call.engine.accounts.set_monitoring(account_id, body.status == "active")
    await _apply(call, account_id, body, worker)
    return await _one(call, account_id)


@routes.delete("/api/v1/accounts/{id}", "Remove an account and everything stored for it", V1, answer=AccountDeleted,
               errors=(404,))
async def delete_account(call: Call) -> AccountDeleted:
    account_id = call.param("id")
    await call.engine.accounts.delete(account_id)
    return AccountDeleted(id=account_id)


async def _wanted_worker(call: Call, wanted: str | None) -> str | None:
    """The holder id for `assigned_worker_id` (None: the local pool); it must be connected."""
    if not wanted or wanted == LOCAL:
        return None
    if wanted not in await _workers(call):
        raise ApiError(400, f"assigned_worker_id: worker {wanted!r} is not connected")
    return wanted


async def _apply(call: Call, account_id: str, body: NewAccount | AccountEdit, worker: str | None) -> None:
    """What adding and editing share: the poll interval, the session given, the worker."""
    given = body.model_fields_set
    accounts = call.engine.accounts
    if "monitor_interval" in given and body.monitor_interval is not None:
        await accounts.update(account_id, monitor_interval_s=body.monitor_interval)
    if "credentials" in given and body.credentials is not None:
        await accounts.save_storage_state(account_id, body.credentials.model_dump())
    if "assigned_worker_id" in given:
        if worker is None:
            await call.engine.holders.release(account_id)
        else:
            await call.engine.holders.assign(account_id, worker)
