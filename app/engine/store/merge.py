"""How one validated crawl batch is merged into the database (one transaction, bulk statements).

Merge rules (DESIGN.md §2), the same for the four kinds of record:
- A record is upserted by its natural key (account, platform id); re-crawling the same data
  changes nothing: unchanged rows are not even written.
- A re-crawl updates only what the platform owns (text, names, stats, recall, ...). A field
  the record did not carry, or carried as null, keeps what we already know, so a partial
  record (a push, a list page without stats) never erases data.
- What the operator or the outbox owns is never touched by a crawl: is_read, reply_id, and a
  direction of "out" (our reply stays ours even if a page does not say so).
- A message whose topic is unknown gets a minimal topic row, so it is visible at once; the
  topic's own record fills that row in whenever it arrives. Orphan replies are kept as they are.
- A crawled comment/DM whose platform id is the platform_reply_id of one of our replies
  confirms that reply: its placeholder row becomes that message (never a duplicate).
- A record given under another of its ids (records.aliases) updates the row stored for it
  (aliases.py re-keys the batch first).

`merge_batch` reads the existing rows of the batch's keys with one indexed query per kind,
decides in Python which rows are new or changed (that is what the events report), and writes
new and changed rows with one executemany `INSERT ... ON CONFLICT DO UPDATE` per kind.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from operator import attrgetter, itemgetter
from datetime import datetime, timedelta
from typing import Any, Iterable

from pydantic import BaseModel
from sqlalchemy import BigInteger, Boolean, and_, bindparam, case, delete, literal_column, or_, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..im.topics import refreshed_topics
from ..im.types import Topic, TopicRef
from ..records import CommentRecord, ContentRecord, ConversationRecord, MessageRecord
from ..reply_text import text_key
from .aliases import resolve_aliases
from .counters import refresh_accounts
from .keys import in_keys, stored_keys
from .models import (
    Comment,
    Content,
    Conversation,
    Direction,
    DirectMessage,
    Reply,
    ReplyStatus,
    TargetType,
    UtcMillis,
    utcnow,
)
from .validation import to_millis

OUT = Direction.OURS.value
OUT_SQL = literal_column(f"'{OUT}'")  # in the SQL itself: the upserts bind the rows' values only
OPERATOR_CONFIRMED_WINDOW = timedelta(days=7)  # how long a reply confirmed by looking waits for its copy
CLOCK_SKEW = timedelta(minutes=2)  # the platform's clock against ours


@dataclass(frozen=True)
class Kind:
    """Where one kind of record goes and which of its columns a crawl owns."""

    batch_field: str  # the Batch attribute holding these records
    record: type[BaseModel]
    model: Any
    key: str  # the platform id column (with account_id, the natural key)
    crawled: tuple[str, ...]  # columns a re-crawl may update
    topic_kind: str  # the TopicRef kind: what this record is (topics) or belongs to (messages)
    topic_key: str | None = None  # for messages: the column with their topic's platform id
    times: tuple[str, ...] = ()  # the record's datetime fields (stored as epoch milliseconds)

    @property
    def is_message(self) -> bool:
        return self.topic_key is not None

    def column(self, name: str) -> Any:
        return getattr(self.model, name)


CONTENTS = Kind("contents", ContentRecord, Content, "platform_content_id",
                ("kind", "title", "cover_url", "url", "publish_at", "stats"), "content", times=("publish_at",))
CONVERSATIONS = Kind("conversations", ConversationRecord, Conversation, "platform_conversation_id",
                     ("peer_id", "peer_name", "peer_avatar"), "conversation")
COMMENTS = Kind("comments", CommentRecord, Comment, "platform_comment_id",
                ("parent_platform_comment_id", "author_id", "author_name", "author_avatar", "text",
                 "created_at", "direction", "like_count"),
                "content", topic_key="platform_content_id", times=("created_at",))
MESSAGES = Kind("messages", MessageRecord, DirectMessage, "platform_message_id",
                ("sender_id", "sender_name", "sender_avatar", "text", "message_type", "created_at",
                 "direction", "is_recalled"),
                "conversation", topic_key="platform_conversation_id", times=("created_at",))
TOPIC_KINDS = (CONTENTS, CONVERSATIONS)
MESSAGE_KINDS = (COMMENTS, MESSAGES)
ALL_KINDS = (CONTENTS, COMMENTS, CONVERSATIONS, MESSAGES)
TOPIC_OF = {"content": CONTENTS, "conversation": CONVERSATIONS}


@dataclass
class Confirmation:
    reply_id: str
    topic: TopicRef
    message_id: str
    attempts: int


@dataclass
class Outcome:
    """What a batch changed, for the events published after commit."""

    added: list[tuple[TopicRef, str]] = field(default_factory=list)  # (topic, message id)
    updated: list[tuple[TopicRef, str]] = field(default_factory=list)
    inbound_new: int = 0
    changed_topics: set[TopicRef] = field(default_factory=set)  # created or edited topic rows
    confirmations: list[Confirmation] = field(default_factory=list)
    # {topic kind: {message id: row}}: the added rows as inserted and not changed since
    new_rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    topic_rows: list[Topic] = field(default_factory=list)  # of the topics whose messages changed, as refreshed


def merge_batch(
    session: Session, account_id: str, records: dict[Kind, list[BaseModel]], now: datetime
) -> Outcome:
    """Store validated records of one account; the caller's transaction commits them."""
    outcome = Outcome()
    now_ms = to_millis(now)
    records = resolve_aliases(session, account_id, ALL_KINDS, records, TOPIC_OF, COMMENTS)
    claimable = _replies_to_claim(session, account_id, records)
    touched: set[TopicRef] = set()  # topics whose messages changed
    for kind in TOPIC_KINDS:
        rows = _merge_kind(session, kind, account_id, records.get(kind, []), now_ms)
        outcome.changed_topics.update(TopicRef(account_id, kind.topic_kind, k) for k in rows)
    for kind in MESSAGE_KINDS:
        batch = records.get(kind, [])
        if not batch:
            continue
        topics = set(map(attrgetter(kind.topic_key), batch))
        created = _ensure_topics(session, TOPIC_OF[kind.topic_kind], account_id, topics, now_ms)
        outcome.changed_topics.update(TopicRef(account_id, kind.topic_kind, t) for t in created)
        confirming = _claim_placeholders(session, kind, account_id, batch, claimable.get(_target_type(kind), []))
        written = _merge_kind(session, kind, account_id, batch, now_ms)
        new_rows = outcome.new_rows[kind.topic_kind] = {}
        refs: dict[str, TopicRef] = {}  # one per topic (hundreds of rows share a few topics)
        for key, (row, is_new) in written.items():
            topic = row[kind.topic_key]
            ref = refs.get(topic) or refs.setdefault(topic, TopicRef(account_id, kind.topic_kind, topic))
            if is_new:
                outcome.added.append((ref, key))
                outcome.inbound_new += row["direction"] != OUT
                new_rows[key] = row
            else:
                outcome.updated.append((ref, key))
        confirmations = confirm_replies(session, kind, account_id, confirming, now)
        for c in confirmations:
            new_rows.pop(c.message_id, None)  # linked to its reply since: no longer as written
        outcome.confirmations.extend(confirmations)
        touched.update(refs.values())
        touched.update(c.topic for c in confirmations)
    if touched:
        outcome.topic_rows = refreshed_topics(session, touched)
        refresh_accounts(session, [account_id])
    return outcome


# ---- Upsert ---------------------------------------------------------------------------------
def _merge_kind(
    session: Session, kind: Kind, account_id: str, records: list[BaseModel], now_ms: int
) -> dict[str, tuple[dict[str, Any], bool]]:
    """Upsert records of one kind; returns {key: (row written, is new)} for rows that were
    inserted or changed (unchanged rows are left alone and not returned)."""
    if not records:
        return {}
    keys = list(map(attrgetter(kind.key), records))
    existing = _existing(session, kind, account_id, set(keys))
    pending: dict[str, dict[str, Any]] = {}
    for key, record in zip(keys, records):
        base = pending.get(key) or existing.get(key)
        if base is None:
            pending[key] = _new_row(kind, account_id, record, now_ms)
        else:
            pending[key] = _merged_row(kind, base, record)
    written = {
        key: (row, key not in existing)
        for key, row in pending.items()
        if key not in existing or _differs(kind, existing[key], row)
    }
    if written:
        rows = [row for row, _ in written.values()]
        if not kind.is_message:
            for row in rows:
                row["updated_at"] = now_ms
        _execute_many(session, _upsert(_dialect(session), kind), rows)
    return written


def _new_row(kind: Kind, account_id: str, record: BaseModel, now_ms: int) -> dict[str, Any]:
    row = _columns(kind, record)
    row.pop("is_read", None)
    row["account_id"] = account_id
    if kind.is_message:
        row["detected_at"] = now_ms
        row["reply_id"] = None
        # The source's read mark when it has one (snapshot import); our own text is read.
        row["is_read"] = record.is_read if record.is_read is not None else row["direction"] == OUT
    else:
        row.update(first_seen_at=now_ms, updated_at=now_ms, message_count=0, unread_count=0,
                   last_message_at=None, last_message_preview=None, last_message_from=None)
    return row


def _merged_row(kind: Kind, base: dict[str, Any], record: BaseModel) -> dict[str, Any]:
    """`base` updated with what the record knows (see the module doc for the rules)."""
    row = dict(base)
    values = _columns(kind, record)
    for name in kind.crawled:
        if name in record.model_fields_set and values.get(name) is not None:
            row[name] = values[name]
    if kind.is_message:
        if base.get("direction") == OUT:
            row["direction"] = OUT  # our reply stays ours even if a page does not say so
        if row["direction"] == OUT:
            row["is_read"] = True  # our own text is never unread (the upsert does the same)
    return row


def _differs(kind: Kind, before: dict[str, Any], after: dict[str, Any]) -> bool:
    return any(before.get(name) != after.get(name) for name in kind.crawled)


def _columns(kind: Kind, record: BaseModel) -> dict[str, Any]:
    """The record as column values (times as epoch milliseconds, as stored). A validated
    record's fields are plain values already: a copy of them costs a fraction of a
    model_dump, which would rebuild every one."""
    values = dict(record.__dict__)
    del values["aliases"]  # kept apart (aliases.py)
    for name in kind.times:
        if values[name] is not None:
            values[name] = to_millis(values[name])
    return values


def _existing(
    session: Session, kind: Kind, account_id: str, keys: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The stored rows of these keys (all insertable columns, times as milliseconds)."""
    result = session.connection().execute(_select_existing(kind), {"account_id": account_id, "keys": list(keys)})
    names = tuple(result.keys())
    position = names.index(kind.key)
    return {row[position]: dict(zip(names, row)) for row in result.all()}


# Statements are built once per kind (and dialect) and reused: building them per batch costs
# more than running them.
@lru_cache(maxsize=None)
def _select_existing(kind: Kind) -> Any:
    table = kind.model.__table__
    columns = [type_coerce(c, BigInteger).label(c.name) if isinstance(c.type, UtcMillis) else c
               for c in table.columns if c.name != "id"]  # times as stored: milliseconds
    return select(*columns).where(table.c.account_id == bindparam("account_id"), in_keys(table.c[kind.key]))


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _insert(dialect: str, kind: Kind) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (SQLite and PostgreSQL spell it alike).
    Inline: without the RETURNING of each new row's id that PostgreSQL's would add."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(kind.model.__table__).inline()


@lru_cache(maxsize=None)
def _upsert(dialect: str, kind: Kind) -> Any:
    """INSERT ... ON CONFLICT (account_id, key) DO UPDATE SET <crawled columns>."""
    statement = _insert(dialect, kind)
    table, new = kind.model.__table__, statement.excluded
    updated = list(kind.crawled) + ([] if kind.is_message else ["updated_at"])
    values = {name: new[name] for name in updated}
    if kind.is_message:
        # A direction of "out" sticks; a message that turns out to be ours becomes read. The
        # rest of is_read is the operator's and is left as it is.
        values["direction"] = case((table.c.direction == OUT_SQL, OUT_SQL), else_=new.direction)
        values["is_read"] = or_(table.c.is_read, new.direction == OUT_SQL)
    return statement.on_conflict_do_update(index_elements=["account_id", kind.key], set_=values)


@lru_cache(maxsize=None)
def _insert_if_absent(dialect: str, kind: Kind) -> Any:
    return _insert(dialect, kind).on_conflict_do_nothing(index_elements=["account_id", kind.key])


def _execute_many(session: Session, statement: Any, rows: list[dict[str, Any]]) -> None:
    """Run `statement` once per row with the driver's executemany. SQLAlchemy's own
    executemany builds every row's parameters through its generic machinery, which costs as
    much as SQLite storing the row. The rows here hold their values as stored already (times
    as epoch milliseconds, booleans, text), so the driver takes them as they are; only a JSON
    column (a work's stats) is converted first."""
    columns = tuple(sorted(rows[0]))  # every row of a call has the same columns
    sql, positions, converters = _driver_statement(session.get_bind().dialect, statement, columns)
    if converters:
        rows = [row | {name: convert(row[name]) for name, convert in converters} for row in rows]
    params = list(map(itemgetter(*positions), rows)) if positions else rows
    session.connection().exec_driver_sql(sql, params)


@lru_cache(maxsize=None)
def _driver_statement(
    dialect: Any, statement: Any, columns: tuple[str, ...]
) -> tuple[str, tuple[str, ...] | None, tuple[tuple[str, Any], ...]]:
    """`statement` compiled once for `dialect` and these row columns: its SQL, the order of
    its parameters when they are positional (None: named after the columns), and the
    conversions the rows' values need (SQLAlchemy's bind processors, but for those of times
    and booleans, which would return what the rows hold)."""
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    names = tuple(compiled.positiontup) if compiled.positional else tuple(compiled.binds)
    if sorted(names) != list(columns):  # each row binds its own values only
        raise ValueError(f"{statement} binds {names}, not the row columns {columns}")
    converters = tuple(
        (name, process) for name in names
        if not isinstance(compiled.binds[name].type, (UtcMillis, Boolean))
        and (process := compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    )
    return compiled.string, names if compiled.positional else None, converters


# ---- Topics ---------------------------------------------------------------------------------
def _ensure_topics(
    session: Session, kind: Kind, account_id: str, keys: set[str], now_ms: int
) -> list[str]:
    """Create a minimal topic row for each key that has none; returns the keys created."""
    missing = sorted(keys - stored_keys(session, kind.model.__table__, kind.key, account_id, keys))
    if missing:
        rows = [
            _new_row(kind, account_id, kind.record.model_construct(**{kind.key: key}), now_ms)
            for key in missing
        ]
        _execute_many(session, _insert_if_absent(_dialect(session), kind), rows)
    return missing


# ---- Reply confirmation ----------------------------------------------------------------------
def _replies_to_claim(
    session: Session, account_id: str, records: dict[Kind, list[BaseModel]]
) -> dict[str, list[Reply]]:
    """Our replies the batch's messages may be the platform's copies of, by target type: one
    query for the batch. Those awaiting their copy under one of the batch's ids, and, when
    the batch has outbound messages, those the operator confirmed by looking (they have no
    platform id to match: `_confirmed_by_the_operator`)."""
    crawled = [key for kind in MESSAGE_KINDS for key in map(attrgetter(kind.key), records.get(kind, ()))]
    if not crawled:
        return {}
    outbound = any(getattr(r, "direction", None) == OUT for kind in MESSAGE_KINDS for r in records.get(kind, ()))
    found: dict[str, list[Reply]] = {}
    for reply in session.scalars(_claimable(outbound), {
        "account_id": account_id, "keys": crawled, "since": utcnow() - OPERATOR_CONFIRMED_WINDOW,
    }):
        found.setdefault(reply.target_type, []).append(reply)
    return found


@lru_cache(maxsize=None)
def _claimable(outbound: bool) -> Any:
    awaiting = and_(in_keys(Reply.platform_reply_id), Reply.status != ReplyStatus.CONFIRMED.value)
    looked = and_(Reply.status == ReplyStatus.CONFIRMED.value, Reply.platform_reply_id.is_(None),
                  Reply.created_at >= bindparam("since"))
    return (select(Reply).where(Reply.account_id == bindparam("account_id"), or_(awaiting, looked) if outbound else awaiting)
            .order_by(Reply.created_at))


def _claim_placeholders(
    session: Session, kind: Kind, account_id: str, batch: list[BaseModel], candidates: list[Reply]
) -> list[Reply]:
    """Our replies (of `candidates`, `_replies_to_claim`'s) that these crawled messages are the
    platform's copies of; each reply's placeholder gives way to its copy
    (`adopt_platform_copy`), so the upsert that follows updates that row instead of adding a
    duplicate."""
    crawled = set(map(attrgetter(kind.key), batch))
    replies = [reply for reply in candidates
               if reply.platform_reply_id is not None and reply.platform_reply_id in crawled]
    claimed = {reply.platform_reply_id for reply in replies}
    unlinked = [reply for reply in candidates if reply.platform_reply_id is None]
    replies += _confirmed_by_the_operator(
        session, kind, account_id, [r for r in batch if getattr(r, kind.key) not in claimed], unlinked)
    for reply in replies:
        adopt_platform_copy(session, reply)
    return replies


def _confirmed_by_the_operator(
    session: Session, kind: Kind, account_id: str, batch: list[BaseModel], unlinked: list[Reply]
) -> list[Reply]:
    """Replies the operator confirmed by looking ("it is there": an uncertain reply) have no
    platform id to match. Their copy, when the crawl reaches it, is an outbound message of ours
    in the reply's topic with the reply's text, made after it and not yet anyone's; it takes
    the copy's id, and the placeholder gives way to the copy instead of standing beside it.
    `unlinked`: those replies, oldest first."""
    outbound = [r for r in batch if getattr(r, "direction", None) == OUT]
    if not outbound or not unlinked:
        return []
    key = kind.model.__table__.c[kind.key]
    taken = set(session.scalars(select(key).where(
        kind.model.__table__.c.account_id == account_id,
        key.in_([getattr(r, kind.key) for r in outbound]),
        kind.model.__table__.c.reply_id.is_not(None),
    )))
    found = []
    for reply in unlinked:
        for record in outbound:
            record_id = getattr(record, kind.key)
            if (record_id not in taken and getattr(record, kind.topic_key) == reply.topic_platform_id
                    and record.created_at >= reply.created_at - CLOCK_SKEW
                    and text_key(record.text or "") == text_key(reply.text)):
                reply.platform_reply_id = record_id
                taken.add(record_id)
                found.append(reply)
                break
    return found


def _target_type(kind: Kind) -> str:
    return TargetType.COMMENT.value if kind is COMMENTS else TargetType.DIRECT_MESSAGE.value


def reply_kind(reply: Reply) -> Kind:
    """Where a reply's message is stored: a comment or a direct message."""
    return COMMENTS if reply.target_type == TargetType.COMMENT.value else MESSAGES


def adopt_platform_copy(session: Session, reply: Reply) -> bool:
    """The one rule joining a reply's placeholder row ("local:<id>") and the platform's copy
    of the reply (the row with its platform_reply_id), used when the crawl sees the copy and
    when the outbox learns the id: the placeholder takes the platform id, or, when the copy is
    stored already, gives way to it (deleted). Returns whether the copy was stored already
    (it is then linked to the reply by `confirm_replies`)."""
    kind = reply_kind(reply)
    real_id = reply.platform_reply_id
    table = kind.model.__table__
    mine = table.c.account_id == reply.account_id
    stored = dict(session.execute(
        select(table.c[kind.key], table.c.reply_id).where(
            mine, (table.c.reply_id == reply.id) | (table.c[kind.key] == real_id)
        )
    ).all())
    placeholders = set(stored) - {real_id}
    copy_stored = real_id in stored and stored[real_id] != reply.id
    if placeholders:
        is_placeholder = table.c[kind.key].in_(placeholders)
        if real_id in stored:
            session.execute(delete(table).where(mine, is_placeholder))
        else:
            session.execute(update(table).where(mine, is_placeholder).values({kind.key: real_id}))
    return copy_stored


def confirm_replies(
    session: Session, kind: Kind, account_id: str, replies: list[Reply], now: datetime
) -> list[Confirmation]:
    """Link each reply to its (now stored) platform copy and mark it confirmed."""
    table = kind.model.__table__
    confirmed = []
    for reply in replies:
        real_id = reply.platform_reply_id
        session.execute(
            update(table)
            .where(table.c.account_id == account_id, table.c[kind.key] == real_id)
            .values(reply_id=reply.id, direction=OUT, is_read=True)
        )
        reply.status = ReplyStatus.CONFIRMED.value
        reply.confirmed_at = reply.confirmed_at or now  # the operator may have confirmed it before
        reply.updated_at = now
        topic = TopicRef(account_id, kind.topic_kind, reply.topic_platform_id)
        confirmed.append(Confirmation(reply.id, topic, real_id, reply.attempts))
    session.flush()
    return confirmed
