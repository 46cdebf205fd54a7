"""A list model of immutable engine objects, each found by its key in O(1).

The channel, topic and message models all hold frozen dataclasses from `app.engine.im.types`
and share what this base gives them:
- the object itself under `ObjectRole` (delegates paint from it; FeelUOwn's comment list does
  the same), its main text under DisplayRole (accessibility, tests);
- a key -> row map, so "this reply's status changed" is one `dataChanged` for one row;
- `_run_fetch`: an engine query run as a task behind an `_is_fetching` guard (the pattern of
  FeelUOwn's ReaderFetchMoreMixin), rows changed in its done-callback on the Qt thread;
- `_sync`: apply a freshly queried list as removals, inserts, row updates and one reorder,
  so views keep their selection and scroll position instead of seeing a model reset;
- `_when_settled`: rows an event carries are applied after the running query, never before,
  and `_since_requery` drops those older than the last full re-query (it read them already);
- `hold`: while the operator points at the list, `_sync` only updates rows in place and keeps
  the rest (new rows, removals, the new order) waiting, so a click lands on the row that was
  under the pointer; `waiting_changed` says how many rows have newer activity meanwhile.
"""
from __future__ import annotations

import inspect
import logging
import time
from typing import Any, Awaitable, Callable, Generic, Hashable, Iterable, TypeVar

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt, Signal

from app.engine.events import MessagesAdded

from ..bridge import spawn

log = logging.getLogger(__name__)

ObjectRole = Qt.ItemDataRole.UserRole

T = TypeVar("T")


class KeyedListModel(QAbstractListModel, Generic[T]):
    #: int: how many rows moved up or came in while the order was held (0: nothing waits)
    waiting_changed = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._items: list[T] = []
        self._rows: dict[Hashable, int] = {}
        self._is_fetching = False
        self._held = False
        self._waiting: list[T] | None = None  # the list to show once the order is released
        self._deferred: list[Callable[[], None]] = []  # changes that wait for the running query
        self._requeried_at = 0.0  # time.monotonic() of the last full re-query's start

    # ---- To implement ---------------------------------------------------------------------
    def key_of(self, item: T) -> Hashable:
        raise NotImplementedError

    def text_of(self, item: T) -> str:
        raise NotImplementedError

    # ---- Qt model API ---------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt name)
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == ObjectRole:
            return item
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self.text_of(item)
        return None

    # ---- Lookups --------------------------------------------------------------------------
    def item(self, row: int) -> T:
        return self._items[row]

    def items(self) -> list[T]:
        return list(self._items)

    def row_of(self, key: Hashable) -> int | None:
        return self._rows.get(key)

    def index_of(self, key: Hashable) -> QModelIndex:
        row = self._rows.get(key)
        return QModelIndex() if row is None else self.index(row, 0)

    @property
    def is_fetching(self) -> bool:
        return self._is_fetching

    # ---- Changes, each announced to the views ---------------------------------------------
    def _reindex(self) -> None:
        self._rows = {self.key_of(item): row for row, item in enumerate(self._items)}

    def _reset(self, items: list[T]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self._reindex()
        self.endResetModel()

    def _insert(self, row: int, items: list[T]) -> None:
        if not items:
            return
        self.beginInsertRows(QModelIndex(), row, row + len(items) - 1)
        self._items[row:row] = items
        self._reindex()
        self.endInsertRows()

    def _remove(self, first: int, last: int) -> None:
        """Drop rows first..last (inclusive)."""
        if first > last:
            return
        self.beginRemoveRows(QModelIndex(), first, last)
        del self._items[first:last + 1]
        self._reindex()
        self.endRemoveRows()

    def _replace(self, row: int, item: T) -> None:
        old_key = self.key_of(self._items[row])
        self._items[row] = item
        new_key = self.key_of(item)
        if new_key != old_key:
            self._rows.pop(old_key, None)
            self._rows[new_key] = row
        index = self.index(row, 0)
        self.dataChanged.emit(index, index)

    # ---- Holding the order ----------------------------------------------------------------
    @property
    def held(self) -> bool:
        return self._held

    def hold(self, held: bool) -> None:
        """Hold the rows where they are (True), or apply what waited and follow again."""
        self._held = held
        if not held and self._waiting is not None:
            fresh, self._waiting = self._waiting, None
            self._sync(fresh)
            self.waiting_changed.emit(0)

    def waiting_count(self) -> int:
        """Rows that would move up or appear if the order were released now."""
        if self._waiting is None:
            return 0
        count = 0
        for new_row, item in enumerate(self._waiting):
            row = self._rows.get(self.key_of(item))
            if row is None or new_row < row:
                count += 1
        return count

    def _sync_held(self, fresh: list[T]) -> None:
        """Update the rows in place; keep the rest for `hold(False)`."""
        for item in fresh:
            row = self._rows.get(self.key_of(item))
            if row is not None and self._items[row] != item:
                self._replace(row, item)
        self._waiting = fresh
        if [self.key_of(i) for i in self._items] == [self.key_of(i) for i in fresh]:
            self._waiting = None
        self.waiting_changed.emit(self.waiting_count())

    def _sync(self, fresh: list[T]) -> None:
        """Make the rows equal `fresh` (already in display order) with minimal signals."""
        if self._held and self._items:  # (an empty list has nothing to hold: fill it)
            self._sync_held(fresh)
            return
        fresh_keys = [self.key_of(item) for item in fresh]
        wanted = set(fresh_keys)
        for row in sorted((r for k, r in self._rows.items() if k not in wanted), reverse=True):
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._items[row]
            self.endRemoveRows()
        self._reindex()
        self._insert(len(self._items), [i for i, k in zip(fresh, fresh_keys) if k not in self._rows])
        for item, key in zip(fresh, fresh_keys):
            row = self._rows[key]
            if self._items[row] != item:
                self._replace(row, item)
        if [self.key_of(i) for i in self._items] != fresh_keys:
            self._reorder(fresh)

    def _reorder(self, fresh: list[T]) -> None:
        self.layoutAboutToBeChanged.emit()
        old_rows = dict(self._rows)
        persistent = self.persistentIndexList()
        self._items = list(fresh)
        self._reindex()
        keys_by_old_row = {row: key for key, row in old_rows.items()}
        self.changePersistentIndexList(
            persistent,
            [self.index(self._rows[keys_by_old_row[p.row()]], 0) for p in persistent],
        )
        self.layoutChanged.emit()

    # ---- Async fetching -------------------------------------------------------------------
    def _run_fetch(self, query: Awaitable[Any], apply: Callable[[Any], None]) -> bool:
        """Run one engine query unless one is already running; `apply` gets its result."""
        if self._is_fetching:
            if inspect.iscoroutine(query):
                query.close()  # never awaited: close it so Python does not warn
            return False
        self._is_fetching = True

        def done(result: Any) -> None:
            self._is_fetching = False
            apply(result)
            self._run_deferred()
            self._fetch_settled()

        def failed(exc: BaseException) -> None:
            self._is_fetching = False
            self.fetch_failed(exc)
            self._run_deferred()
            self._fetch_settled()

        spawn(query, on_done=done, on_error=failed, owner=self)
        return True

    def _when_settled(self, change: Callable[[], None]) -> None:
        """Apply `change` (rows an event brought) now, or once the running query's result is
        applied: that result may have been read before the event's commit, and applied
        after the change it would undo it."""
        if self._is_fetching:
            self._deferred.append(change)
        else:
            change()

    def _run_deferred(self) -> None:
        changes, self._deferred = self._deferred, []
        for change in changes:
            change()

    def _requeried(self) -> None:
        """Subclasses call this as they start re-querying every row they show."""
        self._requeried_at = time.monotonic()

    def _since_requery(self, events: Iterable[MessagesAdded]) -> list[MessagesAdded]:
        """The events committed after the last full re-query started: the rows of the
        others are in its result already, or older than it (a read mark after them)."""
        return [e for e in events if e.committed_at >= self._requeried_at]

    def _fetch_settled(self) -> None:
        """Called after each query's result is applied: run work that waited for it."""

    def fetch_failed(self, exc: BaseException) -> None:
        """A query failed (database gone, engine stopping): log it; the rows stay as they are."""
        log.error("%s: query failed", type(self).__name__, exc_info=exc)
