"""The IM client's requests (PROTOCOL.md §3.1), each answered from the engine's services:
the IM views (lists, marks, unread totals), the outbox (replies, sending queue), the
accounts and the holders (workers). Nothing is computed here that the console computes.

Each handler gets the validated request and an `Answer` to answer with: `to_sender` (↩) for
the asking socket, `broadcast` (⇶, numbered, to every IM client). A handler raises
`Refused` for a request that cannot be served (unknown channel, ...): the namespace turns
it into the original's `error {message}` (or the event's own error answer).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ...engine.accounts import AccountNotFound
from ...engine.im.types import TopicRef
from ..rest.accounts import safe_account
from ..rest.workers import worker_id, worker_list
from . import requests as rq
from . import shapes
from .pushes import CHANNELS_ROOM, PushHub, topics_room

if TYPE_CHECKING:
    from ...engine.engine import Engine


MESSAGES_SENT = 200  # a topic's newest messages in monitor:messages (the original sent all of them)


class Refused(Exception):
    """The request cannot be served; the message says why (shown to the client)."""

    def __init__(self, message: str, answer: tuple[str, dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.answer = answer  # the event's own error answer, when it has one


@dataclass
class Answer:
    """How a handler answers: ↩ to the asking socket, ⇶ to every IM client; `enter` puts the
    asking socket in a room (the pushes of a list it asked for, pushes.py)."""

    to_sender: Callable[[str, dict[str, Any]], Awaitable[None]]
    broadcast: Callable[[str, dict[str, Any]], Awaitable[None]]
    client: dict[str, Any]  # what the socket registered as (clientId, clientType)
    enter: Callable[[str], Awaitable[None]]


Handler = Callable[[Any, Answer], Awaitable[None]]


class ImRequests:
    """The handlers by event name, with the request model each one validates."""

    def __init__(self, engine: Engine, hub: PushHub) -> None:
        self._engine = engine
        self._hub = hub
        self.table: dict[str, tuple[type[rq.Request], Handler]] = {
            "monitor:register": (rq.Register, self.register),
            "monitor:request_channels": (rq.Empty, self.channels),
            "monitor:sync": (rq.Empty, self.channels),  # unhandled in the original (§8 defect 15)
            "monitor:request_topics": (rq.Topics, self.topics),
            "monitor:request_messages": (rq.Messages, self.messages),
            "monitor:reply": (rq.Reply, self.reply),
            "monitor:mark_as_read": (rq.MarkOne, self.mark_one),
            "monitor:mark_batch_as_read": (rq.MarkBatch, self.mark_batch),
            "monitor:mark_topic_as_read": (rq.MarkTopic, self.mark_topic),
            "monitor:mark_conversation_as_read": (rq.MarkConversation, self.mark_conversation),
            "monitor:get_unread_count": (rq.UnreadCount, self.unread_count),
            "monitor:create_account": (rq.CreateAccount, self.create_account),
            "monitor:delete_account": (rq.DeleteAccount, self.delete_account),
            "monitor:request_platforms": (rq.Empty, self.platforms),
            "monitor:request_workers": (rq.Empty, self.workers),
        }

    # ---- Lists

    async def register(self, req: rq.Register, answer: Answer) -> None:
        answer.client.update(clientId=req.clientId, clientType=req.clientType)
        await answer.enter(CHANNELS_ROOM)
        channels = await self._hub.channel_list()
        await answer.to_sender("monitor:channels", {"channels": channels})
        await answer.to_sender("monitor:registered", {"success": True, "channelCount": len(channels),
                                                     "clientId": req.clientId, "clientType": req.clientType})

    async def channels(self, req: rq.Empty, answer: Answer) -> None:
        await answer.enter(CHANNELS_ROOM)
        await answer.to_sender("monitor:channels", {"channels": await self._hub.channel_list()})

    async def topics(self, req: rq.Topics, answer: Answer) -> None:
        await self._channel(req.channelId)
        await answer.enter(topics_room(req.channelId))
        await answer.to_sender("monitor:topics", {"channelId": req.channelId,
                                                 "topics": await self._hub.topic_list(req.channelId)})

    async def messages(self, req: rq.Messages, answer: Answer) -> None:
        """The topic's newest MESSAGES_SENT messages, in its own channel only (§8 defect 6: the
        original matched the topic id across every account)."""
        kind = _kind_of(req.messageType)
        found, page = await self._engine.views.find_newest(req.topicId, account_id=req.channelId, kind=kind,
                                                           limit=MESSAGES_SENT)
        ref = await self._one_topic(found, req.topicId, req.channelId)
        await answer.to_sender("monitor:messages", {"topicId": ref.platform_id, "channelId": ref.account_id,
                                                   "messages": shapes.shown_messages(page.items)})
        await answer.to_sender("monitor:sending_queue", await self._hub.sending_queue(ref))

    # ---- Replies

    async def reply(self, req: rq.Reply, answer: Answer) -> None:
        """Queue the reply in the durable outbox; its statuses reach every client through the
        hub (sending queue, channel:message, channel:message:status)."""
        client_key = req.requestId or req.messageId
        try:
            kind = _kind_of(req.messageCategory)
            if kind is None:  # the original: private when the topic is one of the channel's conversations
                found = await self._engine.views.find_topics(req.topicId, account_id=req.channelId,
                                                             kind="conversation")
                kind = "conversation" if found else "content"
            ref = TopicRef(req.channelId, kind, req.topicId)
            reply_to = req.replyToId if kind == "content" and req.replyToId not in (None, "", "0") else None
            operator = (answer.client.get("clientId") or req.fromId or "im-client")[:64]
            reply_id = await self._engine.outbox.reply(
                ref, req.content, reply_to=reply_to, operator=operator,
                request_id=f"im:{client_key}" if client_key else None)
        except ValueError as exc:  # ReplyRejected, or a topic the engine cannot name
            raise Refused(str(exc), ("reply:error", {"messageId": client_key, "requestId": client_key,
                                                     "error": str(exc), "code": getattr(exc, "code", None)})
                          ) from None
        await answer.to_sender("reply:success", {"messageId": reply_id, "requestId": client_key or reply_id,
                                                "status": "submitted"})
        await answer.to_sender("monitor:sending_queue", await self._hub.sending_queue(ref))

    # ---- Read marks (read_at in seconds, as the original)

    async def mark_one(self, req: rq.MarkOne, answer: Answer) -> None:
        await self._channel(req.channelId)
        count = await self._engine.views.mark_messages_read(req.channelId, _message_kind(req.type), [req.id])
        read_at = int(time.time())
        await answer.to_sender("monitor:mark_as_read_response",
                              {"success": True, "id": req.id, "type": req.type, "count": count, "read_at": read_at})
        if count:
            await answer.broadcast("monitor:message_read",
                                  {"type": req.type, "id": req.id, "channelId": req.channelId, "read_at": read_at})

    async def mark_batch(self, req: rq.MarkBatch, answer: Answer) -> None:
        await self._channel(req.channelId)
        count = await self._engine.views.mark_messages_read(req.channelId, _message_kind(req.type), req.ids)
        read_at = int(time.time())
        await answer.to_sender("monitor:mark_batch_as_read_response",
                              {"success": True, "count": count, "type": req.type, "read_at": read_at})
        if count:
            await answer.broadcast("monitor:messages_read", {"type": req.type, "ids": req.ids,
                                                            "channelId": req.channelId, "count": count,
                                                            "read_at": read_at})

    async def mark_topic(self, req: rq.MarkTopic, answer: Answer) -> None:
        ref = await self._topic(req.topicId, req.channelId, None)
        await self._mark(ref, "topic", "topicId", answer)

    async def mark_conversation(self, req: rq.MarkConversation, answer: Answer) -> None:
        ref = await self._topic(req.conversationId, req.channelId, "conversation")
        await self._mark(ref, "conversation", "conversationId", answer)

    async def _mark(self, ref: TopicRef, what: str, id_field: str, answer: Answer) -> None:
        """The topic read; the lists follow from the hub (UnreadChanged)."""
        count = await self._engine.views.mark_read(ref)
        body = {id_field: ref.platform_id, "channelId": ref.account_id, "count": count, "read_at": int(time.time())}
        await answer.to_sender(f"monitor:mark_{what}_as_read_response", {"success": True, **body})
        if count:
            await answer.broadcast(f"monitor:{what}_read", body)

    async def unread_count(self, req: rq.UnreadCount, answer: Answer) -> None:
        views = self._engine.views
        if req.channelId is not None:
            await self._channel(req.channelId)
            unread = _unread(await views.unread_totals(req.channelId))
            await answer.to_sender("monitor:unread_count_response",
                                  {"success": True, "channelId": req.channelId, "unread": unread})
            return
        by_channel = {c.account_id: _unread(await views.unread_totals(c.account_id))
                      for c in await views.channels()}
        await answer.to_sender("monitor:unread_count_response", {
            "success": True, "unread": _unread(await views.unread_totals()), "byChannel": by_channel})

    # ---- Accounts, platforms, workers

    async def create_account(self, req: rq.CreateAccount, answer: Answer) -> None:
        engine = self._engine
        event = "monitor:create_account_result"
        if req.platform not in engine.platforms.names():
            raise Refused(f"unknown platform {req.platform!r}; installed: {', '.join(engine.platforms.names())}",
                          (event, {"success": False, "error": f"unknown platform {req.platform!r}"}))
        worker = req.assigned_worker_id or None
        if worker is not None and worker not in {h.holder_id for h in engine.holders.holders()}:
            raise Refused(f"no worker {worker!r} is connected",
                          (event, {"success": False, "error": f"no worker {worker!r} is connected"}))
        try:
            account_id = await engine.accounts.create(req.platform, req.account_name)
        except ValueError as exc:
            raise Refused(str(exc), (event, {"success": False, "error": str(exc)})) from None
        if req.monitor_interval is not None:
            await engine.accounts.update(account_id, monitor_interval_s=req.monitor_interval)
        if req.status == "paused":
            await engine.accounts.set_monitoring(account_id, False)
        if worker is not None:
            await engine.holders.assign(account_id, worker)
        account = await engine.accounts.get(account_id)
        safe = safe_account(engine, account, {worker_id(w) for w in self._hub.online_workers()})
        await answer.to_sender(event, {"success": True, "data": safe.model_dump(mode="json")})

    async def delete_account(self, req: rq.DeleteAccount, answer: Answer) -> None:
        """Deleted with everything stored for it; its worker stops it (AccountsChanged)."""
        event = "monitor:delete_account_result"
        try:
            await self._engine.accounts.delete(req.accountId)
        except AccountNotFound:
            raise Refused(f"unknown account {req.accountId!r}",
                          (event, {"success": False, "accountId": req.accountId, "error": "account not found"})
                          ) from None
        await answer.to_sender(event, {"success": True, "accountId": req.accountId})

    async def platforms(self, req: rq.Empty, answer: Answer) -> None:
        data = [{"value": p.name, "label": p.label} for p in self._engine.platforms.all()]
        await answer.to_sender("monitor:platforms", {"success": True, "data": data})

    async def workers(self, req: rq.Empty, answer: Answer) -> None:
        """Every worker: the local pool (id "local"), then the remote ones, online or not."""
        data = [{"id": w.id, "status": w.status, "assigned_accounts": w.assigned_accounts, "host": w.host,
                 "port": w.port} for w in await worker_list(self._engine)]
        await answer.to_sender("monitor:workers", {"success": True, "data": data})

    # ---- Lookups

    async def _channel(self, account_id: str) -> None:
        """Refused unless the account exists: looked up in the kept channel list (every
        account is a channel), not with a database read of its own per request."""
        if all(c.account_id != account_id for c in await self._hub.lists.channels()):
            raise Refused(f"unknown channel {account_id!r}")

    async def _topic(self, topic_id: str, channel_id: str | None, kind: str | None) -> TopicRef:
        """The topic a client names; with no channel, the one channel that has it (a topic id
        in several channels needs its channelId: never another account's messages)."""
        found = await self._engine.views.find_topics(topic_id, account_id=channel_id, kind=kind)
        return await self._one_topic(found, topic_id, channel_id)

    async def _one_topic(self, found: list[TopicRef], topic_id: str, channel_id: str | None) -> TopicRef:
        """The one topic a client means among those found (see _topic)."""
        if not found:
            if channel_id is not None:
                await self._channel(channel_id)
            raise Refused(f"unknown topic {topic_id!r}" + (f" in channel {channel_id!r}" if channel_id else ""))
        if len({ref.account_id for ref in found}) > 1:
            raise Refused(f"topic {topic_id!r} is in several channels; send its channelId")
        return found[0]  # a work before a conversation of the same id


def _kind_of(category: str | None) -> str | None:
    """The topic kind a messageCategory / messageType names (None: not said)."""
    if not category:
        return None
    return "conversation" if category in ("private", "private_message", "direct_message") else "content"


def _message_kind(read_type: str) -> str:
    return "comment" if read_type == "comment" else "direct_message"


def _unread(totals) -> dict[str, int]:
    return {"comments": totals.comments, "messages": totals.direct_messages, "total": totals.total}
