"""/api/v1/replies: replies into the durable outbox, and their state (PROTOCOL.md §5).

A reply is queued (persisted) before the 201 is sent; the client's `request_id` is the
idempotency key, so a retried request gets 409 with the first reply's id and nothing is
queued twice. States are said in §5's words (pending → executing → success | failed), the
outbox's own beside them (`outbox_status`: queued, sending, sent, confirmed, …).
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ...engine.im.types import TopicRef
from ...engine.outbox import ReplyRow
from ...engine.records import MAX_ID_LEN
from ...engine.store.models import ReplyStatus
from .accounts import seconds
from .table import V1, V1_FLAT, ApiError, Call, RouteTable

routes = RouteTable()

WireStatus = Literal["pending", "executing", "success", "failed"]
WIRE_STATUS: dict[str, WireStatus] = {
    ReplyStatus.QUEUED.value: "pending",
    ReplyStatus.SENDING.value: "executing",
    ReplyStatus.UNCERTAIN.value: "executing",  # may be on the platform: the operator decides
    ReplyStatus.SENT.value: "success",
    ReplyStatus.CONFIRMED.value: "success",
    ReplyStatus.FAILED.value: "failed",
    ReplyStatus.BLOCKED.value: "failed",
    ReplyStatus.CANCELLED.value: "failed",
}

Id = Field(min_length=1, max_length=MAX_ID_LEN)


class NewReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    request_id: str = Id
    account_id: str = Field(min_length=1, max_length=64)
    target_type: Literal["comment", "direct_message"]
    target_id: str | None = Field(None, min_length=1, max_length=MAX_ID_LEN,
                                  description="comment: the comment answered (absent: a new comment on "
                                              "video_id); direct_message: the conversation")
    reply_content: str = Field(min_length=1, max_length=100_000)
    video_id: str | None = Field(None, min_length=1, max_length=MAX_ID_LEN,
                                 description="the work commented on (needed for comments)")
    user_id: str | None = Field(None, max_length=MAX_ID_LEN)
    platform_target_id: str | None = Field(None, max_length=MAX_ID_LEN)


class Accepted(BaseModel):
    reply_id: str
    request_id: str
    status: WireStatus = "pending"


class Reply(BaseModel):
    reply_id: str
    request_id: str | None
    account_id: str
    status: WireStatus
    outbox_status: str
    target_type: str
    target_id: str | None
    topic_id: str = Field(description="the work or conversation")
    reply_content: str
    created_at: int  # s
    executed_at: int | None  # s: when the platform took it
    error_code: str | None
    error_message: str | None
    platform_reply_id: str | None


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    account_id: str | None = Field(None, max_length=64)
    status: WireStatus | None = None
    limit: int = Field(100, ge=1, le=500)


def wire_reply(row: ReplyRow) -> Reply:
    return Reply(
        reply_id=row.id, request_id=row.request_id, account_id=row.account_id, status=WIRE_STATUS[row.status],
        outbox_status=row.status, target_type=row.target_type,
        target_id=row.target_platform_id or row.topic_platform_id, topic_id=row.topic_platform_id,
        reply_content=row.text, created_at=seconds(row.created_at), executed_at=seconds(row.sent_at),
        error_code=row.error_code, error_message=row.error_message, platform_reply_id=row.platform_reply_id,
    )


@routes.post("/api/v1/replies", "Queue a reply (request_id: the idempotency key)", V1_FLAT, answer=Accepted,
             body=NewReply, status=201, errors=(400, 409))
async def add_reply(call: Call) -> Accepted:
    body: NewReply = call.body
    if body.target_type == "comment":
        if body.video_id is None:
            raise ApiError(400, "video_id: the work of the comment is required")
        ref, reply_to = TopicRef(body.account_id, "content", body.video_id), body.target_id
    else:
        if body.target_id is None:
            raise ApiError(400, "target_id: the conversation is required for a direct message")
        ref, reply_to = TopicRef(body.account_id, "conversation", body.target_id), None
    queued = await call.engine.outbox.submit(ref, body.reply_content, reply_to=reply_to, operator="rest",
                                             request_id=body.request_id)
    if not queued.created:
        raise ApiError(409, f"request_id {body.request_id!r} was received before", reply_id=queued.reply_id,
                       request_id=body.request_id)
    return Accepted(reply_id=queued.reply_id, request_id=body.request_id)


@routes.get("/api/v1/replies", "Replies, newest first", V1, answer=list[Reply], query=ListQuery)
async def list_replies(call: Call) -> list[Reply]:
    q: ListQuery = call.query
    statuses = None if q.status is None else [s for s, wire in WIRE_STATUS.items() if wire == q.status]
    rows = await call.engine.outbox.list(q.account_id, statuses, limit=q.limit)
    return [wire_reply(row) for row in rows]


@routes.get("/api/v1/replies/{id}", "One reply", V1, answer=Reply, errors=(404,))
async def one_reply(call: Call) -> Reply:
    row = await call.engine.outbox.get(call.param("id"))
    if row is None:
        raise ApiError(404, f"no reply {call.param('id')!r}")
    return wire_reply(row)
