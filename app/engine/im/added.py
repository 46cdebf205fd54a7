"""The `MessagesAdded` event of newly stored messages, read in the transaction that stored them.

One batch used to make every consumer query the database again as soon as it heard of the
batch: the message list its newest page, the topic list its shown rows, the channel list every
account, the tray the unread totals and the account's name. The writer reads all of it here
once, with the same queries the views use (so an event's rows equal what a view would return
right after the commit), a few indexed lookups on the rows it has just written.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import Session

from ..events import MessagesAdded
from ..store.counters import CHUNK
from . import channels, topics
from .messages import message_select, to_message
from .tables import BOTH, BY_KIND, TopicTables
from .types import Message, TopicRef


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

    def highest_rows(self) -> dict[str, int]:
        """The highest new row id of each message table (the search index's catch-up)."""
        highest: dict[str, int] = {}
        for t, row in self._rows:
            name = t.message.__tablename__
            highest[name] = max(highest.get(name, 0), row.row_id)
        return highest


def read_added(
    session: Session, account_id: str, added: Iterable[tuple[TopicRef, str]], inbound_new: int = 0
) -> MessagesAdded:
    """The event for these new messages ((topic, message id) of one account), as stored now."""
    ids: dict[str, list[str]] = {}
    refs: set[TopicRef] = set()
    for ref, message_id in added:
        ids.setdefault(ref.kind, []).append(message_id)
        refs.add(ref)
    rows: list[tuple[TopicTables, Any]] = []
    connection = session.connection()  # Core rows: the ORM's result machinery costs more here
    for t in BOTH:
        keys = sorted(set(ids.get(t.kind, ())))
        for start in range(0, len(keys), CHUNK):
            found = connection.execute(_messages_statement(t.kind),
                                       {"account_id": account_id, "keys": keys[start:start + CHUNK]})
            rows += [(t, row) for row in found]
    channel = channels.get_channel(session, account_id)
    if channel is None:
        raise LookupError(f"unknown account {account_id!r}")  # the callers checked it in this transaction
    return MessagesAdded(
        account_id,
        messages=NewMessages(rows, frozenset(refs)),
        topic_rows=tuple(topics.topics_of(session, refs)),
        channel=channel,
        unread=channels.unread_totals(session, None),
        inbound_new=inbound_new,
    )


@lru_cache(maxsize=None)
def _messages_statement(kind: str) -> Any:
    """The messages of one account by their platform ids (built once: building a statement
    costs more than running it)."""
    t = BY_KIND[kind]
    return message_select(t).where(t.message.account_id == bindparam("account_id"),
                                    t.message_key.in_(bindparam("keys", expanding=True)))


def committed(event: MessagesAdded) -> MessagesAdded:
    """The event stamped with the moment after its commit, for publishing."""
    return replace(event, committed_at=time.monotonic())
