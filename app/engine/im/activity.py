"""An account's messages across its topics, newest first: comments, replies to comments and
direct messages mixed in one timeline (the REST API's /api/im lists, PROTOCOL.md §5).

Pages are cut by keyset on (created_at, kind rank, row id) descending: each kind's rows come
from one query on its table (at most `limit + 1` of them), the two are merged here. Filters:
one topic, since a time, and for comments first-level ones only, replies only, or replies to
one comment.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, or_
from sqlalchemy.orm import Session

from ..store.models import Comment
from .messages import check_limit, message_select, to_message
from .tables import BY_KIND, CONTENTS, TopicTables
from .types import Message, MessageKind, Page

Threads = Literal["all", "top", "replies"]  # comments: all, first-level only, replies only
_TABLES: dict[str, TopicTables] = {t.message_kind: t for t in BY_KIND.values()}


@dataclass(frozen=True)
class ActivityCursor:
    created_at_ms: int
    rank: int
    row_id: int

    def encode(self) -> str:
        return f"{self.created_at_ms}.{self.rank}.{self.row_id}"

    @classmethod
    def decode(cls, text: str) -> "ActivityCursor":
        try:
            at, rank, row = text.split(".")
            return cls(int(at), int(rank), int(row))
        except (ValueError, AttributeError):
            raise ValueError(f"invalid activity cursor {text!r}") from None


def account_messages(
    session: Session,
    account_id: str,
    kinds: tuple[MessageKind, ...],
    topic_id: str | None,
    threads: Threads,
    parent_id: str | None,
    since: datetime | None,
    after: str | None,
    limit: int,
) -> Page[Message]:
    """Up to `limit` messages newest first; `Page.after` is the cursor of the next (older) page."""
    check_limit(limit)
    start = ActivityCursor.decode(after) if after else None
    rows: list[tuple[int, int, int, TopicTables, Any]] = []
    for kind in dict.fromkeys(kinds):
        if kind not in _TABLES:
            raise ValueError(f"unknown message kind {kind!r}: expected 'comment' or 'direct_message'")
        t = _TABLES[kind]
        m = t.message
        stmt = message_select(t).where(m.account_id == account_id)
        if topic_id is not None:
            stmt = stmt.where(t.message_topic == topic_id)
        if t is CONTENTS:
            if parent_id is not None:
                stmt = stmt.where(Comment.parent_platform_comment_id == parent_id)
            elif threads == "top":
                stmt = stmt.where(Comment.parent_platform_comment_id.is_(None))
            elif threads == "replies":
                stmt = stmt.where(Comment.parent_platform_comment_id.is_not(None))
        if since is not None:
            stmt = stmt.where(m.created_at >= since)
        if start is not None:
            stmt = stmt.where(_older(t, start))
        stmt = stmt.order_by(m.created_at.desc(), m.id.desc()).limit(limit + 1)
        rows += [(row.created_ms, t.rank, row.row_id, t, row) for row in session.execute(stmt)]
    rows.sort(key=lambda r: r[:3], reverse=True)
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    cursor = ActivityCursor(*last[:3]).encode() if more and last else None
    return Page([to_message(t, row) for *_, t, row in rows], before=None, after=cursor)


def _older(t: TopicTables, start: ActivityCursor) -> Any:
    """Rows of `t` after the cursor in (created_at, rank, row id) descending order."""
    m = t.message
    if t.rank < start.rank:
        return m.created_at <= start.created_at_ms
    if t.rank > start.rank:
        return m.created_at < start.created_at_ms
    return or_(m.created_at < start.created_at_ms,
               and_(m.created_at == start.created_at_ms, m.id < start.row_id))
