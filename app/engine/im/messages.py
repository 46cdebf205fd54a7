"""A topic's messages, a page at a time, newest page first.

Pages are cut by keyset on (created_at, row id), the order of the indexes
ix_comments_topic_time / ix_dms_topic_time, so any page (the newest or one a thousand pages
back) costs one short index range scan, never an OFFSET walk. A message row is joined with
the comment it answers (reply_to_text) and with its outbox row (our replies' status/error).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Select, and_, bindparam, null, select, tuple_, type_coerce
from sqlalchemy.orm import Session, aliased

from ..store.models import Comment, Reply
from .tables import CONTENTS, TopicTables, tables_for, utc_from_ms
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
    ]
    if t is CONTENTS:
        parent = aliased(Comment)
        columns += [Comment.parent_platform_comment_id.label("reply_to_id"), parent.text.label("reply_to_text")]
        stmt = select(*columns).select_from(Comment).outerjoin(
            parent,
            and_(
                parent.account_id == Comment.account_id,
                parent.platform_comment_id == Comment.parent_platform_comment_id,
            ),
        )
    else:
        columns += [null().label("reply_to_id"), null().label("reply_to_text")]
        stmt = select(*columns).select_from(m)
    return stmt.outerjoin(Reply, Reply.id == m.reply_id)


def to_message(t: TopicTables, row: Any) -> Message:
    return Message(
        id=row.platform_id,
        topic=TopicRef(row.account_id, t.kind, row.topic_id),
        kind=t.message_kind,
        author_id=row.author_id,
        author_name=row.author_name,
        author_avatar=row.author_avatar,
        text=row.text,
        created_at=utc_from_ms(row.created_ms),
        direction=row.direction,
        is_read=bool(row.is_read),
        reply_to_id=row.reply_to_id,
        reply_to_text=row.reply_to_text,
        reply_id=row.reply_id,
        reply_status=row.reply_status,
        reply_error=row.reply_error,
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
    m = t.message
    position = tuple_(m.created_at, m.id)
    stmt = message_select(t).where(m.account_id == ref.account_id, t.message_topic == ref.platform_id)
    if after is not None:
        stmt = stmt.where(position > _bound(parse_cursor(after))).order_by(m.created_at, m.id)
    else:
        if before is not None:
            stmt = stmt.where(position < _bound(parse_cursor(before)))
        stmt = stmt.order_by(m.created_at.desc(), m.id.desc())
    rows = session.execute(stmt.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    if after is None:
        rows.reverse()
    items = [to_message(t, row) for row in rows]
    if not rows:
        return Page(items, None, None)
    first, last = _cursor(rows[0]), _cursor(rows[-1])
    if after is not None:
        return Page(items, before=first, after=last if more else None)
    return Page(items, before=first if more else None, after=last if before is not None else None)


def _bound(cursor: MessageCursor) -> Any:
    # Typed binds: PostgreSQL would otherwise cast the millisecond value to a 32-bit INTEGER.
    return tuple_(
        bindparam(None, cursor.created_at_ms, type_=BigInteger),
        bindparam(None, cursor.row_id, type_=BigInteger),
    )


def _cursor(row: Any) -> str:
    return MessageCursor(row.created_ms, row.row_id).encode()
