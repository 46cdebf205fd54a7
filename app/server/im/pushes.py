"""PushHub: the one bus subscriber of the IM namespace, turning engine events into the
original's broadcasts to every socket of `/` (PROTOCOL.md §3; not to ids saved at register,
§8 defect 7).

Events are gathered for GATHER_S (as the UI bridge gathers MessagesAdded) and each gathered
burst becomes, in this order, only what it changed:

  new inbound messages        -> monitor:new_message_hint per topic (§3.2)
  any message / account event -> monitor:channels, then monitor:topics of each changed channel
                                 (after the hints, at most once per LIST_INTERVAL_S: see _list_lane)
  an account's state          -> channel:status_update
  a reply's status            -> channel:message (once on the platform), monitor:sending_queue
                                 of its topic, channel:message:status

The lists go only to the clients that asked for them (rooms, so that several servers on Redis
share them too): the channel list to those that registered, asked for channels or synced, a
channel's topics to those that asked for that channel's topics. A list is 50–350 kB, and
5,000 clients that never asked for one (scripts waiting for hints) would otherwise get a
gigabyte per burst; the original client asks again after every reconnect's first
`monitor:sync` and every hint anyway.

Every broadcast carries `seq`, one more than the one before. The newest RING broadcasts are
kept, so a client that reconnects with the last `seq` it saw gets what it missed
(`resume`); one that fell out of the ring (or comes from another run) gets a fresh
`monitor:channels`, from which the original client re-reads every channel's topics. The
ring keeps which lists changed, not the lists: a resuming client gets each one as it is now.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import datetime, timedelta, timezone
from dataclasses import dataclass, field
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
from ...engine.im.types import Channel, Topic, TopicRef
from ..fanout import list_key
from . import shapes
from .lists import Lists

if TYPE_CHECKING:
    from ..app import EmbeddedServer

log = logging.getLogger(__name__)

GATHER_S = 0.05
LIST_INTERVAL_S = 1.0  # channel and topic lists pushed at most this often...
LIST_DUTY = 5  # ...and after a push that took d seconds, not again for LIST_DUTY × d
HINT_MAX_AGE = timedelta(minutes=10)  # older messages new to us (a first crawl, an import) raise no hint
RING = 256  # broadcasts kept for resuming clients (lists by name only: the ring stays ~100 kB)
NAMESPACE = "/"
CHANNELS_ROOM = "lists:channels"  # the clients that get monitor:channels pushes


def topics_room(account_id: str) -> str:
    """The clients that get pushes of this channel's monitor:topics."""
    return f"lists:topics:{account_id}"


@dataclass
class _Burst:
    """What the events of one gathering changed."""

    # Topics with new recent inbound: how many, and the topic's and its channel's rows as the
    # newest event read them (in the storing transaction: no query per hint).
    hints: dict[TopicRef, tuple[int, Topic, Channel]] = field(default_factory=dict)
    channels: bool = False
    topics: set[str] = field(default_factory=set)  # account ids
    status: set[str] = field(default_factory=set)  # account ids
    replies: dict[str, MessageStatusChanged] = field(default_factory=dict)  # reply id -> latest

    def note(self, event: Event) -> None:
        if isinstance(event, MessagesAdded):
            self.channels = True
            self.topics.add(event.account_id)
            if event.inbound_new:
                since_ms = int((datetime.now(timezone.utc) - HINT_MAX_AGE).timestamp() * 1000)
                rows = {t.ref: t for t in event.topic_rows}
                for ref, fresh in event.messages.inbound_since(since_ms).items():
                    if ref in rows:
                        self.hints[ref] = (self.hints.get(ref, (0,))[0] + fresh, rows[ref], event.channel)
        elif isinstance(event, (MessagesUpdated, UnreadChanged)):
            self.channels = True
            self.topics.update(ref.account_id for ref in event.topics)
            if event.account_id is not None:
                self.topics.add(event.account_id)
        elif isinstance(event, MessageStatusChanged):
            self.replies[event.reply_id] = event
        elif isinstance(event, (AccountsChanged, AccountStatusChanged)):
            self.channels = True
            if event.account_id is not None:
                self.status.add(event.account_id)


class PushHub:
    EVENTS = (MessagesAdded, MessagesUpdated, UnreadChanged, MessageStatusChanged, AccountsChanged,
              AccountStatusChanged)

    def __init__(self, server: EmbeddedServer, *, gather_s: float = GATHER_S, ring: int = RING,
                 list_interval_s: float = LIST_INTERVAL_S) -> None:
        self._server = server
        self._engine = server.engine
        self._gather_s = gather_s
        # Starts at the clock: a seq from an earlier run is older than any of this one's.
        self.seq = shapes.now_ms()
        self._ring: deque[tuple[int, str, dict[str, Any]]] = deque(maxlen=ring)
        self._burst = _Burst()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # The list lane: channel and topic lists, at most once per list_interval_s
        self._list_interval_s = list_interval_s
        self._lists_wake = asyncio.Event()
        self._lists_at = float("-inf")  # when the last list push ended
        self._list_channels = False
        self._list_topics: set[str] = set()
        self.lists = Lists(self._engine, keep=not server.options.redis_url)
        self._unsubscribe = [self._engine.bus.subscribe(t, self._note) for t in self.EVENTS]

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _note(self, event: Event) -> None:
        self.lists.changed(event)
        self._burst.note(event)
        self._wake.set()
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._run(), name="im-pushes"),
                           asyncio.create_task(self._list_lane(), name="im-list-pushes")]

    async def _run(self) -> None:
        """One burst at a time, in order: a burst's broadcasts never interleave with the next's."""
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._gather_s)
            self._wake.clear()
            burst, self._burst = self._burst, _Burst()
            try:
                await self._flush(burst)
            except Exception:  # the database went away, a bug: the next burst tries again
                log.exception("IM push failed")

    async def _list_lane(self) -> None:
        """The lists a burst changed, after its hints and at most once per list_interval_s:
        a list is big (every channel, every topic of a channel) and goes to every client,
        which the original client answers by asking every channel's topics again; hints,
        replies and statuses do not wait behind them."""
        loop = asyncio.get_running_loop()
        gap = 0.0
        while True:
            await self._lists_wake.wait()
            await asyncio.sleep(max(0.0, self._lists_at + gap - loop.time()))
            self._lists_wake.clear()
            channels, self._list_channels = self._list_channels, False
            topics, self._list_topics = self._list_topics, set()
            started = loop.time()
            try:
                await self._push_lists(channels, topics)
            except Exception:
                log.exception("IM list push failed")
            # Thousands of clients make a list push take long: lists then get a fifth of the time.
            self._lists_at = loop.time()
            gap = max(self._list_interval_s, LIST_DUTY * (self._lists_at - started))

    # ---- Broadcasting

    async def broadcast(self, event: str, data: dict[str, Any], room: str | None = None) -> None:
        """Send to every IM client (or those in `room`) of every server sharing Redis,
        numbered for `resume`."""
        self.seq += 1
        data = {**data, "seq": self.seq}
        kept = {k: data[k] for k in ("channelId", "seq") if k in data} if event in _RE_READ else data
        self._ring.append((self.seq, event, kept))
        await self._server.sio.emit(event, data, room=room, namespace=NAMESPACE)

    async def resume(self, sid: str, last_seq: int) -> None:
        """Send a reconnected client what it missed since `last_seq`: the lists that changed
        as they are now, every other broadcast as it was. It gets list pushes from now on."""
        sio = self._server.sio
        await sio.enter_room(sid, CHANNELS_ROOM, namespace=NAMESPACE)
        for c in await self.lists.channels():
            await sio.enter_room(sid, topics_room(c.account_id), namespace=NAMESPACE)
        if last_seq == self.seq:
            return
        if self._ring and self._ring[0][0] - 1 <= last_seq < self.seq:
            for _, event, data in _latest_lists([e for e in self._ring if e[0] > last_seq]):
                if event == "monitor:channels":
                    data = {"channels": await self.channel_list(), **data}
                elif event == "monitor:topics":
                    data = {"channelId": data["channelId"], "topics": await self.topic_list(data["channelId"]), **data}
                await sio.emit(event, data, to=sid, namespace=NAMESPACE)
            return
        channels = await self.lists.channel_list()
        await sio.emit("monitor:channels", {"channels": channels, "seq": self.seq}, to=sid, namespace=NAMESPACE)

    # ---- What the namespace and the bursts send

    def online_workers(self) -> set[str | None]:
        return self.lists.online_workers()

    async def channel_list(self) -> list[dict[str, Any]]:
        return await self.lists.channel_list()

    async def topic_list(self, account_id: str) -> list[dict[str, Any]]:
        return await self.lists.topic_list(account_id)

    async def sending_queue(self, ref: TopicRef) -> dict[str, Any]:
        rows = await self._engine.outbox.in_flight(ref)
        return {"topicId": ref.platform_id, "channelId": ref.account_id,
                "sendingMessages": [shapes.sending(r) for r in rows]}

    async def _flush(self, burst: _Burst) -> None:
        for fresh, topic, channel in burst.hints.values():
            await self.broadcast("monitor:new_message_hint", shapes.hint(channel, topic, fresh))
        channels = await self.lists.channels() if burst.status else []
        by_id = {c.account_id: c for c in channels}
        online = self.online_workers()
        if burst.channels or burst.topics:
            self._list_channels |= burst.channels
            self._list_topics |= burst.topics
            self._lists_wake.set()
        for account_id in sorted(burst.status):
            c = by_id.get(account_id)
            if c is not None:
                await self.broadcast("channel:status_update", shapes.status_update(c, c.worker_id in online))
        await self._flush_replies(list(burst.replies.values()))

    async def _push_lists(self, channels: bool, topics: set[str]) -> None:
        known = {c.account_id for c in await self.lists.channels()}
        if channels:
            await self.broadcast("monitor:channels", {"channels": await self.channel_list()}, CHANNELS_ROOM)
        for account_id in sorted(topics & known):
            await self.broadcast("monitor:topics", {"channelId": account_id, "topics": await self.topic_list(account_id)},
                                 topics_room(account_id))

    async def _flush_replies(self, events: list[MessageStatusChanged]) -> None:
        """The sent text first, then the queue without it: the client never shows neither."""
        rows = {e.reply_id: await self._engine.outbox.get(e.reply_id) for e in events}
        for row in rows.values():
            if row is not None and row.status in shapes.ON_PLATFORM:
                await self.broadcast("channel:message", shapes.sent_message(row))
        for ref in dict.fromkeys(e.topic for e in events):
            await self.broadcast("monitor:sending_queue", await self.sending_queue(ref))
        for event in events:
            row = rows[event.reply_id]
            platform_id = row.platform_reply_id if row is not None else None
            await self.broadcast("channel:message:status",
                                 shapes.message_status(event.reply_id, event.status, event.error, platform_id))


_RE_READ = frozenset({"monitor:channels", "monitor:topics"})  # kept in the ring by name, re-read to resume


def _latest_lists(entries: list[tuple[int, str, dict[str, Any]]]) -> list[tuple[int, str, dict[str, Any]]]:
    """The entries without lists a later entry replaces (an older monitor:channels, an older
    monitor:topics or sending queue of the same channel or topic): a resuming client gets
    the current lists once, and every hint, message and status in order."""
    last = {list_key(e, d): s for s, e, d in entries if list_key(e, d) is not None}
    return [(s, e, d) for s, e, d in entries if (k := list_key(e, d)) is None or last[k] == s]
