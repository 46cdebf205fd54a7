"""One channel's topics (works and DM conversations), newest activity first, paged.

Scrolling to the bottom asks Qt's `canFetchMore/fetchMore` for the next page. New messages
bring their topics' rows in their event, which move to their place (a topic that just got a
message moves to the top and its badge changes without a reset, and without a query); other
events that touch this channel re-query the rows already shown (debounced). The topic the operator has
open stays in the list even when a filter (unread only) would now drop it.
"""
from __future__ import annotations

from typing import Iterable, Literal

from PySide6.QtCore import QModelIndex, QObject, QTimer

from app.engine.events import MessagesAdded, MessagesUpdated, UnreadChanged
from app.engine.im.tables import BOTH
from app.engine.im.types import Page, Topic, TopicRef

from ..bridge import EngineBridge
from .keyed import KeyedListModel

TopicFilter = Literal["all", "content", "conversation", "unread"]
PAGE_SIZE = 100
REFRESH_DEBOUNCE_MS = 100


def next_page_cursor(page: Page[Topic]) -> str | None:
    """The cursor of the page below the last row (older activity), None at the end."""
    return page.after


class TopicsModel(KeyedListModel[Topic]):
    def __init__(self, views, bridge: EngineBridge, account_id: str,
                 topic_filter: TopicFilter = "all", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._views = views
        self.account_id = account_id
        self.topic_filter: TopicFilter = topic_filter
        self._cursor: str | None = None
        self._at_end = False
        self._pinned: Topic | None = None
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(REFRESH_DEBOUNCE_MS)
        self._refresh.timeout.connect(self.reload)
        bridge.messages_added.connect(self._on_messages_added)
        bridge.messages_updated.connect(self._on_topic_event)
        bridge.unread_changed.connect(self._on_topic_event)
        bridge.message_status_changed.connect(self._on_topic_event)

    def key_of(self, item: Topic) -> TopicRef:
        return item.ref

    def text_of(self, item: Topic) -> str:
        return item.title

    def topic(self, ref: TopicRef) -> Topic | None:
        row = self.row_of(ref)
        return None if row is None else self.item(row)

    def pin(self, topic: Topic | None) -> None:
        """Keep this topic (the one open in the chat pane) listed whatever the filter says."""
        self._pinned = topic

    # ---- Paging (Qt asks when the last row scrolls into view) -----------------------------
    def canFetchMore(self, parent: QModelIndex = QModelIndex()) -> bool:  # noqa: N802
        return not parent.isValid() and not self._at_end and not self._is_fetching

    def fetchMore(self, parent: QModelIndex = QModelIndex()) -> None:  # noqa: N802
        if self.canFetchMore(parent):
            self._run_fetch(self._query(PAGE_SIZE, self._cursor), self._append_page)

    def _query(self, limit: int, cursor: str | None):
        kind = self.topic_filter if self.topic_filter in ("content", "conversation") else None
        return self._views.topics(self.account_id, kind=kind,
                                  unread_only=self.topic_filter == "unread",
                                  limit=limit, cursor=cursor)

    def _append_page(self, page: Page[Topic]) -> None:
        self._cursor = next_page_cursor(page)
        self._at_end = self._cursor is None
        self._insert(len(self._items), [t for t in page.items if t.ref not in self._rows])

    # ---- Refreshing what is shown ---------------------------------------------------------
    def reload(self) -> None:
        """Re-query as many rows as are shown (at least a page) and apply the difference."""
        limit = max(PAGE_SIZE, len(self._items))
        if self._run_fetch(self._reload_query(limit, self._pinned), self._apply_reload):
            self._requeried()
        else:
            self._refresh.start()

    async def _reload_query(self, limit: int, pinned: Topic | None) -> tuple[Page[Topic], Topic | None]:
        page = await self._query(limit, None)
        if pinned is not None and all(t.ref != pinned.ref for t in page.items):
            pinned = await self._views.topic(pinned.ref)  # its counters, outside the filter
        else:
            pinned = None
        return page, pinned

    def _apply_reload(self, result: tuple[Page[Topic], Topic | None]) -> None:
        page, pinned = result
        self._cursor = next_page_cursor(page)
        self._at_end = self._cursor is None
        fresh = list(page.items)
        if pinned is not None and self._pinned is not None and pinned.ref == self._pinned.ref:
            self._pinned = pinned
            fresh = list_order(fresh + [pinned])
        self._sync(fresh)

    def _schedule_reload(self) -> None:
        if not self._refresh.isActive():
            self._refresh.start()

    def _on_messages_added(self, events: Iterable[MessagesAdded]) -> None:
        mine = [e for e in events if e.account_id == self.account_id]
        if mine:
            self._when_settled(lambda: self._apply_rows(mine))

    def _apply_rows(self, events: list[MessagesAdded]) -> None:
        """Put the events' topic rows in their place: updated, moved, added when they belong
        to the pages shown, dropped when the filter no longer admits them."""
        rows = {t.ref: t for e in self._since_requery(events) for t in e.topic_rows}
        if not rows or (not self._items and not self._at_end):
            return  # (the first page is not loaded yet: it brings them)
        shown = list(self._waiting if self._waiting is not None else self._items)
        if self._pinned is not None and self._pinned.ref in rows:
            self._pinned = rows[self._pinned.ref]
        floor = None if self._at_end or not shown else _activity_key(shown[-1])
        pinned = getattr(self._pinned, "ref", None)
        known = {t.ref for t in shown}
        fresh = [  # new rows first: of topics alike in the list order, the newer row comes first
            t for t in rows.values() if t.ref not in known
            and (t.ref == pinned or ((floor is None or _activity_key(t) >= floor) and self._admits(t)))]
        for topic in shown:
            if topic.ref not in rows:
                fresh.append(topic)
            elif topic.ref == pinned or self._admits(rows[topic.ref]):
                fresh.append(rows[topic.ref])
        self._sync(list_order(fresh))

    def _admits(self, topic: Topic) -> bool:
        if self.topic_filter == "unread":
            return topic.unread_count > 0
        return self.topic_filter == "all" or topic.ref.kind == self.topic_filter

    def _on_topic_event(self, event: MessagesUpdated | UnreadChanged) -> None:
        if event.account_id in (None, self.account_id):
            self._schedule_reload()


def _activity_key(topic: Topic) -> float:
    return topic.last_message_at.timestamp() if topic.last_message_at else 0.0


def list_order(topics: list[Topic]) -> list[Topic]:
    """`topics` in the topic list's order (topics.py: newest activity, then conversations
    before works, then the newer row). Rows are not known here: of topics alike in the first
    two, the one given first stays first."""
    rank = {t.kind: t.rank for t in BOTH}
    return sorted(topics, key=lambda t: (-_activity_key(t), -rank[t.ref.kind]))
