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
from functools import lru_cache
from typing import Any, Iterable

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    bindparam,
    func,
    literal,
    literal_column,
    select,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from ..store.counters import refresh_topics
from ..store.keys import in_keys
from ..store.models import Account, Content, Conversation, Reply, ReplyStatus
from .messages import check_limit, message_page
from .tables import BOTH, BY_KIND, CONTENTS, TopicTables, tables_for, utc_from_ms
from .types import Message, Page, Topic, TopicRef


ALL_KINDS = tuple(t.kind for t in BOTH)
RANKS = frozenset(t.rank for t in BOTH)


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
            cursor = cls(None if activity == "-" else int(activity), int(rank), int(row_id))
        except (ValueError, AttributeError):
            cursor = None
        if cursor is None or cursor.rank not in RANKS:
            raise ValueError(f"invalid topic cursor {text!r}")
        return cursor


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
    kinds = (tables_for(kind).kind,) if kind is not None else ALL_KINDS
    start = TopicCursor.decode(cursor) if cursor else None
    rows: list[Any] = []
    if start is None or start.activity_ms is not None:
        rows = _scan(session, _scan_statement(kinds, unread_only, True, start and start.rank),
                     account_id, start, limit + 1)
    if len(rows) <= limit and not unread_only:  # unread topics always have activity
        quiet_start = start if start is not None and start.activity_ms is None else None
        rows += _scan(session, _scan_statement(kinds, False, False, quiet_start and quiet_start.rank),
                      account_id, quiet_start, limit + 1 - len(rows))
    more = len(rows) > limit
    rows = rows[:limit]
    after = TopicCursor(rows[-1].activity_ms, rows[-1].rank, rows[-1].row_id).encode() if more else None
    return Page([_to_topic(account_id, row) for row in rows], before=None, after=after)


def get_topic(session: Session, ref: TopicRef) -> Topic | None:
    row = session.execute(_lookup_statement(tables_for(ref.kind).kind),
                          {"account_id": ref.account_id, "platform_id": ref.platform_id}).first()
    return _to_topic(ref.account_id, row) if row is not None else None


def topics_of(session: Session, refs: Iterable[TopicRef]) -> list[Topic]:
    """The rows of these topics (one query per kind); topics not stored are left out."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for ref in refs:
        wanted.setdefault((ref.account_id, tables_for(ref.kind).kind), set()).add(ref.platform_id)
    found = []
    connection = session.connection()
    for (account_id, kind), keys in sorted(wanted.items()):
        rows = connection.execute(_lookup_many_statement(kind), {"account_id": account_id, "keys": list(keys)}).all()
        found += [_to_topic(account_id, row) for row in rows]
    return found


def refreshed_topics(session: Session, refs: Iterable[TopicRef]) -> list[Topic]:
    """Recompute these topics' counters (store/counters.refresh_topics) and return their rows
    as `topics_of` would read them right after: the writer gets the rows a MessagesAdded
    carries from the update itself, instead of reading them again."""
    return [_to_topic(account_id, row) for account_id, row in refresh_topics(session, refs, _kind_columns)]


def find_topics(session: Session, platform_id: str, account_id: str | None, kind: str | None) -> list[TopicRef]:
    """The topics with this platform id, in one account or in every account. Each account is
    looked up through its (account, platform id) unique index: no table scan."""
    kinds = (tables_for(kind).kind,) if kind is not None else ALL_KINDS
    found = []
    connection = session.connection()
    for k in kinds:
        stmt = _find_statement(k, account_id is not None)
        rows = connection.execute(stmt, {"account_id": account_id, "key": platform_id})
        found += [TopicRef(a, k, platform_id) for (a,) in rows]
    return found


def find_newest(session: Session, platform_id: str, account_id: str | None, kind: str | None,
                limit: int) -> tuple[list[TopicRef], Page[Message] | None]:
    """ImViews.find_newest."""
    found = find_topics(session, platform_id, account_id, kind)
    if not found or len({ref.account_id for ref in found}) > 1:
        return found, None
    return found, message_page(session, found[0], None, None, limit)


@lru_cache(maxsize=None)
def _find_statement(kind: str, in_one_account: bool) -> Any:
    """find_topics' query (binds: key, and account_id when `in_one_account`)."""
    t = BY_KIND[kind]
    T = t.topic
    accounts = T.account_id == bindparam("account_id") if in_one_account else T.account_id.in_(select(Account.id))
    return select(T.account_id).where(accounts, t.topic_key == bindparam("key")).order_by(T.account_id)


# ---- Statements
# Built once per shape and reused with bound values: building and hashing a UNION statement
# costs more than running it, and a reused statement finds its compiled form in the cache.


def _scan(session: Session, stmt: Any, account_id: str, start: TopicCursor | None, limit: int) -> list[Any]:
    if stmt is None:
        return []
    params = {"account_id": account_id, "limit": limit}
    if start is not None:
        params.update(at=start.activity_ms, row=start.row_id)
    return session.execute(stmt, params).all()


@lru_cache(maxsize=None)
def _scan_statement(kinds: tuple[str, ...], unread_only: bool, active: bool, start_rank: int | None) -> Any:
    """Topics of an account in list order from a cursor of kind rank `start_rank` (None: from
    the top): those with activity (`active`) or those without. Binds: account_id, limit, and
    with a cursor `at` (its activity ms) and `row` (its row id)."""
    parts = []
    for t in (BY_KIND[k] for k in kinds):
        T = t.topic
        stmt = select(*_columns(t)).where(T.account_id == bindparam("account_id"))
        if unread_only:
            # A literal, not a bound parameter: it must match the partial index's WHERE.
            stmt = stmt.where(T.unread_count > literal_column("0"))
        if active:
            stmt = stmt.where(T.last_message_at.is_not(None))
            if start_rank is not None:
                stmt = stmt.where(_after_active(t, start_rank))
            stmt = stmt.order_by(T.last_message_at.desc(), T.id.desc())
        else:
            stmt = stmt.where(T.last_message_at.is_(None))
            if start_rank is not None:
                if t.rank > start_rank:
                    continue  # that kind was finished before the cursor
                if t.rank == start_rank:
                    stmt = stmt.where(T.id < _ROW)
            stmt = stmt.order_by(T.id.desc())
        parts.append(stmt.limit(_LIMIT))
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    merged = union_all(*(select(p.subquery()) for p in parts)).subquery()
    order = [merged.c.rank.desc(), merged.c.row_id.desc()]
    if active:
        order.insert(0, merged.c.activity_ms.desc())
    return select(merged).order_by(*order).limit(_LIMIT)


@lru_cache(maxsize=None)
def _lookup_statement(kind: str) -> Any:
    t = BY_KIND[kind]
    return select(*_columns(t)).where(
        t.topic.account_id == bindparam("account_id"), t.topic_key == bindparam("platform_id"))


@lru_cache(maxsize=None)
def _lookup_many_statement(kind: str) -> Any:
    t = BY_KIND[kind]
    return select(*_columns(t)).where(t.topic.account_id == bindparam("account_id"), in_keys(t.topic_key))


# Typed: PostgreSQL would otherwise cast a millisecond time to a 32-bit INTEGER.
_AT = bindparam("at", type_=BigInteger)
_ROW = bindparam("row", type_=BigInteger)
_LIMIT = bindparam("limit", type_=Integer)


def _after_active(t: TopicTables, start_rank: int) -> Any:
    """Rows of table `t` that come after the cursor in (activity desc, rank desc, id desc)."""
    T = t.topic
    if t.rank < start_rank:
        return T.last_message_at <= _AT
    if t.rank > start_rank:
        return T.last_message_at < _AT
    return tuple_(T.last_message_at, T.id) < tuple_(_AT, _ROW)


def title_column(t: TopicTables) -> Any:
    """A topic's title: the work's title, the peer's name or id (None: show the topic id)."""
    return Content.title if t is CONTENTS else func.coalesce(Conversation.peer_name, Conversation.peer_id)


def _kind_columns(kind: str) -> list[Any]:
    return _columns(BY_KIND[kind])


def _columns(t: TopicTables) -> list[Any]:
    T = t.topic
    title = title_column(t)
    if t is CONTENTS:
        avatar, url = Content.cover_url, Content.url
    else:
        avatar = Conversation.peer_avatar
        url = literal(None, String)  # a conversation has no public address
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
        _failed_replies(t).label("failed_replies"),
        url.label("url"),
    ]


_UNSENT = (ReplyStatus.FAILED.value, ReplyStatus.BLOCKED.value)


def _failed_replies(t: TopicTables) -> Any:
    """How many of our replies in the topic failed for good (the list marks such a topic).
    Evaluated for the rows of a page only; the outbox's status index finds the few failed."""
    return (
        select(func.count())
        .where(Reply.status.in_(_UNSENT), Reply.account_id == t.topic.account_id,
               Reply.target_type == t.message_kind, Reply.topic_platform_id == t.topic_key)
        .scalar_subquery()
    )


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
        failed_replies=row.failed_replies or 0,
        url=row.url,
    )
