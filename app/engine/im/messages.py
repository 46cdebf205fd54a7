"""A topic's messages, a page at a time, newest page first.

Pages are cut by keyset on (created_at, row id), the order of the indexes
ix_comments_topic_time / ix_dms_topic_time, so any page (the newest or one a thousand pages
back) costs one short index range scan, never an OFFSET walk. A message row is joined with
the comment it answers (reply_to_text) and with its outbox row (our replies' status/error).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, Integer, Select, and_, bindparam, null, select, tuple_, type_coerce
from sqlalchemy.orm import Session, aliased

from ..store.models import Comment, Reply
from .tables import CONTENTS, CONVERSATIONS, TopicTables, tables_for, utc_from_ms
from .types import Message, MessageCursor, Page, TopicRef

MAX_PAGE = 500


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"page limit must be an integer from 1 to {MAX_PAGE}, not {limit!r}")
    return limit


def message_select(t: TopicTables) -> Select[Any]:
    """The columns a `Message` is built from (see `to_message`), with its joins; callers add
    the WHERE, ORDER BY and LIMIT."""
    m = t.message
    columns = [
        m.id.label("row_id"),
        m.account_id,
        t.message_key.label("platform_id"),
        t.message_topic.label("topic_id"),
        t.author_id.label("author_id"),
        t.author_name.label("author_name"),
        t.author_avatar.label("author_avatar"),
        m.text,
        type_coerce(m.created_at, BigInteger).label("created_ms"),
        m.direction,
        m.is_read,
        m.reply_id,
        Reply.status.label("reply_status"),
        Reply.error_message.label("reply_error"),
        Reply.error_code.label("reply_error_code"),
        Reply.wait_code.label("reply_wait_code"),
    ]
    if t is CONTENTS:
        parent = aliased(Comment)
        columns += [Comment.parent_platform_comment_id.label("reply_to_id"), parent.text.label("reply_to_text"),
                    null().label("message_type")]
        stmt = select(*columns).select_from(Comment).outerjoin(
            parent,
            and_(
                parent.account_id == Comment.account_id,
                parent.platform_comment_id == Comment.parent_platform_comment_id,
            ),
        )
    else:
        columns += [null().label("reply_to_id"), null().label("reply_to_text"), m.message_type]
        stmt = select(*columns).select_from(m)
    return stmt.outerjoin(Reply, Reply.id == m.reply_id)


# message_select's columns in order (to_message reads them by position; im/added.py builds
# rows in this shape from what it wrote).
MESSAGE_ROW = ("row_id", "account_id", "platform_id", "topic_id", "author_id", "author_name", "author_avatar",
               "text", "created_ms", "direction", "is_read", "reply_id", "reply_status", "reply_error",
               "reply_error_code", "reply_wait_code", "reply_to_id", "reply_to_text", "message_type")
_COLUMNS = len(MESSAGE_ROW)
if any(tuple(message_select(t).selected_columns.keys()) != MESSAGE_ROW for t in (CONTENTS, CONVERSATIONS)):
    raise RuntimeError("im/messages.py: MESSAGE_ROW no longer matches message_select's columns")


def to_message(t: TopicTables, row: Any, topic: TopicRef | None = None) -> Message:
    """`row`: message_select's columns first (MESSAGE_ROW's order; a caller may add more
    after them); `topic`: the row's topic when the caller knows it (a page shares one)."""
    # Unpacked by position and built by position: a page builds 200 of these per request,
    # and reading a Row's fields by name costs more than the rest.
    (_row_id, account_id, platform_id, topic_id, author_id, author_name, author_avatar, text, created_ms,
     direction, is_read, reply_id, reply_status, reply_error, reply_error_code, reply_wait_code, reply_to_id,
     reply_to_text, message_type) = row[:_COLUMNS]
    return Message(
        platform_id, topic if topic is not None else TopicRef(account_id, t.kind, topic_id), t.message_kind,
        author_id, author_name, author_avatar, text, utc_from_ms(created_ms), direction, bool(is_read),
        reply_to_id, reply_to_text, reply_id, reply_status, reply_error, reply_error_code, reply_wait_code,
        message_type,
    )


def parse_cursor(cursor: str | MessageCursor) -> MessageCursor:
    if isinstance(cursor, MessageCursor):
        return cursor
    try:
        return MessageCursor.decode(cursor)
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"invalid message cursor {cursor!r}") from None


def message_page(
    session: Session,
    ref: TopicRef,
    before: str | MessageCursor | None,
    after: str | MessageCursor | None,
    limit: int,
) -> Page[Message]:
    """Up to `limit` messages oldest -> newest: the newest ones, or those just before
    `before`, or those just after `after`."""
    t = tables_for(ref.kind)
    check_limit(limit)
    if before is not None and after is not None:
        raise ValueError("give either before or after, not both")
    params: dict[str, Any] = {"account_id": ref.account_id, "topic_id": ref.platform_id, "limit": limit + 1}
    cursor = before if before is not None else after
    if cursor is not None:
        position = parse_cursor(cursor)
        params.update(at=position.created_at_ms, row=position.row_id)
    way = "after" if after is not None else "before" if before is not None else "newest"
    rows = session.connection().execute(_page_statement(t.kind, way), params).all()  # Core: no ORM result
    more = len(rows) > limit
    rows = rows[:limit]
    if after is None:
        rows.reverse()
    topic = TopicRef(ref.account_id, t.kind, ref.platform_id)
    items = [to_message(t, row, topic) for row in rows]
    if not rows:
        return Page(items, None, None)
    first, last = _cursor(rows[0]), _cursor(rows[-1])
    if after is not None:
        return Page(items, before=first, after=last if more else None)
    return Page(items, before=first if more else None, after=last if before is not None else None)


def message_page_around(session: Session, ref: TopicRef, message_id: str, limit: int) -> Page[Message]:
    """The page that ends with the message `message_id` (a search hit opened in its topic):
    the newest page when the topic has no such message (any more)."""
    t = tables_for(ref.kind)
    m = t.message
    position = session.execute(
        select(type_coerce(m.created_at, BigInteger), m.id).where(
            m.account_id == ref.account_id, t.message_topic == ref.platform_id, t.message_key == message_id)
    ).first()
    if position is None:
        return message_page(session, ref, None, None, limit)
    created_ms, row_id = position
    return message_page(session, ref, MessageCursor(created_ms, row_id + 1), None, limit)


def cursor_through(message: Message) -> str:
    """A `before` cursor whose page ends with `message` and every other message of its
    millisecond (a model that trims its rows skips the ones it kept by id; none is missed)."""
    return MessageCursor(_ms(message) + 1, 0).encode()


def cursor_from(message: Message) -> str:
    """An `after` cursor whose page starts with `message` and every other message of its
    millisecond (see cursor_through)."""
    return MessageCursor(_ms(message), 0).encode()


def _ms(message: Message) -> int:
    return int(message.created_at.timestamp() * 1000)


@lru_cache(maxsize=None)
def _page_statement(kind: str, way: str) -> Any:
    """The page query of a topic kind, built once (building it costs more than running it).
    `way`: "newest", "before" or "after" the position bound as `at` (ms) and `row`."""
    t = tables_for(kind)
    m = t.message
    stmt = message_select(t).where(
        m.account_id == bindparam("account_id"), t.message_topic == bindparam("topic_id"))
    # Typed binds: PostgreSQL would otherwise cast the millisecond value to a 32-bit INTEGER.
    position = tuple_(m.created_at, m.id)
    bound = tuple_(bindparam("at", type_=BigInteger), bindparam("row", type_=BigInteger))
    if way == "after":
        stmt = stmt.where(position > bound).order_by(m.created_at, m.id)
    else:
        if way == "before":
            stmt = stmt.where(position < bound)
        stmt = stmt.order_by(m.created_at.desc(), m.id.desc())
    return stmt.limit(bindparam("limit", type_=Integer))


def _cursor(row: Any) -> str:
    return MessageCursor(row.created_ms, row.row_id).encode()
