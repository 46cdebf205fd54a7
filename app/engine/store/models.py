"""The database schema (DESIGN.md §2) as SQLAlchemy 2 typed models.

Conventions that the rest of the engine relies on:
- Platform records (contents, comments, conversations, direct messages) are unique by their
  natural key (account_id, platform id) and are upserted by it, never duplicated.
- Relations between platform records go through platform ids, not foreign keys, so an orphan
  (a reply whose parent is unknown, a DM whose conversation is unknown) is stored as it is and
  joins its parent as soon as the parent arrives.
- Times are UTC instants, stored as integer milliseconds since the epoch (UtcMillis): compact,
  fast to index and compare, identical on SQLite and PostgreSQL.
- Topics (contents and conversations) carry denormalised counters (message_count,
  unread_count, last_message_*) kept up to date by the DataStore in the same transaction as the
  messages, so the IM views answer from an index instead of counting a million rows.
"""
from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcMillis(TypeDecorator[datetime]):
    """An aware UTC datetime stored as integer milliseconds since the epoch."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, int):
            return value
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the engine stores aware UTC times only")
        return int(value.timestamp() * 1000)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class LoginStatus(str, enum.Enum):
    NOT_LOGGED_IN = "not_logged_in"
    LOGGING_IN = "logging_in"
    LOGGED_IN = "logged_in"
    EXPIRED = "expired"
    NEEDS_VERIFICATION = "needs_verification"
    BLOCKED = "blocked"


class Direction(str, enum.Enum):
    INBOUND = "in"  # from the audience
    OURS = "out"  # written by the account (an operator's reply or the creator on the platform)


class ReplyStatus(str, enum.Enum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"
    UNCERTAIN = "uncertain"  # may be on the platform, the look could not tell: the operator decides


class TargetType(str, enum.Enum):
    COMMENT = "comment"
    DIRECT_MESSAGE = "direct_message"


class Base(DeclarativeBase):
    pass


class Proxy(Base):
    __tablename__ = "proxies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    server: Mapped[str] = mapped_column(String(255))  # host:port
    protocol: Mapped[str] = mapped_column(String(10), default="http")  # http | https | socks5
    username: Mapped[str | None] = mapped_column(String(255))
    password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    country: Mapped[str | None] = mapped_column(String(64))
    city: Mapped[str | None] = mapped_column(String(64))
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_test_ms: Mapped[int | None] = mapped_column(Integer)
    last_test_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcMillis, default=utcnow)


class Account(Base):
    """A social-media account the team serves: one IM channel."""

    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # "acc-<uuid>", the channel id
    platform: Mapped[str] = mapped_column(String(32), index=True)
    display_name: Mapped[str] = mapped_column(String(100))
    avatar_url: Mapped[str | None] = mapped_column(Text)
    platform_user_id: Mapped[str | None] = mapped_column(String(128))
    platform_username: Mapped[str | None] = mapped_column(String(128))
    user_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # followers, ...
    login_status: Mapped[str] = mapped_column(String(24), default=LoginStatus.NOT_LOGGED_IN.value)
    monitor_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    proxy_id: Mapped[int | None] = mapped_column(ForeignKey("proxies.id", ondelete="SET NULL"))
    fingerprint: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # ua, viewport, locale, tz
    storage_state_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    worker_id: Mapped[str | None] = mapped_column(String(64))  # None = the local pool
    monitor_interval_s: Mapped[int | None] = mapped_column(Integer)  # None = settings default
    last_crawl_at: Mapped[datetime | None] = mapped_column(UtcMillis)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcMillis)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Denormalised channel counters, maintained with the topic counters.
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(UtcMillis)
    last_message_preview: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcMillis, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcMillis, default=utcnow, onupdate=utcnow)


class _TopicCounters:
    """Counter columns shared by both kinds of topic."""

    message_count: Mapped[int] = mapped_column(Integer, default=0)
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(UtcMillis)
    last_message_preview: Mapped[str | None] = mapped_column(Text)
    last_message_from: Mapped[str | None] = mapped_column(String(128))


class Content(_TopicCounters, Base):
    """A work (video, post): the topic of its comment threads."""

    __tablename__ = "contents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    platform_content_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="video")
    title: Mapped[str | None] = mapped_column(Text)
    cover_url: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    publish_at: Mapped[datetime | None] = mapped_column(UtcMillis)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_seen_at: Mapped[datetime] = mapped_column(UtcMillis, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcMillis, default=utcnow)
    __table_args__ = (
        UniqueConstraint("account_id", "platform_content_id", name="uq_contents_key"),
        Index("ix_contents_activity", "account_id", "last_message_at"),
    )


class Conversation(_TopicCounters, Base):
    """A direct-message conversation with one peer: a topic."""

    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    platform_conversation_id: Mapped[str] = mapped_column(String(128))
    peer_id: Mapped[str | None] = mapped_column(String(128))
    peer_name: Mapped[str | None] = mapped_column(String(128))
    peer_avatar: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UtcMillis, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcMillis, default=utcnow)
    __table_args__ = (
        UniqueConstraint("account_id", "platform_conversation_id", name="uq_conversations_key"),
        Index("ix_conversations_activity", "account_id", "last_message_at"),
    )


# The reply_id indexes hold only the rows linked to an outbox reply (migration 0009).
LINKED = text("reply_id IS NOT NULL")


class Comment(Base):
    """A comment on a work, or a reply to one (parent_platform_comment_id)."""

    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    platform_comment_id: Mapped[str] = mapped_column(String(128))
    platform_content_id: Mapped[str] = mapped_column(String(128))
    parent_platform_comment_id: Mapped[str | None] = mapped_column(String(128))
    author_id: Mapped[str | None] = mapped_column(String(128))
    author_name: Mapped[str | None] = mapped_column(String(128))
    author_avatar: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcMillis)
    detected_at: Mapped[datetime] = mapped_column(UtcMillis, default=utcnow)
    direction: Mapped[str] = mapped_column(String(3), default=Direction.INBOUND.value)
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    reply_id: Mapped[str | None] = mapped_column(String(36))  # our outbox row
    __table_args__ = (
        UniqueConstraint("account_id", "platform_comment_id", name="uq_comments_key"),
        Index("ix_comments_topic_time", "account_id", "platform_content_id", "created_at", "id"),
        Index("ix_comments_unread", "account_id", "platform_content_id", "is_read", "direction"),
        Index("ix_comments_reply_id", "reply_id", sqlite_where=LINKED, postgresql_where=LINKED),
    )


class DirectMessage(Base):
    __tablename__ = "direct_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    platform_message_id: Mapped[str] = mapped_column(String(128))
    platform_conversation_id: Mapped[str] = mapped_column(String(128))
    sender_id: Mapped[str | None] = mapped_column(String(128))
    sender_name: Mapped[str | None] = mapped_column(String(128))
    sender_avatar: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    message_type: Mapped[str] = mapped_column(String(16), default="text")
    created_at: Mapped[datetime] = mapped_column(UtcMillis)
    detected_at: Mapped[datetime] = mapped_column(UtcMillis, default=utcnow)
    direction: Mapped[str] = mapped_column(String(3), default=Direction.INBOUND.value)
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    is_recalled: Mapped[bool] = mapped_column(Boolean, default=False)
    reply_id: Mapped[str | None] = mapped_column(String(36))  # our outbox row
    __table_args__ = (
        UniqueConstraint("account_id", "platform_message_id", name="uq_direct_messages_key"),
        Index("ix_dms_topic_time", "account_id", "platform_conversation_id", "created_at", "id"),
        Index("ix_dms_unread", "account_id", "platform_conversation_id", "is_read", "direction"),
        Index("ix_direct_messages_reply_id", "reply_id", sqlite_where=LINKED, postgresql_where=LINKED),
    )


class RecordAlias(Base):
    """Another platform id of a stored content, comment, conversation or message: the id it
    has in another of the platform's id systems (Douyin: a work's encrypted `item_id`
    beside its numeric id; a comment's V1 `@j…` id beside its V2 `cid`). A record that
    arrives under an alias updates the row stored under `platform_id` (merge.py)."""

    __tablename__ = "record_aliases"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # the Batch field: contents, comments...
    alias: Mapped[str] = mapped_column(String(128), primary_key=True)
    platform_id: Mapped[str] = mapped_column(String(128))  # the key of the stored row
    system: Mapped[str] = mapped_column(String(16))  # which id system the alias is from


class Reply(Base):
    """The durable reply outbox (DESIGN.md §5): one row per operator reply.

    `id` is the idempotency key: dispatch, retries and crash recovery all refer to it, so a
    reply is sent at most once. Its text shows in the topic at once as a message with
    direction "out" and reply_id = this id (the placeholder), whose platform id is
    "local:<id>" until the platform's own id is known.
    """

    __tablename__ = "replies"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4
    request_id: Mapped[str | None] = mapped_column(String(128), unique=True)  # REST/IM clients
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    target_type: Mapped[str] = mapped_column(String(16))  # TargetType
    topic_platform_id: Mapped[str] = mapped_column(String(128))  # content or conversation id
    target_platform_id: Mapped[str | None] = mapped_column(String(128))  # comment replied to
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=ReplyStatus.QUEUED.value, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcMillis)
    platform_reply_id: Mapped[str | None] = mapped_column(String(128))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    # Why a queued reply waits without being attempted ("no_worker": its worker is not
    # connected here), for the console to say in its language; error_message has the words.
    wait_code: Mapped[str | None] = mapped_column(String(32))
    # The engine instance that took the reply for its latest attempt (store/engine_liveness.py):
    # while the reply is `sending`, it is requeued only once that engine is gone.
    sending_by: Mapped[str | None] = mapped_column(String(36))
    operator: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcMillis, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcMillis, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcMillis)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcMillis)
    __table_args__ = (Index("ix_replies_platform_id", "account_id", "platform_reply_id"),)


class Worker(Base):
    __tablename__ = "workers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[str | None] = mapped_column(String(32))
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_accounts: Mapped[int] = mapped_column(Integer, default=10)
    status: Mapped[str] = mapped_column(String(16), default="offline")
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UtcMillis)
    started_at: Mapped[datetime | None] = mapped_column(UtcMillis)


class Setting(Base):
    """Engine-wide values kept in the database (shared by a team), e.g. the server token."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class PlatformStateValue(Base):
    """One key of an account's platform state (app/engine/platform_state.py): the platform's
    crawl position and what it has seen, kept across hibernation and restarts."""

    __tablename__ = "platform_state"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcMillis, default=utcnow, onupdate=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcMillis, default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(64))  # operator, worker id, "system"
    action: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
