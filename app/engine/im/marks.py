"""Read marks: mark messages, a topic, a channel or everything read, or a message unread.

Each function runs inside one write transaction (ImViews calls them through `db.write`),
changes `is_read` on the message rows and then recomputes the counters of exactly the topics
and accounts it touched (store.counters), so the lists and badges agree with the messages the
moment the transaction commits. They return what changed (`Marked`); the caller publishes
`UnreadChanged` for those topics after the commit. A channel or everything marked read also
remembers which message rows it changed, so `restore_unread` can undo exactly that mark (the
operator's Undo after "Mark all read") and nothing else.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Update, false, func, select, true, update
from sqlalchemy.orm import Session

from ..store.counters import refresh_accounts, refresh_topics
from ..store.models import Account, Direction
from .tables import BOTH, TopicTables, tables_for
from .types import TopicRef

CHUNK = 500  # ids per statement: well inside SQLite's bound-parameter limit


@dataclass(frozen=True)
class Marked:
    """What a mark changed: how many messages, in which topics (and, for channel and
    everything marks, which message rows: (topic kind, row ids) for `restore_unread`)."""

    count: int = 0
    topics: tuple[TopicRef, ...] = ()
    rows: tuple[tuple[str, tuple[int, ...]], ...] = ()


def mark_topic_read(session: Session, ref: TopicRef, message_ids: Sequence[str] | None) -> Marked:
    """Mark the given messages of a topic read (all of them when `message_ids` is None)."""
    t = tables_for(ref.kind)
    base = _set_read(t).where(t.message.account_id == ref.account_id, t.message_topic == ref.platform_id)
    if message_ids is None:
        count = session.execute(base).rowcount
    else:
        ids = list(dict.fromkeys(message_ids))
        count = sum(
            session.execute(base.where(t.message_key.in_(ids[i:i + CHUNK]))).rowcount
            for i in range(0, len(ids), CHUNK)
        )
    return _refresh(session, Marked(count, (ref,) if count else ()))


def mark_messages_read(session: Session, account_id: str, kind: str, message_ids: Sequence[str]) -> Marked:
    """Mark these messages of an account read, whatever topics they are in (a client that
    names a message by its id only, PROTOCOL.md §3 mark_as_read / mark_batch_as_read)."""
    t = tables_for(kind)
    m = t.message
    ids = list(dict.fromkeys(message_ids))
    count, refs = 0, {}
    for i in range(0, len(ids), CHUNK):
        which = (m.account_id == account_id, t.message_key.in_(ids[i:i + CHUNK]), m.is_read == false())
        for (topic_id,) in session.execute(select(t.message_topic).distinct().where(*which)):
            refs[TopicRef(account_id, t.kind, topic_id)] = None
        count += session.execute(_set_read(t).where(*which[:2])).rowcount
    return _refresh(session, Marked(count, tuple(refs)))


def mark_channel_read(session: Session, account_id: str) -> Marked:
    """Mark every message of one account read."""
    return _refresh(session, _mark_account(session, account_id))


def newest_rows(session: Session) -> dict[str, int]:
    """The highest message row id of each topic kind: a cutoff for `mark_all_read`, so that
    what the operator confirmed is marked and nothing that arrived after."""
    return {t.kind: session.execute(select(func.max(t.message.id))).scalar() or 0 for t in BOTH}


def mark_all_read(session: Session, up_to: Mapping[str, int] | None = None) -> Marked:
    """Mark every message of every account read (only rows up to `up_to` per kind, if given)."""
    marks = [_mark_account(session, a, up_to) for a in session.execute(select(Account.id)).scalars()]
    return _refresh(session, Marked(sum(m.count for m in marks), tuple(r for m in marks for r in m.topics),
                                    tuple(r for m in marks for r in m.rows)))


def restore_unread(session: Session, rows: Sequence[tuple[str, Sequence[int]]]) -> Marked:
    """Make these message rows (a Marked's `rows`) unread again, if they still are read."""
    count, refs = 0, set()
    for kind, ids in rows:
        t = tables_for(kind)
        m = t.message
        for i in range(0, len(ids), CHUNK):
            chunk = list(ids[i:i + CHUNK])
            which = (m.id.in_(chunk), m.direction == Direction.INBOUND.value, m.is_read == true())
            refs.update(TopicRef(account_id, kind, topic_id) for account_id, topic_id in session.execute(
                select(m.account_id, t.message_topic).distinct().where(*which)))
            count += session.execute(
                update(m).where(*which).values(is_read=False).execution_options(synchronize_session=False)
            ).rowcount
    return _refresh(session, Marked(count, tuple(sorted(refs, key=lambda r: (r.account_id, r.kind, r.platform_id)))))


def mark_unread(session: Session, ref: TopicRef, message_id: str) -> Marked:
    """Mark one inbound message unread again (our own messages are never unread)."""
    t = tables_for(ref.kind)
    m = t.message
    count = session.execute(
        update(m)
        .where(
            m.account_id == ref.account_id,
            t.message_topic == ref.platform_id,
            t.message_key == message_id,
            m.direction == Direction.INBOUND.value,
            m.is_read == true(),
        )
        .values(is_read=False)
        .execution_options(synchronize_session=False)
    ).rowcount
    return _refresh(session, Marked(count, (ref,) if count else ()))


def _set_read(t: TopicTables) -> Update:
    """UPDATE ... SET is_read = true for the unread messages of `t` (callers narrow it)."""
    m = t.message
    return (
        update(m)
        .where(m.is_read == false())
        .values(is_read=True)
        .execution_options(synchronize_session=False)
    )


def _mark_account(session: Session, account_id: str, up_to: Mapping[str, int] | None = None) -> Marked:
    """Mark an account's messages read (counters are left to the caller)."""
    count, refs, rows = 0, [], []
    for t in BOTH:
        m = t.message
        which = [m.account_id == account_id]
        if up_to is not None:
            which.append(m.id <= up_to.get(t.kind, 0))
        unread = session.execute(select(m.id, t.message_topic).where(*which, m.is_read == false())).all()
        if unread:
            count += session.execute(_set_read(t).where(*which)).rowcount
            refs += [TopicRef(account_id, t.kind, topic_id) for topic_id in dict.fromkeys(r[1] for r in unread)]
            rows.append((t.kind, tuple(r[0] for r in unread)))
    return Marked(count, tuple(refs), tuple(rows))


def _refresh(session: Session, marked: Marked) -> Marked:
    """Recompute the counters of the topics and accounts a mark touched."""
    if marked.topics:
        refresh_topics(session, marked.topics)
        refresh_accounts(session, {ref.account_id for ref in marked.topics})
    return marked
