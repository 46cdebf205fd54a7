"""The `MessagesAdded` event of newly stored messages, read in the transaction that stored them.

One batch used to make every consumer query the database again as soon as it heard of the
batch: the message list its newest page, the topic list its shown rows, the channel list every
account, the tray the unread totals and the account's name. The writer reads all of it here
once, with the same queries the views use (so an event's rows equal what a view would return
right after the commit), a few indexed lookups on the rows it has just written. The new
message rows themselves the DataStore hands over as it wrote them: reading hundreds of rows
back cost the writer more than storing them (only their row ids are looked up); the topic
rows, with the views' columns, come from the counter refresh that has just updated them
(UPDATE ... RETURNING, topics.refreshed_topics).
"""
from __future__ import annotations

import time
from collections import namedtuple
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import Session

from ..events import MessagesAdded
from ..store.keys import in_keys
from . import channels, topics
from .messages import MESSAGE_ROW, message_select, to_message
from .tables import BOTH, BY_KIND, TopicTables
from .types import Message, Topic, TopicRef

# A message row as `message_select` returns it (the same fields for both kinds), for rows
# the writer made itself (`_from_written`, which fills them in this order).
StoredRow = namedtuple("StoredRow", MESSAGE_ROW)


class NewMessages:
    """The rows of newly stored messages as the storing transaction read them, in their topics'
    order (time, then row), made into `Message`s only when asked: most consumers want a few
    of them (the open topic's) or none, and making every one costs the writer more than
    reading it."""

    __slots__ = ("_rows", "topics")

    def __init__(self, rows: list[tuple[TopicTables, Any]], topics: frozenset[TopicRef]) -> None:
        self._rows = sorted(rows, key=lambda tr: (tr[1].created_ms, tr[1].row_id))
        self.topics = topics

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(row.platform_id for _, row in self._rows)

    def in_topic(self, ref: TopicRef) -> list[Message]:
        """The new messages of one topic, oldest first."""
        if ref not in self.topics:
            return []
        return [to_message(t, row) for t, row in self._rows
                if t.kind == ref.kind and row.topic_id == ref.platform_id and row.account_id == ref.account_id]

    def inbound_since(self, since_ms: int) -> dict[TopicRef, int]:
        """How many of the new messages of each topic are the audience's, made at or after
        `since_ms` (what a new-message hint counts), read from the rows without making them
        into `Message`s."""
        counts: dict[TopicRef, int] = {}
        for t, row in self._rows:
            if row.direction == "in" and row.created_ms >= since_ms:
                ref = TopicRef(row.account_id, t.kind, row.topic_id)
                counts[ref] = counts.get(ref, 0) + 1
        return counts

    def highest_rows(self) -> dict[str, int]:
        """The highest new row id of each message table (the search index's catch-up)."""
        highest: dict[str, int] = {}
        for t, row in self._rows:
            name = t.message.__tablename__
            highest[name] = max(highest.get(name, 0), row.row_id)
        return highest


def read_added(
    session: Session, account_id: str, added: Iterable[tuple[TopicRef, str]], inbound_new: int = 0,
    written: dict[str, dict[str, dict[str, Any]]] | None = None, refreshed: Iterable[Topic] | None = None,
) -> MessagesAdded:
    """The event for these new messages ((topic, message id) of one account), as stored now.

    `written` (the DataStore's): {topic kind: {message id: the row as it was just written}}
    for new rows nothing changed since. Those are not read back: only their row ids and the
    text of the comments they answer are looked up (`_from_written`). `refreshed`: topic rows
    as the storing transaction's counter refresh returned them (topics.refreshed_topics),
    among them those of these messages, which are then not read again."""
    ids: dict[str, list[str]] = {}
    refs: set[TopicRef] = set()
    for ref, message_id in added:
        ids.setdefault(ref.kind, []).append(message_id)
        refs.add(ref)
    rows: list[tuple[TopicTables, Any]] = []
    connection = session.connection()  # Core rows: the ORM's result machinery costs more here
    for t in BOTH:
        keys = set(ids.get(t.kind, ()))
        known = {key: row for key, row in (written or {}).get(t.kind, {}).items() if key in keys}
        if known:
            rows += [(t, row) for row in _from_written(connection, t, account_id, known)]
            keys -= known.keys()
        if keys:
            found = connection.execute(_messages_statement(t.kind), {"account_id": account_id, "keys": list(keys)}).all()
            rows += [(t, row) for row in found]
    channel = channels.get_channel(session, account_id)
    if channel is None:
        raise LookupError(f"unknown account {account_id!r}")  # the callers checked it in this transaction
    return MessagesAdded(
        account_id,
        messages=NewMessages(rows, frozenset(refs)),
        topic_rows=tuple(topics.topics_of(session, refs) if refreshed is None
                         else (topic for topic in refreshed if topic.ref in refs)),
        channel=channel,
        unread=channels.unread_totals(session, None),
        inbound_new=inbound_new,
    )


def _from_written(connection: Any, t: TopicTables, account_id: str, written: dict[str, dict[str, Any]]) -> list[Any]:
    """Rows shaped as `message_select` returns them, made from the rows the DataStore has just
    inserted: only their row ids and the texts of the comments they answer (which a view
    joins) are looked up. New rows have no outbox row (a reply confirmed by the batch is
    read back instead)."""
    ids = _row_ids(connection, t, account_id, written.keys())
    parents = {row["parent_platform_comment_id"] for row in written.values()
               if row.get("parent_platform_comment_id")}
    texts = dict(connection.execute(_texts_statement(t.kind), {"account_id": account_id, "keys": list(parents)}).all()
                 ) if parents else {}
    key, topic = t.message_key.key, t.message_topic.key
    author_id, author_name, author_avatar = t.author_id.key, t.author_name.key, t.author_avatar.key
    rows = []
    for platform_id, row in written.items():
        parent = row.get("parent_platform_comment_id")
        rows.append(StoredRow(  # by position (half the cost of keywords), in MESSAGE_ROW's order
            ids[platform_id], row["account_id"], row[key], row[topic], row[author_id], row[author_name],
            row[author_avatar], row["text"], row["created_at"], row["direction"], row["is_read"],
            None, None, None, None, None,  # reply_id, reply_status, reply_error, reply_error_code, reply_wait_code
            parent, texts.get(parent), row.get("message_type"),
        ))
    return rows


def _row_ids(connection: Any, t: TopicTables, account_id: str, keys: Iterable[str]) -> dict[str, int]:
    """The row ids of these messages, inserted just now: one writer stores a batch, so they
    are the table's newest rows, which a short backward scan of its primary key confirms.
    When they are not (another process wrote in between, or a row was changed since and is
    not among `keys`), they are looked up by key."""
    keys = set(keys)
    newest = connection.execute(_newest_statement(t.kind), {"n": len(keys)}).all()
    if len(newest) == len(keys) and all(a == account_id and k in keys for k, _, a in newest):
        return {k: row_id for k, row_id, _ in newest}
    return dict(connection.execute(_ids_statement(t.kind), {"account_id": account_id, "keys": list(keys)}).all())


@lru_cache(maxsize=None)
def _messages_statement(kind: str) -> Any:
    """The messages of one account by their platform ids (built once: building a statement
    costs more than running it)."""
    t = BY_KIND[kind]
    return message_select(t).where(t.message.account_id == bindparam("account_id"), in_keys(t.message_key))


@lru_cache(maxsize=None)
def _ids_statement(kind: str) -> Any:
    """Row ids of messages of one account by their platform ids."""
    t = BY_KIND[kind]
    return select(t.message_key, t.message.id).where(t.message.account_id == bindparam("account_id"), in_keys(t.message_key))


@lru_cache(maxsize=None)
def _newest_statement(kind: str) -> Any:
    """The newest `n` rows of a message table (platform id, row id, account)."""
    t = BY_KIND[kind]
    return select(t.message_key, t.message.id, t.message.account_id).order_by(t.message.id.desc()).limit(
        bindparam("n", type_=Integer))


@lru_cache(maxsize=None)
def _texts_statement(kind: str) -> Any:
    """The texts of messages of one account by their platform ids."""
    t = BY_KIND[kind]
    return select(t.message_key, t.message.text).where(t.message.account_id == bindparam("account_id"), in_keys(t.message_key))


def committed(event: MessagesAdded) -> MessagesAdded:
    """The event stamped with the moment after its commit, for publishing."""
    return replace(event, committed_at=time.monotonic())
