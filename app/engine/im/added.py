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

from sqlalchemy.orm import Session

from ..events import MessagesAdded
from ..store.counters import CHUNK
from . import channels, topics
from .messages import message_select, to_message
from .tables import BOTH
from .types import MessageCursor, PlacedMessage, TopicRef


def read_added(
    session: Session, account_id: str, added: Iterable[tuple[TopicRef, str]], inbound_new: int = 0
) -> MessagesAdded:
    """The event for these new messages ((topic, message id) of one account), as stored now."""
    ids: dict[str, list[str]] = {}
    refs: set[TopicRef] = set()
    for ref, message_id in added:
        ids.setdefault(ref.kind, []).append(message_id)
        refs.add(ref)
    placed: list[PlacedMessage] = []
    for t in BOTH:
        keys = sorted(set(ids.get(t.kind, ())))
        for start in range(0, len(keys), CHUNK):
            stmt = message_select(t).where(t.message.account_id == account_id,
                                           t.message_key.in_(keys[start:start + CHUNK]))
            placed += [PlacedMessage(to_message(t, row), MessageCursor(row.created_ms, row.row_id))
                       for row in session.execute(stmt)]
    # Each topic's order: time, then row (the message pages' order).
    placed.sort(key=lambda p: (p.position.created_at_ms, p.position.row_id))
    channel = channels.get_channel(session, account_id)
    if channel is None:
        raise LookupError(f"unknown account {account_id!r}")  # the callers checked it in this transaction
    return MessagesAdded(
        account_id,
        messages=tuple(placed),
        topic_rows=tuple(topics.topics_of(session, refs)),
        channel=channel,
        unread=channels.unread_totals(session, None),
        inbound_new=inbound_new,
    )


def committed(event: MessagesAdded) -> MessagesAdded:
    """The event stamped with the moment after its commit, for publishing."""
    return replace(event, committed_at=time.monotonic())
