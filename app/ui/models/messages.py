"""One topic's messages, oldest at the top, loaded a page at a time around what is shown.

Opening a topic loads only its newest page, so a topic of 100,000 messages opens as fast as
one of ten. Two directions of paging:
- older pages go to the TOP: the chat view calls `fetch_older()` when scrolled to the top
  and keeps its scroll position while the rows are prepended (Qt's own fetchMore only
  means "more rows at the end", which for a chat is the wrong end);
- newer pages go to the END: after jumping to a search hit deep in the history the model is
  not at the newest message, and Qt's `canFetchMore/fetchMore` pages towards it.

While the newest message is loaded, new messages are appended live from the rows their
`MessagesAdded` event carries (no query; a flood keeps the newest MAX_ROWS), edits re-query the
newest page and merge it by id (nothing is reloaded), and a reply's status change updates its
one row, found through the reply id.
"""
from __future__ import annotations

import bisect
from dataclasses import replace
from typing import Iterable

from PySide6.QtCore import QModelIndex, QObject, Signal

from app.engine.events import MessagesAdded, MessagesUpdated, MessageStatusChanged
from app.engine.im.types import Message, Page, TopicRef

from ..bridge import EngineBridge
from .keyed import KeyedListModel

FIRST_PAGE = 50
OLDER_PAGE = 100
LIVE_PAGE = 50
# Rows kept while paging: the view lays every row out again for each page prepended, so
# without a bound a long scroll back gets slower with every page. Beyond it the rows at the
# far end are dropped (the newest when scrolling back, the oldest when paging down after a
# jump into the history) and come back as pages when the operator scrolls there again.
MAX_ROWS = 1000


class MessagesModel(KeyedListModel[Message]):
    #: Rows were prepended by `fetch_older` (count): the view restores its scroll position.
    older_loaded = Signal(int)
    #: The first page of the topic (or the page around a jump target) is in.
    loaded = Signal()

    def __init__(self, views, bridge: EngineBridge, ref: TopicRef,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._views = views
        self.ref = ref
        self._older: str | None = None  # cursor of the page above the first row
        self._newer: str | None = None  # cursor of the page below the last row; None = newest
        self._by_reply: dict[str, str] = {}  # outbox reply id -> message id
        self._live_pending = False
        self._older_pending = False  # the top was reached while a query ran
        bridge.messages_added.connect(self._on_messages_added)
        bridge.messages_updated.connect(self._on_messages_updated)
        bridge.message_status_changed.connect(self._on_status_changed)

    def key_of(self, item: Message) -> str:
        return item.id

    def text_of(self, item: Message) -> str:
        return item.text

    def _reindex(self) -> None:
        super()._reindex()
        self._by_reply = {m.reply_id: m.id for m in self._items if m.reply_id}

    def row_of_reply(self, reply_id: str) -> int | None:
        message_id = self._by_reply.get(reply_id)
        return None if message_id is None else self.row_of(message_id)

    @property
    def has_older(self) -> bool:
        return self._older is not None

    @property
    def at_newest(self) -> bool:
        return self._newer is None

    # ---- Opening --------------------------------------------------------------------------
    def load_newest(self) -> None:
        self._run_fetch(self._views.messages(self.ref, limit=FIRST_PAGE), self._apply_first)

    def load_around(self, message: Message) -> None:
        """Open the history at `message` (a search hit): the page that ends with it."""
        self._run_fetch(self._views.messages_around(self.ref, message.id, limit=FIRST_PAGE),
                        self._apply_first)

    def _apply_first(self, page: Page[Message]) -> None:
        self._older, self._newer = page.before, page.after
        self._reset(page.items)
        self.loaded.emit()

    # ---- Older pages, prepended -----------------------------------------------------------
    def fetch_older(self) -> bool:
        """Fetch the page above the first row. Asked while another query runs (a live update
        of the newest page), it runs once that one is applied: the operator who scrolled to
        the top would otherwise wait there for older messages that never come."""
        if self._older is None:
            return False
        if self._is_fetching:
            self._older_pending = True
            return False
        query = self._views.messages(self.ref, before=self._older, limit=OLDER_PAGE)
        return self._run_fetch(query, self._prepend_page)

    def _prepend_page(self, page: Page[Message]) -> None:
        self._older = page.before
        fresh = [m for m in page.items if m.id not in self._rows]
        self._insert(0, fresh)
        if len(self._items) > MAX_ROWS:
            last_kept = self._items[MAX_ROWS - 1]
            # "After" this instant includes the kept rows of the same millisecond: they are
            # skipped by id when the page comes back, and none of the dropped ones is missed.
            self._remove(MAX_ROWS, len(self._items) - 1)
            self._newer = self._views.cursor_from(last_kept)
        self.older_loaded.emit(len(fresh))

    # ---- Newer pages, appended (Qt's fetchMore) -------------------------------------------
    def canFetchMore(self, parent: QModelIndex = QModelIndex()) -> bool:  # noqa: N802
        return not parent.isValid() and self._newer is not None and not self._is_fetching

    def fetchMore(self, parent: QModelIndex = QModelIndex()) -> None:  # noqa: N802
        if self.canFetchMore(parent):
            query = self._views.messages(self.ref, after=self._newer, limit=OLDER_PAGE)
            self._run_fetch(query, self._append_page)

    def _append_page(self, page: Page[Message]) -> None:
        self._newer = page.after
        self._insert(len(self._items), [m for m in page.items if m.id not in self._rows])
        self._trim_oldest()

    def _trim_oldest(self) -> None:
        if len(self._items) > MAX_ROWS:
            first_kept = self._items[len(self._items) - MAX_ROWS]
            # "Before" the next millisecond includes the kept rows of the same one: they are
            # skipped by id when the page comes back, and none of the dropped ones is missed.
            self._remove(0, len(self._items) - MAX_ROWS - 1)
            self._older = self._views.cursor_through(first_kept)

    # ---- Live changes ---------------------------------------------------------------------
    def _on_messages_added(self, events: Iterable[MessagesAdded]) -> None:
        arrived = [m for e in events for m in e.messages.in_topic(self.ref)]
        if arrived:
            self._when_settled(lambda: self._add_arrived(arrived))

    def _add_arrived(self, messages: list[Message]) -> None:
        """Add the new messages an event brought. A row shown already stays as it is: it came
        from a query or a status change after the event's commit, so it is as new or newer
        (the event of a queued reply arrives after its first status change)."""
        if self.at_newest:  # else they come with the pages below
            self._merge([m for m in messages if self._row_for(m) is None])
            self._trim_oldest()

    def _on_messages_updated(self, event: MessagesUpdated) -> None:
        if self.ref in event.topics:
            self.refresh_newest()

    def _on_status_changed(self, event: MessageStatusChanged) -> None:
        if event.topic != self.ref:
            return
        row = self.row_of_reply(event.reply_id)
        if row is None:
            self.refresh_newest()  # the placeholder itself is new to us
            return
        message = self.item(row)
        if message.id != event.message_id and event.message_id in self._rows:
            self.refresh_newest()  # the confirmed message arrived before this event
            return
        self._replace(row, replace(message, id=event.message_id, reply_status=event.status,
                                   reply_error=event.error, reply_error_code=event.error_code,
                                   reply_wait_code=event.wait_code))
        self._reindex()

    def refresh_newest(self) -> None:
        """Merge the newest page into the rows (only while the newest message is shown)."""
        if not self.at_newest:
            return
        if self._is_fetching:
            self._live_pending = True  # look again once the running query is applied
            return
        self._run_fetch(self._views.messages(self.ref, limit=LIVE_PAGE), self._merge_newest)

    def _merge_newest(self, page: Page[Message]) -> None:
        known = [m for m in page.items if self._row_for(m) is not None]
        if self._items and not known and page.before is not None:
            self._apply_first(page)  # changes beyond the page: start from the newest
            return
        self._merge(page.items)

    def _merge(self, messages: list[Message]) -> None:
        """Update known rows (a placeholder may now carry its platform id), append what is
        newer than the last row in one insert, and put a late older message in its place."""
        tail: list[Message] = []
        for message in messages:
            if self._update_known(message):
                continue
            if not self._items or message.created_at >= self._items[-1].created_at:
                tail.append(message)
            else:
                self._insert_in_time(message)
        self._insert(len(self._items), tail)

    def _fetch_settled(self) -> None:
        if self._older_pending:
            self._older_pending = False
            self.fetch_older()
        elif self._live_pending:
            self._live_pending = False
            self.refresh_newest()

    def _row_for(self, message: Message) -> int | None:
        row = self.row_of(message.id)
        if row is None and message.reply_id:
            row = self.row_of_reply(message.reply_id)
        return row

    def _update_known(self, message: Message) -> bool:
        row = self._row_for(message)
        if row is None:
            return False
        if self.item(row) != message:
            self._replace(row, message)
            self._reindex()
        return True

    def _insert_in_time(self, message: Message) -> None:
        row = bisect.bisect_right([m.created_at for m in self._items], message.created_at)
        if row > 0 or self._older is None:  # else it comes with the older pages
            self._insert(row, [message])
