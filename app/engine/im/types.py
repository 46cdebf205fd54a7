"""The shapes the IM views return; the Qt models and the server both consume these.

Ids are the platform's own ids (as in the original protocol): a channel is an account id, a
topic is (account, kind, platform content/conversation id), a message is its platform id
within its account (placeholders for our queued replies are "local:<reply id>").
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, TypeVar

TopicKind = Literal["content", "conversation"]
MessageKind = Literal["comment", "direct_message"]


@dataclass(frozen=True, slots=True)
class TopicRef:
    account_id: str
    kind: TopicKind
    platform_id: str


@dataclass(frozen=True, slots=True)
class Channel:
    account_id: str
    platform: str
    name: str
    avatar_url: str | None
    login_status: str
    monitor_enabled: bool
    last_error: str | None
    unread_count: int
    message_count: int
    last_message_at: datetime | None
    last_message_preview: str | None
    # Who the account is on the platform and which worker holds it (the server's channel shape)
    platform_username: str | None = None
    platform_user_id: str | None = None
    worker_id: str | None = None  # None: the local pool
    user_info: dict | None = None  # the platform profile: nickname, followers, ...


@dataclass(frozen=True, slots=True)
class Topic:
    ref: TopicRef
    title: str
    avatar_url: str | None
    unread_count: int
    message_count: int
    last_message_at: datetime | None
    last_message_preview: str | None
    last_message_from: str | None
    failed_replies: int = 0  # our replies here that failed or were blocked (not sent)
    url: str | None = None  # the work's page on the platform (conversations have none)

    @property
    def is_private(self) -> bool:
        return self.ref.kind == "conversation"


@dataclass(frozen=True, slots=True)
class Message:
    id: str  # platform id (or "local:<reply id>" until our reply is known to the platform)
    topic: TopicRef
    kind: MessageKind
    author_id: str | None
    author_name: str | None
    author_avatar: str | None
    text: str
    created_at: datetime
    direction: Literal["in", "out"]
    is_read: bool
    reply_to_id: str | None = None  # parent comment
    reply_to_text: str | None = None
    reply_id: str | None = None  # outbox row, for our replies
    reply_status: str | None = None  # queued|sending|sent|confirmed|failed|blocked|cancelled
    reply_error: str | None = None  # the last failed attempt's reason (engine words, for the log)
    reply_error_code: str | None = None  # its code (PlatformError.code): the UI says it in its language
    reply_wait_code: str | None = None  # why a queued reply waits unattempted ("no_worker"), likewise
    message_type: str | None = None  # a DM's kind as the platform says it (text, image, ...); None for comments


@dataclass(frozen=True, slots=True)
class MessageCursor:
    """A position in a topic's message order (created_at, row id): stable under inserts."""

    created_at_ms: int
    row_id: int

    def encode(self) -> str:
        return f"{self.created_at_ms}:{self.row_id}"

    @classmethod
    def decode(cls, text: str) -> "MessageCursor":
        a, _, b = text.partition(":")
        return cls(int(a), int(b))


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Items in display order (oldest first for messages) with cursors to go either way."""

    items: list[T]
    before: str | None  # cursor for the page before (older), None when there is none
    after: str | None  # cursor for the page after (newer), None when there is none


@dataclass(frozen=True, slots=True)
class UnreadTotals:
    comments: int
    direct_messages: int

    @property
    def total(self) -> int:
        return self.comments + self.direct_messages


@dataclass(frozen=True, slots=True)
class SearchHit:
    message: Message
    snippet: str  # plain text around the first match, on one line
    account_name: str  # where the message is: the account's display name...
    topic_title: str  # ...and the topic's title (the work, or the peer of a conversation)
    highlights: tuple[tuple[int, int], ...] = ()  # (start, length) of each match in `snippet`
