"""What a worker may send, as pydantic models: anything else is answered with an error
(`<type>:error`, or `<event>:error` for a direct event), never let through to the engine.

Records inside a batch are left as they come (dicts): the DataStore validates each one and
rejects the bad ones individually, as it does for a crawl."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.engine.records import MAX_ID_LEN, MAX_TEXT_LEN

WorkerId = Annotated[str, StringConstraints(min_length=1, max_length=64)]  # accounts.worker_id
AccountId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LEN)]
RequestId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LEN)]
Short = Annotated[str, StringConstraints(max_length=255)]
Message = Annotated[str, StringConstraints(max_length=MAX_TEXT_LEN)]
MAX_RECORDS = 100_000  # per list of one batch; an original snapshot has far fewer


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class JoinRoom(_Payload):
    room: Short | None = None
    workerId: WorkerId


class Register(_Payload):
    worker_id: WorkerId
    host: Short | None = None
    port: int | None = Field(None, ge=0, le=65535)
    version: Annotated[str, StringConstraints(max_length=32)] | None = None
    capabilities: list[Annotated[str, StringConstraints(min_length=1, max_length=32)]] = Field(
        default_factory=list, max_length=64)
    max_accounts: int = Field(10, ge=0, le=10_000)
    protocol: Annotated[str, StringConstraints(max_length=32)] | None = None
    resume_seq: int = Field(0, ge=0)


class Heartbeat(_Payload):
    worker_id: WorkerId
    status: Annotated[str, StringConstraints(max_length=16)] = "online"
    active_tasks: int | None = Field(None, ge=0)
    memory_usage: float | None = Field(None, ge=0)  # MB
    cpu_usage: float | None = Field(None, ge=0)  # %


class AccountStatus(_Payload):
    account_id: AccountId
    status: dict[str, Any] = Field(default_factory=dict)


class AccountStatuses(_Payload):
    worker_id: WorkerId | None = None
    account_statuses: list[AccountStatus] = Field(max_length=1_000)


class BatchLists(_Payload):
    """A batch as a worker sends it: the engine's records, `model_dump(mode="json")`."""

    contents: list[Any] = Field(default_factory=list, max_length=MAX_RECORDS)
    comments: list[Any] = Field(default_factory=list, max_length=MAX_RECORDS)
    conversations: list[Any] = Field(default_factory=list, max_length=MAX_RECORDS)
    messages: list[Any] = Field(default_factory=list, max_length=MAX_RECORDS)


class Delta(_Payload):
    worker_id: WorkerId | None = None
    account_id: AccountId
    seq: int = Field(ge=1)
    batch: BatchLists


class StorageState(BaseModel):
    """Playwright's storage state; only its shape is checked (it is saved as given)."""

    model_config = ConfigDict(extra="allow")
    cookies: list[dict[str, Any]] = Field(default_factory=list)
    origins: list[dict[str, Any]] = Field(default_factory=list)


class Storage(_Payload):
    worker_id: WorkerId | None = None
    account_id: AccountId
    storage_state: StorageState


class ReplyResult(_Payload):
    reply_id: Short | None = None
    request_id: RequestId
    account_id: AccountId | None = None
    status: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    platform_reply_id: Annotated[str, StringConstraints(max_length=MAX_ID_LEN)] | None = None
    error_code: Short | None = None
    error_message: Message | None = None
    created: BatchLists | None = None
    error_class: Annotated[str, StringConstraints(max_length=32)] | None = None


class ReplyFound(_Payload):
    request_id: RequestId
    found: bool
    platform_reply_id: Annotated[str, StringConstraints(max_length=MAX_ID_LEN)] | None = None
    created: BatchLists | None = None
    error_class: Annotated[str, StringConstraints(max_length=32)] | None = None
    error_message: Message | None = None


class LoginStatus(_Payload):
    """`worker:login:status` (§2.4), and the legacy login events mapped onto it."""

    session_id: RequestId
    account_id: AccountId | None = None
    status: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    qr_code_data: Annotated[str, StringConstraints(max_length=4_000_000)] | None = None
    qr_url: Annotated[str, StringConstraints(max_length=4_096)] | None = None  # hiscrm/1, when it has one
    expires_at: float | None = None  # s
    message: Message | None = None
    step: Annotated[str, StringConstraints(max_length=32)] | None = None
    user_info: dict[str, Any] | None = None
    storage_state: StorageState | None = None  # hiscrm/1
    avatar_data: Annotated[str, StringConstraints(max_length=3_000_000)] | None = None  # hiscrm/1: a data URL
    cookies: list[dict[str, Any]] | None = None  # the original's
    platform_user_id: Annotated[str, StringConstraints(max_length=MAX_ID_LEN)] | None = None
    error_message: Message | None = None
    error_type: Short | None = None
