"""What an IM client may send (PROTOCOL.md §3.1), as pydantic models: a payload that does not
fit is answered with the original's `error {message}` event and changes nothing.

Ids are platform ids or our account ids (at most 128 characters, numbers accepted as text:
some clients send numeric comment ids); unknown keys are ignored, as the original did.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ...engine.records import MAX_ID_LEN, MAX_TEXT_LEN

Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LEN)]
MAX_BATCH = 1000  # ids in one mark_batch_as_read


class Request(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, str_strip_whitespace=True)


class Empty(Request):
    pass


class Register(Request):
    clientType: Annotated[str, StringConstraints(max_length=32)] = "monitor"
    clientId: Annotated[str, StringConstraints(max_length=MAX_ID_LEN)] = ""


class Topics(Request):
    channelId: Id


class Messages(Request):
    topicId: Id
    channelId: Id | None = None
    messageType: Annotated[str, StringConstraints(max_length=32)] | None = None


class Reply(Request):
    channelId: Id
    topicId: Id
    content: Annotated[str, StringConstraints(max_length=MAX_TEXT_LEN)]
    type: Annotated[str, StringConstraints(max_length=32)] | None = None
    messageCategory: Annotated[str, StringConstraints(max_length=32)] | None = None
    replyToId: Annotated[str, StringConstraints(max_length=MAX_ID_LEN)] | None = None
    fromName: Annotated[str, StringConstraints(max_length=MAX_ID_LEN)] | None = None
    fromId: Annotated[str, StringConstraints(max_length=MAX_ID_LEN)] | None = None
    # The client's own id of this send, if it has one: a repeat (after a reconnect) is the same reply.
    requestId: Id | None = None
    messageId: Id | None = None


ReadKind = Literal["comment", "message", "private", "direct_message"]


class MarkOne(Request):
    type: ReadKind
    id: Id
    channelId: Id


class MarkBatch(Request):
    type: ReadKind
    ids: list[Id] = Field(min_length=1, max_length=MAX_BATCH)
    channelId: Id


class MarkTopic(Request):
    channelId: Id
    topicId: Id


class MarkConversation(Request):
    channelId: Id
    conversationId: Id


class UnreadCount(Request):
    channelId: Id | None = None


class CreateAccount(Request):
    platform: Id
    account_name: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    status: Literal["active", "paused"] | None = None
    monitor_interval: int | None = Field(None, ge=10, le=300)
    assigned_worker_id: Annotated[str, StringConstraints(max_length=MAX_ID_LEN)] | None = None


class DeleteAccount(Request):
    accountId: Id


def describe(exc: ValidationError) -> str:
    """pydantic's complaint in one line: `field: why; field: why` (never the input itself)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in exc.errors())
