"""Which tables and columns hold each kind of topic and its messages.

Works (contents) with their comments and conversations with their direct messages have the
same shape for the IM views: a topic row with counters, and message rows keyed by
(account_id, platform id) that point at the topic through its platform id. `TopicTables` names
the columns that differ, so every query is written once for both kinds.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..store.models import Comment, Content, Conversation, DirectMessage
from .types import MessageKind, TopicKind


@dataclass(frozen=True)
class TopicTables:
    kind: TopicKind
    message_kind: MessageKind
    rank: int  # tie-breaker between the kinds in the topic order (see topics.py)
    topic: Any  # the ORM class: Content | Conversation
    topic_key: Any  # topic column with the platform id
    message: Any  # the ORM class: Comment | DirectMessage
    message_key: Any  # message column with the message's platform id
    message_topic: Any  # message column with its topic's platform id
    author_id: Any
    author_name: Any
    author_avatar: Any


CONTENTS = TopicTables(
    kind="content",
    message_kind="comment",
    rank=0,
    topic=Content,
    topic_key=Content.platform_content_id,
    message=Comment,
    message_key=Comment.platform_comment_id,
    message_topic=Comment.platform_content_id,
    author_id=Comment.author_id,
    author_name=Comment.author_name,
    author_avatar=Comment.author_avatar,
)

CONVERSATIONS = TopicTables(
    kind="conversation",
    message_kind="direct_message",
    rank=1,
    topic=Conversation,
    topic_key=Conversation.platform_conversation_id,
    message=DirectMessage,
    message_key=DirectMessage.platform_message_id,
    message_topic=DirectMessage.platform_conversation_id,
    author_id=DirectMessage.sender_id,
    author_name=DirectMessage.sender_name,
    author_avatar=DirectMessage.sender_avatar,
)

BY_KIND: dict[str, TopicTables] = {t.kind: t for t in (CONTENTS, CONVERSATIONS)}
BOTH = (CONTENTS, CONVERSATIONS)


def tables_for(kind: str) -> TopicTables:
    """The tables of a topic kind; a clear error for anything else (e.g. from a client)."""
    try:
        return BY_KIND[kind]
    except KeyError:
        raise ValueError(f"unknown topic kind {kind!r}: expected 'content' or 'conversation'") from None


def utc_from_ms(ms: int | None) -> datetime | None:
    """A stored millisecond time (see models.UtcMillis) as an aware UTC datetime."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
