"""ImViews: the queries behind the console's IM views and the server's monitor/IM API.

Channels (accounts) -> topics (works and DM conversations) -> messages (comments and DMs),
plus read marks, unread totals and search. One implementation serves the Qt models and the
embedded server alike. Every query runs on a database reader thread and every mark on the
writer thread (store.db), never on the event loop, which in the console is the UI thread.
The SQL lives in the small modules beside this one, one per view.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..bus import EventBus
from ..events import UnreadChanged
from ..store.db import Database
from . import activity, channels, marks, messages, search, topics
from .messages import cursor_from as _cursor_from, cursor_through as _cursor_through
from .search_index import SearchIndexer
from .types import Channel, Message, MessageCursor, MessageKind, Page, SearchHit, Topic, TopicKind, TopicRef, UnreadTotals


class ImViews:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self._db = db
        self._bus = bus
        self._search_index = SearchIndexer(db, bus)  # keeps SQLite's search index current

    # ---- Lists

    async def channels(self) -> list[Channel]:
        """Every account with its unread and message counts, most recent activity first."""
        return await self._db.read(channels.list_channels)

    async def topics(
        self,
        account_id: str,
        *,
        kind: TopicKind | None = None,
        unread_only: bool = False,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Topic]:
        """A channel's works and conversations, newest activity first (topics without any
        message last). Pass `page.after` as `cursor` for the next page."""
        return await self._db.read(topics.topic_page, account_id, kind, unread_only, limit, cursor)

    async def topic(self, ref: TopicRef) -> Topic | None:
        return await self._db.read(topics.get_topic, ref)

    async def find_topics(self, platform_id: str, *, account_id: str | None = None,
                          kind: TopicKind | None = None) -> list[TopicRef]:
        """The topics with this platform id (a client that names a topic by its id alone):
        in one account or in all of them, of one kind or of both."""
        return await self._db.read(topics.find_topics, platform_id, account_id, kind)

    async def find_newest(self, platform_id: str, *, account_id: str | None = None,
                          kind: TopicKind | None = None, limit: int = 50) -> tuple[list[TopicRef], Page[Message] | None]:
        """`find_topics`, and the newest page of the first topic found when all of them are in
        one account (else None): one read for a client that names a topic by its id and asks
        for its messages (every hop to a reader thread costs the event loop too)."""
        return await self._db.read(topics.find_newest, platform_id, account_id, kind, limit)

    async def messages(
        self,
        ref: TopicRef,
        *,
        before: str | MessageCursor | None = None,
        after: str | MessageCursor | None = None,
        limit: int = 50,
    ) -> Page[Message]:
        """A page of a topic's messages, oldest -> newest: the newest page without a cursor,
        else the page just before `before` (older) or just after `after` (newer)."""
        return await self._db.read(messages.message_page, ref, before, after, limit)

    async def account_messages(
        self,
        account_id: str,
        *,
        kinds: Sequence[MessageKind] = ("comment", "direct_message"),
        topic_id: str | None = None,
        threads: activity.Threads = "all",
        parent_id: str | None = None,
        since: datetime | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> Page[Message]:
        """An account's messages across its topics, newest first (one topic's, with
        `topic_id`; comments: `threads` "top" first-level only, "replies" replies only, or
        `parent_id` the replies to one comment; created at or after `since`). Pass
        `page.after` as `after` for the next (older) page."""
        return await self._db.read(activity.account_messages, account_id, tuple(kinds), topic_id, threads,
                                   parent_id, since, after, limit)

    async def messages_around(self, ref: TopicRef, message_id: str, *, limit: int = 50) -> Page[Message]:
        """The page of a topic's messages that ends with `message_id` (a search hit), with
        cursors both ways; the newest page when the topic has no such message."""
        return await self._db.read(messages.message_page_around, ref, message_id, limit)

    # The cursors of the pages just beyond a message a model holds (it drops rows at the far
    # end while paging, and fetches them again from there).
    cursor_through = staticmethod(_cursor_through)
    cursor_from = staticmethod(_cursor_from)

    async def unread_totals(self, account_id: str | None = None) -> UnreadTotals:
        """Unread comments and DMs of one account, or of all accounts."""
        return await self._db.read(channels.unread_totals, account_id)

    async def search(
        self, query: str, *, account_id: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[SearchHit]:
        """Messages containing every word of `query` (substrings, also in Chinese), newest
        first, optionally in one account only. Pass `page.after` as `cursor` for the next
        (older) page."""
        return await self._db.read(search.search_messages, self._db.dialect, query, account_id, limit, cursor)

    # ---- Read marks: each returns how many messages changed and, if any did, publishes
    # UnreadChanged after its commit.

    async def mark_read(self, ref: TopicRef, message_ids: Sequence[str] | None = None) -> int:
        """Mark these messages of a topic read, or the whole topic when `message_ids` is None."""
        ids = None if message_ids is None else list(message_ids)
        return self._announce(ref.account_id, await self._db.write(marks.mark_topic_read, ref, ids))

    async def mark_messages_read(self, account_id: str, kind: MessageKind, message_ids: Sequence[str]) -> int:
        """Mark messages of one account read by their ids alone (comments or direct messages)."""
        topic_kind = "content" if kind == "comment" else "conversation"
        return self._announce(account_id, await self._db.write(
            marks.mark_messages_read, account_id, topic_kind, list(message_ids)))

    async def mark_channel_read(self, account_id: str) -> int:
        return self._announce(account_id, await self._db.write(marks.mark_channel_read, account_id))

    async def mark_all_read(self) -> int:
        return (await self.mark_all_read_undoably()).count

    async def unread_snapshot(self) -> tuple[list[Channel], dict[str, int]]:
        """The channels with their unread counts, and a cutoff for `mark_all_read_undoably`
        that marks exactly those messages (for a confirmation that names the count)."""
        return await self._db.read(_unread_snapshot)

    async def mark_all_read_undoably(self, up_to: dict[str, int] | None = None) -> marks.Marked:
        """Mark every message read (stored up to the `unread_snapshot` cutoff `up_to`, when
        given); the result's `rows` let `restore_unread` undo exactly that."""
        marked = await self._db.write(marks.mark_all_read, up_to)
        self._announce(None, marked)
        return marked

    async def restore_unread(self, marked: marks.Marked) -> int:
        """Undo a channel or everything mark: its messages that are still read become unread."""
        return self._announce(None, await self._db.write(marks.restore_unread, marked.rows))

    async def mark_unread(self, ref: TopicRef, message_id: str) -> int:
        """Make one inbound message unread again (e.g. to come back to it later)."""
        return self._announce(ref.account_id, await self._db.write(marks.mark_unread, ref, message_id))

    def _announce(self, account_id: str | None, marked: marks.Marked) -> int:
        if marked.topics:
            if account_id is None and len({ref.account_id for ref in marked.topics}) == 1:
                account_id = marked.topics[0].account_id
            self._bus.publish(UnreadChanged(account_id=account_id, topics=marked.topics))
        return marked.count


def _unread_snapshot(session) -> tuple[list[Channel], dict[str, int]]:
    # The cutoff first: a message stored between the two reads is counted but not marked,
    # never marked without being counted.
    up_to = marks.newest_rows(session)
    return channels.list_channels(session), up_to
