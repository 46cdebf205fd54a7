"""The channel list: one row per account, most recent activity first, with unread badges.

Channels are few (one per account), so the whole list is queried at once and re-queried,
debounced, whenever an event may have changed a counter, a name or a login state; new
messages bring their account's row in their event instead, so traffic causes no query.
`_sync` turns the new list into row updates and one reorder, so the selection survives.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from PySide6.QtCore import QObject, QTimer

from app.engine.events import AccountStatusChanged, MessagesAdded
from app.engine.im.types import Channel

from ..bridge import EngineBridge
from .keyed import KeyedListModel

REFRESH_DEBOUNCE_MS = 100
_NEVER = datetime.min.replace(tzinfo=timezone.utc)


def activity_order(channels: list[Channel]) -> list[Channel]:
    """Most recent message first; channels without messages last, by name."""
    by_name = sorted(channels, key=lambda c: c.name.casefold())
    return sorted(by_name, key=lambda c: c.last_message_at or _NEVER, reverse=True)


class ChannelsModel(KeyedListModel[Channel]):
    def __init__(self, views, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._views = views
        self._loaded = False
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(REFRESH_DEBOUNCE_MS)
        self._refresh.timeout.connect(self.reload)
        for signal in (bridge.unread_changed, bridge.accounts_changed, bridge.messages_updated):
            signal.connect(self._schedule_reload)
        bridge.messages_added.connect(self._on_messages_added)
        bridge.account_status_changed.connect(self._on_account_status)

    def key_of(self, item: Channel) -> str:
        return item.account_id

    def text_of(self, item: Channel) -> str:
        return item.name

    @property
    def loaded(self) -> bool:
        return self._loaded

    def channel(self, account_id: str) -> Channel | None:
        row = self.row_of(account_id)
        return None if row is None else self.item(row)

    def unread_total(self) -> int:
        return sum(c.unread_count for c in self._items)

    # ---- Loading --------------------------------------------------------------------------
    def reload(self) -> None:
        if self._run_fetch(self._views.channels(), self._apply):
            self._requeried()
        else:
            self._refresh.start()  # a query is running: look again after it

    def _apply(self, channels: list[Channel]) -> None:
        self._loaded = True
        self._sync(activity_order(channels))

    def _schedule_reload(self, *_: object) -> None:
        if not self._refresh.isActive():
            self._refresh.start()

    def _on_messages_added(self, events: list[MessagesAdded]) -> None:
        self._when_settled(lambda: self._apply_rows(events))

    def _apply_rows(self, events: list[MessagesAdded]) -> None:
        """The accounts' new counters and newest message from the events (the login state
        is the status events' and the reloads')."""
        rows = {e.account_id: e.channel for e in self._since_requery(events)}  # the last is the newest
        if not rows or not self._loaded:
            return  # (the first load brings them)
        shown = self._waiting if self._waiting is not None else self._items
        fresh = [_with_counters(c, rows[c.account_id]) if c.account_id in rows else c for c in shown]
        known = {c.account_id for c in shown}
        fresh += [c for account_id, c in rows.items() if account_id not in known]
        self._sync(activity_order(fresh))

    def _on_account_status(self, event: AccountStatusChanged) -> None:
        # Show the new login state at once; counters come with the next reload.
        row = self.row_of(event.account_id)
        if row is not None:
            channel = self.item(row)
            self._replace(row, replace(channel, login_status=event.login_status,
                                       last_error=event.error))
        self._schedule_reload()


def _with_counters(shown: Channel, row: Channel) -> Channel:
    return replace(shown, unread_count=row.unread_count, message_count=row.message_count,
                   last_message_at=row.last_message_at, last_message_preview=row.last_message_preview)
