"""The one place where the engine meets Qt: engine events in, engine calls out.

`EngineBridge` subscribes to the engine's event bus and re-emits every event as a Qt signal,
so widgets and models connect to signals and never to the bus. The bus already delivers on
the event loop, which in the console is the Qt thread (qasync), so no thread hop is needed.
Bursts of `MessagesAdded` (a crawl batch, an audience flood) are gathered for ~50 ms and
emitted once, so a model inserts rows once per burst instead of once per event.

`spawn` runs an engine coroutine from a plain Qt slot and keeps the task referenced until
it ends; a failure is logged (and reported through `on_error` when given) instead of being
lost with an unreferenced task. A callback that is a method of a Qt object deleted meanwhile
(a closed window or dialog) is skipped: the answer has nobody left to show it to.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

from app.engine.bus import EventBus
from app.engine.events import (
    AccountsChanged,
    AccountStatusChanged,
    LoginProgress,
    MessagesAdded,
    MessagesUpdated,
    MessageStatusChanged,
    Notification,
    PoolStatusChanged,
    ServerStatusChanged,
    UnreadChanged,
)

log = logging.getLogger(__name__)

MESSAGES_ADDED_GATHER_MS = 50

_tasks: set[asyncio.Task[Any]] = set()


def spawn(
    coro: Awaitable[Any],
    *,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    owner: QObject | None = None,
) -> asyncio.Task[Any]:
    """Run `coro` on the loop from synchronous Qt code; `on_done(result)` runs on success.

    The callbacks are skipped when the Qt object they belong to was deleted meanwhile (the
    operator switched topics while a page of the old one was fetched): the bound method's
    object, or `owner` for closures, which carry no object of their own."""
    task = asyncio.ensure_future(coro)
    _tasks.add(task)

    def alive(callback: Callable[..., Any]) -> bool:
        return (owner is None or shiboken6.isValid(owner)) and _receiver_alive(callback)

    def finished(t: asyncio.Task[Any]) -> None:
        _tasks.discard(t)
        if t.cancelled():
            return
        exc = t.exception()
        if exc is not None:
            if on_error is not None and alive(on_error):
                on_error(exc)
            elif owner is None or shiboken6.isValid(owner):
                log.error("UI task failed", exc_info=exc)
        elif on_done is not None and alive(on_done):
            on_done(t.result())

    task.add_done_callback(finished)
    return task


def _receiver_alive(callback: Callable[..., Any]) -> bool:
    owner = getattr(callback, "__self__", None)
    return not isinstance(owner, QObject) or shiboken6.isValid(owner)


class EngineBridge(QObject):
    """Engine bus events as Qt signals (one bridge per window)."""

    #: list[MessagesAdded]: the events of one ~50 ms burst, in publication order.
    messages_added = Signal(list)
    #: MessagesUpdated: stored messages changed (edit, recall, read state, confirmation).
    messages_updated = Signal(object)
    #: UnreadChanged: read marks changed.
    unread_changed = Signal(object)
    #: MessageStatusChanged: a reply in the outbox moved to a new status.
    message_status_changed = Signal(object)
    #: AccountsChanged: an account was added, deleted or edited.
    accounts_changed = Signal(object)
    #: AccountStatusChanged: an account's login or monitoring state changed.
    account_status_changed = Signal(object)
    #: LoginProgress: a login session moved.
    login_progress = Signal(object)
    #: Notification: something the operator should see.
    notification = Signal(object)
    #: PoolStatusChanged: browsers or account contexts changed.
    pool_status_changed = Signal(object)
    #: ServerStatusChanged: the embedded server started, stopped, failed, or its clients changed.
    server_status_changed = Signal(object)

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending_added: list[MessagesAdded] = []
        self._gather = QTimer(self)
        self._gather.setSingleShot(True)
        self._gather.setInterval(MESSAGES_ADDED_GATHER_MS)
        self._gather.timeout.connect(self._flush_added)
        relays: list[tuple[type, Callable[[Any], None]]] = [
            (MessagesAdded, self._on_messages_added),
            (MessagesUpdated, self.messages_updated.emit),
            (UnreadChanged, self.unread_changed.emit),
            (MessageStatusChanged, self.message_status_changed.emit),
            (AccountsChanged, self.accounts_changed.emit),
            (AccountStatusChanged, self.account_status_changed.emit),
            (LoginProgress, self.login_progress.emit),
            (Notification, self.notification.emit),
            (PoolStatusChanged, self.pool_status_changed.emit),
            (ServerStatusChanged, self.server_status_changed.emit),
        ]
        self._unsubscribers = [bus.subscribe(event_type, relay) for event_type, relay in relays]

    def close(self) -> None:
        """Stop relaying (the window is closing); a pending burst is delivered first."""
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        self._unsubscribers = []
        self._gather.stop()
        self._flush_added()

    def _on_messages_added(self, event: MessagesAdded) -> None:
        self._pending_added.append(event)
        if not self._gather.isActive():
            self._gather.start()

    def _flush_added(self) -> None:
        if self._pending_added:
            batch, self._pending_added = self._pending_added, []
            self.messages_added.emit(batch)
