"""Denormalised counters: topics (contents, conversations) and channels (accounts).

The IM views read message_count / unread_count / last_message_* straight from the topic and
account rows, so lists stay fast at a million messages. Whoever changes messages or read marks
calls these in the same transaction:

    refresh_topics(session, touched_refs)
    refresh_accounts(session, {ref.account_id for ref in touched_refs})

`refresh_topics` can also hand back the refreshed rows (`returning`: UPDATE ... RETURNING), for
a caller that would otherwise read them again at once (im/topics.refreshed_topics).

Both recompute from the source rows (not +1/-1 arithmetic, which drifts after a crash or a
bug) but only for the topics/accounts named, each through an indexed lookup: counting a
topic walks its slice of `ix_*_topic_time` / `ix_*_unread`, never the whole table.

Unread = is_read is false and direction is "in" (our own replies are never unread). A topic
without a row is left alone: the DataStore creates the row before its messages arrive.
"""
from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import and_, bindparam, false, func, select, update
from sqlalchemy.orm import Session, aliased

from ..im.types import TopicRef
from .keys import in_keys
from .models import Account, Comment, Content, Conversation, Direction, DirectMessage

PREVIEW_CHARS = 120
CHUNK = 500  # keys per statement: well inside SQLite's bound-parameter limit

# kind -> (topic model, its platform id column, message model, the message's topic column,
# the message's author name column)
_TOPIC_TABLES = {
    "content": (Content, "platform_content_id", Comment, "platform_content_id", "author_name"),
    "conversation": (Conversation, "platform_conversation_id", DirectMessage,
                     "platform_conversation_id", "sender_name"),
}


def refresh_topics(
    session: Session, refs: Iterable[TopicRef], returning: Callable[[str], Sequence[Any]] | None = None
) -> list[tuple[str, Any]]:
    """Recompute the counters of these contents/conversations from their messages. With
    `returning` (topic kind -> columns of the topic table), also returns (account id, row of
    those columns) of each refreshed topic, as the update left it."""
    grouped: dict[tuple[str, str], set[str]] = defaultdict(set)
    for ref in refs:
        if ref.kind not in _TOPIC_TABLES:
            raise ValueError(f"unknown topic kind {ref.kind!r}")
        grouped[(ref.kind, ref.account_id)].add(ref.platform_id)
    connection = session.connection()
    rows: list[tuple[str, Any]] = []
    for (kind, account_id), keys in grouped.items():
        result = connection.execute(_topic_update(kind, returning), {"account": account_id, "keys": sorted(keys)})
        if returning is not None:
            rows += [(account_id, row) for row in result.all()]
    return rows


def refresh_accounts(session: Session, account_ids: Iterable[str]) -> None:
    """Recompute the channel counters of these accounts from their topics."""
    ids = sorted(set(account_ids))
    connection = session.connection()
    for start in range(0, len(ids), CHUNK):
        connection.execute(_account_update(), {"ids": ids[start:start + CHUNK]})


@lru_cache(maxsize=None)
def _topic_update(kind: str, returning: Callable[[str], Sequence[Any]] | None = None) -> Any:
    """UPDATE <topics> SET <counters> = <correlated subqueries> WHERE account = :account AND
    platform id IN :keys [RETURNING <returning(kind)>]. Built once per kind (and returning);
    each subquery reads one topic's index slice."""
    topic, topic_key, message, message_topic, author = _TOPIC_TABLES[kind]

    def in_topic(messages: Any) -> Any:
        return and_(messages.account_id == topic.account_id,
                    getattr(messages, message_topic) == getattr(topic, topic_key))

    latest = aliased(message)
    newest_id = (
        select(latest.id)
        .where(in_topic(latest))
        .order_by(latest.created_at.desc(), latest.id.desc())
        .limit(1)
        .correlate(topic)
        .scalar_subquery()
    )

    def of_newest(column: Any) -> Any:
        return select(column).where(message.id == newest_id).scalar_subquery()

    statement = (
        update(topic)
        .where(topic.account_id == bindparam("account"), in_keys(getattr(topic, topic_key)))
        .values(
            message_count=select(func.count()).where(in_topic(message)).scalar_subquery(),
            unread_count=select(func.count())
            .where(in_topic(message), message.is_read == false(),
                   message.direction == Direction.INBOUND.value)
            .scalar_subquery(),
            last_message_at=of_newest(message.created_at),
            last_message_preview=of_newest(func.substr(message.text, 1, PREVIEW_CHARS)),
            last_message_from=of_newest(getattr(message, author)),
        )
    )
    return statement if returning is None else statement.returning(*returning(kind))


@lru_cache(maxsize=None)
def _account_update() -> Any:
    """UPDATE accounts SET <counters> = sums over its topics, newest topic's last message."""

    def sum_over_topics(column_name: str) -> Any:
        contents, conversations = (
            select(func.coalesce(func.sum(getattr(t, column_name)), 0))
            .where(t.account_id == Account.id)
            .scalar_subquery()
            for t in (Content, Conversation)
        )
        return contents + conversations

    def of_newest_topic(column_name: str) -> Any:
        newest = (
            select(getattr(t, column_name).label("value"), t.last_message_at.label("at"))
            .where(t.account_id == Account.id, t.last_message_at.is_not(None))
            .correlate(Account)
            for t in (Content, Conversation)
        )
        either = next(newest).union_all(next(newest)).subquery()
        return select(either.c.value).order_by(either.c.at.desc()).limit(1).scalar_subquery()

    return (
        update(Account)
        .where(Account.id.in_(bindparam("ids", expanding=True)))
        .values(
            message_count=sum_over_topics("message_count"),
            unread_count=sum_over_topics("unread_count"),
            last_message_at=of_newest_topic("last_message_at"),
            last_message_preview=of_newest_topic("last_message_preview"),
        )
    )
