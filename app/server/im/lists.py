"""Lists: the channel list and each channel's topic list in wire shape, kept between changes.

The original client asks for the topics of every channel each time it receives a channel
list, and every push sends one; with many clients the same lists are asked for hundreds of
times per change. They are read from the engine's views once, kept, and dropped when an
engine event says they changed (the events that change them are the ones the hub turns into
pushes). A read that raced a change is not kept (each list has a generation).

Only one server sees its engine's events: with several servers on one database (Redis), a
list another server changed would stay stale here, so `keep=False` reads every time.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...engine.events import (
    AccountsChanged,
    AccountStatusChanged,
    Event,
    MessagesAdded,
    MessagesUpdated,
    MessageStatusChanged,
    UnreadChanged,
)
from ...engine.im.messages import MAX_PAGE
from ...engine.im.types import Channel
from . import shapes

if TYPE_CHECKING:
    from ...engine.engine import Engine

_ALL = object()  # every account's topics


class Lists:
    def __init__(self, engine: Engine, *, keep: bool = True) -> None:
        self._engine = engine
        self._keep = keep
        self._channels: tuple[frozenset, list[Channel]] | None = None
        self._topics: dict[str, list[dict[str, Any]]] = {}
        self._generation = 0  # any change; a read kept only if none happened meanwhile

    def changed(self, event: Event) -> None:
        """Drop what the event changed (called as the event is delivered, before any push)."""
        self._generation += 1
        accounts: Any = ()
        if isinstance(event, MessagesAdded):
            accounts = (event.account_id,)
        elif isinstance(event, (MessagesUpdated, UnreadChanged)):
            accounts = {ref.account_id for ref in event.topics} | (
                {event.account_id} if event.account_id is not None else set())
            if not accounts:
                accounts = _ALL
        elif isinstance(event, MessageStatusChanged):  # a failed reply marks its topic
            accounts = (event.account_id,)
        elif isinstance(event, AccountsChanged):
            accounts = _ALL if event.account_id is None else (event.account_id,)
        elif not isinstance(event, AccountStatusChanged):
            return
        self._channels = None
        if accounts is _ALL:
            self._topics.clear()
        else:
            for account_id in accounts:
                self._topics.pop(account_id, None)

    def online_workers(self) -> set[str | None]:
        """The holder ids whose accounts are being worked on (the local pool when it runs)."""
        return {h.holder_id for h in self._engine.holders.holders() if getattr(h, "enabled", True)}

    async def channels(self) -> list[Channel]:
        online = frozenset(self.online_workers())
        if self._channels is not None and self._channels[0] == online:
            return self._channels[1]
        generation = self._generation
        channels = await self._engine.views.channels()
        if self._keep and generation == self._generation:
            self._channels = (online, channels)
        return channels

    async def channel_list(self) -> list[dict[str, Any]]:
        online = self.online_workers()
        return [shapes.channel(c, c.worker_id in online) for c in await self.channels()]

    async def topic_list(self, account_id: str) -> list[dict[str, Any]]:
        kept = self._topics.get(account_id)
        if kept is not None:
            return kept
        generation = self._generation
        page = await self._engine.views.topics(account_id, limit=MAX_PAGE)
        topics = shapes.topics(page.items)
        if self._keep and generation == self._generation:
            self._topics[account_id] = topics
        return topics
