"""A channel's topics (works and conversations), newest activity first, a page at a time.

The order is (last_message_at desc, kind, row id desc), and topics that have no message yet
(a work nobody commented on) come after all the others. Each page is one UNION ALL of two
index range scans (ix_contents_activity / ix_conversations_activity, or the partial
ix_contents_unread / ix_conversations_unread of migration 0002 for "unread only"), each cut by keyset from an opaque cursor, so paging stays
cheap however many topics an account has. Topics without activity are read by a second,
equally indexed query (last_message_at IS NULL) once the active ones are exhausted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Integer, String, func, literal, literal_column, select, tuple_, type_coerce, union_all
from sqlalchemy.orm import Session

from ..store.models import Content, Conversation
from .messages import check_limit
from .tables import BOTH, CONTENTS, TopicTables, tables_for, utc_from_ms
from .types import Page, Topic, TopicRef


@dataclass(frozen=True)
class TopicCursor:
    """The last topic of a page; `activity_ms` None means the topics without messages."""

    activity_ms: int | None
    rank: int
    row_id: int

    def encode(self) -> str:
        activity = "-" if self.activity_ms is None else str(self.activity_ms)
        return f"{activity}.{self.rank}.{self.row_id}"

    @classmethod
    def decode(cls, text: str) -> "TopicCursor":
        try:
            activity, rank, row_id = text.split(".")
            return cls(None if activity == "-" else int(activity), int(rank), int(row_id))
        except (ValueError, AttributeError):
            raise ValueError(f"invalid topic cursor {text!r}") from None


def topic_page(
    session: Session,
    account_id: str,
    kind: str | None,
    unread_only: bool,
    limit: int,
    cursor: str | None,
) -> Page[Topic]:
    """One page of topics; `Page.after` is the cursor of the next (older) page."""
    check_limit(limit)
    tables = (tables_for(kind),) if kind is not None else BOTH
    start = TopicCursor.decode(cursor) if cursor else None
    rows: list[Any] = []
    if start is None or start.activity_ms is not None:
        rows = _scan(session, tables, account_id, start, unread_only, active=True, limit=limit + 1)
    if len(rows) <= limit and not unread_only:  # unread topics always have activity
        quiet_start = start if start is not None and start.activity_ms is None else None
        rows += _scan(session, tables, account_id, quiet_start, False, active=False, limit=limit + 1 - len(rows))
    more = len(rows) > limit
    rows = rows[:limit]
    after = TopicCursor(rows[-1].activity_ms, rows[-1].rank, rows[-1].row_id).encode() if more else None
    return Page([_to_topic(account_id, row) for row in rows], before=None, after=after)


def get_topic(session: Session, ref: TopicRef) -> Topic | None:
    t = tables_for(ref.kind)
    stmt = select(*_columns(t)).where(t.topic.account_id == ref.account_id, t.topic_key == ref.platform_id)
    row = session.execute(stmt).first()
    return _to_topic(ref.account_id, row) if row is not None else None


def _scan(
    session: Session,
    tables: tuple[TopicTables, ...],
    account_id: str,
    start: TopicCursor | None,
    unread_only: bool,
    *,
    active: bool,
    limit: int,
) -> list[Any]:
    parts = []
    for t in tables:
        T = t.topic
        stmt = select(*_columns(t)).where(T.account_id == account_id)
        if unread_only:
            # A literal, not a bound parameter: it must match the partial index's WHERE.
            stmt = stmt.where(T.unread_count > literal_column("0"))
        if active:
            stmt = stmt.where(T.last_message_at.is_not(None))
            if start is not None:
                stmt = stmt.where(_after_active(t, start))
            stmt = stmt.order_by(T.last_message_at.desc(), T.id.desc())
        else:
            stmt = stmt.where(T.last_message_at.is_(None))
            if start is not None:
                if t.rank > start.rank:
                    continue  # that kind was finished before the cursor
                if t.rank == start.rank:
                    stmt = stmt.where(T.id < start.row_id)
            stmt = stmt.order_by(T.id.desc())
        parts.append(stmt.limit(limit))
    if not parts:
        return []
    if len(parts) == 1:
        return session.execute(parts[0]).all()
    merged = union_all(*(select(p.subquery()) for p in parts)).subquery()
    order = [merged.c.rank.desc(), merged.c.row_id.desc()]
    if active:
        order.insert(0, merged.c.activity_ms.desc())
    return session.execute(select(merged).order_by(*order).limit(limit)).all()


def _after_active(t: TopicTables, start: TopicCursor) -> Any:
    """Rows of table `t` that come after `start` in (activity desc, rank desc, id desc)."""
    T = t.topic
    at = _big(start.activity_ms)
    if t.rank < start.rank:
        return T.last_message_at <= at
    if t.rank > start.rank:
        return T.last_message_at < at
    return tuple_(T.last_message_at, T.id) < tuple_(at, _big(start.row_id))


def _big(value: int | None) -> Any:
    # Typed: PostgreSQL would otherwise cast a millisecond time to a 32-bit INTEGER.
    return literal(value, BigInteger)


def _columns(t: TopicTables) -> list[Any]:
    T = t.topic
    if t is CONTENTS:
        title, avatar = Content.title, Content.cover_url
    else:
        title, avatar = func.coalesce(Conversation.peer_name, Conversation.peer_id), Conversation.peer_avatar
    return [
        literal(t.kind, String).label("kind"),
        literal(t.rank, Integer).label("rank"),
        T.id.label("row_id"),
        t.topic_key.label("platform_id"),
        title.label("title"),
        avatar.label("avatar"),
        T.unread_count,
        T.message_count,
        type_coerce(T.last_message_at, BigInteger).label("activity_ms"),
        T.last_message_preview,
        T.last_message_from,
    ]


def _to_topic(account_id: str, row: Any) -> Topic:
    return Topic(
        ref=TopicRef(account_id, row.kind, row.platform_id),
        # Never blank in a list: a work without a title or a peer without a name shows its id.
        title=row.title or row.platform_id,
        avatar_url=row.avatar,
        unread_count=row.unread_count,
        message_count=row.message_count,
        last_message_at=utc_from_ms(row.activity_ms),
        last_message_preview=row.last_message_preview,
        last_message_from=row.last_message_from,
    )
